"""Live and twin side by side: each test's outcome on both, and for a disagreement its likely
cause, checked in this order:

1. the snapshot is older than a change: a resource the tests of either side name (NSGs, route
   tables, the hops' resources) differs between a fresh GET on each side: changed (etags differ
   and so do the properties that decide routing and filtering), deleted since the snapshot (404
   from Azure, the twin still has it) or created since (the twin answers 404); a GET that fails
   otherwise (403, a timeout) proves nothing and is named as unread, not as a change;
2. the twin assumed something on this path: its assumptions (ConnectivityResult.assumptions)
   are named;
3. the guest OS or the application refused: Azure saw the packet reach the destination NIC with
   no NSG or route issue, which the twin (answering for the network only) calls reachable;
4. beyond the estate: the packet left through a gateway (on-premises) or its last hop is outside
   private address space (Internet).

A test that failed on one side only is said to have failed there, with the error.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import Any

from nwlab.arm.errors import NwlabError
from nwlab.diagnostics.nsg import NsgDiagnosticResult
from nwlab.diagnostics.outcome import GUEST_ISSUES, outcome

__all__ = ["Change", "Reconciliation", "reconcile", "resource_changes"]


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


def _named_resources(*sides: dict[str, Any]) -> list[str]:
    """The NSGs, route tables and hop resources the tests of every side name, in order, once
    each: a resource deleted since the snapshot is named only by the twin's tests."""
    ids: list[str] = []
    for tests in sides:
        for result in tests.values():
            if isinstance(result, NsgDiagnosticResult):
                for entry in result.results:
                    ids += [e.nsg_id for e in entry.evaluated
                            if "/networksecuritygroups/" in e.nsg_id.lower()]
            table = getattr(result, "route_table_id", None)
            if isinstance(table, str) and "/routetables/" in table.lower():
                ids.append(table)
            for hop in getattr(result, "hops", None) or []:
                if hop.resource_id and "/providers/" in hop.resource_id:
                    ids.append(hop.resource_id)
    once: dict[str, str] = {}
    for rid in ids:
        if rid:
            once.setdefault(rid.lower(), rid)
    return list(once.values())


_GONE = "gone"  # a GET answered 404: the resource is not there


def _body(client: Any, resource_id: str) -> dict[str, Any] | str:
    """The resource as a fresh GET returns it, _GONE on 404, or the error's words."""
    try:
        body = client.arm.get_json(resource_id)
    except NwlabError as exc:
        if getattr(exc, "status", None) == 404:
            return _GONE
        return f"{type(exc).__name__} {getattr(exc, 'status', '') or ''}".strip()
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


@dataclass(frozen=True)
class Change:
    """How one resource on the path differs between Azure now and the twin's snapshot."""

    resource_id: str
    how: str  # changed | deleted | created | unread

    def __str__(self) -> str:
        name = self.resource_id.rstrip("/").rsplit("/", 1)[-1]
        return {"changed": f"{name} changed (its etag and properties differ)",
                "deleted": f"{name} was deleted since the snapshot (Azure answers 404)",
                "created": f"{name} was created since the snapshot (the twin has no such "
                           "resource)",
                }.get(self.how, f"{name} could not be read ({self.how})")


def resource_changes(live: Any, twin: Any, *sides: dict[str, Any]) -> list[Change]:
    """How the resources on the path differ: equal etags mean unchanged; otherwise (a twin keeps
    the snapshot's etags only if the snapshot recorded them) the properties are compared."""
    out = []
    for rid in _named_resources(*sides):
        a, b = _body(live, rid), _body(twin, rid)
        if isinstance(a, dict) and isinstance(b, dict):
            if a.get("etag") and a.get("etag") == b.get("etag"):
                continue
            if _properties(a) != _properties(b):
                out.append(Change(rid, "changed"))
        elif a == _GONE and isinstance(b, dict):
            out.append(Change(rid, "deleted"))
        elif b == _GONE and isinstance(a, dict):
            out.append(Change(rid, "created"))
        elif isinstance(a, str) and a != _GONE:
            out.append(Change(rid, f"Azure: {a}"))
        elif isinstance(b, str) and b != _GONE:
            out.append(Change(rid, f"the twin: {b}"))
    return out


def reconcile(live: Any, twin: Any, tests: dict[str, Any], twin_tests: dict[str, Any]
              ) -> list[Reconciliation]:
    out = []
    changes: list[Change] | None = None
    for name, result in tests.items():
        other = twin_tests.get(name)
        a, b = _word(result), _word(other)
        if name not in twin_tests:
            out.append(Reconciliation(name, "missing", a, "-", "the twin did not run this test"))
            continue
        if a == b:
            out.append(Reconciliation(name, "agree", a, b))
            continue
        if changes is None:
            changes = resource_changes(live, twin, tests, twin_tests)
        changed = [c for c in changes if c.how in ("changed", "deleted", "created")]
        codes = tuple(dict.fromkeys(x.code for x in getattr(other, "assumptions", None) or []))
        if changed:
            cause = "the snapshot is older than a change: " + "; ".join(map(str, changed))
        elif isinstance(result, NwlabError) or isinstance(other, NwlabError):
            where, error = ("Azure", result) if isinstance(result, NwlabError) else \
                ("the twin", other)
            cause = f"the test failed on {where}: {str(error).splitlines()[0][:160]}"
        elif codes:
            cause = "the twin assumed: " + ", ".join(codes)
        elif name == "connectivity" and b == "reachable" and _reached_nic(result):
            cause = ("the guest OS or the application refused: Azure saw the packet reach the "
                     "destination NIC with no NSG or route issue")
        elif name == "connectivity" and _beyond(result):
            cause = "beyond the estate: the destination is on the Internet or on-premises"
        else:
            unread = [str(c) for c in changes if c not in changed]
            cause = "no cause found in the resources on the path" + (
                f" ({'; '.join(unread)})" if unread else "")
        out.append(Reconciliation(name, "disagree", a, b, cause,
                                  tuple(c.resource_id for c in changed), codes))
    return out


def _reached_nic(result: Any) -> bool:
    hops = getattr(result, "hops", None) or []
    types = {i.type for i in getattr(result, "issues", None) or []}
    return bool(hops) and types <= GUEST_ISSUES and \
        hops[-1].type.lower() in ("virtualmachine", "vnetlocal")


# Hop types that take a packet out of the estate: through a gateway (on-premises) or out to
# the Internet.
_EXITS = frozenset({"internet", "virtualnetworkgateway", "expressroutegateway", "vpngateway"})


def _beyond(result: Any) -> bool:
    hops = getattr(result, "hops", None) or []
    if not hops:
        return False
    if str(hops[-1].type or "").lower() in _EXITS:
        return True
    if not hops[-1].address:
        return False
    try:
        return not ipaddress.ip_address(hops[-1].address).is_private
    except ValueError:
        return False
