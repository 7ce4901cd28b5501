"""Connection Monitor's long-running operations, as spec 2026-01-01 declares them
(reference connection-monitor.md §1.1, §1.3):

- PUT answers 200/201 with the body at once and an Azure-AsyncOperation URL; poll it until its
  `status` is terminal, then GET the resource (the status body holds no resource);
- DELETE, POST /stop and POST /start answer 202 + Location (or 200/204 when done); poll the
  Location until it stops answering 202.

nwlab.arm.lro.run_operation follows a POST only; these share its rules (Retry-After first, the
client's poll interval otherwise, a deadline, a poll cap when the client never sleeps, a failed
status or an error answer is OperationFailed) for the other verbs. Requests, retries and 429
back-off are the ARM client's own.
"""

from __future__ import annotations

import time
from typing import Any

import requests

from nwlab.arm.errors import ArmError, OperationFailed, OperationTimeout
from nwlab.arm.headers import parse_retry_after
from nwlab.monitor.client import ArmLike

TERMINAL = {"succeeded", "failed", "canceled", "cancelled"}
MAX_POLLS_WITHOUT_SLEEP = 1000  # a replayed operation cannot reach a deadline by waiting


def put_and_wait(arm: ArmLike, path: str, body: dict[str, Any], *, poll_interval: float,
                 timeout: float = 600.0) -> dict[str, Any]:
    """PUT `body`, follow the operation to its end, and return the resource as GET shows it."""
    deadline = time.monotonic() + timeout
    response = arm.request("PUT", path, json=body, deadline=deadline)
    async_url = response.headers.get("Azure-AsyncOperation")
    if async_url:
        _follow_async(arm, async_url, response, poll_interval, deadline, timeout)
    elif response.status_code == 202:
        _follow_location(arm, response, "PUT", path, poll_interval, deadline, timeout)
    resource = arm.get_json(path)
    if not isinstance(resource, dict):
        raise OperationFailed(f"GET {path} after the PUT answered no resource.", status=200,
                              code="InvalidResult", method="GET", url=path,
                              fix="Try again; if it repeats, report it to Azure support.")
    state = str((resource.get("properties") or {}).get("provisioningState") or "")
    if state.lower() == "failed":
        raise OperationFailed(f"The connection monitor {path.rsplit('/', 1)[-1]} ended in "
                              "provisioningState Failed.", status=200, code="ProvisioningFailed",
                              method="GET", url=path,
                              fix="Read its status in the portal; check the source VMs' agents.")
    return resource


def request_and_wait(arm: ArmLike, method: str, path: str, *, poll_interval: float,
                     timeout: float = 600.0, api_version: str | None = None) -> int:
    """DELETE or POST (stop/start) and follow the Location to its end; return the final status."""
    deadline = time.monotonic() + timeout
    response = arm.request(method, path, api_version=api_version, deadline=deadline)
    if response.status_code != 202:
        return response.status_code
    return _follow_location(arm, response, method, path, poll_interval, deadline, timeout)


def _wait_for(response: requests.Response, poll_interval: float) -> float:
    retry_after = parse_retry_after(response.headers.get("Retry-After"))
    return poll_interval if retry_after is None else retry_after


def _sleep(arm: ArmLike, wait: float, deadline: float, polls: int, what: str,
           timeout: float) -> None:
    remaining = deadline - time.monotonic()
    if remaining <= 0 or (not arm.sleeps and polls >= MAX_POLLS_WITHOUT_SLEEP):
        raise OperationTimeout(f"{what} did not finish within {timeout:g} s ({polls} polls); the "
                               "service may still be working on it.",
                               fix="Read it again later with m.status(), or pass a larger timeout.")
    arm.wait(min(wait, remaining))


def _follow_async(arm: ArmLike, url: str, first: requests.Response, poll_interval: float,
                  deadline: float, timeout: float) -> None:
    wait = _wait_for(first, poll_interval)
    polls = 0
    while True:
        _sleep(arm, wait, deadline, polls, "The connection monitor PUT", timeout)
        polls += 1
        response = _poll(arm, url, deadline)
        try:
            status = response.json()
        except ValueError:
            status = None
        if not isinstance(status, dict):
            raise OperationFailed("The operation status is not JSON.", status=response.status_code,
                                  code="InvalidResponseContent", method="GET", url=_short(url))
        state = str(status.get("status") or "").lower()
        if state not in TERMINAL:
            wait = _wait_for(response, poll_interval)
            continue
        if state != "succeeded":
            error = status.get("error")
            error = error if isinstance(error, dict) else {}
            raise OperationFailed(str(error.get("message") or f"The operation ended as {state}."),
                                  status=response.status_code, code=error.get("code"),
                                  method="GET", url=_short(url),
                                  request_id=first.headers.get("x-ms-request-id"))
        return


def _follow_location(arm: ArmLike, first: requests.Response, method: str, path: str,
                     poll_interval: float, deadline: float, timeout: float) -> int:
    url = first.headers.get("Location") or first.headers.get("Azure-AsyncOperation")
    if not url:
        raise OperationFailed(f"{method} {path} was accepted (202) without a Location to poll.",
                              status=202, code="MissingLocation", method=method, url=path,
                              request_id=first.headers.get("x-ms-request-id"),
                              fix="Read the monitor again with m.status() in a minute.")
    wait = _wait_for(first, poll_interval)
    polls = 0
    while True:
        _sleep(arm, wait, deadline, polls, f"{method} {path.rsplit('/', 2)[-1]}", timeout)
        polls += 1
        response = _poll(arm, url, deadline)
        if response.status_code != 202:
            return response.status_code
        wait = _wait_for(response, poll_interval)


def _poll(arm: ArmLike, url: str, deadline: float) -> requests.Response:
    """One status read; an error answer ends the operation as failed (the client has already
    retried what is safe to retry)."""
    try:
        return arm.request("GET", url, deadline=deadline)
    except ArmError as exc:
        raise OperationFailed(exc.message, status=exc.status, code=exc.code,
                              request_id=exc.request_id, correlation_id=exc.correlation_id,
                              method="GET", url=exc.url, fix=exc.fix, body=exc.body) from exc


def _short(url: str) -> str:
    return url.split("?", 1)[0]
