"""The twin's answers to the diagnostics beside connectivityCheck, in Azure's shapes
(reference diagnostics-and-estate-api.md §2, §4.1, §4.2), computed from the same compiled NSGs
and route index the connectivity check forwards with (nsg.py, routing.py), so a twin's
effective routes are the routes it forwards with.

- networkConfigurationDiagnostic: every evaluated layer (admin rules, subnet NSG, NIC NSG, in
  the documented inbound order; reversed outbound, as NSG semantics run NIC then subnet) with
  the per-field match booleans of each rule up to the one that decides.
- effectiveRouteTable: the subnet's system and user routes, an overridden one as Invalid; a
  dual-stack VNet's IPv6 system routes beside its IPv4 ones.
- effectiveNetworkSecurityGroups: the NIC's and its subnet's NSGs, rules in the effective-rule
  spelling (securityRules/<n>, defaultSecurityRules/<n>, ranges written "a-b").
- connectionAnalyzers (2026-01-01): the resource (PUT/GET/DELETE) and its /query, each operation
  run by the engine; PortScan and ExpressRouteDiagnostic are not modelled (their error says so).
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Mapping
from typing import Any

from . import engine, nsg, routing
from .assumptions import Assumption
from .errors import ArmError
from .topology import IpConfig, Nic, PortRange, SecurityRule, Topology, key

__all__ = ["analyzer_query", "analyzer_resource", "effective_nsgs", "effective_routes",
           "network_configuration_diagnostic", "nic_of_target"]

# Tags a profile may name and the compiled-side flag each stands for.
_TAG_FLAGS = {"virtualnetwork": "vnet", "internet": "internet", "azureloadbalancer": "load_balancer"}


def nic_of_target(topo: Topology, target: Any) -> tuple[Nic, IpConfig]:
    """The NIC (a VM's primary, or the NIC itself) and its primary configuration."""
    rid = key(str(target or ""))
    if rid in topo.nics:
        nic = topo.nics[rid]
    elif rid in topo.vms:
        vm = topo.vms[rid]
        if not vm.nic_ids:
            raise ArmError(400, "InvalidTargetResource", f"{vm.id} has no network interface.")
        nic = topo.nics[key(vm.nic_ids[0])]
    else:
        raise ArmError(404, "ResourceNotFound",
                       f"The target resource '{target}' was not found (a VM or NIC id is "
                       "expected).")
    return nic, nic.ip_configs[0]


# -- networkConfigurationDiagnostic --------------------------------------------------------------

def _address(value: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """A profile side as one address: an IP, or a CIDR's network address, of either family (the
    spec's profile takes "IP Address/CIDR" of no stated family); None for '*' or a tag."""
    try:
        return ipaddress.ip_network(value, strict=False).network_address
    except ValueError:
        return None


def _profile_config(nic: Nic, profile: dict[str, str], index: int) -> IpConfig:
    """The NIC configuration a profile evaluates at: the family of its concrete sides (both
    sides of one family, as one packet has), IPv4 when neither side is an address."""
    families = {a.version for a in (_address(profile["source"]),
                                    _address(profile["destination"])) if a is not None}
    if len(families) > 1:
        raise ArmError(400, "InvalidRequestFormat", f"profiles[{index}]: source "
                       f"{profile['source']!r} and destination {profile['destination']!r} are "
                       "of different address families; give both as IPv4 or both as IPv6.")
    if families != {6}:
        return nic.ip_configs[0]
    if not nic.ip6_configs:
        raise ArmError(400, "InvalidRequestFormat", f"profiles[{index}] names IPv6 addresses but "
                       f"network interface {nic.id} has no IPv6 ipConfiguration; give IPv4 "
                       "addresses, or target a dual-stack NIC.")
    return nic.ip6_configs[0]


def _side(topo: Topology, side: nsg.Side, value: str, local_cfg: IpConfig | None,
          ctx: nsg.Context, packet: nsg.Packet, rule: SecurityRule,
          notes: list[Assumption]) -> bool:
    """Does a rule's address side match the profile's? A concrete address is matched by the
    engine; '*' or a tag matches only a rule side that names any / the same tag."""
    addr = _address(value)
    if value == "*" and local_cfg is not None:
        addr = local_cfg.address  # the local side of a NIC is its own address
    if addr is not None:
        local = local_cfg is not None
        return nsg._side_matches(topo, side, addr, local, False, ctx, packet, notes,
                                 rule) is True
    flag = _TAG_FLAGS.get(value.lower())
    return side.any or (flag is not None and bool(getattr(side, flag)))


def _profile(body: Mapping[str, Any], index: int) -> dict[str, str]:
    where = f"profiles[{index}]"
    out: dict[str, str] = {}
    for name in ("direction", "protocol", "source", "destination", "destinationPort"):
        value = body.get(name)
        if not isinstance(value, str | int) or str(value).strip() == "":
            raise ArmError(400, "InvalidRequestFormat", f"{where}.{name} is required.")
        out[name] = str(value).strip()
    out["direction"] = out["direction"].capitalize()
    if out["direction"] not in ("Inbound", "Outbound"):
        raise ArmError(400, "InvalidRequestFormat", f"{where}.direction must be Inbound or "
                       "Outbound.")
    if out["protocol"].upper() not in ("*", "TCP", "UDP", "ICMP"):
        raise ArmError(400, "InvalidRequestFormat", f"{where}.protocol must be *, TCP, UDP or "
                       "ICMP.")
    port = out["destinationPort"]
    if port != "*" and not (port.isdigit() and 0 <= int(port) <= 65535):
        raise ArmError(400, "InvalidRequestFormat", f"{where}.destinationPort must be '*' or one "
                       "port 0-65535.")
    return out


def _wire_name(rule: SecurityRule) -> str:
    if rule.admin:
        return rule.name
    return f"{'DefaultRule' if rule.default else 'UserRule'}_{rule.name}"


def _layer(topo: Topology, rules: tuple[nsg.Compiled, ...], profile: dict[str, str],
           cfg: IpConfig, ctx: nsg.Context, notes: list[Assumption],
           ) -> tuple[SecurityRule | None, list[dict[str, Any]]]:
    """The rule that decides in one layer (lowest priority first) and the evaluations up to it."""
    direction = profile["direction"]
    proto = profile["protocol"].capitalize()
    port = None if profile["destinationPort"] == "*" else int(profile["destinationPort"])
    outbound = direction == "Outbound"
    src_local, dst_local = (cfg, None) if outbound else (None, cfg)
    src = _address(profile["source"]) or cfg.address
    dst = _address(profile["destination"]) or cfg.address
    packet = nsg.Packet("Tcp" if proto == "*" else proto, src, None, dst, port)
    evaluated: list[dict[str, Any]] = []
    for item in rules:
        protocol_ok = item.protocol is None or (proto != "*" and item.protocol == proto)
        ports_free = proto == "Icmp"
        result = {
            "name": _wire_name(item.rule),
            "protocolMatched": protocol_ok,
            "sourceMatched": _side(topo, item.source, profile["source"], src_local, ctx,
                                   packet, item.rule, notes),
            "sourcePortMatched": True,  # a profile has no source port: any
            "destinationMatched": _side(topo, item.destination, profile["destination"],
                                        dst_local, ctx, packet, item.rule, notes),
            "destinationPortMatched": ports_free or (
                item.destination_ports is None if port is None
                else nsg._in_spans(item.destination_ports, port)),
        }
        evaluated.append(result)
        if all(v for k, v in result.items() if k != "name"):
            return item.rule, evaluated
    return None, evaluated


def network_configuration_diagnostic(topo: Topology, body: Any) -> tuple[dict[str, Any],
                                                                          list[Assumption]]:
    """NetworkConfigurationDiagnosticResponse for the target's primary NIC, and what it assumed."""
    if not isinstance(body, Mapping):
        raise ArmError(400, "InvalidRequestFormat", "The request body must be a JSON object.")
    profiles = body.get("profiles")
    if not isinstance(profiles, list) or not profiles:
        raise ArmError(400, "InvalidRequestFormat", "profiles must be a non-empty list.")
    nic, primary = nic_of_target(topo, body.get("targetResourceId"))
    subnet = topo.subnet_of(primary)
    notes: list[Assumption] = []
    results = []
    for index, raw in enumerate(profiles):
        profile = _profile(raw if isinstance(raw, Mapping) else {}, index)
        cfg = _profile_config(nic, profile, index)
        ctx = nsg.context(topo, cfg)
        for name in ("source", "destination"):
            if _address(profile[name]) is None and profile[name] != "*":
                notes.append(Assumption(
                    "ASSUME_NSG_DIAGNOSTIC_TAG_PROFILE", nic.id,
                    f"profile {name} {profile[name]!r} matches only rules naming '*' or the "
                    "same tag", field=f"profiles[{index}].{name}"))
        direction = profile["direction"]
        layers: list[tuple[str, str, tuple[nsg.Compiled, ...]]] = []
        admin = nsg.compiled_admin(topo, ctx.vnet_key, direction) if topo.admin_rules else ()
        vnet_id = topo.vnets[ctx.vnet_key].id
        if admin:
            manager = admin[0].rule.id.split("/securityAdminConfigurations/")[0] \
                if "/securityAdminConfigurations/" in admin[0].rule.id \
                else f"{vnet_id}/effectiveSecurityAdminRules"
            layers.append((manager, vnet_id, admin))
        nsg_layers = [(subnet.nsg_id, subnet.id), (nic.nsg_id, nic.id)]
        if direction == "Outbound":
            nsg_layers.reverse()
        layers += [(nsg_id, applied, nsg.compiled_nsg(topo, nsg_id, direction))
                   for nsg_id, applied in nsg_layers if nsg_id]
        access = "Allow"
        decided = False
        evaluated_nsgs = []
        for layer_id, applied, rules in layers:
            rule, evaluations = _layer(topo, rules, profile, cfg, ctx, notes)
            entry: dict[str, Any] = {"networkSecurityGroupId": layer_id, "appliedTo": applied,
                                     "rulesEvaluationResult": evaluations}
            if rule is not None:
                entry["matchedRule"] = {"ruleName": _wire_name(rule),
                                        "action": "Allow" if rule.access != "Deny" else "Deny"}
                if not decided and rule.access == "Deny":
                    access, decided = "Deny", True
                elif not decided and rule.access == "AlwaysAllow":
                    decided = True  # admin AlwaysAllow: the NSGs cannot deny it
            evaluated_nsgs.append(entry)
        results.append({"profile": profile, "networkSecurityGroupResult": {
            "securityRuleAccessResult": access, "evaluatedNetworkSecurityGroups": evaluated_nsgs}})
    return {"results": results}, notes


# -- effectiveRouteTable -------------------------------------------------------------------------

def effective_routes(topo: Topology, nic_id: str) -> dict[str, Any]:
    """EffectiveRouteListResult of a NIC: its subnet's system routes, then its user routes; a
    system route whose prefix a user route also names is Invalid (the user route wins)."""
    nic = topo.nics.get(key(nic_id))
    if nic is None:
        raise ArmError(404, "ResourceNotFound", f"The network interface '{nic_id}' was not found.")
    subnet = topo.subnet_of(nic.ip_configs[0])
    users = routing.user_routes(topo, subnet)
    user_prefixes = {str(r.prefix) for r in users if r.prefix is not None}
    table = topo.route_tables.get(key(subnet.route_table_id)) if subnet.route_table_id else None
    raw_table = topo.raw.get(key(table.id)) if table else None
    bgp_off = bool(((raw_table or {}).get("properties") or {}).get("disableBgpRoutePropagation"))
    value: list[dict[str, Any]] = []
    system = routing.system_routes(topo, subnet)
    if topo.vnets[key(subnet.vnet_id)].spaces6:
        # A dual-stack VNet lists its IPv6 entries beside the IPv4 ones (twin-semantics §13.3),
        # the assumed IPv6 system routes the check forwards with (ASSUME_IPV6_SYSTEM_ROUTES).
        system += routing.system_routes6(topo, subnet)
    for route in system:
        value.append({"source": "Default",
                      "state": "Invalid" if str(route.prefix) in user_prefixes else "Active",
                      "addressPrefix": [str(route.prefix)], "nextHopType": route.next_hop_type,
                      "nextHopIpAddress": [], "disableBgpRoutePropagation": bgp_off})
    for route in users:
        value.append({"name": route.name, "source": "User", "state": "Active",
                      "addressPrefix": [str(route.prefix) if route.prefix is not None
                                        else str(route.tag)],
                      "nextHopType": route.next_hop_type,
                      "nextHopIpAddress": [str(route.next_hop_ip)] if route.next_hop_ip else [],
                      "disableBgpRoutePropagation": bgp_off})
    return {"value": value, "nextLink": None}


# -- effectiveNetworkSecurityGroups --------------------------------------------------------------

def _ranges(ranges: tuple[PortRange, ...]) -> list[str]:
    return [f"{r.low}-{r.high}" for r in ranges] or ["0-65535"]


def _prefixes(prefixes: tuple[Any, ...]) -> list[str]:
    out = []
    for p in prefixes:
        text = str(getattr(p, "name", p))
        out.append("0.0.0.0/0" if text == "*" else text)
    return out or ["0.0.0.0/0"]


def _effective_rule(rule: SecurityRule) -> dict[str, Any]:
    sources, destinations = _prefixes(rule.source_prefixes), _prefixes(rule.destination_prefixes)
    sports, dports = _ranges(rule.source_ports), _ranges(rule.destination_ports)
    return {"name": f"{'defaultSecurityRules' if rule.default else 'securityRules'}/{rule.name}",
            "protocol": "All" if rule.protocol == "*" else rule.protocol,
            "sourcePortRange": sports[0], "destinationPortRange": dports[0],
            "sourcePortRanges": sports, "destinationPortRanges": dports,
            "sourceAddressPrefix": sources[0], "destinationAddressPrefix": destinations[0],
            "sourceAddressPrefixes": sources, "destinationAddressPrefixes": destinations,
            "expandedSourceAddressPrefix": None, "expandedDestinationAddressPrefix": None,
            "access": rule.access, "priority": rule.priority, "direction": rule.direction}


def effective_nsgs(topo: Topology, nic_id: str) -> dict[str, Any]:
    """EffectiveNetworkSecurityGroupListResult: the subnet's NSG and the NIC's, each with its
    user and default rules by direction and priority."""
    nic = topo.nics.get(key(nic_id))
    if nic is None:
        raise ArmError(404, "ResourceNotFound", f"The network interface '{nic_id}' was not found.")
    subnet = topo.subnet_of(nic.ip_configs[0])
    value = []
    for nsg_id, association in ((subnet.nsg_id, {"subnet": {"id": subnet.id}}),
                                (nic.nsg_id, {"networkInterface": {"id": nic.id}})):
        if not nsg_id:
            continue
        group = topo.nsgs[key(nsg_id)]
        rules = sorted(group.rules + nsg.DEFAULT_RULES, key=lambda r: (r.direction, r.priority))
        value.append({"networkSecurityGroup": {"id": group.id}, "association": association,
                      "effectiveSecurityRules": [_effective_rule(r) for r in rules],
                      "tagMap": {}})
    return {"value": value, "nextLink": None}


# -- connectionAnalyzers (2026-01-01) -------------------------------------------------------------

ANALYZER_OPERATIONS = ("NextHop", "NSG", "PortScan", "ConnectivityCheck", "ExpressRouteDiagnostic")


def analyzer_resource(topo: Topology, analyzer_id: str, name: str, body: Any) -> dict[str, Any]:
    """The stored ConnectionAnalyzer (validated as the service validates it, reference §8.3)."""
    if not isinstance(body, Mapping) or not isinstance(body.get("properties"), Mapping):
        raise ArmError(400, "InvalidRequestFormat", "The body must be a JSON object with "
                       "'location' and 'properties'.")
    props = body["properties"]
    source = props.get("source") or {}
    if key(str(source.get("resourceId") or "")) not in topo.vms:
        raise ArmError(400, "InvalidRequestFormat", "properties.source.resourceId must be a VM "
                       "of this subscription.")
    dest = props.get("destination") or {}
    if dest.get("type") == "ExternalAddress" and not dest.get("address"):
        raise ArmError(400, "InvalidRequestFormat", "properties.destination.address is required "
                       "for type ExternalAddress.")
    if dest.get("type") != "ExternalAddress" and not dest.get("resourceId"):
        raise ArmError(400, "InvalidRequestFormat", "properties.destination.resourceId is "
                       "required for a resource destination.")
    ops = props.get("diagnosticOperations")
    if not isinstance(ops, list) or not ops or any(o not in ANALYZER_OPERATIONS for o in ops):
        raise ArmError(400, "InvalidRequestFormat", "properties.diagnosticOperations must list "
                       f"at least one of {', '.join(ANALYZER_OPERATIONS)}.")
    return {"id": analyzer_id, "name": name,
            "type": "Microsoft.Network/networkWatchers/connectionAnalyzers",
            "location": body.get("location"), "tags": body.get("tags") or {},
            "properties": {**props, "provisioningState": "Succeeded", "status": "NotStarted"}}


def _analyzer_destination_ip(topo: Topology, dest: Mapping[str, Any]) -> str | None:
    rid = key(str(dest.get("resourceId") or ""))
    if rid in topo.vms:
        return str(nic_of_target(topo, dest["resourceId"])[1].address)
    address = str(dest.get("address") or "")
    try:
        return str(ipaddress.ip_address(address))  # either family, as next hop takes them
    except ValueError:
        found = topo.emulation.dns.get(address.lower())
        return str(found) if found is not None else None


def analyzer_query(topo: Topology, watcher: Any, resource: Mapping[str, Any],
                   probes: int | None) -> dict[str, Any]:
    """ConnectionAnalyzerQueryStatusResult: each operation run by the engine, its `result` the
    JSON text of the separate operation's answer (assumption ASSUME_ANALYZER_RESULT_SHAPE; the
    spec's only example is {"ConnectivityStatus": "Reachable"}, kept as the first key)."""
    props = resource["properties"]
    source_id = props["source"]["resourceId"]
    dest = props["destination"]
    source_nic, cfg = nic_of_target(topo, source_id)
    dest_ip = _analyzer_destination_ip(topo, dest)
    if dest_ip is not None and ":" in dest_ip and source_nic.ip6_configs:
        cfg = source_nic.ip6_configs[0]  # an IPv6 destination: from the NIC's IPv6 address
    protocol = str((props.get("protocolSettings") or {}).get("protocol") or "Tcp")
    port = dest.get("port")
    results = []
    for op in props["diagnosticOperations"]:
        error: str | None = None
        result: Any = None
        try:
            if op == "ConnectivityCheck":
                target = {"resourceId": dest["resourceId"]} if dest.get("resourceId") \
                    else {"address": dest.get("address")}
                if port is not None:
                    target["port"] = port
                spec = engine.parse_check(topo, watcher, {
                    "source": {"resourceId": source_id}, "destination": target,
                    "protocol": protocol})
                answer = engine.run_check(topo, spec, probes)
                result = {"ConnectivityStatus": answer.get("connectionStatus"), **answer}
            elif dest_ip is None:
                error = f"the destination {dest.get('address')!r} has no address in the twin"
            elif op == "NextHop":
                result = engine.next_hop(topo, {"targetResourceId": source_id,
                                                "sourceIPAddress": str(cfg.address),
                                                "destinationIPAddress": dest_ip})
            elif op == "NSG":
                result, _ = network_configuration_diagnostic(topo, {
                    "targetResourceId": source_id, "profiles": [{
                        "direction": "Outbound",
                        "protocol": "ICMP" if protocol.lower() == "icmp" else "TCP",
                        "source": str(cfg.address), "destination": dest_ip,
                        "destinationPort": str(port) if port is not None else "*"}]})
            else:
                error = f"{op} is not modelled by the twin"
        except ArmError as exc:
            error = exc.message
        results.append({"diagnosticOperation": op, "error": error,
                        "result": json.dumps(result) if result is not None else None})
    return {"id": resource["id"], "connectionAnalyzerStatus": "Succeeded", "error": None,
            "diagnosticOperationResults": results}
