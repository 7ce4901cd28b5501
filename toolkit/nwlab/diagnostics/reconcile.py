"""Live and twin side by side: each test's outcome on both, and for a disagreement its likely
cause, checked in this order:

1. the snapshot is older than a change: a resource the tests name (NSGs, route tables, the hops'
   resources) differs between a fresh GET on each side (etag, else the properties);
2. the twin assumed something on this path: its assumptions (ConnectivityResult.assumptions)
   are named;
3. the guest OS or the application refused: Azure saw the packet reach the destination NIC with
   no NSG or route issue, which the twin (answering for the network only) calls reachable;
4. beyond the estate: the destination is outside private address space (Internet, on-premises).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import Any

from nwlab.arm.errors import NwlabError
from nwlab.diagnostics.nsg import NsgDiagnosticResult
from nwlab.diagnostics.outcome import GUEST_ISSUES, outcome

__all__ = ["Reconciliation", "reconcile"]


@dataclass(frozen=True)
class Reconciliation:
    test: str
    outcome: str  # agree | disagree | missing
    live: str
    twin: str
    cause: str = ""
    changed: tuple[str, ...] = ()  # resource ids that differ between live and twin
    assumptions: tuple[str, ...] = field(default=())  # assumption codes on the twin's path

    def __str__(self) -> str:
        text = f"{self.test}: {self.outcome} (live {self.live}, twin {self.twin})"
        return f"{text}: {self.cause}" if self.cause else text


def _word(result: Any) -> str:
    return "failed" if isinstance(result, NwlabError) or result is None else outcome(result)


def _named_resources(tests: dict[str, Any]) -> list[str]:
    """The NSGs, route tables and hop resources the live tests name, in order, once each."""
    ids: list[str] = []
    for result in tests.values():
        if isinstance(result, NsgDiagnosticResult):
            for entry in result.results:
                ids += [e.nsg_id for e in entry.evaluated if "/networkSecurityGroups/" in e.nsg_id]
        table = getattr(result, "route_table_id", None)
        if isinstance(table, str) and "/routeTables/" in table:
            ids.append(table)
        for hop in getattr(result, "hops", None) or []:
            if hop.resource_id and "/providers/" in hop.resource_id:
                ids.append(hop.resource_id)
    return list(dict.fromkeys(i for i in ids if i))


def _body(client: Any, resource_id: str) -> dict[str, Any] | None:
    try:
        body = client.arm.get_json(resource_id)
    except NwlabError:
        return None
    return body if isinstance(body, dict) else {}


def _properties(body: dict[str, Any]) -> str:
    """The properties that decide routing and filtering, normalised (child order, states)."""
    props = dict(body.get("properties") or {})
    for volatile in ("provisioningState", "resourceGuid", "defaultSecurityRules"):
        props.pop(volatile, None)
    for rules in ("securityRules", "routes"):  # children compared by name and own properties
        if isinstance(props.get(rules), list):
            props[rules] = sorted(
                (str(r.get("name")), repr(sorted((k, v) for k, v in (r.get("properties") or {})
                                                 .items() if k != "provisioningState")))
                for r in props[rules] if isinstance(r, dict))
    return repr(sorted(props.items(), key=lambda kv: kv[0]))


def changed_resources(live: Any, twin: Any, tests: dict[str, Any]) -> list[str]:
    """Resources on the path that differ: equal etags mean unchanged; otherwise (a twin keeps
    the snapshot's etags only if the snapshot recorded them) the properties are compared."""
    changed = []
    for rid in _named_resources(tests):
        a, b = _body(live, rid), _body(twin, rid)
        if a is None or b is None:
            if a != b:
                changed.append(rid)
            continue
        if a.get("etag") and a.get("etag") == b.get("etag"):
            continue
        if _properties(a) != _properties(b):
            changed.append(rid)
    return changed


def reconcile(live: Any, twin: Any, tests: dict[str, Any], twin_tests: dict[str, Any]
              ) -> list[Reconciliation]:
    out = []
    changed: list[str] | None = None
    for name, result in tests.items():
        other = twin_tests.get(name)
        a, b = _word(result), _word(other)
        if name not in twin_tests:
            out.append(Reconciliation(name, "missing", a, "-", "the twin did not run this test"))
            continue
        if a == b:
            out.append(Reconciliation(name, "agree", a, b))
            continue
        if changed is None:
            changed = changed_resources(live, twin, tests)
        codes = tuple(dict.fromkeys(x.code for x in getattr(other, "assumptions", None) or []))
        if changed:
            cause = ("the snapshot is older than a change: "
                     + ", ".join(r.rsplit("/", 1)[-1] for r in changed)
                     + " differ between Azure and the twin")
        elif codes:
            cause = "the twin assumed: " + ", ".join(codes)
        elif name == "connectivity" and b == "reachable" and _reached_nic(result):
            cause = ("the guest OS or the application refused: Azure saw the packet reach the "
                     "destination NIC with no NSG or route issue")
        elif name == "connectivity" and _beyond(result):
            cause = "beyond the estate: the destination is on the Internet or on-premises"
        else:
            cause = "no cause found in the resources on the path"
        out.append(Reconciliation(name, "disagree", a, b, cause, tuple(changed), codes))
    return out


def _reached_nic(result: Any) -> bool:
    hops = getattr(result, "hops", None) or []
    types = {i.type for i in getattr(result, "issues", None) or []}
    return bool(hops) and types <= GUEST_ISSUES and \
        hops[-1].type.lower() in ("virtualmachine", "vnetlocal")


def _beyond(result: Any) -> bool:
    hops = getattr(result, "hops", None) or []
    if not hops or not hops[-1].address:
        return False
    try:
        return not ipaddress.ip_address(hops[-1].address).is_private
    except ValueError:
        return False
