"""Live and twin reconciled: each class of disagreement gets its likely cause (a resource
changed, deleted or created since the snapshot, a GET that proves nothing, the twin's
assumption, the guest OS, beyond the estate, a test that failed on one side)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from tests.emulator.factory import rule, two_subnets

import nwlab
from nwlab.arm.errors import ArmError
from nwlab.diagnostics.reconcile import Change, reconcile, resource_changes

NSG = ("/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg/providers/"
       "Microsoft.Network/networkSecurityGroups/sb")


def _client(answer: Any) -> Any:
    def get_json(rid: str) -> Any:
        if isinstance(answer, Exception):
            raise answer
        return answer

    return SimpleNamespace(arm=SimpleNamespace(get_json=get_json))


def _check(reachable: bool, *, hop_type: str = "VnetLocal", address: str = "10.0.2.4",
           issues: tuple[str, ...] = (), assumptions: tuple[str, ...] = ()) -> Any:
    hop = SimpleNamespace(resource_id=NSG, type=hop_type, address=address, issues=[])
    return SimpleNamespace(reachable=reachable, hops=[hop],
                           issues=[SimpleNamespace(type=t) for t in issues],
                           assumptions=[SimpleNamespace(code=c) for c in assumptions])


def _nsg(etag: str, rules: list[dict[str, Any]]) -> dict[str, Any]:
    return {"id": NSG, "etag": etag, "properties": {"securityRules": rules}}


DENY = {"name": "DenyWeb", "properties": {"priority": 200, "access": "Deny"}}


def test_equal_etags_mean_unchanged_and_differing_etags_are_checked_by_properties() -> None:
    tests = {"connectivity": _check(False)}
    same = resource_changes(_client(_nsg('W/"1"', [DENY])), _client(_nsg('W/"1"', [])), tests)
    assert same == []  # the etag says nothing changed, whatever the bodies hold
    touched = resource_changes(_client(_nsg('W/"2"', [DENY])), _client(_nsg('W/"1"', [DENY])),
                               tests)
    assert touched == []  # a new etag, the same rules: nothing that decides a flow changed
    changed = resource_changes(_client(_nsg('W/"2"', [DENY])), _client(_nsg('W/"1"', [])),
                               tests)
    assert changed == [Change(NSG, "changed")]
    (rec,) = reconcile(_client(_nsg('W/"2"', [DENY])), _client(_nsg('W/"1"', [])),
                       tests, {"connectivity": _check(True)})
    assert rec.changed == (NSG,) and "sb changed (its etag and properties differ)" in rec.cause


def test_a_get_that_fails_otherwise_than_404_is_not_a_change() -> None:
    denied = ArmError("no read", status=403, code="AuthorizationFailed")
    (rec,) = reconcile(_client(denied), _client(_nsg('W/"1"', [])),
                       {"connectivity": _check(False, issues=("NetworkSecurityRule",))},
                       {"connectivity": _check(True)})
    assert rec.outcome == "disagree" and rec.changed == ()
    assert "could not be read (Azure: ArmError 403)" in rec.cause


def test_the_twins_assumption_the_guest_and_beyond_the_estate() -> None:
    same = _client(_nsg('W/"1"', []))
    (assumed,) = reconcile(same, same, {"connectivity": _check(False)},
                           {"connectivity": _check(True, assumptions=("ASSUME_FIREWALL_DENY",))})
    assert assumed.cause == "the twin assumed: ASSUME_FIREWALL_DENY"
    (guest,) = reconcile(same, same, {"connectivity": _check(False, issues=("GuestFirewall",))},
                         {"connectivity": _check(True)})
    assert "guest OS or the application" in guest.cause
    for hop_type, address in (("Internet", "13.107.21.200"),
                              ("VirtualNetworkGateway", "10.9.0.4")):  # on-premises: private
        (beyond,) = reconcile(same, same,
                              {"connectivity": _check(False, hop_type=hop_type, address=address)},
                              {"connectivity": _check(True, hop_type=hop_type, address=address)})
        assert "beyond the estate" in beyond.cause, hop_type


def test_a_test_that_failed_on_one_side_says_where_and_why() -> None:
    same = _client(_nsg('W/"1"', []))
    failed = ArmError("The operation timed out", status=504, code="GatewayTimeout")
    (rec,) = reconcile(same, same, {"next_hop.source": failed},
                       {"next_hop.source": SimpleNamespace(next_hop_type="VnetLocal")})
    assert rec.live == "failed" and rec.cause.startswith("the test failed on Azure: HTTP 504")


def _emulate(doc: dict[str, Any]) -> Any:
    return nwlab.emulate(doc, check_seconds=0.0, retry_after=0.0)


def test_an_nsg_deleted_or_created_since_the_snapshot_is_named() -> None:
    with_nsg = two_subnets(nsg_b="sb")
    with_nsg.nsg("sb", rule("DenyWeb", 200, "Inbound", "Deny", protocol="Tcp", dport="80"))
    without = two_subnets()
    blocked, open_ = _emulate(with_nsg.document()), _emulate(without.document())
    try:
        # Azure no longer has sb (deleted after the snapshot): only the twin's tests name it.
        d = open_.diagnose("a", "b", 80, resource_group="rg", twin=blocked)
        rec = {r.test: r for r in d.reconciliation}["connectivity"]
        assert rec.outcome == "disagree" and rec.changed[0].endswith("/sb")
        assert "sb was deleted since the snapshot (Azure answers 404)" in rec.cause
        # Azure gained sb after the snapshot: the twin answers 404 for it.
        d = blocked.diagnose("a", "b", 80, resource_group="rg", twin=open_)
        rec = {r.test: r for r in d.reconciliation}["connectivity"]
        assert "sb was created since the snapshot" in rec.cause
    finally:
        blocked.close()
        open_.close()
