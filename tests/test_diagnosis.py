"""nw.diagnose(): every test at once on the twin, findings naming the resource that holds the
block, fixes proven on forks, and live-vs-twin reconciliation (the 'live' side here is a second
emulator standing for Azure after a change, or a fake ARM server)."""

from __future__ import annotations

import copy
import json

import pytest

import nwlab
from nwlab.diagnostics.diagnosis import Diagnosis
from nwlab.emulator.topology import DEFAULT_TOPOLOGY_PATH

SUB = "00000000-0000-0000-0000-000000000000"
NSG = (f"/subscriptions/{SUB}/resourceGroups/ContosoRG/providers/Microsoft.Network/"
       "networkSecurityGroups/DbNsg")
DB = f"/subscriptions/{SUB}/resourceGroups/ContosoRG/providers/Microsoft.Compute/" \
     "virtualMachines/Database0"


def contoso() -> dict:
    return json.loads(DEFAULT_TOPOLOGY_PATH.read_text())


def with_http_deny(doc: dict, source: str = "10.1.0.0/16") -> dict:
    """Contoso with DbNsg denying HTTP (port 80, which Database0 listens on) from `source`."""
    doc = copy.deepcopy(doc)
    nsg = next(r for r in doc["resources"] if r["id"].lower() == NSG.lower())
    nsg["properties"]["securityRules"].append({
        "name": "DenyHttpToDb", "id": f"{NSG}/securityRules/DenyHttpToDb",
        "properties": {"priority": 120, "direction": "Inbound", "access": "Deny",
                       "protocol": "Tcp", "sourceAddressPrefix": source,
                       "sourcePortRange": "*", "destinationAddressPrefix": "*",
                       "destinationPortRange": "80"}})
    # Reporting0 (10.1.5.5, beside WebVM0) running, so a second source in the deny's range
    reporting = next(r for r in doc["resources"] if r["id"].endswith("/Reporting0"))
    for status in reporting["properties"]["instanceView"]["statuses"]:
        if status["code"].startswith("PowerState/"):
            status["code"] = "PowerState/running"
    return doc


@pytest.fixture
def twin():
    nw = nwlab.emulate(check_seconds=0.0, retry_after=0.0)
    yield nw
    nw.close()


@pytest.fixture
def blocked():
    nw = nwlab.emulate(with_http_deny(contoso()), check_seconds=0.0, retry_after=0.0)
    yield nw
    nw.close()


def test_diagnose_names_the_deny_rule_its_nsg_and_priority_with_fixes(twin):
    d = twin.diagnose("WebVM0", "Database0", 3389, resource_group="ContosoRG")
    assert isinstance(d, Diagnosis) and d.verdict == "not reachable"
    (finding,) = d.findings
    assert (finding.kind, finding.rule, finding.priority) == ("nsg-rule", "DenyRdpFromWeb", 110)
    assert finding.resource_id == NSG and finding.fields["sourceAddressPrefix"] == "10.1.5.0/24"
    assert [f.kind for f in d.fixes] == ["add-allow-rule", "narrow-deny-rule", "delete-deny-rule"]
    assert d.fixes[0].request.body["properties"]["priority"] == 109
    assert set(d.tests) == {"connectivity", "nsg_diagnostic.source", "next_hop.source",
                            "effective_routes.source", "ip_flow_verify.source",
                            "nsg_diagnostic.destination", "ip_flow_verify.destination"}
    assert d.tests["ip_flow_verify.destination"].access == "Deny"
    frame = d.frame()
    assert frame["test"].iloc[0] == "connectivity" and len(frame) == 7
    text = str(d)
    assert "DenyRdpFromWeb (priority 110, inbound) in DbNsg" in text and "az network nsg" in text
    assert "DbNsg" in d._repr_html_()


def test_diagnose_a_reachable_pair_has_no_fix(twin):
    d = twin.diagnose("MultiTierApp0", "Database0", 1433, resource_group="ContosoRG")
    assert d.verdict == "reachable" and d.fixes == []
    assert [f.kind for f in d.findings] == ["reachable"]
    assert d.tests["next_hop.source"].next_hop_type == "VirtualAppliance"


def test_diagnose_a_guest_firewall_is_not_blamed_on_azure(twin):
    d = twin.diagnose("WebVM0", "Database0", 22, resource_group="ContosoRG")
    assert d.verdict == "not reachable" and d.fixes == []
    assert d.tests["nsg_diagnostic.destination"].allowed
    assert [f.kind for f in d.findings] == ["guest-or-application"]


def test_diagnose_bad_input_fails_before_any_request(twin):
    with pytest.raises(ValueError, match="port"):
        twin.diagnose("WebVM0", "Database0", 70000, resource_group="ContosoRG")


def test_fork_is_independent_of_the_twin(twin):
    fork = twin.fork()
    try:
        fork.delete_security_rule(NSG, "DenyRdpFromWeb")
        names = lambda nw: [r["name"] for r in  # noqa: E731
                            nw.arm.get_json(NSG)["properties"]["securityRules"]]
        assert "DenyRdpFromWeb" not in names(fork)
        assert "DenyRdpFromWeb" in names(twin)
    finally:
        fork.close()
    with pytest.raises(TypeError, match="emulator"):
        nwlab.replay().fork()


def test_verify_fixes_proves_the_allow_rule_and_rejects_a_fix_that_changes_another_check(
        blocked):
    d = blocked.diagnose("WebVM0", "Database0", 80, resource_group="ContosoRG")
    assert d.findings[0].rule == "DenyHttpToDb"
    fixes = d.verify_fixes(blocked, checks=[("Reporting0", "Database0", 80),
                                            ("MultiTierApp0", "Database0", 1433)])
    by_kind = {f.kind: f for f in fixes}
    assert by_kind["add-allow-rule"].proven is True
    assert by_kind["add-allow-rule"].result.reachable
    # deleting the deny also opens Reporting0 -> Database0:80: another check changes verdict
    assert by_kind["delete-deny-rule"].proven is False
    assert by_kind["delete-deny-rule"].result.reachable
    # the twin itself was not written
    assert not blocked.check("WebVM0", "Database0", 80, resource_group="ContosoRG").reachable


def test_verify_fixes_a_fix_the_twin_cannot_make_pass_is_not_proven(twin):
    d = twin.diagnose("WebVM0", "Database0", 3389, resource_group="ContosoRG")
    fixes = d.verify_fixes(twin)
    # Database0 does not listen on 3389: opening the NSG is not enough, and the twin says so
    assert [f.proven for f in fixes] == [False, False, False]
    assert fixes[0].result.status == "Unreachable"


def test_verify_fixes_refuses_a_live_client(twin):
    d = twin.diagnose("WebVM0", "Database0", 3389, resource_group="ContosoRG")
    with pytest.raises(TypeError, match="fork"):
        d.verify_fixes(object())


def test_live_and_twin_reconciled_a_change_after_the_snapshot_is_named(blocked, twin):
    # 'live' (blocked) gained DenyHttpToDb after the twin's snapshot was taken
    d = blocked.diagnose("WebVM0", "Database0", 80, resource_group="ContosoRG", twin=twin)
    rec = {r.test: r for r in d.reconciliation}
    assert rec["connectivity"].outcome == "disagree"
    assert rec["connectivity"].changed == (NSG,)
    assert "DbNsg" in rec["connectivity"].cause and "older" in rec["connectivity"].cause
    assert rec["next_hop.source"].outcome == "agree"
    assert "twin" in d.frame().columns and "Live and twin" in str(d)


def test_live_and_twin_reconciled_the_guest_refused(twin):
    # 'live' whose guest firewall refuses port 80 on Database0; the twin models no guest OS
    doc = contoso()
    doc["emulation"]["guestFirewall"][DB] = {"deniedInboundPorts": [22, 80]}
    live = nwlab.emulate(doc, check_seconds=0.0, retry_after=0.0)
    try:
        d = live.diagnose("WebVM0", "Database0", 80, resource_group="ContosoRG", twin=twin)
    finally:
        live.close()
    (rec,) = [r for r in d.reconciliation if r.test == "connectivity"]
    assert rec.outcome == "disagree" and "guest OS" in rec.cause and rec.changed == ()
    assert all(r.outcome == "agree" for r in d.reconciliation if r.test != "connectivity")


def test_diagnose_tests_the_dropping_hop_and_names_its_nsg(twin):
    # MultiTierApp0 -> Database0:80 passes Firewall0 then Auditor0, whose AuditNsg denies
    # outbound port 80: the ends allow it, the hop round names the rule and its NSG
    d = twin.diagnose("MultiTierApp0", "Database0", 80, resource_group="ContosoRG")
    assert d.tests["nsg_diagnostic.source"].allowed
    assert d.tests["nsg_diagnostic.destination"].allowed
    assert not d.tests["nsg_diagnostic.hop"].allowed
    assert d.tests["next_hop.hop"].next_hop_type == "VnetLocal"
    (finding,) = d.findings
    assert finding.resource_id.endswith("/networkSecurityGroups/AuditNsg")
    assert (finding.rule, finding.priority) == ("Port80", 100)
    assert "outbound" in finding.text and "auNic" in finding.text
    # priority 100: no allow rule can go above it, so narrowing comes first
    assert [f.kind for f in d.fixes] == ["narrow-deny-rule", "delete-deny-rule"]


def test_reconcile_names_the_twins_assumption_when_the_resources_agree():
    from types import SimpleNamespace

    from nwlab.diagnostics.reconcile import reconcile

    same = {"etag": 'W/"1"', "properties": {"securityRules": []}}
    client = SimpleNamespace(arm=SimpleNamespace(get_json=lambda rid: same))
    hop = SimpleNamespace(resource_id=f"{NSG}", type="VnetLocal", address="10.1.4.4", issues=[])
    live = SimpleNamespace(reachable=False, hops=[hop], issues=[
        SimpleNamespace(type="NetworkSecurityRule")], assumptions=[])
    twin = SimpleNamespace(reachable=True, hops=[hop], issues=[], assumptions=[
        SimpleNamespace(code="UNRESOLVED_SERVICE_TAG")])
    (rec,) = reconcile(client, client, {"connectivity": live}, {"connectivity": twin})
    assert rec.outcome == "disagree" and rec.changed == ()
    assert rec.assumptions == ("UNRESOLVED_SERVICE_TAG",)
    assert "the twin assumed: UNRESOLVED_SERVICE_TAG" in rec.cause


def test_reconcile_beyond_the_estate():
    from types import SimpleNamespace

    from nwlab.diagnostics.reconcile import reconcile

    client = SimpleNamespace(arm=SimpleNamespace(get_json=lambda rid: {}))
    hop = SimpleNamespace(resource_id=None, type="Internet", address="13.107.21.200", issues=[])
    live = SimpleNamespace(reachable=False, hops=[hop], issues=[], assumptions=[])
    twin = SimpleNamespace(reachable=True, hops=[hop], issues=[], assumptions=[])
    (rec,) = reconcile(client, client, {"connectivity": live}, {"connectivity": twin})
    assert "beyond the estate" in rec.cause


def test_diagnose_a_route_to_none_names_the_route_and_its_fixes_are_proven(twin):
    d = twin.diagnose("MultiTierApp0", "13.107.21.200", 80, resource_group="ContosoRG")
    (finding,) = d.findings
    assert (finding.kind, finding.rule) == ("route", "BlockBing")
    assert finding.resource_id.endswith("/routeTables/AppRouteTable")
    # BlockBing is already the host route: a second /32 would be a RouteConflict, so the
    # smallest fix changes its next hop to the one Azure's own routes give (Internet)
    assert [f.kind for f in d.fixes] == ["change-route", "delete-route"]
    assert d.fixes[0].request.body["properties"]["nextHopType"] == "Internet"
    assert [f.proven for f in d.verify_fixes(twin)] == [True, True]


def test_a_stop_no_nsg_or_route_explains_names_what_the_twin_assumed() -> None:
    # A firewall's default deny carries no documented issue: the diagnosis names the twin's
    # assumption (the deciding rule) instead of "none reported"; a reachable answer adds none.
    lz = nwlab.emulate("landing-zone", check_seconds=0, retry_after=0)
    try:
        d = lz.diagnose("app1", "web1", 443, resource_group="landing-zone")
        assumed = [f for f in d.findings if f.kind == "twin-assumption"]
        assert any("ASSUME_FIREWALL_DENY" in f.text and "DefaultDeny" in f.text for f in assumed)
        assert any(f.resource_id and "/azureFirewalls/" in f.resource_id for f in assumed)
        assert "ASSUME_FIREWALL_DENY" in str(d)
        ok = lz.diagnose("web1", "app1", 8080, resource_group="landing-zone")
        assert [f.kind for f in ok.findings] == ["reachable"]
    finally:
        lz.close()


def test_diagnose_an_ipv6_flow_tests_ipv6_flows_and_leaves_out_ip_flow_verify():
    # IP flow verify takes IPv4 only (its spec); next hop and NSG diagnostics take the family.
    from tests.emulator import test_ipv6
    from tests.emulator.factory import rule

    net = test_ipv6.pair(nsg_b="nb")
    net.nsg("nb", rule("deny-a6", 100, "Inbound", "Deny", src="fd00:db8:0:1::/64"))
    nw = nwlab.emulate(net.document(), check_seconds=0.0, retry_after=0.0)
    try:
        d = nw.diagnose("a", "fd00:db8:0:2::4", 80, resource_group="rg", analyzer=False)
    finally:
        nw.close()
    assert not any(name.startswith("ip_flow_verify") for name in d.tests)
    assert d.tests["nsg_diagnostic.source"].meta["profile"]["source"] == "fd00:db8:0:1::4"
    assert d.tests["next_hop.source"].meta["source_ip"] == "fd00:db8:0:1::4"
    assert d.tests["next_hop.source"].next_hop_type == "VnetLocal"


@pytest.mark.parametrize(("destination", "port", "address", "tested"), [
    ("https://bing.com/", None, "204.79.197.200", 443),  # the scheme's port
    ("http://bing.com:8080/x", None, "204.79.197.200", 8080),  # the URL's own
    ("bing.com", 443, "204.79.197.200", 443),  # a host name and its port
])
def test_a_named_destination_is_explained_at_its_resolved_address(destination, port, address,
                                                                  tested):
    with nwlab.emulate(check_seconds=0.0, retry_after=0.0) as nw:
        d = nw.diagnose("MultiTierApp0", destination, port, resource_group="ContosoRG")
    assert d.flow is not None and (d.flow.destination, d.flow.destination_port) == (address, tested)
    assert {"effective_routes.source", "effective_security_rules.source", "nsg_diagnostic.source",
            "next_hop.source", "ip_flow_verify.source"} <= set(d.tests)
    assert not [k for k, v in d.tests.items() if isinstance(v, Exception)]
    assert d.tests["next_hop.source"].meta.get("destination_ip", address) == address
    assert str(tested) in d.tests["nsg_diagnostic.source"].summary()
    outcomes = d.frame().set_index("test")["outcome"]
    assert outcomes["effective_security_rules.source"] == \
        f"{len(d.tests['effective_security_rules.source'].rules)} rules"


def test_a_name_that_does_not_resolve_is_the_finding_not_an_nsg():
    with nwlab.emulate(check_seconds=0.0, retry_after=0.0) as nw:
        d = nw.diagnose("MultiTierApp0", "https://nosuch.contoso.internal/", None,
                        resource_group="ContosoRG")
    assert d.verdict == "not reachable"
    assert [f.kind for f in d.findings][:1] == ["dns"]
    assert "private DNS zone" in d.findings[0].text and d.fixes == []
    # no address: only the tests that need none ran, and they answered
    assert set(d.tests) == {"connectivity", "effective_routes.source",
                            "effective_security_rules.source"}
    assert d.flow is None and "DnsResolution" in str(d)


def test_a_url_dropped_by_a_user_route_names_the_route_at_its_resolved_address():
    """The route class at a URL: the check resolves www.bing.com to the address BlockBing (a
    /32 to None) drops; the finding names the route and its table, as for the address itself."""
    doc = contoso()
    doc["emulation"]["dns"]["www.bing.com"] = "13.107.21.200"
    with nwlab.emulate(doc, check_seconds=0.0, retry_after=0.0) as nw:
        by_name = nw.diagnose("MultiTierApp0", "https://www.bing.com/", None,
                              resource_group="ContosoRG")
        by_address = nw.diagnose("MultiTierApp0", "13.107.21.200", 443,
                                 resource_group="ContosoRG")
    assert by_name.flow == by_address.flow
    route = next(f for f in by_name.findings if f.kind == "route")
    expected = next(f for f in by_address.findings if f.kind == "route")
    assert (route.rule, route.resource_id) == (expected.rule, expected.resource_id) \
        and route.rule == "BlockBing"
    assert [f.kind for f in by_name.fixes] == [f.kind for f in by_address.fixes] != []


def test_live_and_twin_reconcile_a_url_test_by_test(twin):
    """twin= runs the same two rounds on the twin; every test of the resolved address is
    reconciled, and the same estate agrees on each."""
    live = nwlab.emulate(check_seconds=0.0, retry_after=0.0)
    try:
        d = live.diagnose("MultiTierApp0", "http://db.contoso.internal/", None,
                          resource_group="ContosoRG", twin=twin)
    finally:
        live.close()
    rec = {r.test: r.outcome for r in d.reconciliation}
    assert {"connectivity", "effective_security_rules.source", "nsg_diagnostic.source",
            "next_hop.source", "ip_flow_verify.source", "nsg_diagnostic.hop"} <= set(rec)
    assert set(rec.values()) == {"agree"}
