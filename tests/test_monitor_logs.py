"""The Log Analytics client against a fake query endpoint on 127.0.0.1: its own token scope, its
own origin only (no redirect followed), a refused token refreshed once, errors typed."""

from __future__ import annotations

import pytest

import nwlab
from fakearm import FakeArm, FakeCredential
from fakemonitor import WORKSPACE_GUID
from nwlab.monitor.logs import LogAnalyticsClient

SCOPE = "https://api.loganalytics.io/.default"
OK = {"tables": [{"name": "PrimaryResult", "columns": [{"name": "A", "type": "long"}],
                  "rows": [["1"]]}]}
PATH = rf"^/v1/workspaces/{WORKSPACE_GUID}/query$"


@pytest.fixture
def la():
    server = FakeArm()
    try:
        yield server
    finally:
        server.stop()


def client(la, credential=None):
    import requests

    return LogAnalyticsClient(origin=la.endpoint, scope=SCOPE,
                              credential=credential or FakeCredential(),
                              session=requests.Session(), wait=lambda s: None)


def test_a_query_posts_kql_and_timespan_with_a_log_analytics_token(la):
    la.on("POST", PATH, (200, {}, OK))
    credential = FakeCredential()
    (table,), warnings = client(la, credential).query(WORKSPACE_GUID, "T | take 1", "PT1H")
    assert table.records() == [{"A": 1}] and warnings == []
    (seen,) = la.requests
    assert seen.body == {"query": "T | take 1", "timespan": "PT1H"}
    assert seen.headers["authorization"] == "Bearer tok-1" and credential.scopes == [SCOPE]


def test_a_redirect_elsewhere_is_not_followed_with_the_token(la, fake_arm):
    la.on("POST", PATH, (307, {"Location": fake_arm.endpoint + "/steal"}, OK))
    with pytest.raises(nwlab.ArmError):
        client(la).query(WORKSPACE_GUID, "T", "PT1H")
    assert not fake_arm.requests


def test_a_refused_token_is_refreshed_once_for_the_same_scope(la):
    la.on("POST", PATH, (401, {}, {"error": {"code": "InvalidToken", "message": "expired"}}),
          (200, {}, OK))
    credential = FakeCredential()
    client(la, credential).query(WORKSPACE_GUID, "T", "PT1H")
    assert credential.scopes == [SCOPE, SCOPE]
    assert [r.headers["authorization"] for r in la.requests] == ["Bearer tok-1", "Bearer tok-2"]


def test_no_permission_is_a_typed_error_with_a_fix(la):
    la.on("POST", PATH, (403, {}, {"error": {"code": "InsufficientAccessError",
                                             "message": "no access to the workspace"}}))
    with pytest.raises(nwlab.ArmError) as info:
        client(la).query(WORKSPACE_GUID, "T", "PT1H")
    assert info.value.status == 403 and info.value.code == "InsufficientAccessError"
    assert "Reader" in str(info.value)


def test_throttling_is_retried_then_reported(la):
    la.on("POST", PATH, (429, {"Retry-After": "0"}, {"error": {"code": "Throttled",
                                                               "message": "slow down"}}))
    with pytest.raises(nwlab.ThrottledError):
        client(la).query(WORKSPACE_GUID, "T", "PT1H")
    assert len(la.requests) == 3


def test_a_dead_endpoint_is_backend_unavailable(la):
    endpoint = la.endpoint
    la.stop()
    import requests

    dead = LogAnalyticsClient(origin=endpoint, scope=SCOPE, credential=FakeCredential(),
                              session=requests.Session(), wait=lambda s: None,
                              request_timeout=(0.5, 0.5))
    with pytest.raises(nwlab.BackendUnavailable):
        dead.query(WORKSPACE_GUID, "T", "PT1H")


def test_the_workspace_id_must_be_its_guid(la):
    with pytest.raises(ValueError, match="customerId"):
        client(la).query("contoso-law", "T", "PT1H")
    assert not la.requests
