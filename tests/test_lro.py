"""The long-running operation against a fake ARM server: polling, Retry-After, Azure-AsyncOperation,
failures while polling, the overall timeout, progress reports and cancellation."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

import nwlab
from fakearm import CHECK_PATH, OP_PATH, VM_ID, WATCHER_ID
from nwlab.arm.lro import Progress

ASYNC_PATH = OP_PATH.replace("operationResults", "operations")


def test_polls_location_until_200_and_returns_the_result(fake_arm, connect, seeds):
    result = seeds["vm-to-website-reachable"]["result"]
    fake_arm.contoso(result, polls=3)
    r = connect().check("MultiTierApp0", "https://bing.com", resource_group="ContosoRG")
    assert r.to_dict() == result
    assert r.reachable
    assert len(fake_arm.seen("POST")) == 1
    assert len(fake_arm.seen("GET", "/operationResults/op1$")) == 4
    assert r.meta["polls"] == 4
    assert r.meta["request_id"] == "op1"
    assert r.meta["correlation_id"] == "corr1"
    assert r.meta["watcher"] == WATCHER_ID


def test_retry_after_sets_the_wait_between_polls(fake_arm, connect, seeds):
    fake_arm.contoso(seeds["vm-to-ip-udr-blocked"]["result"], polls=2, retry_after="0.25")
    started = time.monotonic()
    r = connect(poll_interval=5.0).check("MultiTierApp0", "13.107.21.200", 80,
                                         resource_group="ContosoRG")
    assert r.status == "Unreachable"
    polls = fake_arm.seen("GET", "/operationResults/")
    assert len(polls) == 3
    post = fake_arm.seen("POST")[0]
    waits = [b.at - a.at for a, b in zip([post, *polls], polls, strict=False)]
    # Retry-After (0.25 s) wins over poll_interval (5 s): each wait is honoured, none is 5 s.
    assert all(0.24 <= w < 1.5 for w in waits), waits
    assert time.monotonic() - started < 3


def test_without_retry_after_poll_interval_applies(fake_arm, connect, seeds):
    fake_arm.contoso(seeds["vm-to-ip-udr-blocked"]["result"], polls=2, retry_after=None)
    connect(poll_interval=0.2).check("MultiTierApp0", "13.107.21.200", 80,
                                     resource_group="ContosoRG")
    post = fake_arm.seen("POST")[0]
    polls = fake_arm.seen("GET", "/operationResults/")
    waits = [b.at - a.at for a, b in zip([post, *polls], polls, strict=False)]
    assert len(waits) == 3
    assert all(0.19 <= w < 1.5 for w in waits), waits


def test_immediate_200_on_the_post_is_the_result(fake_arm, connect, seeds):
    result = seeds["vm-to-website-reachable"]["result"]
    fake_arm.on("POST", "/connectivityCheck$", (200, {"x-ms-request-id": "r0"}, result))
    r = connect().check("MultiTierApp0", "https://bing.com", resource_group="ContosoRG",
                        watcher=WATCHER_ID)
    assert r.to_dict() == result
    assert r.meta["polls"] == 0
    assert [x.method for x in fake_arm.requests] == ["POST"]


def async_accepted(**extra: str) -> tuple[int, dict[str, str], Any]:
    return (202, {"Azure-AsyncOperation": "{endpoint}" + ASYNC_PATH + "?api-version=2024-05-01",
                  "Location": "{endpoint}" + OP_PATH + "?api-version=2024-05-01",
                  "x-ms-request-id": "op1", "x-ms-correlation-request-id": "corr1",
                  "Retry-After": "0", **extra}, None)


def test_azure_async_operation_is_polled_then_location_fetched(fake_arm, connect, seeds):
    result = seeds["vm-to-vm-nsg-blocked"]["result"]
    fake_arm.on("POST", "/connectivityCheck$", async_accepted())
    fake_arm.on("GET", "/operations/op1$", (200, {}, {"status": "InProgress"}),
                (200, {}, {"status": "InProgress"}), (200, {}, {"status": "Succeeded"}))
    fake_arm.on("GET", "/operationResults/op1$", (200, {}, result))
    r = connect().check(*nsg_args(), watcher=WATCHER_ID)
    assert r.to_dict() == result
    assert len(fake_arm.seen("GET", "/operations/op1$")) == 3
    # The status monitor said Succeeded; the result itself comes from one GET on Location.
    assert len(fake_arm.seen("GET", "/operationResults/op1$")) == 1
    assert fake_arm.requests[-1].path.endswith("/operationResults/op1")


def test_azure_async_operation_failed_raises_operation_failed(fake_arm, connect):
    fake_arm.on("POST", "/connectivityCheck$", async_accepted())
    fake_arm.on("GET", "/operations/op1$", (200, {}, {"status": "InProgress"}),
                (200, {}, {"status": "Failed", "error": {"code": "AgentStopped",
                                                         "message": "The agent is not running."}}))
    with pytest.raises(nwlab.OperationFailed) as info:
        connect().check(*nsg_args(), watcher=WATCHER_ID)
    assert info.value.code == "AgentStopped"
    assert info.value.message == "The agent is not running."
    assert info.value.request_id == "op1"
    assert info.value.correlation_id == "corr1"
    assert not fake_arm.seen("GET", "/operationResults/")


def test_azure_async_operation_canceled_is_a_failure(fake_arm, connect):
    fake_arm.on("POST", "/connectivityCheck$", async_accepted())
    fake_arm.on("GET", "/operations/op1$", (200, {}, {"status": "Canceled"}))
    with pytest.raises(nwlab.OperationFailed, match=r"(?i)cancel"):
        connect().check(*nsg_args(), watcher=WATCHER_ID)


def test_202_without_location_is_a_failed_operation(fake_arm, connect):
    fake_arm.on("POST", "/connectivityCheck$", (202, {"x-ms-request-id": "r1"}, None))
    with pytest.raises(nwlab.OperationFailed) as info:
        connect().check(*nsg_args(), watcher=WATCHER_ID)
    assert "Location" in str(info.value)
    assert info.value.request_id == "r1"
    assert len(fake_arm.seen("POST")) == 1


@pytest.mark.parametrize("status,code", [(400, "InvalidRequestFormat"), (404, "NotFound"),
                                         (409, "RetryableErrorDueToAnotherOperation")])
def test_error_status_while_polling_is_a_failed_operation_with_the_arm_error(
        fake_arm, connect, status, code):
    fake_arm.contoso(None, polls=1)
    fake_arm.on("GET", "/operationResults/op1$", (202, {"Retry-After": "0"}, None),
                (status, {"x-ms-request-id": "poll-req", "x-ms-correlation-request-id": "poll-corr"},
                 {"error": {"code": code, "message": "Something went wrong in the check."}}))
    with pytest.raises(nwlab.OperationFailed) as info:
        connect().check(*nsg_args(), watcher=WATCHER_ID)
    err = info.value
    assert (err.status, err.code, err.message) == (status, code, "Something went wrong in the check.")
    assert err.request_id == "poll-req"
    assert err.correlation_id == "poll-corr"
    assert isinstance(err, nwlab.ArmError)
    assert code in str(err) and "poll-req" in str(err) and "poll-corr" in str(err)
    assert len(fake_arm.seen("POST")) == 1  # never re-POSTed


def test_failed_poll_without_ids_keeps_the_post_ids(fake_arm, connect):
    fake_arm.contoso(None)
    fake_arm.on("GET", "/operationResults/op1$", (400, {}, {"error": {"code": "Bad", "message": "m"}}))
    with pytest.raises(nwlab.OperationFailed) as info:
        connect().check(*nsg_args(), watcher=WATCHER_ID)
    assert info.value.request_id == "op1"
    assert info.value.correlation_id == "corr1"


@pytest.mark.parametrize("status", [429, 503])
def test_throttled_or_unavailable_poll_waits_retry_after_and_polls_again(fake_arm, connect, seeds,
                                                                         status):
    result = seeds["vm-to-ip-udr-blocked"]["result"]
    fake_arm.contoso(result)
    fake_arm.on("GET", "/operationResults/op1$",
                (status, {"Retry-After": "0.3"}, {"error": {"code": "Busy", "message": "later"}}),
                (200, {}, result))
    r = connect(poll_interval=3.0).check("MultiTierApp0", "13.107.21.200", 80,
                                         resource_group="ContosoRG", watcher=WATCHER_ID)
    assert r.to_dict() == result
    polls = fake_arm.seen("GET", "/operationResults/")
    assert len(polls) == 2
    waited = polls[1].at - polls[0].at
    assert 0.29 <= waited < 2.0, waited  # Retry-After, not the 3 s poll interval
    assert len(fake_arm.seen("POST")) == 1


def test_a_run_of_5xx_polls_ends_as_failed_operation(fake_arm, connect):
    fake_arm.contoso(None)
    fake_arm.on("GET", "/operationResults/op1$",
                (500, {"x-ms-request-id": "bad"}, {"error": {"code": "InternalServerError",
                                                             "message": "boom"}}))
    with pytest.raises(nwlab.OperationFailed) as info:
        connect().check(*nsg_args(), watcher=WATCHER_ID)
    assert info.value.status == 500
    assert len(fake_arm.seen("GET", "/operationResults/")) == 10
    assert len(fake_arm.seen("POST")) == 1


def test_overall_timeout_raises_operation_timeout(fake_arm, connect):
    fake_arm.contoso(None, polls=10_000, retry_after="0.05")
    started = time.monotonic()
    with pytest.raises(nwlab.OperationTimeout) as info:
        connect().check(*nsg_args(), watcher=WATCHER_ID, timeout=0.6)
    elapsed = time.monotonic() - started
    assert 0.5 <= elapsed < 2.0, elapsed
    assert isinstance(info.value, TimeoutError)
    assert "0.6" in str(info.value)
    assert len(fake_arm.seen("POST")) == 1


def test_timeout_shorter_than_retry_after_still_polls_at_the_deadline(fake_arm, connect, seeds):
    # The service suggests 10 s, the user allows 0.5 s: poll once at the deadline, then give up.
    fake_arm.contoso(None, polls=10_000, retry_after="10")
    started = time.monotonic()
    with pytest.raises(nwlab.OperationTimeout):
        connect().check(*nsg_args(), watcher=WATCHER_ID, timeout=0.5)
    assert 0.45 <= time.monotonic() - started < 2.0
    assert len(fake_arm.seen("GET", "/operationResults/")) == 1


def test_on_progress_reports_elapsed_polls_status_and_next_poll(fake_arm, connect, seeds):
    fake_arm.contoso(seeds["vm-to-ip-udr-blocked"]["result"], polls=2, retry_after="0.1")
    seen: list[Progress] = []
    connect().check("MultiTierApp0", "13.107.21.200", 80, resource_group="ContosoRG",
                    watcher=WATCHER_ID, on_progress=seen.append)
    assert [p.state for p in seen] == ["starting", "running", "running", "running", "done"]
    assert [p.polls for p in seen] == [0, 0, 1, 2, 3]
    assert [p.last_status for p in seen] == [None, 202, 202, 202, 200]
    assert [p.next_poll_s for p in seen] == [None, 0.1, 0.1, 0.1, None]
    elapsed = [p.elapsed_s for p in seen]
    assert elapsed == sorted(elapsed)
    assert elapsed[-1] >= 0.3


def test_cancel_from_another_thread_stops_polling_promptly(fake_arm, connect):
    fake_arm.contoso(None, polls=10_000, retry_after="30")
    stop = threading.Event()
    timer = threading.Timer(0.3, stop.set)
    timer.start()
    started = time.monotonic()
    try:
        with pytest.raises(nwlab.CheckCancelled):
            connect().check(*nsg_args(), watcher=WATCHER_ID, cancel=stop)
    finally:
        timer.cancel()
    assert time.monotonic() - started < 1.0
    assert len(fake_arm.seen("POST")) == 1


def test_client_cancel_stops_a_check_in_flight(fake_arm, connect, seeds):
    fake_arm.contoso(None, polls=10_000, retry_after="30")
    nw = connect()
    errors: list[BaseException] = []

    def run() -> None:
        try:
            nw.check(*nsg_args(), watcher=WATCHER_ID)
        except BaseException as exc:
            errors.append(exc)

    worker = threading.Thread(target=run)
    worker.start()
    time.sleep(0.3)
    nw.cancel()
    worker.join(2.0)
    assert not worker.is_alive()
    assert len(errors) == 1 and isinstance(errors[0], nwlab.CheckCancelled)
    # The client stays usable: a later check runs to its end.
    fake_arm.contoso(seeds["vm-to-ip-udr-blocked"]["result"])
    assert nw.check(*nsg_args(), watcher=WATCHER_ID).status == "Unreachable"


def test_cancel_already_set_sends_nothing(fake_arm, connect):
    stop = threading.Event()
    stop.set()
    with pytest.raises(nwlab.CheckCancelled):
        connect().check(*nsg_args(), watcher=WATCHER_ID, cancel=stop)
    assert fake_arm.requests == []


def test_empty_200_result_is_a_clear_error(fake_arm, connect):
    fake_arm.contoso(None)
    fake_arm.on("GET", "/operationResults/op1$", (204, {}, b""))
    with pytest.raises(nwlab.NwlabError, match="without a result"):
        connect().check(*nsg_args(), watcher=WATCHER_ID)


def nsg_args() -> tuple[Any, ...]:
    return (VM_ID, "10.1.4.4", 80)


def test_check_path_is_the_watcher_action(fake_arm, connect, seeds):
    fake_arm.contoso(seeds["vm-to-ip-udr-blocked"]["result"])
    connect().check("MultiTierApp0", "10.1.4.4", 80, resource_group="ContosoRG")
    assert fake_arm.seen("POST")[0].path == CHECK_PATH
