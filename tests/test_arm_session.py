"""The ARM session over real HTTP: retries and the never-re-POST rule (counted on the server),
tokens, request headers, ARM errors and paging."""

from __future__ import annotations

import re
import time
import uuid

import pytest

import nwlab
from fakearm import DROP, OP_PATH, RG, SUB, VM_ID, WATCHER_ID, FakeCredential, Stall
from nwlab.arm.headers import parse_retry_after

GUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
VM = {"id": VM_ID, "name": "MultiTierApp0", "location": "westcentralus"}
ERR = {"error": {"code": "Busy", "message": "try later"}}
ACCEPTED = (202, {"Location": "{endpoint}" + OP_PATH + "?api-version=2024-05-01", "Retry-After": "0"},
            None)


def post_check(nw):
    return nw.check(VM_ID, "10.1.4.4", 80, watcher=WATCHER_ID)


# -- GETs: retried on 408/429/5xx, Retry-After honoured -------------------------------------


@pytest.mark.parametrize("status", [429, 503])
def test_get_retried_after_throttling_or_unavailable_and_wait_honoured(fake_arm, connect, status):
    fake_arm.on("GET", "/virtualMachines/MultiTierApp0$",
                (status, {"Retry-After": "0.3"}, ERR), (200, {}, VM))
    assert connect().arm.get_json(VM_ID) == VM
    first, second = fake_arm.seen("GET")
    assert 0.29 <= second.at - first.at < 2.0


@pytest.mark.parametrize("status", [408, 500, 502, 504])
def test_get_retried_on_other_transient_statuses(fake_arm, connect, status):
    fake_arm.on("GET", "/virtualMachines/MultiTierApp0$", (status, {}, ERR), (200, {}, VM))
    nw = connect()
    nw.arm.backoff_factor = 0.01
    assert nw.arm.get_json(VM_ID) == VM
    assert len(fake_arm.seen("GET")) == 2


def test_get_gives_up_after_three_status_retries(fake_arm, connect):
    fake_arm.on("GET", "/virtualMachines/MultiTierApp0$",
                (503, {"Retry-After": "0", "x-ms-request-id": "r9"}, ERR))
    with pytest.raises(nwlab.ArmError) as info:
        connect().arm.get_json(VM_ID)
    assert info.value.status == 503 and info.value.request_id == "r9"
    assert len(fake_arm.seen("GET")) == 4


def test_get_not_retried_on_a_client_error(fake_arm, connect):
    fake_arm.on("GET", "/virtualMachines/MultiTierApp0$", (400, {}, ERR))
    with pytest.raises(nwlab.ArmError):
        connect().arm.get_json(VM_ID)
    assert len(fake_arm.seen("GET")) == 1


def test_a_429_makes_the_whole_client_wait(fake_arm, connect):
    fake_arm.on("GET", "/resourcegroups$", (200, {}, {"value": []}))
    nw = connect()
    nw.arm.note_throttled(0.3)  # as if another check of this client had just been throttled
    started = time.monotonic()
    nw.list_resource_groups()
    assert fake_arm.requests[0].at - started >= 0.29
    assert nw.arm.throttled_responses == 1


def test_get_retried_after_a_read_timeout_or_dropped_connection(fake_arm, connect):
    fake_arm.on("GET", "/virtualMachines/MultiTierApp0$", Stall(5), DROP, (200, {}, VM))
    nw = connect()
    nw.arm.request_timeout = (2.0, 0.3)
    nw.arm.backoff_factor = 0.01
    assert nw.arm.get_json(VM_ID) == VM
    assert len(fake_arm.seen("GET")) == 3


def test_get_that_keeps_stalling_ends_as_backend_unavailable(fake_arm, connect):
    fake_arm.on("GET", "/virtualMachines/MultiTierApp0$", Stall(5))
    nw = connect()
    nw.arm.request_timeout = (2.0, 0.2)
    nw.arm.backoff_factor = 0.01
    with pytest.raises(nwlab.BackendUnavailable):
        nw.arm.get_json(VM_ID)
    assert len(fake_arm.seen("GET")) == 4  # the first try and three retries


def test_connection_refused_is_backend_unavailable(fake_arm):
    fake_arm.stop()
    nw = nwlab.connect(SUB, credential=FakeCredential(), arm_endpoint=fake_arm.endpoint)
    nw.arm.backoff_factor = 0.01
    with pytest.raises(nwlab.BackendUnavailable) as info:
        nw.arm.get_json(VM_ID)
    assert info.value.fix


# -- the POST: retried only when ARM refused it; never after a timeout ------------------------


def test_post_retried_after_429_because_arm_refused_it(fake_arm, connect, seeds):
    result = seeds["vm-to-ip-udr-blocked"]["result"]
    fake_arm.contoso(result)
    fake_arm.on("POST", "/connectivityCheck$", (429, {"Retry-After": "0.2"}, ERR), ACCEPTED)
    r = post_check(connect())
    assert r.to_dict() == result
    first, second = fake_arm.seen("POST")
    assert second.at - first.at >= 0.19


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_post_not_resent_after_a_server_error(fake_arm, connect, status):
    fake_arm.on("POST", "/connectivityCheck$",
                (status, {"Retry-After": "0", "x-ms-request-id": "p1"}, ERR), (202, {}, None))
    with pytest.raises(nwlab.ArmError) as info:
        post_check(connect())
    assert info.value.status == status and info.value.request_id == "p1"
    assert len(fake_arm.seen("POST")) == 1


def test_post_read_timeout_is_backend_unavailable_and_never_resent(fake_arm, connect):
    fake_arm.on("POST", "/connectivityCheck$", Stall(10), (202, {}, None))
    nw = connect()
    nw.arm.request_timeout = (2.0, 0.3)
    started = time.monotonic()
    with pytest.raises(nwlab.BackendUnavailable) as info:
        post_check(nw)
    assert time.monotonic() - started < 2.0
    assert "timed out" in str(info.value) and "re-send" in str(info.value)
    time.sleep(0.2)  # a re-sent POST would have arrived by now
    assert len(fake_arm.seen("POST")) == 1


def test_post_dropped_connection_is_never_resent(fake_arm, connect):
    fake_arm.on("POST", "/connectivityCheck$", DROP, (202, {}, None))
    with pytest.raises(nwlab.BackendUnavailable):
        post_check(connect())
    time.sleep(0.1)
    assert len(fake_arm.seen("POST")) == 1


# -- tokens ------------------------------------------------------------------------------------


def test_token_fetched_once_and_reused_while_valid(fake_arm, connect, seeds):
    fake_arm.contoso(seeds["vm-to-ip-udr-blocked"]["result"], polls=2)
    credential = FakeCredential(lifetime=3600)
    connect(credential=credential).check("MultiTierApp0", "13.107.21.200", 80,
                                         resource_group="ContosoRG")
    assert credential.scopes == ["https://management.azure.com/.default"]
    assert {r.headers["authorization"] for r in fake_arm.requests} == {"Bearer tok-1"}


def test_token_about_to_expire_is_fetched_again(fake_arm, connect, seeds):
    fake_arm.contoso(seeds["vm-to-ip-udr-blocked"]["result"], polls=2)
    credential = FakeCredential(lifetime=60)  # inside the five-minute refresh margin
    connect(credential=credential).check(VM_ID, "13.107.21.200", 80, watcher=WATCHER_ID)
    tokens = [r.headers["authorization"] for r in fake_arm.requests]
    assert tokens == [f"Bearer tok-{n}" for n in range(1, len(tokens) + 1)]
    assert len(tokens) == 4


def test_401_invalidates_the_token_and_retries_once_with_a_fresh_one(fake_arm, connect):
    def answer(seen):
        if seen.headers["authorization"] == "Bearer tok-1":
            return 401, {"WWW-Authenticate": "Bearer error=\"invalid_token\""}, {
                "error": {"code": "ExpiredAuthenticationToken", "message": "expired"}}
        return 200, {}, VM

    fake_arm.on("GET", "/virtualMachines/MultiTierApp0$", answer)
    credential = FakeCredential()
    nw = connect(credential=credential)
    assert nw.arm.get_json(VM_ID) == VM
    assert [r.headers["authorization"] for r in fake_arm.requests] == ["Bearer tok-1", "Bearer tok-2"]
    # The fresh token is kept for what follows.
    assert nw.arm.get_json(VM_ID) == VM
    assert len(credential.scopes) == 2


def test_401_twice_is_an_arm_error_not_a_loop(fake_arm, connect):
    fake_arm.on("GET", "/virtualMachines/MultiTierApp0$",
                (401, {}, {"error": {"code": "InvalidAuthenticationToken", "message": "no"}}))
    with pytest.raises(nwlab.ArmError) as info:
        connect().arm.get_json(VM_ID)
    assert info.value.status == 401 and info.value.code == "InvalidAuthenticationToken"
    assert "az login" in str(info.value)
    assert len(fake_arm.requests) == 2


def test_401_on_the_post_is_resent_with_a_fresh_token(fake_arm, connect, seeds):
    result = seeds["vm-to-ip-udr-blocked"]["result"]
    fake_arm.contoso(result)
    fake_arm.on("POST", "/connectivityCheck$",
                (401, {}, {"error": {"code": "ExpiredAuthenticationToken", "message": "expired"}}),
                ACCEPTED)
    assert post_check(connect()).to_dict() == result
    posts = fake_arm.seen("POST")
    assert [p.headers["authorization"] for p in posts] == ["Bearer tok-1", "Bearer tok-2"]


def test_credential_without_a_token_is_a_type_error(fake_arm):
    class Empty:
        def get_token(self, *scopes, **kw):
            return None

    nw = nwlab.connect(SUB, credential=Empty(), arm_endpoint=fake_arm.endpoint)
    with pytest.raises(TypeError, match="credential"):
        nw.arm.get_json(VM_ID)
    assert fake_arm.requests == []


def test_credential_returning_a_tuple_is_accepted(fake_arm):
    class TupleCredential:
        def get_token(self, *scopes, **kw):
            return ("tuple-token", time.time() + 3600)

    fake_arm.on("GET", "/virtualMachines/MultiTierApp0$", (200, {}, VM))
    nw = nwlab.connect(SUB, credential=TupleCredential(), arm_endpoint=fake_arm.endpoint)
    nw.arm.get_json(VM_ID)
    assert fake_arm.requests[0].headers["authorization"] == "Bearer tuple-token"


# -- headers on every request -------------------------------------------------------------------


def test_every_request_carries_user_agent_and_a_fresh_client_request_id(fake_arm, connect, seeds):
    fake_arm.contoso(seeds["vm-to-ip-udr-blocked"]["result"], polls=2)
    connect().check("MultiTierApp0", "13.107.21.200", 80, resource_group="ContosoRG")
    assert len(fake_arm.requests) == 8  # VM, instance view, extensions, watchers, POST, 3 polls
    ids = []
    for request in fake_arm.requests:
        assert request.headers["user-agent"].startswith(f"nwlab/{nwlab.__version__} ")
        assert GUID.match(request.headers["x-ms-client-request-id"])
        assert request.headers["accept"] == "application/json"
        assert request.query.get("api-version")
        ids.append(request.headers["x-ms-client-request-id"])
    assert len(set(ids)) == len(ids)
    post = fake_arm.seen("POST")[0]
    assert post.headers["content-type"] == "application/json"
    assert post.query["api-version"] == "2024-05-01"


def test_api_version_override_applies_to_network_calls(fake_arm, connect):
    fake_arm.on("POST", "/connectivityCheck$", (400, {}, ERR))
    with pytest.raises(nwlab.ArmError):
        post_check(connect(api_version="2022-01-01"))
    assert fake_arm.seen("POST")[0].query["api-version"] == "2022-01-01"


def test_history_keeps_request_ids_for_support(fake_arm, connect):
    fake_arm.on("GET", "/virtualMachines/MultiTierApp0$",
                (200, {"x-ms-request-id": "req-1", "x-ms-correlation-request-id": "corr-1"}, VM))
    nw = connect()
    nw.arm.get_json(VM_ID)
    record = nw.arm.history[-1]
    assert (record.method, record.status, record.request_id, record.correlation_id) == \
        ("GET", 200, "req-1", "corr-1")
    uuid.UUID(record.client_request_id)


# -- ARM errors ---------------------------------------------------------------------------------


def test_arm_error_carries_status_code_message_and_ids(fake_arm, connect):
    body = {"error": {"code": "AuthorizationFailed",
                      "message": "The client does not have authorization to perform action.",
                      "target": None, "details": [{"code": "Inner", "message": "inner"}]}}
    fake_arm.on("GET", "/virtualMachines/MultiTierApp0$",
                (403, {"x-ms-request-id": "req-403", "x-ms-correlation-request-id": "corr-403"}, body))
    with pytest.raises(nwlab.ArmError) as info:
        connect().check("MultiTierApp0", "10.1.4.4", 80, resource_group="ContosoRG")
    err = info.value
    assert err.status == 403
    assert err.code == "AuthorizationFailed"
    assert err.message == "The client does not have authorization to perform action."
    assert err.request_id == "req-403"
    assert err.correlation_id == "corr-403"
    assert err.method == "GET" and err.url and err.url.endswith("/virtualMachines/MultiTierApp0")
    assert err.body == body
    text = str(err)
    assert text.startswith("HTTP 403 AuthorizationFailed: The client does not have")
    assert "req-403" in text and "corr-403" in text and "Network Contributor" in text
    assert not fake_arm.seen("POST")


def test_arm_error_from_a_bare_error_details_body(fake_arm, connect):
    fake_arm.on("GET", "/virtualMachines/MultiTierApp0$",
                (409, {}, {"code": "Conflict", "message": "another operation"}))
    with pytest.raises(nwlab.ArmError) as info:
        connect().arm.get_json(VM_ID)
    assert (info.value.code, info.value.message) == ("Conflict", "another operation")


def test_arm_error_from_a_non_json_body(fake_arm, connect):
    fake_arm.on("GET", "/virtualMachines/MultiTierApp0$", (418, {}, b"<html>teapot</html>"))
    with pytest.raises(nwlab.ArmError) as info:
        connect().arm.get_json(VM_ID)
    assert info.value.status == 418 and info.value.code is None
    assert info.value.message == "<html>teapot</html>"


def test_vm_not_found_is_a_preflight_error_naming_vm_and_group(fake_arm, connect):
    fake_arm.on("GET", "/virtualMachines/Nope$",
                (404, {}, {"error": {"code": "ResourceNotFound", "message": "not found"}}))
    with pytest.raises(nwlab.PreflightError) as info:
        connect().check("Nope", "10.1.4.4", 80, resource_group="ContosoRG")
    assert "Nope" in str(info.value) and "ContosoRG" in str(info.value)
    assert "list_vms" in str(info.value)


def test_throttled_error_carries_retry_after(fake_arm, connect):
    fake_arm.on("POST", "/connectivityCheck$", (429, {"Retry-After": "0"}, ERR))
    nw = connect()
    nw.arm.max_retries = 2
    with pytest.raises(nwlab.ThrottledError) as info:
        post_check(nw)
    assert info.value.retry_after == 0.0 and info.value.status == 429
    assert len(fake_arm.seen("POST")) == 3


# -- paging -------------------------------------------------------------------------------------


def test_list_resource_groups_follows_next_link(fake_arm, connect):
    next_url = f"/subscriptions/{SUB}/resourcegroups?api-version=2021-04-01&%24skiptoken=page2"

    def first(seen):
        if seen.query.get("$skiptoken") == "page2":
            return 200, {}, {"value": [{"name": "c-rg"}], "nextLink": None}
        return 200, {}, {"value": [{"name": "b-rg"}, {"name": "A-rg"}],
                         "nextLink": fake_arm.endpoint + next_url}

    fake_arm.on("GET", "/resourcegroups$", first)
    assert connect().list_resource_groups() == ["A-rg", "b-rg", "c-rg"]
    pages = fake_arm.seen("GET", "/resourcegroups$")
    assert len(pages) == 2
    assert pages[1].query == {"api-version": "2021-04-01", "$skiptoken": "page2"}


def test_list_vms_follows_next_link_and_reads_power_and_agent(fake_arm, connect):
    def vm(name: str) -> dict:
        return {"id": f"{RG}/providers/Microsoft.Compute/virtualMachines/{name}", "name": name,
                "location": "westcentralus",
                "properties": {"storageProfile": {"osDisk": {"osType": "Windows"}}}}

    def vms(seen):
        if seen.query.get("$skiptoken"):
            return 200, {}, {"value": [vm("Web1")]}
        return 200, {}, {"value": [vm("Db0"), vm("app2")],
                         "nextLink": f"{fake_arm.endpoint}{RG}/providers/Microsoft.Compute/"
                                     "virtualMachines?api-version=2024-07-01&$skiptoken=x"}

    fake_arm.on("GET", "/providers/Microsoft.Compute/virtualMachines$", vms)
    fake_arm.on("GET", "/instanceView$",
                lambda s: (200, {}, {"statuses": [{"code": "PowerState/" + (
                    "deallocated" if "Db0" in s.path else "running")}]}))
    fake_arm.on("GET", "/extensions$", lambda s: (200, {}, {"value": [] if "Web1" in s.path else [
        {"name": "x", "properties": {"publisher": "Microsoft.Azure.NetworkWatcher",
                                     "type": "NetworkWatcherAgentWindows"}}]}))
    frame = connect().list_vms("ContosoRG")
    assert list(frame.columns) == ["name", "resource_group", "location", "power_state", "agent",
                                   "os_type", "id"]
    assert list(frame["name"]) == ["app2", "Db0", "Web1"]
    assert list(frame["power_state"]) == ["running", "deallocated", "running"]
    assert list(frame["agent"]) == [True, True, False]
    assert set(frame["resource_group"]) == {"ContosoRG"}
    assert len(fake_arm.seen("GET", "/virtualMachines$")) == 2


def test_list_subscriptions(fake_arm, connect):
    fake_arm.on("GET", "^/subscriptions$", (200, {}, {"value": [
        {"subscriptionId": SUB, "displayName": "Contoso", "state": "Enabled"}]}))
    assert connect().list_subscriptions() == [
        {"subscription_id": SUB, "name": "Contoso", "state": "Enabled"}]
    assert fake_arm.requests[0].query["api-version"] == "2022-12-01"


# -- Retry-After parsing ------------------------------------------------------------------------


def test_parse_retry_after_seconds_dates_and_junk():
    assert parse_retry_after("10") == 10.0
    assert parse_retry_after("0.5") == 0.5
    assert parse_retry_after("-3") == 0.0
    assert parse_retry_after(None) is None
    assert parse_retry_after("") is None
    assert parse_retry_after("soon") is None
    assert parse_retry_after("inf") is None and parse_retry_after("nan") is None
    from email.utils import formatdate

    in_five = parse_retry_after(formatdate(time.time() + 5, usegmt=True))
    assert in_five is not None and 3.0 <= in_five <= 5.0
    assert parse_retry_after(formatdate(time.time() - 60, usegmt=True)) == 0.0
