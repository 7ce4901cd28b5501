"""What each diagnostic result says in one word, and which issues the guest OS raises: shared by
the diagnosis and its live-versus-twin reconciliation (which must not import each other)."""

from __future__ import annotations

from typing import Any

from nwlab.diagnostics.flow import IpFlowResult, NextHopResult
from nwlab.diagnostics.nsg import NsgDiagnosticResult
from nwlab.diagnostics.routes import EffectiveRoutes
from nwlab.diagnostics.rules import EffectiveSecurityRules

# Issues Azure reports when the packet reached the NIC and the guest refused it.
GUEST_ISSUES = frozenset({"GuestFirewall", "NoListenerOnDestination"})


def outcome(result: Any) -> str:
    if isinstance(result, IpFlowResult):
        return result.access or "-"
    if isinstance(result, NextHopResult):
        return result.next_hop_type or "-"
    if isinstance(result, NsgDiagnosticResult):
        return result.access or "-"
    if isinstance(result, EffectiveRoutes):
        return f"{len(result.routes)} routes"
    if isinstance(result, EffectiveSecurityRules):  # a count, so live and twin can differ
        return f"{len(result.rules)} rules"
    if hasattr(result, "reachable"):
        return "reachable" if result.reachable else "not reachable"
    return "done"
