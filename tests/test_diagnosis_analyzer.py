"""nw.diagnose() through the 2026-01-01 connectionAnalyzers bundle: taken on the twin (which
serves it) with the same verdict, findings, fixes and frame as the separate calls; against a fake
ARM server that refuses it (405, 404, InvalidApiVersion...) or answers it in a shape nwlab cannot
read, the separate calls run and the Diagnosis says why; the probe is a read, asked once."""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

import pytest

import nwlab
from fakearm import SUB, VM_ID, WATCHER_ID, FakeArm
from nwlab.diagnostics.bundle import BundleUnreadable
from test_diagnosis import contoso, with_http_deny

RG = f"/subscriptions/{SUB}/resourceGroups/ContosoRG"
NIC = f"{RG}/providers/Microsoft.Network/networkInterfaces/appNic0"
ANALYZERS = r"/networkWatchers/NetworkWatcher_westcentralus/connectionAnalyzers$"
ANALYZER = r"/connectionAnalyzers/nwlab-[0-9a-f]{12}$"
REACHABLE = {"connectionStatus": "Reachable", "avgLatencyInMs": 1, "probesSent": 10,
             "probesFailed": 0, "hops": [
                 {"type": "Source", "id": "h1", "address": "10.1.1.4", "resourceId": VM_ID,
                  "nextHopIds": ["h2"], "issues": []},
                 {"type": "VnetLocal", "id": "h2", "address": "10.1.4.4", "nextHopIds": [],
                  "issues": []}]}
NEXT_HOP = {"nextHopType": "VnetLocal", "nextHopIpAddress": None, "routeTableId": "System Route"}
NSG_ALLOW = {"results": [{"profile": {"direction": "Outbound", "protocol": "TCP",
                                      "source": "10.1.1.4", "destination": "10.1.4.4",
                                      "destinationPort": "80"},
                          "networkSecurityGroupResult": {"securityRuleAccessResult": "Allow",
                                                         "evaluatedNetworkSecurityGroups": []}}]}


def _compare(a: Any, b: Any) -> None:
    assert a.verdict == b.verdict and a.findings == b.findings
    assert [f.title for f in a.fixes] == [f.title for f in b.fixes]
    assert list(a.tests) == list(b.tests)
    assert a.frame().equals(b.frame())


# -- the twin serves the bundle: it is taken, and nothing changes but the path -------------

@pytest.mark.parametrize(("source", "destination", "port"), [
    ("WebVM0", "Database0", 3389),  # an NSG rule at the destination denies
    ("MultiTierApp0", "Database0", 1433),  # reachable
    ("MultiTierApp0", "10.1.4.4", 80),  # dropped at a hop between the ends
])
def test_on_the_twin_the_bundle_is_taken_and_agrees_with_the_separate_calls(source, destination,
                                                                           port):
    with nwlab.emulate(check_seconds=0.0, retry_after=0.0) as nw:
        bundled = nw.diagnose(source, destination, port, resource_group="ContosoRG")
        separate = nw.diagnose(source, destination, port, resource_group="ContosoRG",
                               analyzer=False)
        watcher = nw.find_watcher("westcentralus")
        left = nw.arm.get_json(f"{watcher}/connectionAnalyzers",
                               params={"api-version": "2026-01-01"})
    assert bundled.via == "connectionAnalyzers" and separate.via == "separate calls"
    assert separate.via_reason == "analyzer=False"
    for name in ("connectivity", "next_hop.source", "nsg_diagnostic.source"):
        meta = bundled.tests[name].meta
        assert meta["via"] == "connectionAnalyzers" and meta["deleted"] is True
        assert "/connectionAnalyzers/nwlab-" in meta["analyzer"]
        assert "via" not in separate.tests[name].meta
    assert left == {"value": []}  # the bundle's resource is deleted after its query
    _compare(bundled, separate)
    assert "Tests (via connectionAnalyzers" in str(bundled)
    assert "via connectionAnalyzers" in bundled._repr_html_()
    assert "Tests (via separate calls: analyzer=False)" in str(separate)


def test_the_bundle_finds_the_same_deny_rule_and_fixes():
    with nwlab.emulate(with_http_deny(contoso()), check_seconds=0.0, retry_after=0.0) as nw:
        bundled = nw.diagnose("WebVM0", "Database0", 80, resource_group="ContosoRG")
        separate = nw.diagnose("WebVM0", "Database0", 80, resource_group="ContosoRG",
                               analyzer=False)
    assert bundled.via == "connectionAnalyzers"
    assert [f.rule for f in bundled.findings] == ["DenyHttpToDb"] and bundled.fixes
    _compare(bundled, separate)


def test_analyzer_must_be_none_true_or_false_before_any_request(fake_arm, connect):
    with pytest.raises(TypeError, match=r"analyzer: expected None .* got 'yes'; e.g. analyzer="):
        connect().diagnose(VM_ID, "10.1.4.4", 80, analyzer="yes")
    assert fake_arm.requests == []


# -- a fake ARM that does not serve it --------------------------------------------------------

def _estate(fake: FakeArm) -> FakeArm:
    """MultiTierApp0 (10.1.1.4, one NIC) in westcentralus; every separate call answers at once."""
    fake.contoso(REACHABLE)
    fake.on("GET", r"/virtualMachines/MultiTierApp0$", (200, {}, {
        "id": VM_ID, "name": "MultiTierApp0", "location": "westcentralus",
        "type": "Microsoft.Compute/virtualMachines",
        "properties": {"storageProfile": {"osDisk": {"osType": "Linux"}},
                       "networkProfile": {"networkInterfaces": [{"id": NIC}]},
                       "instanceView": {"statuses": [{"code": "PowerState/running"}]}}}))
    fake.on("GET", r"/networkInterfaces/appNic0$", (200, {}, {
        "id": NIC, "name": "appNic0", "properties": {"ipConfigurations": [
            {"name": "ipconfig1", "properties": {"privateIPAddress": "10.1.1.4",
                                                 "primary": True}}]}}))
    fake.on("POST", r"/nextHop$", (200, {}, NEXT_HOP))
    fake.on("POST", r"/networkConfigurationDiagnostic$", (200, {}, NSG_ALLOW))
    fake.on("POST", r"/ipFlowVerify$", (200, {}, {"access": "Allow",
                                                  "ruleName": "defaultSecurityRules/AllowVnetOutBound"}))
    fake.on("POST", r"/effectiveRouteTable$", (200, {}, {"value": []}))
    return fake


def _refusal(status: int, code: str) -> tuple[int, dict[str, str], Any]:
    return status, {}, {"error": {"code": code, "message": f"{code} for connectionAnalyzers "
                                                           "api-version 2026-01-01"}}


@pytest.mark.parametrize(("status", "code"), [
    (405, "MethodNotAllowed"), (404, "ResourceNotFound"), (400, "InvalidApiVersion"),
    (400, "InvalidApiVersionParameter"), (400, "NoRegisteredProviderFound")])
def test_a_refused_probe_falls_back_to_the_separate_calls_and_is_asked_once(
        fake_arm, connect, status, code):
    _estate(fake_arm).on("GET", ANALYZERS, _refusal(status, code))
    nw = connect()
    d = nw.diagnose(VM_ID, "10.1.4.4", 80)
    assert d.via == "separate calls" and f"HTTP {status} {code}" in (d.via_reason or "")
    assert d.verdict == "reachable" and d.tests["next_hop.source"].next_hop_type == "VnetLocal"
    assert fake_arm.seen("PUT") == [] and fake_arm.seen("DELETE") == []  # the probe is a read
    assert len(fake_arm.seen("POST", r"/connectivityCheck$")) == 1
    again = nw.diagnose(VM_ID, "10.1.4.4", 80)
    assert again.via == "separate calls" and "asked once" in (again.via_reason or "")
    assert len(fake_arm.seen("GET", ANALYZERS)) == 1
    assert f"via separate calls: the service answered HTTP {status} {code}" in str(d)
    # The answer is this client's: a new client asks again.
    connect().diagnose(VM_ID, "10.1.4.4", 80)
    assert len(fake_arm.seen("GET", ANALYZERS)) == 2


def test_a_transient_probe_failure_falls_back_and_is_asked_again(fake_arm, connect):
    _estate(fake_arm).on("GET", ANALYZERS, _refusal(503, "ServiceUnavailable"))
    nw = connect()
    nw.arm.max_retries = 0
    first = nw.diagnose(VM_ID, "10.1.4.4", 80)
    assert first.via == "separate calls" and "HTTP 503" in (first.via_reason or "")
    seen = len(fake_arm.seen("GET", ANALYZERS))
    nw.diagnose(VM_ID, "10.1.4.4", 80)
    assert len(fake_arm.seen("GET", ANALYZERS)) > seen


def test_analyzer_false_sends_no_probe(fake_arm, connect):
    _estate(fake_arm)
    d = connect().diagnose(VM_ID, "10.1.4.4", 80, analyzer=False)
    assert d.via == "separate calls" and fake_arm.seen("GET", "connectionAnalyzers") == []


def _bundle(fake: FakeArm, results: list[dict[str, Any]]) -> FakeArm:
    """The watcher lists analyzers; the PUT provisions at once and the query answers `results`."""
    fake.on("GET", ANALYZERS, (200, {}, {"value": []}))
    fake.on("PUT", ANALYZER, (201, {}, {"name": "x", "properties": {
        "provisioningState": "Succeeded"}}))
    fake.on("POST", ANALYZER[:-1] + "/query$", (200, {}, {
        "connectionAnalyzerStatus": "Succeeded", "diagnosticOperationResults": results}))
    fake.on("DELETE", ANALYZER, (200, {}, None))
    return fake


def _op(name: str, result: Any) -> dict[str, Any]:
    return {"diagnosticOperation": name, "result": json.dumps(result)}


def test_a_readable_bundle_answer_replaces_the_three_separate_calls(fake_arm, connect):
    _bundle(_estate(fake_arm), [_op("ConnectivityCheck", REACHABLE), _op("NextHop", NEXT_HOP),
                                _op("NSG", NSG_ALLOW)])
    nw = connect()
    d = nw.diagnose(VM_ID, "10.1.4.4", 80)
    assert d.via == "connectionAnalyzers" and d.verdict == "reachable"
    assert d.via_reason == "the watcher lists connectionAnalyzers"
    (put,) = fake_arm.seen("PUT")
    assert put.body["properties"]["diagnosticOperations"] == ["ConnectivityCheck", "NextHop",
                                                              "NSG"]
    assert put.body["properties"]["destination"] == {"type": "ExternalAddress",
                                                     "address": "10.1.4.4", "port": 80}
    assert len(fake_arm.seen("DELETE")) == 1
    # What the bundle answered is not asked again; what it does not cover still is.
    for action in ("connectivityCheck", "nextHop", "networkConfigurationDiagnostic"):
        assert fake_arm.seen("POST", f"/{action}$") == []
    assert len(fake_arm.seen("POST", r"/ipFlowVerify$")) == 1
    assert d.tests["next_hop.source"].meta["destination_ip"] == "10.1.4.4"
    assert d.tests["nsg_diagnostic.source"].access == "Allow"
    forced = nw.diagnose(VM_ID, "10.1.4.4", 80, analyzer=True)
    assert (forced.via, forced.via_reason) == ("connectionAnalyzers", "analyzer=True")


def test_a_bundle_answer_in_the_spec_example_shape_falls_back_with_the_reason(fake_arm, connect):
    # The spec's only example of a result string: no hops, no connectionStatus.
    _bundle(_estate(fake_arm), [_op("ConnectivityCheck", {"ConnectivityStatus": "Reachable"}),
                                _op("NextHop", NEXT_HOP), _op("NSG", NSG_ALLOW)])
    d = connect().diagnose(VM_ID, "10.1.4.4", 80)
    assert d.via == "separate calls"
    assert d.via_reason == ("the bundle's answer could not be read: the bundle's "
                            "ConnectivityCheck result has no connectionStatus or hops "
                            "(it has ConnectivityStatus)")
    assert len(fake_arm.seen("DELETE")) == 1  # the bundle is cleaned up all the same
    for action in ("connectivityCheck", "nextHop", "networkConfigurationDiagnostic"):
        assert len(fake_arm.seen("POST", f"/{action}$")) == 1
    assert d.verdict == "reachable" and "via" not in d.tests["connectivity"].meta
    assert "could not be read" in d._repr_html_()


@pytest.mark.parametrize(("results", "reason"), [
    ([_op("ConnectivityCheck", REACHABLE), _op("NextHop", NEXT_HOP)],
     "the bundle sent no NSG result"),
    ([_op("ConnectivityCheck", REACHABLE), _op("NextHop", NEXT_HOP),
      {"diagnosticOperation": "NSG", "error": "InternalError"}],
     "the bundle's NSG failed: InternalError"),
    ([{"diagnosticOperation": "ConnectivityCheck", "result": "not json"}],
     "the bundle's ConnectivityCheck result is not a JSON object ('not json')"),
    ([_op("ConnectivityCheck", REACHABLE), _op("NextHop", {"hop": "?"}), _op("NSG", NSG_ALLOW)],
     "the bundle's NextHop result has no nextHopType (it has hop)"),
])
def test_an_unreadable_bundle_falls_back_naming_what_it_lacked(fake_arm, connect, results, reason):
    _bundle(_estate(fake_arm), results)
    d = connect().diagnose(VM_ID, "10.1.4.4", 80)
    assert d.via == "separate calls" and reason in (d.via_reason or "")
    assert len(fake_arm.seen("POST", r"/connectivityCheck$")) == 1


def test_analyzer_true_skips_the_probe_and_raises_what_it_cannot_read(fake_arm, connect):
    _bundle(_estate(fake_arm), [_op("ConnectivityCheck", {"ConnectivityStatus": "Reachable"})])
    with pytest.raises(BundleUnreadable, match="ConnectivityCheck result has no connectionStatus"):
        connect().diagnose(VM_ID, "10.1.4.4", 80, analyzer=True)
    assert fake_arm.seen("GET", ANALYZERS) == []
    assert fake_arm.seen("POST", r"/connectivityCheck$") == []


def test_a_put_refused_after_the_list_falls_back_and_is_remembered(fake_arm, connect):
    _bundle(_estate(fake_arm), [])
    fake_arm.on("PUT", ANALYZER, _refusal(400, "NoRegisteredProviderFound"))
    nw = connect()
    d = nw.diagnose(VM_ID, "10.1.4.4", 80)
    assert d.via == "separate calls" and "HTTP 400 NoRegisteredProviderFound" in d.via_reason
    nw.diagnose(VM_ID, "10.1.4.4", 80)
    assert len(fake_arm.seen("PUT")) == 1 and len(fake_arm.seen("GET", ANALYZERS)) == 1


def test_a_bundle_write_refused_falls_back_and_is_not_written_again(fake_arm, connect):
    _bundle(_estate(fake_arm), [])
    fake_arm.on("PUT", ANALYZER, _refusal(403, "AuthorizationFailed"))
    nw = connect()
    d = nw.diagnose(VM_ID, "10.1.4.4", 80)
    assert d.via == "separate calls" and "HTTP 403 AuthorizationFailed" in d.via_reason
    assert "AuthorizationFailed for connectionAnalyzers api-version" in d.via_reason  # its words
    assert d.verdict == "reachable"
    nw.diagnose(VM_ID, "10.1.4.4", 80)
    assert len(fake_arm.seen("PUT")) == 1


def test_a_replay_without_the_bundle_says_so_briefly():
    # A recording that holds no probe answer (the check's own cassette, made before the bundle)
    only_the_check = resources.files("nwlab.cassettes").joinpath(
        "vm-to-vm-nsg-blocked-port80.json")
    with nwlab.replay(str(only_the_check)) as recorded:
        d = recorded.diagnose("MultiTierApp0", "Database0", 80, resource_group="ContosoRG")
    assert d.via == "separate calls"
    assert d.via_reason == ("the recordings hold no connectionAnalyzers answer (replay answers "
                            "only what was recorded)")


def test_a_replay_of_a_diagnosis_says_what_the_recorded_watcher_answered():
    # The bundled diagnose() recordings hold the probe: the watcher does not offer the bundle.
    with nwlab.replay() as recorded:
        d = recorded.diagnose("MultiTierApp0", "Database0", 80, resource_group="ContosoRG")
    assert d.via == "separate calls"
    assert (d.via_reason or "").startswith("the service answered HTTP 400 "
                                           "NoRegisteredProviderFound for connectionAnalyzers")


def test_a_check_the_bundle_cannot_express_uses_the_separate_calls(fake_arm, connect):
    _estate(fake_arm)
    d = connect().diagnose(VM_ID, "https://10.1.4.4/health")
    assert d.via == "separate calls" and "url destination" in (d.via_reason or "")
    assert fake_arm.seen("GET", "connectionAnalyzers") == []


def test_analyzer_true_with_a_check_the_bundle_cannot_express_fails_before_any_request(
        fake_arm, connect):
    with pytest.raises(ValueError, match=r"analyzer=True: the check sets source_port|"
                                         r"analyzer=True: a url destination"):
        connect().diagnose(VM_ID, "https://10.1.4.4/health", analyzer=True)
    assert fake_arm.requests == []


def test_the_watcher_id_in_the_fake_is_the_one_probed(fake_arm, connect):
    _estate(fake_arm).on("GET", ANALYZERS, _refusal(405, "MethodNotAllowed"))
    connect().diagnose(VM_ID, "10.1.4.4", 80)
    (probe,) = fake_arm.seen("GET", ANALYZERS)
    assert probe.path == f"{WATCHER_ID}/connectionAnalyzers"
    assert probe.query["api-version"] == "2026-01-01"
