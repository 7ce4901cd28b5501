"""diagnose() issues its tests concurrently with the check (issue 13: live, its wall time is the
check's plus at most one more long-running-operation round).

Counted, not timed: the twin's operation clock is replaced by a round clock. Every operation
takes one tick; the clock ticks only once every operation expected in the current round has been
accepted, so no operation of a round can finish before the client has started all of them,
whatever the machine's load. The request sequence then gives each operation its round (1 + the
latest round of any operation that had finished before it started): the check and every test at
the ends must be round 1, the dropping hop's tests round 2, and nothing later.
"""

from __future__ import annotations

import threading
from typing import Any

import pytest

import nwlab

# Every this many polls the clock ticks anyway: a client that runs its tests one after another
# then still ends (and the round count shows it) instead of hanging.
STALL_POLLS = 3000


class RoundClock:
    """The emulator's operation clock, stepped by rounds of `sizes` operations each."""

    def __init__(self, server: Any, sizes: list[int]) -> None:
        self.app = server.app
        self.sizes = sizes
        self.lock = threading.Lock()
        self.started: list[tuple[str, str, Any]] = []  # (operation id, path, body)
        self.events: list[tuple[str, str]] = []  # ("start" | "done", operation id), in order
        self.polls = 0
        self.stalled = False
        self.app.check_seconds = 1.0
        self.app._clock = self.now
        self._handle = self.app.handle
        self.app.handle = self.handle

    def now(self) -> float:
        with self.lock:
            done, total = 0, 0
            for size in self.sizes:
                total += size
                if len(self.started) < total:
                    break
                done += 1
            ticks = self.polls // STALL_POLLS  # a round that never fills up still ends
            self.stalled = self.stalled or ticks > 0
            return float(done + ticks)

    def handle(self, method: str, path: str, query: Any, body: Any) -> Any:
        response = self._handle(method, path, query, body)
        op_id = response.headers.get("x-ms-request-id")
        with self.lock:
            if method == "POST" and response.status == 202 and op_id:
                self.started.append((op_id, path, body))
                self.events.append(("start", op_id))
            elif "/operationresults/" in path.lower():
                self.polls += 1
                op = path.rstrip("/").rsplit("/", 1)[-1]
                if response.status == 200 and ("done", op) not in self.events:
                    self.events.append(("done", op))
        return response

    def rounds(self) -> dict[str, int]:
        """Each operation's round: 1 + the highest round among those done before it started."""
        finished: dict[str, int] = {}
        rounds: dict[str, int] = {}
        for kind, op in self.events:
            if kind == "start":
                rounds[op] = 1 + max(finished.values(), default=0)
            else:
                finished[op] = rounds[op]
        return rounds

    def round_of(self, suffix: str, body_has: str = "") -> list[int]:
        """The rounds of the operations whose path ends so and whose path or body names
        `body_has`."""
        rounds = self.rounds()
        return [rounds[op] for op, path, body in self.started
                if path.lower().endswith(suffix.lower())
                and body_has in path + (body or b"").decode()]


@pytest.mark.parametrize(("analyzer", "sizes"), [
    # the check and 6 tests at the ends; then next hop, NSG diagnostic, effective routes at auNic
    (False, [7, 3]),
    # the bundle (check, source next hop, source NSG diagnostic) and 4 tests; then the hop's 3
    (None, [5, 3]),
])
def test_the_tests_run_with_the_check_and_one_round_follows(analyzer, sizes):
    with nwlab.emulate(check_seconds=0.0, retry_after=0.0) as nw:
        clock = RoundClock(nw.emulator, sizes)
        d = nw.diagnose("MultiTierApp0", "Database0", 80, resource_group="ContosoRG",
                        analyzer=analyzer)
    assert not clock.stalled  # every round filled up: the client started them together
    assert d.verdict == "not reachable" and d.findings[0].rule == "Port80"
    assert not [k for k, v in d.tests.items() if isinstance(v, Exception)]
    check = "/connectivityCheck" if analyzer is False else "/query"
    assert clock.round_of(check) == [1]
    ends = (clock.round_of("/ipFlowVerify") + clock.round_of("/effectiveRouteTable", "appNic0")
            + clock.round_of("/networkConfigurationDiagnostic", "dbNic0"))
    assert ends and set(ends) == {1}  # started before the check's operation finished
    # the tests at the source and destination all started before the check's answer came
    check_op = next(op for op, path, _ in clock.started if path.endswith(check))
    check_done = clock.events.index(("done", check_op))
    round_one = [op for op, r in clock.rounds().items() if r == 1]
    assert all(clock.events.index(("start", op)) < check_done for op in round_one)
    # the dropping hop (auNic) is the one more round, and nothing comes after it
    assert clock.round_of("/networkConfigurationDiagnostic", "auNic") == [2]
    assert clock.round_of("/nextHop", "auNic") == [2]
    assert max(clock.rounds().values()) == 2
    assert len(clock.started) == sum(sizes)


def test_a_client_that_waits_for_each_test_is_caught():
    """The measure can fail: run the same tests one after another (as a client without the
    thread pool would) and the rounds pile up past two."""
    with nwlab.emulate(check_seconds=0.0, retry_after=0.0) as nw:
        clock = RoundClock(nw.emulator, [1, 1, 1])
        nw.check("MultiTierApp0", "Database0", 80, resource_group="ContosoRG")
        nw.next_hop("MultiTierApp0", "10.1.4.4", resource_group="ContosoRG")
        nw.ip_flow_verify("MultiTierApp0", "Outbound", "TCP", "*", "10.1.4.4", 80,
                          resource_group="ContosoRG")
    assert sorted(clock.rounds().values()) == [1, 2, 3]


def test_a_url_destination_runs_its_address_tests_in_the_one_more_round():
    """A URL's address is the check's answer: the tests that need none (the source's effective
    routes and security rules) run with the check; those of the resolved address and the URL's
    port (http: 80) start with the dropping hop's, as the one more round."""
    with nwlab.emulate(check_seconds=0.0, retry_after=0.0) as nw:
        # the check, effective routes and security rules; then 3 at the source and 3 at auNic
        clock = RoundClock(nw.emulator, [3, 6])
        d = nw.diagnose("MultiTierApp0", "http://db.contoso.internal/x",
                        resource_group="ContosoRG")
    assert not clock.stalled
    assert not [k for k, v in d.tests.items() if isinstance(v, Exception)]
    assert d.findings[0].rule == "Port80"
    assert clock.round_of("/connectivityCheck") == [1]
    assert clock.round_of("/effectiveRouteTable", "appNic0") == [1]
    assert clock.round_of("/effectiveNetworkSecurityGroups", "appNic0") == [1]
    resolved = clock.round_of("/nextHop", "10.1.4.4") + clock.round_of("/ipFlowVerify", "10.1.4.4")
    assert resolved and set(resolved) == {2}
    assert d.flow is not None and (d.flow.destination, d.flow.destination_port) == ("10.1.4.4", 80)
    assert max(clock.rounds().values()) == 2
    assert len(clock.started) == 9
