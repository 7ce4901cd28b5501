"""Prove a fix on the twin: apply it to a fork (an independent copy) by its own REST request, re-run
the check, and mark it proven when the check now passes and no other check of a given set changes
verdict. The twin itself is never written."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from typing import Any, Protocol
from urllib.parse import parse_qs, urlsplit

from nwlab.arm.errors import NwlabError
from nwlab.checkspec import CheckSpec, build_check
from nwlab.diagnostics.fixes import Fix, FixRequest, Flow, widens_of


class Diagnosed(Protocol):
    """What verify_fixes reads of a Diagnosis (a Protocol: the diagnosis imports this module)."""

    spec: CheckSpec | None
    fixes: list[Fix]
    flow: Flow | None

__all__ = ["apply_fix", "as_specs", "breadth", "verify_fixes"]


def as_specs(subscription_id: str, checks: Iterable[Any] | None,
             resource_group: str | None = None) -> list[CheckSpec]:
    """Checks as CheckSpecs: a CheckSpec, a mapping of check() arguments, or a
    (source, destination[, port]) tuple; VM names resolve in `resource_group` unless a
    mapping names its own."""
    specs = []
    for i, item in enumerate(checks or ()):
        if isinstance(item, CheckSpec):
            specs.append(item)
        elif isinstance(item, Mapping):
            args = {"resource_group": resource_group, **item}
            try:
                specs.append(build_check(subscription_id, args.pop("source"),
                                         args.pop("destination"), args.pop("port", None),
                                         **args))
            except KeyError as exc:
                raise ValueError(f"checks[{i}]: needs {exc.args[0]!r}; e.g. "
                                 "{'source': 'WebVM0', 'destination': '10.1.4.4', 'port': 1433}"
                                 ) from None
        elif isinstance(item, Sequence) and not isinstance(item, str) and 2 <= len(item) <= 3:
            specs.append(build_check(subscription_id, *item, resource_group=resource_group))
        else:
            raise TypeError(f"checks[{i}]: expected a CheckSpec, a dict of check() arguments or "
                            f"a (source, destination, port) tuple, got {item!r}")
    return specs


def apply_fix(fork: Any, fix: Fix) -> None:
    """Send each of the fix's own requests to the fork, in order: its path and api-version, the
    fork's endpoint (a fix built from a live diagnosis names management.azure.com)."""
    for request in fix.requests:
        parts = urlsplit(request.url)
        versions = parse_qs(parts.query).get("api-version")
        api = versions[0] if versions else None
        fork.arm.request(request.method, parts.path, json=request.body, api_version=api)


def _deleted_rule(fork: Any, request: FixRequest) -> Mapping[str, Any] | None:
    """The security rule a DELETE removes, as the fork holds it before the fix (None when it is
    not a security rule or is not there)."""
    path = urlsplit(request.url).path
    if request.method != "DELETE" or "/securityrules/" not in path.lower():
        return None
    try:
        body = fork.arm.get_json(path)
    except NwlabError:
        return None
    return body if isinstance(body, Mapping) else None


def breadth(fork: Any, fix: Fix, flow: Flow | None) -> str:
    """What a fix opens beyond the flow, from its own requests read against the fork before it
    is applied: an allow rule wider than the flow (a '*' source, a port range...), a deny rule
    deleted. A fix built here says so already (fix.widens); this is for any other fix."""
    if fix.widens or flow is None:
        return fix.widens
    found = []
    for request in fix.requests:
        props = (request.body or {}).get("properties") if request.method == "PUT" else None
        if isinstance(props, Mapping) and str(props.get("access", "")).lower() in (
                "allow", "alwaysallow"):
            found.append(widens_of(props, flow))
        rule = _deleted_rule(fork, request)
        props = (rule or {}).get("properties")
        if isinstance(props, Mapping) and str(props.get("access", "")).lower() == "deny":
            found.append(widens_of(props, flow, f"{rule.get('name')} no longer denies"))  # type: ignore[union-attr]
    return "; ".join(w for w in found if w)


def verify_fixes(diagnosis: Diagnosed, twin: Any, checks: Iterable[Any] | None = None
                 ) -> list[Fix]:
    """Each fix with proven set and the check's result on its fork (see the module docstring);
    a fix that opens more than the flow carries what else in `widens`."""
    if not callable(getattr(twin, "fork", None)):
        raise TypeError("twin: expected an emulator client (nwlab.emulate(...)); fixes are "
                        "proven on a fork of a twin, never on Azure")
    spec = diagnosis.spec
    if spec is None:
        raise ValueError("diagnosis: has no check to re-run (it was built by hand)")
    # The diagnosed check itself, if listed, is the one meant to change: not an "other".
    others = [s for s in as_specs(twin.subscription_id, checks, spec.resource_group) if s != spec]
    before = [twin.run_spec(s).reachable for s in others]
    out = []
    for fix in diagnosis.fixes:
        fork = twin.fork()
        try:
            fix = replace(fix, widens=breadth(fork, fix, diagnosis.flow))
            try:
                apply_fix(fork, fix)
            except NwlabError as exc:
                out.append(fix.with_proof(False, exc))
                continue
            result = fork.run_spec(spec)
            after = [fork.run_spec(s).reachable for s in others]
            out.append(fix.with_proof(bool(result.reachable) and after == before, result))
        finally:
            fork.close()
    return out
