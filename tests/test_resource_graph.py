"""The Resource Graph client against a scripted ARM on 127.0.0.1 (fakearm.py): request shape,
$skipToken paging, subscription batches, quota waits and 429s (waited, not failed), typed errors."""

from __future__ import annotations

import threading

import pytest

from fakearm import SUB, FakeArm
from nwlab.arm.errors import (
    ArmError,
    CheckCancelled,
    MalformedResponse,
    OperationTimeout,
    PagingError,
)
from nwlab.arm.resource_graph import (
    ResourceGraph,
    ResourceGraphError,
    batches,
    parse_resets_after,
)

RG_PATH = r"/providers/Microsoft.ResourceGraph/resources$"
QUERY = "Resources | project id, name | order by id asc"
QUOTA = {"x-ms-user-quota-remaining": "10", "x-ms-user-quota-resets-after": "00:00:05"}


def page(rows, token=None, headers=None):
    body = {"totalRecords": 3, "count": len(rows), "resultTruncated": "false", "data": rows}
    if token:
        body["$skipToken"] = token
    return 200, {**QUOTA, **(headers or {})}, body


@pytest.fixture
def graph(connect) -> ResourceGraph:
    return ResourceGraph(connect().arm, min_wait=0.05)


def test_pages_follow_skip_token_with_the_same_query_and_scope(fake_arm: FakeArm, graph):
    fake_arm.on("POST", RG_PATH, page([{"id": "a"}, {"id": "b"}], "tok1"), page([{"id": "c"}]))
    result = graph.query(QUERY, subscriptions=[SUB], page_size=2)
    assert [r["id"] for r in result.rows] == ["a", "b", "c"]
    first, second = [s.body for s in fake_arm.seen("POST", RG_PATH)]
    assert first == {"subscriptions": [SUB], "query": QUERY,
                     "options": {"$top": 2, "resultFormat": "objectArray"}}
    assert second["query"] == QUERY and second["subscriptions"] == [SUB]
    assert second["options"]["$skipToken"] == "tok1"
    assert fake_arm.seen("POST", RG_PATH)[0].query["api-version"] == "2024-04-01"
    assert result.pages == 2


def test_options_and_management_group_scope(fake_arm: FakeArm, graph):
    fake_arm.on("POST", RG_PATH, page([]))
    graph.query(QUERY, management_groups=["ProductionMG"], allow_partial_scopes=True,
                authorization_scope_filter="AtScopeAndBelow")
    body = fake_arm.seen("POST", RG_PATH)[0].body
    assert body["managementGroups"] == ["ProductionMG"] and "subscriptions" not in body
    assert body["options"]["allowPartialScopes"] is True
    assert body["options"]["authorizationScopeFilter"] == "AtScopeAndBelow"


def test_subscriptions_go_in_batches_of_300(fake_arm: FakeArm, graph):
    fake_arm.on("POST", RG_PATH, page([{"id": "x"}]))
    subs = [f"00000000-0000-0000-0000-{i:012d}" for i in range(650)]
    result = graph.query(QUERY, subscriptions=subs)
    sizes = [len(s.body["subscriptions"]) for s in fake_arm.seen("POST", RG_PATH)]
    assert sizes == [300, 300, 50]
    assert len(result.rows) == 3
    assert batches([]) == [[]]


def test_spent_quota_is_waited_out_before_the_next_page(fake_arm: FakeArm, graph):
    spent = {"x-ms-user-quota-remaining": "0", "x-ms-user-quota-resets-after": "00:00:00"}
    fake_arm.on("POST", RG_PATH, page([{"id": "a"}], "t", spent), page([{"id": "b"}]))
    result = graph.query(QUERY, subscriptions=[SUB])
    first, second = fake_arm.seen("POST", RG_PATH)
    assert result.quota_waits == 1 and result.throttled == 0
    # "00:00:00" is not an invitation to spin: the floor is kept.
    assert second.at - first.at >= 0.05


def test_429_is_waited_and_retried_not_failed(fake_arm: FakeArm, graph):
    throttled = (429, {"Retry-After": "0"}, {"error": {"code": "RateLimiting", "message": "x"}})
    fake_arm.on("POST", RG_PATH, throttled, throttled, page([{"id": "a"}]))
    result = graph.query(QUERY, subscriptions=[SUB])
    assert [r["id"] for r in result.rows] == ["a"]
    assert result.throttled == 2
    posts = fake_arm.seen("POST", RG_PATH)
    assert len(posts) == 3 and posts[2].at - posts[1].at >= 0.05


def test_server_error_is_retried(fake_arm: FakeArm, graph):
    fake_arm.on("POST", RG_PATH, (500, {}, {"error": {"code": "InternalServerError",
                                                      "message": "unexpected"}}), page([]))
    assert graph.query(QUERY, subscriptions=[SUB]).rows == []


@pytest.mark.parametrize("kwargs, message", [
    ({"subscriptions": ["not-a-guid"]}, "not a subscription id"),
    ({"subscriptions": []}, "empty"),
    ({"subscriptions": SUB}, "not one string"),
    ({"subscriptions": [SUB], "management_groups": ["mg"]}, "two scopes"),
    ({"subscriptions": [SUB], "page_size": 5000}, "page_size"),
    ({"subscriptions": [SUB], "authorization_scope_filter": "Everywhere"}, "AtScopeAndBelow"),
])
def test_bad_arguments_are_refused_before_any_request(fake_arm: FakeArm, graph, kwargs, message):
    with pytest.raises((ValueError, TypeError), match=message):
        graph.query(QUERY, **kwargs)
    assert fake_arm.requests == []


@pytest.mark.parametrize("answer, error", [
    ((200, QUOTA, {"data": "nope"}), ResourceGraphError),
    ((200, QUOTA, [1, 2]), ResourceGraphError),
    ((400, {}, {"error": {"code": "BadRequest", "message": "Query is invalid",
                          "details": [{"code": "ParserFailure"}]}}), ArmError),
    ((403, {}, {"error": {"code": "AuthorizationFailed", "message": "no"}}), ArmError),
])
def test_other_answers_are_typed_errors(fake_arm: FakeArm, graph, answer, error):
    fake_arm.on("POST", RG_PATH, answer)
    with pytest.raises(error):
        graph.query(QUERY, subscriptions=[SUB])


def test_a_repeating_skip_token_ends_as_an_error(fake_arm: FakeArm, graph):
    fake_arm.on("POST", RG_PATH, page([{"id": "a"}], "same"))
    with pytest.raises(PagingError, match="repeats") as caught:
        graph.query(QUERY, subscriptions=[SUB])
    assert isinstance(caught.value, ResourceGraphError)
    assert len(fake_arm.seen("POST", RG_PATH)) == 2


@pytest.mark.parametrize("body", [{"data": "nope"}, [1, 2]])
def test_a_malformed_answer_is_a_malformed_response(fake_arm: FakeArm, graph, body):
    """Callers that catch the typed family (MalformedResponse) catch Resource Graph's too."""
    fake_arm.on("POST", RG_PATH, (200, QUOTA, body))
    with pytest.raises(MalformedResponse) as caught:
        graph.query(QUERY, subscriptions=[SUB])
    assert caught.value.code == "InvalidResponseContent" and caught.value.status == 200


def test_timeout_bounds_quota_waits(fake_arm: FakeArm, connect):
    graph = ResourceGraph(connect().arm, min_wait=0.05)
    spent = {"x-ms-user-quota-remaining": "0", "x-ms-user-quota-resets-after": "00:10:00"}
    fake_arm.on("POST", RG_PATH, page([{"id": "a"}], "t", spent))
    with pytest.raises(OperationTimeout):
        graph.query(QUERY, subscriptions=[SUB], timeout=5)
    assert len(fake_arm.seen("POST", RG_PATH)) == 1


def test_cancel_stops_a_quota_wait(fake_arm: FakeArm, graph):
    spent = {"x-ms-user-quota-remaining": "0", "x-ms-user-quota-resets-after": "00:01:00"}
    fake_arm.on("POST", RG_PATH, page([{"id": "a"}], "t", spent))
    stop = threading.Event()
    threading.Timer(0.2, stop.set).start()
    # Without the Stop the minute-long wait would end in a repeated token, not CheckCancelled.
    with pytest.raises(CheckCancelled):
        graph.query(QUERY, subscriptions=[SUB], cancel=stop)


def test_resets_after_parsing():
    assert parse_resets_after("00:00:05") == 5
    assert parse_resets_after("01:02:03") == 3723
    assert parse_resets_after("1.00:00:01") == 86401
    assert parse_resets_after("soon") is None
    assert parse_resets_after(None) is None


# -- attacks by class: paging, counts, throttling, coverage -----------------------------------

def test_empty_pages_that_keep_sending_new_tokens_end_as_a_paging_error(fake_arm: FakeArm, graph):
    fake_arm.on("POST", RG_PATH, *[page([], f"t{i}") for i in range(50)])
    with pytest.raises(PagingError, match="no rows"):
        graph.query(QUERY, subscriptions=[SUB])
    assert len(fake_arm.seen("POST", RG_PATH)) < 10


def test_an_empty_page_with_a_token_is_followed(fake_arm: FakeArm, graph):
    fake_arm.on("POST", RG_PATH, page([], "t1"), page([{"id": "a"}], "t2"), page([{"id": "b"}]))
    result = graph.query(QUERY, subscriptions=[SUB])
    assert [r["id"] for r in result.rows] == ["a", "b"] and result.pages == 3


def test_a_page_over_the_asked_size_loses_no_row(fake_arm: FakeArm, graph):
    rows = [{"id": f"r{i}"} for i in range(1200)]
    fake_arm.on("POST", RG_PATH, (200, QUOTA, {"totalRecords": 1200, "count": 1200,
                                               "resultTruncated": "false", "data": rows}))
    result = graph.query(QUERY, subscriptions=[SUB], page_size=1000)
    assert len(result.rows) == 1200 and result.missing == 0


@pytest.mark.parametrize("body, truncated, missing", [
    ({"totalRecords": 5, "count": 2, "resultTruncated": "true", "data": [{"id": "a"}, {"id": "b"}]},
     True, 3),
    ({"totalRecords": "4", "count": 1, "resultTruncated": "false", "data": [{"id": "a"}]}, False, 3),
    ({"totalRecords": 1, "count": 9, "resultTruncated": "false", "data": [{"id": "a"}]}, False, 0),
    ({"totalRecords": "lots", "count": 1, "resultTruncated": "false", "data": [{"id": "a"}]},
     False, 0),
])
def test_rows_fewer_than_announced_are_counted_missing(fake_arm: FakeArm, graph, body, truncated,
                                                       missing):
    fake_arm.on("POST", RG_PATH, (200, QUOTA, body))
    result = graph.query(QUERY, subscriptions=[SUB])
    assert (result.truncated, result.missing) == (truncated, missing)


def test_a_429_without_retry_after_waits_its_quota_reset(fake_arm: FakeArm, graph):
    throttled = (429, {"x-ms-user-quota-remaining": "0", "x-ms-user-quota-resets-after":
                       "00:00:01"}, {"error": {"code": "RateLimiting", "message": "x"}})
    fake_arm.on("POST", RG_PATH, throttled, page([{"id": "a"}]))
    result = graph.query(QUERY, subscriptions=[SUB])
    first, second = fake_arm.seen("POST", RG_PATH)
    assert result.throttled == 1 and second.at - first.at >= 1.0


@pytest.mark.parametrize("answer", [
    (429, {"Retry-After": "7200"}, {"error": {"code": "RateLimiting", "message": "x"}}),
    (429, {"x-ms-user-quota-resets-after": "23:00:00"},
     {"error": {"code": "RateLimiting", "message": "x"}}),
    page([{"id": "a"}], "t", {"x-ms-user-quota-remaining": "0",
                              "x-ms-user-quota-resets-after": "05:00:00"}),
])
def test_a_quota_that_resets_too_far_away_is_a_typed_error_not_a_hang(fake_arm: FakeArm, graph,
                                                                     answer):
    from nwlab.arm.errors import ThrottledError

    fake_arm.on("POST", RG_PATH, answer)
    with pytest.raises(ThrottledError, match="quota resets in") as caught:
        graph.query(QUERY, subscriptions=[SUB])  # no timeout: max_wait bounds it
    assert caught.value.code == "QuotaResetTooFar"
    assert len(fake_arm.seen("POST", RG_PATH)) == 1


@pytest.mark.parametrize("headers", [
    {"x-ms-user-quota-remaining": "many", "x-ms-user-quota-resets-after": "soon"},
    {"x-ms-user-quota-remaining": "0", "x-ms-user-quota-resets-after": "5 seconds"},
    {"x-ms-user-quota-remaining": "", "x-ms-user-quota-resets-after": ""},
])
def test_malformed_quota_headers_neither_fail_nor_spin(fake_arm: FakeArm, graph, headers):
    fake_arm.on("POST", RG_PATH, page([{"id": "a"}], "t", headers), page([{"id": "b"}], None,
                                                                         headers))
    result = graph.query(QUERY, subscriptions=[SUB])
    assert [r["id"] for r in result.rows] == ["a", "b"]
    first, second = fake_arm.seen("POST", RG_PATH)
    if headers["x-ms-user-quota-remaining"] == "0":  # spent, reset unreadable: the floor
        assert second.at - first.at >= 0.05


def test_a_batch_with_no_readable_subscription_is_named_not_fatal(fake_arm: FakeArm, graph):
    refused = (400, {}, {"error": {"code": "NoValidSubscriptionsInQueryRequest",
                                   "message": "none readable"}})
    fake_arm.on("POST", RG_PATH, page([{"id": "a"}]), refused, page([{"id": "c"}]))
    subs = [f"00000000-0000-0000-0000-{i:012d}" for i in range(700)]
    result = graph.query(QUERY, subscriptions=subs)
    assert [r["id"] for r in result.rows] == ["a", "c"]
    assert result.unreadable == subs[300:600]


def test_every_batch_unreadable_is_the_error(fake_arm: FakeArm, graph):
    refused = (400, {}, {"error": {"code": "NoValidSubscriptionsInQueryRequest",
                                   "message": "none readable"}})
    fake_arm.on("POST", RG_PATH, refused, refused)
    with pytest.raises(ArmError) as caught:
        graph.query(QUERY, subscriptions=[f"00000000-0000-0000-0000-{i:012d}" for i in range(400)])
    assert caught.value.code == "NoValidSubscriptionsInQueryRequest"


def test_a_subscription_named_twice_in_any_casing_is_sent_once(fake_arm: FakeArm, graph):
    upper = "ABCDEF00-0000-0000-0000-000000000001"
    fake_arm.on("POST", RG_PATH, page([]))
    graph.query(QUERY, subscriptions=[upper, SUB, upper.lower(), f" {SUB} "])
    assert fake_arm.seen("POST", RG_PATH)[0].body["subscriptions"] == [upper, SUB]


def test_a_query_spends_no_subscription_write_budget_and_the_twin_throttles_none():
    # Resource Graph is a tenant-scope POST with its own quota: neither the client's write
    # budget (a subscription's) nor the twin's write limit applies to it; a subscription POST
    # still spends and meets both.
    import nwlab
    from nwlab.arm.errors import ArmError, ThrottledError
    from nwlab.arm.throttle import TokenBucket

    nw = nwlab.emulate(check_seconds=0.0, retry_after=0.05, write_rate=0.01)  # one write saved
    try:
        budget = nw.arm.write_budget = TokenBucket(0.01, 1)
        graph = ResourceGraph(nw.arm)
        for _ in range(3):
            assert graph.query("Resources | project id", subscriptions=[nw.arm.subscription_id],
                               timeout=10).rows  # a wait for the budget would outlast it
        assert budget.acquired == 0
        assert nw.emulator.stats.get("throttled", 0) == 0
        watcher = next(iter(nw.arm.list(
            f"/subscriptions/{nw.arm.subscription_id}/providers/Microsoft.Network/networkWatchers")))
        path = f"{watcher['id']}/nextHop"
        body = {"targetResourceId": "x", "sourceIPAddress": "10.0.0.4",
                "destinationIPAddress": "10.0.0.5"}

        def post() -> None:
            try:
                nw.arm.request("POST", path, json=body, retry_statuses=False)
            except ThrottledError:
                raise
            except ArmError:  # a refusal (the body names no VM) spent the write all the same
                pass

        post()
        assert budget.acquired == 1  # the client's budget: a subscription write
        nw.arm.write_budget = None  # then the twin's limit alone: its one write is spent
        with pytest.raises(ThrottledError):
            post()
        assert nw.emulator.stats.get("throttled", 0) == 1
    finally:
        nw.close()
