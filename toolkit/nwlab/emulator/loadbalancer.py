"""Load balancers (twin-semantics §10): frontends, backend pools, load-balancing rules (HA ports
included), inbound NAT rules and health probes from 168.63.129.16.

Parsed once when the topology loads (dangling references are refused there, naming the LB and
the field); the engine asks two questions: which frontend holds an address, and which backend
takes a flow. Health is runtime state Azure does not expose, so the twin assumes a member is
healthy iff its probe port listens (emulation ``listeners``) and its admin rules and NSGs let
168.63.129.16 in on that port (§10.4).

Dual stack (twin-semantics §13): an internal frontend with privateIPAddressVersion IPv6 holds an
address of its subnet's IPv6 prefix; its rules deliver to the IPv6 ip configurations of their
pools (a packet keeps its family), and an IPv6 member's probe comes from the platform's IPv6
probe source (nsg.AZURE_LOAD_BALANCER6, assumed: ASSUME_LB_IPV6_PROBE_SOURCE), which the
AzureLoadBalancer tag admits.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from . import nsg
from .assumptions import Assumption
from .topology import (
    IPAddress,
    IpConfig,
    Nic,
    Subnet,
    Topology,
    TopologyError,
    key,
    register_part,
)

T_LB = "microsoft.network/loadbalancers"
LB_PROTOCOLS = {"tcp": "Tcp", "udp": "Udp", "all": "All"}


@dataclass(frozen=True)
class Frontend:
    id: str
    lb_id: str
    private: IPAddress | None  # internal frontend, of either family
    vnet_key: str | None  # the VNet of an internal frontend's subnet
    public_ip_id: str | None  # public frontend


@dataclass(frozen=True)
class Probe:
    id: str
    protocol: str  # Tcp | Http | Https
    port: int


@dataclass(frozen=True)
class Rule:
    """A load-balancing rule or an inbound NAT rule (``nat``: one backend, named per NIC)."""

    id: str
    name: str
    frontend_id: str
    protocol: str  # Tcp | Udp | All
    frontend_port: int  # 0 with protocol All: HA ports
    backend_port: int
    pool_ids: tuple[str, ...]  # lower-cased
    probe_id: str | None
    nat: bool = False
    disable_outbound_snat: bool = False

    @property
    def ha_ports(self) -> bool:
        return self.protocol == "All" and self.frontend_port == 0 and self.backend_port == 0

    def matches(self, protocol: str, port: int | None) -> bool:
        """LB rules carry TCP and UDP only, never ICMP (doc load-balancer/components)."""
        if protocol not in ("Tcp", "Udp"):
            return False
        if self.protocol not in ("All", protocol):
            return False
        return self.ha_ports or port == self.frontend_port


@dataclass(frozen=True)
class LoadBalancer:
    id: str
    name: str
    sku: str
    frontends: tuple[Frontend, ...]
    rules: tuple[Rule, ...]  # NAT rules first: assumed to win a shared frontend port (§10.4)
    probes: Mapping[str, Probe]  # probe key -> probe
    outbound_pools: frozenset[str]  # pool keys named by outboundRules


@dataclass
class Index:
    lbs: dict[str, LoadBalancer]
    by_private: dict[tuple[str, IPAddress], Frontend]  # (VNet key, address)
    by_public: dict[ipaddress.IPv4Address, Frontend]
    frontends: dict[str, Frontend]
    members: dict[str, list[str]]  # pool or NAT rule key -> ip configuration keys, in order
    pools_of: dict[str, set[str]]  # ip configuration key -> pool keys
    lb_of_pool: dict[str, str]  # pool key -> LB key


def _int(value: Any, rid: str, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 65535:
        raise TopologyError(rid, f"{field} must be an integer 0-65535, got {value!r}",
                            field=field)
    return value


def _ref(obj: Any) -> str | None:
    if isinstance(obj, Mapping) and isinstance(obj.get("id"), str) and obj["id"]:
        return str(obj["id"])
    return None


def _children(res: Mapping[str, Any], field: str) -> list[Mapping[str, Any]]:
    items = (res.get("properties") or {}).get(field) or []
    if not isinstance(items, list) or not all(isinstance(i, Mapping) and i.get("name")
                                              for i in items):
        raise TopologyError(str(res["id"]), f"'{field}' must be a list of named objects",
                            field=field)
    return list(items)


def _child_id(lb_id: str, segment: str, child: Mapping[str, Any]) -> str:
    return str(child.get("id") or f"{lb_id}/{segment}/{child['name']}")


def _parse(topo: Topology, res: Mapping[str, Any], index: Index) -> None:
    lb_id = str(res["id"])
    own = key(lb_id) + "/"

    def inside(ref: str | None, segment: str, rid: str, field: str) -> str:
        if ref is None or not key(ref).startswith(own + segment.lower() + "/"):
            raise TopologyError(rid, f"must name one of this load balancer's {segment} "
                                f"(got {ref!r})", field=field, code="InvalidResourceReference")
        return key(ref)

    sku = str((res.get("sku") or {}).get("name") or "Standard")
    frontends = []
    for child in _children(res, "frontendIPConfigurations"):
        fid, props = _child_id(lb_id, "frontendIPConfigurations", child), child.get(
            "properties") or {}
        subnet_id = _ref(props.get("subnet"))
        pip_id = _ref(props.get("publicIPAddress"))
        private = vnet_key = None
        if subnet_id is not None:
            subnet = topo.subnets.get(key(subnet_id))
            if subnet is None:
                raise TopologyError(fid, f"subnet {subnet_id!r} is not in the topology",
                                    field="subnet.id", code="InvalidResourceReference")
            text = str(props.get("privateIPAddress") or "")
            try:
                address = ipaddress.ip_address(text)
            except ValueError:
                raise TopologyError(fid, f"privateIPAddress {text!r} is not an IP address",
                                    field="privateIPAddress") from None
            _check_frontend_family(fid, props, address, subnet)
            private, vnet_key = address, key(subnet.vnet_id)
        elif pip_id is not None:
            if key(pip_id) not in topo.public_ips:
                raise TopologyError(fid, f"public IP {pip_id!r} is not in the topology",
                                    field="publicIPAddress.id", code="InvalidResourceReference")
        else:
            raise TopologyError(fid, "a frontend needs subnet.id (internal) or "
                                "publicIPAddress.id (public)", field="subnet.id")
        fe = Frontend(fid, lb_id, private, vnet_key, pip_id)
        frontends.append(fe)
        index.frontends[key(fid)] = fe
        if private is not None and vnet_key is not None:
            index.by_private[(vnet_key, private)] = fe
        if pip_id is not None:
            shown = (topo.public_ips[key(pip_id)].get("properties") or {}).get("ipAddress")
            try:
                public = ipaddress.ip_address(str(shown)) if shown else None
            except ValueError:
                public = None
            if isinstance(public, ipaddress.IPv4Address):
                index.by_public[public] = fe
    for child in _children(res, "backendAddressPools"):
        pid = key(_child_id(lb_id, "backendAddressPools", child))
        index.lb_of_pool[pid] = key(lb_id)
        members = index.members.setdefault(pid, [])
        props = child.get("properties") or {}
        for ref in props.get("backendIPConfigurations") or []:
            cfg = _ref(ref)
            if cfg is not None and key(cfg) not in members:
                members.append(key(cfg))
        if props.get("loadBalancerBackendAddresses"):
            topo.note(Assumption("ASSUME_LB_IP_POOL_BY_NIC", pid, "members of an IP-based "
                                 "pool are matched to the NIC holding each ipAddress",
                                 field="loadBalancerBackendAddresses"))
            for entry in props["loadBalancerBackendAddresses"]:
                member = (entry.get("properties") or {}).get("ipAddress") \
                    if isinstance(entry, Mapping) else None
                try:
                    addr = ipaddress.ip_address(str(member))
                except ValueError:
                    continue
                for _, cfg_obj in topo.nics_at(addr).values():  # either family
                    if key(cfg_obj.id) not in members:
                        members.append(key(cfg_obj.id))
    probes = {}
    for child in _children(res, "probes"):
        pid = _child_id(lb_id, "probes", child)
        props = child.get("properties") or {}
        probes[key(pid)] = Probe(pid, str(props.get("protocol") or "Tcp"),
                                 _int(props.get("port"), pid, "port"))
    rules = []
    for segment, nat in (("inboundNatRules", True), ("loadBalancingRules", False)):
        for child in _children(res, segment):
            rid = _child_id(lb_id, segment, child)
            props = child.get("properties") or {}
            fe_key = inside(_ref(props.get("frontendIPConfiguration")),
                            "frontendIPConfigurations", rid, "frontendIPConfiguration.id")
            protocol = LB_PROTOCOLS.get(str(props.get("protocol") or "").lower())
            if protocol is None:
                raise TopologyError(rid, f"protocol must be Tcp, Udp or All, got "
                                    f"{props.get('protocol')!r}", field="protocol")
            pools: tuple[str, ...] = ()
            if not nat:
                refs = [_ref(props.get("backendAddressPool"))] + [
                    _ref(p) for p in props.get("backendAddressPools") or []]
                pools = tuple(dict.fromkeys(
                    inside(r, "backendAddressPools", rid, "backendAddressPool.id")
                    for r in refs if r is not None))
            probe = _ref(props.get("probe"))
            rules.append(Rule(rid, str(child["name"]), fe_key, protocol,
                              _int(props.get("frontendPort", 0), rid, "frontendPort"),
                              _int(props.get("backendPort", 0), rid, "backendPort"), pools,
                              inside(probe, "probes", rid, "probe.id") if probe else None,
                              nat, props.get("disableOutboundSnat") is True))
            if nat:
                index.members.setdefault(key(rid), [])
    outbound = set()
    for child in _children(res, "outboundRules"):
        props = child.get("properties") or {}
        oid = _child_id(lb_id, "outboundRules", child)
        outbound.add(inside(_ref(props.get("backendAddressPool")), "backendAddressPools", oid,
                            "backendAddressPool.id"))
    index.lbs[key(lb_id)] = LoadBalancer(lb_id, str(res["name"]), sku, tuple(frontends),
                                         tuple(rules), probes, frozenset(outbound))


def _check_frontend_family(fid: str, props: Mapping[str, Any], address: IPAddress,
                           subnet: Subnet) -> None:
    """An internal frontend's address is of its privateIPAddressVersion (default IPv4) and in
    its subnet's prefix of that family, as Azure allocates it."""
    version = str(props.get("privateIPAddressVersion") or "IPv4")
    if version.lower() not in ("ipv4", "ipv6"):
        raise TopologyError(fid, f"privateIPAddressVersion must be IPv4 or IPv6, got "
                            f"{version!r}", field="privateIPAddressVersion")
    if f"ipv{address.version}" != version.lower():
        raise TopologyError(fid, f"privateIPAddress {address} is IPv{address.version} but "
                            f"privateIPAddressVersion is {version}; give an address of that "
                            "family", field="privateIPAddress")
    prefixes = subnet.prefixes6 if address.version == 6 else subnet.prefixes
    if not any(address in p for p in prefixes):
        raise TopologyError(fid, f"privateIPAddress {address} is outside the IPv"
                            f"{address.version} prefixes of subnet {subnet.id}",
                            field="privateIPAddress")


# Where an ipConfiguration names its pools and NAT rules.
_MEMBER_FIELDS = ("loadBalancerBackendAddressPools", "loadBalancerInboundNatRules")


def build(topo: Topology) -> Index:
    """Parse every load balancer, then join the NIC side of pool and NAT rule membership."""
    index = Index({}, {}, {}, {}, {}, {}, {})
    for res in topo.resources_of_type(T_LB):
        _parse(topo, res, index)
    for nic in topo.nics.values():
        for cfg in (*nic.ip_configs, *nic.ip6_configs):
            props = topo.raw[key(cfg.id)].get("properties") or {}
            if props.keys().isdisjoint(_MEMBER_FIELDS):
                continue  # most configurations are in no pool (one look each, at 20,000 NICs)
            for ref_field in _MEMBER_FIELDS:
                for ref in props.get(ref_field) or []:
                    target = _ref(ref)
                    if target is None or key(target) not in index.members:
                        raise TopologyError(cfg.id, f"{target!r} is not a "
                                            f"{'backend pool' if 'Pools' in ref_field else 'NAT rule'}"
                                            " of a load balancer in the topology", field=ref_field,
                                            code="InvalidResourceReference")
                    if key(cfg.id) not in index.members[key(target)]:
                        index.members[key(target)].append(key(cfg.id))
    for member_key, cfgs in index.members.items():
        for cfg_key in cfgs:
            if member_key in index.lb_of_pool:
                index.pools_of.setdefault(cfg_key, set()).add(member_key)
    return index


def index_of(topo: Topology) -> Index:
    found = topo.cache.get("lb")
    if found is None:
        found = topo.cache["lb"] = build(topo)
    assert isinstance(found, Index)
    return found


def frontend_at(topo: Topology, vnet_keys: list[str],
                address: IPAddress) -> Frontend | None:
    """The internal frontend holding ``address`` in one of these VNets (a rule cannot span
    VNets, but a peered VNet reaches an internal frontend like any private address)."""
    index = index_of(topo)
    for vk in vnet_keys:
        fe = index.by_private.get((vk, address))
        if fe is not None:
            return fe
    return None


def public_frontend(topo: Topology, address: IPAddress) -> Frontend | None:
    """The public frontend whose public IP is ``address`` (reached from the Internet)."""
    if not isinstance(address, ipaddress.IPv4Address):
        return None
    return index_of(topo).by_public.get(address)


def sku_of(topo: Topology, fe: Frontend) -> str:
    return index_of(topo).lbs[key(fe.lb_id)].sku


@dataclass
class Choice:
    """What the LB does with one flow: the rule, the backend it takes (None: dropped)."""

    rule: Rule | None
    backend: tuple[Nic, IpConfig] | None
    port: int | None  # the backend port the flow arrives on
    assumptions: list[Assumption]
    down: list[str]  # why each unhealthy member is down, for the record
    healthy: list[tuple[Nic, IpConfig]] = field(default_factory=list)


def _cfg(topo: Topology, cfg_key: str) -> tuple[Nic, IpConfig] | None:
    nic_key = cfg_key.rsplit("/ipconfigurations/", 1)[0]
    nic = topo.nics.get(nic_key)
    if nic is None:
        return None
    for cfg in (*nic.ip_configs, *nic.ip6_configs):
        if key(cfg.id) == cfg_key:
            return nic, cfg
    return None


def probe_verdict(topo: Topology, nic: Nic, cfg: IpConfig, probe: Probe | None,
                  rule: Rule) -> str | None:
    """None when the member is healthy; otherwise why not (the assumed health model)."""
    vm = topo.vms.get(key(nic.vm_id)) if nic.vm_id else None
    if vm is None or not vm.running:
        return f"{cfg.id}: its virtual machine is not running"
    if probe is None:
        return None  # no probe: Azure treats the member as up (assumed)
    source = nsg.AZURE_LOAD_BALANCER6 if cfg.address.version == 6 else nsg.AZURE_LOAD_BALANCER
    packet = nsg.Packet("Tcp", source, 49152, cfg.address, probe.port)
    verdict = nsg.evaluate(topo, nic, cfg, "Inbound", packet)
    if not verdict.allowed and verdict.rule is not None:
        return (f"{cfg.id}: the health probe from {source} to port {probe.port} is "
                f"denied by {verdict.rule.reported_name}")
    listening = topo.emulation.listeners.get(key(vm.id))
    if listening is not None and probe.port not in listening:
        return f"{cfg.id}: nothing listens on probe port {probe.port}"
    return None


def choose(topo: Topology, fe: Frontend, protocol: str, port: int | None,
           from_cfg: IpConfig | None = None) -> Choice:
    """The rule for (frontend, protocol, port), then the backend the flow takes: the first
    healthy member in pool order (the hash is unspecified: an assumption when several could
    answer)."""
    index = index_of(topo)
    lb = index.lbs[key(fe.lb_id)]
    notes: list[Assumption] = []
    rule = next((r for r in lb.rules if key(r.frontend_id) == key(fe.id)
                 and r.matches(protocol, port)), None)
    if rule is None:
        notes.append(Assumption("ASSUME_LB_NO_RULE_DROPS", fe.id, f"no load-balancing or "
                                f"inbound NAT rule of {lb.name} carries {protocol} port "
                                f"{port}: the frontend drops the flow"))
        return Choice(None, None, None, notes, [])
    member_keys = index.members.get(key(rule.id), []) if rule.nat else [
        m for pool in rule.pool_ids for m in index.members.get(pool, [])]
    probe = lb.probes.get(rule.probe_id) if rule.probe_id else None
    healthy, down = [], []
    family = fe.private.version if fe.private is not None else 4
    for member in dict.fromkeys(member_keys):
        found = _cfg(topo, member)
        if found is None:
            continue
        if found[1].address.version != family:
            continue  # a packet keeps its family: an IPv6 frontend's rule takes IPv6 members
        if from_cfg is not None and key(found[1].id) == key(from_cfg.id):
            # doc components: a backend reaching its own internal LB's frontend fails.
            down.append(f"{found[1].id}: a backend cannot reach its own load balancer")
            continue
        why = probe_verdict(topo, *found, probe, rule) if not rule.nat else None
        (down.append(why) if why else healthy.append(found))
    backend_port = rule.backend_port if not rule.ha_ports else port
    if family == 6 and probe is not None:
        notes.append(Assumption(
            "ASSUME_LB_IPV6_PROBE_SOURCE", rule.id, f"IPv6 health probes come from "
            f"{nsg.AZURE_LOAD_BALANCER6} (observed, not documented), which the "
            "AzureLoadBalancer tag admits", alternatives=("another IPv6 probe source",),
            # A member an NSG took out for its probe would be judged by the real source.
            verdict_sensitive=any("health probe from" in d for d in down)))
    if not healthy:
        notes.append(Assumption(
            "ASSUME_LB_HEALTH_FROM_PROBE", rule.id, "no backend is healthy (health assumed "
            "from the probe port's listener and NSGs): " + ("; ".join(down) or
                                                           "the pool is empty"),
            alternatives=("the probe answers at runtime",),
            # A probe an NSG denies is down by Azure's documentation; a missing listener is
            # the twin's reading of runtime state, so the verdict rests on it.
            verdict_sensitive=any("nothing listens" in d for d in down)))
        return Choice(rule, None, backend_port, notes, down)
    if len(healthy) > 1:
        notes.append(Assumption(
            "ASSUME_LB_BACKEND_FIRST_HEALTHY", rule.id, f"{len(healthy)} healthy backends "
            f"could take the flow; the twin follows the first, {healthy[0][1].id} (Azure's "
            "hash is unspecified)", alternatives=tuple(c.id for _, c in healthy[1:])))
    return Choice(rule, healthy[0], backend_port, notes, down, healthy)


def _load(topo: Topology) -> None:
    topo.cache["lb"] = build(topo)  # refuses dangling references at load, not at first use


register_part("loadbalancer", 20, _load)
