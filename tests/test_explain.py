"""The issue catalogue, rule/route parsing, and the diagnosis of the four documented results."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from nwlab.arm.errors import ArmError, CheckCancelled, PreflightError
from nwlab.explain import (
    CATALOGUE,
    Finding,
    blocking_cause,
    error_html,
    error_text,
    explain_issue,
    explain_result,
    issue_info,
    parse_route,
    parse_rule_name,
    short_cause,
    verdict_sentence,
)
from nwlab.model import ConnectivityResult, Issue

DATA = Path(__file__).parent / "data" / "results"

REFERENCE_TYPES = [
    # spec enum
    "Unknown", "AgentStopped", "GuestFirewall", "DnsResolution", "SocketBind",
    "NetworkSecurityRule", "UserDefinedRoute", "PortThrottled", "Platform",
    # live extras
    "NoListenerOnDestination", "RouteMissing",
    # overview doc
    "CPU", "Memory", "DNSResolution",
]

RULE_ID = ("/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg1/providers/"
           "Microsoft.Network/networkSecurityGroups/VM2-nsg/SecurityRules/Deny3389Inbound")


def load(name: str) -> ConnectivityResult:
    return ConnectivityResult.from_dict(json.loads((DATA / f"{name}.json").read_text()))


def issue(type_: str, origin: str = "Outbound", address: str = "10.0.0.4",
          **context: str) -> Issue:
    return Issue.from_dict({"origin": origin, "severity": "Error", "type": type_,
                            "context": [{"key": k, "value": v} for k, v in context.items()]},
                           hop_id="h1", hop_address=address)


@pytest.mark.parametrize("type_", REFERENCE_TYPES)
def test_every_reference_type_has_a_complete_entry(type_: str) -> None:
    info = issue_info(type_)
    assert info.type in CATALOGUE, type_
    for field in (info.short, info.meaning, info.cause, info.fix):
        assert field.strip()
    assert info.docs_url.startswith("https://learn.microsoft.com/")


def test_lookup_is_case_insensitive_and_dns_alias_maps() -> None:
    assert issue_info("DNSResolution") is CATALOGUE["DnsResolution"]
    assert issue_info("networksecurityrule") is CATALOGUE["NetworkSecurityRule"]


def test_unknown_type_gets_generic_entry_keeping_raw_string() -> None:
    info = issue_info("QuantumEntanglement")
    assert info.type == "QuantumEntanglement"
    assert "QuantumEntanglement" in info.meaning
    assert info.docs_url.startswith("https://")
    finding = explain_issue(issue("QuantumEntanglement"))
    assert "QuantumEntanglement" in finding.title


def test_rule_names_user_default_and_full_id() -> None:
    user = parse_rule_name("UserRule_Port80")
    assert (user.kind, user.name, user.label) == ("user", "Port80", "UserRule_Port80")
    default = parse_rule_name("DefaultRule_DenyAllInBound")
    assert (default.kind, default.name, default.is_default) == ("default", "DenyAllInBound", True)
    full = parse_rule_name(RULE_ID)
    assert (full.kind, full.name, full.nsg, full.resource_group) == (
        "user", "Deny3389Inbound", "VM2-nsg", "rg1")
    assert full.label == "Deny3389Inbound in VM2-nsg"
    no_slash = parse_rule_name(RULE_ID.lstrip("/").replace("SecurityRules", "defaultSecurityRules"))
    assert no_slash.kind == "default" and no_slash.resource_id == RULE_ID.replace(
        "SecurityRules", "defaultSecurityRules")
    assert parse_rule_name(None).kind == "unknown"


def test_default_rule_fix_says_add_higher_priority_allow() -> None:
    finding = explain_issue(issue("NetworkSecurityRule", "Inbound",
                                  RuleName="DefaultRule_DenyAllInBound"))
    assert "default" in finding.cause.lower()
    assert "allow rule" in finding.fix and "higher priority" in finding.fix
    assert finding.docs_url.endswith("#default-security-rules")
    assert finding.title.startswith("Inbound NSG rule DefaultRule_DenyAllInBound")


def test_full_rule_id_names_the_nsg() -> None:
    i = issue("NetworkSecurityRule", "Inbound", RuleName=RULE_ID)
    assert short_cause(i) == "NSG rule Deny3389Inbound in VM2-nsg (inbound) at 10.0.0.4"
    assert "VM2-nsg" in explain_issue(i).cause


def test_route_types_user_and_default() -> None:
    user = issue("UserDefinedRoute", RouteType="User")
    assert parse_route(user).is_user and parse_route(user).next_hop_type == "None"
    assert short_cause(user) == "User route to None at 10.0.0.4"
    assert "route table" in explain_issue(user).cause
    system = issue("UserDefinedRoute", RouteType="Default",
                   ErrorMessage="NextHop Type None, NextHop IP ")
    assert parse_route(system).is_system
    assert short_cause(system) == "System route to None at 10.0.0.4"
    finding = explain_issue(system)
    assert "system route" in finding.cause.lower() and "peer" in finding.fix.lower()
    assert "NextHop Type None" in finding.meaning
    appliance = issue("UserDefinedRoute", RouteType="User",
                      ErrorMessage="NextHop Type VirtualAppliance, NextHop IP 10.1.2.4")
    assert parse_route(appliance).next_hop_type == "VirtualAppliance"
    assert parse_route(appliance).next_hop_ip == "10.1.2.4"


def test_seed_nsg_blocked() -> None:
    r = load("vm-to-vm-nsg-blocked")
    (finding,) = explain_result(r)
    assert finding.severity == "Error"
    assert finding.title == "Outbound NSG rule UserRule_Port80 blocks the path at 10.1.3.4"
    assert finding.hop_address == "10.1.3.4" and finding.hop_type == "VirtualAppliance"
    assert finding.issue is not None and finding.issue.rule_name == "UserRule_Port80"
    assert verdict_sentence(r) == ("10.1.1.4 cannot reach 10.1.4.4: the outbound NSG rule "
                                   "UserRule_Port80 at 10.1.3.4 drops every probe "
                                   "(100 of 100 failed).")
    assert blocking_cause(r) == "NSG rule UserRule_Port80 (outbound) at 10.1.3.4"
    text = str(finding)
    assert "Fix:" in text and "Port80" in text and finding.docs_url in text


def test_seed_udr_blocked() -> None:
    r = load("vm-to-ip-udr-blocked")
    (finding,) = explain_result(r)
    assert finding.title == "A user-defined route sends the traffic to next hop None at 10.1.1.4"
    assert finding.hop_type == "Source"
    assert blocking_cause(r) == "User route to None at 10.1.1.4"
    assert verdict_sentence(r).startswith("10.1.1.4 cannot reach 13.107.21.200: a user-defined "
                                          "route to next hop None at 10.1.1.4")


@pytest.mark.parametrize("name,dest", [("vm-to-website-reachable", "204.79.197.200"),
                                       ("vm-to-storage-reachable", "13.71.200.248")])
def test_seed_reachable(name: str, dest: str) -> None:
    r = load(name)
    (finding,) = explain_result(r)
    assert finding.severity == "Info" and finding.issue is None
    assert blocking_cause(r) is None
    assert verdict_sentence(r) == (f"10.1.1.4 reaches {dest}: 0 of 100 probes failed, latency "
                                   "avg 1 ms (min 0, max 7).")


def test_unreachable_without_issue_explains_stopped_destination() -> None:
    d = json.loads((DATA / "vm-to-vm-nsg-blocked.json").read_text())
    for hop in d["hops"]:
        hop["issues"] = []
    r = ConnectivityResult.from_dict(d)
    (finding,) = explain_result(r)
    assert finding.severity == "Error"
    assert "deallocated" in finding.cause
    assert finding.hop_address == "10.1.4.4"
    assert blocking_cause(r) == "No answer from 10.1.4.4"
    assert "no answer" in verdict_sentence(r)


def test_reachable_with_loss_warns() -> None:
    d = json.loads((DATA / "vm-to-website-reachable.json").read_text())
    d["probesFailed"] = 5
    r = ConnectivityResult.from_dict(d)
    (finding,) = explain_result(r)
    assert finding.severity == "Warning" and "5 of 100" in finding.title
    assert "5%" in verdict_sentence(r)


def test_result_explain_uses_catalogue() -> None:
    findings = load("vm-to-vm-nsg-blocked").explain()
    assert isinstance(findings[0], Finding)


def test_error_text_and_html_show_fix_and_escape() -> None:
    exc = PreflightError("VM <b>vm1</b> is deallocated.", fix="Start it & run again.")
    assert error_text(exc) == "Preflight error: VM <b>vm1</b> is deallocated.\nFix: Start it & run again."
    markup = error_html(exc)
    assert "&lt;b&gt;vm1&lt;/b&gt;" in markup and "Start it &amp; run again." in markup
    assert "<b>vm1" not in markup and "Traceback" not in markup
    arm = ArmError("Forbidden", status=403, code="AuthorizationFailed", request_id="r1",
                   fix="Ask for Network Contributor.")
    text = error_text(arm)
    assert "HTTP 403 AuthorizationFailed" in text and text.count("Network Contributor") == 1
    assert error_text(ValueError("port: type a number, e.g. 443")).startswith("Invalid input: port")
    assert error_text(CheckCancelled("Stopped by the user.")).startswith("Check stopped")
    assert "Unexpected error (KeyError)" in error_text(KeyError("x"))


def test_unknown_status_is_not_called_blocked() -> None:
    r = ConnectivityResult.from_dict(None)
    (finding,) = explain_result(r)
    assert finding.severity == "Warning" and "'Unknown'" in finding.title
    assert "ended with status 'Unknown'" in verdict_sentence(r)


def test_a_path_that_ends_at_an_appliance_is_explained_as_such():
    """The emulator (and, we assume, the service) reports no issue when an appliance does not
    forward; the explanation must point at the appliance, not at a stopped destination."""
    from nwlab.explain import blocking_cause, explain_result, verdict_sentence
    from nwlab.model import ConnectivityResult

    result = ConnectivityResult.from_dict({
        "connectionStatus": "Unreachable", "probesSent": 100, "probesFailed": 100,
        "hops": [
            {"type": "Source", "id": "a", "address": "10.0.1.4", "nextHopIds": ["b"],
             "issues": []},
            {"type": "VirtualAppliance", "id": "b", "address": "10.0.3.4", "nextHopIds": [],
             "issues": []},
        ]})
    (finding,) = explain_result(result)
    assert "appliance" in finding.title and "10.0.3.4" in finding.title
    assert "IP forwarding" in finding.cause and "--ip-forwarding true" in finding.fix
    assert "stopped or deallocated" not in finding.cause
    assert blocking_cause(result) == "Path ends at appliance 10.0.3.4"
    assert "go no further" in verdict_sentence(result)


def test_explain_renders_as_findings_in_a_repl_and_a_notebook_and_stays_a_list() -> None:
    findings = load("vm-to-vm-nsg-blocked").explain()
    assert isinstance(findings, list) and len(findings) == 1
    assert findings[0] is next(iter(findings)) and findings == [findings[0]]
    text = repr(findings)
    assert text == str(findings) and not text.startswith("[Finding(")
    assert text.startswith("[Error] Outbound NSG rule UserRule_Port80 blocks the path at 10.1.3.4")
    assert "Fix:" in text and "Likely cause:" in text
    markup = findings._repr_html_()
    assert markup.startswith('<ul class="nwlab-findings"') and "UserRule_Port80" in markup
    assert "Fix:" in markup and findings[0]._repr_html_().count("<li") == 1
    several = load("vm-to-website-reachable").explain() + findings  # list operations still work
    assert len(several) == 2
    assert str(explain_result(ConnectivityResult.from_dict({"connectionStatus": "Reachable"})))


def test_findings_html_escapes_what_the_service_sent() -> None:
    r = ConnectivityResult.from_dict({"connectionStatus": "Unreachable", "hops": [
        {"type": "<b>Source</b>", "id": "a", "address": "<img src=x>", "nextHopIds": [],
         "issues": [{"origin": "Outbound", "severity": "<i>Error</i>",
                     "type": "<script>alert(1)</script>",
                     "context": [{"key": "RuleName", "value": "UserRule_<b>x</b>"}]}]}]})
    markup = r.explain()._repr_html_()
    for tag in ("<b>", "<img", "<i>", "<script"):
        assert tag not in markup, tag
    assert "&lt;script&gt;" in markup


@pytest.mark.parametrize("kind,requested", [("url", "https://bing.com/"), ("host", "bing.com")])
def test_the_verdict_names_the_host_a_check_was_asked_for(kind: str, requested: str) -> None:
    r = ConnectivityResult.from_dict(json.loads((DATA / "vm-to-website-reachable.json").read_text()),
                                     meta={"destination": requested, "destination_kind": kind})
    assert verdict_sentence(r).startswith("10.1.1.4 reaches bing.com (204.79.197.200):")
    assert "bing.com (204.79.197.200) is reachable" in r.explain()[0].title
    vm = r.with_meta(destination="/subscriptions/x/vm", destination_kind="vm")
    assert verdict_sentence(vm).startswith("10.1.1.4 reaches 204.79.197.200:")
