"""Fixes as data: from the NSG rule or route that blocks a flow, the changes that would let it
through, smallest first, each with the az command and the REST request that applies it.

Pure builders: nothing here sends a request. `proven` stays None until a fix has been applied to
a twin and the check re-run (Diagnosis.verify_fixes, issue 13 item 4).

Smallest first means: an allow rule for exactly the failing flow, at the free priority just
above the deny (every rule evaluated before the deny already failed to match the flow, so the new
rule changes nothing else); then narrowing the deny so it no longer covers the flow; then deleting
it. When the deny sits at priority 100 (no user priority is evaluated before it), no allow rule can
go above it: narrowing the deny is then the first fix, and its note says so.

Every fix also says what it opens beyond the failing flow (`widens`, empty when it opens exactly
that flow), and a fix may take several steps (`steps`: the allow rules in two NSGs that both deny,
an admin rule and the commit that deploys it), applied in order.

The request bodies follow the 2024-05-01 SecurityRule and Route schemas of
Azure/azure-rest-api-specs (networkSecurityGroup.json, routeTable.json): read-only fields are
left out, and a rule side holds one value in its singular field (the only one that may be '*'
or a tag) or several CIDRs in its plural field, never both, as the service requires
(SecurityRuleParameterContainsUnsupportedValue otherwise) and as az network nsg rule update
writes them. The az commands use only the arguments the az CLI documents for each verb.
"""

from __future__ import annotations

import ipaddress
import re
import shlex
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from nwlab.arm.clouds import CLOUDS
from nwlab.arm.ids import parse_resource_id
from nwlab.arm.session import DEFAULT_API_VERSIONS
from nwlab.diagnostics.flow import split_rule_name
from nwlab.diagnostics.render import table_frame
from nwlab.diagnostics.routes import EffectiveRoute

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

__all__ = ["BlockingRoute", "BlockingRule", "Fix", "FixRequest", "Flow", "combine",
           "fixes_frame", "nsg_fixes", "nsg_rule_fixes", "route_fixes", "rule_side", "widens_of"]

ARM = CLOUDS["AzureCloud"].endpoint
NETWORK_API = DEFAULT_API_VERSIONS["Microsoft.Network"]
# User rules take priorities 100-4096 (Azure NSG overview); default rules sit at 65000-65500.
MIN_PRIORITY, MAX_PRIORITY = 100, 4096
ALL_PORTS = (0, 65535)
_PROTOCOLS = {"tcp": "Tcp", "udp": "Udp", "icmp": "Icmp", "*": "*", "all": "*", "any": "*"}
_NEXT_HOPS = {h.lower(): h for h in ("VirtualNetworkGateway", "VnetLocal", "Internet",
                                     "VirtualAppliance")}
# Azure's default denies (NSG overview), for NSGs read without their defaultSecurityRules.
_DEFAULT_DENIES = {"denyallinbound": (65500, "Inbound"), "denyalloutbound": (65500, "Outbound")}
_NAME_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")
# Rule and route names: 1-80 characters, a letter or digit first, a letter, digit or '_' last
# (Azure naming rules for Microsoft.Network child resources).
NAME_MAX = 80
PATH_SAFE = "/!$&'()*+,;=:@"  # RFC 3986 path characters besides unreserved ones
DESCRIPTION = 140  # a rule's description is "restricted to 140 chars" (SecurityRule schema)
# Read-only properties of the SecurityRule and Route schemas: a PUT body leaves them out.
READ_ONLY = frozenset({"provisioningState", "hasBgpOverride"})


@dataclass(frozen=True)
class FixRequest:
    """The REST call that applies a fix: method, absolute URL with api-version, JSON body."""

    method: str
    url: str
    body: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"method": self.method, "url": self.url, "body": self.body}


@dataclass(frozen=True)
class Fix:
    """One change that would let the flow through; `proven` is None until verified on a twin."""

    kind: str  # add-allow-rule, narrow-deny-rule, delete-deny-rule, add-route, change-route, ...
    title: str
    command: str  # the az command; one line per step when the fix takes several
    request: FixRequest  # the first step's request (`requests` has every step's)
    resource_id: str  # the NSG, route table or admin rule the fix changes (the first step's)
    note: str = ""
    proven: bool | None = None
    # The check's result after the fix was applied to a twin (set with `proven`).
    result: Any = field(default=None, compare=False, repr=False)
    # What the fix lets through beyond the failing flow; "" when it opens exactly that flow.
    widens: str = ""
    # Every step as (az command, request) when the fix takes more than one, in order.
    steps: tuple[tuple[str, FixRequest], ...] = ()

    @property
    def commands(self) -> tuple[str, ...]:
        return tuple(c for c, _ in self.steps) or (self.command,)

    @property
    def requests(self) -> tuple[FixRequest, ...]:
        return tuple(r for _, r in self.steps) or (self.request,)

    def with_proof(self, proven: bool, result: Any = None) -> Fix:
        return replace(self, proven=proven, result=result)

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "title": self.title, "command": self.command,
                "request": self.request.to_dict(), "resource_id": self.resource_id,
                "note": self.note, "proven": self.proven, "widens": self.widens,
                "requests": [r.to_dict() for r in self.requests]}

    def __str__(self) -> str:
        proof = {True: "proven", False: "not proven", None: "not verified"}[self.proven]
        commands = "\n  ".join(self.commands)
        wider = f"\n  opens more than the flow: {self.widens}" if self.widens else ""
        return f"{self.title} ({proof})\n  {commands}{wider}"


def combine(fixes: Iterable[Fix], *, title: str, note: str) -> Fix:
    """One fix made of several, applied in order: what a flow needs when more than one layer
    (two NSGs, an admin rule and an NSG) denies it, since no single change then lets it by."""
    parts = list(fixes)
    if len(parts) < 2:
        raise ValueError("combine: needs two fixes or more; a single fix is already whole")
    steps = tuple(step for f in parts for step in (f.steps or ((f.command, f.request),)))
    widens = "; ".join(f.widens for f in parts if f.widens)
    return Fix(kind="+".join(f.kind for f in parts), title=title,
               command="\n".join(c for c, _ in steps), request=steps[0][1],
               resource_id=parts[0].resource_id, note=note, widens=widens, steps=steps)


@dataclass(frozen=True)
class Flow:
    """The packet that was blocked, as the rule sees it: protocol, source and destination address,
    destination port (None for ICMP or any)."""

    protocol: str
    source: str
    destination: str
    destination_port: int | None = None

    def __post_init__(self) -> None:
        proto = _PROTOCOLS.get(str(self.protocol).lower())
        if proto is None:
            raise ValueError(f"protocol: {self.protocol!r} is not Tcp, Udp, Icmp or '*'; e.g. "
                             "Flow('Tcp', '10.1.1.4', '10.1.4.4', 80)")
        object.__setattr__(self, "protocol", proto)
        for name in ("source", "destination"):
            try:
                ipaddress.ip_address(getattr(self, name))
            except ValueError:
                raise ValueError(f"{name}: {getattr(self, name)!r} is not an IP address; a fix "
                                 "opens exactly the failing flow, e.g. Flow('Tcp', '10.1.1.4', "
                                 "'10.1.4.4', 80)") from None
        port = self.destination_port
        if port is not None and (isinstance(port, bool) or not isinstance(port, int)
                                 or not 0 <= port <= 65535):
            raise ValueError(f"destination_port: {port!r} is not a port 0-65535; e.g. 80")


@dataclass(frozen=True)
class BlockingRule:
    """The deny that decided: its NSG, name, priority, direction and its own fields (the ARM
    securityRule `properties`: protocol, address prefixes, ASGs, port ranges, access)."""

    nsg_id: str
    name: str
    priority: int
    direction: str
    properties: Mapping[str, Any] = field(default_factory=dict)
    default: bool = False  # a default rule (DenyAllInBound...) cannot be changed or deleted

    @classmethod
    def from_arm(cls, nsg_id: str, rule: Mapping[str, Any], *, default: bool = False
                 ) -> BlockingRule:
        """From a securityRules (or defaultSecurityRules) item of an NSG GET."""
        props = dict(rule.get("properties") or {})
        return cls(nsg_id=nsg_id, name=str(rule.get("name") or ""),
                   priority=int(props.get("priority") or 0),
                   direction=str(props.get("direction") or ""), properties=props, default=default)


@dataclass(frozen=True)
class BlockingRoute:
    """The route that sends the flow to None (or a wrong appliance): its route table (None for a
    system route), name,
    prefix and source."""

    address_prefix: str
    route_table_id: str | None = None
    name: str | None = None
    source: str = "User"
    properties: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_effective(cls, route: EffectiveRoute, route_table_id: str | None = None,
                       address: str | None = None) -> BlockingRoute:
        """From the effective route that decides (EffectiveRoutes.route_for(ip)); a user route
        needs its table's id (NextHopResult.user_route_table_id), a system route has none. The
        prefix is the one holding `address` when the route lists several."""
        held = route.prefix_for(address) if address is not None else None
        prefix = str(held) if held is not None else next(iter(route.address_prefixes), "")
        user = route.source.lower() == "user"
        ips = list(getattr(route, "next_hop_ips", ()) or ())
        return cls(address_prefix=prefix, route_table_id=route_table_id if user else None,
                   name=route.name if user else None, source=route.source or "Default",
                   properties={"addressPrefix": prefix, "nextHopType": route.next_hop_type,
                               **({"nextHopIpAddress": ips[0]} if ips else {})})


def nsg_fixes(nsg: Mapping[str, Any], rule_name: str, flow: Flow, *, endpoint: str = ARM,
              api_version: str = NETWORK_API) -> list[Fix]:
    """The fixes for the rule `rule_name` of an NSG as ARM's GET returns it, in whichever
    spelling the diagnostics use (`UserRule_x`, `securityRules/x`, `DefaultRule_x`, bare `x`):
    the priorities and names taken in the rule's direction come from the same NSG."""
    nsg_id = str(nsg.get("id") or "")
    name, default = split_rule_name(rule_name)
    props = nsg.get("properties") or {}
    kinds = [("defaultSecurityRules", True), ("securityRules", False)]
    for kind, is_default in kinds if default is None else [k for k in kinds if k[1] == default]:
        for item in props.get(kind) or []:
            if isinstance(item, Mapping) and str(item.get("name") or "").lower() == name.lower():
                rule = BlockingRule.from_arm(nsg_id, item, default=is_default)
                same_way = [r for r in props.get("securityRules") or [] if isinstance(r, Mapping)
                            and str((r.get("properties") or {}).get("direction") or "").lower()
                            == rule.direction.lower()]
                return nsg_rule_fixes(
                    rule, flow, endpoint=endpoint, api_version=api_version,
                    taken_priorities=[int((r.get("properties") or {}).get("priority") or 0)
                                      for r in same_way],
                    taken_names=[str(r.get("name") or "") for r in props.get("securityRules") or []
                                 if isinstance(r, Mapping)])
    implied = _DEFAULT_DENIES.get(name.lower())
    if implied is not None and default is not False:
        # A GET that leaves the default rules out (a topology file): Azure's are implied.
        priority, direction = implied
        return nsg_fixes({**nsg, "properties": {**props, "defaultSecurityRules": [
            {"name": name, "properties": {"priority": priority, "direction": direction,
                                          "access": "Deny"}}]}}, f"DefaultRule_{name}", flow,
            endpoint=endpoint, api_version=api_version)
    raise ValueError(f"rule_name: {rule_name!r} is not a rule of NSG {nsg_id or '(no id)'}; pass "
                     "the NSG as GET returns it (securityRules and defaultSecurityRules) and the "
                     "rule named by the diagnostic, e.g. 'UserRule_DenyWeb'")


def nsg_rule_fixes(rule: BlockingRule, flow: Flow, *, taken_priorities: Iterable[int] = (),
                   taken_names: Iterable[str] = (), endpoint: str = ARM,
                   api_version: str = NETWORK_API) -> list[Fix]:
    """The fixes for a deny, smallest first (see the module docstring). A flow the rule
    cannot match (another protocol, a port or address outside its CIDRs and ranges) is a
    ValueError: no change to this rule is a fix for it."""
    rid = _nsg(rule.nsg_id)
    direction = _direction(rule.direction)
    miss = _misses(rule.properties, flow)
    if miss:
        raise ValueError(f"flow: {rule.name} does not match it ({miss}); pass the flow the rule "
                         "denies, e.g. the one the NSG diagnostic evaluated")
    taken = {int(p) for p in taken_priorities} | {rule.priority}
    fixes: list[Fix] = []
    priority = _free_priority(rule.priority, taken)
    if priority is not None:
        fixes.append(_allow_rule(rule, rid, flow, direction, priority, set(taken_names), endpoint,
                                 api_version))
    if rule.default:
        if not fixes:
            raise ValueError(f"rule: {rule.name} is a default rule and every priority from "
                             f"{MIN_PRIORITY} to {MAX_PRIORITY} is taken; free one first")
        return fixes  # default rules can be neither edited nor deleted
    narrowed = _narrow_deny(rule, rid, flow, endpoint, api_version)
    if narrowed is not None:
        fixes.append(narrowed)
    fixes.append(Fix(
        kind="delete-deny-rule", title=f"Delete the deny rule {rule.name}",
        command=az_command("network nsg rule delete", rid, "--nsg-name", [("-n", rule.name)]),
        request=FixRequest("DELETE", arm_url(endpoint, f"{rule.nsg_id}/securityRules/{rule.name}",
                                          api_version)),
        resource_id=rule.nsg_id,
        note="Removes the rule for every flow it covered, not only this one.",
        widens=widens_of(rule.properties, flow, f"{rule.name} no longer denies")))
    if priority is None:
        # Said on the first fix offered, whichever it is (narrowing, or deleting when the deny
        # cannot be narrowed exactly).
        fixes[0] = replace(fixes[0], note=f"No free priority below {rule.priority} among "
                           f"this NSG's {direction.lower()} rules (user rules take "
                           f"{MIN_PRIORITY}-{MAX_PRIORITY}): an allow rule cannot be evaluated "
                           "before this deny, so this is the smallest change. " + fixes[0].note)
    return fixes


def route_fixes(route: BlockingRoute, destination: str, *, next_hop_type: str,
                next_hop_ip: str | None = None, route_table_id: str | None = None,
                taken_names: Iterable[str] = (), endpoint: str = ARM,
                api_version: str = NETWORK_API) -> list[Fix]:
    """The fixes for a route to None or to a wrong appliance, smallest first: a host route for
    the destination with the
    intended next hop (in the blocking route's table, or `route_table_id` for a system route);
    then changing the None route's next hop; then deleting it (user routes only)."""
    hop = _NEXT_HOPS.get(str(next_hop_type).lower())
    if hop is None:
        raise ValueError(f"next_hop_type: {next_hop_type!r} is not one of "
                         f"{', '.join(_NEXT_HOPS.values())}; e.g. next_hop_type='VnetLocal'")
    if (hop == "VirtualAppliance") != (next_hop_ip is not None):
        raise ValueError("next_hop_ip: give it for next_hop_type='VirtualAppliance' (the "
                         "appliance's address, e.g. next_hop_ip='10.1.2.4') and only then")
    if next_hop_ip is not None:
        ipaddress.ip_address(next_hop_ip)
    address = ipaddress.ip_address(destination)
    host = f"{address}/{address.max_prefixlen}"
    table = route.route_table_id or route_table_id
    if table is None:
        raise ValueError("route_table_id: the blocking route is a system route, so the fix goes "
                         "into the subnet's route table; pass route_table_id= (create one with "
                         "az network route-table create, and associate it with the subnet)")
    rid = _parse(table, "routeTables", "route_table_id", "AppRouteTable")
    hop_props = {"nextHopType": hop, **({"nextHopIpAddress": next_hop_ip} if next_hop_ip else {})}
    hop_args = [("--next-hop-type", hop)] + ([("--next-hop-ip-address", next_hop_ip)]
                                              if next_hop_ip else [])
    name = unique_name(f"nwlab-host-{address}", set(taken_names))
    fixes: list[Fix] = []
    # A host route beside one with the same prefix is refused (RouteConflict: one route per
    # prefix in a table), so when the blocking route is already that host route it is changed.
    if not (route.route_table_id and _same_network(route.address_prefix, host)):
        fixes.append(Fix(
            kind="add-route", title=f"Add a route for {host} via {hop} in {rid.name}",
            command=az_command("network route-table route create", rid, "--route-table-name",
                        [("-n", name), ("--address-prefix", host), *hop_args]),
            request=FixRequest("PUT", arm_url(endpoint, f"{table}/routes/{name}", api_version),
                               {"properties": {"addressPrefix": host, **hop_props}}),
            resource_id=table,
            note=f"Longest prefix wins: {host} is chosen over {route.address_prefix} for this "
                 "destination only."))
    if route.route_table_id and route.name:
        path = f"{table}/routes/{route.name}"
        # az ... route update reads the route and writes it back: an appliance's address it
        # keeps must be cleared (the argument is nullable) for a hop that takes none.
        clear_ip = [("--next-hop-ip-address", "null")] \
            if route.properties.get("nextHopIpAddress") and not next_hop_ip else []
        fixes.append(Fix(
            kind="change-route",
            title=f"Send {route.address_prefix} via {hop} instead of "
                  f"{route.properties.get('nextHopType') or 'None'}",
            command=az_command("network route-table route update", rid, "--route-table-name",
                               [("-n", route.name), *hop_args, *clear_ip]),
            request=FixRequest("PUT", arm_url(endpoint, path, api_version), {"properties": {
                **{k: v for k, v in route.properties.items()
                   if k not in READ_ONLY | {"nextHopIpAddress", "nextHop"}},
                "addressPrefix": route.address_prefix, **hop_props}}),
            resource_id=table, note=f"Changes every destination in {route.address_prefix}.",
            widens=_route_widens(route.address_prefix, host)))
        fixes.append(Fix(
            kind="delete-route", title=f"Delete the route {route.name}",
            command=az_command("network route-table route delete", rid, "--route-table-name",
                        [("-n", route.name)]),
            request=FixRequest("DELETE", arm_url(endpoint, path, api_version)), resource_id=table,
            note="The system routes decide again for every destination it covered.",
            widens=_route_widens(route.address_prefix, host)))
    return fixes


def _route_widens(prefix: str, host: str) -> str:
    """A route change reaches every destination of its prefix: '' only for the host itself."""
    return "" if _same_network(prefix, host) else f"every destination in {prefix}"


def _same_network(prefix: str, host: str) -> bool:
    try:
        return ipaddress.ip_network(prefix, strict=False) == ipaddress.ip_network(host)
    except ValueError:
        return False


def fixes_frame(fixes: Iterable[Fix]) -> pd.DataFrame:
    """One row per fix: kind, title, proven, what it opens beyond the flow, the resource it
    changes, the az command, the (first) request."""
    columns = ("kind", "title", "proven", "widens", "resource_id", "command", "method", "url")
    return table_frame(columns, [{**f.to_dict(), "method": f.request.method,
                                  "url": f.request.url} for f in fixes])


# -- the allow rule ----------------------------------------------------------------------------

def _free_priority(deny: int, taken: set[int]) -> int | None:
    """The free priority just above (numerically just below) the deny; None when there is none."""
    for candidate in range(min(deny - 1, MAX_PRIORITY), MIN_PRIORITY - 1, -1):
        if candidate not in taken:
            return candidate
    return None


def _port_text(flow: Flow) -> str:
    return "*" if flow.destination_port is None or flow.protocol == "Icmp" \
        else str(flow.destination_port)


def _allow_rule(rule: BlockingRule, rid: Any, flow: Flow, direction: str, priority: int,
                names: set[str], endpoint: str, api_version: str) -> Fix:
    port = _port_text(flow)
    # The direction is in the name: one NSG may need an allow each way for one flow (on the
    # source's subnet outbound and the destination's inbound), and a PUT of a taken name
    # would overwrite the other.
    way = "in" if direction == "Inbound" else "out"
    label = f"nwlab-allow-{way}-{flow.protocol}-{port}-{flow.source}-to-{flow.destination}"
    name = unique_name(label.replace("*", "any").lower(), names)
    props = {"protocol": flow.protocol, "sourceAddressPrefix": flow.source,
             "sourcePortRange": "*", "destinationAddressPrefix": flow.destination,
             "destinationPortRange": port, "access": "Allow", "priority": priority,
             "direction": direction,
             "description": f"Allows the flow {rule.name} denied (added by nwlab)"[:DESCRIPTION]}
    return Fix(
        kind="add-allow-rule",
        title=f"Allow {flow.protocol} {flow.source} -> {flow.destination}:{port} at priority "
              f"{priority}, just above {rule.name} ({rule.priority})",
        command=az_command("network nsg rule create", rid, "--nsg-name", [
            ("-n", name), ("--priority", str(priority)), ("--direction", direction),
            ("--access", "Allow"), ("--protocol", flow.protocol),
            ("--source-address-prefixes", flow.source), ("--source-port-ranges", "*"),
            ("--destination-address-prefixes", flow.destination),
            ("--destination-port-ranges", port), ("--description", props["description"])]),
        request=FixRequest("PUT", arm_url(endpoint, f"{rule.nsg_id}/securityRules/{name}",
                                       api_version), {"properties": props}),
        resource_id=rule.nsg_id,
        note="Opens exactly the failing flow; the deny keeps covering everything else.",
        widens=widens_of(props, flow))


# -- what a rule covers beyond the flow ----------------------------------------------------------

def _values(props: Mapping[str, Any], single: str, many: str) -> list[str]:
    """A rule side's values, singular and plural together (a GET may show both fields)."""
    return [str(v) for v in (props.get(single), *(props.get(many) or [])) if v]


def _misses(props: Mapping[str, Any], flow: Flow) -> str:
    """Why a rule with `props` cannot match the flow ('' when it can, or when a tag or ASG
    leaves it open): its protocol, its destination ports, or CIDRs on a side that all miss."""
    protocol = str(props.get("protocol") or "*").lower()
    if protocol not in ("*", "any") and flow.protocol != "*" and protocol != flow.protocol.lower():
        return f"its protocol is {props.get('protocol')}, the flow's {flow.protocol}"
    ranges = _port_ranges(props)
    port = flow.destination_port
    if flow.protocol in ("Tcp", "Udp") and port is not None and ranges is not None and \
            not any(low <= port <= high for low, high in ranges):
        return f"port {port} is outside its destination ports"
    for side, address in (("source", flow.source), ("destination", flow.destination)):
        prefixes = _prefixes(props, side)
        if prefixes is None or props.get(f"{side}ApplicationSecurityGroups"):
            continue  # a tag or ASG: what it holds is not known here
        ip = ipaddress.ip_address(address)
        if not any(ip in ipaddress.ip_network(p) for p in prefixes
                   if ipaddress.ip_network(p).version == ip.version):
            return f"{side} {address} is outside its {side} prefixes"
    return ""


def _families(props: Mapping[str, Any], side: str) -> set[int]:
    """The address families a rule side can match: both for '*', a tag or an ASG."""
    prefixes = _prefixes(props, side)
    if prefixes is None or props.get(f"{side}ApplicationSecurityGroups"):
        return {4, 6}
    return {ipaddress.ip_network(p).version for p in prefixes}


def _is_host(value: str, address: str) -> bool:
    try:
        return ipaddress.ip_network(value, strict=False) == ipaddress.ip_network(address)
    except ValueError:
        return False  # '*', a tag or a range: more than the one address


def _nsg_shaped(props: Mapping[str, Any]) -> Mapping[str, Any]:
    """An admin rule's fields (sources/destinations as address prefix items) in the security
    rule's spelling; a security rule's as they are."""
    if "sources" not in props and "destinations" not in props:
        return props
    out = dict(props)
    for side in ("source", "destination"):
        out[f"{side}AddressPrefixes"] = [str(i.get("addressPrefix")) for i in
                                         props.get(f"{side}s") or [] if isinstance(i, Mapping)]
    return out


def _beyond(props: Mapping[str, Any], flow: Flow) -> list[str]:
    """Each field in which a rule with `props` (a security or an admin rule's) matches more
    than the flow, in words."""
    props = _nsg_shaped(props)
    out = []
    for side, address in (("source", flow.source), ("destination", flow.destination)):
        asgs = [a for a in props.get(f"{side}ApplicationSecurityGroups") or []
                if isinstance(a, Mapping)]
        if asgs:
            names = ", ".join(str(a.get("id") or "").rsplit("/", 1)[-1] for a in asgs)
            out.append(f"every {side} in {names}")
            continue
        values = _values(props, f"{side}AddressPrefix", f"{side}AddressPrefixes") or ["*"]
        if not all(_is_host(v, address) for v in values):
            out.append(f"{side}s {', '.join(values)}")
    if flow.protocol != "Icmp" and flow.destination_port is not None:
        ports = _values(props, "destinationPortRange", "destinationPortRanges") or ["*"]
        port = flow.destination_port
        if not all(v in (str(port), f"{port}-{port}") for v in ports):
            out.append(f"ports {', '.join(ports)}")
    if str(props.get("protocol") or "*").lower() in ("*", "any") and flow.protocol != "*":
        out.append("every protocol")
    return out


def widens_of(props: Mapping[str, Any], flow: Flow, lead: str = "also matches") -> str:
    """'' when a rule with `props` matches only the flow; else what else it matches, after
    `lead` (e.g. 'DenyWeb no longer denies'): 'also matches sources *, ports 80-90'."""
    extra = _beyond(props, flow)
    return f"{lead} {', '.join(extra)}" if extra else ""


def rule_side(props: Mapping[str, Any], single: str, many: str, values: list[str]
              ) -> dict[str, Any]:
    """`props` with one side rewritten as Azure takes it: one value in the singular field (the
    only one that may hold '*' or a tag), several in the plural one, the other field gone."""
    out = {k: v for k, v in props.items() if k not in (single, many)}
    if len(values) == 1:
        out[single] = values[0]
    else:
        out[many] = list(values)
    return out


# -- narrowing the deny ------------------------------------------------------------------------

def _narrow_deny(rule: BlockingRule, rid: Any, flow: Flow, endpoint: str, api_version: str
                 ) -> Fix | None:
    """The deny rewritten so it no longer covers the flow: the flow's source carved out of its
    source prefixes, or the flow's port out of its port ranges, whichever un-denies less. None
    when neither can be carved exactly (tags or ASGs as sources, and the deny is this one port)."""
    props = {k: v for k, v in rule.properties.items() if k not in READ_ONLY}
    is_outbound = rule.direction.lower() == "outbound"
    # The flow's own side: an outbound deny is carved on the destination (the remote end).
    side, address = ("destination", flow.destination) if is_outbound else ("source", flow.source)
    single, many = f"{side}AddressPrefix", f"{side}AddressPrefixes"
    options: list[tuple[float, str, list[str], Mapping[str, Any], str]] = []
    prefixes = _prefixes(props, side)
    if prefixes is not None and not props.get(f"{side}ApplicationSecurityGroups"):
        carved = _carve_address(prefixes, address)
        if carved is not None:
            kept, lost = carved
            other = "source" if side == "destination" else "destination"
            if lost and int(lost[-1]) not in _families(props, other):
                lost = ""  # the other side never matched that family: nothing is freed
            # What is un-denied: the address for whatever else the deny covers, and the other
            # address family when the deny's '*' cannot be kept beside the carved prefixes.
            freed = rule_side(props, single, many, [address])
            lost_text = f"no longer denies any {lost} {side} ('*' less one address is " \
                        "written in one address family: a rule's prefixes cannot mix them)" \
                if lost else ""
            options.append((float("inf") if lost else _port_count(props), "address", kept,
                            freed, lost_text))
    ports = _port_ranges(props)
    if flow.destination_port is not None and flow.protocol != "Icmp" and ports is not None:
        carved_ports = _carve_port(ports, flow.destination_port)
        if carved_ports:
            freed = rule_side(props, "destinationPortRange", "destinationPortRanges",
                              [str(flow.destination_port)])
            options.append((_address_count(prefixes), "port", carved_ports, freed, ""))
    if not options:
        return None
    _, what, values, unblocked, lost_text = min(options, key=lambda o: o[0])
    path = f"{rule.nsg_id}/securityRules/{rule.name}"
    if what == "address":
        body = rule_side(props, single, many, values)
        flag, subject = f"--{side}-address-prefixes", f"{address}"
    else:
        body = rule_side(props, "destinationPortRange", "destinationPortRanges", values)
        flag, subject = "--destination-port-ranges", f"port {flow.destination_port}"
    widens = "; ".join(w for w in (widens_of(unblocked, flow, f"{rule.name} no longer denies "
                                           f"{subject} for"), lost_text) if w)
    return Fix(
        kind="narrow-deny-rule", title=f"Narrow {rule.name} so it no longer covers {subject}",
        command=az_command("network nsg rule update", rid, "--nsg-name",
                    [("-n", rule.name), (flag, values)]),
        request=FixRequest("PUT", arm_url(endpoint, path, api_version), {"properties": body}),
        resource_id=rule.nsg_id,
        note=f"The deny keeps its priority and fields, minus {subject} "
             f"({'for every port it covers' if what == 'address' else 'for every source'}).",
        widens=widens)


def _prefixes(props: Mapping[str, Any], side: str) -> list[str] | None:
    """The side's prefixes as networks' text, or None when a tag or ASG is among them. '*'
    covers both address families."""
    values = _values(props, f"{side}AddressPrefix", f"{side}AddressPrefixes")
    out = []
    for value in values or ["*"]:
        if value in ("*", "Any"):
            out += ["0.0.0.0/0", "::/0"]
            continue
        try:
            out.append(str(ipaddress.ip_network(value, strict=False)))
        except ValueError:
            return None  # a service tag: its prefixes are not known here
    return out


def _carve_address(prefixes: list[str], address: str) -> tuple[list[str], str] | None:
    """(the prefixes without the address, the other family's name when prefixes of it had to be
    dropped), or None when no prefix holds the address. A rule's prefixes are of one family
    (ResourceCannotContainAddressPrefixesFromDifferentAddressFamilies), so the carved list
    keeps the address's family only."""
    ip = ipaddress.ip_address(address)
    out: list[str] = []
    carved = False
    lost = ""
    for text in prefixes:
        net: Any = ipaddress.ip_network(text)
        if net.version != ip.version:
            lost = f"IPv{net.version}"
        elif ip in net:
            carved = True
            host = ipaddress.ip_network(f"{ip}/{ip.max_prefixlen}")
            # address_exclude gives the smallest set of prefixes covering net without the host.
            out.extend(str(n) for n in sorted(net.address_exclude(host)))
        else:
            out.append(text)
    return (out, lost) if carved and out else None


def _port_ranges(props: Mapping[str, Any]) -> list[tuple[int, int]] | None:
    values = _values(props, "destinationPortRange", "destinationPortRanges")
    out = []
    for value in values or ["*"]:
        if value == "*":
            out.append(ALL_PORTS)
            continue
        low, _, high = value.partition("-")
        if not low.isdigit() or (high and not high.isdigit()):
            return None
        out.append((int(low), int(high or low)))
    return out


def _carve_port(ranges: list[tuple[int, int]], port: int) -> list[str] | None:
    out: list[tuple[int, int]] = []
    carved = False
    for low, high in ranges:
        if low <= port <= high:
            carved = True
            out.extend(r for r in ((low, port - 1), (port + 1, high)) if r[0] <= r[1])
        else:
            out.append((low, high))
    return [f"{a}" if a == b else f"{a}-{b}" for a, b in out] if carved and out else None


def _port_count(props: Mapping[str, Any]) -> int:
    ranges = _port_ranges(props) or [ALL_PORTS]
    return sum(high - low + 1 for low, high in ranges)


def _address_count(prefixes: list[str] | None) -> int:
    if prefixes is None:
        return 2 ** 32  # a tag or ASG: assume it is broad
    return sum(ipaddress.ip_network(p).num_addresses for p in prefixes)


# -- words and URLs ----------------------------------------------------------------------------

def _nsg(nsg_id: str) -> Any:
    return _parse(nsg_id, "networkSecurityGroups", "nsg_id", "WebNsg")


def _parse(resource_id: str, kind: str, name: str, example: str) -> Any:
    """The parsed id of a Microsoft.Network/`kind` resource, or a ValueError with an example."""
    rid = parse_resource_id(resource_id or "")
    if rid is None or rid.type.lower() != f"microsoft.network/{kind.lower()}":
        raise ValueError(f"{name}: {resource_id!r} is not a Microsoft.Network/{kind} id; e.g. "
                         "'/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/"
                         f"ContosoRG/providers/Microsoft.Network/{kind}/{example}'")
    return rid


def _direction(value: str) -> str:
    lowered = value.lower()
    if lowered not in ("inbound", "outbound"):
        raise ValueError(f"direction: {value!r} is not Inbound or Outbound")
    return value.capitalize()


def az_command(verb: str, rid: Any, parent_flag: str, args: list[tuple[str, Any]], *,
               parent: str | None = None) -> str:
    """An az command line, every word shell-quoted (shlex): the verb, the subscription and
    resource group of `rid`, `parent_flag` naming the parent (`rid`'s own name unless `parent`
    is given), then each (flag, value or list of values; [] for a bare flag)."""
    words = ["az", *verb.split(), "--subscription", rid.subscription, "-g", rid.resource_group,
             parent_flag, rid.name if parent is None else parent]
    for flag, value in args:
        words.append(flag)
        words.extend(value if isinstance(value, list) else [value])
    return " ".join(shlex.quote(str(w)) for w in words)


def arm_url(endpoint: str, path: str, api_version: str) -> str:
    """The request URL: the path percent-encoded where a URL path cannot carry a character
    (a space, '#', '?', '%', non-ASCII letters Azure allows in resource group names); what a
    path may hold as it is (RFC 3986 pchar: parentheses, '.', '-', '_') stays readable."""
    return f"{endpoint.rstrip('/')}{quote(path, safe=PATH_SAFE)}?api-version={api_version}"


def unique_name(name: str, taken: set[str]) -> str:
    """`name` made a valid child name (letters, digits, '_', '.', '-'; at most NAME_MAX; no
    trailing '-' or '.') not among `taken` (case-insensitively), by a -2, -3... suffix that
    keeps it within the limit."""
    lowered = {t.lower() for t in taken}
    base = _NAME_UNSAFE.sub("-", name).lstrip("-._") or "nwlab"

    def fit(stem: str, suffix: str = "") -> str:
        return stem[:NAME_MAX - len(suffix)].rstrip("-.") + suffix

    candidate, n = fit(base), 2
    while candidate.lower() in lowered:
        candidate, n = fit(base, f"-{n}"), n + 1
    return candidate
