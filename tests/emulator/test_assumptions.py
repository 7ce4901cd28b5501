"""The loader's assumption list: whatever the twin does not model loads, and is recorded with
its code and resource id (twin-semantics §15); only invalid input is refused."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from nwlab.emulator import DEFAULT_TOPOLOGY_PATH, load_topology
from nwlab.emulator.assumptions import CODES
from nwlab.emulator.topology import UNMODELLED_FIELDS

from .factory import Net, assumed, check, outcome, route, rule, two_subnets


def _codes(net: Net) -> list[tuple[str, str, str | None]]:
    """(code, resource id tail, field) of every load-time assumption."""
    return [(a.code, a.resource_id.split("/providers/", 1)[-1], a.field)
            for a in net.topology().assumptions]


def test_a_fully_modelled_topology_has_no_assumptions() -> None:
    assert load_topology(DEFAULT_TOPOLOGY_PATH).assumptions == []
    assert two_subnets().topology().assumptions == []


@pytest.mark.parametrize("rtype", ["Microsoft.Network/applicationGateways",
                                   "Microsoft.Network/privateLinkServices",
                                   "Microsoft.Network/virtualHubs",
                                   "Microsoft.Future/widgets"])
def test_unmodelled_resource_type_loads_and_is_recorded(rtype: str) -> None:
    net = two_subnets()
    rid = net.rid(*rtype.split("/"), "thing")
    net.resources.append({"id": rid, "name": "thing", "type": rtype, "location": "westus",
                          "properties": {"anything": [1, 2]}})
    topo = net.topology()
    assert [(a.code, a.resource_id) for a in topo.assumptions] == [
        ("UNMODELLED_RESOURCE_TYPE", rid)]
    assert topo.raw[rid.lower()]["properties"] == {"anything": [1, 2]}  # kept for GET


def _set(props: dict[str, Any], path: str, value: Any) -> None:
    *parents, last = path.split(".")
    for part in parents:
        props = props.setdefault(part, {})
    props[last] = value


FIELD_VALUES: dict[str, Any] = {
    "dhcpOptions.dnsServers": ["10.0.0.53"],
    "serviceEndpointPolicies": [{"id": "/x/p"}],
    "delegations": [{"name": "d", "properties": {"serviceName": "Microsoft.Web/serverFarms"}}],
    "peerCompleteVnets": False, "dnsSettings.dnsServers": ["10.0.0.53"],
    "applicationGatewayBackendAddressPools": [{"id": "/x/agw"}],
    "gatewayLoadBalancer": {"id": "/x/gwlb"},
}
CASES = [(kind, path) for kind, fields in UNMODELLED_FIELDS.items() for path in fields]


def test_every_unmodelled_field_has_a_test_value() -> None:
    assert {path for _, path in CASES} == set(FIELD_VALUES)


@pytest.mark.parametrize(("kind", "path"), CASES, ids=[f"{k}.{p}" for k, p in CASES])
def test_unmodelled_field_loads_and_is_recorded_on_its_resource(kind: str, path: str) -> None:
    net = two_subnets()
    net.vnet("w", "10.9.0.0/16")
    net.peer("v", "w")
    net.rt("rt")
    doc = net.document()
    by_name = {r["name"]: r for r in doc["resources"]}
    vnet = by_name["v"]["properties"]
    target = {"virtualNetwork": (vnet, by_name["v"]["id"]),
              "subnet": (vnet["subnets"][0]["properties"], by_name["v"]["id"] + "/subnets/a"),
              "routeTable": (by_name["rt"]["properties"], by_name["rt"]["id"]),
              "peering": (vnet["virtualNetworkPeerings"][0]["properties"],
                          by_name["v"]["id"] + "/virtualNetworkPeerings/v-to-w"),
              "networkInterface": (by_name["a-nic"]["properties"], by_name["a-nic"]["id"]),
              "ipConfiguration": (by_name["a-nic"]["properties"]["ipConfigurations"][0][
                  "properties"], by_name["a-nic"]["id"] + "/ipConfigurations/ipconfig1"),
              }[kind]
    _set(target[0], path, FIELD_VALUES[path])
    topo = load_topology(doc)
    assert [(a.code, a.resource_id, a.field) for a in topo.assumptions] == [
        ("UNMODELLED_FIELD", target[1], path)]


def test_ipv6_everywhere_loads_into_the_dual_stack_model() -> None:
    # IPv6 is modelled now (tests/emulator/test_ipv6.py): nothing is skipped or assumed at load.
    net = Net()
    net.vnet("v", "10.0.0.0/16", "fd00:db8::/48")
    net.rt("rt", route("v6", "fd00:db8:9::/48", "None"))
    net.subnet("v", "a", "10.0.1.0/24", rt="rt")
    net.nsg("n", rule("v6-in", 100, "Inbound", "Deny", src="fd00:db8:5::/48"))
    net.vm("a", "v", "a", "10.0.1.4", nsg="n")
    doc = net.document()
    by_name = {r["name"]: r for r in doc["resources"]}
    subnet = by_name["v"]["properties"]["subnets"][0]["properties"]
    subnet["addressPrefixes"] = ["10.0.1.0/24", "fd00:db8:0:1::/64"]
    by_name["a-nic"]["properties"]["ipConfigurations"].append({"name": "v6", "properties": {
        "privateIPAddressVersion": "IPv6", "privateIPAddress": "fd00:db8:0:1::4",
        "subnet": {"id": by_name["v"]["id"] + "/subnets/a"}}})
    topo = load_topology(doc)
    assert topo.assumptions == []
    nic = topo.nics[by_name["a-nic"]["id"].lower()]
    # The IPv4 side works as before; the IPv6 configuration is kept apart.
    assert len(nic.ip_configs) == 1
    assert [str(c.address) for c in nic.ip6_configs] == ["fd00:db8:0:1::4"]
    assert [str(p) for p in topo.vnets[by_name["v"]["id"].lower()].spaces6] == ["fd00:db8::/48"]


# VirtualApplianceEcmp is modelled now (tests/emulator/test_ecmp.py); a user route to a
# gateway in a VNet without one still stops here.
@pytest.mark.parametrize("hop", ["VirtualNetworkGateway"])
def test_unmodelled_next_hop_stops_the_trace_and_leaves_the_verdict_undetermined(
        hop: str) -> None:
    # §15.2: neither wall nor hole; the trace stops there and the verdict is undetermined.
    net = two_subnets()
    net.rt("rt", route("onprem", "192.168.0.0/16", hop))
    net.resources[0]["properties"]["subnets"][0]["properties"]["routeTable"] = {
        "id": net.rid("Microsoft.Network", "routeTables", "rt")}
    assert _codes(net) == [("UNMODELLED_VALUE", "Microsoft.Network/routeTables/rt/routes/onprem",
                            "nextHopType")]
    result = check(net, "a", "192.168.1.1", 443)
    assert result["connectionStatus"] == "Unreachable"
    assert result["hops"][-1]["type"] == "Destination"
    assert assumed(result) == [("UNMODELLED_VALUE", True)]
    assert outcome(result) == "undetermined"
    # A destination that does not take that route carries none of it.
    assert assumed(check(net, "a", "b", 80)) == []


def test_unresolved_service_tags_are_recorded_per_rule_and_route() -> None:
    net = two_subnets(nsg_a="na")
    net.nsg("na", rule("kv", 100, "Outbound", "Allow", dst="AzureKeyVault"))
    net.rt("rt", route("sql", "Sql.WestUS", "Internet"))
    assert _codes(net) == [
        ("UNRESOLVED_SERVICE_TAG", "Microsoft.Network/networkSecurityGroups/na/securityRules/kv",
         "destinationAddressPrefix"),
        ("UNRESOLVED_SERVICE_TAG", "Microsoft.Network/routeTables/rt/routes/sql",
         "addressPrefix"),
        ("ASSUME_TAG_ROUTE_NOT_IN_VIRTUALNETWORK", "Microsoft.Network/routeTables/rt", None)]


def test_resource_assumptions_reach_only_checks_whose_path_touches_them() -> None:
    net = two_subnets()
    doc = net.document()
    subnet_b = doc["resources"][0]["properties"]["subnets"][1]["properties"]
    subnet_b["serviceEndpointPolicies"] = [{"id": "/p"}]
    topo = load_topology(doc)
    from_b = check(topo, "b", "a", 80)
    assert assumed(from_b) == [("UNMODELLED_FIELD", False)]
    assert outcome(from_b) == "reached"  # not verdict-sensitive: the extension says reached
    net2 = two_subnets()
    net2.vm("c", "v", "a", "10.0.1.5")
    doc2 = net2.document()
    subnet_b2 = doc2["resources"][0]["properties"]["subnets"][1]["properties"]
    subnet_b2["serviceEndpointPolicies"] = [{"id": "/p"}]
    assert "nwlab" not in check(load_topology(doc2), "a", "c", 80)


def test_every_code_is_documented() -> None:
    # The codes a user can meet are the stable list in assumptions.CODES; docs/twin.md's table
    # gives each one its meaning.
    readme = (Path(__file__).parents[2] / "docs" / "twin.md").read_text(encoding="utf-8")
    for code in CODES:
        assert f"`{code}`" in readme, code


def test_every_code_the_emulator_emits_is_in_the_stable_list() -> None:
    import re

    source = Path(__file__).parents[2] / "toolkit" / "nwlab" / "emulator"
    used = {m for f in source.glob("*.py")
            for m in re.findall(r'"((?:ASSUME|UNMODELLED|UNRESOLVED|EXTERNAL)_[A-Z_]+)"',
                                f.read_text(encoding="utf-8"))}
    assert used - set(CODES) == set()
