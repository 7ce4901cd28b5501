"""diagnose()'s check, source next hop and source NSG diagnostic as one connectionAnalyzers run
(Network API 2026-01-01, reference §8.3), where the service offers it.

Whether it is offered is asked once per client and watcher with a read, not a write: the List
operation (GET {watcher}/connectionAnalyzers). A region or cloud without the resource type or
api-version answers it 404/405 or 400 NoRegisteredProviderFound / InvalidApiVersionParameter.
The bundle's answers are read into the same typed results the separate calls give, under the
same Diagnosis.tests names, so findings, fixes and frames do not depend on the path taken; an
answer that cannot be read (the spec leaves each `result` string's shape open) is a reason to
run the separate calls instead, and the reason is kept on the Diagnosis.
"""

from __future__ import annotations

import contextlib
import threading
import time
import weakref
from collections.abc import Mapping
from typing import Any

from nwlab.arm.errors import ArmError, NwlabError, OperationFailed, ReplayMismatch
from nwlab.checkspec import CheckSpec
from nwlab.diagnostics.analyzer import ConnectionAnalyzerResult
from nwlab.diagnostics.analyzer_run import (
    ANALYZER_API_VERSION,
    UNSUPPORTED_CODES,
    analyze_connection,
)
from nwlab.diagnostics.flow import NextHopResult
from nwlab.diagnostics.nsg import NsgDiagnosticResult
from nwlab.diagnostics.operations import Client, read_vm
from nwlab.model import ConnectivityResult

__all__ = ["VIA_BUNDLE", "VIA_SEPARATE", "BundleUnreadable", "attempt", "bundle_tests",
           "ineligible", "read_bundle"]

VIA_BUNDLE = "connectionAnalyzers"
VIA_SEPARATE = "separate calls"
# Each bundle operation and the Diagnosis.tests entry of the separate call it stands for. The
# bundle's NSG and NextHop run at the source (outbound), as nsg_diagnostic.source and
# next_hop.source do; PortScan and ExpressRouteDiagnostic have no separate twin in diagnose().
STANDS_FOR = {"ConnectivityCheck": "connectivity", "NextHop": "next_hop.source",
              "NSG": "nsg_diagnostic.source"}
# 408 and 429 are "ask again later", not an answer about the resource type.
_TRANSIENT = frozenset({408, 429})

# client -> {watcher id (lower case) -> (offered, why)}: the probe's answer, asked once.
_ANSWERS: weakref.WeakKeyDictionary[Any, dict[str, tuple[bool, str]]] = \
    weakref.WeakKeyDictionary()
_LOCK = threading.Lock()


class BundleUnreadable(OperationFailed):
    """The bundle ran but an answer diagnose() needs could not be read as the separate call's."""


def ineligible(spec: CheckSpec) -> str | None:
    """Why this check cannot be asked of the bundle (a field its body has no place for), or None."""
    if spec.destination.kind not in ("vm", "ip", "host"):
        return f"a {spec.destination.kind} destination is not a bundle endpoint"
    for name, value in (("source_port", spec.source_port), ("http", spec.http),
                        ("ip_version", spec.ip_version), ("watcher", spec.watcher)):
        if value is not None:
            return f"the check sets {name}, which the bundle does not take"
    return None


def bundle_tests(spec: CheckSpec) -> dict[str, str]:
    """The operations to ask for and the test each answers: next hop and NSG need the
    destination's address, which a host name does not give before the check resolves it."""
    if spec.destination.kind == "host":
        return {"ConnectivityCheck": "connectivity"}
    return dict(STANDS_FOR)


def _known(client: Any, watcher: str) -> tuple[bool, str] | None:
    with _LOCK:
        return _ANSWERS.get(client, {}).get(watcher.lower())


def _remember(client: Any, watcher: str, offered: bool, why: str) -> None:
    with _LOCK:
        _ANSWERS.setdefault(client, {})[watcher.lower()] = (offered, why)


def _refusal(exc: NwlabError) -> tuple[str, bool]:
    """(why the bundle is not used, whether that answer holds for this client from now on)."""
    if isinstance(exc, ArmError):
        code = f" {exc.code}" if exc.code else ""
        said = " ".join(exc.message.split())[:120]
        why = f"the service answered HTTP {exc.status}{code} for connectionAnalyzers " \
              f"(api-version {ANALYZER_API_VERSION}): {said}"
        unsupported = exc.status in (404, 405) or (
            exc.status == 400 and str(exc.code or "").lower() in UNSUPPORTED_CODES)
        definite = unsupported or (exc.status is not None and 400 <= exc.status < 500
                                   and exc.status not in _TRANSIENT)
        return why, definite
    if isinstance(exc, ReplayMismatch):  # a miss will not change on the next call
        return "the recordings hold no connectionAnalyzers answer (replay answers only what " \
               "was recorded)", True
    return f"connectionAnalyzers failed ({_brief(exc)})", False


def _brief(exc: NwlabError) -> str:
    """The error's type and its message without the fix and ids (a reason, not a report)."""
    return f"{type(exc).__name__}: {' '.join(exc.message.split())[:160]}"


def offered(client: Client, spec: CheckSpec, deadline: float) -> tuple[bool, str]:
    """Does the source's watcher serve connectionAnalyzers? A List GET (no write), asked once per
    client and watcher; a transient failure is not remembered."""
    watcher = _watcher(client, spec)
    known = _known(client, watcher)
    if known is not None:
        return known[0], known[1] + ("" if known[0] else " (asked once for this client)")
    try:
        client.arm.request("GET", f"{watcher}/connectionAnalyzers",
                           api_version=ANALYZER_API_VERSION, deadline=deadline)
    except NwlabError as exc:
        why, definite = _refusal(exc)
        if definite:
            _remember(client, watcher, False, why)
        return False, why
    _remember(client, watcher, True, "the watcher lists connectionAnalyzers")
    return True, "the watcher lists connectionAnalyzers"


def _data(result: ConnectionAnalyzerResult, operation: str) -> Mapping[str, Any]:
    op = result.operation(operation)
    if op is None:
        raise ValueError(f"the bundle sent no {operation} result")
    if op.error:
        raise ValueError(f"the bundle's {operation} failed: {op.error}")
    data = op.data
    if isinstance(data, Mapping) and isinstance(data.get("properties"), Mapping) \
            and len(data) == 1:
        data = data["properties"]
    if not isinstance(data, Mapping):
        raise ValueError(f"the bundle's {operation} result is not a JSON object "
                         f"({(op.result or 'empty')[:80]!r})")
    return data


def _require(data: Mapping[str, Any], operation: str, *fields: str) -> None:
    if not any(f in data for f in fields):
        shown = ", ".join(sorted(data)[:6]) or "nothing"
        raise ValueError(f"the bundle's {operation} result has no {' or '.join(fields)} "
                         f"(it has {shown})")


def read_bundle(result: ConnectionAnalyzerResult, spec: CheckSpec, wanted: Mapping[str, str]
                ) -> dict[str, Any]:
    """The bundle's answers as the separate calls' typed results, by Diagnosis.tests name;
    ValueError naming what could not be read."""
    if not result.succeeded:
        error = f": {result.error}" if result.error else ""
        raise ValueError(f"the bundle ended as {result.status or 'no status'}{error}")
    kept = ("watcher", "analyzer", "deleted", "request_id", "polls", "backend", "elapsed_s")
    meta = {**{k: result.meta.get(k) for k in kept}, "via": VIA_BUNDLE}
    out: dict[str, Any] = {}
    for operation, test in wanted.items():
        data = _data(result, operation)
        if operation == "ConnectivityCheck":
            _require(data, operation, "connectionStatus", "hops")
            out[test] = ConnectivityResult.from_dict(data, meta={
                **meta, "source": spec.source_id, "destination": spec.destination.value,
                "destination_kind": spec.destination.kind, "port": spec.port,
                "protocol": spec.protocol,
                "checked_at": time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime())})
        elif operation == "NextHop":
            _require(data, operation, "nextHopType")
            out[test] = NextHopResult.from_dict(data, meta={**meta, "vm": spec.source_id})
        else:
            _require(data, operation, "results")
            out[test] = NsgDiagnosticResult.from_dict(data, meta={**meta,
                                                                  "target": spec.source_id})
    return out


def attempt(client: Client, spec: CheckSpec, deadline: float, analyzer: bool | None
            ) -> tuple[dict[str, Any] | None, str]:
    """(the bundle's tests, why) or (None, why the separate calls run instead). With
    analyzer=True nothing is probed and every failure raises (typed), as the caller asked for
    the bundle; with None (auto) every failure is a reason to fall back."""
    if analyzer is False:
        return None, "analyzer=False"
    reason = ineligible(spec)
    if reason is not None:
        if analyzer:
            raise ValueError(f"analyzer=True: {reason}; drop it or pass analyzer=None")
        return None, reason
    try:
        if analyzer is None:
            ok, why = offered(client, spec, deadline)
            if not ok:
                return None, why
        wanted = bundle_tests(spec)
        dest = spec.destination.value
        result = analyze_connection(client, spec.source_id, dest, spec.port,
                                    protocol=spec.protocol or "Tcp", operations=list(wanted),
                                    timeout=max(0.0, deadline - time.monotonic()))
    except NwlabError as exc:  # AnalyzerUnsupported: the List answered, the PUT or query not
        if analyzer:
            raise
        why, definite = _refusal(exc)
        if definite:  # e.g. 403 on the PUT: asking again would be refused again
            with contextlib.suppress(NwlabError):  # unremembered if the watcher cannot be read
                _remember(client, _watcher(client, spec), False, why)
        return None, why
    except (ValueError, TypeError) as exc:  # a check its body cannot carry (validated apart)
        if analyzer:
            raise
        return None, f"the bundle cannot carry this check ({exc})"
    try:
        return read_bundle(result, spec, wanted), \
            "analyzer=True" if analyzer else "the watcher lists connectionAnalyzers"
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        why = f"the bundle's answer could not be read: {exc}"
        if analyzer:
            raise BundleUnreadable(why, code="InvalidResult", request_id=result.meta.get(
                "request_id"), fix="Run nw.diagnose(..., analyzer=None) to fall back to the "
                                   "separate calls, or nw.analyze_connection() to see the "
                                   "answer as sent.") from exc
        return None, why


def _watcher(client: Client, spec: CheckSpec) -> str:
    return client.find_watcher(read_vm(client, spec.source_id).location)
