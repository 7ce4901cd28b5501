# ruff: noqa: E501  (the fault table below is a Markdown table, one row per line)
"""Every fault the emulator's chaos mode can inject, driven through check() and check_many().

Each case runs against a fresh EmulatorServer (check_seconds=0.3, Retry-After 0.1 s on 202s)
with a client using request_timeout=(1, 1) and poll_interval=0.05; check timeout 5 s unless
the row says otherwise. Every test is wrapped in pytest-timeout, so a hang fails.

For every case, `check()` must end within the deadline (timeout + 2 s) with the fault's
outcome: the correct result (equal to the same check on a fault-free server) or the typed
error named (a subclass of nwlab.NwlabError). `check_many()` on three distinct checks
(MultiTierApp0 -> Database0:80, Database0:1433, WebVM0:443) must return one entry per check,
each a correct result or a typed error, with the number of errors the last column names.

What "one POST per check" counts, precisely:
- **sent**: POST requests that reached the emulator (`server.stats["POST"]`);
- **accepted**: POSTs that reached the check-starting logic, i.e. the facade answered 202 and
  a check is running (`chaos.accepted`, equal to `server.stats["checks"]`). A POST refused
  before that (a 429, a 401, a 5xx that replaces ARM's answer) started nothing and may be sent
  again; an accepted one must never be sent again, whatever happened to its answer.
For check() both numbers are asserted exactly (accepted/sent column). For check_many() the
assertion is per check: at most one accepted POST with that check's body, and exactly one for
every check that ended with a result.

Fault table (POST = the connectivityCheck POST; poll = GET of the operation's Location):

| fault | rule | check() outcome | accepted/sent | check_many() errors | test id |
|---|---|---|---|---|---|
| none (baseline) | - | result | 1/1 | 0 of 3 | no-fault |
| 429 storm on the POST, Retry-After 0.2 | POST x3 | result (refused POST re-sent after Retry-After) | 1/4 | 0 | post-429-storm |
| endless 429 on the POST | every POST | ThrottledError (after 10 retries) | 0/11 | 3 | post-429-forever |
| 429 with Retry-After 30 s, past the 3 s deadline | POST x1 | ThrottledError at once (no 30 s sleep) | 0/1 | 3 (shared back-off: ThrottledError or OperationTimeout) | post-429-past-deadline |
| 429 storm on polls | poll x3 | result | 1/1 | 0 | poll-429-storm |
| endless 429 on polls (timeout 2 s) | every poll | OperationTimeout | 1/1 | 3 | poll-429-forever |
| 500 on the POST, refused by ARM | POST x1 | ArmError 500, not re-sent | 0/1 | 1 | post-500-refused |
| 503 on the POST after ARM started the check | POST x1, after | ArmError 503, not re-sent | 1/1 | 1 | post-503-after-accept |
| 500 on one poll | poll #1 | result | 1/1 | 0 | poll-500-once |
| 503 + Retry-After on polls | poll x3 | result | 1/1 | 0 | poll-503-storm |
| 500 on every poll | every poll | OperationFailed (10 consecutive 5xx polls) | 1/1 | 3 | poll-500-forever |
| operation fails while polling (4xx ARM error body) | poll #1 | OperationFailed with ARM's code | 1/1 | 1 | poll-4xx-operation-failed |
| connection dropped inside the POST's status line | POST x1 | BackendUnavailable, not re-sent | 1/1 | 1 | post-drop-status |
| connection dropped in the POST's headers, before Location | POST x1 | OperationFailed MissingLocation (http.client reads the cut header block as complete) | 1/1 | 1 | post-drop-headers |
| connection dropped inside the POST's Location header | POST x1 | OperationFailed (the cut URL answers 404, or 200 with JSON that is not a result: InvalidResult) | 1/1 | 1 | post-drop-in-location |
| connection dropped inside the POST's body | POST x1 | BackendUnavailable, not re-sent | 1/1 | 1 | post-drop-body |
| connection dropped inside a poll's status line | poll #1 | result (GET retried) | 1/1 | 0 | poll-drop-status |
| connection dropped inside a poll's body | poll #1 | result (GET retried) | 1/1 | 0 | poll-drop-body |
| connection dropped inside every poll's body | every poll | BackendUnavailable (after 3 retries) | 1/1 | 3 | poll-drop-body-forever |
| every poll cut after its first header (200 arrives empty) | every poll | OperationFailed EmptyResult | 1/1 | 3 | poll-drop-headers-forever |
| POST stalls past the read timeout | POST x1 | BackendUnavailable (timed out), not re-sent | 1/1 | 1 | post-stall |
| one poll stalls past the read timeout | poll #1 | result (GET retried) | 1/1 | 0 | poll-stall-once |
| every poll stalls (timeout 3 s) | every poll | BackendUnavailable or OperationTimeout | 1/1 | 3 | poll-stall-forever |
| malformed JSON in the POST's 202 body | every POST | result (a 202 is read by status) | 1/1 | 0 | post-malformed-202 |
| malformed JSON in the result | every poll | OperationFailed InvalidResponseContent | 1/1 | 3 | poll-malformed-result |
| malformed JSON in the pre-flight VM GET | VM GET | ArmError InvalidResponseContent, no POST | 0/0 | 3 | preflight-malformed |
| pre-flight VM GET stalls (timeout 3 s) | every VM GET | BackendUnavailable or OperationTimeout within the check's timeout, no POST | 0/0 | 3 | preflight-stall |
| 429 with Retry-After 3600 s on the pre-flight VM GET | every VM GET | ThrottledError at once (no hour-long sleep), no POST | 0/0 | 3 | preflight-429-past-deadline |
| 202 without Location | POST x1 | OperationFailed MissingLocation | 1/1 | 1 | post-202-no-location |
| token expires on the POST (401, new token) | POST #1 | result (POST refused, re-sent with the new token) | 1/2 | 0 | post-token-expired |
| token expires mid-poll (401, new token) | poll #1 | result (one refresh) | 1/1 | 0 | poll-token-expired |
| token expires mid-poll, credential cannot refresh | poll #1 | OperationFailed 401 | 1/1 | 3 | poll-token-expired-no-refresh |
| user stops the check during a 429 storm on polls | every poll + cancel at 0.5 s | CheckCancelled | 1/1 | 3 (cancelled) | test_cancel_during_fault_* |
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest

import nwlab
from nwlab.arm.auth import StaticTokenCredential
from nwlab.arm.errors import (
    ArmError,
    BackendUnavailable,
    CheckCancelled,
    NwlabError,
    OperationFailed,
    OperationTimeout,
    ThrottledError,
)
from nwlab.checkspec import build_check
from nwlab.emulator import EmulatorServer
from nwlab.emulator.chaos import (
    ANY,
    CHECK,
    POLL,
    Chaos,
    Delay,
    Drop,
    EmulatorCredential,
    ExpireToken,
    Fault,
    Malformed,
    NoLocation,
    Stall,
    Status,
    Throttle,
)

CHECK_S = 0.3  # emulator: seconds until a result is ready
RETRY_AFTER = 0.1  # emulator: Retry-After on 202s
POLL_S = 0.05  # client: poll interval without Retry-After
READ_TIMEOUT = 1.0
SLACK = 2.0  # a request started just before the deadline may take one read timeout more
VM_GET = r"/virtualMachines/MultiTierApp0$"

CHECKS = [
    {"source": "MultiTierApp0", "destination": "Database0", "port": 80,
     "resource_group": "ContosoRG"},
    {"source": "MultiTierApp0", "destination": "Database0", "port": 1433,
     "resource_group": "ContosoRG"},
    {"source": "MultiTierApp0", "destination": "WebVM0", "port": 443,
     "resource_group": "ContosoRG"},
]
TYPED = {cls.__name__: cls for cls in (NwlabError, ArmError, ThrottledError, OperationFailed,
                                       OperationTimeout, BackendUnavailable, CheckCancelled)}


@dataclass(frozen=True)
class Case:
    """One row of the fault table."""

    id: str
    rules: list[tuple[str, str, Fault, dict[str, Any]]]
    errors: tuple[type[NwlabError], ...] = ()  # () = a correct result
    accepted: int = 1  # POSTs that started a check (check())
    sent: int = 1  # POSTs that reached the emulator (check())
    batch_errors: int = 0  # entries of check_many() that end as errors, of 3
    batch_also: tuple[type[NwlabError], ...] = ()  # other errors allowed in check_many()
    timeout: float = 5.0
    static_token: bool = False  # a credential that cannot hand out the rotated token
    code: str | None = None  # the ARM error code check() must report
    extra: dict[str, Any] = field(default_factory=dict)


def rule(method: str, path: str, fault: Fault, **when: Any) -> tuple[str, str, Fault, dict[str, Any]]:
    return method, path, fault, when


CASES = [
    Case("no-fault", []),
    Case("post-429-storm", [rule("POST", CHECK, Throttle(retry_after=0.2), times=3)], sent=4),
    Case("post-429-forever", [rule("POST", CHECK, Throttle(retry_after=0.2))],
         errors=(ThrottledError,), accepted=0, sent=11, batch_errors=3, code="TooManyRequests"),
    Case("post-429-past-deadline", [rule("POST", CHECK, Throttle(retry_after=30), times=1)],
         errors=(ThrottledError,), accepted=0, sent=1, batch_errors=3,
         batch_also=(OperationTimeout,), timeout=3.0),
    Case("poll-429-storm", [rule("GET", POLL, Throttle(retry_after=0.1), times=3)]),
    Case("poll-429-forever", [rule("GET", POLL, Throttle(retry_after=0.1))],
         errors=(OperationTimeout,), batch_errors=3, timeout=2.0),
    Case("post-500-refused", [rule("POST", CHECK, Status(500), times=1)],
         errors=(ArmError,), accepted=0, batch_errors=1, code="InternalServerError"),
    Case("post-503-after-accept",
         [rule("POST", CHECK, Status(503, retry_after=0.1, after=True), times=1)],
         errors=(ArmError,), batch_errors=1, code="ServiceUnavailable"),
    Case("poll-500-once", [rule("GET", POLL, Status(500), nth=1)]),
    Case("poll-503-storm", [rule("GET", POLL, Status(503, retry_after=0.1), times=3)]),
    Case("poll-500-forever", [rule("GET", POLL, Status(500))],
         errors=(OperationFailed,), batch_errors=3, code="InternalServerError"),
    Case("poll-4xx-operation-failed",
         [rule("GET", POLL, Status(400, "ConnectivityCheckFailed",
                                   "The connectivity check failed (injected)."), nth=1)],
         errors=(OperationFailed,), batch_errors=1, code="ConnectivityCheckFailed"),
    Case("post-drop-status", [rule("POST", CHECK, Drop("status"), times=1)],
         errors=(BackendUnavailable,), batch_errors=1),
    Case("post-drop-headers", [rule("POST", CHECK, Drop("headers", keep=0.1), times=1)],
         errors=(OperationFailed,), batch_errors=1, code="MissingLocation"),
    Case("post-drop-in-location", [rule("POST", CHECK, Drop("headers", keep=0.3), times=1)],
         errors=(OperationFailed,), batch_errors=1),
    Case("post-drop-body", [rule("POST", CHECK, Drop("body"), times=1)],
         errors=(BackendUnavailable,), batch_errors=1),
    Case("poll-drop-status", [rule("GET", POLL, Drop("status"), nth=1)]),
    Case("poll-drop-body", [rule("GET", POLL, Drop("body"), nth=1)]),
    Case("poll-drop-body-forever", [rule("GET", POLL, Drop("body"))],
         errors=(BackendUnavailable,), batch_errors=3),
    Case("poll-drop-headers-forever", [rule("GET", POLL, Drop("headers"))],
         errors=(OperationFailed,), batch_errors=3, code="EmptyResult"),
    Case("post-stall", [rule("POST", CHECK, Stall(3.0), times=1)],
         errors=(BackendUnavailable,), batch_errors=1),
    Case("poll-stall-once", [rule("GET", POLL, Stall(3.0), nth=1)]),
    Case("poll-stall-forever", [rule("GET", POLL, Stall(3.0))],
         errors=(BackendUnavailable, OperationTimeout), batch_errors=3, timeout=3.0),
    Case("post-malformed-202", [rule("POST", CHECK, Malformed(b"{not json"))]),
    Case("poll-malformed-result", [rule("GET", POLL, Malformed())],
         errors=(OperationFailed,), batch_errors=3, code="InvalidResponseContent"),
    Case("preflight-malformed", [rule("GET", VM_GET, Malformed())],
         errors=(ArmError,), accepted=0, sent=0, batch_errors=3, code="InvalidResponseContent"),
    Case("preflight-stall", [rule("GET", VM_GET, Stall(10.0))],
         errors=(BackendUnavailable, OperationTimeout), accepted=0, sent=0, batch_errors=3,
         timeout=3.0),
    Case("preflight-429-past-deadline", [rule("GET", VM_GET, Throttle(retry_after=3600))],
         errors=(ThrottledError,), accepted=0, sent=0, batch_errors=3, code="TooManyRequests"),
    Case("post-202-no-location", [rule("POST", CHECK, NoLocation(), times=1)],
         errors=(OperationFailed,), batch_errors=1, code="MissingLocation"),
    Case("post-token-expired", [rule("POST", CHECK, ExpireToken(), nth=1)], sent=2),
    Case("poll-token-expired", [rule("GET", POLL, ExpireToken(), nth=1)]),
    Case("poll-token-expired-no-refresh", [rule("GET", POLL, ExpireToken(), nth=1)],
         errors=(OperationFailed,), batch_errors=3, static_token=True),
]


# -- helpers ----------------------------------------------------------------------------------


def make_chaos(case: Case) -> Chaos:
    chaos = Chaos()
    for method, path, fault, when in case.rules:
        chaos.on(method, path, fault, **when)
    return chaos


@contextmanager
def lab(chaos: Chaos | None, *, static_token: bool = False
        ) -> Iterator[tuple[EmulatorServer, nwlab.NetworkWatcher, Any]]:
    """A fresh emulator with `chaos`, and a client on it with small timeouts; both stopped."""
    server = EmulatorServer(check_seconds=CHECK_S, retry_after=RETRY_AFTER, chaos=chaos).start()
    credential: Any = StaticTokenCredential(server.token) if static_token \
        else EmulatorCredential(server)
    nw = nwlab.connect(server.subscription_id, credential=credential,
                       arm_endpoint=server.endpoint, poll_interval=POLL_S)
    nw.arm.request_timeout = (1.0, READ_TIMEOUT)
    # The table's counts assume the twin's Retry-After (0.2 s) is honoured as sent; Azure's 1 s
    # floor (connect()'s default) is tested in test_trust_client.py.
    nw.arm.min_poll_interval = 0.01
    try:
        yield server, nw, credential
    finally:
        nw.close()
        server.stop()


def summary(result: nwlab.ConnectivityResult) -> tuple[Any, ...]:
    """What must match the fault-free answer (hop ids differ between checks by design)."""
    return (result.status, result.probes_sent, result.probes_failed,
            [(h.type, h.address, [i.type for i in h.issues]) for h in result.hops])


def body_key(body: Any) -> str:
    return json.dumps(body, sort_keys=True)


@pytest.fixture(scope="module")
def expected() -> list[tuple[Any, ...]]:
    """The three checks on a fault-free emulator."""
    with lab(None) as (_, nw, _cred):
        return [summary(nw.check(**c, timeout=10)) for c in CHECKS]


@pytest.fixture(scope="module")
def bodies() -> list[str]:
    """The POST body of each check, to attribute accepted POSTs to checks."""
    sub = "00000000-0000-0000-0000-000000000000"
    return [body_key(build_check(sub, **c).body()) for c in CHECKS]


# -- check() ----------------------------------------------------------------------------------


@pytest.mark.timeout(30)
@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_fault_check(case: Case, expected: list[tuple[Any, ...]]) -> None:
    chaos = make_chaos(case)
    with lab(chaos, static_token=case.static_token) as (server, nw, credential):
        started = time.monotonic()
        try:
            result = nw.check(**CHECKS[0], timeout=case.timeout)
        except NwlabError as exc:
            outcome: Any = exc
        else:
            outcome = result
        elapsed = time.monotonic() - started
        stats = server.stats

    assert elapsed <= case.timeout + SLACK, f"took {elapsed:.1f} s"
    if case.rules:
        assert chaos.fired, "the fault never fired"
    if case.errors:
        assert isinstance(outcome, case.errors), f"expected {case.errors}, got {outcome!r}"
        if case.code is not None:
            assert isinstance(outcome, ArmError) and outcome.code == case.code, outcome
    else:
        assert isinstance(outcome, nwlab.ConnectivityResult), f"expected a result: {outcome!r}"
        assert summary(outcome) == expected[0]
    # One POST per check: exactly `accepted` started a check, `sent` reached the emulator.
    assert len(chaos.accepted) == stats.get("checks", 0) == case.accepted
    assert stats.get("POST", 0) == case.sent
    if case.id.endswith("token-expired"):
        assert isinstance(credential, EmulatorCredential) and credential.calls == 2


# -- check_many() -----------------------------------------------------------------------------


@pytest.mark.timeout(40)
@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_fault_check_many(case: Case, expected: list[tuple[Any, ...]], bodies: list[str]) -> None:
    chaos = make_chaos(case)
    checks = [{**c, "timeout": case.timeout} for c in CHECKS]
    with lab(chaos, static_token=case.static_token) as (server, nw, _cred):
        started = time.monotonic()
        batch = nw.check_many(checks, on_progress=False)
        elapsed = time.monotonic() - started
        stats = server.stats

    assert elapsed <= case.timeout + SLACK, f"took {elapsed:.1f} s"
    if case.rules:
        assert chaos.fired, "the fault never fired"
    # Every entry accounted for: one per check, in order, each a result or an error.
    assert len(batch.entries) == len(checks)
    allowed = {cls.__name__ for cls in case.errors + case.batch_also}
    for index, entry in enumerate(batch.entries):
        assert entry.index == index
        assert (entry.result is None) != (entry.error is None), entry
        if entry.error is not None:
            assert entry.error.type in allowed, f"checks[{index}]: {entry.error}"
            assert issubclass(TYPED[entry.error.type], NwlabError)
        else:
            assert entry.result is not None and summary(entry.result) == expected[index]
    assert len(batch.errors) == case.batch_errors, batch.frame()[["verdict", "error"]]
    # One POST per check: never two started checks for one entry; one for each result.
    accepted = [body_key(body) for _, body in chaos.accepted]
    assert len(accepted) == stats.get("checks", 0)
    for index, entry in enumerate(batch.entries):
        started_here = accepted.count(bodies[index])
        assert started_here <= 1, f"checks[{index}] was started {started_here} times"
        if entry.result is not None:
            assert started_here == 1
    assert set(accepted) <= set(bodies)


# -- the user stops a check while a fault goes on ----------------------------------------------


@pytest.mark.timeout(30)
def test_cancel_during_fault_check() -> None:
    chaos = Chaos().on("GET", POLL, Throttle(retry_after=0.2))
    stop = threading.Event()
    with lab(chaos) as (server, nw, _):
        timer = threading.Timer(0.5, stop.set)
        timer.start()
        started = time.monotonic()
        with pytest.raises(CheckCancelled):
            nw.check(**CHECKS[0], timeout=10, cancel=stop)
        elapsed = time.monotonic() - started
        timer.cancel()
        assert server.stats["POST"] == server.stats["checks"] == 1
    assert elapsed < 0.5 + READ_TIMEOUT + 0.5
    assert chaos.fired


@pytest.mark.timeout(30)
def test_cancel_during_fault_check_many() -> None:
    chaos = Chaos().on("GET", POLL, Throttle(retry_after=0.2))
    stop = threading.Event()
    with lab(chaos) as (server, nw, _):
        timer = threading.Timer(0.5, stop.set)
        timer.start()
        started = time.monotonic()
        batch = nw.check_many([{**c, "timeout": 10} for c in CHECKS], on_progress=False,
                              cancel=stop)
        elapsed = time.monotonic() - started
        timer.cancel()
        assert server.stats["POST"] == server.stats["checks"] <= len(CHECKS)
    assert elapsed < 0.5 + READ_TIMEOUT + 0.5
    assert len(batch.entries) == len(CHECKS)
    assert all(e.error is not None and e.error.type == "CheckCancelled" for e in batch.entries)
    assert batch.counts()["cancelled"] == len(CHECKS)


# -- the chaos script itself --------------------------------------------------------------------


def test_rules_count_their_matches_and_the_first_that_fires_wins() -> None:
    chaos = Chaos()
    chaos.on("GET", POLL, Status(500), nth=[2, 4])
    chaos.on(None, "", Status(503), times=1)  # every request counts here too
    poll = "/subscriptions/x/providers/Microsoft.Network/locations/y/operationResults/z"
    decided = [chaos.decide("GET", poll) for _ in range(5)]
    assert [f.status if isinstance(f, Status) else None for f in decided] == \
        [503, 500, None, 500, None]
    assert [(i.rule, i.occurrence) for i in chaos.fired] == [(1, 1), (0, 2), (0, 4)]
    assert chaos.decide("POST", "/a/connectivityCheck") is None  # rule 2 already spent
    assert chaos.count(Status) == 3


def test_method_and_path_filter_case_insensitively() -> None:
    chaos = Chaos().on("post", CHECK, Throttle(), nth=1)
    assert chaos.decide("GET", "/x/connectivityCheck") is None
    assert chaos.decide("POST", "/x/CONNECTIVITYCHECK") == Throttle()


@pytest.mark.parametrize(("kwargs", "words"), [
    ({"nth": 0}, "counted from 1"),
    ({"nth": [1, "2"]}, "counted from 1"),
    ({"times": 0}, "positive"),
    ({"nth": 1, "times": 2}, "not both"),
])
def test_bad_rules_are_refused(kwargs: dict[str, Any], words: str) -> None:
    with pytest.raises(ValueError, match=words):
        Chaos().on("GET", POLL, Status(500), **kwargs)


def test_a_fault_must_be_a_fault() -> None:
    with pytest.raises(TypeError, match="Throttle"):
        Chaos().on("GET", POLL, 500)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="status"):
        Drop("middle")


@pytest.mark.timeout(20)
def test_chaos_can_be_set_while_running_and_removed() -> None:
    with lab(None) as (server, nw, _):
        server.chaos = Chaos().on("POST", CHECK, Status(500), times=1)
        with pytest.raises(ArmError) as caught:
            nw.check(**CHECKS[2], timeout=5)
        assert caught.value.status == 500
        server.chaos = None
        assert nw.check(**CHECKS[2], timeout=5).reachable


@pytest.mark.timeout(20)
def test_a_delayed_answer_is_arms_own_answer() -> None:
    """Delay is latency, not a fault in the answer: the check comes out as without it, every
    request it matched was delayed (and counted), none refused or broken."""
    with lab(None) as (_server, plain, _):
        expected = plain.check("MultiTierApp0", "Database0", 80, resource_group="ContosoRG")
    chaos = Chaos().on(None, ANY, Delay(0.01))
    with lab(chaos) as (_server, nw, _):
        got = nw.check("MultiTierApp0", "Database0", 80, resource_group="ContosoRG")
    assert got.status == expected.status and got.issues == expected.issues
    assert [h.address for h in got.hops] == [h.address for h in expected.hops]
    assert chaos.fired and {i.fault.name for i in chaos.fired} == {"Delay"}


def test_a_stalled_handler_ends_when_the_server_stops() -> None:
    chaos = Chaos().on("GET", "/subscriptions$", Stall(50))
    with lab(chaos) as (_server, nw, _):
        nw.arm.connection_retries = 1
        with pytest.raises(BackendUnavailable):
            nw.list_subscriptions()
        before = threading.active_count()
    deadline = time.monotonic() + 5
    while threading.active_count() >= before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert threading.active_count() < before  # the stalled threads were woken and ended
    assert len(chaos.fired) == 2  # the first try and one retry of an idempotent GET


@pytest.mark.timeout(20)
def test_nwlab_emulate_accepts_chaos_at_run_time() -> None:
    """The notebook route: `nw.emulator.chaos = ...` after nwlab.emulate()."""
    nw = nwlab.emulate(check_seconds=0.1, retry_after=0.05)
    try:
        nw.arm.request_timeout = (1.0, READ_TIMEOUT)
        nw.emulator.chaos = Chaos().on("GET", POLL, ExpireToken(rotate=False), nth=1) \
            .on("GET", POLL, Drop("body"), nth=2)
        result = nw.check(**CHECKS[2], timeout=5)
        assert result.reachable
        assert [i.fault.name for i in nw.emulator.chaos.fired] == ["ExpireToken", "Drop"]
        assert nw.emulator.stats["POST"] == nw.emulator.stats["checks"] == 1
    finally:
        nw.close()
