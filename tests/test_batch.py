"""check_many: mesh, input shapes, validation before requests, dedupe, write budget, 429 back-off,
per-check errors, pre-flight once per source, cancel, progress."""

from __future__ import annotations

import io
import itertools
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

import nwlab
import nwlab.batch.runner as batch_mod
from nwlab.batch import (
    CANCELLED_BEFORE_START,
    BatchInputError,
    BatchProgress,
    BatchResult,
    FairTokenBucket,
    mesh,
)

RG = "ContosoRG"
NSG = ("/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/ContosoRG/providers/"
       "Microsoft.Network/networkSecurityGroups/AuditNsg")


@pytest.fixture
def emulate() -> Iterator[Any]:
    """emulate(**knobs) -> NetworkWatcher on a fast emulator; every one is closed afterwards."""
    started: list[Any] = []

    def start(**knobs: Any) -> Any:
        knobs.setdefault("check_seconds", 0)
        knobs.setdefault("retry_after", 0)
        nw = nwlab.emulate(**knobs)
        started.append(nw)
        return nw

    yield start
    for nw in started:
        nw.close()


@pytest.fixture
def nw(emulate: Any) -> Any:
    return emulate()


# -- mesh -----------------------------------------------------------------------------------


def test_mesh_expands_sources_destinations_ports_in_order() -> None:
    checks = mesh(["A", "B"], ["X", "Y"], [80, 443], resource_group=RG)
    assert len(checks) == 8
    assert checks[0] == {"source": "A", "destination": "X", "port": 80, "resource_group": RG}
    assert checks[1] == {"source": "A", "destination": "X", "port": 443, "resource_group": RG}
    assert checks[2]["destination"] == "Y"
    assert checks[4]["source"] == "B"


def test_mesh_skips_self_pairs_takes_scalars_and_no_port() -> None:
    checks = mesh(["A", "B"], ["A", "B", "10.1.4.4"], 22)
    assert [(c["source"], c["destination"]) for c in checks] == [
        ("A", "B"), ("A", "10.1.4.4"), ("B", "A"), ("B", "10.1.4.4")]
    urls = mesh("A", ["https://bing.com"], None, protocol="Https")
    assert urls == [{"source": "A", "destination": "https://bing.com", "protocol": "Https"}]


def test_mesh_refuses_bad_arguments() -> None:
    with pytest.raises(ValueError, match="sources is empty"):
        mesh([], ["X"], [80])
    with pytest.raises(ValueError, match="port come from"):
        mesh(["A"], ["X"], [80], port=443)
    with pytest.raises(ValueError, match="unknown option"):
        mesh(["A"], ["X"], [80], resourcegroup=RG)
    with pytest.raises(TypeError, match="expected a list"):
        mesh({"A": 1}, ["X"], [80])


# -- validation -----------------------------------------------------------------------------


def test_validation_errors_name_the_entry_before_any_request(nw: Any) -> None:
    checks = mesh(["MultiTierApp0"], ["Database0", "WebVM0"], [80], resource_group=RG)
    checks.insert(1, {"source": "MultiTierApp0", "destination": "Database0", "port": 70000,
                      "resource_group": RG})
    checks.append({"source": "MultiTierApp0", "destination": "10.1.4.4", "port": "80"})
    with pytest.raises(ValueError, match=r"^checks\[1\]: port: 70000 is outside") as info:
        nw.check_many(checks, on_progress=False)
    assert "also invalid: checks[3]" in str(info.value)
    assert info.value.index == 1
    assert nw.emulator.stats.get("requests", 0) == 0


@pytest.mark.parametrize("checks, message", [
    ([{"source": "A", "dest": "B"}], r"checks\[0\]: unknown key\(s\) 'dest'"),
    ([{"source": "MultiTierApp0", "port": 80}], r"checks\[0\]: destination: missing"),
    (["MultiTierApp0"], r"checks\[0\]: expected a dict"),
    ({"source": "A"}, r"checks: expected a list of dicts or a DataFrame"),
    ([{"source": "Multi Tier", "destination": "10.1.4.4", "port": 80, "resource_group": RG}],
     r"checks\[0\]: source: 'Multi Tier' is not a valid VM name"),
])
def test_shape_errors(nw: Any, checks: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        nw.check_many(checks, on_progress=False)
    assert nw.emulator.stats.get("requests", 0) == 0


def test_type_errors_are_also_value_errors(nw: Any) -> None:
    with pytest.raises(TypeError, match=r"checks\[0\]: port: expected an integer"):
        nw.check_many([{"source": "MultiTierApp0", "destination": "10.1.4.4", "port": "80",
                        "resource_group": RG}], on_progress=False)
    assert issubclass(BatchInputError, ValueError) and issubclass(BatchInputError, TypeError)


@pytest.mark.parametrize("kw, message", [
    ({"concurrency": 0}, "concurrency: expected an integer"),
    ({"concurrency": 2.5}, "concurrency: expected an integer"),
    ({"write_rate": 0}, "write_rate: expected a positive number"),
    ({"write_rate": "fast"}, "write_rate: expected a positive number"),
    ({"cancel": True}, "cancel: expected a threading.Event"),
])
def test_option_errors(nw: Any, kw: dict[str, Any], message: str) -> None:
    checks = mesh(["MultiTierApp0"], ["Database0"], [80], resource_group=RG)
    with pytest.raises(ValueError, match=message):
        nw.check_many(checks, on_progress=False, **kw)
    assert nw.emulator.stats.get("requests", 0) == 0


# -- running --------------------------------------------------------------------------------


def test_dataframe_input_with_nan_ports(nw: Any) -> None:
    import pandas as pd

    frame = pd.DataFrame({
        "source": ["MultiTierApp0", "MultiTierApp0", "WebVM0"],
        "destination": ["Database0", "Database0", "https://bing.com"],
        "port": [80, 1433, float("nan")],
        "resource_group": [RG, RG, RG],
    })
    assert frame["port"].dtype == float
    b = nw.check_many(frame, on_progress=False)
    assert [e.inputs["port"] for e in b] == [80, 1433, None]
    assert isinstance(b[0].inputs["port"], int)
    assert [e.verdict for e in b] == ["unreachable", "reachable", "reachable"]
    with pytest.raises(ValueError, match="unknown column"):
        nw.check_many(frame.assign(colour="red"), on_progress=False)


def test_identical_checks_run_once_and_share_the_result(nw: Any) -> None:
    one = {"source": "MultiTierApp0", "destination": "Database0", "port": 1433,
           "resource_group": RG}
    same_by_id = {"source": "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/"
                            "ContosoRG/providers/Microsoft.Compute/virtualMachines/MultiTierApp0",
                  "destination": "Database0", "port": 1433, "resource_group": RG}
    b = nw.check_many([one, dict(one), same_by_id], on_progress=False)
    assert nw.emulator.stats["POST"] == 1
    assert b.stats["distinct"] == 1 and b.stats["deduplicated"] == 2
    assert b[0].result is b[1].result is b[2].result
    assert [e.verdict for e in b] == ["reachable"] * 3
    assert b[2].source_label == "MultiTierApp0"


def test_preflight_once_per_source_and_errors_recorded_per_check(nw: Any) -> None:
    checks = mesh(["MultiTierApp0", "Firewall0", "Reporting0"], ["Database0", "10.1.5.4"],
                  [80, 1433], resource_group=RG)
    b = nw.check_many(checks, on_progress=False)
    assert len(b) == 12 and all(e.done for e in b)
    assert b.stats["preflights"] == 3  # one per source, errors shared too
    by_source = {s: [e for e in b if e.source_label == s] for s in ("MultiTierApp0", "Firewall0",
                                                                    "Reporting0")}
    assert all(e.result is not None for e in by_source["MultiTierApp0"])
    for e in by_source["Firewall0"]:
        assert e.error is not None and e.error.type == "PreflightError"
        assert "no Network Watcher agent" in e.error.message
        assert e.error.fix and "az vm extension set" in e.error.fix
    assert all("deallocated" in e.error.message for e in by_source["Reporting0"] if e.error)
    assert nw.emulator.stats["POST"] == 4  # only the runnable source sent checks
    assert not b.ok
    assert b.counts()["error"] == 8
    # One subscription-wide watcher list, one VM + instance view + extensions per source.
    vm_gets = nw.emulator.stats["GET"] - 4  # the 4 checks' polls
    assert vm_gets <= 1 + 3 * 3


def test_write_budget_binds_and_is_restored(nw: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    grants: list[float] = []

    class Recording(FairTokenBucket):
        """Records when each token is due (the call time plus the wait the bucket asks for),
        not when the thread got round to running again, which a loaded machine delays."""

        def acquire(self, waiter: Any, cancel: Any = None, within: float | None = None) -> None:
            called = time.monotonic()
            waits: list[float] = []

            class Spy:
                sleeps = getattr(waiter, "sleeps", True)

                def wait(self, seconds: float, cancel: Any = None) -> None:
                    waits.append(seconds)
                    waiter.wait(seconds, cancel)

            super().acquire(Spy(), cancel, within)
            grants.append(called + sum(waits))

    made = batch_mod.make_budget
    monkeypatch.setattr(batch_mod, "make_budget",
                        lambda rate: Recording(float(rate)) if rate else made(rate))
    default = nw.arm.write_budget  # the client's own (adaptive) budget
    assert default is not None
    checks = mesh(["MultiTierApp0", "WebVM0"], ["10.1.4.4", "bing.com"], [80, 443, 1433],
                  resource_group=RG)  # 12 distinct POSTs
    b = nw.check_many(checks, write_rate=20, on_progress=False)
    assert b.ok and len(grants) == 12
    assert nw.arm.write_budget is default  # restored
    grants.sort()
    # A burst of 20 is allowed at 20/s; 12 fit in it. Now with a rate that binds:
    grants.clear()
    b = nw.check_many(checks, write_rate=8, on_progress=False)
    assert b.ok and len(grants) == 12
    grants.sort()
    spread = grants[-1] - grants[0]
    assert spread >= (12 - 8) / 8 - 0.05  # 8 at once, then one every 0.125 s
    gaps = [later - earlier for earlier, later in itertools.pairwise(grants[8:])]
    assert min(gaps) >= 0.1
    assert b.stats["write_rate"] == 8.0


def test_default_budget_is_azure_network_and_inf_disables_it(nw: Any) -> None:
    budget = batch_mod.make_budget(None)
    assert budget is not None and budget.capacity == 1000 and budget.rate == pytest.approx(1000 / 300)
    assert batch_mod.make_budget(float("inf")) is None
    checks = mesh(["MultiTierApp0"], ["10.1.4.4"], [80], resource_group=RG)
    assert nw.check_many(checks, on_progress=False).stats["write_rate"] == pytest.approx(1000 / 300)
    assert nw.check_many(checks, write_rate=float("inf"), on_progress=False).stats["write_rate"] is None


def test_429_triggers_shared_back_off_and_the_batch_completes(emulate: Any) -> None:
    nw = emulate(write_rate=4)  # the server answers 429 (Retry-After: 1) past 4 writes/s
    checks = mesh(["MultiTierApp0", "WebVM0"], ["10.1.4.4"], [80, 443, 1433], resource_group=RG)
    started = time.monotonic()
    b = nw.check_many(checks, write_rate=float("inf"), on_progress=False)
    wall = time.monotonic() - started
    assert b.ok and len(b) == 6
    assert nw.emulator.stats["throttled"] >= 1
    assert b.stats["throttled_responses"] == nw.emulator.stats["throttled"]
    assert nw.emulator.stats["checks"] == 6  # every check ran exactly once
    assert wall >= 0.9  # everyone waited out the Retry-After


def test_cancel_half_way_accounts_for_every_entry(emulate: Any) -> None:
    nw = emulate(check_seconds=0.4, retry_after=0.05)
    checks = mesh(["MultiTierApp0", "WebVM0"], ["10.1.4.4", "bing.com"], [80, 443, 1433],
                  resource_group=RG)
    stop = threading.Event()
    seen: list[BatchProgress] = []

    def on_progress(p: BatchProgress) -> None:
        seen.append(p)
        if p.done == 1:
            stop.set()

    b = nw.check_many(checks, concurrency=3, cancel=stop, on_progress=on_progress)
    assert len(b) == 12 and all(e.done for e in b)
    assert [p.done for p in seen] == list(range(1, 13))
    assert seen[-1].total == 12 and seen[-1].counts["cancelled"] == b.counts()["cancelled"]
    ran = [e for e in b if e.result is not None]
    cancelled = [e for e in b if e.verdict == "cancelled"]
    assert 1 <= len(ran) <= 3
    assert len(ran) + len(cancelled) == 12
    not_started = [e for e in cancelled if e.error and e.error.message == CANCELLED_BEFORE_START]
    assert len(not_started) >= 9 and all(e.elapsed_s is None for e in not_started)
    assert all(e.error and e.error.type == "CheckCancelled" for e in cancelled)
    assert nw.emulator.stats["POST"] <= 3
    assert b.stats["cancelled"] == len(cancelled)


def test_progress_callback_failure_does_not_lose_results(nw: Any) -> None:
    def broken(p: BatchProgress) -> None:
        raise RuntimeError("display gone")

    checks = mesh(["MultiTierApp0"], ["10.1.4.4", "bing.com"], [80], resource_group=RG)
    with pytest.warns(RuntimeWarning, match="on_progress failed"):
        b = nw.check_many(checks, on_progress=broken)
    assert b.ok and len(b) == 2


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize("stream, kind", [(_Tty, "TqdmProgress"), (io.StringIO, "LogProgress")])
def test_default_progress_outside_a_kernel_is_tqdm_on_a_terminal_else_log_lines(
        nw: Any, capsys: pytest.CaptureFixture[str], stream: type, kind: str) -> None:
    from nwlab import progress
    from nwlab.progress import auto_progress, in_kernel

    assert not in_kernel()
    display = auto_progress(3, stream=stream())
    assert type(display) is getattr(progress, kind)
    display.close()
    b = nw.check_many(mesh(["MultiTierApp0"], ["10.1.4.4"], [80], resource_group=RG))
    assert isinstance(b, BatchResult) and len(b) == 1
    # pytest's stderr is no terminal: the default display wrote plain lines, estimate first.
    lines = capsys.readouterr().err.splitlines()
    assert lines[0] == f"nwlab: {b.estimate}" and lines[-1].startswith("nwlab: 1/1 checks")


def test_widget_progress_updates_and_finishes() -> None:
    from nwlab.batch import BatchEntry
    from nwlab.progress import WidgetProgress

    display = WidgetProgress(3, display=False, min_interval=0)
    entry = BatchEntry(0, {"source": "A", "destination": "B"})
    counts = {"reachable": 2, "unreachable": 1, "error": 0}
    display(BatchProgress(1, 3, entry, {"reachable": 1}, 0.1))
    display(BatchProgress(3, 3, entry, counts, 0.2))
    display.close()
    assert display.bar.value == 3 and display.bar.max == 3
    assert display.label.value == "3 / 3  \u2714 2  \u2716 1"
    assert display.bar.bar_style == "success"


def test_empty_batch(nw: Any) -> None:
    b = nw.check_many([], on_progress=False)
    assert len(b) == 0 and b.ok and b.frame().empty and b.summary() == "0 checks"


def test_check_many_on_replay_runs_the_recorded_check() -> None:
    nw = nwlab.replay()
    try:
        b = nw.check_many([{"source": "MultiTierApp0", "destination": "Database0", "port": 80,
                            "resource_group": RG}], on_progress=False)
    finally:
        nw.close()
    assert b[0].verdict == "unreachable", b[0].error
    assert b[0].cause and "UserRule_Port80" in b[0].cause
