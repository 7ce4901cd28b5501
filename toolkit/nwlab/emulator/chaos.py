"""Chaos mode: scripted, deterministic faults on chosen requests, for client reliability tests.

    chaos = Chaos()
    chaos.on("POST", CHECK, Throttle(retry_after=0.2), times=3)  # a 429 storm on the POST
    chaos.on("GET", POLL, Stall(3), nth=2)                       # the 2nd poll stalls 3 s
    chaos.on(None, ANY, Delay(0.05))                             # 50 ms service latency
    server = EmulatorServer(chaos=chaos)    # or `server.chaos = chaos` while it runs

A rule matches a method (None or "*": any) and a path regex (searched, case-insensitive); it
numbers the authenticated requests it matches 1, 2, 3, ... and fires on the numbers `nth` names,
on the first `times`, or (neither given) on every one. Every rule counts every request it
matches; the first rule that fires decides the fault. Requests without a valid token never
reach chaos (they get the emulator's normal 401).

A fault either answers instead of ARM (``after=False``: the request never reaches the facade,
so a refused POST starts no check) or spoils ARM's answer (``after=True``: the facade handled
the request first, so a POST did start its check and the client must not send it again).

``fired`` lists every injection; ``accepted`` lists the POSTs the facade accepted (answered
202), which is how tests prove that a check was started exactly once.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

# Re-exported for the import path tests and notebooks use; the credential lives in credential.py.
from .credential import AccessToken as AccessToken
from .credential import EmulatorCredential as EmulatorCredential
from .facade import NO_BODY, Response

CHECK = r"/connectivityCheck$"  # the POST that starts a check
POLL = r"/operationResults/"  # the Location a client polls
ANY = ""  # every path
MAX_STALL_S = 60.0  # a stalled handler thread always ends, at the latest after this

_CODES = {400: "BadRequest", 401: "AuthenticationFailed", 403: "AuthorizationFailed",
          404: "NotFound", 409: "Conflict", 429: "TooManyRequests",
          500: "InternalServerError", 502: "BadGateway", 503: "ServiceUnavailable",
          504: "GatewayTimeout"}


def _seconds(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


# -- faults -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Fault:
    """What to do to a request. `after`: let ARM handle it first (see the module docstring)."""

    after: bool = field(default=False, kw_only=True)

    @property
    def name(self) -> str:
        return type(self).__name__

    def apply(self, server: Any, response: Response | None, wake: threading.Event) -> Response:
        """The answer to send; `response` is ARM's own answer when `after`, else None."""
        raise NotImplementedError


@dataclass(frozen=True)
class Status(Fault):
    """An ARM error answer: `status` with ``{"error": {"code", "message"}}`` (and Retry-After).

    On a poll this is an operation that fails while polling; with ``after=True`` on the POST the
    check was started and its 202 was replaced by the error (a gateway failing on the way back).
    """

    status: int = 500
    code: str | None = None
    message: str | None = None
    retry_after: float | None = None

    def apply(self, server: Any, response: Response | None, wake: threading.Event) -> Response:
        code = self.code or _CODES.get(self.status, HTTPStatus(self.status).phrase.replace(" ", ""))
        message = self.message or f"Injected fault: HTTP {self.status} {code}."
        headers = {} if self.retry_after is None else {"Retry-After": _seconds(self.retry_after)}
        return Response(self.status, {"error": {"code": code, "message": message}}, headers)


@dataclass(frozen=True)
class Throttle(Fault):
    """429 TooManyRequests with Retry-After: ARM refused the request (a storm: use `times`)."""

    retry_after: float | None = 1.0
    code: str = "TooManyRequests"

    def apply(self, server: Any, response: Response | None, wake: threading.Event) -> Response:
        message = "Number of requests exceeded the limit (injected)." + \
            (f" Retry after {_seconds(self.retry_after)} second(s)."
             if self.retry_after is not None else "")
        return Status(429, self.code, message, self.retry_after).apply(server, response, wake)


@dataclass(frozen=True)
class Drop(Fault):
    """Close the connection part way through the answer.

    `at` names the part cut and `keep` the fraction of it sent: ``"status"`` (the status line),
    ``"headers"`` (the status line, then part of the header block: http.client reads what came
    as a complete response without a body, with a header cut short in the middle if the cut
    falls inside one), or ``"body"`` (all headers, part of the body: fewer bytes than
    Content-Length).
    """

    at: str = "body"
    keep: float = 0.5
    after: bool = field(default=True, kw_only=True)

    def __post_init__(self) -> None:
        if self.at not in ("status", "headers", "body"):
            raise ValueError(f"Drop(at=...): expected 'status', 'headers' or 'body', got {self.at!r}")
        if not 0 <= self.keep < 1:
            raise ValueError(f"Drop(keep=...): expected a fraction 0 <= keep < 1, got {self.keep!r}")

    def apply(self, server: Any, response: Response | None, wake: threading.Event) -> Response:
        return Sabotage.of(response, self, wake)


@dataclass(frozen=True)
class Stall(Fault):
    """Send nothing for `seconds` (at most MAX_STALL_S, ended early when the server stops),
    then close the connection: past the client's read timeout, it gives up first."""

    seconds: float = 3.0
    after: bool = field(default=True, kw_only=True)

    def apply(self, server: Any, response: Response | None, wake: threading.Event) -> Response:
        return Sabotage.of(response, self, wake)


@dataclass(frozen=True)
class Delay(Fault):
    """ARM's own answer, sent `seconds` late (at most MAX_STALL_S, sooner when the server stops):
    service latency on every request it matches, for measuring what a client's wall time is
    made of (benchmarks/diagnostics.py)."""

    seconds: float = 0.05
    after: bool = field(default=True, kw_only=True)

    def apply(self, server: Any, response: Response | None, wake: threading.Event) -> Response:
        return Sabotage.of(response, self, wake)


@dataclass(frozen=True)
class Malformed(Fault):
    """ARM's status and headers with a body that is not JSON: `body`, or by default the first
    half of ARM's own answer (Content-Length matches, so only the JSON is broken)."""

    body: bytes | None = None
    after: bool = field(default=True, kw_only=True)

    def apply(self, server: Any, response: Response | None, wake: threading.Event) -> Response:
        return Sabotage.of(response, self, wake)


@dataclass(frozen=True)
class NoLocation(Fault):
    """ARM's answer without its Location and Azure-AsyncOperation headers (a 202 nobody can poll)."""

    after: bool = field(default=True, kw_only=True)

    def apply(self, server: Any, response: Response | None, wake: threading.Event) -> Response:
        base = response if response is not None else Response(202, None)
        headers = {k: v for k, v in base.headers.items()
                   if k.lower() not in ("location", "azure-asyncoperation")}
        return Response(base.status, base.body, headers)


@dataclass(frozen=True)
class ExpireToken(Fault):
    """The token expires now: 401 ExpiredAuthenticationToken. With `rotate` (default) the server
    issues a new token and refuses the old one from now on, so the client must fetch a new one
    (EmulatorCredential hands it out); without, the same token works again on the retry."""

    rotate: bool = True

    def apply(self, server: Any, response: Response | None, wake: threading.Event) -> Response:
        if self.rotate:
            server.rotate_token()
        return Response(401, {"error": {
            "code": "ExpiredAuthenticationToken",
            "message": "The access token has expired. Acquire a new access token and send the "
                       "request again."}},
            {"WWW-Authenticate": 'Bearer realm="nwlab-emulator", error="invalid_token", '
                                 'error_description="The access token has expired"'})


# -- answers the handler puts on the wire itself ---------------------------------------------


@dataclass
class Sabotage(Response):
    """An answer sent late, broken or in part; server._Handler._send calls `deliver`."""

    fault: Fault | None = None
    wake: threading.Event | None = None

    @classmethod
    def of(cls, response: Response | None, fault: Fault, wake: threading.Event) -> Sabotage:
        base = response if response is not None else Response(200, None)
        return cls(base.status, base.body, base.headers, fault, wake)

    def deliver(self, handler: Any) -> None:
        fault = self.fault
        if isinstance(fault, Delay):
            assert self.wake is not None
            self.wake.wait(max(0.0, min(fault.seconds, MAX_STALL_S)))
        if isinstance(fault, Stall):
            handler.close_connection = True
            assert self.wake is not None
            self.wake.wait(max(0.0, min(fault.seconds, MAX_STALL_S)))
            return
        data = b"" if self.body is NO_BODY else json.dumps(self.body).encode("utf-8")
        if isinstance(fault, Malformed):
            data = fault.body if fault.body is not None else data[: len(data) // 2]
        status_line, headers = self._head(handler, data)
        raw = status_line + headers + b"\r\n" + data
        if isinstance(fault, Drop):
            handler.close_connection = True
            if fault.at == "status":
                raw = status_line[: int(len(status_line) * fault.keep)]
            elif fault.at == "headers":
                raw = status_line + headers[: int(len(headers) * fault.keep)]
            else:
                raw = status_line + headers + b"\r\n" + data[: int(len(data) * fault.keep)]
        handler.wfile.write(raw)
        handler.wfile.flush()

    def _head(self, handler: Any, data: bytes) -> tuple[bytes, bytes]:
        """The status line and header block exactly as _Handler._send would write them."""
        reason = HTTPStatus(self.status).phrase if self.status in HTTPStatus._value2member_map_ \
            else ""
        lines = [("Server", handler.version_string()), ("Date", handler.date_time_string()),
                 *self.headers.items()]
        if self.body is not NO_BODY:
            lines.append(("Content-Type", "application/json; charset=utf-8"))
        lines += [("Cache-Control", "no-cache"), ("Content-Length", str(len(data)))]
        status_line = f"{handler.protocol_version} {self.status} {reason}\r\n".encode("latin-1")
        return status_line, "".join(f"{k}: {v}\r\n" for k, v in lines).encode("latin-1")


# -- the script -------------------------------------------------------------------------------


@dataclass
class Rule:
    method: str | None
    pattern: re.Pattern[str]
    fault: Fault
    nth: frozenset[int] | None = None
    times: int | None = None
    matched: int = 0

    def fires(self, number: int) -> bool:
        if self.nth is not None:
            return number in self.nth
        if self.times is not None:
            return number <= self.times
        return True


@dataclass(frozen=True)
class Injection:
    """One fault that fired: which rule, on which request, as its rule's n-th match."""

    rule: int
    occurrence: int
    method: str
    path: str
    fault: Fault


class Chaos:
    """A fault script for one EmulatorServer; thread-safe; see the module docstring."""

    def __init__(self) -> None:
        self._rules: list[Rule] = []
        self._lock = threading.Lock()
        self._fired: list[Injection] = []
        self._accepted: list[tuple[str, Any]] = []
        self._wake = threading.Event()

    def on(self, method: str | None, path: str, fault: Fault, *,
           nth: int | Iterable[int] | None = None, times: int | None = None) -> Chaos:
        """Add a rule; returns self so rules chain. `path` is a regex (CHECK, POLL, ANY)."""
        if not isinstance(fault, Fault):
            raise TypeError(f"fault: expected a Fault such as Throttle(retry_after=1), got "
                            f"{type(fault).__name__}")
        if nth is not None and times is not None:
            raise ValueError("give nth= (which matches, e.g. nth=[1, 3]) or times= (the first "
                             "N matches), not both")
        numbers: frozenset[int] | None = None
        if nth is not None:
            numbers = frozenset([nth] if isinstance(nth, int) else nth)
            if not numbers or any(isinstance(n, bool) or not isinstance(n, int) or n < 1
                                  for n in numbers):
                raise ValueError(f"nth: expected match numbers counted from 1, e.g. nth=2 or "
                                 f"nth=[1, 3]; got {nth!r}")
        if times is not None and (isinstance(times, bool) or not isinstance(times, int)
                                  or times < 1):
            raise ValueError(f"times: expected a positive number of matches, e.g. times=3; "
                             f"got {times!r}")
        verb = None if method in (None, "*") else str(method).upper()
        with self._lock:
            self._rules.append(Rule(verb, re.compile(path, re.IGNORECASE), fault, numbers, times))
        return self

    @property
    def fired(self) -> list[Injection]:
        with self._lock:
            return list(self._fired)

    @property
    def accepted(self) -> list[tuple[str, Any]]:
        """(path, JSON body) of every POST the facade accepted with 202: one per started check."""
        with self._lock:
            return list(self._accepted)

    def count(self, kind: type[Fault] | None = None) -> int:
        """How many faults fired (of one kind, e.g. Throttle)."""
        return sum(1 for i in self.fired if kind is None or isinstance(i.fault, kind))

    def wake(self) -> None:
        """End every stall now (EmulatorServer.stop calls this)."""
        self._wake.set()

    # -- called by the server -------------------------------------------------------------

    def decide(self, method: str, path: str) -> Fault | None:
        """The fault for this authenticated request, if a rule fires; counts every match."""
        chosen: Fault | None = None
        with self._lock:
            for index, rule in enumerate(self._rules):
                if (rule.method is not None and rule.method != method) \
                        or not rule.pattern.search(path):
                    continue
                rule.matched += 1
                if chosen is None and rule.fires(rule.matched):
                    chosen = rule.fault
                    self._fired.append(Injection(index, rule.matched, method, path, rule.fault))
        return chosen

    def before(self, server: Any, fault: Fault | None) -> Response | None:
        """The answer that replaces ARM's, for a fault that acts before ARM sees the request."""
        if fault is None or fault.after:
            return None
        return fault.apply(server, None, self._wake)

    def after(self, server: Any, method: str, path: str, body: bytes | None,
              response: Response, fault: Fault | None) -> Response:
        """Note a started check; spoil ARM's answer when the fault acts after it."""
        if method == "POST" and response.status == 202:
            try:
                parsed = json.loads(body) if body else None
            except ValueError:
                parsed = None
            with self._lock:
                self._accepted.append((path, parsed))
        if fault is None or not fault.after:
            return response
        return fault.apply(server, response, self._wake)


__all__ = ["ANY", "CHECK", "MAX_STALL_S", "POLL", "AccessToken", "Chaos", "Drop",
           "EmulatorCredential", "ExpireToken", "Fault", "Injection", "Malformed", "NoLocation",
           "Rule", "Sabotage", "Stall", "Status", "Throttle"]
