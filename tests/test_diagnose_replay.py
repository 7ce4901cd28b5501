"""Replay answers nw.diagnose() of every documented check offline: the bundled diagnose-*.json
cassettes (scripts/make_diagnose_cassettes.py) hold every request it makes; a supporting answer
that is missing is reported as the test that failed, never dropped."""

from __future__ import annotations

import json
import re
import sys
from importlib import resources
from pathlib import Path
from typing import Any

import pytest

import nwlab
from fakearm import DATA
from nwlab.arm.errors import ReplayMismatch
from nwlab.recording import Cassette

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

import make_diagnose_cassettes as maker  # noqa: E402

SEED = {s["name"]: s for s in
        json.loads((DATA / "seed-scenarios.json").read_text(encoding="utf-8"))["scenarios"]}
NET = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/ContosoRG/providers/" \
      "Microsoft.Network"
AUDIT_NSG = f"{NET}/networkSecurityGroups/AuditNsg"
APP_ROUTES = f"{NET}/routeTables/AppRouteTable"
# What each documented check's diagnosis names: (finding kind, rule, priority, resource id).
EXPECTED: dict[str, tuple[str, str | None, int | None, str | None]] = {
    "vm-to-vm-nsg-blocked": ("nsg-rule", "Port80", 100, AUDIT_NSG),
    "vm-to-vm-nsg-blocked-port80": ("nsg-rule", "Port80", 100, AUDIT_NSG),
    "vm-to-ip-udr-blocked": ("route", "BlockBing", None, APP_ROUTES),
    "vm-to-website-reachable": ("reachable", None, None, None),
    "vm-to-storage-reachable": ("reachable", None, None, None),
}


def _scenario(name: str) -> dict[str, Any]:
    return SEED[name.removesuffix("-port80")]


def _bundled(name: str) -> dict[str, Any]:
    text = resources.files("nwlab.cassettes").joinpath(f"{name}.json").read_text(encoding="utf-8")
    return dict(json.loads(text))


def _diagnose(nw: Any, name: str) -> Any:
    destination, port = maker.CHECKS[name]
    return nw.diagnose(maker.SOURCE, destination, port, resource_group="ContosoRG")


@pytest.fixture(scope="module")
def recorded() -> Any:
    client = nwlab.replay()
    yield client
    client.close()


def test_every_documented_check_has_a_diagnose_recording():
    checks = {c["name"] for c in SEED.values()} | {"vm-to-vm-nsg-blocked-port80"}
    assert set(maker.CHECKS) == checks == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_replay_diagnoses_each_documented_check_fully(recorded, name):
    d = _diagnose(recorded, name)
    documented = _scenario(name)["result"]
    assert d.connectivity.to_dict() == documented  # the documented check, as documented
    assert d.verdict == ("reachable" if documented["connectionStatus"] == "Reachable"
                         else "not reachable")
    failed = {k: str(v) for k, v in d.tests.items() if isinstance(v, Exception)}
    assert failed == {}  # every supporting test answered from the recording
    assert d.via == "separate calls"
    assert ("url destination" if name.endswith("reachable") else "NoRegisteredProviderFound") \
        in (d.via_reason or "")  # a URL is no bundle endpoint; else the recorded probe refusal
    kind, rule, priority, resource = EXPECTED[name]
    first = d.findings[0]
    assert (first.kind, first.rule, first.priority, first.resource_id) == (kind, rule, priority,
                                                                            resource)
    if kind == "reachable":
        assert d.fixes == []
        return
    # The supporting answers agree with the documented check: the rule its hop names is the one
    # the NSG diagnostic found; the fixes change the resource that holds it, smallest first.
    context = [c["value"] for hop in documented["hops"] for issue in hop["issues"]
               for c in issue.get("context") or [] if c["key"] == "RuleName"]
    assert context == ([f"UserRule_{rule}"] if kind == "nsg-rule" else [])
    assert d.fixes and {f.resource_id for f in d.fixes} == {resource}
    assert d.fixes[-1].kind.startswith("delete-")  # the largest change last
    for fix in d.fixes:
        assert fix.command.startswith("az network ") and f"-n {rule}" in fix.command
        assert fix.request.url.startswith(f"https://management.azure.com{resource}")
        assert "api-version=" in fix.request.url
    if kind == "nsg-rule":
        assert first.fields["priority"] == 100 and first.fields["access"] == "Deny"
        assert "nsg_diagnostic.hop" in d.tests and "next_hop.hop" in d.tests  # the second round
    assert rule in str(d) and rule in d._repr_html_()


def test_replay_diagnose_answers_again_and_again(recorded):
    first = _diagnose(recorded, "vm-to-vm-nsg-blocked-port80")
    again = _diagnose(recorded, "vm-to-vm-nsg-blocked-port80")
    assert first.rows() == again.rows()
    assert [f.to_dict() for f in first.fixes] == [f.to_dict() for f in again.fixes]


def test_port_zero_tests_the_port_the_service_checked(recorded):
    """The documented check sends port 0 and its text says port 80 was checked: the explaining
    tests test port 80 too (port 0 would find no rule that blocked the check)."""
    d = _diagnose(recorded, "vm-to-vm-nsg-blocked")
    assert d.flow is not None and d.flow.destination_port == 80
    hop = d.tests["nsg_diagnostic.hop"]
    assert hop.results[0].query.destination_port == "80"


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_diagnose_cassette_says_whose_answers_it_holds(name):
    cassette = _bundled(f"diagnose-{name}")
    assert "the supporting tests" in cassette["note"] and "twin's" in cassette["note"]
    assert "consistent with the documented check" in cassette["note"]
    def check_posts(data: dict[str, Any]) -> list[dict[str, Any]]:
        return [i for i in data["interactions"] if i["request"]["method"] == "POST"
                and i["request"]["url"].split("?")[0].endswith("/connectivityCheck")]

    (post,) = check_posts(cassette)
    (seed,) = check_posts(_bundled(name))  # the check's own cassette: the same request
    assert post["request"] == seed["request"]
    assert post["response"]["body"] == seed["response"]["body"] is None
    assert list(post["response"]["headers"]) == list(seed["response"]["headers"])  # documented


def test_a_missing_supporting_answer_is_reported_not_dropped():
    """Each kind of supporting request, removed from the recording, shows as the test that
    failed, naming the request replay lacks; the rest of the diagnosis still stands."""
    cassette = Cassette.from_dict(_bundled("diagnose-vm-to-vm-nsg-blocked-port80"))

    def without(predicate: Any) -> Any:
        kept = [i for i in cassette.interactions if not predicate(i)]
        assert len(kept) < len(cassette.interactions)
        return nwlab.replay([Cassette(cassette.name, kept, cassette.note)])

    def hop_diagnostic(i: Any) -> bool:
        return i.url.split("?")[0].endswith("/networkConfigurationDiagnostic") and \
            "/networkInterfaces/auNic" in json.dumps(i.request_body)

    with without(hop_diagnostic) as nw:
        d = _diagnose(nw, "vm-to-vm-nsg-blocked-port80")
    missing = d.tests["nsg_diagnostic.hop"]
    assert isinstance(missing, ReplayMismatch)
    assert re.search(r"POST .*/networkConfigurationDiagnostic with body .*auNic", str(missing))
    row = next(r for r in d.rows() if r["test"] == "nsg_diagnostic.hop")
    assert row["outcome"] == "failed" and "networkConfigurationDiagnostic" in row["detail"]
    assert "nsg_diagnostic.hop" in str(d) and "networkConfigurationDiagnostic" in str(d)
    assert d.verdict == "not reachable" and not isinstance(d.tests["next_hop.hop"], Exception)

    with without(lambda i: i.method == "GET" and i.url.split("?")[0].endswith(
            "/networkSecurityGroups/AuditNsg")) as nw:
        d = _diagnose(nw, "vm-to-vm-nsg-blocked-port80")
    assert isinstance(d.tests["nsg_rules.AuditNsg"], ReplayMismatch)
    assert "see nsg_rules.AuditNsg" in d.findings[0].text and d.fixes == []

    with without(lambda i: i.method == "GET" and i.url.split("?")[0].endswith(
            "/networkInterfaces/auNic")) as nw:
        d = _diagnose(nw, "vm-to-vm-nsg-blocked-port80")
    hop = d.tests["next_hop.hop"]  # it reads the hop's NIC for the VM to ask
    assert isinstance(hop, ReplayMismatch) and re.search(r"GET .*/networkInterfaces/auNic",
                                                         str(hop))
    assert "next_hop.hop" in json.dumps(d.to_dict()["tests"])


def test_an_unrecorded_diagnosis_is_a_typed_error_naming_the_request(recorded):
    with pytest.raises(ReplayMismatch, match=r"connectivityCheck with body .*443"):
        recorded.diagnose(maker.SOURCE, "Database0", 443, resource_group="ContosoRG")


_PSEUDONYM = re.compile(r"00000000-0000-0000-0000-[0-9a-f]{12}")


def _exchanges(cassette: dict[str, Any]) -> list[str]:
    """The exchanges as a sorted list, pseudonyms blanked: diagnose() runs its tests
    concurrently (their order varies) and recording draws pseudonyms at random."""
    return sorted(_PSEUDONYM.sub("<guid>", json.dumps(i, sort_keys=True))
                  for i in cassette["interactions"])


def test_the_bundled_diagnose_cassettes_are_what_the_script_records(tmp_path):
    assert maker.main(str(DATA / "seed-scenarios.json"), str(tmp_path)) == 0
    for name in maker.CHECKS:
        recorded = json.loads((tmp_path / f"diagnose-{name}.json").read_text(encoding="utf-8"))
        bundled = _bundled(f"diagnose-{name}")
        assert recorded["note"] == bundled["note"]
        assert _exchanges(recorded) == _exchanges(bundled)


@pytest.mark.parametrize("name", ["vm-to-website-reachable", "vm-to-storage-reachable"])
def test_replay_explains_a_url_at_the_address_the_check_resolved(recorded, name):
    d = _diagnose(recorded, name)
    address = d.connectivity.hops[-1].address  # the documented check's resolved address
    assert d.flow is not None and (d.flow.destination, d.flow.destination_port) == (address, 443)
    assert {"effective_routes.source", "effective_security_rules.source",
            "nsg_diagnostic.source", "next_hop.source", "ip_flow_verify.source"} <= set(d.tests)
    assert not [k for k, v in d.tests.items() if isinstance(v, Exception)]
