"""What Network Watcher would answer: connectivityCheck, ipFlowVerify and nextHop, computed
from a :class:`Topology` with pure functions (no HTTP here; the facade in server.py calls us).

Port 0 (an assumption from seed scenario 1): the documented request sends destination port 0
and its text says port 80 was checked, so port 0 (or no port) means "no port given" and the
emulator checks the URL scheme's port for a URL (http 80, https 443), the explicit port in a
URL if it has one, 443 for protocol Https, and otherwise port 80. Source port 0 (or none) is an
ephemeral port, 49152, for NSG rules that filter on the source port.

The walk: from the source NIC, outbound NSGs (NIC then subnet), then the route of the NIC's
subnet; a VirtualAppliance hop continues from the appliance NIC (inbound NSGs on arrival,
IP forwarding required, outbound NSGs and its subnet's routes on leaving); the walk ends at the
destination NIC (VnetLocal hop, inbound NSGs subnet then NIC), the Internet, or a dead end
(Destination hop, resourceId "Unknown"). An Azure Firewall is an appliance without a NIC
(firewall.py decides the flow); a check to its public IP, or to a public load balancer frontend,
leaves by the source's outbound path and comes back in from the Internet (the firewall's DNAT
rules, the LB's rules and probes decide; the reply returns the same way), a private endpoint's
NIC answers for its service
(private_endpoints.py), a gateway route ends the walk at the gateway (gateways.py), a service
endpoint route at the service (service_endpoints.py), and an ECMP set is walked through each
member in turn (run_check). Like the service, the walk continues after an NSG
block so the whole path is listed. A check is Reachable only if nothing blocked it, the
destination answers (running VM, listener, guest firewall) and the reply routes back to the
source (replies are not NSG-filtered: NSGs are stateful).
"""

from __future__ import annotations

import ipaddress
import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import urlsplit

from . import (
    assumptions,
    firewall,
    gateways,
    loadbalancer,
    nsg,
    outbound,
    peering,
    private_endpoints,
    routing,
    scalesets,
    service_endpoints,
    unmodelled,
)
from .assumptions import Assumption
from .errors import ArmError, not_found
from .topology import (
    UNMODELLED_HOP_TYPES,
    IPAddress,
    IpConfig,
    Latency,
    Nic,
    Topology,
    VirtualMachine,
    Watcher,
    key,
)

DEFAULT_PORT = 80  # port 0 / no port: what seed scenario 1 shows the service checking
EPHEMERAL_PORT = 49152  # source port 0 / no source port
MAX_HOPS = 32  # loop guard on top of the visited-appliance check
CHECK_PROTOCOLS = {"tcp": "Tcp", "http": "Http", "https": "Https", "icmp": "Icmp"}
HOP_NAMESPACE = uuid.UUID("6f1c7f5e-5b7a-4d55-9a55-6e776c61622d")  # fixed: ids are reproducible


# ---------------------------------------------------------------------------------------------
# Request parsing
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class CheckSpec:
    """A validated connectivityCheck request, with the destination resolved as far as DNS."""

    source_vm: VirtualMachine
    source_nic: Nic
    source_cfg: IpConfig
    protocol: str  # Tcp | Http | Https | Icmp
    port: int  # the port actually checked (see the module docstring for port 0)
    source_port: int
    destination_text: str  # what the user asked for (VM id, IP, host or URL)
    host: str | None  # a host name still to resolve through emulation.dns
    address: IPAddress | None  # resolved destination address (None: DNS failed)
    destination_vm: VirtualMachine | None
    ip_version: str = "IPv4"  # the family of the walk (preferredIPVersion, or the literal's)
    notes: tuple[Assumption, ...] = ()  # what resolving the destination assumed

    def canonical(self) -> str:
        """A stable text of the check: the seed of its hop ids (the family only for IPv6, so
        IPv4 hop ids stay what they were)."""
        parts: list[Any] = [key(self.source_vm.id), self.protocol, self.port, self.source_port,
                            self.destination_text.lower()]
        if self.ip_version == "IPv6":
            parts.append("IPv6")
        return json.dumps(parts)


def _port(value: Any, field_name: str) -> int:
    """Ports are int32 0..65535; the 2017-06-01 example sent "3389" as a string, so accept it."""
    if value is None:
        return 0
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 65535:
        raise ArmError(400, "InvalidRequestFormat",
                       f"{field_name} must be an integer from 0 to 65535, got {value!r}.")
    return value


def _vm(topo: Topology, vm_id: Any, what: str) -> VirtualMachine:
    if not isinstance(vm_id, str) or not vm_id:
        raise ArmError(400, "InvalidRequestFormat", f"{what}.resourceId is required.")
    vm = topo.vms.get(key(vm_id))
    if vm is None:
        raise not_found(vm_id)
    return vm


def _primary(topo: Topology, vm: VirtualMachine) -> tuple[Nic, IpConfig]:
    if not vm.nic_ids:
        raise ArmError(400, "VmHasNoNetworkInterface",
                       f"Virtual machine {vm.id} has no network interface.")
    nic = topo.nics[key(vm.nic_ids[0])]
    return nic, nic.primary


def _same_region(a: str, b: str) -> bool:
    return a.replace(" ", "").lower() == b.replace(" ", "").lower()


def check_source(topo: Topology, watcher: Watcher, vm: VirtualMachine) -> None:
    """The service's preconditions on the source: running, agent installed, watcher's region."""
    if not _same_region(watcher.location, vm.location):
        raise ArmError(400, "NetworkWatcherRegionMismatch",
                       f"Network watcher {watcher.id} is in region '{watcher.location}' but the "
                       f"source virtual machine {vm.id} is in '{vm.location}'. Use the network "
                       f"watcher of region '{vm.location}'.")
    if not vm.running:
        raise ArmError(400, "VmNotRunning",
                       f"The source virtual machine {vm.id} is not running (power state "
                       f"'{vm.power_state}'). Start it and retry.")
    if not vm.has_agent:
        raise ArmError(400, "NetworkWatcherAgentNotInstalled",
                       f"The Network Watcher agent is not installed on virtual machine {vm.id}. "
                       "Install the extension (publisher Microsoft.Azure.NetworkWatcher, type "
                       "NetworkWatcherAgentWindows or NetworkWatcherAgentLinux) and retry.")


def parse_check(topo: Topology, watcher: Watcher, body: Any) -> CheckSpec:
    """Validate a connectivityCheck body like the service; ArmError for what it would refuse."""
    if not isinstance(body, Mapping):
        raise ArmError(400, "InvalidRequestFormat", "The request body must be a JSON object "
                       "with 'source' and 'destination'.")
    source = body.get("source")
    destination = body.get("destination")
    if not isinstance(source, Mapping):
        raise ArmError(400, "InvalidRequestFormat", "source is required: "
                       "{\"source\": {\"resourceId\": \"<VM id>\"}}.")
    if not isinstance(destination, Mapping) or not (
            destination.get("resourceId") or destination.get("address")):
        raise ArmError(400, "InvalidRequestFormat", "destination is required and needs "
                       "'resourceId' (a VM) or 'address' (IP, host name or URL).")
    protocol_text = body.get("protocol") or "Tcp"
    protocol = CHECK_PROTOCOLS.get(str(protocol_text).lower())
    if protocol is None:
        raise ArmError(400, "InvalidRequestFormat", f"protocol must be Tcp, Http, Https or "
                       f"Icmp, got {protocol_text!r}.")
    preferred = _ip_version(body.get("preferredIPVersion"))
    source_vm = _vm(topo, source.get("resourceId"), "source")
    source_port = _port(source.get("port"), "source.port") or EPHEMERAL_PORT
    requested_port = _port(destination.get("port"), "destination.port")
    check_source(topo, watcher, source_vm)
    src_nic, src_cfg = _primary(topo, source_vm)

    dest_vm = None
    host: str | None = None
    address: IPAddress | None = None
    url_port: int | None = None
    literal: IPAddress | None = None
    notes: list[Assumption] = []
    if destination.get("resourceId"):
        dest_vm = _vm(topo, destination.get("resourceId"), "destination")
        scalesets.refuse_destination(topo, dest_vm)
        address = _primary(topo, dest_vm)[1].address
        if preferred == "IPv6":
            address = _ipv6_config(topo, dest_vm, "destination").address
        text = dest_vm.id
    else:
        text = str(destination.get("address")).strip()
        host_text = text
        if "://" in text:
            parts = urlsplit(text)
            if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
                raise ArmError(400, "InvalidRequestFormat", f"destination.address {text!r}: "
                               "a URL must be http:// or https:// with a host.")
            try:
                url_port = parts.port or (443 if parts.scheme.lower() == "https" else 80)
            except ValueError:
                raise ArmError(400, "InvalidRequestFormat",
                               f"destination.address {text!r} has an invalid port.") from None
            host_text = parts.hostname
        try:
            literal = ipaddress.ip_address(host_text.strip("[]"))
        except ValueError:
            host = host_text.lower().rstrip(".")
            address, notes = _resolve(topo, topo.vnet_of(src_cfg).id, host, preferred)
        else:
            # A literal fixes the family (twin-semantics §13.2 rule 5).
            family = f"IPv{literal.version}"
            if body.get("preferredIPVersion") and preferred != family:
                raise ArmError(400, "InvalidRequestFormat", f"preferredIPVersion {preferred} "
                               f"contradicts destination.address {text!r}, an {family} "
                               f"address; send preferredIPVersion {family} or leave it out.")
            preferred = family
            address = literal
    if preferred == "IPv6":
        # The probe leaves from the source NIC's IPv6 configuration (its primary NIC's).
        src_cfg = _ipv6_config(topo, source_vm, "source")
    if address == src_cfg.address:
        raise ArmError(400, "InvalidRequestFormat",
                       "The source and the destination are the same address.")
    if requested_port:
        port = requested_port
    elif url_port is not None:
        port = url_port
    else:
        port = 443 if protocol == "Https" else DEFAULT_PORT
    return CheckSpec(source_vm, src_nic, src_cfg, protocol, port, source_port, text, host,
                     address, dest_vm, preferred, tuple(notes))


def _resolve(topo: Topology, vnet_id: str, host: str, family: str,
             ) -> tuple[IPAddress | None, list[Assumption]]:
    """The host's address of the check's family: AAAA for IPv6, A for IPv4 (twin-semantics
    §13.2 rule 5), a private DNS zone linked to the source's VNet answering first (Azure DNS),
    then emulation.dns. An IPv6 check to a name with an A record only does not resolve, and
    says so: the service might fall back to the A record (undocumented)."""
    version = 6 if family == "IPv6" else 4
    records: Mapping[str, IPAddress] = topo.emulation.dns6 if version == 6 \
        else topo.emulation.dns
    address = private_endpoints.resolve(topo, vnet_id, host, version)[0] or records.get(host)
    if address is not None or version == 4:
        return address, []
    a_record = private_endpoints.resolve(topo, vnet_id, host, 4)[0] or \
        topo.emulation.dns.get(host)
    if a_record is None:
        return None, []
    return None, [Assumption(
        "ASSUME_IPV6_NO_AAAA", vnet_id, f"{host} has an A record ({a_record}) and no AAAA "
        "record: the IPv6 check's name does not resolve (DnsResolution)", field="dns",
        alternatives=(f"the service falls back to the A record {a_record}",),
        verdict_sensitive=True)]


def _ip_version(value: Any) -> str:
    """preferredIPVersion: IPv4 (the default) or IPv6, the spec's IPVersion enum."""
    if value is None or value == "":
        return "IPv4"
    text = str(value).strip().lower()
    if text not in ("ipv4", "ipv6"):
        raise ArmError(400, "InvalidRequestFormat", f"preferredIPVersion must be IPv4 or IPv6, "
                       f"got {value!r}.")
    return "IPv4" if text == "ipv4" else "IPv6"


def _ipv6_config(topo: Topology, vm: VirtualMachine, side: str) -> IpConfig:
    """The IPv6 ipConfiguration of a VM's primary NIC, or a clear 400 (twin-semantics §13.2
    rule 5: a side without an address of the chosen family cannot take part)."""
    nic, _ = _primary(topo, vm)
    if not nic.ip6_configs:
        raise ArmError(400, "InvalidRequestFormat",
                       f"The {side} virtual machine {vm.id} has no IPv6 address: its network "
                       f"interface {nic.id} has no ipConfiguration with privateIPAddressVersion "
                       "IPv6. Send preferredIPVersion IPv4, or pick a dual-stack VM.")
    return nic.ip6_configs[0]


# ---------------------------------------------------------------------------------------------
# The walk
# ---------------------------------------------------------------------------------------------

@dataclass
class Hop:
    type: str
    address: str
    resource_id: str
    issues: list[dict[str, Any]] = field(default_factory=list)
    link_type: str = "VirtualNetwork"  # type of the link that reaches this hop


@dataclass
class Walk:
    hops: list[Hop]
    blocked: bool
    delivered_to: tuple[Nic, IpConfig] | None = None  # destination NIC reached
    internet: bool = False  # left for the Internet
    egress: tuple[Nic, IpConfig] | None = None  # the NIC that sent it to the Internet
    public_ingress: bool = False  # reached a VM through its public IP
    snat: firewall.Firewall | None = None  # an Azure Firewall SNATed the flow to its address
    # An Azure Firewall DNATed the flow, addressed to its public IP; hairpin: the NIC whose
    # Internet egress carried it there (the reply goes back to it over the Internet).
    dnat: firewall.Firewall | None = None
    hairpin: tuple[Nic, IpConfig] | None = None
    # VirtualApplianceEcmp: route id -> the member this walk took, and each set met (id, size).
    ecmp_choice: dict[str, int] = field(default_factory=dict)
    ecmp_seen: list[tuple[str, int]] = field(default_factory=list)
    delivered_port: int | None = None  # a load balancer's backend port, when it rewrote it
    # What the path touched that the twin assumed (twin-semantics §15), and resource keys
    # whose load-time assumptions concern this path.
    assumptions: list[Assumption] = field(default_factory=list)
    touched: list[str] = field(default_factory=list)

    def touch(self, *resource_ids: str | None) -> None:
        self.touched.extend(key(r) for r in resource_ids if r)


def nsg_issue(direction: str, rule_name: str) -> dict[str, Any]:
    return {"origin": direction, "severity": "Error", "type": "NetworkSecurityRule",
            "context": [{"key": "RuleName", "value": rule_name}]}


def route_issue(route: routing.Route) -> dict[str, Any]:
    kind = "User" if route.route_table_id is not None else "Default"
    return {"origin": "Outbound", "severity": "Error", "type": "UserDefinedRoute",
            "context": [{"key": "RouteType", "value": kind}]}


def endpoint_issue(kind: str) -> dict[str, Any]:
    return {"origin": "Inbound", "severity": "Error", "type": kind, "context": []}


def _block(topo: Topology, walk: Walk, hop: Hop, nic: Nic, cfg: IpConfig, direction: str,
           packet: nsg.Packet) -> bool:
    """Evaluate admin rules and NSGs at a hop; record a deny as the service does."""
    verdict = nsg.evaluate(topo, nic, cfg, direction, packet)
    walk.assumptions.extend(verdict.assumptions)
    walk.touch(nic.id, cfg.id, cfg.subnet_id, topo.subnet_of(cfg).vnet_id, verdict.nsg_id)
    if verdict.allowed or verdict.rule is None:
        return False
    hop.issues.append(nsg_issue(direction, verdict.rule.reported_name))
    return True


def _nic_near(topo: Topology, cfg: IpConfig, address: IPAddress,
              peering_only: bool = False) -> tuple[Nic, IpConfig] | None:
    """The NIC holding ``address`` in this NIC's VNet or a peered VNet."""
    owners = topo.nics_at(address)
    if not owners:
        return None
    vnet = topo.vnet_of(cfg)
    candidates = list(vnet.peered_vnet_ids) if peering_only else \
        [vnet.id, *vnet.peered_vnet_ids]
    for vnet_id in candidates:
        found = owners.get(key(vnet_id))
        if found is not None:
            return found
    return None


def _cross(topo: Topology, walk: Walk | None, cfg: IpConfig, found: tuple[Nic, IpConfig],
           source: IPAddress) -> bool:
    """Peering flags between the sending NIC's VNet and the receiving one (peering.py)."""
    sender, receiver = topo.vnet_of(cfg).id, topo.vnet_of(found[1]).id
    allowed, notes = peering.crossing(topo, sender, receiver, source)
    if walk is not None:
        walk.assumptions.extend(notes)
        link = topo.link(sender, receiver)
        walk.touch(link.id if link else None)
    return allowed


def _running(topo: Topology, nic: Nic) -> bool:
    if nic.vm_id is None and firewall.is_firewall(topo, nic.id):
        return True  # an Azure Firewall's synthetic NIC: the service runs it
    vm = topo.vms.get(key(nic.vm_id)) if nic.vm_id else None
    return vm is not None and vm.running


def _firewall_near(topo: Topology, cfg: IpConfig,
                   address: IPAddress) -> firewall.Firewall | None:
    """An Azure Firewall at ``address`` in this NIC's VNet or a peered one (it has no NIC)."""
    vnet = topo.vnet_of(cfg)
    return firewall.firewall_near(topo, [vnet.id, *vnet.peered_vnet_ids], address)


def _route(topo: Topology, walk: Walk, cfg: IpConfig,
           dest: IPAddress) -> routing.Route | None:
    """The route lookup at a hop; the route table's assumptions join the walk's."""
    subnet = topo.subnet_of(cfg)
    route = routing.lookup(topo, subnet, dest)
    if subnet.route_table_id is not None:
        walk.touch(subnet.route_table_id)
        for route_id in (r.id for r in topo.route_tables[key(subnet.route_table_id)].routes):
            for note in topo.assumptions_at.get(key(route_id), ()):
                if note.code == "UNRESOLVED_SERVICE_TAG":
                    # Every service tag is public Azure space: it could hold a public
                    # destination, never a private one.
                    walk.assumptions.append(note.sensitive(dest.is_global))
    if route is not None and route.route_table_id is None and dest.version == 6:
        # Once per VNet whichever hop asked (the reply asks again): the routes are the VNet's.
        walk.assumptions.append(Assumption(
            "ASSUME_IPV6_SYSTEM_ROUTES", subnet.vnet_id, "IPv6 system routes are undocumented: "
            "the VNet's IPv6 spaces are assumed VnetLocal, peered IPv6 spaces VNetPeering, ::/0 "
            "Internet, no IPv6 None routes", alternatives=("the observed effective routes "
                                                          "differ",)))
    if route is not None and route.tag is not None and dest.version == 6:
        walk.assumptions.append(Assumption(
            "ASSUME_IPV6_TAG_ROUTE", route.id, f"the IPv6 prefixes of service tag {route.tag!r} "
            "are routed by this route like its IPv4 ones (the routing article does not say "
            "which family a tag route covers)", field="addressPrefix",
            alternatives=("the tag route covers IPv4 only: the packet takes ::/0 Internet",),
            verdict_sensitive=route.next_hop_type != "Internet"))
    table = topo.raw.get(key(subnet.route_table_id)) if subnet.route_table_id else None
    walk.assumptions.extend(unmodelled.route_notes(
        topo, subnet, route,
        bool((table or {}).get("properties", {}).get("disableBgpRoutePropagation"))))
    if route is not None and route.id:
        # The route leads where the twin cannot follow: a VNet outside the topology, or a user
        # route to a gateway where none is in reach (with one in reach, the gateway branch of
        # the walk models the hop and says what lies beyond).
        notes = topo.assumptions_at.get(key(route.id), ())
        if route.next_hop_type in UNMODELLED_HOP_TYPES:
            if gateways.gateway_for(topo, subnet) is None:
                walk.assumptions.extend(n.sensitive(True) for n in notes)
        else:
            walk.assumptions.extend(n.sensitive(route.route_table_id is None) for n in notes)
    return route


def _egress_address(topo: Topology, cfg: IpConfig) -> ipaddress.IPv4Address | None:
    """The public address a NIC's Internet traffic leaves with, when the topology says (NAT
    gateway, instance public IP or load balancer frontend: outbound.py)."""
    return outbound.egress(topo, cfg).address


def _appliance_at(topo: Topology, walk: Walk, cfg: IpConfig, address: IPAddress,
                  packet: nsg.Packet) -> tuple[Nic, IpConfig] | None:
    """The NIC a VirtualAppliance next hop hands the packet to: the NIC holding the address,
    or the backend an internal LB frontend picks (twin-semantics §10.2.6: HA-ports NVA pair;
    the destination is not rewritten, the packet was not addressed to the frontend)."""
    found = _nic_near(topo, cfg, address)
    if found is not None:
        return found
    vnet = topo.vnet_of(cfg)
    fe = loadbalancer.frontend_at(topo, [key(vnet.id), *map(key, vnet.peered_vnet_ids)],
                                  address)
    if fe is None:
        return None
    choice = loadbalancer.choose(topo, fe, packet.protocol, packet.destination_port)
    walk.assumptions.extend(choice.assumptions)
    walk.assumptions.append(Assumption(
        "ASSUME_ILB_NEXT_HOP_KEEPS_DESTINATION", fe.id, "a route to an internal load balancer "
        "frontend hands the packet to a backend without rewriting its destination"))
    walk.touch(fe.lb_id)
    return choice.backend


def _via_frontend(topo: Topology, walk: Walk, cfg: IpConfig, fe: loadbalancer.Frontend,
                  packet: nsg.Packet, public: bool = False) -> bool:
    """A packet addressed to an LB frontend (twin-semantics §10.2): the rule for its protocol
    and port, then a healthy backend; the backend's inbound NSGs see the backend's address and
    port. ``public``: a public frontend reached from the Internet (``packet`` is as it arrives,
    from the sender's egress address; no peering is crossed). False when nothing takes the flow
    (the caller draws the dead end)."""
    # doc components: an internal LB's backend cannot reach its own frontend; a public
    # frontend is reached through the Internet like any public address.
    choice = loadbalancer.choose(topo, fe, packet.protocol, packet.destination_port,
                                 None if public else cfg)
    if len(choice.healthy) > 1:
        # The twin follows the first healthy backend; the choice rests on it when the others
        # would meet a different inbound verdict.
        verdicts = {nsg.evaluate(topo, n, c, "Inbound",
                                 replace(packet, destination=c.address,
                                         destination_port=choice.port)).allowed
                    for n, c in choice.healthy}
        choice.assumptions = [a.sensitive(len(verdicts) > 1)
                              if a.code == "ASSUME_LB_BACKEND_FIRST_HEALTHY" else a
                              for a in choice.assumptions]
    walk.assumptions.extend(choice.assumptions)
    walk.touch(fe.lb_id)
    if choice.backend is None:
        return False
    bnic, bcfg = choice.backend
    if not public and not _cross(topo, walk, cfg, choice.backend, packet.source):
        return False
    hop = Hop("VnetLocal", str(bcfg.address), bcfg.id,
              link_type="Internet" if public else "VirtualNetwork")
    walk.hops.append(hop)
    walk.delivered_to = choice.backend
    walk.delivered_port = choice.port
    walk.public_ingress = public
    if public and _closed_without_nsg(topo, walk, bnic, bcfg, loadbalancer.sku_of(topo, fe),
                                      fe.public_ip_id or fe.id):
        walk.blocked = True
        return True
    arriving = replace(packet, destination=bcfg.address, destination_port=choice.port)
    walk.blocked |= _block(topo, walk, hop, bnic, bcfg, "Inbound", arriving)
    return True


def _from_internet(topo: Topology, walk: Walk, packet: nsg.Packet) -> nsg.Packet:
    """The packet as it comes in from the Internet (twin-semantics §5.2 step 2): its source is
    the sender's public egress address (outbound.py), an Internet address; when the topology
    does not say which, it matches no CIDR, tag or ASG (verdict-sensitive)."""
    assert walk.egress is not None
    sender = walk.egress[1]
    egress = _egress_address(topo, sender)
    if egress is None:
        walk.assumptions.append(Assumption(
            "ASSUME_EGRESS_ADDRESS_UNKNOWN", sender.id, "the sender has no instance public "
            "IP: its egress address is an Internet address no CIDR, tag or ASG names",
            alternatives=("a rule naming the real egress address matches",),
            verdict_sensitive=True))
    return replace(packet, source=egress or packet.source, source_unknown_public=egress is None)


def _closed_without_nsg(topo: Topology, walk: Walk, nic: Nic, cfg: IpConfig, sku: str,
                        public_id: str) -> bool:
    """Standard public IPs and Standard load balancer frontends are closed to inbound traffic
    unless an NSG allows it (docs public-ip-addresses, load-balancer/skus); assumed to hold with
    no NSG at all on the NIC the traffic reaches."""
    subnet = topo.subnet_of(cfg)
    if nic.nsg_id is not None or subnet.nsg_id is not None or sku.lower() != "standard" \
            or topo.admin_rules.get(key(subnet.vnet_id)):
        return False
    walk.assumptions.append(Assumption(
        "ASSUME_PUBLIC_IP_CLOSED", public_id, "a Standard public IP without an NSG is closed "
        "to inbound traffic", alternatives=("open",), verdict_sensitive=True))
    walk.touch(nic.id, cfg.id, cfg.subnet_id, subnet.vnet_id)
    return True


def _to_firewall_public_ip(topo: Topology, walk: Walk, packet: nsg.Packet,
                           fw: firewall.Firewall) -> nsg.Packet | None:
    """A flow addressed to an Azure Firewall's public IP (twin-semantics §6.2 rules 5-6): it
    came in from the Internet with the sender's egress address; a DNAT rule translates its
    destination, the firewall SNATs it to its own address, and the walk continues from the
    firewall to the translated target. None: no DNAT rule takes it (default deny)."""
    assert walk.egress is not None and isinstance(packet.destination, ipaddress.IPv4Address)
    walk.hops.append(Hop("Internet", str(packet.destination), "Internet",
                         link_type="Internet"))
    walk.hops.append(Hop("VirtualAppliance", str(fw.address), fw.id, link_type="Internet"))
    walk.touch(fw.id)
    walk.assumptions.append(Assumption(
        "ASSUME_FIREWALL_DNAT_PATH", fw.id, f"{packet.destination} is a public IP of the "
        "firewall: the flow leaves by the sender's outbound path and comes back in over the "
        "Internet (a hairpin Azure does not document), drawn Source, Internet, the firewall, "
        "the translated target"))
    egress = _egress_address(topo, walk.egress[1])
    decision = firewall.dnat(topo, fw, packet.protocol, egress, packet.destination,
                             packet.destination_port)
    walk.assumptions.extend(decision.assumptions)
    if not decision.allowed or decision.translated is None:
        walk.blocked = True  # the firewall drops it: nothing goes further
        return None
    address, port = decision.translated
    walk.dnat, walk.snat, walk.hairpin = fw, fw, walk.egress
    walk.assumptions.append(firewall.snat_note(fw))
    walk.delivered_port = port
    return replace(packet, source=fw.address, destination=address, destination_port=port,
                   via_appliance=True, source_unknown_public=False)


def _to_public_ip(topo: Topology, walk: Walk, packet: nsg.Packet,
                  target: tuple[Nic, IpConfig, str]) -> None:
    """A VM's public IP as destination (twin-semantics §5.2): translated to the VM's private
    address, then its inbound admin rules and NSGs see source = the sender's public egress
    address (Internet, never VirtualNetwork)."""
    nic, cfg, sku = target
    public = packet.destination
    walk.hops.append(Hop("Internet", str(public), "Internet", link_type="Internet"))
    hop = Hop("VnetLocal", str(cfg.address), cfg.id, link_type="Internet")
    walk.hops.append(hop)
    walk.public_ingress = True
    walk.delivered_to = (nic, cfg)
    walk.assumptions.append(Assumption(
        "ASSUME_PUBLIC_IP_PATH", cfg.id, f"{public} is the public IP of {cfg.id}: drawn as "
        "Source, Internet, the VM"))
    inbound = replace(_from_internet(topo, walk, packet), destination=cfg.address)
    if _closed_without_nsg(topo, walk, nic, cfg, sku, cfg.public_ip_id or cfg.id):
        walk.blocked = True
        return
    walk.blocked |= _block(topo, walk, hop, nic, cfg, "Inbound", inbound)


def _ipv6_egress(topo: Topology, walk: Walk, cfg: IpConfig) -> bool:
    """May an IPv6 configuration reach the IPv6 Internet? Only with an IPv6 public IP of its
    own: default outbound access and NAT gateways are IPv4 (twin-semantics §13.2 rule 4,
    §13.4; ASSUME_IPV6_EGRESS, verdict-sensitive: an IPv6 LB outbound rule is not modelled)."""
    pip = topo.public_ips.get(key(cfg.public_ip_id)) if cfg.public_ip_id else None
    version = str(((pip or {}).get("properties") or {}).get("publicIPAddressVersion") or "")
    if pip is not None and version.lower() == "ipv6":
        walk.touch(cfg.public_ip_id)
        return True
    walk.assumptions.append(Assumption(
        "ASSUME_IPV6_EGRESS", cfg.id, "the IPv6 configuration has no IPv6 public IP: default "
        "outbound access and NAT gateways are IPv4 only, so the flow cannot leave",
        alternatives=("an IPv6 load balancer outbound rule carries it",),
        verdict_sensitive=True))
    return False


def _appliance_ip(walk: Walk, route: routing.Route) -> IPAddress:
    """The appliance a VirtualAppliance or VirtualApplianceEcmp route hands the packet to:
    for an ECMP set, the member this walk's flow hash picked (run_check tries each)."""
    if route.next_hop_type != "VirtualApplianceEcmp":
        assert route.next_hop_ip is not None
        return route.next_hop_ip
    if route.id not in walk.ecmp_choice:
        walk.ecmp_choice[route.id] = 0
        walk.ecmp_seen.append((route.id, len(route.next_hop_ips)))
    return route.next_hop_ips[walk.ecmp_choice[route.id] % len(route.next_hop_ips)]


def forward(topo: Topology, spec: CheckSpec, packet: nsg.Packet,
            ecmp_choice: dict[str, int] | None = None) -> Walk:
    """Trace the probe from the source NIC to where it ends, recording issues on the way."""
    nic, cfg = spec.source_nic, spec.source_cfg
    walk = Walk([Hop("Source", str(cfg.address), cfg.id)], blocked=False)
    walk.ecmp_choice.update(ecmp_choice or {})
    if spec.ip_version == "IPv6":
        walk.assumptions.append(Assumption(
            "ASSUME_IPV6_HOPS", cfg.id, "the IPv6 check is drawn like an IPv4 one, hops at the "
            "IPv6 ip configurations (the service's IPv6 drawing is undocumented)"))
    note = scalesets.source_note(spec.source_vm)
    if note is not None:
        walk.assumptions.append(note)
    dest = packet.destination
    visited = {key(nic.id)}
    for _ in range(MAX_HOPS):
        here = walk.hops[-1]
        # Where the walk ends when it breaks out of the loop: an address no NIC of the twin
        # holds may be held by a part it does not model (unmodelled.py), which stops it there.
        dead_end: IPAddress | None = dest
        walk.blocked |= _block(topo, walk, here, nic, cfg, "Outbound", packet)
        route = _route(topo, walk, cfg, dest)
        hop_type = route.next_hop_type if route else "None"
        if route is not None and hop_type == "None":
            here.issues.append(route_issue(route))
        if hop_type in ("VirtualAppliance", "VirtualApplianceEcmp"):
            assert route is not None
            appliance = _appliance_ip(walk, route)
            found = _appliance_at(topo, walk, cfg, appliance, packet)
            fw = _firewall_near(topo, cfg, appliance) if found is None else None
            if fw is not None:
                found = fw.as_nic()
            if found is None and isinstance(appliance, ipaddress.IPv6Address):
                vnet = topo.vnet_of(cfg)
                fw6 = firewall.firewall_for_ipv6(topo, [vnet.id, *vnet.peered_vnet_ids],
                                                 appliance)
                if fw6 is not None:  # an IPv6 next hop in AzureFirewallSubnet (doc: preview)
                    walk.hops.append(Hop("VirtualAppliance", str(appliance), fw6.id))
                    walk.touch(fw6.id)
                    walk.assumptions.append(firewall.ipv6_note(fw6, appliance))
                    walk.blocked = True
                    return walk
            if found is None or not _cross(topo, walk, cfg, found, packet.source):
                dead_end = appliance if found is None else None
                break  # no such appliance, or the peering drops it: a dead end
            if fw is not None:
                if key(fw.id) in visited:
                    walk.blocked = True  # routing loop
                    return walk
                visited.add(key(fw.id))
                walk.hops.append(Hop("VirtualAppliance", str(fw.address), fw.id))
                walk.touch(fw.id)
                # Only IPv4 flows get here: a firewall is found by an IPv4 address
                # (firewall_near) and a route's next hops are of its prefix's family.
                assert isinstance(dest, ipaddress.IPv4Address) and \
                    isinstance(packet.source, ipaddress.IPv4Address)
                decision = firewall.decide(topo, fw, packet.protocol, packet.source, dest,
                                           packet.destination_port, spec.host)
                walk.assumptions.extend(decision.assumptions)
                if not decision.allowed:
                    walk.blocked = True  # the firewall drops it: nothing goes further
                    return walk
                if decision.snat and walk.snat is None:
                    walk.snat = fw
                    walk.assumptions.append(firewall.snat_note(fw))
                    packet = replace(packet, source=fw.address)
                nic, cfg = found
                packet = replace(packet, via_appliance=True)
                continue
            anic, acfg = found
            if key(anic.id) in visited:
                walk.blocked = True  # routing loop: the probe never arrives
                return walk
            visited.add(key(anic.id))
            hop = Hop("VirtualAppliance", str(acfg.address), acfg.id)
            walk.hops.append(hop)
            walk.blocked |= _block(topo, walk, hop, anic, acfg, "Inbound", packet)
            if not anic.ip_forwarding or not _running(topo, anic):
                walk.blocked = True  # Azure drops packets not addressed to a non-forwarding NIC
                return walk
            nic, cfg = anic, acfg
            packet = replace(packet, via_appliance=True)
            continue
        if hop_type in ("VnetLocal", "VNetPeering", "InterfaceEndpoint"):
            found = _nic_near(topo, cfg, dest, peering_only=hop_type == "VNetPeering")
            if found is None:
                vnet = topo.vnet_of(cfg)
                vnets = list(vnet.peered_vnet_ids) if hop_type == "VNetPeering" else \
                    [vnet.id, *vnet.peered_vnet_ids]
                fe = loadbalancer.frontend_at(topo, [key(v) for v in vnets], dest)
                if fe is not None and _via_frontend(topo, walk, cfg, fe, packet):
                    return walk
                dead_end = None if fe is not None else dest
                break
            if not _cross(topo, walk, cfg, found, packet.source):
                dead_end = None
                break
            dnic, dcfg = found
            hop = Hop("VnetLocal", str(dcfg.address), dcfg.id)
            walk.hops.append(hop)
            endpoint = private_endpoints.endpoint_of(topo, dnic)
            if endpoint is not None:
                walk.assumptions.append(private_endpoints.hop_note(endpoint, dcfg))
                walk.touch(endpoint.id)
            if endpoint is None or private_endpoints.nsgs_apply(topo, endpoint):
                walk.blocked |= _block(topo, walk, hop, dnic, dcfg, "Inbound", packet)
            walk.delivered_to = found
            return walk
        if hop_type == "VirtualNetworkGateway":
            gw = gateways.gateway_for(topo, topo.subnet_of(cfg))
            if gw is None:
                break  # no gateway in reach: the route leads nowhere
            walk.hops.append(Hop("VirtualNetworkGateway", gw.address, gw.id))
            walk.touch(gw.id)
            if route is not None and route.route_table_id is not None:
                walk.assumptions.extend(gateways.user_route_notes(topo, gw, route))
            stop = gateways.ipv6_stop(topo, gw, dest)
            walk.assumptions.extend([*gw.notes, stop or gateways.beyond(gw, dest)])
            walk.blocked = True  # beyond the gateway is outside the twin (§9.4)
            return walk
        if hop_type == "VirtualNetworkServiceEndpoint":
            assert route is not None
            subnet = topo.subnet_of(cfg)
            tie = any(p == route.prefix for p, _ in routing.expanded_user_routes(topo, subnet))
            walk.assumptions.extend(service_endpoints.hop_assumption(subnet, dest, tie))
            walk.egress = (nic, cfg)
            walk.hops.append(Hop("Internet", str(dest), "Internet", link_type="Internet"))
            walk.internet = True
            return walk
        if hop_type == "Internet" and dest.is_global and dest.version == 6:
            if not _ipv6_egress(topo, walk, cfg):
                dead_end = None
                break
            walk.egress = (nic, cfg)
            walk.hops.append(Hop("Internet", str(dest), "Internet", link_type="Internet"))
            walk.internet = True
            return walk
        if hop_type == "Internet" and dest.is_global:
            way = outbound.egress(topo, cfg)
            walk.assumptions.extend(way.assumptions)
            walk.touch(way.resource_id)
            if way.method is None:
                dead_end = None
                break  # no outbound method (a private subnet): the flow cannot leave
            walk.egress = (nic, cfg)
            target = topo.public_ip_index.get(dest) \
                if isinstance(dest, ipaddress.IPv4Address) else None
            if target is not None:
                _to_public_ip(topo, walk, packet, target)
                return walk
            fw = firewall.at_public(topo, dest)
            if fw is not None:
                translated = _to_firewall_public_ip(topo, walk, packet, fw)
                if translated is None:
                    return walk
                # On from the firewall to the translated target (no loop check here: the
                # flow entered from the Internet side; MAX_HOPS still bounds the walk).
                nic, cfg = fw.as_nic()
                packet, dest = translated, translated.destination
                continue
            fe = loadbalancer.public_frontend(topo, dest)
            if fe is not None:
                walk.hops.append(Hop("Internet", str(dest), "Internet", link_type="Internet"))
                walk.assumptions.append(Assumption(
                    "ASSUME_PUBLIC_FRONTEND_PATH", fe.id, f"{dest} is a public load balancer "
                    "frontend: the flow leaves by the sender's outbound path and comes in over "
                    "the Internet, drawn Source, Internet, the backend"))
                if _via_frontend(topo, walk, cfg, fe, _from_internet(topo, walk, packet),
                                 public=True):
                    return walk
                break
            walk.hops.append(Hop("Internet", str(dest), "Internet", link_type="Internet"))
            holder = unmodelled.holder_at(topo, dest)
            if holder is not None:  # e.g. an Application Gateway's public frontend
                return _stop_at_unmodelled(walk, holder, dest, "Destination")
            walk.internet = True
            return walk
        # None route, private address sent to the Internet, or a next hop the twin does not
        # model (its route's assumption, verdict-sensitive, is already on the walk).
        break
    else:
        walk.blocked = True  # MAX_HOPS exceeded
        return walk
    holder = unmodelled.holder_at(topo, dead_end) if dead_end is not None else None
    if holder is not None and dead_end is not None:
        return _stop_at_unmodelled(walk, holder, dead_end,
                                   "Destination" if dead_end == dest else "VirtualAppliance")
    walk.hops.append(Hop("Destination", str(dest), "Unknown"))
    walk.blocked = True
    return walk


def _stop_at_unmodelled(walk: Walk, holder: unmodelled.Holder, address: IPAddress,
                        hop_type: str) -> Walk:
    """Neither wall nor hole (twin-semantics §15 rule 2): the trace ends at the part the twin
    does not model, drawn at its address, and the verdict is undetermined."""
    walk.hops.append(Hop(hop_type, str(address), holder.resource_id))
    walk.touch(holder.resource_id)
    walk.assumptions.append(unmodelled.dead_end(holder, address))
    walk.blocked = True
    return walk


def reply_routes_back(topo: Topology, spec: CheckSpec, walk: Walk) -> bool:
    """Probes are real: the reply must route from the far end back to the source NIC.

    Replies are not NSG-filtered (stateful NSGs), but they are routed, through appliances that
    need IP forwarding, and they cross peerings under the same flags. Traffic that left for the
    Internet comes back to the NIC that sent it (the platform or the appliance NATed it); a VM
    reached on its public IP answers through its own subnet's route to the Internet (a 0/0 to
    an appliance breaks that, doc virtual-networks-udr-overview, "0.0.0.0/0").
    """
    if walk.public_ingress:
        assert walk.delivered_to is not None
        far = walk.delivered_to[1]
        egress = _egress_address(topo, walk.egress[1]) if walk.egress else None
        # An unknown egress address is some public address: 0.0.0.0 meets only the 0/0 route.
        route = _route(topo, walk, far, egress or ipaddress.IPv4Address("0.0.0.0"))
        if route is None or route.next_hop_type != "Internet":
            return False
    start = walk.egress if (walk.internet or walk.public_ingress) else walk.delivered_to
    if start is None:
        return False
    nic, cfg = start
    if walk.snat is not None and not walk.internet:
        assert spec.address is not None
        # The reply goes to the firewall's address first, then the firewall sends it on.
        route = _route(topo, walk, cfg, walk.snat.address)
        if route is None or route.next_hop_type not in ("VnetLocal", "VNetPeering") or \
                _firewall_near(topo, cfg, walk.snat.address) is None:
            return False
        if not _cross(topo, walk, cfg, walk.snat.as_nic(), spec.address):
            return False
        nic, cfg = walk.snat.as_nic()
    if walk.dnat is not None:
        # The reply reached the firewall that translated the flow (the SNAT check above, or,
        # for a public translated address, back from the Internet to the firewall's egress);
        # it translates it back and answers from its public IP over the Internet to the
        # sender's egress address, which hands it to the sender.
        assert walk.hairpin is not None
        nic, cfg = walk.dnat.as_nic()
        egress = _egress_address(topo, walk.hairpin[1])
        route = _route(topo, walk, cfg, egress or ipaddress.IPv4Address("0.0.0.0"))
        if route is None or route.next_hop_type != "Internet":
            return False
        nic, cfg = walk.hairpin
    target = spec.source_cfg.address
    reply_source = spec.address  # the far end answers from the address it was asked on
    assert reply_source is not None
    if private_endpoints.endpoint_of(topo, nic) is not None:
        # A private endpoint's replies use system routes, not user routes (twin-semantics
        # §7.2 rule 6, field consensus).
        found = _nic_near(topo, cfg, target)
        return found is not None and key(found[0].id) == key(spec.source_nic.id) and \
            _cross(topo, walk, cfg, found, reply_source)
    visited = {key(nic.id)}
    for _ in range(MAX_HOPS):
        if key(nic.id) == key(spec.source_nic.id):
            return True
        route = _route(topo, walk, cfg, target)
        if route is None:
            return False
        if route.next_hop_type in ("VirtualAppliance", "VirtualApplianceEcmp"):
            appliance = _appliance_ip(walk, route)
            found = _appliance_at(topo, walk, cfg, appliance,
                                  nsg.Packet("Tcp", reply_source, spec.port, target,
                                             spec.source_port))
            fw = _firewall_near(topo, cfg, appliance) if found is None else None
            if fw is not None:
                found = fw.as_nic()  # stateful: the firewall lets its flow's replies back
            if found is None or key(found[0].id) in visited:
                return False
            if not _cross(topo, walk, cfg, found, reply_source):
                return False
            nic, cfg = found
            visited.add(key(nic.id))
            if not nic.ip_forwarding or not _running(topo, nic):
                return False
            continue
        if route.next_hop_type in ("VnetLocal", "VNetPeering"):
            found = _nic_near(topo, cfg, target,
                              peering_only=route.next_hop_type == "VNetPeering")
            if found is None or key(found[0].id) != key(spec.source_nic.id):
                return False
            return _cross(topo, walk, cfg, found, reply_source)
        return False
    return False


def _endpoint_answers(topo: Topology, spec: CheckSpec, walk: Walk) -> bool:
    """Does whatever the probe reached answer? Adds GuestFirewall / NoListener issues."""
    if walk.internet:
        return True  # an Internet endpoint answers on any port
    assert walk.delivered_to is not None
    nic = walk.delivered_to[0]
    endpoint = private_endpoints.endpoint_of(topo, nic) if nic.vm_id is None else None
    if endpoint is not None:
        ok, notes = private_endpoints.answers(endpoint, spec.protocol, spec.port)
        walk.assumptions.extend(notes)
        return ok
    vm = topo.vms.get(key(nic.vm_id)) if nic.vm_id else None
    if vm is None or not vm.running:
        return False  # the service reports a stopped destination without any issue
    if spec.protocol == "Icmp":
        return True
    last = walk.hops[-1]
    denied = topo.emulation.guest_denied.get(key(vm.id), frozenset())
    port = walk.delivered_port or spec.port  # a load balancer may have rewritten it
    if port in denied:
        last.issues.append(endpoint_issue("GuestFirewall"))
        return False
    listening = topo.emulation.listeners.get(key(vm.id))
    if listening is not None and port not in listening:
        last.issues.append(endpoint_issue("NoListenerOnDestination"))
        return False
    return True


def _latency(topo: Topology, spec: CheckSpec) -> Latency:
    em = topo.emulation
    for candidate in (str(spec.address), spec.host,
                      spec.destination_vm.id if spec.destination_vm else None):
        if candidate and candidate.lower() in em.latency_overrides:
            return em.latency_overrides[candidate.lower()]
    return em.latency


def run_check(topo: Topology, spec: CheckSpec, probes: int | None = None) -> dict[str, Any]:
    """The ConnectivityInformation the service would return for this check (deterministic)."""
    probes_sent = probes if probes is not None else topo.emulation.probes
    src = spec.source_cfg
    if spec.address is None:  # DNS failed: nothing leaves the source
        hop = Hop("Source", str(src.address), src.id)
        hop.issues.append({"origin": "Local", "severity": "Error", "type": "DnsResolution",
                           "context": [{"key": "HostName", "value": spec.host or ""}]})
        walk = Walk([hop], blocked=True, assumptions=list(spec.notes))
        reachable = False
    else:
        packet = nsg.Packet("Icmp" if spec.protocol == "Icmp" else "Tcp", src.address,
                            spec.source_port, spec.address,
                            None if spec.protocol == "Icmp" else spec.port)
        walk = forward(topo, spec, packet)
        reachable = (not walk.blocked and _endpoint_answers(topo, spec, walk)
                     and reply_routes_back(topo, spec, walk))
        if walk.ecmp_seen:
            walk.assumptions.append(_ecmp_branches(topo, spec, packet, walk, reachable))
    latency = _latency(topo, spec) if reachable else None
    result: dict[str, Any] = {"hops": _render_hops(spec, walk.hops, latency),
                              "connectionStatus": "Reachable" if reachable else "Unreachable"}
    if latency is not None:  # the service omits latency when unreachable
        result.update(avgLatencyInMs=latency.avg, minLatencyInMs=latency.min,
                      maxLatencyInMs=latency.max)
    result.update(probesSent=probes_sent, probesFailed=0 if reachable else probes_sent)
    touched = path_assumptions(topo, walk)
    if touched:
        result[EXTENSION] = extension(touched, reachable)
    return result


def _ecmp_branches(topo: Topology, spec: CheckSpec, packet: nsg.Packet, walk: Walk,
                   reachable: bool) -> Assumption:
    """Evaluate every member of the first ECMP set the flow met (twin-semantics §14.4, §15.4:
    all / some / none); the drawn path is the first member's."""
    route_id, size = walk.ecmp_seen[0]
    outcomes = [reachable]
    for i in range(1, size):
        other = forward(topo, spec, packet, {**walk.ecmp_choice, route_id: i})
        outcomes.append(not other.blocked and _endpoint_answers(topo, spec, other)
                        and reply_routes_back(topo, spec, other))
    reached = [str(i) for i, ok in enumerate(outcomes) if ok]
    summary = "all members reach" if len(reached) == size else \
        "no member reaches" if not reached else f"members {', '.join(reached)} of {size} reach"
    return Assumption(
        "ASSUME_ECMP_FLOW_HASH", route_id, f"the flow is hashed to member 0 of the ECMP set "
        f"(drawn); each member evaluated: {summary}", field="nextHop.nextHopIpAddresses",
        alternatives=("the flow hashes to another member",),
        verdict_sensitive=len(set(outcomes)) > 1)


EXTENSION = "nwlab"  # the extension field: never part of Azure's ConnectivityInformation


def path_assumptions(topo: Topology, walk: Walk) -> list[Assumption]:
    """What the walk assumed, plus the load-time assumptions of the resources it touched."""
    found = list(walk.assumptions)
    for resource in dict.fromkeys(walk.touched):
        found.extend(n for n in topo.assumptions_at.get(resource, ())
                     if n.code != "UNRESOLVED_SERVICE_TAG")  # those count only where matched
    return assumptions.unique(found)


def extension(items: list[Assumption], reachable: bool) -> dict[str, Any]:
    """The twin's own outcome (reached / notReached / undetermined, twin-semantics §15.3) and
    the assumptions of this path; connectionStatus keeps the service's vocabulary."""
    undetermined = any(a.verdict_sensitive for a in items)
    outcome = "undetermined" if undetermined else ("reached" if reachable else "notReached")
    return {"outcome": outcome, "assumptions": [a.to_json() for a in items]}


def _render_hops(spec: CheckSpec, hops: list[Hop], latency: Latency | None,
                 ) -> list[dict[str, Any]]:
    """REST-shaped hops: ids are uuid5 of the check and the position, so output is stable."""
    base = uuid.uuid5(HOP_NAMESPACE, spec.canonical())
    ids = [str(uuid.uuid5(base, f"{i}|{h.type}|{h.resource_id}|{h.address}"))
           for i, h in enumerate(hops)]
    # Link RTTs: the end-to-end figures on every link of a reachable path; {} when nothing was
    # measured (the live service sends {} then).
    rtt: dict[str, Any] = {} if latency is None else {
        "roundTripTimeMin": latency.min, "roundTripTimeAvg": latency.avg,
        "roundTripTimeMax": latency.max}

    def link(to: int, via: Hop) -> dict[str, Any]:
        return {"nextHopId": ids[to], "linkType": via.link_type, "properties": dict(rtt),
                "issues": [], "context": {}, "resourceId": ""}

    out = []
    for i, hop in enumerate(hops):
        nxt = [i + 1] if i + 1 < len(hops) else []
        prev = [i - 1] if i > 0 else []
        out.append({"type": hop.type, "id": ids[i], "address": hop.address,
                    "resourceId": hop.resource_id, "nextHopIds": [ids[j] for j in nxt],
                    "previousHopIds": [ids[j] for j in prev],
                    "links": [link(j, hops[j]) for j in nxt],
                    "previousLinks": [link(j, hop) for j in prev],
                    "issues": hop.issues})
    return out


# ---------------------------------------------------------------------------------------------
# ipFlowVerify and nextHop
# ---------------------------------------------------------------------------------------------

# IP flow verify's spec fields say "Acceptable values are valid IPv4 addresses"; next hop's
# ("The source IP address", "The destination IP address") name no family, so they take both.
FLOW_VERIFY_IPV6 = ("IP flow verify takes IPv4 addresses only (the spec's "
                    "VerificationIPFlowParameters); for an IPv6 flow run "
                    "networkConfigurationDiagnostic with the addresses as profile source and "
                    "destination, or connectivityCheck with preferredIPVersion IPv6.")


def _target_nic(topo: Topology, body: Mapping[str, Any], local_ip_field: str,
                ipv6: bool) -> tuple[Nic, IpConfig]:
    vm = _vm(topo, body.get("targetResourceId"), "target")
    nic_id = body.get("targetNicResourceId")
    if nic_id:
        if not any(key(n) == key(str(nic_id)) for n in vm.nic_ids):
            raise ArmError(400, "InvalidRequestFormat", f"targetNicResourceId {nic_id} is not a "
                           f"network interface of {vm.id}.")
        nic = topo.nics[key(str(nic_id))]
    else:
        nic = _primary(topo, vm)[0]
    local = _ip(body.get(local_ip_field), local_ip_field, ipv6)
    for cfg in (*nic.ip_configs, *nic.ip6_configs):
        if cfg.address == local:
            return nic, cfg
    raise ArmError(400, "InvalidRequestFormat", f"{local_ip_field} {local} is not an address of "
                   f"network interface {nic.id}.")


def _ip(value: Any, field_name: str, ipv6: bool) -> IPAddress:
    """An address of the field; IPv6 only where the operation takes it (else what to run)."""
    try:
        addr = ipaddress.ip_address(str(value).strip())
    except ValueError:
        raise ArmError(400, "InvalidRequestFormat", f"{field_name} must be an "
                       f"{'IPv4 or IPv6' if ipv6 else 'IPv4'} address, got {value!r}.") from None
    if addr.version == 6 and not ipv6:
        raise ArmError(400, "InvalidRequestFormat", f"{field_name} {value!r} is an IPv6 "
                       f"address: {FLOW_VERIFY_IPV6}")
    return addr


def ip_flow_verify(topo: Topology, body: Any) -> dict[str, Any]:
    """VerificationIPFlowResult for one flow, by the same NSG evaluation as the check.

    ruleName uses the effective-rules spelling: securityRules/<name> or
    defaultSecurityRules/<name>; empty when no NSG applies.
    """
    if not isinstance(body, Mapping):
        raise ArmError(400, "InvalidRequestFormat", "The request body must be a JSON object.")
    direction = str(body.get("direction", "")).capitalize()
    if direction not in ("Inbound", "Outbound"):
        raise ArmError(400, "InvalidRequestFormat", "direction must be Inbound or Outbound.")
    protocol = str(body.get("protocol", "")).upper()
    if protocol not in ("TCP", "UDP"):
        raise ArmError(400, "InvalidRequestFormat", "protocol must be TCP or UDP.")
    nic, cfg = _target_nic(topo, body, "localIPAddress", ipv6=False)
    remote = _ip(body.get("remoteIPAddress"), "remoteIPAddress", ipv6=False)

    def port(name: str) -> int | None:
        text = str(body.get(name, "")).strip()
        if text == "*":
            return None
        return _port(text if text.isdigit() else body.get(name), name)

    local_port, remote_port = port("localPort"), port("remotePort")
    proto = protocol.capitalize()
    if direction == "Outbound":
        packet = nsg.Packet(proto, cfg.address, local_port, remote, remote_port)
    else:
        packet = nsg.Packet(proto, remote, remote_port, cfg.address, local_port)
    verdict = nsg.evaluate(topo, nic, cfg, direction, packet)
    name = ""
    if verdict.rule is not None and verdict.rule.admin:
        name = verdict.rule.name  # bare, as NSG diagnostics names admin rules (§3.3)
    elif verdict.rule is not None:
        kind = "defaultSecurityRules" if verdict.rule.default else "securityRules"
        name = f"{kind}/{verdict.rule.name}"
    return {"access": "Allow" if verdict.allowed else "Deny", "ruleName": name}


def next_hop(topo: Topology, body: Any) -> dict[str, Any]:
    """NextHopResult: the route the source NIC's subnet picks for the destination."""
    if not isinstance(body, Mapping):
        raise ArmError(400, "InvalidRequestFormat", "The request body must be a JSON object.")
    _, cfg = _target_nic(topo, body, "sourceIPAddress", ipv6=True)
    dest = _ip(body.get("destinationIPAddress"), "destinationIPAddress", ipv6=True)
    if dest.version != cfg.address.version:
        # Each family has its own route table (twin-semantics §13.2 rule 1): no route joins
        # an address of one family to the other.
        raise ArmError(400, "InvalidRequestFormat", f"destinationIPAddress {dest} is IPv"
                       f"{dest.version} but sourceIPAddress {cfg.address} is IPv"
                       f"{cfg.address.version}; give a source address of the same family "
                       f"(the VM's IPv{dest.version} ipConfiguration).")
    route = routing.lookup(topo, topo.subnet_of(cfg), dest)
    if route is None:
        return {"nextHopType": "None", "nextHopIpAddress": "", "routeTableId": "System Route"}
    return {"nextHopType": route.next_hop_type,
            "nextHopIpAddress": str(route.next_hop_ip) if route.next_hop_ip else "",
            "routeTableId": route.route_table_id or "System Route"}
