"""nw.snapshot(): a real (here: emulated) network read over ARM becomes a topology the emulator runs."""

from __future__ import annotations

import json
import uuid

import pytest

import nwlab

ZERO = "00000000-0000-0000-0000-000000000000"


def test_snapshot_scrubs_subscription_and_tags(private_network, tmp_path):
    nw, subscription = private_network
    path = tmp_path / "mine.json"
    topology = nw.snapshot("ContosoRG", path=path)
    text = path.read_text()
    assert subscription not in text
    assert ZERO in text
    assert "someone@contoso.example" not in text
    assert json.loads(text) == topology
    types = {r["type"] for r in topology["resources"]}
    assert {"Microsoft.Compute/virtualMachines", "Microsoft.Compute/virtualMachines/extensions",
            "Microsoft.Network/virtualNetworks", "Microsoft.Network/networkInterfaces",
            "Microsoft.Network/networkSecurityGroups", "Microsoft.Network/routeTables",
            "Microsoft.Network/networkWatchers"} <= types


def test_snapshot_keeps_subscription_only_when_asked(private_network):
    nw, subscription = private_network
    topology = nw.snapshot("ContosoRG", keep_subscription=True)
    assert topology["subscriptionId"] == subscription
    assert all(subscription in r["id"] for r in topology["resources"])


def test_snapshot_answers_the_same_checks_offline(private_network):
    nw, _ = private_network
    topology = nw.snapshot("ContosoRG")
    twin = nwlab.emulate(topology, check_seconds=0, retry_after=0)
    try:
        for destination, port in (("Database0", 80), ("13.107.21.200", 80)):
            live = nw.check("MultiTierApp0", destination, port, resource_group="ContosoRG")
            offline = twin.check("MultiTierApp0", destination, port, resource_group="ContosoRG")
            assert offline.status == live.status
            assert [h.type for h in offline.hops] == [h.type for h in live.hops]
            assert [i.to_dict() for i in offline.issues] == [i.to_dict() for i in live.issues]
    finally:
        twin.close()


def test_snapshot_what_if_changes_the_twin_not_the_original(private_network):
    nw, _ = private_network
    twin = nwlab.emulate(nw.snapshot("ContosoRG"), check_seconds=0, retry_after=0)
    try:
        before = twin.check("MultiTierApp0", "Database0", 80, resource_group="ContosoRG")
        nsg = next(r["id"] for r in twin.snapshot("ContosoRG")["resources"]
                   if r["type"] == "Microsoft.Network/networkSecurityGroups"
                   and any(rule["name"] == "Port80"
                           for rule in r["properties"].get("securityRules", [])))
        twin.delete_security_rule(nsg, "Port80")
        after = twin.check("MultiTierApp0", "Database0", 80, resource_group="ContosoRG")
        original = nw.check("MultiTierApp0", "Database0", 80, resource_group="ContosoRG")
        assert not before.reachable
        assert after.reachable
        assert not original.reachable
    finally:
        twin.close()


def _estate():
    """A snapshot-shaped estate: hub and spoke peered, an NSG with service tags and ASGs, a tag
    route, effective admin rules on the spoke, and a Service Tags answer with an unused tag."""
    from tests.emulator.factory import Net, admin_rule, route, rule

    net = Net()
    web = net.asg("asg-web")
    db = net.asg("asg-db")
    net.vnet("hub", "10.0.0.0/16")
    net.vnet("spoke", "10.1.0.0/16")
    net.subnet("hub", "s", "10.0.1.0/24")
    net.rt("rt", route("storage", "Storage", "Internet"))
    net.nsg("nsg-app",
            rule("web-to-db", 100, "Inbound", "Allow", src_asgs=[web], dst_asgs=[db],
                 dport="1433", protocol="Tcp"),
            rule("deny-db", 110, "Inbound", "Deny", dst_asgs=[db]),
            rule("no-sql", 120, "Outbound", "Deny", dst="Sql.WestUS"))
    net.subnet("spoke", "app", "10.1.1.0/24", nsg="nsg-app", rt="rt")
    net.peer("hub", "spoke")
    net.vm("web", "spoke", "app", "10.1.1.4", asgs=[web])
    net.vm("db", "spoke", "app", "10.1.1.5", asgs=[db])
    net.vm("jump", "hub", "s", "10.0.1.4")
    net.admin("spoke", admin_rule("deny-rdp", 10, "Inbound", "Deny", src="Internet",
                                  dport="3389"),
              admin_rule("always-mon", 20, "Inbound", "AlwaysAllow", src="AzureMonitor"))
    net.service_tags({"Storage": ["20.60.0.0/16", "2603:1000::/40"], "Sql.WestUS": ["40.78.0.0/16"],
                      "AzureMonitor": ["20.61.0.0/16"], "AzureCosmosDB": ["20.70.0.0/16"]})
    return net


def test_snapshot_captures_asgs_admin_rules_and_the_tags_in_use(tmp_path):
    net = _estate()
    live = nwlab.emulate(net.document(), check_seconds=0, retry_after=0)
    live.emulator.app.page_size = 1  # the admin rules come back in two skipToken pages
    try:
        topology = live.snapshot("rg", path=tmp_path / "estate.json")
    finally:
        live.close()
    by_type: dict[str, list] = {}
    for res in topology["resources"]:
        by_type.setdefault(res["type"], []).append(res)
    assert sorted(r["name"] for r in by_type["Microsoft.Network/applicationSecurityGroups"]) == [
        "asg-db", "asg-web"]
    admin = by_type["Microsoft.Network/virtualNetworks/effectiveSecurityAdminRules"]
    assert [a["vnetId"].rsplit("/", 1)[-1] for a in admin] == ["spoke"]
    assert [r["id"].rsplit("/", 1)[-1] for r in admin[0]["value"]] == ["deny-rdp", "always-mon"]
    (tags,) = by_type["Microsoft.Network/serviceTags"]
    assert tags["location"] == "westus"
    # Only what the rules, routes and admin rules name (AzureCosmosDB is not used).
    assert sorted(v["name"] for v in tags["values"]) == ["AzureMonitor", "Sql.WestUS", "Storage"]
    storage = next(v for v in tags["values"] if v["name"] == "Storage")
    assert storage["properties"]["addressPrefixes"] == ["20.60.0.0/16", "2603:1000::/40"]
    text = (tmp_path / "estate.json").read_text()
    assert "11111111-2222-3333-4444-555555555555" not in text  # the factory's subscription


def test_snapshot_of_a_tagged_estate_answers_like_the_estate():
    net = _estate()
    live = nwlab.emulate(net.document(), check_seconds=0, retry_after=0)
    twin = nwlab.emulate(live.snapshot("rg"), check_seconds=0, retry_after=0)
    try:
        for source, destination, port in (("web", "db", 1433), ("jump", "db", 1433),
                                          ("web", "40.78.1.1", 1433), ("web", "20.60.1.1", 443),
                                          ("jump", "web", 3389)):
            a = live.check(source, destination, port, resource_group="rg")
            b = twin.check(source, destination, port, resource_group="rg")
            assert (a.status, [i.to_dict() for i in a.issues]) == \
                (b.status, [i.to_dict() for i in b.issues]), (source, destination, port)
        # The same assumptions (the tag route's), nothing lost or added by the round trip.
        assert [(a.code, a.resource_id.split("/resourceGroups/")[1]) for a in twin.assumptions] \
            == [(a.code, a.resource_id.split("/resourceGroups/")[1]) for a in live.assumptions] \
            == [("ASSUME_TAG_ROUTE_NOT_IN_VIRTUALNETWORK",
                 "rg/providers/Microsoft.Network/routeTables/rt")]
    finally:
        twin.close()
        live.close()


def peer_elsewhere(foreign: str):
    """A spoke peered to a hub in another subscription (`foreign`), which is not in the estate."""
    from tests.emulator.factory import Net

    net = Net()
    net.vnet("spoke", "10.1.0.0/16")
    net.subnet("spoke", "s", "10.1.1.0/24")
    net.vm("web", "spoke", "s", "10.1.1.4")
    net.resources[0]["properties"]["virtualNetworkPeerings"].append({
        "name": "to-hub", "properties": {
            "remoteVirtualNetwork": {"id": f"/subscriptions/{foreign}/resourceGroups/hub/"
                                           "providers/Microsoft.Network/virtualNetworks/hub"},
            "remoteAddressSpace": {"addressPrefixes": ["10.0.0.0/16"]}}})
    return net


def test_snapshot_keeps_a_peer_in_another_subscription_as_a_reference(tmp_path):
    foreign = str(uuid.uuid4())
    live = nwlab.emulate(peer_elsewhere(foreign).document(), check_seconds=0, retry_after=0)
    try:
        topology = live.snapshot("rg", path=tmp_path / "spoke.json")
    finally:
        live.close()
    text = (tmp_path / "spoke.json").read_text()
    assert foreign not in text
    assert "/subscriptions/11111111-0000-0000-0000-000000000000/resourceGroups/hub/" in text
    assert any("another subscription" in n for n in topology["emulation"]["notes"])
    twin = nwlab.emulate(topology, check_seconds=0, retry_after=0)
    try:
        assert [a.code for a in twin.assumptions] == ["EXTERNAL_VNET"]
        result = twin.check("web", "10.0.0.4", 443, resource_group="rg")
        assert not result.reachable and result.undetermined
    finally:
        twin.close()


def test_snapshot_drops_the_free_text_of_admin_rules():
    from tests.emulator.factory import admin_rule, two_subnets

    net = two_subnets()
    entry = admin_rule("deny-rdp", 10, "Inbound", "Deny", dport="3389")
    entry.update(configurationDescription="baseline owned by the platform team",
                 ruleCollectionDescription="rdp")
    entry["properties"]["description"] = "no RDP"
    net.admin("v", entry)
    live = nwlab.emulate(net.document(), check_seconds=0, retry_after=0)
    try:
        text = json.dumps(live.snapshot("rg"))
    finally:
        live.close()
    assert "deny-rdp" in text
    assert "platform team" not in text
    assert "no RDP" not in text


# -- issue 11: firewalls and policies, private endpoints and DNS, gateways -------------------

def _estate_parts():
    """The firewall, private-endpoint and gateway estates of tests/emulator, with the checks
    each one answers (source, destination, port)."""
    from tests.emulator import test_firewall, test_gateways, test_private_endpoints

    firewall = test_firewall._estate(groups=test_firewall.ALLOW_SQL)
    endpoint = test_private_endpoints._estate()
    gateway = test_gateways._hub()
    # A connection's pre-shared key must never reach a snapshot file.
    conn = next(r for r in gateway.resources if r["type"] == "Microsoft.Network/connections")
    conn["properties"]["sharedKey"] = "do-not-keep-me"
    return [
        (firewall, [("a", "b", 1433), ("a", "b", 22)],
         {"Microsoft.Network/azureFirewalls", "Microsoft.Network/firewallPolicies",
          "Microsoft.Network/firewallPolicies/ruleCollectionGroups"}),
        (endpoint, [("c", "10.2.3.4", 443), ("c", "https://acct.blob.core.windows.net/", 0),
                    ("h", "10.2.3.4", 443)],
         {"Microsoft.Network/privateEndpoints", "Microsoft.Network/privateDnsZones",
          "Microsoft.Network/privateDnsZones/A",
          "Microsoft.Network/privateDnsZones/virtualNetworkLinks"}),
        (gateway, [("h", "192.168.50.10", 443), ("s", "192.168.50.10", 443)],
         {"Microsoft.Network/virtualNetworkGateways", "Microsoft.Network/localNetworkGateways",
          "Microsoft.Network/connections"}),
    ]


@pytest.mark.parametrize("index", [0, 1, 2], ids=["firewall", "private-endpoint", "gateway"])
def test_snapshot_captures_firewalls_endpoints_and_gateways_and_answers_alike(index, tmp_path):
    net, checks, types = _estate_parts()[index]
    live = nwlab.emulate(net.document(), check_seconds=0, retry_after=0)
    try:
        topology = live.snapshot("rg", path=tmp_path / "estate.json")
        twin = nwlab.emulate(topology, check_seconds=0, retry_after=0)
        try:
            for source, destination, port in checks:
                a = live.check(source, destination, port, resource_group="rg")
                b = twin.check(source, destination, port, resource_group="rg")
                assert (a.status, [h.type for h in a.hops], [i.to_dict() for i in a.issues]) \
                    == (b.status, [h.type for h in b.hops], [i.to_dict() for i in b.issues]), \
                    (source, destination, port)
                assert sorted(x.code for x in a.assumptions) == \
                    sorted(x.code for x in b.assumptions)
            assert twin.assumptions == [] == live.assumptions
        finally:
            twin.close()
    finally:
        live.close()
    captured = {r["type"] for r in topology["resources"]}
    assert types <= captured, types - captured
    text = (tmp_path / "estate.json").read_text()
    assert "do-not-keep-me" not in text
    assert "11111111-2222-3333-4444-555555555555" not in text


def test_snapshot_records_learned_routes_it_cannot_read():
    from tests.emulator import test_gateways

    live = nwlab.emulate(test_gateways._hub().document(), check_seconds=0, retry_after=0)
    try:
        topology = live.snapshot("rg")
    finally:
        live.close()
    # The emulator does not serve getLearnedRoutes: the snapshot says so instead of guessing.
    assert any("getLearnedRoutes" in n for n in topology["emulation"]["notes"])


def test_snapshot_of_a_dual_stack_estate_keeps_aaaa_records_and_answers_alike():
    from tests.emulator import test_ipv6

    net = test_ipv6.pair()
    test_ipv6.corp_zone(net, a_record=False)
    live = nwlab.emulate(net.document(), check_seconds=0, retry_after=0)
    try:
        topology = live.snapshot("rg")
        twin = nwlab.emulate(topology, check_seconds=0, retry_after=0)
        try:
            for destination in ("b.corp.example", "b"):
                a = live.check("a", destination, 80, resource_group="rg", ip_version="IPv6")
                b = twin.check("a", destination, 80, resource_group="rg", ip_version="IPv6")
                assert a.status == b.status == "Reachable", destination
                assert [h.address for h in a.hops] == [h.address for h in b.hops] == \
                    ["fd00:db8:0:1::4", "fd00:db8:0:2::4"]
        finally:
            twin.close()
    finally:
        live.close()
    assert "Microsoft.Network/privateDnsZones/AAAA" in {r["type"] for r in topology["resources"]}


def test_admin_rules_are_read_concurrently_in_the_vnets_order_and_a_refusal_is_a_note():
    # Thousands of VNets each need one POST (Resource Graph cannot answer them): they are read
    # several at a time, yet stored in the VNets' order, and a refused read is a note.
    import threading

    import requests

    from nwlab import snapshot
    from nwlab.arm.errors import ArmError

    vnets = {f"v{i}": {"id": f"/subscriptions/{ZERO}/resourceGroups/rg/providers/"
                               f"Microsoft.Network/virtualNetworks/v{i}",
                       "type": "Microsoft.Network/virtualNetworks", "location": "westus"}
             for i in range(12)}
    together = threading.Barrier(2, timeout=20)  # broken (a failure, not a hang) if serial
    seen: list[str] = []

    class Arm:
        def request(self, method, path, **body):
            name = path.split("/")[-2]
            seen.append(name)
            if name in ("v0", "v1"):
                together.wait()  # the first two reads are in flight at once
            if name == "v5":
                raise ArmError("denied", status=403, code="AuthorizationFailed")
            answer = requests.Response()
            answer.status_code = 200
            answer._content = json.dumps({"value": [] if name == "v7" else [
                {"id": f"{name}/rules/r", "properties": {"description": "free text"}}]}).encode()
            return answer

    notes: list[str] = []
    out = snapshot._admin_rules(Arm(), vnets, notes)
    stored = [item["vnetId"].rsplit("/", 1)[-1] for item in out]
    assert stored == [f"v{i}" for i in range(12) if i not in (5, 7)]
    assert sorted(seen) == sorted(vnets)
    assert notes == [f"{vnets['v5']['id']}/listNetworkManagerEffectiveSecurityAdminRules: "
                     "403 AuthorizationFailed"]
    assert "description" not in out[0]["value"][0]["properties"]
