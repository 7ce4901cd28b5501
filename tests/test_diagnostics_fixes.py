"""Fixes as data: from a blocking NSG rule or a None route, the az command and the REST request
of each change, smallest first, for the shapes rules and routes take."""

from __future__ import annotations

import ipaddress
import shlex

import pytest

from nwlab.diagnostics.fixes import (
    BlockingRoute,
    BlockingRule,
    Fix,
    Flow,
    fixes_frame,
    nsg_fixes,
    nsg_rule_fixes,
    route_fixes,
)

SUB = "00000000-0000-0000-0000-000000000000"
NSG = f"/subscriptions/{SUB}/resourceGroups/ContosoRG/providers/Microsoft.Network/networkSecurityGroups/DbNsg"
RT = f"/subscriptions/{SUB}/resourceGroups/ContosoRG/providers/Microsoft.Network/routeTables/AppRouteTable"
ARM = "https://management.azure.com"
FLOW = Flow("Tcp", "10.1.1.4", "10.1.4.4", 80)


def deny(name: str, priority: int, direction: str = "Inbound", **fields: object) -> BlockingRule:
    props = {"priority": priority, "direction": direction, "access": "Deny", "protocol": "*",
             "sourcePortRange": "*", "provisioningState": "Succeeded", **fields}
    return BlockingRule.from_arm(NSG, {"name": name, "id": f"{NSG}/securityRules/{name}",
                                       "properties": props})


def test_a_narrow_allow_rule_just_above_the_deny_comes_first():
    rule = deny("deny-all-in", 200, sourceAddressPrefix="*", destinationAddressPrefix="*",
                destinationPortRange="*")
    fixes = nsg_rule_fixes(rule, FLOW, taken_priorities=[199, 150, 300])
    assert [f.kind for f in fixes] == ["add-allow-rule", "narrow-deny-rule", "delete-deny-rule"]
    allow = fixes[0]
    name = "nwlab-allow-in-tcp-80-10.1.1.4-to-10.1.4.4"
    assert allow.command == (
        f"az network nsg rule create --subscription {SUB} -g ContosoRG --nsg-name DbNsg -n {name} "
        "--priority 198 --direction Inbound --access Allow --protocol Tcp "
        "--source-address-prefixes 10.1.1.4 --source-port-ranges '*' "
        "--destination-address-prefixes 10.1.4.4 --destination-port-ranges 80 "
        "--description 'Allows the flow deny-all-in denied (added by nwlab)'")
    assert allow.request.method == "PUT" and allow.widens == ""
    assert allow.request.url == f"{ARM}{NSG}/securityRules/{name}?api-version=2024-05-01"
    assert allow.request.body == {"properties": {
        "protocol": "Tcp", "sourceAddressPrefix": "10.1.1.4", "sourcePortRange": "*",
        "destinationAddressPrefix": "10.1.4.4", "destinationPortRange": "80", "access": "Allow",
        "priority": 198, "direction": "Inbound",
        "description": "Allows the flow deny-all-in denied (added by nwlab)"}}
    assert allow.resource_id == NSG and allow.proven is None
    delete = fixes[2]
    assert delete.command == (f"az network nsg rule delete --subscription {SUB} -g ContosoRG "
                              "--nsg-name DbNsg -n deny-all-in")
    assert (delete.request.method, delete.request.body) == ("DELETE", None)
    assert delete.request.url == f"{ARM}{NSG}/securityRules/deny-all-in?api-version=2024-05-01"


def _covers(prefixes: list[str]) -> set[ipaddress.IPv4Network]:
    return {ipaddress.ip_network(p) for p in prefixes}  # type: ignore[misc]


def test_a_deny_at_priority_100_leaves_no_room_above_so_narrowing_it_comes_first():
    rule = deny("deny-lists", 100, protocol="Tcp", sourceAddressPrefixes=["10.1.0.0/16", "10.2.0.0/16"],
                destinationAddressPrefix="VirtualNetwork",
                destinationPortRanges=["80", "443", "8000-8100"])
    fixes = nsg_rule_fixes(rule, FLOW)
    assert [f.kind for f in fixes] == ["narrow-deny-rule", "delete-deny-rule"]
    narrow = fixes[0]
    assert "No free priority below 100" in narrow.note
    props = narrow.request.body["properties"]  # type: ignore[index]
    assert narrow.request.method == "PUT"
    assert narrow.request.url == f"{ARM}{NSG}/securityRules/deny-lists?api-version=2024-05-01"
    # The rule keeps everything but the flow's source: same priority, ports, destination.
    assert props["priority"] == 100 and props["access"] == "Deny"
    assert props["destinationPortRanges"] == ["80", "443", "8000-8100"]
    assert "sourceAddressPrefix" not in props and "provisioningState" not in props
    carved = props["sourceAddressPrefixes"]
    host = ipaddress.ip_address("10.1.1.4")
    assert all(host not in n for n in _covers(carved))
    size = sum(n.num_addresses for n in _covers(carved))
    assert size == 2 * 65536 - 1  # exactly one address fewer than the two /16s
    assert narrow.command.startswith(f"az network nsg rule update --subscription {SUB} -g "
                                     "ContosoRG --nsg-name DbNsg -n deny-lists "
                                     "--source-address-prefixes 10.1.0.0/24 ")
    assert shlex.split(narrow.command)[14:] == carved


def test_a_tag_source_is_narrowed_by_port_range_instead():
    rule = deny("deny-internet", 400, protocol="Tcp", sourceAddressPrefix="Internet",
                destinationAddressPrefix="*", destinationPortRange="8000-8100")
    flow = Flow("tcp", "52.1.2.3", "10.1.4.4", 8080)
    allow, narrow, _ = nsg_rule_fixes(rule, flow, taken_priorities=[399])
    assert allow.request.body["properties"]["priority"] == 398  # type: ignore[index]
    assert allow.request.body["properties"]["sourceAddressPrefix"] == "52.1.2.3"  # type: ignore[index]
    body = narrow.request.body["properties"]  # type: ignore[index]
    assert body["destinationPortRanges"] == ["8000-8079", "8081-8100"]
    assert "destinationPortRange" not in body and body["sourceAddressPrefix"] == "Internet"
    assert narrow.command.endswith("-n deny-internet --destination-port-ranges 8000-8079 8081-8100")


def test_an_asg_deny_on_the_flows_only_port_cannot_be_narrowed_exactly():
    asg = NSG.replace("networkSecurityGroups/DbNsg", "applicationSecurityGroups/web")
    rule = deny("deny-web-asg", 300, protocol="Tcp", sourceApplicationSecurityGroups=[{"id": asg}],
                destinationAddressPrefix="*", destinationPortRange="80")
    fixes = nsg_rule_fixes(rule, FLOW)
    assert [f.kind for f in fixes] == ["add-allow-rule", "delete-deny-rule"]
    # The allow names the flow's addresses, which beat the ASG deny by priority.
    assert "--source-address-prefixes 10.1.1.4" in fixes[0].command


def test_an_outbound_deny_is_narrowed_on_the_destination_or_the_port_whichever_opens_less():
    wide = deny("deny-out", 500, "Outbound", sourceAddressPrefix="*",
                destinationAddressPrefix="13.0.0.0/8", destinationPortRange="*")
    flow = Flow("Tcp", "10.1.1.4", "13.107.21.200", 443)
    allow, narrow, _ = nsg_rule_fixes(wide, flow)
    assert "--direction Outbound" in allow.command and "--priority 499" in allow.command
    props = narrow.request.body["properties"]  # type: ignore[index]
    # One address on every port (65,536 flows) opens less than one port to 2**24 addresses.
    assert props["sourceAddressPrefix"] == "*" and "destinationAddressPrefix" not in props
    carved = _covers(props["destinationAddressPrefixes"])
    assert sum(n.num_addresses for n in carved) == 2 ** 24 - 1
    assert all(ipaddress.ip_address("13.107.21.200") not in n for n in carved)
    small = deny("deny-out", 500, "Outbound", sourceAddressPrefix="*",
                 destinationAddressPrefix="13.107.21.0/24", destinationPortRange="*")
    # One port to 256 addresses opens less than every port to one address.
    props = nsg_rule_fixes(small, flow)[1].request.body["properties"]  # type: ignore[index]
    assert props["destinationAddressPrefix"] == "13.107.21.0/24"
    assert props["destinationPortRanges"] == ["0-442", "444-65535"]


def test_a_default_deny_gets_an_allow_rule_only_at_the_highest_user_priority_free():
    rule = BlockingRule(NSG, "DenyAllInBound", 65500, "Inbound", {"access": "Deny"}, default=True)
    (allow,) = nsg_rule_fixes(rule, Flow("Icmp", "10.1.1.4", "10.1.4.4"),
                              taken_priorities=[4096, 4095])
    body = allow.request.body["properties"]  # type: ignore[index]
    assert (body["priority"], body["protocol"], body["destinationPortRange"]) == (4094, "Icmp", "*")
    assert "--protocol Icmp" in allow.command and "--destination-port-ranges '*'" in allow.command
    with pytest.raises(ValueError, match="DenyAllInBound is a default rule and every priority"):
        nsg_rule_fixes(rule, FLOW, taken_priorities=range(100, 4097))


def test_the_allow_rules_name_is_unique_in_the_nsg():
    rule = deny("deny-all-in", 200, sourceAddressPrefix="*", destinationAddressPrefix="*")
    taken = ["NWLAB-ALLOW-IN-TCP-80-10.1.1.4-TO-10.1.4.4",
             "nwlab-allow-in-tcp-80-10.1.1.4-to-10.1.4.4-2"]
    allow = nsg_rule_fixes(rule, FLOW, taken_names=taken)[0]
    assert allow.request.url.split("/securityRules/")[1].startswith(
        "nwlab-allow-in-tcp-80-10.1.1.4-to-10.1.4.4-3?")


def test_a_user_route_to_none_gets_a_host_route_first():
    route = BlockingRoute("10.2.0.0/16", RT, "blackhole", "User",
                          {"addressPrefix": "10.2.0.0/16", "nextHopType": "None",
                           "provisioningState": "Succeeded"})
    fixes = route_fixes(route, "10.2.0.4", next_hop_type="virtualappliance", next_hop_ip="10.1.2.4")
    assert [f.kind for f in fixes] == ["add-route", "change-route", "delete-route"]
    add, change, delete = fixes
    assert add.command == (f"az network route-table route create --subscription {SUB} -g ContosoRG "
                           "--route-table-name AppRouteTable -n nwlab-host-10.2.0.4 "
                           "--address-prefix 10.2.0.4/32 --next-hop-type VirtualAppliance "
                           "--next-hop-ip-address 10.1.2.4")
    assert add.request.url == f"{ARM}{RT}/routes/nwlab-host-10.2.0.4?api-version=2024-05-01"
    assert add.request.body == {"properties": {"addressPrefix": "10.2.0.4/32",
                                               "nextHopType": "VirtualAppliance",
                                               "nextHopIpAddress": "10.1.2.4"}}
    assert change.request.body == {"properties": {"addressPrefix": "10.2.0.0/16",
                                                  "nextHopType": "VirtualAppliance",
                                                  "nextHopIpAddress": "10.1.2.4"}}
    assert change.command.endswith("-n blackhole --next-hop-type VirtualAppliance "
                                   "--next-hop-ip-address 10.1.2.4")
    assert (delete.request.method, delete.request.url) == (
        "DELETE", f"{ARM}{RT}/routes/blackhole?api-version=2024-05-01")


def test_a_system_route_to_none_needs_the_subnets_route_table():
    route = BlockingRoute("10.0.0.0/8", source="Default")
    with pytest.raises(ValueError, match="route_table_id: the blocking route is a system route"):
        route_fixes(route, "10.9.0.4", next_hop_type="VnetLocal")
    (add,) = route_fixes(route, "10.9.0.4", next_hop_type="VnetLocal", route_table_id=RT)
    assert add.request.body == {"properties": {"addressPrefix": "10.9.0.4/32",
                                               "nextHopType": "VnetLocal"}}
    assert "--next-hop-ip-address" not in add.command


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"next_hop_type": "None"}, "next_hop_type: 'None' is not one of"),
    ({"next_hop_type": "VirtualAppliance"}, "next_hop_ip: give it for next_hop_type="),
    ({"next_hop_type": "Internet", "next_hop_ip": "10.1.2.4"}, "next_hop_ip: give it for")])
def test_route_fix_inputs_are_checked(kwargs, message):
    with pytest.raises(ValueError, match=message):
        route_fixes(BlockingRoute("10.2.0.0/16", RT, "r"), "10.2.0.4", **kwargs)


@pytest.mark.parametrize(("make", "message"), [
    (lambda: Flow("Tcp", "10.1.1.0/24", "10.1.4.4", 80), "source: '10.1.1.0/24' is not an IP"),
    (lambda: Flow("Http", "10.1.1.4", "10.1.4.4", 80), "protocol: 'Http' is not Tcp, Udp"),
    (lambda: Flow("Tcp", "10.1.1.4", "10.1.4.4", 70000), "destination_port: 70000 is not a port"),
    (lambda: nsg_rule_fixes(BlockingRule(RT, "r", 200, "Inbound"), FLOW),
     "nsg_id: .* is not a Microsoft.Network/networkSecurityGroups id; e.g. '/subscriptions/"),
    (lambda: route_fixes(BlockingRoute("10.2.0.0/16", NSG, "r"), "10.2.0.4",
                         next_hop_type="VnetLocal"),
     "route_table_id: .* is not a Microsoft.Network/routeTables id")])
def test_fix_inputs_are_checked(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_a_fix_carries_its_proof_and_fills_a_frame():
    rule = deny("deny-all-in", 200, sourceAddressPrefix="*", destinationAddressPrefix="*")
    fixes = nsg_rule_fixes(rule, FLOW)
    proven = fixes[0].with_proof(True, result="the check's result")
    assert isinstance(proven, Fix) and proven.proven and proven.result == "the check's result"
    assert fixes[0].proven is None and "not verified" in str(fixes[0])
    frame = fixes_frame([proven, *fixes[1:]])
    assert list(frame["kind"]) == ["add-allow-rule", "narrow-deny-rule", "delete-deny-rule"]
    assert list(frame["proven"])[:1] == [True]
    assert proven.to_dict()["request"]["method"] == "PUT"


def _nsg_get() -> dict[str, object]:
    def rule(name: str, priority: int, direction: str, access: str, **fields: object) -> dict:
        return {"name": name, "id": f"{NSG}/securityRules/{name}", "properties": {
            "priority": priority, "direction": direction, "access": access, "protocol": "Tcp",
            "sourcePortRange": "*", "sourceAddressPrefix": "*", "destinationAddressPrefix": "*",
            **fields}}

    return {"id": NSG, "name": "DbNsg", "properties": {"securityRules": [
        rule("allow-ssh", 299, "Inbound", "Allow", destinationPortRange="22"),
        rule("out-298", 298, "Outbound", "Allow", destinationPortRange="443"),
        rule("DenyWeb", 300, "Inbound", "Deny", destinationPortRange="80")]}}


@pytest.mark.parametrize("spelling", ["UserRule_DenyWeb", "securityRules/DenyWeb", "denyweb"])
def test_fixes_for_a_rule_of_an_nsg_get_take_its_priorities_and_names(spelling):
    fixes = nsg_fixes(_nsg_get(), spelling, FLOW)
    allow = fixes[0]
    # 299 is taken inbound; 298 only outbound, so it is free for an inbound rule.
    assert allow.request.body["properties"]["priority"] == 298  # type: ignore[index]
    assert [f.kind for f in fixes] == ["add-allow-rule", "narrow-deny-rule", "delete-deny-rule"]
    assert fixes[2].request.url.endswith("/securityRules/DenyWeb?api-version=2024-05-01")


def test_a_default_deny_the_get_leaves_out_is_azures_implied_one():
    (allow,) = nsg_fixes(_nsg_get(), "DefaultRule_DenyAllInBound", FLOW)
    assert allow.request.body["properties"]["priority"] == 4096  # type: ignore[index]
    with pytest.raises(ValueError, match="rule_name: 'UserRule_Nope' is not a rule of NSG"):
        nsg_fixes(_nsg_get(), "UserRule_Nope", FLOW)


def test_a_blocking_route_from_the_effective_routes():
    from nwlab.diagnostics import EffectiveRoutes

    routes = EffectiveRoutes.from_dict({"value": [
        {"name": "blackhole", "source": "User", "state": "Active",
         "addressPrefix": ["10.2.0.0/16", "10.3.0.0/16"], "nextHopType": "None",
         "nextHopIpAddress": []},
        {"source": "Default", "state": "Active", "addressPrefix": ["10.0.0.0/8"],
         "nextHopType": "None", "nextHopIpAddress": []}]})
    user = routes.route_for("10.3.0.4")
    assert user is not None
    route = BlockingRoute.from_effective(user, RT, address="10.3.0.4")
    assert (route.address_prefix, route.name, route.route_table_id) == ("10.3.0.0/16", "blackhole", RT)
    kinds = [f.kind for f in route_fixes(route, "10.3.0.4", next_hop_type="VnetLocal")]
    assert kinds == ["add-route", "change-route", "delete-route"]
    system = routes.route_for("10.9.0.4")
    assert system is not None
    default = BlockingRoute.from_effective(system, RT)
    assert default.route_table_id is None and default.name is None and default.source == "Default"


def test_a_host_route_to_none_is_changed_not_shadowed_by_an_equal_prefix():
    """Azure keeps one route per prefix in a table (RouteConflict), so no add-route fix."""
    route = BlockingRoute(address_prefix="13.107.21.200/32", route_table_id=RT, name="BlockBing",
                          properties={"addressPrefix": "13.107.21.200/32", "nextHopType": "None"})
    kinds = [f.kind for f in route_fixes(route, "13.107.21.200", next_hop_type="Internet")]
    assert kinds == ["change-route", "delete-route"]


@pytest.mark.parametrize(("fields", "flow", "why"), [
    ({"protocol": "Udp", "sourceAddressPrefix": "*", "destinationPortRange": "80"}, FLOW,
     "its protocol is Udp"),
    ({"protocol": "Tcp", "sourceAddressPrefix": "*", "destinationPortRanges": ["81", "90-99"]},
     FLOW, "port 80 is outside"),
    ({"protocol": "*", "sourceAddressPrefixes": ["10.2.0.0/16", "10.3.0.0/16"],
      "destinationPortRange": "*"}, FLOW, "source 10.1.1.4 is outside"),
    ({"protocol": "*", "sourceAddressPrefix": "10.0.0.0/8", "destinationPortRange": "*"},
     Flow("Tcp", "fd00::4", "fd00::5", 80), "source fd00::4 is outside")])
def test_a_flow_the_deny_cannot_match_is_refused(fields, flow, why):
    with pytest.raises(ValueError, match=f"does not match it \\({why}"):
        nsg_rule_fixes(deny("d", 300, **fields), flow)


def test_star_less_one_address_keeps_one_family_and_says_what_it_frees():
    # '*' on every side, one port: only the address can be carved, and a rule's prefixes are
    # one family, so the narrowed deny stops denying IPv6 sources; the fix says so.
    star = deny("d", 300, protocol="Tcp", sourceAddressPrefix="*", destinationAddressPrefix="*",
                destinationPortRange="80")
    narrow = next(f for f in nsg_rule_fixes(star, FLOW) if f.kind == "narrow-deny-rule")
    carved = narrow.request.body["properties"]["sourceAddressPrefixes"]  # type: ignore[index]
    assert {ipaddress.ip_network(p).version for p in carved} == {4}
    assert "no longer denies any IPv6 source" in narrow.widens
    # An IPv4-only destination never matched IPv6: nothing of that family is freed.
    v4 = deny("d", 300, protocol="Tcp", sourceAddressPrefix="*",
              destinationAddressPrefix="10.1.4.0/24", destinationPortRange="80")
    narrow = next(f for f in nsg_rule_fixes(v4, FLOW) if f.kind == "narrow-deny-rule")
    assert "IPv6" not in narrow.widens
    # Where the port can be carved instead, that un-denies less than a whole family.
    ports = deny("d", 300, protocol="Tcp", sourceAddressPrefix="*", destinationAddressPrefix="*",
                 destinationPortRange="80-81")
    narrow = next(f for f in nsg_rule_fixes(ports, FLOW) if f.kind == "narrow-deny-rule")
    assert narrow.request.body["properties"]["destinationPortRange"] == "81"  # type: ignore[index]
    assert "destinationPortRanges" not in narrow.request.body["properties"]  # type: ignore[index]


def test_generated_names_stay_within_80_characters_and_unique():
    flow = Flow("Tcp", "fd00:1234:5678:9abc:def0:1234:5678:9abc",
                "fd00:1234:5678:9abc:def0:1234:5678:9abd", 65535)
    first = nsg_rule_fixes(deny("d", 300, protocol="*", sourceAddressPrefix="*"), flow)[0]
    name = first.request.url.split("/securityRules/")[1].split("?")[0]
    assert len(name) <= 80 and name[-1].isalnum()
    again = nsg_rule_fixes(deny("d", 300, protocol="*", sourceAddressPrefix="*"), flow,
                           taken_names=[name])[0]
    other = again.request.url.split("/securityRules/")[1].split("?")[0]
    assert other != name and len(other) <= 80 and other.endswith("-2")


def test_combine_needs_two_fixes():
    from nwlab.diagnostics.fixes import combine

    one = nsg_rule_fixes(deny("d", 300, protocol="*", sourceAddressPrefix="*"), FLOW)[0]
    with pytest.raises(ValueError, match="needs two fixes"):
        combine([one], title="t", note="n")
    both = combine([one, one], title="t", note="n")
    assert both.requests == (one.request, one.request)
    assert both.command == f"{one.command}\n{one.command}"
