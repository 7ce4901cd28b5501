"""The long-running operation as connectivityCheck really behaves (reference §3).

POST answers 202 with body `null` and a Location (Azure-AsyncOperation is honoured when present,
though never observed for this operation); polling the URL answers 202 `null` while running and
200 with the result when done; an error status while polling is a failed operation.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from nwlab.arm.errors import ArmError, OperationFailed, OperationTimeout, ThrottledError
from nwlab.arm.headers import parse_retry_after
from nwlab.arm.session import ArmClient, response_json

TERMINAL_ASYNC = {"succeeded", "failed", "canceled", "cancelled"}
MAX_POLLS_WITHOUT_SLEEP = 1000


@dataclass(frozen=True)
class Progress:
    """What on_progress receives: time so far, polls so far, the last HTTP status, the next wait."""

    elapsed_s: float
    polls: int
    last_status: int | None
    next_poll_s: float | None
    state: str  # "starting", "running", "done"


@dataclass
class Operation:
    """How the operation went: the final body and the ids a support ticket needs."""

    body: Any = None
    status: int | None = None
    polls: int = 0
    elapsed_s: float = 0.0
    request_id: str | None = None
    correlation_id: str | None = None
    poll_url: str | None = None
    statuses: list[int] = field(default_factory=list)


def run_operation(client: ArmClient, path: str, body: Any, *, poll_interval: float = 10.0,
                  timeout: float = 600.0, on_progress: Callable[[Progress], None] | None = None,
                  cancel: Any = None) -> Operation:
    """POST `body` to `path` and follow the operation to its end; never re-POSTs."""
    started = time.monotonic()
    deadline = started + timeout
    op = Operation()

    def report(state: str, next_poll: float | None) -> None:
        op.elapsed_s = time.monotonic() - started
        if on_progress is not None:
            on_progress(Progress(op.elapsed_s, op.polls, op.statuses[-1] if op.statuses else None,
                                 next_poll, state))

    report("starting", None)
    response = client.request("POST", path, json=body, cancel=cancel, deadline=deadline)
    op.statuses.append(response.status_code)
    op.request_id = response.headers.get("x-ms-request-id")
    op.correlation_id = response.headers.get("x-ms-correlation-request-id")
    async_url = response.headers.get("Azure-AsyncOperation")
    location = response.headers.get("Location")
    poll_url = async_url or location
    # 201 with a poll URL is still running (azure-core's LRO base polling); 200 on the POST is
    # declared by the spec (immediate completion), never observed. A 3xx never gets here: the
    # session follows same-origin GET redirects and refuses the rest.
    if response.status_code != 202 and not (response.status_code == 201 and poll_url):
        op.status = response.status_code
        op.body = _final_json(response, op)
        report("done", None)
        return op
    if not poll_url:
        raise OperationFailed(
            "The service accepted the check (202) but sent no Location to poll.",
            status=202, code="MissingLocation", request_id=op.request_id,
            correlation_id=op.correlation_id, method="POST",
            fix="Try again; if it persists, report the request id to Azure support.")
    op.poll_url = poll_url
    wait = _next_wait(response, poll_interval)
    while True:
        remaining = deadline - time.monotonic()
        # A client that never sleeps (replay) cannot reach a deadline by waiting; cap its polls.
        if remaining <= 0 or (not client.sleeps and op.polls >= MAX_POLLS_WITHOUT_SLEEP):
            raise OperationTimeout(
                f"The check did not finish within {timeout:.1f} s ({op.polls} polls; "
                f"request id {op.request_id}).")
        if client.sleeps:
            # Never sooner than the client's minimum (Retry-After: 0, negative or a past date
            # must not spin), never past the deadline: the last poll happens at the deadline.
            wait = min(max(wait, client.min_poll_interval), remaining)
        report("running", wait)
        client.wait(wait, cancel)
        op.polls += 1
        try:
            response = client.request("GET", poll_url, cancel=cancel, deadline=deadline,
                                      retry_statuses=False)
        except ThrottledError as exc:
            # Throttled polls do not end the operation: back off and ask the same URL again.
            op.statuses.append(429)
            wait = exc.retry_after if exc.retry_after is not None else poll_interval
            continue
        except ArmError as exc:
            if exc.status in (500, 502, 503, 504):
                # A transient failure of the poll itself; the operation is still running.
                op.statuses.append(exc.status)
                wait = exc.retry_after if exc.retry_after is not None else poll_interval
                if _transient_budget_spent(op):
                    raise _failed(exc, op) from exc
                continue
            raise _failed(exc, op) from exc
        op.statuses.append(response.status_code)
        if async_url:
            status_body = _final_json(response, op)
            if not isinstance(status_body, dict):
                raise OperationFailed(
                    "The operation's status (Azure-AsyncOperation) is not an object with a "
                    "status.", status=response.status_code, code="InvalidResponseContent",
                    request_id=op.request_id, correlation_id=op.correlation_id, method="GET",
                    url=_short(poll_url), fix="Run it again; report the request id to Azure "
                                              "support if it repeats.")
            raw_state = status_body.get("status")
            state = raw_state.lower() if isinstance(raw_state, str) else ""
            if state not in TERMINAL_ASYNC:
                wait = _next_wait(response, poll_interval)
                continue
            if state != "succeeded":
                err = status_body.get("error")
                err = err if isinstance(err, dict) else {}
                message, code = err.get("message"), err.get("code")
                raise OperationFailed(
                    message if isinstance(message, str) and message
                    else f"The operation ended as {state}.",
                    status=response.status_code, code=code if isinstance(code, str) else None,
                    request_id=op.request_id, correlation_id=op.correlation_id, method="GET",
                    url=_short(poll_url))
            if location:
                final = client.request("GET", location, cancel=cancel, deadline=deadline)
                op.body = _final_json(final, op)
                op.status = final.status_code
            else:
                op.body = status_body.get("properties")
                op.status = response.status_code
            report("done", None)
            return op
        if response.status_code == 202:
            wait = _next_wait(response, poll_interval)
            continue
        op.status = response.status_code
        op.body = _final_json(response, op)  # 204: done without a body
        report("done", None)
        return op


def _short(url: str) -> str:
    return url.split("?", 1)[0]


def _next_wait(response: Any, poll_interval: float) -> float:
    retry_after = parse_retry_after(response.headers.get("Retry-After"))
    return poll_interval if retry_after is None else retry_after


def _final_json(response: Any, op: Operation) -> Any:
    """The result body; one that is not JSON is a failed operation, not an empty result."""
    try:
        return response_json(response, strict=True)
    except ArmError as exc:
        raise _failed(exc, op) from None


def _transient_budget_spent(op: Operation) -> bool:
    # Ten consecutive 5xx polls means the service is not coming back for this operation.
    tail = op.statuses[-10:]
    return len(tail) == 10 and all(s >= 500 for s in tail)


def _failed(exc: ArmError, op: Operation) -> OperationFailed:
    return OperationFailed(exc.message, status=exc.status, code=exc.code,
                           request_id=exc.request_id or op.request_id,
                           correlation_id=exc.correlation_id or op.correlation_id,
                           method=exc.method, url=exc.url, fix=exc.fix, body=exc.body)
