"""The twin's indexes (issue 14 item 3): built once per topology, carried over by a rule or
route write, and changed only for what the write touches. Each test compares against a full
scan or a full load, so an index that drifts after a PUT or a DELETE fails here."""

from __future__ import annotations

import json
from typing import Any

import pytest

from nwlab.emulator import Topology, TopologyError, nsg, routing
from nwlab.emulator.facade import ArmApp
from nwlab.emulator.topology import key, resource_group_of

from .factory import SUB, Net, check, route, rule

DENY_22 = {"priority": 105, "direction": "Inbound", "access": "Deny", "protocol": "*",
           "sourceAddressPrefix": "*", "sourcePortRange": "*",
           "destinationAddressPrefix": "*", "destinationPortRange": "22"}


def _estate() -> tuple[Net, dict[str, str]]:
    net = Net()
    net.vnet("v", "10.0.0.0/16")
    ids = {"n1": net.nsg("n1", rule("allow-80", 100, "Inbound", "Allow", dport="80")),
           "n2": net.nsg("n2", rule("deny-all", 4000, "Inbound", "Deny")),
           "rt1": net.rt("rt1", route("drop", "9.9.9.0/24", "None")),
           "rt2": net.rt("rt2", route("web", "8.8.8.0/24", "Internet"))}
    net.subnet("v", "a", "10.0.1.0/24", nsg="n1", rt="rt1")
    net.subnet("v", "b", "10.0.2.0/24", nsg="n2", rt="rt2")
    net.vm("web", "v", "a", "10.0.1.4")
    net.vm("db", "v", "b", "10.0.2.4")
    return net, ids


def _writes(topo: Topology, ids: dict[str, str]) -> Topology:
    """A rule PUT, a rule DELETE, a route PUT and a route DELETE, one after another."""
    topo, _ = topo.with_child(ids["n1"], "securityRules", {
        "name": "deny-22", "id": f"{ids['n1']}/securityRules/deny-22", "properties": DENY_22})
    topo, _ = topo.without_child(ids["n2"], "securityRules", "deny-all")
    topo, _ = topo.with_child(ids["rt1"], "routes", {
        "name": "more", "id": f"{ids['rt1']}/routes/more",
        "properties": {"addressPrefix": "7.7.7.0/24", "nextHopType": "None"}})
    topo, _ = topo.without_child(ids["rt2"], "routes", "web")
    return topo


def _scan_of_type(topo: Topology, rtype: str, group: str | None) -> list[Any]:
    return [r for r in topo.document["resources"] if str(r["type"]).lower() == rtype.lower()
            and (group is None or (resource_group_of(r["id"]) or "").lower() == group.lower())]


def test_type_and_group_listings_equal_a_full_scan_after_writes() -> None:
    net, ids = _estate()
    before = net.topology()
    before.resources_of_type("Microsoft.Network/networkSecurityGroups")  # builds the index
    after = _writes(before, ids)
    types = {str(r["type"]) for r in after.document["resources"]}
    groups = {resource_group_of(r["id"]) for r in after.document["resources"]}
    assert len(groups) == 2  # rg and NetworkWatcherRG
    for topo in (before, after):
        for rtype in types:
            for group in [None, *groups]:
                got = topo.resources_of_type(rtype, group)
                want = _scan_of_type(topo, rtype, group)
                assert [id(r) for r in got] == [id(r) for r in want], (rtype, group)
    # The listing serves the written NSG as written, not the one the index was built from.
    (n1,) = [r for r in after.resources_of_type("microsoft.network/networksecuritygroups", "RG")
             if r["name"] == "n1"]
    assert [c["name"] for c in n1["properties"]["securityRules"]] == ["allow-80", "deny-22"]


def test_resource_groups_equal_a_full_scan_after_writes() -> None:
    net, ids = _estate()
    after = _writes(net.topology(), ids)
    scan: dict[str, tuple[str, str]] = {}
    for res in after.document["resources"]:
        name = resource_group_of(res["id"])
        if name and name.lower() not in scan:
            scan[name.lower()] = (name, res.get("location", ""))
    assert after.resource_groups() == scan
    assert list(after.resource_groups()) == list(scan)  # topology order


def test_a_rule_put_recompiles_only_its_nsg() -> None:
    net, ids = _estate()
    before = net.topology()
    compiled = {(n, d): nsg.compiled_nsg(before, ids[n], d)
                for n in ("n1", "n2") for d in ("Inbound", "Outbound")}
    after, created = before.with_child(ids["n1"], "securityRules", {
        "name": "deny-22", "id": f"{ids['n1']}/securityRules/deny-22", "properties": DENY_22})
    assert created
    for d in ("Inbound", "Outbound"):
        assert nsg.compiled_nsg(after, ids["n2"], d) is compiled[("n2", d)]  # untouched
        assert after.nsgs[key(ids["n2"])] is before.nsgs[key(ids["n2"])]
    assert nsg.compiled_nsg(after, ids["n1"], "Inbound") is not compiled[("n1", "Inbound")]
    assert nsg.compiled_nsg(before, ids["n1"], "Inbound") is compiled[("n1", "Inbound")]
    assert check(after, "db", "10.0.1.4", 22) != check(before, "db", "10.0.1.4", 22)


def test_a_route_put_rebuilds_only_the_subnets_using_its_table() -> None:
    net, ids = _estate()
    before = net.topology()
    sub_a, sub_b = (before.subnets[key(net.subnet_id("v", s))] for s in ("a", "b"))
    index_a, index_b = routing.route_index(before, sub_a), routing.route_index(before, sub_b)
    after, _ = before.with_child(ids["rt2"], "routes", {
        "name": "more", "id": f"{ids['rt2']}/routes/more",
        "properties": {"addressPrefix": "7.7.7.0/24", "nextHopType": "None"}})
    assert routing.route_index(after, sub_a) is index_a  # rt1's subnet keeps its routes
    assert routing.route_index(after, sub_b) is not index_b
    assert routing.route_index(before, sub_b) is index_b  # the old network does not move
    assert after.route_tables[key(ids["rt1"])] is before.route_tables[key(ids["rt1"])]


def test_raw_and_assumptions_equal_a_full_load_after_writes() -> None:
    net, ids = _estate()
    before = net.topology()
    # A rule on a tag without data is an assumption; deleting its rule must drop it.
    after, _ = before.with_child(ids["n2"], "securityRules", {
        "name": "kv", "id": f"{ids['n2']}/securityRules/kv", "properties": {
            **DENY_22, "destinationAddressPrefix": "AzureKeyVault"}})
    assert any(key(a.resource_id) == key(f"{ids['n2']}/securityRules/kv")
               for a in after.assumptions)
    after = _writes(after, ids)
    after, _ = after.without_child(ids["n2"], "securityRules", "kv")
    full = Topology(after.document)
    assert set(after.raw) == set(full.raw)
    assert all(after.raw[k] == full.raw[k] for k in full.raw)
    assert [str(a) for a in after.assumptions] == [str(a) for a in full.assumptions]
    assert {k: [str(a) for a in v] for k, v in after.assumptions_at.items() if v} == \
        {k: [str(a) for a in v] for k, v in full.assumptions_at.items() if v}
    assert not any("kv" in a.resource_id for a in before.assumptions)  # before kept its own


def _app(topo: Topology) -> ArmApp:
    return ArmApp(topo, check_seconds=0, retry_after=0, probes=None, page_size=1000)


def _get(app: ArmApp, path: str) -> Any:
    answer = app.handle("GET", path, {"api-version": "2024-05-01"}, None)
    assert answer.status == 200, answer.body
    return answer.body


def test_arm_group_listings_after_writes_equal_a_fresh_load() -> None:
    net, ids = _estate()
    app = _app(net.topology())
    base = f"/subscriptions/{SUB}/resourceGroups"
    _get(app, base)  # the index exists before the writes
    for path, body in ((f"{ids['n1']}/securityRules/deny-22", {"properties": DENY_22}),
                       (f"{ids['rt1']}/routes/more", {"properties": {
                           "addressPrefix": "7.7.7.0/24", "nextHopType": "None"}})):
        answer = app.handle("PUT", path, {"api-version": "2024-05-01"},
                            json.dumps(body).encode())
        assert answer.status == 201
    app.handle("DELETE", f"{ids['n2']}/securityRules/deny-all", {"api-version": "2024-05-01"},
               None)
    fresh = _app(Topology(app.topology.document))
    for path in (base, f"{base}/rg", f"{base}/RG/providers/Microsoft.Network/"
                 "networkSecurityGroups", f"{base}/rg/providers/Microsoft.Network/routeTables",
                 f"{base}/networkwatcherrg/providers/Microsoft.Network/networkWatchers",
                 f"/subscriptions/{SUB}/providers/Microsoft.Network/networkSecurityGroups"):
        assert _get(app, path) == _get(fresh, path), path
    listed = _get(app, f"{base}/rg/providers/Microsoft.Network/networkSecurityGroups")
    rules = {n["name"]: [r["name"] for r in n["properties"]["securityRules"]]
             for n in listed["value"]}
    assert rules == {"n1": ["allow-80", "deny-22"], "n2": []}


def test_rules_of_one_body_are_parsed_once_and_keep_their_own_name_and_id() -> None:
    net = Net()
    net.vnet("v", "10.0.0.0/16")
    a, b = (net.nsg(n, rule(r, 100, "Inbound", "Allow", dst=["10.0.1.0/24", "Storage"],
                            dport=["443", "8080-8090"])) for n, r in (("a", "r1"), ("b", "r2")))
    topo = net.topology()
    (r1,), (r2,) = topo.nsgs[key(a)].rules, topo.nsgs[key(b)].rules
    assert (r1.name, r1.id, r2.name, r2.id) == ("r1", f"{a}/securityRules/r1",
                                                "r2", f"{b}/securityRules/r2")
    assert r1.destination_prefixes is r2.destination_prefixes  # one parse for both
    assert r1.destination_ports == r2.destination_ports
    assert len(topo._rule_memo) == 1
    # Each rule's assumption names that rule, although the body was parsed once.
    assert {a.resource_id for a in topo.assumptions if a.code == "UNRESOLVED_SERVICE_TAG"} == \
        {r1.id, r2.id}


def test_a_refused_body_names_each_rule_that_carries_it() -> None:
    for first in ("good", "bad"):
        net = Net()
        net.vnet("v", "10.0.0.0/16")
        bad = rule("bad", 200, "Inbound", "Allow", dport="70000")
        good = rule("good", 100, "Inbound", "Allow", dport="80")
        net.nsg("x", *((good, bad) if first == "good" else (bad, good)))
        net.nsg("y", rule("also-bad", 200, "Inbound", "Allow", dport="70000"))
        with pytest.raises(TopologyError, match=r"securityRules/bad.*70000"):
            net.topology()
        net.resources = [r for r in net.resources if r["name"] != "x"]
        with pytest.raises(TopologyError, match=r"securityRules/also-bad.*70000"):
            net.topology()


def test_the_numerous_records_carry_no_instance_dict() -> None:
    # 20,000 NICs make ~100,000 of these; slots keep each one a fixed, smaller object.
    net, _ = _estate()
    topo = net.topology()
    nic = next(iter(topo.nics.values()))
    vm = next(iter(topo.vms.values()))
    subnet = next(iter(topo.subnets.values()))
    records = [nic, nic.primary, vm, subnet, topo.nsgs[key(next(iter(topo.nsgs)))].rules[0],
               topo.route_tables[next(iter(topo.route_tables))].routes[0],
               topo.nsgs[next(iter(topo.nsgs))].rules[0].destination_ports[0]]
    assert [type(r).__name__ for r in records if hasattr(r, "__dict__")] == []


def test_an_ipv6_route_write_reaches_a_check_that_already_ran() -> None:
    # The IPv6 route index is cached per subnet like the IPv4 one: a route PUT and DELETE
    # must drop it for the subnets using the table.
    from .test_ipv6 import check6, pair
    net = pair()
    rt = net.rt("rt", route("keep", "10.9.0.0/16", "None"))
    net._vnets["v"]["properties"]["subnets"][0]["properties"]["routeTable"] = {"id": rt}
    before = net.topology()
    assert check6(before, "a", "b")["connectionStatus"] == "Reachable"  # fills the cache
    after, _ = before.with_child(rt, "routes", {
        "name": "drop-b6", "id": f"{rt}/routes/drop-b6",
        "properties": {"addressPrefix": "fd00:db8:0:2::/64", "nextHopType": "None"}})
    assert check6(after, "a", "b")["connectionStatus"] == "Unreachable"
    again, _ = after.without_child(rt, "routes", "drop-b6")
    assert check6(again, "a", "b")["connectionStatus"] == "Reachable"
    assert check6(before, "a", "b")["connectionStatus"] == "Reachable"


def test_the_listing_built_in_the_load_pass_equals_one_built_alone() -> None:
    from nwlab.emulator.topology import Listing
    net, ids = _estate()
    net.asg("extra")
    for topo in (net.topology(), _writes(net.topology(), ids)):
        alone = Listing(topo.document["resources"])
        built = topo._listing()
        assert (built.by_type, built.groups, built.positions) == \
            (alone.by_type, alone.groups, alone.positions)


def _asg_estate(*rules: dict[str, Any]) -> tuple[Net, dict[str, str]]:
    net = Net()
    asgs = {n: net.asg(n) for n in ("web", "db")}
    net.vnet("v", "10.0.0.0/16")
    net.subnet("v", "a", "10.0.1.0/24", nsg="n1")
    net.subnet("v", "b", "10.0.2.0/24", nsg="n2")
    net.nsg("n1", *rules)
    net.nsg("n2", *rules)
    net.vm("web", "v", "a", "10.0.1.4", asgs=[asgs["web"]])
    net.vm("db", "v", "b", "10.0.2.4", asgs=[asgs["db"]])
    return net, asgs


def test_a_memoised_body_with_asgs_answers_as_a_parse_of_each_rule() -> None:
    net, asgs = _asg_estate()
    deny = rule("deny-db", 120, "Inbound", "Deny", dst_asgs=[asgs["db"]])
    net.resources = [r for r in net.resources if r["name"] not in ("n1", "n2")]
    n1, n2 = net.nsg("n1", deny), net.nsg("n2", {**deny, "name": "deny-db-2"})
    topo = net.topology()
    assert len(topo._rule_memo) == 1
    (r1,), (r2,) = topo.nsgs[key(n1)].rules, topo.nsgs[key(n2)].rules
    from dataclasses import replace

    from nwlab.emulator.topology import parse_security_rule
    assert r1 == parse_security_rule(net.resources[-2]["properties"]["securityRules"][0],
                                     r1.id)
    assert r2 == replace(r1, name="deny-db-2", id=r2.id)
    assert check(net, "web", "db", 1433)["connectionStatus"] == "Unreachable"
    # A write after the load reuses the memo: the new rule has its own name and id and its
    # NSG answers for it; a new body naming a missing ASG is refused, naming that rule.
    after, _ = topo.with_child(n1, "securityRules", {
        "name": "deny-db-3", "id": f"{n1}/securityRules/deny-db-3",
        "properties": {**deny["properties"], "priority": 130}})
    assert [r.name for r in after.nsgs[key(n1)].rules] == ["deny-db", "deny-db-3"]
    missing = asgs["db"].replace("/db", "/gone")
    with pytest.raises(TopologyError, match=r"deny-gone.*not a .*applicationsecuritygroups"):
        after.with_child(n1, "securityRules", {
            "name": "deny-gone", "id": f"{n1}/securityRules/deny-gone",
            "properties": {**deny["properties"], "priority": 140,
                           "destinationApplicationSecurityGroups": [{"id": missing}]}})


def test_a_repeated_body_naming_a_missing_asg_is_refused_at_its_first_rule() -> None:
    net, asgs = _asg_estate()
    missing = asgs["db"].replace("/db", "/gone")
    net.resources = [r for r in net.resources if r["name"] not in ("n1", "n2")]
    net.nsg("n1", rule("first", 120, "Inbound", "Deny", dst_asgs=[missing]))
    net.nsg("n2", rule("second", 120, "Inbound", "Deny", dst_asgs=[missing]))
    with pytest.raises(TopologyError, match=r"securityRules/first.*gone"):
        net.topology()


@pytest.mark.parametrize("text", [
    "10.0.0.1", "0.0.0.0", "255.255.255.255", "010.0.0.1", "1.2.3", "1.2.3.4.5", " 10.0.0.1 ",
    "10.0.0.1\n", "256.1.1.1", "1.2.3.04", "0x1.1.1.1", "\u0661.2.3.4", "1..2.3", "1.2.3.4\x00",
    "+1.2.3.4", "::1", "fd00::4", "", "10.0.0.1/32"])
def test_an_address_parses_as_ipaddress_parses_it(text: str) -> None:
    # parse_address's fast path (inet_pton) must accept and refuse exactly what ipaddress does.
    import ipaddress

    from nwlab.emulator.topology import parse_address
    try:
        expected: Any = ipaddress.ip_address(text.strip())
    except ValueError:
        expected = None
    if not isinstance(expected, ipaddress.IPv4Address):
        with pytest.raises(TopologyError, match="is not an IPv4 address"):
            parse_address(text, "r", "privateIPAddress")
    else:
        assert parse_address(text, "r", "privateIPAddress") == expected


def test_a_table_expansion_cached_for_one_subnet_follows_route_writes() -> None:
    # Subnets of one route table share its expansion (routing.expanded_user_routes): a route
    # PUT or DELETE on the table must reach every subnet using it, as a fresh load sees it.
    net = Net()
    net.vnet("v", "10.0.0.0/16")
    rt = net.rt("rt", route("drop", "9.9.9.0/24", "None"))
    net.subnet("v", "a", "10.0.1.0/24", rt="rt")
    net.subnet("v", "b", "10.0.2.0/24", rt="rt")
    topo = net.topology()
    a, b = (topo.subnets[k] for k in topo.subnets)
    assert routing.expanded_user_routes(topo, a) is routing.expanded_user_routes(topo, b)
    after, _ = topo.with_child(rt, "routes", {
        "name": "more", "id": f"{rt}/routes/more",
        "properties": {"addressPrefix": "7.7.7.0/24", "nextHopType": "None"}})
    again, _ = after.without_child(rt, "routes", "drop")
    for derived in (after, again):
        fresh = Topology(derived.document)
        for sub in (a, b):
            assert [str(p) for p, _ in routing.expanded_user_routes(derived, sub)] == \
                [str(p) for p, _ in routing.expanded_user_routes(fresh, sub)]
    assert [str(p) for p, _ in routing.expanded_user_routes(topo, b)] == ["9.9.9.0/24"]


def _template_rules() -> list[dict[str, Any]]:
    return [rule("web", 100, "Inbound", "Allow", dst=["10.0.1.0/24", "Storage"], dport="443"),
            rule("ssh", 200, "Inbound", "Deny", dport="22")]


def test_an_nsg_copying_another_takes_its_rules_under_its_own_ids_and_assumptions() -> None:
    net = Net()
    net.vnet("v", "10.0.0.0/16")
    a, b = net.nsg("a", *_template_rules()), net.nsg("b", *_template_rules())
    topo = net.topology()
    alone = Net()
    alone.vnet("v", "10.0.0.0/16")
    alone.nsg("b", *_template_rules())
    expected = alone.topology().nsgs[key(b)]
    copied = topo.nsgs[key(b)]
    assert copied == expected  # as if loaded alone: same records, ids under b
    assert [r.id for r in copied.rules] == [f"{b}/securityRules/web", f"{b}/securityRules/ssh"]
    assert [r.id for r in topo.nsgs[key(a)].rules] == [f"{a}/securityRules/web",
                                                       f"{a}/securityRules/ssh"]
    # The Storage tag has no data here: each NSG's rule carries its own assumption.
    assert {x.resource_id for x in topo.assumptions if x.code == "UNRESOLVED_SERVICE_TAG"} == \
        {f"{a}/securityRules/web", f"{b}/securityRules/web"}
    assert topo._bodies is None and topo._parsed_lists == {}  # nothing held by id() after load


@pytest.mark.parametrize("field, good, bad, code", [
    # == calls 100 and 100.0 (and 1 and True) equal: a copy must still be refused as alone.
    ("priority", 100, 100.0, "SecurityRuleInvalidPriority"),
    ("destinationPortRanges", [80], [80.0], "SecurityRuleInvalidPortRange"),
    ("destinationPortRanges", [1], [True], "SecurityRuleInvalidPortRange"),
])
def test_a_copy_equal_only_by_python_equality_is_refused_as_alone(
        field: str, good: Any, bad: Any, code: str) -> None:
    def body(value: Any) -> dict[str, Any]:
        entry = rule("r", 100, "Inbound", "Allow")
        entry["properties"].pop("destinationPortRange", None)
        entry["properties"]["destinationPortRanges"] = ["80"]  # strings: the copy is a template
        entry["properties"][field] = value
        return entry

    def first() -> dict[str, Any]:  # the lists' first bodies agree
        return rule("same", 200, "Inbound", "Deny", dport="22")

    net = Net()
    net.vnet("v", "10.0.0.0/16")
    net.nsg("a", first(), body(good))
    b = net.nsg("b", first(), body(bad))
    with pytest.raises(TopologyError) as refused:
        net.topology()
    assert refused.value.code == code and refused.value.resource_id == f"{b}/securityRules/r"


def test_a_copy_with_a_null_is_read_as_the_field_absent() -> None:
    net = Net()
    net.vnet("v", "10.0.0.0/16")
    a = net.nsg("a", *_template_rules())
    copy_rules = _template_rules()
    copy_rules[1]["properties"]["description"] = None
    b = net.nsg("b", *copy_rules)
    topo = net.topology()
    assert "description" not in topo.raw[key(f"{b}/securityRules/ssh")]["properties"]
    assert [r.priority for r in topo.nsgs[key(b)].rules] == \
        [r.priority for r in topo.nsgs[key(a)].rules]
