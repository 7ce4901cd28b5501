"""Load and validate an emulator topology (DESIGN.md format) into typed, indexed records.

A topology is ARM resources exactly as ARM GET returns them plus an ``emulation`` section.
Validation refuses what Azure itself would refuse (dangling ids, bad CIDRs, overlapping subnets,
bad port ranges or priorities), and every error names the resource and the field, because the
person reading it wrote that JSON by hand or dumped it from a subscription.

The loaded :class:`Topology` is immutable: a write (PUT/DELETE of a rule or route) builds a new
one, so a check that already started keeps the network it started with.
"""

from __future__ import annotations

import copy
import ipaddress
import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DEFAULT_TOPOLOGY_PATH = Path(__file__).with_name("contoso.json")

JSON = dict[str, Any]
Prefix = ipaddress.IPv4Network | str  # a network, or one of SERVICE_TAGS / "*"

# Lower-cased ARM types; ARM ids and types are case-insensitive.
T_VM = "microsoft.compute/virtualmachines"
T_EXT = "microsoft.compute/virtualmachines/extensions"
T_VNET = "microsoft.network/virtualnetworks"
T_NIC = "microsoft.network/networkinterfaces"
T_NSG = "microsoft.network/networksecuritygroups"
T_RT = "microsoft.network/routetables"
T_PIP = "microsoft.network/publicipaddresses"
T_NW = "microsoft.network/networkwatchers"

AGENT_PUBLISHER = "microsoft.azure.networkwatcher"
AGENT_TYPES = frozenset({"networkwatcheragentwindows", "networkwatcheragentlinux"})

SERVICE_TAGS = {"virtualnetwork": "VirtualNetwork", "internet": "Internet",
                "azureloadbalancer": "AzureLoadBalancer"}
RULE_PROTOCOLS = {"tcp": "Tcp", "udp": "Udp", "icmp": "Icmp", "esp": "Esp", "ah": "Ah",
                  "*": "*", "any": "*", "all": "*"}
ROUTE_HOP_TYPES = {"virtualappliance": "VirtualAppliance", "vnetlocal": "VnetLocal",
                   "internet": "Internet", "none": "None",
                   "virtualnetworkgateway": "VirtualNetworkGateway"}
DEFAULT_LATENCY = (0, 1, 7)  # min, avg, max ms: the figures of the documented reachable checks
DEFAULT_PROBES = 100


class TopologyError(ValueError):
    """A topology or a PUT body Azure would refuse; the message names the resource and field."""

    def __init__(self, resource_id: str, problem: str, *, field: str | None = None,
                 code: str = "InvalidTopology") -> None:
        self.resource_id = resource_id
        self.problem = problem
        self.field = field
        self.code = code
        where = f" (field '{field}')" if field else ""
        super().__init__(f"{resource_id}{where}: {problem}")


# ---------------------------------------------------------------------------------------------
# Parsed records
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class PortRange:
    """An inclusive port range; '*' is 0-65535."""

    low: int
    high: int

    def __contains__(self, port: object) -> bool:
        return isinstance(port, int) and self.low <= port <= self.high


@dataclass(frozen=True)
class SecurityRule:
    """One NSG rule, user-defined or one of Azure's implied default rules."""

    name: str
    priority: int
    direction: str  # Inbound | Outbound
    access: str  # Allow | Deny
    protocol: str  # Tcp | Udp | Icmp | Esp | Ah | *
    source_prefixes: tuple[Prefix, ...]
    source_ports: tuple[PortRange, ...]
    destination_prefixes: tuple[Prefix, ...]
    destination_ports: tuple[PortRange, ...]
    default: bool = False

    @property
    def reported_name(self) -> str:
        """The name as connectivityCheck reports it (seed scenario 1: UserRule_Port80)."""
        return ("DefaultRule_" if self.default else "UserRule_") + self.name


@dataclass(frozen=True)
class Route:
    name: str
    prefix: ipaddress.IPv4Network
    next_hop_type: str
    next_hop_ip: ipaddress.IPv4Address | None
    route_table_id: str | None  # None for a system route


@dataclass(frozen=True)
class Subnet:
    id: str
    name: str
    vnet_id: str
    prefixes: tuple[ipaddress.IPv4Network, ...]
    nsg_id: str | None
    route_table_id: str | None


@dataclass(frozen=True)
class VirtualNetwork:
    id: str
    name: str
    location: str
    spaces: tuple[ipaddress.IPv4Network, ...]
    subnet_ids: tuple[str, ...]
    peered_vnet_ids: tuple[str, ...]  # peerings declared on this side and not disconnected


@dataclass(frozen=True)
class IpConfig:
    id: str
    name: str
    address: ipaddress.IPv4Address
    subnet_id: str
    primary: bool


@dataclass(frozen=True)
class Nic:
    id: str
    name: str
    ip_configs: tuple[IpConfig, ...]  # primary first
    nsg_id: str | None
    ip_forwarding: bool
    vm_id: str | None

    @property
    def primary(self) -> IpConfig:
        return self.ip_configs[0]


@dataclass(frozen=True)
class VirtualMachine:
    id: str
    name: str
    location: str
    nic_ids: tuple[str, ...]  # primary first
    power_state: str  # e.g. "PowerState/running"
    has_agent: bool

    @property
    def running(self) -> bool:
        return self.power_state.lower() == "powerstate/running"


@dataclass(frozen=True)
class Nsg:
    id: str
    name: str
    rules: tuple[SecurityRule, ...]


@dataclass(frozen=True)
class RouteTable:
    id: str
    name: str
    routes: tuple[Route, ...]


@dataclass(frozen=True)
class Watcher:
    id: str
    name: str
    location: str


@dataclass(frozen=True)
class Latency:
    min: int
    avg: int
    max: int


@dataclass(frozen=True)
class Emulation:
    """The ``emulation`` section: what ARM cannot tell us (DNS, listeners, guest firewalls...)."""

    dns: Mapping[str, ipaddress.IPv4Address]
    listeners: Mapping[str, frozenset[int]]  # lower-cased VM id -> ports; absent = all listen
    guest_denied: Mapping[str, frozenset[int]]  # lower-cased VM id -> denied inbound ports
    probes: int
    latency: Latency
    latency_overrides: Mapping[str, Latency]  # lower-cased IP / host / VM id -> figures


# ---------------------------------------------------------------------------------------------
# Small parsing helpers (shared by the loader and by PUT validation in the server)
# ---------------------------------------------------------------------------------------------

def key(resource_id: str) -> str:
    """Index key for an ARM id: ids compare case-insensitively and without a trailing slash."""
    return resource_id.rstrip("/").lower()


def resource_group_of(resource_id: str) -> str | None:
    parts = resource_id.strip("/").split("/")
    for i, part in enumerate(parts[:-1]):
        if part.lower() == "resourcegroups":
            return parts[i + 1]
    return None


def _ref(obj: Any) -> str | None:
    """The id of an ARM sub-resource reference ``{"id": ...}``, or None."""
    if isinstance(obj, Mapping) and isinstance(obj.get("id"), str) and obj["id"]:
        return str(obj["id"])
    return None


def parse_network(text: Any, rid: str, field: str) -> ipaddress.IPv4Network:
    if not isinstance(text, str):
        raise TopologyError(rid, f"expected a CIDR string, got {text!r}", field=field,
                            code="InvalidAddressPrefixFormat")
    try:
        net = ipaddress.ip_network(text.strip(), strict=True)
    except ValueError as exc:
        raise TopologyError(rid, f"{text!r} is not a valid CIDR prefix ({exc})", field=field,
                            code="InvalidAddressPrefixFormat") from None
    if not isinstance(net, ipaddress.IPv4Network):
        raise TopologyError(rid, f"{text!r}: the emulator models IPv4 only", field=field,
                            code="InvalidAddressPrefixFormat")
    return net


def parse_address(text: Any, rid: str, field: str) -> ipaddress.IPv4Address:
    try:
        addr = ipaddress.ip_address(str(text).strip()) if isinstance(text, str) else None
    except ValueError:
        addr = None
    if not isinstance(addr, ipaddress.IPv4Address):
        raise TopologyError(rid, f"{text!r} is not an IPv4 address", field=field,
                            code="InvalidIPAddressFormat")
    return addr


def parse_port_range(value: Any, rid: str, field: str) -> PortRange:
    """'*', 'N', 'N-M' (or an int) with 0 <= N <= M <= 65535, as NSG rules accept them."""
    text = str(value).strip() if isinstance(value, (str, int)) and not isinstance(value, bool) \
        else None
    if text == "*":
        return PortRange(0, 65535)
    if text:
        low_s, sep, high_s = text.partition("-")
        if low_s.strip().isdigit() and (not sep or high_s.strip().isdigit()):
            low = int(low_s)
            high = int(high_s) if sep else low
            if 0 <= low <= high <= 65535:
                return PortRange(low, high)
    raise TopologyError(rid, f"{value!r} is not a port or range: use '*', 'N' or 'N-M' within "
                        "0-65535 with N <= M", field=field, code="SecurityRuleInvalidPortRange")


def _parse_prefix(value: Any, rid: str, field: str) -> Prefix:
    if not isinstance(value, str) or not value.strip():
        raise TopologyError(rid, f"expected an address prefix, got {value!r}", field=field,
                            code="SecurityRuleInvalidAddressPrefix")
    text = value.strip()
    if text in ("*", "Any", "any"):
        return "*"
    if text.lower() in SERVICE_TAGS:
        return SERVICE_TAGS[text.lower()]
    if "/" not in text and not text[0].isdigit():
        raise TopologyError(rid, f"service tag {text!r} is not modelled by the emulator (use "
                            "VirtualNetwork, Internet, AzureLoadBalancer, '*' or a CIDR)",
                            field=field, code="SecurityRuleInvalidAddressPrefix")
    try:
        net = ipaddress.ip_network(text, strict=False)
    except ValueError:
        raise TopologyError(rid, f"{text!r} is not a CIDR, an IP address or a service tag",
                            field=field, code="SecurityRuleInvalidAddressPrefix") from None
    if not isinstance(net, ipaddress.IPv4Network):
        raise TopologyError(rid, f"{text!r}: the emulator models IPv4 only", field=field,
                            code="SecurityRuleInvalidAddressPrefix")
    return net


def _one_or_many(props: Mapping[str, Any], single: str, plural: str, rid: str) -> list[Any]:
    """ARM rules carry either ``xPrefix`` or ``xPrefixes`` (the list wins when non-empty)."""
    many = props.get(plural)
    if many not in (None, []):
        if not isinstance(many, list):
            raise TopologyError(rid, "expected a list", field=plural)
        return list(many)
    one = props.get(single)
    if one in (None, ""):
        raise TopologyError(rid, f"one of '{single}' or '{plural}' is required", field=single,
                            code="InvalidRequestFormat")
    return [one]


def parse_security_rule(raw: Mapping[str, Any], rid: str) -> SecurityRule:
    """Validate one securityRules entry (from a topology or a PUT body) like the service does."""
    props = raw.get("properties")
    if not isinstance(props, Mapping):
        raise TopologyError(rid, "a security rule needs a 'properties' object",
                            field="properties", code="InvalidRequestFormat")
    name = str(raw.get("name") or rid.rstrip("/").split("/")[-1])
    if props.get("sourceApplicationSecurityGroups") or props.get(
            "destinationApplicationSecurityGroups"):
        raise TopologyError(rid, "application security groups are not modelled by the emulator",
                            field="sourceApplicationSecurityGroups", code="InvalidRequestFormat")
    priority = props.get("priority")
    if isinstance(priority, bool) or not isinstance(priority, int) or \
            not 100 <= priority <= 4096:
        raise TopologyError(rid, f"priority must be an integer from 100 to 4096, got "
                            f"{priority!r}", field="priority",
                            code="SecurityRuleInvalidPriority")
    direction = str(props.get("direction", "")).capitalize()
    if direction not in ("Inbound", "Outbound"):
        raise TopologyError(rid, f"direction must be Inbound or Outbound, got "
                            f"{props.get('direction')!r}", field="direction",
                            code="SecurityRuleInvalidDirection")
    access = str(props.get("access", "")).capitalize()
    if access not in ("Allow", "Deny"):
        raise TopologyError(rid, f"access must be Allow or Deny, got {props.get('access')!r}",
                            field="access", code="SecurityRuleInvalidAccess")
    protocol = RULE_PROTOCOLS.get(str(props.get("protocol", "")).lower())
    if protocol is None:
        raise TopologyError(rid, f"protocol must be one of Tcp, Udp, Icmp, Esp, Ah, '*', got "
                            f"{props.get('protocol')!r}", field="protocol",
                            code="SecurityRuleInvalidProtocol")
    ports: dict[str, tuple[PortRange, ...]] = {}
    for side in ("source", "destination"):
        single, plural = f"{side}PortRange", f"{side}PortRanges"
        values = _one_or_many(props, single, plural, rid)
        field = plural if props.get(plural) else single
        ports[side] = tuple(parse_port_range(v, rid, field) for v in values)
    prefixes: dict[str, tuple[Prefix, ...]] = {}
    for side in ("source", "destination"):
        single, plural = f"{side}AddressPrefix", f"{side}AddressPrefixes"
        values = _one_or_many(props, single, plural, rid)
        field = plural if props.get(plural) else single
        prefixes[side] = tuple(_parse_prefix(v, rid, field) for v in values)
    return SecurityRule(name=name, priority=priority, direction=direction, access=access,
                        protocol=protocol, source_prefixes=prefixes["source"],
                        source_ports=ports["source"],
                        destination_prefixes=prefixes["destination"],
                        destination_ports=ports["destination"])


def parse_route(raw: Mapping[str, Any], rid: str, route_table_id: str) -> Route:
    """Validate one routes entry (from a topology or a PUT body)."""
    props = raw.get("properties")
    if not isinstance(props, Mapping):
        raise TopologyError(rid, "a route needs a 'properties' object", field="properties",
                            code="InvalidRequestFormat")
    name = str(raw.get("name") or rid.rstrip("/").split("/")[-1])
    prefix = parse_network(props.get("addressPrefix"), rid, "addressPrefix")
    hop_type = ROUTE_HOP_TYPES.get(str(props.get("nextHopType", "")).lower())
    if hop_type is None:
        raise TopologyError(rid, f"nextHopType must be one of {sorted(ROUTE_HOP_TYPES.values())}"
                            f", got {props.get('nextHopType')!r}", field="nextHopType",
                            code="InvalidRouteNextHopType")
    ip_text = props.get("nextHopIpAddress")
    next_ip = None
    if hop_type == "VirtualAppliance":
        next_ip = parse_address(ip_text, rid, "nextHopIpAddress")
    elif ip_text not in (None, ""):
        raise TopologyError(rid, f"nextHopIpAddress is only allowed with VirtualAppliance, not "
                            f"{hop_type}", field="nextHopIpAddress",
                            code="InvalidRouteNextHopIpAddress")
    return Route(name=name, prefix=prefix, next_hop_type=hop_type, next_hop_ip=next_ip,
                 route_table_id=route_table_id)


# ---------------------------------------------------------------------------------------------
# The topology
# ---------------------------------------------------------------------------------------------

class Topology:
    """A validated topology: the raw ARM documents (served by GET) plus parsed indexes."""

    def __init__(self, document: Mapping[str, Any]) -> None:
        doc = copy.deepcopy(dict(document))
        sub = doc.get("subscriptionId")
        if not isinstance(sub, str) or not sub:
            raise TopologyError("topology", "'subscriptionId' (a string) is required",
                                field="subscriptionId")
        resources = doc.get("resources")
        if not isinstance(resources, list):
            raise TopologyError("topology", "'resources' must be a list", field="resources")
        self.document: JSON = doc
        self.subscription_id: str = sub
        self.raw: dict[str, JSON] = {}  # every addressable resource incl. children, by key()
        self.vms: dict[str, VirtualMachine] = {}
        self.nics: dict[str, Nic] = {}
        self.vnets: dict[str, VirtualNetwork] = {}
        self.subnets: dict[str, Subnet] = {}
        self.nsgs: dict[str, Nsg] = {}
        self.route_tables: dict[str, RouteTable] = {}
        self.watchers: dict[str, Watcher] = {}
        self.public_ips: dict[str, JSON] = {}
        self.extensions: dict[str, list[JSON]] = {}  # VM key -> extension resources
        self.ip_index: dict[tuple[str, ipaddress.IPv4Address], tuple[Nic, IpConfig]] = {}
        self._index(resources)
        self._parse()
        self.emulation = self._parse_emulation(doc.get("emulation") or {})

    # -- indexing ----------------------------------------------------------------------------
    def _index(self, resources: list[Any]) -> None:
        prefix = f"/subscriptions/{self.subscription_id}/resourcegroups/".lower()
        for i, res in enumerate(resources):
            if not isinstance(res, dict):
                raise TopologyError(f"resources[{i}]", "each resource must be a JSON object")
            for field in ("id", "type", "name"):
                if not isinstance(res.get(field), str) or not res[field]:
                    raise TopologyError(str(res.get("id") or f"resources[{i}]"),
                                        f"'{field}' (a string) is required", field=field)
            rid = res["id"]
            if not key(rid).startswith(prefix):
                raise TopologyError(rid, "ids must start with /subscriptions/"
                                    f"{self.subscription_id}/resourceGroups/ (the topology's "
                                    "subscription)", field="id")
            if not isinstance(res.setdefault("properties", {}), dict):
                raise TopologyError(rid, "'properties' must be an object", field="properties")
            self._add(res)
            rtype = res["type"].lower()
            props = res["properties"]
            if rtype == T_VNET:
                self._children(res, props, "subnets", "subnets", "virtualNetworks/subnets")
                self._children(res, props, "virtualNetworkPeerings", "virtualNetworkPeerings",
                               "virtualNetworks/virtualNetworkPeerings")
            elif rtype == T_NSG:
                self._children(res, props, "securityRules", "securityRules",
                               "networkSecurityGroups/securityRules")
                props.pop("defaultSecurityRules", None)  # implied; we add them on GET
            elif rtype == T_RT:
                self._children(res, props, "routes", "routes", "routeTables/routes")
            elif rtype == T_NIC:
                self._children(res, props, "ipConfigurations", "ipConfigurations",
                               "networkInterfaces/ipConfigurations")
            elif rtype == T_VM:
                # ARM GET of a VM lists its extensions under a top-level "resources" array.
                for ext in res.get("resources") or []:
                    if isinstance(ext, dict) and isinstance(ext.get("id"), str):
                        ext.setdefault("type", "Microsoft.Compute/virtualMachines/extensions")
                        ext.setdefault("name", ext["id"].rstrip("/").split("/")[-1])
                        self._add_extension(ext)
            elif rtype == T_EXT:
                self._add_extension(res)

    def _add(self, res: JSON) -> None:
        k = key(res["id"])
        if k in self.raw:
            raise TopologyError(res["id"], "duplicate resource id", field="id")
        self.raw[k] = res

    def _add_extension(self, ext: JSON) -> None:
        parent = ext["id"].rstrip("/").rsplit("/extensions/", 1)[0]
        ext.setdefault("properties", {})
        if key(ext["id"]) not in self.raw:
            self.raw[key(ext["id"])] = ext
        self.extensions.setdefault(key(parent), []).append(ext)

    def _children(self, parent: JSON, props: JSON, field: str, segment: str,
                  type_suffix: str) -> None:
        """Give inline children (subnets, rules...) their ARM ids so GET can address them."""
        items = props.get(field)
        if items is None:
            props[field] = items = []
        if not isinstance(items, list):
            raise TopologyError(parent["id"], f"'{field}' must be a list", field=field)
        ns = parent["type"].split("/")[0]
        for i, child in enumerate(items):
            if not isinstance(child, dict) or not isinstance(child.get("name"), str):
                raise TopologyError(parent["id"], f"{field}[{i}] needs a 'name'", field=field)
            child.setdefault("id", f"{parent['id']}/{segment}/{child['name']}")
            child.setdefault("type", f"{ns}/{type_suffix}")
            child.setdefault("properties", {})
            self._add(child)

    def _lookup(self, ref: str | None, rtype: str, owner: str, field: str) -> str | None:
        """Resolve a reference, refusing dangling ids (the commonest hand-written mistake)."""
        if ref is None:
            return None
        res = self.raw.get(key(ref))
        if res is None or str(res.get("type", "")).lower() != rtype:
            raise TopologyError(owner, f"refers to {ref!r}, which is not a {rtype} in the "
                                "topology", field=field, code="InvalidResourceReference")
        return str(res["id"])

    # -- parsing -----------------------------------------------------------------------------
    def _of_type(self, rtype: str) -> list[JSON]:
        return [r for r in self.raw.values() if str(r.get("type", "")).lower() == rtype]

    def _parse(self) -> None:
        for res in self._of_type(T_NSG):
            self._parse_nsg(res)
        for res in self._of_type(T_RT):
            rid = res["id"]
            routes = []
            seen: set[str] = set()
            for child in res["properties"]["routes"]:
                route = parse_route(child, child["id"], rid)
                if route.name.lower() in seen:
                    raise TopologyError(child["id"], "duplicate route name", field="name")
                if str(route.prefix) in seen:
                    raise TopologyError(child["id"], f"another route in this table already has "
                                        f"addressPrefix {route.prefix}", field="addressPrefix",
                                        code="RouteConflict")
                seen.update((route.name.lower(), str(route.prefix)))
                routes.append(route)
            self.route_tables[key(rid)] = RouteTable(rid, res["name"], tuple(routes))
        for res in self._of_type(T_PIP):
            self.public_ips[key(res["id"])] = res
        for res in self._of_type(T_VNET):
            self._parse_vnet(res)
        self._check_peerings()
        for res in self._of_type(T_NIC):
            self._parse_nic(res)
        for res in self._of_type(T_VM):
            self._parse_vm(res)
        for res in self._of_type(T_NW):
            loc = res.get("location")
            if not isinstance(loc, str) or not loc:
                raise TopologyError(res["id"], "a network watcher needs a 'location'",
                                    field="location")
            self.watchers[key(res["id"])] = Watcher(res["id"], res["name"], loc)
        for vm_key in self.extensions:
            if vm_key not in self.vms:
                raise TopologyError(self.extensions[vm_key][0]["id"], "extension of a virtual "
                                    "machine that is not in the topology", field="id",
                                    code="InvalidResourceReference")

    def _parse_nsg(self, res: JSON) -> None:
        rules: list[SecurityRule] = []
        for child in res["properties"]["securityRules"]:
            rule = parse_security_rule(child, child["id"])
            for other in rules:
                if other.name.lower() == rule.name.lower():
                    raise TopologyError(child["id"], "duplicate rule name", field="name")
                if other.direction == rule.direction and other.priority == rule.priority:
                    raise TopologyError(child["id"], f"priority {rule.priority} is already used "
                                        f"by {other.direction.lower()} rule '{other.name}'; "
                                        "priorities must be unique per direction",
                                        field="priority", code="SecurityRuleInvalidPriority")
            rules.append(rule)
        self.nsgs[key(res["id"])] = Nsg(res["id"], res["name"], tuple(rules))

    def _parse_vnet(self, res: JSON) -> None:
        rid, props = res["id"], res["properties"]
        space_list = (props.get("addressSpace") or {}).get("addressPrefixes")
        if not isinstance(space_list, list) or not space_list:
            raise TopologyError(rid, "addressSpace.addressPrefixes must be a non-empty list",
                                field="addressSpace.addressPrefixes")
        spaces = tuple(parse_network(p, rid, "addressSpace.addressPrefixes")
                       for p in space_list)
        subnet_ids = []
        taken: list[tuple[ipaddress.IPv4Network, str]] = []
        for child in props["subnets"]:
            sid, sprops = child["id"], child["properties"]
            raw_prefixes = sprops.get("addressPrefixes") or [sprops.get("addressPrefix")]
            field = "addressPrefixes" if sprops.get("addressPrefixes") else "addressPrefix"
            prefixes = tuple(parse_network(p, sid, field) for p in raw_prefixes)
            for net in prefixes:
                if not any(net.subnet_of(space) for space in spaces):
                    raise TopologyError(sid, f"{net} is outside the virtual network's address "
                                        f"space {', '.join(map(str, spaces))}", field=field,
                                        code="NetcfgSubnetRangeOutsideVnet")
                for other, other_id in taken:
                    if net.overlaps(other):
                        raise TopologyError(sid, f"{net} overlaps {other} of subnet "
                                            f"{other_id}", field=field,
                                            code="NetcfgInvalidSubnet")
                taken.append((net, sid))
            nsg = self._lookup(_ref(sprops.get("networkSecurityGroup")), T_NSG, sid,
                               "networkSecurityGroup.id")
            rt = self._lookup(_ref(sprops.get("routeTable")), T_RT, sid, "routeTable.id")
            self.subnets[key(sid)] = Subnet(sid, child["name"], rid, prefixes, nsg, rt)
            subnet_ids.append(sid)
        self.vnets[key(rid)] = VirtualNetwork(rid, res["name"], str(res.get("location", "")),
                                              spaces, tuple(subnet_ids), ())

    def _check_peerings(self) -> None:
        for vkey, vnet in list(self.vnets.items()):
            peers = []
            for child in self.raw[vkey]["properties"]["virtualNetworkPeerings"]:
                cprops = child["properties"]
                remote = self._lookup(_ref(cprops.get("remoteVirtualNetwork")), T_VNET,
                                      child["id"], "remoteVirtualNetwork.id")
                if remote is None:
                    raise TopologyError(child["id"], "remoteVirtualNetwork.id is required",
                                        field="remoteVirtualNetwork.id")
                state = str(cprops.get("peeringState", "Connected"))
                if state.lower() != "connected":
                    continue  # Initiated/Disconnected peerings carry no traffic
                for mine in vnet.spaces:
                    for theirs in self.vnets[key(remote)].spaces:
                        if mine.overlaps(theirs):
                            raise TopologyError(child["id"], f"peered address spaces overlap "
                                                f"({mine} and {theirs})",
                                                field="remoteVirtualNetwork.id",
                                                code="VnetAddressSpacesOverlap")
                peers.append(remote)
            self.vnets[vkey] = VirtualNetwork(vnet.id, vnet.name, vnet.location, vnet.spaces,
                                              vnet.subnet_ids, tuple(peers))

    def _parse_nic(self, res: JSON) -> None:
        rid, props = res["id"], res["properties"]
        if not props["ipConfigurations"]:
            raise TopologyError(rid, "a network interface needs at least one ipConfiguration",
                                field="ipConfigurations")
        configs = []
        for child in props["ipConfigurations"]:
            cid, cprops = child["id"], child["properties"]
            addr = parse_address(cprops.get("privateIPAddress"), cid, "privateIPAddress")
            subnet_id = _ref(cprops.get("subnet"))
            subnet = self.subnets.get(key(subnet_id)) if subnet_id else None
            if subnet is None:
                raise TopologyError(cid, f"subnet.id {subnet_id!r} is not a subnet in the "
                                    "topology", field="subnet.id",
                                    code="InvalidResourceReference")
            if not any(addr in net for net in subnet.prefixes):
                raise TopologyError(cid, f"{addr} is outside subnet {subnet.id} "
                                    f"({', '.join(map(str, subnet.prefixes))})",
                                    field="privateIPAddress",
                                    code="PrivateIPAddressNotInSubnet")
            self._lookup(_ref(cprops.get("publicIPAddress")), T_PIP, cid,
                         "publicIPAddress.id")
            configs.append(IpConfig(cid, child["name"], addr, subnet.id,
                                    bool(cprops.get("primary", False))))
        if not any(c.primary for c in configs):
            configs[0] = IpConfig(configs[0].id, configs[0].name, configs[0].address,
                                  configs[0].subnet_id, True)
        configs.sort(key=lambda c: not c.primary)
        nsg = self._lookup(_ref(props.get("networkSecurityGroup")), T_NSG, rid,
                           "networkSecurityGroup.id")
        vm = self._lookup(_ref(props.get("virtualMachine")), T_VM, rid, "virtualMachine.id")
        nic = Nic(rid, res["name"], tuple(configs), nsg,
                  bool(props.get("enableIPForwarding", False)), vm)
        self.nics[key(rid)] = nic
        for cfg in configs:
            vnet_key = key(self.subnets[key(cfg.subnet_id)].vnet_id)
            if (vnet_key, cfg.address) in self.ip_index:
                other = self.ip_index[(vnet_key, cfg.address)][1]
                raise TopologyError(cfg.id, f"{cfg.address} is already used by {other.id}",
                                    field="privateIPAddress", code="PrivateIPAddressInUse")
            self.ip_index[(vnet_key, cfg.address)] = (nic, cfg)

    def _parse_vm(self, res: JSON) -> None:
        rid, props = res["id"], res["properties"]
        refs = ((props.get("networkProfile") or {}).get("networkInterfaces")) or []
        if not isinstance(refs, list):
            raise TopologyError(rid, "networkProfile.networkInterfaces must be a list",
                                field="networkProfile.networkInterfaces")
        ordered: list[tuple[bool, str]] = []
        for ref in refs:
            nic_id = self._lookup(_ref(ref), T_NIC, rid, "networkProfile.networkInterfaces")
            if nic_id is None:
                raise TopologyError(rid, "each networkInterfaces entry needs an 'id'",
                                    field="networkProfile.networkInterfaces")
            primary = bool((ref.get("properties") or {}).get("primary", len(refs) == 1))
            ordered.append((not primary, nic_id))
            nic = self.nics[key(nic_id)]
            if nic.vm_id is None:  # the VM side is enough to attach a NIC
                self.nics[key(nic_id)] = Nic(nic.id, nic.name, nic.ip_configs, nic.nsg_id,
                                             nic.ip_forwarding, rid)
                for cfg in nic.ip_configs:
                    vnet_key = key(self.subnets[key(cfg.subnet_id)].vnet_id)
                    self.ip_index[(vnet_key, cfg.address)] = (self.nics[key(nic_id)], cfg)
            elif key(nic.vm_id) != key(rid):
                raise TopologyError(rid, f"network interface {nic_id} belongs to {nic.vm_id}",
                                    field="networkProfile.networkInterfaces")
        ordered.sort(key=lambda item: item[0])  # stable: primary first, then listed order
        statuses = (props.get("instanceView") or {}).get("statuses") or []
        power = "PowerState/running"  # DESIGN.md: running when absent
        for status in statuses:
            code = str(status.get("code", "")) if isinstance(status, Mapping) else ""
            if code.lower().startswith("powerstate/"):
                power = code
        agent = any(
            str(ext["properties"].get("publisher", "")).lower() == AGENT_PUBLISHER
            and str(ext["properties"].get("type", "")).lower() in AGENT_TYPES
            and str(ext["properties"].get("provisioningState", "Succeeded")).lower()
            == "succeeded"
            for ext in self.extensions.get(key(rid), []))
        loc = res.get("location")
        if not isinstance(loc, str) or not loc:
            raise TopologyError(rid, "a virtual machine needs a 'location'", field="location")
        self.vms[key(rid)] = VirtualMachine(rid, res["name"], loc,
                                            tuple(n for _, n in ordered), power, agent)

    def _parse_emulation(self, em: Any) -> Emulation:
        where = "emulation"
        if not isinstance(em, Mapping):
            raise TopologyError(where, "'emulation' must be an object")
        dns = {}
        for host, addr in (em.get("dns") or {}).items():
            dns[str(host).lower().rstrip(".")] = parse_address(addr, where, f"dns.{host}")

        def vm_ports(section: str, ports_of: Any) -> dict[str, frozenset[int]]:
            out = {}
            for vm_id, value in (em.get(section) or {}).items():
                if key(vm_id) not in self.vms:
                    raise TopologyError(where, f"{vm_id!r} is not a virtual machine in the "
                                        "topology", field=section,
                                        code="InvalidResourceReference")
                ports = ports_of(value)
                if not isinstance(ports, list) or not all(
                        isinstance(p, int) and not isinstance(p, bool) and 0 < p <= 65535
                        for p in ports):
                    raise TopologyError(where, f"ports for {vm_id} must be a list of integers "
                                        "1-65535", field=section)
                out[key(vm_id)] = frozenset(ports)
            return out

        listeners = vm_ports("listeners", lambda v: v)
        guest = vm_ports("guestFirewall", lambda v: v.get("deniedInboundPorts", [])
                         if isinstance(v, Mapping) else None)
        probes = em.get("probes", DEFAULT_PROBES)
        if isinstance(probes, bool) or not isinstance(probes, int) or not 1 <= probes <= 100:
            raise TopologyError(where, f"probes must be an integer 1-100, got {probes!r}",
                                field="probes")
        lat = em.get("latency") or {}
        if not isinstance(lat, Mapping):
            raise TopologyError(where, "latency must be an object", field="latency")
        default = _parse_latency(lat.get("default"), "latency.default") \
            if lat.get("default") is not None else Latency(*DEFAULT_LATENCY)
        overrides = {str(k).lower().rstrip("."): _parse_latency(v, f"latency.destinations.{k}")
                     for k, v in (lat.get("destinations") or {}).items()}
        return Emulation(dns, listeners, guest, probes, default, overrides)

    # -- queries used by the engine and the server --------------------------------------------
    def nic_at(self, vnet_id: str, address: ipaddress.IPv4Address) -> tuple[Nic, IpConfig] | None:
        return self.ip_index.get((key(vnet_id), address))

    def subnet_of(self, cfg: IpConfig) -> Subnet:
        return self.subnets[key(cfg.subnet_id)]

    def vnet_of(self, cfg: IpConfig) -> VirtualNetwork:
        return self.vnets[key(self.subnet_of(cfg).vnet_id)]

    def resources_of_type(self, rtype: str) -> list[JSON]:
        """Top-level resources of one ARM type, in topology order (what a list returns)."""
        wanted = rtype.lower()
        return [r for r in self.document["resources"]
                if str(r.get("type", "")).lower() == wanted]

    def with_child(self, parent_id: str, field: str, child: JSON) -> tuple[Topology, bool]:
        """A new topology with ``child`` put into the parent's ``field`` list (upsert by name).

        Returns (topology, created). Raises TopologyError if the result is invalid, so a PUT
        can never leave the emulator with a network Azure would refuse.
        """
        doc = copy.deepcopy(self.document)
        parent = next(r for r in doc["resources"] if key(r["id"]) == key(parent_id))
        items = parent["properties"].setdefault(field, [])
        for i, existing in enumerate(items):
            if str(existing.get("name", "")).lower() == str(child["name"]).lower():
                items[i] = child
                return Topology(doc), False
        items.append(child)
        return Topology(doc), True

    def without_child(self, parent_id: str, field: str, name: str) -> tuple[Topology, bool]:
        """A new topology without the named child; (self, False) when it did not exist."""
        doc = copy.deepcopy(self.document)
        parent = next(r for r in doc["resources"] if key(r["id"]) == key(parent_id))
        items = parent["properties"].get(field) or []
        kept = [c for c in items if str(c.get("name", "")).lower() != name.lower()]
        if len(kept) == len(items):
            return self, False
        parent["properties"][field] = kept
        return Topology(doc), True


def _parse_latency(value: Any, field: str) -> Latency:
    if isinstance(value, Mapping):
        nums = [value.get(k) for k in ("min", "avg", "max")]
        if all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in nums):
            lo, avg, hi = (int(n) for n in nums)  # type: ignore[arg-type]
            if lo <= avg <= hi:
                return Latency(lo, avg, hi)
    raise TopologyError("emulation", f"latency must be {{'min','avg','max'}} integers with "
                        f"0 <= min <= avg <= max, got {value!r}", field=field)


def load_topology(source: str | os.PathLike[str] | Mapping[str, Any] | Topology | None = None,
                  ) -> Topology:
    """Load a topology from a path, a dict, or None (the bundled Contoso topology)."""
    if isinstance(source, Topology):
        return Topology(source.document)
    if source is None:
        source = DEFAULT_TOPOLOGY_PATH
    if isinstance(source, Mapping):
        return Topology(source)
    path = Path(source)
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise TopologyError(str(path), f"cannot read the topology file ({exc.strerror})") \
            from None
    except json.JSONDecodeError as exc:
        raise TopologyError(str(path), f"not valid JSON: {exc}") from None
    if not isinstance(document, dict):
        raise TopologyError(str(path), "a topology file must hold a JSON object")
    return Topology(document)


def iter_nics_of_vnet(topo: Topology, vnet_id: str) -> Iterable[tuple[Nic, IpConfig]]:
    """Every (NIC, ipConfiguration) attached to a VNet."""
    vk = key(vnet_id)
    return (v for (k, _), v in topo.ip_index.items() if k == vk)
