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
import functools
import ipaddress
import itertools
import json
import operator
import os
import re
import socket
from collections.abc import Callable, Iterable, Mapping
from dataclasses import MISSING, dataclass, fields
from dataclasses import field as dataclass_field
from pathlib import Path
from typing import Any, TypeVar

from . import gcpause
from .assumptions import Assumption
from .gcpause import collector_paused
from .servicetags import T_SERVICE_TAGS, ServiceTagIndex, endpoint_tag_names
from .shape import Bodies, ShapeProblem, check_shape

DEFAULT_TOPOLOGY_PATH = Path(__file__).with_name("contoso.json")

JSON = dict[str, Any]


@dataclass(frozen=True)
class ServiceTag:
    """A service tag other than the three computed ones, resolved per region when matched."""

    name: str


# A network (IPv6 ones never match: the twin checks IPv4), one of SERVICE_TAGS / "*", or a
# service tag resolved from the stored Service Tags data.
Prefix = ipaddress.IPv4Network | ipaddress.IPv6Network | str | ServiceTag
# An address of either family (dual stack, twin-semantics §13).
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# Lower-cased ARM types; ARM ids and types are case-insensitive.
T_VM = "microsoft.compute/virtualmachines"
T_EXT = "microsoft.compute/virtualmachines/extensions"
T_VNET = "microsoft.network/virtualnetworks"
T_NIC = "microsoft.network/networkinterfaces"
T_NSG = "microsoft.network/networksecuritygroups"
T_RT = "microsoft.network/routetables"
T_PIP = "microsoft.network/publicipaddresses"
T_NW = "microsoft.network/networkwatchers"
T_ASG = "microsoft.network/applicationsecuritygroups"
T_ADMIN = "microsoft.network/virtualnetworks/effectivesecurityadminrules"
# Read by firewall.py and gateways.py (the walk builds their indexes on first use).
T_FIREWALL = "microsoft.network/azurefirewalls"
T_FIREWALL_POLICY = "microsoft.network/firewallpolicies"
T_RULE_COLLECTION_GROUP = "microsoft.network/firewallpolicies/rulecollectiongroups"
T_IP_GROUP = "microsoft.network/ipgroups"
T_GATEWAY = "microsoft.network/virtualnetworkgateways"
T_LOCAL_GATEWAY = "microsoft.network/localnetworkgateways"
T_CONNECTION = "microsoft.network/connections"
# The stored POST {gateway}/getLearnedRoutes answer: {"gatewayId", "value": [GatewayRoute]}.
T_LEARNED_ROUTES = "microsoft.network/virtualnetworkgateways/learnedroutes"
# Read by private_endpoints.py.
T_PRIVATE_ENDPOINT = "microsoft.network/privateendpoints"
T_DNS_ZONE_GROUP = "microsoft.network/privateendpoints/privatednszonegroups"
T_DNS_ZONE = "microsoft.network/privatednszones"
T_DNS_LINK = "microsoft.network/privatednszones/virtualnetworklinks"
T_DNS_A = "microsoft.network/privatednszones/a"
T_DNS_AAAA = "microsoft.network/privatednszones/aaaa"
T_LB = "microsoft.network/loadbalancers"  # loadbalancer.py
T_NAT = "microsoft.network/natgateways"  # outbound.py
T_VMSS = "microsoft.compute/virtualmachinescalesets"  # scalesets.py
T_VMSS_VM = "microsoft.compute/virtualmachinescalesets/virtualmachines"  # a Uniform instance
MODELLED_TYPES = frozenset({T_VM, T_EXT, T_VNET, T_NIC, T_NSG, T_RT, T_PIP, T_NW, T_ASG, T_ADMIN,
                            T_SERVICE_TAGS, T_FIREWALL, T_FIREWALL_POLICY,
                            T_RULE_COLLECTION_GROUP, T_IP_GROUP, T_GATEWAY, T_LOCAL_GATEWAY,
                            T_CONNECTION, T_LEARNED_ROUTES, T_PRIVATE_ENDPOINT,
                            T_DNS_ZONE_GROUP, T_DNS_ZONE, T_DNS_LINK, T_DNS_A, T_DNS_AAAA,
                            T_LB, T_NAT, T_VMSS, T_VMSS_VM})

# Types a real estate holds that take no part in a packet's path between the resources the twin
# models, so they load with no assumption (unmodelled.py reads every other unknown type for the
# addresses it holds): a Bastion host sits beside the VMs in its own subnet (its sessions are not
# check sources), a DDoS protection plan and flow logs observe traffic without deciding it, a
# vWAN's hubs (virtualHubs) carry its routing, and the services a private endpoint or a service
# endpoint reaches are answered by those (twin-semantics §7, §8).
INERT_TYPES = frozenset({
    "microsoft.network/bastionhosts", "microsoft.network/ddosprotectionplans",
    "microsoft.network/networkwatchers/flowlogs", "microsoft.network/virtualwans",
    "microsoft.insights/diagnosticsettings", "microsoft.operationalinsights/workspaces",
    "microsoft.storage/storageaccounts", "microsoft.keyvault/vaults",
    "microsoft.sql/servers", "microsoft.network/privatednszones/soa",
})

# Parsers of the estate parts that live in their own modules (scalesets.py, loadbalancer.py,
# outbound.py), by name: (rank, parser), run in rank order at the end of every load. Each module
# registers itself with register_part(), so this module, the data, imports none of the code that
# acts on it; nwlab.emulator's __init__ imports them, so every Topology is built with all three.
PART_PARSERS: dict[str, tuple[int, Callable[[Topology], Any]]] = {}


def register_part(name: str, rank: int, parse: Callable[[Topology], Any]) -> None:
    PART_PARSERS[name] = (rank, parse)


AGENT_PUBLISHER = "microsoft.azure.networkwatcher"
AGENT_TYPES = frozenset({"networkwatcheragentwindows", "networkwatcheragentlinux"})

SERVICE_TAGS = {"virtualnetwork": "VirtualNetwork", "internet": "Internet",
                "azureloadbalancer": "AzureLoadBalancer"}
RULE_PROTOCOLS = {"tcp": "Tcp", "udp": "Udp", "icmp": "Icmp", "esp": "Esp", "ah": "Ah",
                  "*": "*", "any": "*", "all": "*"}
ROUTE_HOP_TYPES = {"virtualappliance": "VirtualAppliance", "vnetlocal": "VnetLocal",
                   "internet": "Internet", "none": "None",
                   "virtualnetworkgateway": "VirtualNetworkGateway",
                   "virtualapplianceecmp": "VirtualApplianceEcmp"}
# Next hops Azure accepts that the walk does not follow (gateways: issue 11; ECMP sets).
UNMODELLED_HOP_TYPES = frozenset({"VirtualNetworkGateway"})
ECMP_MEMBERS = (2, 64)  # spec routeTable.json RouteNextHopEcmp; Az.Network's 2-64 bound
ADMIN_ACCESS = {"allow": "Allow", "deny": "Deny", "alwaysallow": "AlwaysAllow"}
# A service tag's name as the Discovery API spells them (Storage, Sql.WestEurope,
# AzureCloud.westeurope, AzureFrontDoor.Backend...).
TAG_NAME = re.compile(r"[A-Za-z][A-Za-z0-9]*(?:[.\-][A-Za-z0-9]+)*")
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

Record = TypeVar("Record")


def _quick_init(cls: type[Record]) -> type[Record]:
    """Give a frozen slots dataclass an __init__ that writes each slot through its member
    descriptor. The one dataclass writes calls object.__setattr__ per field, six times slower
    than a plain assignment: building the 40,000 rules and 60,000 NIC, address and VM records
    of a 20,000-NIC estate spent a tenth of its load there. Everything else stays as the
    dataclass made it: assignment after construction still raises, eq, hash and repr hold."""
    params, lines = [], []
    names: dict[str, Any] = {}
    for f in fields(cls):  # type: ignore[arg-type]
        if f.default_factory is not MISSING:
            raise TypeError(f"{cls.__name__}.{f.name}: a default factory is not supported")
        if f.default is MISSING:
            params.append(f.name)
        else:
            names[f"_default_{f.name}"] = f.default
            params.append(f"{f.name}=_default_{f.name}")
        names[f"_set_{f.name}"] = getattr(cls, f.name).__set__
        lines.append(f"    _set_{f.name}(self, {f.name})\n")
    exec(f"def __init__(self, {', '.join(params)}):\n{''.join(lines)}", names)
    init = names["__init__"]
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    setattr(cls, "__init__", init)  # noqa: B010  # mypy refuses assigning a method
    return cls

@_quick_init
@dataclass(frozen=True, slots=True)
class PortRange:
    """An inclusive port range; '*' is 0-65535."""

    low: int
    high: int

    def __contains__(self, port: object) -> bool:
        return isinstance(port, int) and self.low <= port <= self.high


@_quick_init
@dataclass(frozen=True, slots=True)
class SecurityRule:
    """One NSG rule, user-defined or one of Azure's implied default rules, or an effective
    Virtual Network Manager security admin rule (``admin``: access may be AlwaysAllow)."""

    name: str
    priority: int
    direction: str  # Inbound | Outbound
    access: str  # Allow | Deny (| AlwaysAllow for admin rules)
    protocol: str  # Tcp | Udp | Icmp | Esp | Ah | *
    source_prefixes: tuple[Prefix, ...]
    source_ports: tuple[PortRange, ...]
    destination_prefixes: tuple[Prefix, ...]
    destination_ports: tuple[PortRange, ...]
    default: bool = False
    id: str = ""
    source_asgs: tuple[str, ...] = ()  # application security group ids (OR-ed)
    destination_asgs: tuple[str, ...] = ()
    admin: bool = False

    @property
    def reported_name(self) -> str:
        """The name as connectivityCheck reports it (seed scenario 1: UserRule_Port80); an admin
        rule by its bare name, as NSG diagnostics names it (twin-semantics §3.3)."""
        if self.admin:
            return self.name
        return ("DefaultRule_" if self.default else "UserRule_") + self.name


@_quick_init
@dataclass(frozen=True, slots=True)
class Route:
    name: str
    prefix: ipaddress.IPv4Network | ipaddress.IPv6Network | None  # None: a service-tag route
    next_hop_type: str
    next_hop_ip: IPAddress | None
    route_table_id: str | None  # None for a system route
    tag: str | None = None  # the service tag named as addressPrefix
    id: str = ""
    rank: int = 4  # equal-prefix order among user routes: CIDR 4, tag routes 0-3
    next_hop_ips: tuple[IPAddress, ...] = ()  # VirtualApplianceEcmp members


@_quick_init
@dataclass(frozen=True, slots=True)
class Subnet:
    id: str
    name: str
    vnet_id: str
    prefixes: tuple[ipaddress.IPv4Network, ...]
    nsg_id: str | None
    route_table_id: str | None
    prefixes6: tuple[ipaddress.IPv6Network, ...] = ()  # dual stack: the IPv6 /64


@dataclass(frozen=True)
class Peering:
    """One side of a VNet peering (twin-semantics §4): this VNet's link to ``remote_vnet_id``."""

    id: str
    remote_vnet_id: str
    allow_access: bool  # allowVirtualNetworkAccess (default true)
    allow_forwarded: bool  # allowForwardedTraffic (default false)
    routed_spaces: tuple[ipaddress.IPv4Network, ...]  # what the VNetPeering routes cover
    routed_spaces6: tuple[ipaddress.IPv6Network, ...] = ()  # the same for IPv6


@dataclass(frozen=True)
class VirtualNetwork:
    id: str
    name: str
    location: str
    spaces: tuple[ipaddress.IPv4Network, ...]
    subnet_ids: tuple[str, ...]
    peered_vnet_ids: tuple[str, ...]  # peerings declared on this side and Connected
    peerings: tuple[Peering, ...] = ()  # the same links with their flags
    spaces6: tuple[ipaddress.IPv6Network, ...] = ()  # dual stack: IPv6 address spaces


@_quick_init
@dataclass(frozen=True, slots=True)
class IpConfig:
    id: str
    name: str
    address: IPAddress
    subnet_id: str
    primary: bool
    asg_ids: tuple[str, ...] = ()  # application security groups (lower-cased ids)
    public_ip_id: str | None = None


@_quick_init
@dataclass(frozen=True, slots=True)
class Nic:
    id: str
    name: str
    ip_configs: tuple[IpConfig, ...]  # primary first
    nsg_id: str | None
    ip_forwarding: bool
    vm_id: str | None
    # privateIPAddressVersion IPv6 configurations, apart so IPv4 code never meets them.
    ip6_configs: tuple[IpConfig, ...] = ()

    @property
    def primary(self) -> IpConfig:
        return self.ip_configs[0]


@_quick_init
@dataclass(frozen=True, slots=True)
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
    location: str = ""


@dataclass(frozen=True)
class RouteTable:
    id: str
    name: str
    routes: tuple[Route, ...]
    location: str = ""


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

    dns: Mapping[str, ipaddress.IPv4Address]  # A records
    listeners: Mapping[str, frozenset[int]]  # lower-cased VM id -> ports; absent = all listen
    guest_denied: Mapping[str, frozenset[int]]  # lower-cased VM id -> denied inbound ports
    probes: int
    latency: Latency
    latency_overrides: Mapping[str, Latency]  # lower-cased IP / host / VM id -> figures
    # Which side's allowForwardedTraffic governs a forwarded packet (twin-semantics §4.4):
    # receiver (the portal's reading, default), sender, both, or ignore.
    forwarded_traffic: str = "receiver"
    dns6: Mapping[str, ipaddress.IPv6Address] = dataclass_field(default_factory=dict)  # AAAA


# ---------------------------------------------------------------------------------------------
# Small parsing helpers (shared by the loader and by PUT validation in the server)
# ---------------------------------------------------------------------------------------------

@functools.lru_cache(maxsize=256)
def _lower(type_name: str) -> str:
    """A resource type as spelled, lower-cased: an estate spells a few dozen types."""
    return type_name.lower()


@functools.lru_cache(maxsize=1 << 18)
def key(resource_id: str) -> str:
    """Index key for an ARM id: ids compare case-insensitively and without a trailing slash.
    (Cached: the walk keys the same few ids at every hop.)"""
    return resource_id.rstrip("/").lower()


def resource_group_of(resource_id: str) -> str | None:
    parts = resource_id.strip("/").split("/")
    for i, part in enumerate(parts[:-1]):
        if part.lower() == "resourcegroups":
            return parts[i + 1]
    return None


def props_of(res: Any) -> dict[str, Any]:
    """A resource's ``properties`` object, or {} where it has none (the part modules read
    resources the loader keeps raw)."""
    props = res.get("properties") if isinstance(res, dict) else None
    return props if isinstance(props, dict) else {}


def _ref(obj: Any) -> str | None:
    """The id of an ARM sub-resource reference ``{"id": ...}``, or None."""
    if obj is None:  # the common case
        return None
    # dict first in the tuple: an exact check, before the costlier Mapping one.
    if isinstance(obj, (dict, Mapping)) and isinstance(obj.get("id"), str) and obj["id"]:
        return str(obj["id"])
    return None


def parse_any_network(text: Any, rid: str, field: str,
                      ) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    """A CIDR of either family (Azure accepts IPv6 prefixes; the twin models IPv4 only)."""
    if not isinstance(text, str):
        raise TopologyError(rid, f"expected a CIDR string, got {text!r}", field=field,
                            code="InvalidAddressPrefixFormat")
    try:
        return ipaddress.ip_network(text.strip(), strict=True)
    except ValueError as exc:
        raise TopologyError(rid, f"{text!r} is not a valid CIDR prefix ({exc})", field=field,
                            code="InvalidAddressPrefixFormat") from None


def parse_network(text: Any, rid: str, field: str) -> ipaddress.IPv4Network:
    net = parse_any_network(text, rid, field)
    if not isinstance(net, ipaddress.IPv4Network):
        raise TopologyError(rid, f"{text!r}: the emulator models IPv4 only", field=field,
                            code="InvalidAddressPrefixFormat")
    return net


def _parse_dns(section: Any, where: str) -> tuple[dict[str, ipaddress.IPv4Address],
                                                  dict[str, ipaddress.IPv6Address]]:
    """emulation.dns: host -> an address, or a list of them: an IPv4 one is the host's A
    record, an IPv6 one its AAAA record (one of each; dual stack, twin-semantics §13.2 rule 5)."""
    if not isinstance(section, Mapping):
        raise TopologyError(where, 'dns must be an object of host -> address(es), e.g. '
                            '{"www.example.com": ["203.0.113.5", "2001:db8::5"]}', field="dns")
    a: dict[str, ipaddress.IPv4Address] = {}
    aaaa: dict[str, ipaddress.IPv6Address] = {}
    for host, value in section.items():
        name = str(host).lower().rstrip(".")
        for text in value if isinstance(value, list) else [value]:
            try:
                addr = ipaddress.ip_address(str(text).strip())
            except ValueError:
                raise TopologyError(where, f"{text!r} is not an IPv4 or IPv6 address; give "
                                    'an address or a list, e.g. ["203.0.113.5", "2001:db8::5"]',
                                    field=f"dns.{host}") from None
            records: dict[str, Any] = a if addr.version == 4 else aaaa
            if name in records:
                raise TopologyError(where, f"{host!r} has two IPv{addr.version} addresses; the "
                                    "twin answers one per family", field=f"dns.{host}")
            records[name] = addr
    return a, aaaa


def parse_address(text: Any, rid: str, field: str) -> ipaddress.IPv4Address:
    if isinstance(text, str):
        # inet_pton takes exactly the dotted quads ipaddress takes (four decimal octets, no
        # leading zeros) and costs a tenth of its parse; what it refuses (spaces around the
        # address, anything else) goes the long way below, which decides as before.
        try:
            return ipaddress.IPv4Address(int.from_bytes(socket.inet_pton(socket.AF_INET, text),
                                                        "big"))
        except (OSError, ValueError):
            pass
    try:
        addr = ipaddress.ip_address(str(text).strip()) if isinstance(text, str) else None
    except ValueError:
        addr = None
    if not isinstance(addr, ipaddress.IPv4Address):
        raise TopologyError(rid, f"{text!r} is not an IPv4 address", field=field,
                            code="InvalidIPAddressFormat")
    return addr


@functools.lru_cache(maxsize=4096)
def _port_range(text: str) -> PortRange | None:
    if text == "*":
        return PortRange(0, 65535)
    if text:
        low_s, sep, high_s = text.partition("-")
        if low_s.strip().isdigit() and (not sep or high_s.strip().isdigit()):
            low = int(low_s)
            high = int(high_s) if sep else low
            if 0 <= low <= high <= 65535:
                return PortRange(low, high)
    return None


def parse_port_range(value: Any, rid: str, field: str) -> PortRange:
    """'*', 'N', 'N-M' (or an int) with 0 <= N <= M <= 65535, as NSG rules accept them."""
    text = str(value).strip() if isinstance(value, (str, int)) and not isinstance(value, bool) \
        else None
    parsed = _port_range(text) if text is not None else None
    if parsed is not None:
        return parsed
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
    if "/" not in text and not text[0].isdigit() and ":" not in text:
        if not TAG_NAME.fullmatch(text):
            raise TopologyError(rid, f"{text!r} is not a CIDR, an IP address or a service tag "
                                "name (letters, digits and dots, e.g. Storage.WestEurope)",
                                field=field, code="SecurityRuleInvalidAddressPrefix")
        # Resolved against the stored Service Tags data when matched; a tag without data is
        # an assumption (UNRESOLVED_SERVICE_TAG), never a refusal.
        return ServiceTag(text)
    try:
        return _rule_network(text)
    except ValueError:
        raise TopologyError(rid, f"{text!r} is not a CIDR, an IP address or a service tag",
                            field=field, code="SecurityRuleInvalidAddressPrefix") from None


@functools.lru_cache(maxsize=1 << 16)
def _rule_network(text: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    """A rule's address prefix (host bits allowed, as NSG rules accept): estates repeat the
    same prefixes across thousands of rules, so each text is parsed once."""
    return ipaddress.ip_network(text, strict=False)


def _asg_ids(props: Mapping[str, Any], field: str, rid: str) -> tuple[str, ...]:
    refs = props.get(field)
    if not refs:
        if refs is None or refs == []:
            return ()
    elif type(refs) is list:
        ids = tuple(_ref(r) for r in refs)
        if None not in ids:
            return ids  # type: ignore[return-value]  # None is not among them
    raise TopologyError(rid, "expected a list of {\"id\": <application security group "
                        "id>}", field=field, code="InvalidRequestFormat")


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
    asgs = {side: _asg_ids(props, f"{side}ApplicationSecurityGroups", rid)
            for side in ("source", "destination")}
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
        given = props.get(plural) not in (None, []) or props.get(single) not in (None, "")
        if asgs[side]:
            # One side names either addresses or application security groups (the portal
            # offers one choice per side; the NSG article's augmented rules).
            if given:
                raise TopologyError(rid, f"give either {single}/{plural} or "
                                    f"{side}ApplicationSecurityGroups, not both",
                                    field=f"{side}ApplicationSecurityGroups",
                                    code="SecurityRuleInvalidAddressPrefix")
            prefixes[side] = ()
            continue
        values = _one_or_many(props, single, plural, rid)
        field = plural if props.get(plural) else single
        prefixes[side] = tuple(_parse_prefix(v, rid, field) for v in values)
    # One rule holds one address family (twin-semantics §13.2 rule 2); Azure's refusal, as
    # quoted in hashicorp/terraform-provider-azurerm#12534.
    families = {p.version for p in prefixes["source"] + prefixes["destination"]
                if isinstance(p, (ipaddress.IPv4Network, ipaddress.IPv6Network))}
    if len(families) > 1:
        raise TopologyError(rid, "the rule contains IP addresses or prefixes of different "
                            "address families; all of them must be IPv4 or all IPv6: write "
                            "one rule per family", field="sourceAddressPrefixes",
                            code="ResourceCannotContainAddressPrefixesFromDifferentAddressFamilies")
    return SecurityRule(name=name, priority=priority, direction=direction, access=access,
                        protocol=protocol, source_prefixes=prefixes["source"],
                        source_ports=ports["source"],
                        destination_prefixes=prefixes["destination"],
                        destination_ports=ports["destination"], id=rid,
                        source_asgs=asgs["source"], destination_asgs=asgs["destination"])


_RULE_FIELDS = tuple(f.name for f in fields(SecurityRule))
_rule_values = operator.attrgetter(*_RULE_FIELDS)
_NAME_AT, _ID_AT = _RULE_FIELDS.index("name"), _RULE_FIELDS.index("id")


def _renamed(rule: SecurityRule, name: str, rid: str) -> SecurityRule:
    """``rule`` under another rule's name and id: what dataclasses.replace does, without its
    per-call look at the fields (a 40,000-rule estate renames tens of thousands of rules)."""
    values = list(_rule_values(rule))
    values[_NAME_AT], values[_ID_AT] = name, rid
    return SecurityRule(*values)


@_quick_init
@dataclass(frozen=True, slots=True)
class RuleBody:
    """A rule body parsed once (Topology._rule_of): the rule, and whether it names a service
    tag (only those rules carry load-time assumptions about their prefixes)."""

    rule: SecurityRule
    names_tags: bool


def _parse_ipv6_address(text: Any, rid: str, field: str) -> ipaddress.IPv6Address:
    """The next hop of an IPv6 route: an IPv6 address (a route's families cannot mix)."""
    try:
        addr = ipaddress.ip_address(str(text).strip()) if isinstance(text, str) else None
    except ValueError:
        addr = None
    if not isinstance(addr, ipaddress.IPv6Address):
        raise TopologyError(rid, f"{text!r} is not an IPv6 address; a route with an IPv6 "
                            "addressPrefix needs an IPv6 nextHopIpAddress such as "
                            "\"fd00:db8:0:1::4\"", field=field, code="InvalidIPAddressFormat")
    return addr


def parse_route(raw: Mapping[str, Any], rid: str, route_table_id: str) -> Route:
    """Validate one routes entry (from a topology or a PUT body)."""
    props = raw.get("properties")
    if not isinstance(props, Mapping):
        raise TopologyError(rid, "a route needs a 'properties' object", field="properties",
                            code="InvalidRequestFormat")
    name = str(raw.get("name") or rid.rstrip("/").split("/")[-1])
    text = props.get("addressPrefix")
    prefix: ipaddress.IPv4Network | ipaddress.IPv6Network | None = None
    tag = None
    if isinstance(text, str) and TAG_NAME.fullmatch(text.strip()) and not text[:1].isdigit():
        tag = text.strip()  # doc virtual-networks-udr-overview: "Service Tags for UDRs"
    else:
        prefix = parse_any_network(text, rid, "addressPrefix")
    hop_type = ROUTE_HOP_TYPES.get(str(props.get("nextHopType", "")).lower())
    if hop_type is None:
        raise TopologyError(rid, f"nextHopType must be one of {sorted(ROUTE_HOP_TYPES.values())}"
                            f", got {props.get('nextHopType')!r}", field="nextHopType",
                            code="InvalidRouteNextHopType")
    ip_text = props.get("nextHopIpAddress")
    next_ip: IPAddress | None = None
    if hop_type == "VirtualAppliance" and isinstance(prefix, ipaddress.IPv6Network):
        next_ip = _parse_ipv6_address(ip_text, rid, "nextHopIpAddress")  # same family
    elif hop_type == "VirtualAppliance":
        next_ip = parse_address(ip_text, rid, "nextHopIpAddress")
    elif ip_text not in (None, ""):
        raise TopologyError(rid, f"nextHopIpAddress is only allowed with VirtualAppliance, not "
                            f"{hop_type}", field="nextHopIpAddress",
                            code="InvalidRouteNextHopIpAddress")
    members: tuple[IPAddress, ...] = ()
    if hop_type == "VirtualApplianceEcmp":
        texts = (props.get("nextHop") or {}).get("nextHopIpAddresses") \
            if isinstance(props.get("nextHop"), Mapping) else None
        low, high = ECMP_MEMBERS
        if not isinstance(texts, list) or not low <= len(texts) <= high:
            raise TopologyError(rid, f"a VirtualApplianceEcmp route needs nextHop."
                                f"nextHopIpAddresses with {low} to {high} addresses, e.g. "
                                '{"nextHop": {"nextHopIpAddresses": ["10.0.0.4", "10.0.0.5"]}}',
                                field="nextHop.nextHopIpAddresses",
                                code="InvalidRouteNextHopIpAddress")
        parse = _parse_ipv6_address if isinstance(prefix, ipaddress.IPv6Network) \
            else parse_address  # members are of the route's family
        members = tuple(parse(t, rid, "nextHop.nextHopIpAddresses") for t in texts)
    return Route(name=name, prefix=prefix, next_hop_type=hop_type, next_hop_ip=next_ip,
                 route_table_id=route_table_id, tag=tag, id=rid, next_hop_ips=members)


def _admin_side(entries: Any, rid: str, field: str) -> tuple[Prefix, ...]:
    """AVNM sources/destinations: [{addressPrefix, addressPrefixType: IPPrefix|ServiceTag}]."""
    if entries in (None, []):
        return ("*",)  # assumed: a rule without addresses on a side applies to any address
    if not isinstance(entries, list):
        raise TopologyError(rid, "expected a list of {addressPrefix, addressPrefixType}",
                            field=field)
    out: list[Prefix] = []
    for entry in entries:
        text = entry.get("addressPrefix") if isinstance(entry, Mapping) else None
        kind = str(entry.get("addressPrefixType", "IPPrefix")).lower() \
            if isinstance(entry, Mapping) else ""
        prefix = _parse_prefix(text, rid, field)
        if kind == "ipprefix" and isinstance(prefix, (str, ServiceTag)) and prefix != "*":
            raise TopologyError(rid, f"{text!r} is marked IPPrefix but is a service tag; use "
                                "addressPrefixType ServiceTag", field=field,
                                code="InvalidAddressPrefixFormat")
        out.append(prefix)
    return tuple(out)


def parse_admin_rule(raw: Any, rid: str, index: int) -> SecurityRule:
    """One effective security admin rule (twin-semantics §3.1), as a SecurityRule(admin=True)."""
    where = f"value[{index}]"
    if not isinstance(raw, Mapping) or not isinstance(raw.get("properties"), Mapping):
        raise TopologyError(rid, "each admin rule needs 'properties'", field=where)
    props = raw["properties"]
    rule_id = str(raw.get("id") or f"{rid}/{where}")
    name = rule_id.rstrip("/").split("/")[-1]
    priority = props.get("priority")
    # The preview article says 0-99, the spec 1-4096: accept 0-4096 (twin-semantics §3.4).
    if isinstance(priority, bool) or not isinstance(priority, int) or \
            not 0 <= priority <= 4096:
        raise TopologyError(rule_id, f"priority must be an integer 0-4096, got {priority!r}",
                            field="priority")
    direction = str(props.get("direction", "")).capitalize()
    if direction not in ("Inbound", "Outbound"):
        raise TopologyError(rule_id, f"direction must be Inbound or Outbound, got "
                            f"{props.get('direction')!r}", field="direction")
    access = ADMIN_ACCESS.get(str(props.get("access", "")).lower())
    if access is None:
        raise TopologyError(rule_id, f"access must be Allow, Deny or AlwaysAllow, got "
                            f"{props.get('access')!r}", field="access")
    protocol = RULE_PROTOCOLS.get(str(props.get("protocol", "Any")).lower())
    if protocol is None:
        raise TopologyError(rule_id, f"protocol must be Tcp, Udp, Icmp, Esp, Ah or Any, got "
                            f"{props.get('protocol')!r}", field="protocol")
    ports = {}
    for side in ("source", "destination"):
        field = f"{side}PortRanges"
        values = props.get(field) or ["*"]
        if not isinstance(values, list):
            raise TopologyError(rule_id, "expected a list of port ranges", field=field)
        ports[side] = tuple(parse_port_range(v, rule_id, field) for v in values)
    return SecurityRule(name=name, priority=priority, direction=direction, access=access,
                        protocol=protocol,
                        source_prefixes=_admin_side(props.get("sources"), rule_id, "sources"),
                        source_ports=ports["source"],
                        destination_prefixes=_admin_side(props.get("destinations"), rule_id,
                                                         "destinations"),
                        destination_ports=ports["destination"], id=rule_id, admin=True)


FORWARDED_TRAFFIC_MODES = ("receiver", "sender", "both", "ignore")

# Fields Azure sets that the twin does not model yet, per kind: path -> (the value that means
# "not used", what the twin assumes). Each one that is set becomes an UNMODELLED_FIELD.
UNMODELLED_FIELDS: dict[str, dict[str, tuple[Any, str]]] = {
    "virtualNetwork": {
        "dhcpOptions.dnsServers": ([], "custom DNS servers are not consulted; names resolve "
                                   "through emulation.dns"),
    },
    "subnet": {
        "serviceEndpointPolicies": ([], "service endpoint policies are not applied"),
        # doc virtual-network/subnet-delegation-overview: the service may add network intent
        # policies (NSG rules, routes); the snapshot's NSG and route table are evaluated as read.
        "delegations": ([], "the subnet is delegated to a service: its hosts hold no NICs in "
                        "the twin and the network intent policies it adds are not modelled"),
    },
    "peering": {
        "peerCompleteVnets": (True, "subnet peering: the whole remote space is routed"),
    },
    "networkInterface": {
        "dnsSettings.dnsServers": ([], "custom DNS servers are not consulted"),
    },
    "ipConfiguration": {
        "applicationGatewayBackendAddressPools": ([], "application gateway membership ignored"),
        "gatewayLoadBalancer": (None, "gateway load balancer chaining ignored"),
    },
}

# The same, each path split once (the loader asks this of every NIC and ipConfiguration).
_UNMODELLED_PATHS = {kind: tuple((path, tuple(path.split(".")), unset, assumed)
                                 for path, (unset, assumed) in paths.items())
                     for kind, paths in UNMODELLED_FIELDS.items()}
_UNMODELLED_FIRST = {kind: frozenset(parts[0] for _, parts, _, _ in paths)
                     for kind, paths in _UNMODELLED_PATHS.items()}
# The types _parse reads through _of_type (an inline child typed as one is read as well).
_PARSED_TYPES = frozenset({T_ASG, T_SERVICE_TAGS, T_NSG, T_RT, T_PIP, T_VNET, T_NIC, T_VM,
                           T_VMSS_VM, T_NW, T_ADMIN})


def _typed_as_parsed(spelled: Any) -> bool:
    """Whether an inline child's own ``type`` is one _parse reads (Topology._typed_children)."""
    return type(spelled) is str and _lower(spelled) in _PARSED_TYPES


def is_agent_extension(props: Mapping[str, Any]) -> bool:
    """Whether an extension's properties (a VM's extension or one of a scale set model's
    extensionProfile) are the Network Watcher agent, installed: a provisioningState other than
    Succeeded (absent reads as Succeeded) is an agent that does not run."""
    return _is_agent_named(str(props.get("publisher", "")), str(props.get("type", "")),
                           str(props.get("provisioningState", "Succeeded")))


@functools.lru_cache(maxsize=64)
def _is_agent_named(publisher: str, kind: str, state: str) -> bool:
    # Cached: an estate's 20,000 VMs carry a handful of extension kinds.
    return publisher.lower() == AGENT_PUBLISHER and kind.lower() in AGENT_TYPES \
        and state.lower() == "succeeded"


# ---------------------------------------------------------------------------------------------
# The topology
# ---------------------------------------------------------------------------------------------

class Topology:
    """A validated topology: the raw ARM documents (served by GET) plus parsed indexes.

    What the twin does not model is kept and recorded in ``assumptions`` (also indexed by
    resource in ``assumptions_at``), never refused. Derived indexes that cost time (effective
    routes and the VirtualNetwork tag per subnet, compiled NSGs) live in ``cache`` and are
    built on first use, so a write that rebuilds the topology pays only for what is asked.
    """

    @collector_paused
    def __init__(self, document: Mapping[str, Any], *, owned: bool = False) -> None:
        # ``owned``: the caller hands over a document nobody else holds (just parsed, or
        # already copied for a write), so the copy that protects a caller's dict is skipped.
        doc = dict(document) if owned else copy.deepcopy(dict(document))
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
        self.ip_index: dict[tuple[str, IPAddress], tuple[Nic, IpConfig]] = {}
        # Public IP address -> (NIC, ipConfiguration, SKU name) for public-IP destinations.
        self.public_ip_index: dict[ipaddress.IPv4Address, tuple[Nic, IpConfig, str]] = {}
        self.asgs: dict[str, str] = {}  # ASG key -> id
        self.asg_vnet: dict[str, str] = {}  # ASG key -> VNet key of its members
        self.asg_members: dict[str, set[IPAddress]] = {}  # ASG key -> member IPs
        # VNet key -> direction -> effective admin rules by priority.
        self.admin_rules: dict[str, dict[str, tuple[SecurityRule, ...]]] = {}
        self.service_tags = ServiceTagIndex()
        self.links: dict[tuple[str, str], Peering] = {}  # (VNet key, remote VNet key) -> link
        self.assumptions: list[Assumption] = []
        self.assumptions_at: dict[str, list[Assumption]] = {}
        self.cache: dict[Any, Any] = {}
        # Rule body -> parsed rule (_rule_of), shared with topologies a write
        # derives from this one.
        self._rule_memo: dict[str, RuleBody] = {}
        self._bodies: Bodies | None = None
        # id() of an NSG's securityRules list -> its parsed rules and which name a service tag
        # (read for the NSGs that copy it, shape.Bodies.copy_of), during the load only.
        self._parsed_lists: dict[int, tuple[list[SecurityRule], list[bool]]] = {}
        # Whether an inline child (a rule, subnet, ipConfiguration or listed extension) is
        # typed as a resource _parse reads (_of_type then reads raw, as the loader always did).
        self._typed_children = False
        self._index(resources)
        self._parse()
        # Both name the document's objects by id(), true only while the load holds them.
        self._bodies, self._parsed_lists = None, {}
        self.emulation = self._parse_emulation(doc.get("emulation") or {})
        if len(self.raw) >= gcpause.LONG_LIVED_RESOURCES:
            gcpause.settle_long_lived()

    def note(self, assumption: Assumption) -> None:
        """Record what the twin assumes about one resource (loading never refuses for it)."""
        self.assumptions.append(assumption)
        self.assumptions_at.setdefault(key(assumption.resource_id), []).append(assumption)

    # -- indexing ----------------------------------------------------------------------------
    def _index(self, resources: list[Any]) -> None:
        prefix = f"/subscriptions/{self.subscription_id}/resourcegroups/".lower()
        lowered: dict[str, str] = {}  # ARM type as spelled -> lower-cased (a few dozen types)
        # What ARM list calls read, indexed in this same pass (shared by derived topologies).
        listing = self.cache["listing"] = Listing()
        seen = self._bodies = Bodies()  # rule and route bodies found clean (check_shape)
        # The Service Tags answer is subscription-scoped (.../locations/<r>/serviceTags).
        subscription_scope = f"/subscriptions/{self.subscription_id}/".lower()
        # Where the resource group's name starts in every other id: lower-casing keeps the
        # length of what can match an ASCII prefix (U+0130 lower-cases to two characters, the
        # second not ASCII); with another prefix the listing reads the group from the id.
        # The name is the id's fifth segment (Listing.add), which follows the prefix only when
        # the subscription id is one segment.
        group_at = len(prefix) if prefix.isascii() and "/" not in self.subscription_id else -1
        raw = self.raw
        for i, res in enumerate(resources):
            if not isinstance(res, dict):
                raise TopologyError(f"resources[{i}]", "each resource must be a JSON object")
            rid, rtype, name = res.get("id", ""), res.get("type", ""), res.get("name", "")
            if not (isinstance(rid, str) and rid and isinstance(rtype, str) and rtype
                    and isinstance(name, str) and name):
                for field in ("id", "type", "name"):  # the first missing one, named
                    if not isinstance(res.get(field), str) or not res[field]:
                        raise TopologyError(str(res.get("id") or f"resources[{i}]"),
                                            f"'{field}' (a string) is required", field=field)
            low = lowered.get(rtype)
            if low is None:
                low = lowered[rtype] = rtype.lower()
            rtype = low
            scope = subscription_scope if rtype == T_SERVICE_TAGS else prefix
            k = key(rid)
            if not k.startswith(scope):
                raise TopologyError(rid, "ids must start with /subscriptions/"
                                    f"{self.subscription_id}/resourceGroups/ (the topology's "
                                    "subscription)", field="id")
            if rtype in MODELLED_TYPES:  # the kinds are those of the types the twin reads
                try:
                    check_shape(res, seen)
                except ShapeProblem as exc:
                    raise TopologyError(rid, exc.text, field=exc.field,
                                        code="InvalidRequestFormat") from None
            if not isinstance(res.setdefault("properties", {}), dict):
                raise TopologyError(rid, "'properties' must be an object", field="properties")
            if k in raw:
                raise TopologyError(rid, "duplicate resource id", field="id")
            raw[k] = res
            # The id starts with the prefix (checked above; lower-casing keeps the length of
            # what can match it), so the group's name follows it up to the next "/".
            end = rid.find("/", group_at) if scope is prefix and group_at > 0 else -1
            listing.add(i, res, k, rtype, rid[group_at:end] if end > 0 else None)
            props = res["properties"]
            if rtype not in MODELLED_TYPES and rtype not in INERT_TYPES:
                self.note(Assumption("UNMODELLED_RESOURCE_TYPE", rid,
                                     f"{res['type']} is not modelled: kept for GET, no part in "
                                     "routing or filtering"))
            if rtype == T_VNET:
                self._children(res, props, "subnets", "subnets", "virtualNetworks/subnets")
                self._children(res, props, "virtualNetworkPeerings", "virtualNetworkPeerings",
                               "virtualNetworks/virtualNetworkPeerings")
            elif rtype == T_NSG:
                self._children(res, props, "securityRules", "securityRules",
                               "networkSecurityGroups/securityRules")
                dropped = props.pop("defaultSecurityRules", None)  # implied; added on GET
                if dropped is not None:
                    # Kept alive for the load: Bodies names objects by id(), and an id freed
                    # here could name a new object (a rule's default properties) later.
                    seen.kept.append(dropped)
            elif rtype == T_RT:
                self._children(res, props, "routes", "routes", "routeTables/routes")
            elif rtype == T_NIC:
                self._children(res, props, "ipConfigurations", "ipConfigurations",
                               "networkInterfaces/ipConfigurations")
            elif rtype in (T_VM, T_VMSS_VM):
                # ARM GET of a VM (or a scale set instance) lists its extensions under a
                # top-level "resources" array.
                for ext in res.get("resources") or []:
                    if isinstance(ext, dict) and isinstance(ext.get("id"), str):
                        spelled = ext.setdefault("type",
                                                 "Microsoft.Compute/virtualMachines/extensions")
                        if _typed_as_parsed(spelled):
                            self._typed_children = True
                        ext.setdefault("name", ext["id"].rstrip("/").split("/")[-1])
                        self._add_extension(ext)
            elif rtype == T_EXT:
                self._add_extension(res)

    def _add_extension(self, ext: JSON) -> None:
        """An extension, of the VM its id names (also when a VM lists it: the id decides, so an
        extension listed under another VM's id, or not under "/extensions/", is refused as
        one listed alone is)."""
        vm_key = key(ext["id"].rstrip("/").rsplit("/extensions/", 1)[0])
        ext.setdefault("properties", {})
        k = key(ext["id"])
        if k not in self.raw:
            self.raw[k] = ext
        found = self.extensions.get(vm_key)
        if found is None:
            self.extensions[vm_key] = [ext]
        else:
            found.append(ext)

    def _children(self, parent: JSON, props: JSON, field: str, segment: str,
                  type_suffix: str) -> None:
        """Give inline children (subnets, rules...) their ARM ids so GET can address them."""
        items = props.get(field)
        if items is None:
            props[field] = items = []
        if not isinstance(items, list):
            raise TopologyError(parent["id"], f"'{field}' must be a list", field=field)
        parent_id = parent["id"]
        child_type = f"{parent['type'].split('/')[0]}/{type_suffix}"
        raw = self.raw
        for i, child in enumerate(items):
            if not isinstance(child, dict) or not isinstance(child.get("name"), str):
                raise TopologyError(parent_id, f"{field}[{i}] needs a 'name'", field=field)
            if "id" not in child:
                child["id"] = f"{parent_id}/{segment}/{child['name']}"
            if "type" not in child:
                child["type"] = child_type
            elif _typed_as_parsed(child["type"]):
                self._typed_children = True
            if "properties" not in child:
                child["properties"] = {}
            k = key(child["id"])  # as the loader's pass does: once per rule and ipConfiguration
            if k in raw:
                raise TopologyError(child["id"], "duplicate resource id", field="id")
            raw[k] = child

    def _lookup(self, ref: str | None, rtype: str, owner: str, field: str) -> str | None:
        """Resolve a reference, refusing dangling ids (the commonest hand-written mistake)."""
        if ref is None:
            return None
        res = self.raw.get(key(ref))
        if res is not None:
            spelled = res.get("type")
            if type(spelled) is str and _lower(spelled) == rtype:
                return str(res["id"])
        raise TopologyError(owner, f"refers to {ref!r}, which is not a {rtype} in the "
                            "topology", field=field, code="InvalidResourceReference")

    def _unmodelled_fields(self, rid: str, props: Mapping[str, Any], kind: str) -> None:
        """Record each field of UNMODELLED_FIELDS[kind] that is set on this resource."""
        if props.keys().isdisjoint(_UNMODELLED_FIRST[kind]):
            return  # the usual case: none of them is present
        for path, parts, unset, assumed in _UNMODELLED_PATHS[kind]:
            value: Any = props.get(parts[0])  # mostly absent: one look and on
            for part in parts[1:]:
                value = value.get(part) if isinstance(value, Mapping) else None
            if value is not None and value != unset and value != []:
                self.note(Assumption("UNMODELLED_FIELD", rid, assumed, field=path))

    # -- parsing -----------------------------------------------------------------------------
    def _of_type(self, rtype: str) -> list[JSON]:
        """The resources of a lower-cased type, in document order (inline children such as
        rules are read through their parents, unless one is typed as a resource _parse reads:
        then every addressable resource of that type, in the order raw holds them)."""
        if self._typed_children:
            return [res for res in self.raw.values()
                    if str(res.get("type", "")).lower() == rtype]
        return [self.raw[k] for k in self._listing().by_type.get((rtype, None), ())]

    def _parse(self) -> None:
        for res in self._of_type(T_ASG):
            self.asgs[key(res["id"])] = res["id"]
            self.asg_members[key(res["id"])] = set()
        for res in self._of_type(T_SERVICE_TAGS):
            rid = res["id"]

            def problem(field: str, text: str, rid: str = rid) -> None:
                raise TopologyError(rid, text, field=field)

            self.service_tags.add(res, problem)
        for res in self._of_type(T_NSG):
            self._parse_nsg(res)
        for res in self._of_type(T_RT):
            self._parse_route_table(res)
        for res in self._of_type(T_PIP):
            self.public_ips[key(res["id"])] = res
        for res in self._of_type(T_VNET):
            self._parse_vnet(res)
        self._check_peerings()
        for res in self._of_type(T_NIC):
            self._parse_nic(res)
        for res in self._of_type(T_VM):
            self._parse_vm(res)
        # Uniform scale set instances are VMs to the walk (twin-semantics §12.2); scalesets.py
        # checks their scale set and reads the agent from its extension profile (a part parser).
        for res in self._of_type(T_VMSS_VM):
            self._parse_vm(res)
        for res in self._of_type(T_NW):
            loc = res.get("location")
            if not isinstance(loc, str) or not loc:
                raise TopologyError(res["id"], "a network watcher needs a 'location'",
                                    field="location")
            self.watchers[key(res["id"])] = Watcher(res["id"], res["name"], loc)
        for res in self._of_type(T_ADMIN):
            self._parse_admin_rules(res)
        for nsg in self.nsgs.values():
            self._check_asg_pairs(nsg)
        for vm_key in self.extensions:
            if vm_key not in self.vms:
                raise TopologyError(self.extensions[vm_key][0]["id"], "extension of a virtual "
                                    "machine that is not in the topology", field="id",
                                    code="InvalidResourceReference")
        # Scale sets, load balancers and NAT gateways are parsed (and their references refused
        # when dangling) by their own modules, which read the records above.
        for _, parse in sorted(PART_PARSERS.values(), key=lambda entry: entry[0]):
            parse(self)

    def _note_rule_prefixes(self, rule: SecurityRule, region: str) -> None:
        """Assumptions a rule's address sides carry: tags without data, IPv6 prefixes."""
        for side in ("source", "destination"):
            values = rule.source_prefixes if side == "source" else rule.destination_prefixes
            field = f"{side}AddressPrefix"
            for value in values:
                if isinstance(value, ServiceTag):
                    data, other = self.service_tags.lookup(value.name, region)
                    if data is None:
                        self.note(Assumption(
                            "UNRESOLVED_SERVICE_TAG", rule.id,
                            f"service tag {value.name!r} has no prefixes in the topology: the "
                            "rule is treated as not matching", field=field,
                            alternatives=("the rule matches",)))
                    elif other is not None:
                        self.note(Assumption(
                            "ASSUME_SERVICE_TAG_OTHER_REGION", rule.id,
                            f"{value.name!r} read from region {other!r} (none stored for "
                            f"{region!r})", field=field))

    def _parse_nsg(self, res: JSON) -> None:
        location = str(res.get("location", ""))
        entries = res["properties"]["securityRules"]
        bodies = self._bodies
        template = bodies.copy_of.get(id(entries)) if bodies is not None else None
        parsed = self._parsed_lists.get(id(template)) if template is not None else None
        if parsed is not None:
            # The names and bodies of an earlier NSG's rules (shape.Bodies): its rules, each
            # under this NSG's rule id; they passed every check a rule and a list meet.
            copied = tuple(_renamed(rule, rule.name, child["id"])
                           for rule, child in zip(parsed[0], entries, strict=True))
            for rule, names_tags in zip(copied, parsed[1], strict=True):
                if names_tags:
                    self._note_rule_prefixes(rule, location)
            self.nsgs[key(res["id"])] = Nsg(res["id"], res["name"], copied, location)
            return
        rules: list[SecurityRule] = []
        tags: list[bool] = []
        # Position of the first earlier rule by name and by (direction, priority): the clash
        # reported is the one with the earliest rule, as a pairwise scan would find it.
        by_name: dict[str, int] = {}
        by_slot: dict[tuple[str, int], int] = {}
        for child in res["properties"]["securityRules"]:
            rule, names_tags = self._rule_of(child)
            clashes = [i for i in (by_name.get(rule.name.lower()),
                                   by_slot.get((rule.direction, rule.priority))) if i is not None]
            if clashes:
                other = rules[min(clashes)]
                if other.name.lower() == rule.name.lower():
                    raise TopologyError(child["id"], "duplicate rule name", field="name")
                raise TopologyError(child["id"], f"priority {rule.priority} is already used "
                                    f"by {other.direction.lower()} rule '{other.name}'; "
                                    "priorities must be unique per direction",
                                    field="priority", code="SecurityRuleInvalidPriority")
            by_name[rule.name.lower()] = len(rules)
            by_slot[(rule.direction, rule.priority)] = len(rules)
            if names_tags:
                self._note_rule_prefixes(rule, location)
            rules.append(rule)
            tags.append(names_tags)
        self.nsgs[key(res["id"])] = Nsg(res["id"], res["name"], tuple(rules), location)
        if bodies is not None:
            self._parsed_lists[id(entries)] = (rules, tags)

    def _rule_of(self, child: JSON) -> tuple[SecurityRule, bool]:
        """One securityRules entry, parsed (and its ASG references resolved) once per distinct
        body: estates repeat a few thousand bodies across tens of thousands of rules, and only
        name and id differ between rules of one body. The memo maps a body's repr to
        its RuleBody and is shared with the topologies a rule or route write derives from this
        one (such a write changes no ASG). A refused body is never stored, so each refusal
        names its own rule. Returns (rule, whether it names a service tag)."""
        rid = child["id"]
        name = str(child.get("name") or rid.rstrip("/").split("/")[-1])
        props = child.get("properties")
        # The repr of a JSON value names it exactly and is computed in C (a sorted JSON
        # encoding cost a fifth of the load). A topology holds JSON values only: the server
        # serves them with json.dumps.
        bodies = self._bodies
        body = bodies.text_of.get(id(props)) if bodies is not None else None
        if body is None and type(props) is dict:
            body = repr(props)
        found = self._rule_memo.get(body) if body is not None else None
        if found is not None:
            return _renamed(found.rule, name, rid), found.names_tags
        rule = parse_security_rule(child, rid)
        for side, ids in (("source", rule.source_asgs), ("destination", rule.destination_asgs)):
            for asg in ids:
                self._lookup(asg, T_ASG, rid, f"{side}ApplicationSecurityGroups")
        names_tags = any(isinstance(p, ServiceTag)
                         for p in rule.source_prefixes + rule.destination_prefixes)
        if body is not None:
            self._rule_memo[body] = RuleBody(rule, names_tags)
        return rule, names_tags

    def _check_asg_pairs(self, nsg: Nsg) -> None:
        """A rule with ASGs on both sides needs them in one VNet (doc application-security-
        groups: "all ASGs in a rule ... must be in the same virtual network")."""
        for rule in nsg.rules:
            vnets = {self.asg_vnet[key(a)] for a in rule.source_asgs + rule.destination_asgs
                     if key(a) in self.asg_vnet}
            if len(vnets) > 1:
                raise TopologyError(rule.id, "the application security groups of this rule "
                                    "have members in different virtual networks "
                                    f"({', '.join(sorted(self.vnets[v].name for v in vnets))}); "
                                    "Azure requires them in one", field=
                                    "sourceApplicationSecurityGroups",
                                    code="ApplicationSecurityGroupsNotInSameVnet")

    def _parse_route_table(self, res: JSON) -> None:
        rid = res["id"]
        location = str(res.get("location", ""))
        routes = []
        seen: set[str] = set()
        for child in res["properties"]["routes"]:
            route = parse_route(child, child["id"], rid)
            target = str(route.prefix) if route.prefix is not None else str(route.tag).lower()
            if route.name.lower() in seen:
                raise TopologyError(child["id"], "duplicate route name", field="name")
            if target in seen:
                raise TopologyError(child["id"], f"another route in this table already has "
                                    f"addressPrefix {route.prefix or route.tag}",
                                    field="addressPrefix", code="RouteConflict")
            seen.update((route.name.lower(), target))
            if route.tag is not None:
                data, _ = self.service_tags.lookup(route.tag, location)
                if data is None:
                    self.note(Assumption(
                        "UNRESOLVED_SERVICE_TAG", route.id, f"service tag {route.tag!r} has no "
                        "prefixes in the topology: the route is skipped", field="addressPrefix",
                        alternatives=("the route applies to the tag's prefixes",)))
            if route.next_hop_type in UNMODELLED_HOP_TYPES:
                self.note(Assumption(
                    "UNMODELLED_VALUE", route.id, f"next hop {route.next_hop_type} with no "
                    "gateway in reach of a subnet using it is not modelled: a packet taking the "
                    "route there stops, verdict undetermined",
                    field="nextHopType", alternatives=("the packet is delivered",
                                                       "the packet is dropped")))
            routes.append(route)
        if any(r.tag is not None for r in routes):
            self.note(Assumption(
                "ASSUME_TAG_ROUTE_NOT_IN_VIRTUALNETWORK", rid, "service-tag routes do not widen "
                "the VirtualNetwork tag of subnets using this table (only CIDR routes do)",
                alternatives=("the tag's prefixes join VirtualNetwork",)))
        self.route_tables[key(rid)] = RouteTable(rid, res["name"], tuple(routes), location)

    @staticmethod
    def _split_prefixes(texts: list[Any], rid: str, field: str,
                        ) -> tuple[tuple[ipaddress.IPv4Network, ...],
                                   tuple[ipaddress.IPv6Network, ...]]:
        """(IPv4, IPv6) prefixes of a dual-stack list: each family is routed on its own
        (twin-semantics §13.2 rule 1)."""
        v4: list[ipaddress.IPv4Network] = []
        v6: list[ipaddress.IPv6Network] = []
        for text in texts:
            net = parse_any_network(text, rid, field)
            if isinstance(net, ipaddress.IPv4Network):
                v4.append(net)
            else:
                v6.append(net)
        return tuple(v4), tuple(v6)

    def _parse_vnet(self, res: JSON) -> None:
        rid, props = res["id"], res["properties"]
        space_list = (props.get("addressSpace") or {}).get("addressPrefixes")
        if not isinstance(space_list, list) or not space_list:
            raise TopologyError(rid, "addressSpace.addressPrefixes must be a non-empty list",
                                field="addressSpace.addressPrefixes")
        spaces, spaces6 = self._split_prefixes(space_list, rid, "addressSpace.addressPrefixes")
        self._unmodelled_fields(rid, props, "virtualNetwork")
        subnet_ids = []
        taken: list[tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, str]] = []
        for child in props["subnets"]:
            sid, sprops = child["id"], child["properties"]
            raw_prefixes = sprops.get("addressPrefixes") or [sprops.get("addressPrefix")]
            field = "addressPrefixes" if sprops.get("addressPrefixes") else "addressPrefix"
            prefixes, prefixes6 = self._split_prefixes(raw_prefixes, sid, field)
            both: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = [*prefixes, *prefixes6]
            for net in both:
                inside = any(net.subnet_of(space) for space in spaces) \
                    if isinstance(net, ipaddress.IPv4Network) \
                    else any(net.subnet_of(space) for space in spaces6)
                if not inside:
                    raise TopologyError(sid, f"{net} is outside the virtual network's address "
                                        f"space {', '.join(map(str, spaces + spaces6))}",
                                        field=field, code="NetcfgSubnetRangeOutsideVnet")
                for other, other_id in taken:
                    if net.version == other.version and net.overlaps(other):
                        raise TopologyError(sid, f"{net} overlaps {other} of subnet "
                                            f"{other_id}", field=field,
                                            code="NetcfgInvalidSubnet")
                taken.append((net, sid))
            nsg = self._lookup(_ref(sprops.get("networkSecurityGroup")), T_NSG, sid,
                               "networkSecurityGroup.id")
            rt = self._lookup(_ref(sprops.get("routeTable")), T_RT, sid, "routeTable.id")
            self._unmodelled_fields(sid, sprops, "subnet")
            self._note_service_endpoints(sid, sprops, str(res.get("location", "")))
            self.subnets[key(sid)] = Subnet(sid, child["name"], rid, prefixes, nsg, rt,
                                            prefixes6)
            subnet_ids.append(sid)
        self.vnets[key(rid)] = VirtualNetwork(rid, res["name"], str(res.get("location", "")),
                                              spaces, tuple(subnet_ids), (), spaces6=spaces6)

    def _note_service_endpoints(self, sid: str, props: JSON, region: str) -> None:
        """A service endpoint whose tag has no stored prefixes routes nothing: say so."""
        for entry in props.get("serviceEndpoints") or []:
            if not isinstance(entry, Mapping) or not isinstance(entry.get("service"), str):
                raise TopologyError(sid, "each serviceEndpoints entry needs a 'service' "
                                    "(e.g. Microsoft.Storage)", field="serviceEndpoints")
            for name in endpoint_tag_names(entry["service"], entry.get("locations") or []):
                if self.service_tags.lookup(name, region)[0] is None:
                    self.note(Assumption(
                        "UNRESOLVED_SERVICE_TAG", sid, f"service endpoint {entry['service']}: "
                        f"tag {name!r} has no prefixes in the topology, no endpoint route is "
                        "added", field="serviceEndpoints",
                        alternatives=("the tag's prefixes are routed to the service",)))

    def _check_peerings(self) -> None:
        for vkey, vnet in list(self.vnets.items()):
            peers: list[str] = []
            links: list[Peering] = []
            remote_gateways = None
            for child in self.raw[vkey]["properties"]["virtualNetworkPeerings"]:
                cprops = child["properties"]
                external = self._external_peer(child)
                if external is not None:
                    links.append(external)
                    self.links[(vkey, key(external.remote_vnet_id))] = external
                    continue
                remote = self._lookup(_ref(cprops.get("remoteVirtualNetwork")), T_VNET,
                                      child["id"], "remoteVirtualNetwork.id")
                if remote is None:
                    raise TopologyError(child["id"], "remoteVirtualNetwork.id is required",
                                        field="remoteVirtualNetwork.id")
                if cprops.get("useRemoteGateways") is True:
                    # doc virtual-network-manage-peering: one peering per VNet may use them.
                    if remote_gateways is not None:
                        raise TopologyError(child["id"], "useRemoteGateways is already set on "
                                            f"peering {remote_gateways}; only one peering of a "
                                            "virtual network can use remote gateways",
                                            field="useRemoteGateways",
                                            code="PeeringUseRemoteGatewaysConflict")
                    remote_gateways = child["name"]
                self._unmodelled_fields(child["id"], cprops, "peering")
                state = str(cprops.get("peeringState", "Connected"))
                if state.lower() != "connected":
                    continue  # doc: only Connected peerings carry traffic
                remote_vnet = self.vnets[key(remote)]
                for mine in vnet.spaces:
                    for theirs in remote_vnet.spaces:
                        if mine.overlaps(theirs):
                            raise TopologyError(child["id"], f"peered address spaces overlap "
                                                f"({mine} and {theirs})",
                                                field="remoteVirtualNetwork.id",
                                                code="VnetAddressSpacesOverlap")
                routed, routed6 = remote_vnet.spaces, remote_vnet.spaces6
                sync = str(cprops.get("peeringSyncLevel") or "FullyInSync").lower()
                peered = (cprops.get("remoteAddressSpace") or {}).get("addressPrefixes")
                if sync != "fullyinsync" and isinstance(peered, list) and peered:
                    routed, routed6 = self._split_prefixes(
                        peered, child["id"], "remoteAddressSpace.addressPrefixes")
                    if set(routed) != set(remote_vnet.spaces):
                        self.note(Assumption(
                            "ASSUME_PEERING_REMOTE_ADDRESS_SPACE", child["id"],
                            f"peering is {cprops.get('peeringSyncLevel')}: routes cover the "
                            f"peered space {', '.join(map(str, routed))}",
                            field="remoteAddressSpace",
                            alternatives=("routes cover the remote VNet's current space",)))
                links.append(Peering(child["id"], remote,
                                     cprops.get("allowVirtualNetworkAccess", True) is not False,
                                     cprops.get("allowForwardedTraffic", False) is True,
                                     routed, routed6))
                peers.append(remote)
                self.links[(vkey, key(remote))] = links[-1]
            self.vnets[vkey] = VirtualNetwork(vnet.id, vnet.name, vnet.location, vnet.spaces,
                                              vnet.subnet_ids, tuple(peers), tuple(links),
                                              vnet.spaces6)

    def _external_peer(self, child: JSON) -> Peering | None:
        """A Connected peering to a VNet the topology does not hold (another subscription, no
        read access) that says what it peered: kept, its space routed, and a packet sent there
        stops with the verdict undetermined. Without remoteAddressSpace it is a dangling
        reference, refused by the caller."""
        cprops = child["properties"]
        remote = _ref(cprops.get("remoteVirtualNetwork"))
        peered = (cprops.get("remoteAddressSpace") or {}).get("addressPrefixes")
        if remote is None or key(remote) in self.raw or not isinstance(peered, list) \
                or not peered:
            return None
        if str(cprops.get("peeringState", "Connected")).lower() != "connected":
            return None
        self._unmodelled_fields(child["id"], cprops, "peering")
        routed, routed6 = self._split_prefixes(peered, child["id"],
                                               "remoteAddressSpace.addressPrefixes")
        self.note(Assumption(
            "EXTERNAL_VNET", child["id"], f"the peered VNet {remote} is not in the topology: "
            f"its peered space {', '.join(map(str, routed))} is routed, and a packet sent "
            "there stops, verdict undetermined", field="remoteVirtualNetwork.id",
            alternatives=("the packet is delivered", "the packet is dropped")))
        return Peering(child["id"], remote,
                       cprops.get("allowVirtualNetworkAccess", True) is not False,
                       cprops.get("allowForwardedTraffic", False) is True, routed, routed6)

    def _parse_nic(self, res: JSON) -> None:
        rid, props = res["id"], res["properties"]
        if not props["ipConfigurations"]:
            raise TopologyError(rid, "a network interface needs at least one ipConfiguration",
                                field="ipConfigurations")
        if not props.keys().isdisjoint(_UNMODELLED_FIRST["networkInterface"]):
            self._unmodelled_fields(rid, props, "networkInterface")
        configs: list[IpConfig] = []
        configs6: list[IpConfig] = []
        vnet_keys: list[str] = []  # of each IPv4 configuration, in order
        subnets = self.subnets
        for child in props["ipConfigurations"]:
            cid, cprops = child["id"], child["properties"]
            version = cprops.get("privateIPAddressVersion")
            text = cprops.get("privateIPAddress")
            if (version and str(version).lower() == "ipv6") or ":" in str(text or ""):
                configs6.append(self._parse_ip6_config(child))
                continue
            addr = parse_address(text, cid, "privateIPAddress")
            subnet_id = _ref(cprops.get("subnet"))
            subnet = subnets.get(key(subnet_id)) if subnet_id else None
            if subnet is None:
                raise TopologyError(cid, f"subnet.id {subnet_id!r} is not a subnet in the "
                                    "topology", field="subnet.id",
                                    code="InvalidResourceReference")
            for net in subnet.prefixes:
                if addr in net:
                    break
            else:
                raise TopologyError(cid, f"{addr} is outside subnet {subnet.id} "
                                    f"({', '.join(map(str, subnet.prefixes))})",
                                    field="privateIPAddress",
                                    code="PrivateIPAddressNotInSubnet")
            pip = self._lookup(_ref(cprops.get("publicIPAddress")), T_PIP, cid,
                               "publicIPAddress.id")
            asgs = tuple(map(key, _asg_ids(cprops, "applicationSecurityGroups", cid))) \
                if cprops.get("applicationSecurityGroups") is not None else ()
            vnet_key = key(subnet.vnet_id)
            for asg in asgs:
                self._lookup(asg, T_ASG, cid, "applicationSecurityGroups")
                self._join_asg(asg, cid, addr, vnet_key)
            if not cprops.keys().isdisjoint(_UNMODELLED_FIRST["ipConfiguration"]):
                self._unmodelled_fields(cid, cprops, "ipConfiguration")
            configs.append(IpConfig(cid, child["name"], addr, subnet.id,
                                    bool(cprops.get("primary", False)), asgs, pip))
            vnet_keys.append(vnet_key)
        if not configs:
            raise TopologyError(rid, "a network interface needs an IPv4 ipConfiguration "
                                "(Azure requires the primary one to be IPv4)",
                                field="ipConfigurations")
        if not (configs[0].primary if len(configs) == 1 else any(c.primary for c in configs)):
            first = configs[0]
            configs[0] = IpConfig(first.id, first.name, first.address, first.subnet_id, True,
                                  first.asg_ids, first.public_ip_id)
        if len(configs) > 1:
            configs.sort(key=lambda c: not c.primary)
        nsg = self._lookup(_ref(props.get("networkSecurityGroup")), T_NSG, rid,
                           "networkSecurityGroup.id")
        vm_ref = _ref(props.get("virtualMachine"))
        vm_type = T_VMSS_VM if vm_ref and "/virtualmachinescalesets/" in key(vm_ref) else T_VM
        vm = self._lookup(vm_ref, vm_type, rid, "virtualMachine.id")
        nic = Nic(rid, res["name"], tuple(configs), nsg,
                  bool(props.get("enableIPForwarding", False)), vm, tuple(configs6))
        self.nics[key(rid)] = nic
        ip_index = self.ip_index
        every = (*configs, *configs6) if configs6 else configs
        if len(every) > 1:  # sorted above: the keys are looked up again
            vnet_keys = [key(subnets[key(cfg.subnet_id)].vnet_id) for cfg in every]
        for cfg, vnet_key in zip(every, vnet_keys, strict=True):
            entry = (nic, cfg)
            # One look-up (an address's hash is computed in Python, each time it is asked).
            taken = ip_index.setdefault((vnet_key, cfg.address), entry)
            if taken is not entry:
                raise TopologyError(cfg.id, f"{cfg.address} is already used by {taken[1].id}",
                                    field="privateIPAddress", code="PrivateIPAddressInUse")
            if cfg.public_ip_id is not None:
                self._index_public_ip(nic, cfg)

    def _parse_ip6_config(self, child: JSON) -> IpConfig:
        """A privateIPAddressVersion IPv6 configuration (twin-semantics §13.1): its address
        must lie in an IPv6 prefix of its subnet; it joins its ASGs like an IPv4 one."""
        cid, cprops = child["id"], child["properties"]
        text = cprops.get("privateIPAddress")
        try:
            addr = ipaddress.ip_address(str(text).strip()) if isinstance(text, str) else None
        except ValueError:
            addr = None
        if not isinstance(addr, ipaddress.IPv6Address):
            raise TopologyError(cid, f"{text!r} is not an IPv6 address; an IPv6 ipConfiguration "
                                "needs privateIPAddress such as \"fd00:db8:1:1::4\"",
                                field="privateIPAddress", code="InvalidIPAddressFormat")
        subnet_id = _ref(cprops.get("subnet"))
        subnet = self.subnets.get(key(subnet_id)) if subnet_id else None
        if subnet is None:
            raise TopologyError(cid, f"subnet.id {subnet_id!r} is not a subnet in the "
                                "topology", field="subnet.id", code="InvalidResourceReference")
        if not any(addr in net for net in subnet.prefixes6):
            raise TopologyError(cid, f"{addr} is outside the IPv6 prefixes of subnet "
                                f"{subnet.id} ({', '.join(map(str, subnet.prefixes6)) or 'none'})",
                                field="privateIPAddress", code="PrivateIPAddressNotInSubnet")
        pip = self._lookup(_ref(cprops.get("publicIPAddress")), T_PIP, cid,
                           "publicIPAddress.id")
        asgs = tuple(key(a) for a in _asg_ids(cprops, "applicationSecurityGroups", cid))
        for asg in asgs:
            self._lookup(asg, T_ASG, cid, "applicationSecurityGroups")
            self._join_asg(asg, cid, addr, key(subnet.vnet_id))
        self._unmodelled_fields(cid, cprops, "ipConfiguration")
        return IpConfig(cid, child["name"], addr, subnet.id, False, asgs, pip)

    def _join_asg(self, asg: str, cfg_id: str, addr: ipaddress.IPv4Address | ipaddress.IPv6Address,
                  vnet_key: str) -> None:
        """Membership is per ipConfiguration; every member of an ASG is in one VNet (doc
        application-security-groups: the first member fixes it, others are refused)."""
        home = self.asg_vnet.setdefault(asg, vnet_key)
        if home != vnet_key:
            raise TopologyError(cfg_id, f"application security group {self.asgs[asg]} already "
                                f"has members in virtual network {self.vnets[home].id}; all "
                                "its members must be in one virtual network",
                                field="applicationSecurityGroups",
                                code="ApplicationSecurityGroupsNotInSameVnet")
        self.asg_members[asg].add(addr)

    def _index_public_ip(self, nic: Nic, cfg: IpConfig) -> None:
        if cfg.public_ip_id is None:
            return
        pip = self.public_ips[key(cfg.public_ip_id)]
        text = (pip.get("properties") or {}).get("ipAddress")
        try:
            address = ipaddress.ip_address(str(text)) if text else None
        except ValueError:
            address = None
        if isinstance(address, ipaddress.IPv4Address):
            # Basic public IPs were retired on 30 September 2025: no SKU reads as Standard.
            sku = str((pip.get("sku") or {}).get("name") or "Standard")
            self.public_ip_index[address] = (nic, cfg, sku)

    def _parse_admin_rules(self, res: JSON) -> None:
        """The effective security admin rules of one VNet, as listNetworkManagerEffective-
        SecurityAdminRules returns them (twin-semantics §3.1); only these are in force."""
        rid = res["id"]
        vnet_id = self._lookup(res.get("vnetId") if isinstance(res.get("vnetId"), str) else None,
                               T_VNET, rid, "vnetId")
        if vnet_id is None:
            raise TopologyError(rid, "vnetId (the virtual network the rules apply to) is "
                                "required", field="vnetId")
        values = res.get("value")
        if not isinstance(values, list):
            raise TopologyError(rid, "'value' must be the list of effective admin rules",
                                field="value")
        location = self.vnets[key(vnet_id)].location
        rules = [parse_admin_rule(item, rid, i) for i, item in enumerate(values)]
        by_direction: dict[str, tuple[SecurityRule, ...]] = {}
        for direction in ("Inbound", "Outbound"):
            # Sorted by priority; sorted() is stable, so ties keep the listed order.
            mine = sorted((r for r in rules if r.direction == direction),
                          key=lambda r: r.priority)
            for a, b in itertools.pairwise(mine):
                if a.priority == b.priority and a.access != b.access:
                    self.note(Assumption("ASSUME_ADMIN_PRIORITY_TIE", b.id, f"{a.name!r} and "
                                         f"{b.name!r} share priority {a.priority}: the first "
                                         "listed wins", field="priority"))
            by_direction[direction] = tuple(mine)
        for rule, item in zip(rules, values, strict=True):
            if str(item.get("kind", "Custom")).lower() == "default":
                self.note(Assumption("ASSUME_ADMIN_DEFAULT_RULE", rule.id, "a kind:Default "
                                     "admin rule is evaluated from its explicit fields",
                                     field="kind"))
            self._note_rule_prefixes(rule, location)
        self.admin_rules[key(vnet_id)] = by_direction

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
                                             nic.ip_forwarding, rid, nic.ip6_configs)
                for cfg in (*nic.ip_configs, *nic.ip6_configs):
                    vnet_key = key(self.subnets[key(cfg.subnet_id)].vnet_id)
                    self.ip_index[(vnet_key, cfg.address)] = (self.nics[key(nic_id)], cfg)
                    self._index_public_ip(self.nics[key(nic_id)], cfg)
            elif key(nic.vm_id) != key(rid):
                raise TopologyError(rid, f"network interface {nic_id} belongs to {nic.vm_id}",
                                    field="networkProfile.networkInterfaces")
        if len(ordered) > 1:
            ordered.sort(key=lambda item: item[0])  # stable: primary first, then listed order
        statuses = (props.get("instanceView") or {}).get("statuses") or []
        power = "PowerState/running"  # DESIGN.md: running when absent
        for status in statuses:
            code = str(status.get("code", "")) if isinstance(status, Mapping) else ""
            if code.lower().startswith("powerstate/"):
                power = code
        agent = any(is_agent_extension(ext["properties"]) for ext in self.extensions.get(key(rid), ()))
        loc = res.get("location")
        if not isinstance(loc, str) or not loc:
            raise TopologyError(rid, "a virtual machine needs a 'location'", field="location")
        self.vms[key(rid)] = VirtualMachine(rid, res["name"], loc,
                                            tuple(n for _, n in ordered), power, agent)

    def _parse_emulation(self, em: Any) -> Emulation:
        where = "emulation"
        if not isinstance(em, Mapping):
            raise TopologyError(where, "'emulation' must be an object")
        dns, dns6 = _parse_dns(em.get("dns") or {}, where)

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
        forwarded = str(em.get("peeringForwardedTraffic", "receiver")).lower()
        if forwarded not in FORWARDED_TRAFFIC_MODES:
            raise TopologyError(where, f"peeringForwardedTraffic must be one of "
                                f"{', '.join(FORWARDED_TRAFFIC_MODES)}, got {forwarded!r}",
                                field="peeringForwardedTraffic")
        return Emulation(dns, listeners, guest, probes, default, overrides, forwarded, dns6)

    # -- queries used by the engine and the server --------------------------------------------
    def nics_at(self, address: IPAddress) -> dict[str, tuple[Nic, IpConfig]]:
        """VNet key -> (NIC, ipConfiguration) holding ``address`` (by address: a hub peered
        with hundreds of spokes finds a destination without asking each spoke)."""
        owners = self.cache.get("ip-owners")
        if owners is None:
            owners = {}
            for (vnet_key, addr), found in self.ip_index.items():
                owners.setdefault(addr, {})[vnet_key] = found
            self.cache["ip-owners"] = owners
        return owners.get(address, {})

    def link(self, local_vnet_id: str, remote_vnet_id: str) -> Peering | None:
        """The Connected peering declared on the local VNet toward the remote one."""
        return self.links.get((key(local_vnet_id), key(remote_vnet_id)))

    def subnet_of(self, cfg: IpConfig) -> Subnet:
        return self.subnets[key(cfg.subnet_id)]

    def vnet_of(self, cfg: IpConfig) -> VirtualNetwork:
        return self.vnets[key(self.subnet_of(cfg).vnet_id)]

    def resources_of_type(self, rtype: str, group: str | None = None) -> list[JSON]:
        """Top-level resources of one ARM type, in topology order (what a list returns);
        ``group``: only those of that resource group (case-insensitive)."""
        wanted = (rtype.lower(), group.lower() if group is not None else None)
        return [self.raw[k] for k in self._listing().by_type.get(wanted, ())]

    def resource_groups(self) -> dict[str, tuple[str, str]]:
        """Lower-cased resource group name -> (name as first spelled, location of its first
        resource), in topology order."""
        return self._listing().groups

    def _subnets_using(self, route_table_key: str) -> tuple[str, ...]:
        """Keys of the subnets associated with a route table (writes never move subnets,
        so derived topologies share the index)."""
        found = self.cache.get("route-table-subnets")
        if found is None:
            found = {}
            for k, sn in self.subnets.items():
                if sn.route_table_id:
                    found.setdefault(key(sn.route_table_id), []).append(k)
            self.cache["route-table-subnets"] = found
        return tuple(found.get(route_table_key, ()))

    def _listing(self) -> Listing:
        # Built on first use and shared by every topology a rule or route write derives from
        # this one (such a write changes no top-level id, type or location), so a
        # resource-group-scoped request reads a dict instead of scanning every resource.
        found = self.cache.get("listing")
        if found is None:
            found = self.cache["listing"] = Listing(self.document["resources"])
        return found

    def with_child(self, parent_id: str, field: str, child: JSON) -> tuple[Topology, bool]:
        """A new topology with ``child`` put into the parent's ``field`` list (upsert by name).

        Returns (topology, created). Raises TopologyError if the result is invalid, so a PUT
        can never leave the emulator with a network Azure would refuse.
        """
        def change(items: list[JSON]) -> tuple[list[JSON], bool]:
            for i, existing in enumerate(items):
                if str(existing.get("name", "")).lower() == str(child["name"]).lower():
                    return [*items[:i], child, *items[i + 1:]], False
            return [*items, child], True

        return self._rewrite(parent_id, field, change)

    def without_child(self, parent_id: str, field: str, name: str) -> tuple[Topology, bool]:
        """A new topology without the named child; (self, False) when it did not exist."""
        def change(items: list[JSON]) -> tuple[list[JSON], bool]:
            return [c for c in items if str(c.get("name", "")).lower() != name.lower()], True

        parent = self.raw[key(parent_id)]
        items = parent["properties"].get(field) or []
        if not any(str(c.get("name", "")).lower() == name.lower() for c in items):
            return self, False
        return self._rewrite(parent_id, field, change)

    def _rewrite(self, parent_id: str, field: str,
                 change: Callable[[list[JSON]], tuple[list[JSON], bool]],
                 ) -> tuple[Topology, bool]:
        """This topology with one NSG's rules or one route table's routes changed.

        Only that resource is copied and parsed again (and validated as a load would); every
        other record is shared, being immutable, and only the derived indexes that may depend
        on it leave the cache. A what-if write then costs what one resource costs, not what
        the estate costs. Other parents fall back to a full rebuild.
        """
        pkey = key(parent_id)
        resources = self.document["resources"]
        index = self._listing().positions[pkey]
        old_parent = resources[index]
        parent = copy.deepcopy(old_parent)
        items, created = change(parent["properties"].get(field) or [])
        parent["properties"][field] = items
        rtype = str(parent["type"]).lower()
        replaced = list(resources)  # one slot changes: the list is copied, not rebuilt
        replaced[index] = parent
        document = {**self.document, "resources": replaced}
        if (rtype, field) not in REWRITABLE:
            return Topology(copy.deepcopy(document), owned=True), created
        segment, suffix = REWRITABLE[(rtype, field)]
        new = copy.copy(self)
        new.document = document
        # The parent's children in raw are exactly the entries of its old list (_children
        # gave each its id), so only those leave; the new ones come in with the parse below.
        gone = {key(c["id"]) for c in old_parent["properties"].get(field) or []
                if isinstance(c, Mapping) and isinstance(c.get("id"), str)}
        new.raw = dict(self.raw)
        for k in gone:
            new.raw.pop(k, None)
        new.raw[pkey] = parent
        new._children(parent, parent["properties"], field, segment, suffix)
        # Assumptions about the parent or its old or new children are noted again by the
        # parse; the lists of every other resource are shared (nothing appends to them).
        touched = gone | {key(c["id"]) for c in items} | {pkey}
        new.assumptions_at = dict(self.assumptions_at)
        dropped = [id(a) for k in touched for a in new.assumptions_at.pop(k, ())]
        if dropped:
            dropped_ids = set(dropped)
            new.assumptions = [a for a in self.assumptions if id(a) not in dropped_ids]
        else:
            new.assumptions = list(self.assumptions)
        new.cache = dict(self.cache)
        if rtype == T_NSG:
            new.nsgs = dict(self.nsgs)
            new._parse_nsg(parent)
            new._check_asg_pairs(new.nsgs[pkey])
            stale: list[tuple[str | int, ...]] = [("nsg", pkey, d) for d in ("Inbound", "Outbound")]
        else:
            new.route_tables = dict(self.route_tables)
            new._parse_route_table(parent)
            users = self._subnets_using(pkey)
            stale = [(kind, k) for kind in ("routes", "routes6", "vnet-tag") for k in users]
            stale += [("user-routes", pkey, v) for v in (4, 6)]  # routing.expanded_user_routes
        for stale_key in stale:
            new.cache.pop(stale_key, None)
        return new, created


class Listing:
    """What ARM list calls and writes read, indexed in one pass over the top-level resources:
    keys by (type, None) and by (type, resource group), the resource groups, and each
    resource's position in the document."""

    __slots__ = ("by_type", "groups", "positions")

    def __init__(self, resources: Iterable[JSON] = ()) -> None:
        self.by_type: dict[tuple[str, str | None], list[str]] = {}
        self.groups: dict[str, tuple[str, str]] = {}
        self.positions: dict[str, int] = {}  # key -> index in document["resources"]
        for i, res in enumerate(resources):
            self.add(i, res, key(res["id"]), str(res.get("type", "")).lower())

    def add(self, i: int, res: JSON, k: str, rtype: str, group_name: str | None = None) -> None:
        """The resource at document position ``i``, of key ``k`` and lower-cased type (the
        loader calls this from its own pass over the resources, which has both at hand, and
        its resource group's name when it read it from the id)."""
        rid = res["id"]
        self.positions[k] = i
        by_type = self.by_type
        found = by_type.get((rtype, None))
        if found is None:
            by_type[(rtype, None)] = [k]
        else:
            found.append(k)
        # Loaded ids start /subscriptions/{id}/resourceGroups/{name}/ (the loader refuses
        # others but the subscription-scoped Service Tags): split off the prefix only.
        if group_name is not None:
            name: str | None = group_name
        else:
            parts = rid.split("/", 5)
            name = parts[4] if len(parts) > 5 and parts[3].lower() == "resourcegroups" \
                else resource_group_of(rid)
        if name:
            group = name.lower()
            by_type.setdefault((rtype, group), []).append(k)
            if group not in self.groups:
                self.groups[group] = (name, str(res.get("location", "")))


# Writable children the topology can re-parse alone: (type, field) -> (segment, child type).
REWRITABLE = {
    (T_NSG, "securityRules"): ("securityRules", "networkSecurityGroups/securityRules"),
    (T_RT, "routes"): ("routes", "routeTables/routes"),
}


def _parse_latency(value: Any, field: str) -> Latency:
    if isinstance(value, Mapping):
        nums = [value.get(k) for k in ("min", "avg", "max")]
        if all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in nums):
            lo, avg, hi = (int(n) for n in nums)  # type: ignore[arg-type]
            if lo <= avg <= hi:
                return Latency(lo, avg, hi)
    raise TopologyError("emulation", f"latency must be {{'min','avg','max'}} integers with "
                        f"0 <= min <= avg <= max, got {value!r}", field=field)


def _landing_zone() -> JSON:
    from .landing_zone import build
    return build()


def _contoso() -> JSON:
    return dict(json.loads(DEFAULT_TOPOLOGY_PATH.read_text(encoding="utf-8")))


# Bundled estates by name: nwlab.emulate("landing-zone"), --topology landing-zone (docs/twin.md).
BUNDLED: dict[str, Callable[[], JSON]] = {"contoso": _contoso, "landing-zone": _landing_zone}


@collector_paused  # the JSON decode allocates as much as the parse
def load_topology(source: str | os.PathLike[str] | Mapping[str, Any] | Topology | None = None,
                  ) -> Topology:
    """Load a topology from a path, a dict, a bundled estate's name (``"landing-zone"``,
    ``"contoso"``), or None (the bundled Contoso topology)."""
    if isinstance(source, Topology):
        return Topology(source.document)
    if source is None:
        source = DEFAULT_TOPOLOGY_PATH
    if isinstance(source, str) and source.lower() in BUNDLED:
        return Topology(BUNDLED[source.lower()](), owned=True)
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
    return Topology(document, owned=True)


def iter_nics_of_vnet(topo: Topology, vnet_id: str) -> Iterable[tuple[Nic, IpConfig]]:
    """Every (NIC, ipConfiguration) attached to a VNet."""
    vk = key(vnet_id)
    return (v for (k, addr), v in topo.ip_index.items() if k == vk and addr.version == 4)
