"""Run the 2026-01-01 `connectionAnalyzers` bundle (reference §8.3): PUT the analyzer resource,
POST its /query as a long-running operation, DELETE it. Where the service does not offer the
resource type or api-version, AnalyzerUnsupported says so, so callers fall back to the separate
calls (ip_flow_verify, next_hop, nsg_diagnostic, check)."""

from __future__ import annotations

import hashlib
import ipaddress
import time
from collections.abc import Sequence
from typing import Any

from nwlab.arm.errors import ArmError, OperationFailed, OperationTimeout
from nwlab.arm.headers import parse_retry_after
from nwlab.arm.ids import is_vm_id, parse_resource_id
from nwlab.arm.lro import TERMINAL_ASYNC
from nwlab.arm.session import deadline_scope, response_json
from nwlab.diagnostics import inputs
from nwlab.diagnostics.analyzer import DIAGNOSTIC_OPERATIONS, ConnectionAnalyzerResult
from nwlab.diagnostics.operations import DEFAULT_TIMEOUT, Client, read_vm, run_diagnostic

__all__ = ["ANALYZER_API_VERSION", "AnalyzerUnsupported", "analyze_connection"]

ANALYZER_API_VERSION = "2026-01-01"
# ARM's answers for a resource type or api-version a region or cloud does not serve.
UNSUPPORTED_CODES = frozenset({"noregisteredproviderfound", "invalidresourcetype",
                               "invalidapiversionparameter", "invalidapiversion",
                               "apiversionnotsupported", "unsupportedapiversion"})
DEFAULT_OPERATIONS = ("NextHop", "NSG", "PortScan", "ConnectivityCheck")
# The spec example (2025-09-01 NetworkWatcherConnectionAnalyzerCreate.json) answers "Tcp": the
# connectivity check's Protocol enum.
_PROTOCOLS = {"tcp": "Tcp", "http": "Http", "https": "Https", "icmp": "Icmp"}


class AnalyzerUnsupported(ArmError):
    """The service does not offer connectionAnalyzers here: run the separate diagnostics instead."""


def _unsupported(exc: ArmError) -> bool:
    # 405: an ARM facade that routes the path but has no such resource (the emulator today).
    return exc.status == 405 or (exc.status in (400, 404)
                                 and str(exc.code or "").lower() in UNSUPPORTED_CODES)


def _signal(exc: ArmError) -> AnalyzerUnsupported:
    return AnalyzerUnsupported(
        exc.message, status=exc.status, code=exc.code, request_id=exc.request_id,
        correlation_id=exc.correlation_id, method=exc.method, url=exc.url, body=exc.body,
        fix="This region or cloud does not serve connectionAnalyzers "
            f"(api-version {ANALYZER_API_VERSION}); run the tests one by one: nw.check(), "
            "nw.next_hop(), nw.nsg_diagnostic(), nw.ip_flow_verify().")


def _destination(subscription_id: str, destination: Any, resource_group: Any,
                 port: str | None) -> dict[str, Any]:
    if not isinstance(destination, str) or not destination.strip():
        raise TypeError(f"destination: expected a VM name or id, an IP address or a host name, "
                        f"got {destination!r}; e.g. destination='10.1.4.4'")
    text = destination.strip()
    endpoint: dict[str, Any]
    rid = parse_resource_id(text) if "/" in text else None
    if rid is not None and is_vm_id(rid):
        endpoint = {"type": "VM", "resourceId": str(rid)}
    elif "." not in text and ":" not in text:  # a single label is a VM name, as in check()
        endpoint = {"type": "VM",
                    "resourceId": inputs.vm_id(subscription_id, text, resource_group,
                                               name="destination")}
    else:
        try:
            text = str(ipaddress.ip_address(text))
        except ValueError:
            if "/" in text or " " in text:
                raise ValueError(f"destination: {destination!r} is not a VM, an address or a host "
                                 "name; e.g. destination='10.1.4.4' or 'bing.com'") from None
        endpoint = {"type": "ExternalAddress", "address": text}
    if port is not None:
        endpoint["port"] = int(port)
    return endpoint


def _operations(value: Any) -> list[str]:
    if value is None:
        return list(DEFAULT_OPERATIONS)
    known = {o.lower(): o for o in DIAGNOSTIC_OPERATIONS}
    if isinstance(value, str) or not isinstance(value, Sequence) or not value:
        raise TypeError(f"operations: expected a list of {', '.join(DIAGNOSTIC_OPERATIONS)}; "
                        "e.g. operations=['NextHop', 'NSG']")
    chosen = []
    for item in value:
        name = known.get(str(item).lower())
        if name is None:
            raise ValueError(f"operations: {item!r} is not one of {', '.join(DIAGNOSTIC_OPERATIONS)}"
                             "; e.g. operations=['NextHop', 'NSG']")
        chosen.append(name)
    return chosen


def analyzer_body(location: str, source_id: str, destination: dict[str, Any], protocol: str,
                  operations: list[str]) -> dict[str, Any]:
    """The ConnectionAnalyzer resource (reference §8.3). It expires after a day if the DELETE
    that follows the query is lost."""
    return {"location": location, "properties": {
        "source": {"type": "VM", "resourceId": source_id}, "destination": destination,
        "diagnosticOperations": operations, "protocolSettings": {"protocol": protocol},
        "diagnosticOperationsSettings": {"connectivityCheckSettings": {"generatePath": True}},
        "expiryInDays": 1}}


def analyze_connection(client: Client, source: Any, destination: Any, port: Any = None, *,
                       protocol: Any = "Tcp", operations: Any = None, resource_group: Any = None,
                       timeout: float = DEFAULT_TIMEOUT) -> ConnectionAnalyzerResult:
    """Every requested test as one connectionAnalyzers run; AnalyzerUnsupported to fall back."""
    sub = client.subscription_id
    source_id = inputs.vm_id(sub, source, resource_group, name="source")
    port_text = inputs.flow_port("port", port) if port is not None else None
    if port_text == "*":
        raise ValueError("port: connectionAnalyzers test one destination port; e.g. port=443")
    proto = _PROTOCOLS.get(str(protocol).lower()) if isinstance(protocol, str) else None
    if proto is None:
        raise ValueError(f"protocol: {protocol!r} is not one of Tcp, Http, Https, Icmp; e.g. "
                         "protocol='Tcp'")
    endpoint = _destination(sub, destination, resource_group, port_text)
    ops = _operations(operations)
    started = time.monotonic()
    deadline = started + timeout
    with deadline_scope(deadline):
        facts = read_vm(client, source_id)
        watcher = client.find_watcher(facts.location)
    body = analyzer_body(facts.location, source_id, endpoint, proto, ops)
    # One name per question: a re-run replaces the same resource instead of adding another.
    digest = hashlib.sha256(repr(sorted(body["properties"].items())).encode()).hexdigest()[:12]
    path = f"{watcher}/connectionAnalyzers/nwlab-{digest}"
    try:
        created = client.arm.request("PUT", path, json=body, api_version=ANALYZER_API_VERSION,
                                     deadline=deadline)
    except ArmError as exc:
        if _unsupported(exc):
            raise _signal(exc) from exc
        raise
    try:
        _await_provisioning(client, created, deadline)
        answer, op = run_diagnostic(client, f"{path}/query?api-version={ANALYZER_API_VERSION}",
                                    None, what="Connection analyzer", deadline=deadline)
    except ArmError as exc:
        if _unsupported(exc):
            raise _signal(exc) from exc
        raise
    finally:
        deleted = _delete(client, path)
    return ConnectionAnalyzerResult.from_dict(answer, meta={
        "source": source_id, "destination": endpoint, "protocol": proto, "operations": ops,
        "watcher": watcher, "analyzer": path, "deleted": deleted,
        "request_id": op.request_id, "polls": op.polls, "backend": client.backend,
        "elapsed_s": round(time.monotonic() - started, 3)})


def _await_provisioning(client: Client, created: Any, deadline: float) -> None:
    """Follow the PUT's Azure-AsyncOperation (final-state-via azure-async-operation) until the
    resource is provisioned. nwlab.arm.lro.run_operation only POSTs; this small loop waits for a
    PUT the same way (status poll, Retry-After, terminal states)."""
    status_url = created.headers.get("Azure-AsyncOperation")
    while status_url:
        if time.monotonic() >= deadline:
            raise OperationTimeout("The connection analyzer was not provisioned in time.")
        response = client.arm.request("GET", status_url, deadline=deadline)
        state = str((response_json(response) or {}).get("status") or "").lower()
        if state in TERMINAL_ASYNC:
            if state != "succeeded":
                raise OperationFailed(f"Creating the connection analyzer ended as {state}.",
                                      status=response.status_code, method="GET", url=status_url)
            return
        wait = parse_retry_after(response.headers.get("Retry-After"))
        client.arm.wait(client.poll_interval if wait is None else wait)


def _delete(client: Client, path: str) -> bool:
    """Remove the analyzer; a failed DELETE leaves it to expire (expiryInDays: 1), not an error."""
    try:
        client.arm.request("DELETE", path, api_version=ANALYZER_API_VERSION)
    except ArmError:
        return False
    return True
