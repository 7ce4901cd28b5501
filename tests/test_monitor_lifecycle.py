"""nw.monitor() end to end against the fake ARM server on 127.0.0.1: create (LRO PUT) -> status ->
results (metrics on ARM, logs on a second origin) -> stop/start -> delete; list_monitors paging."""

from __future__ import annotations

import pytest

import nwlab
from fakearm import SUB, VM_ID, WATCHER_ID, FakeArm, FakeCredential
from fakemonitor import (
    DB_VM,
    EAST_VM,
    EAST_WATCHER,
    STAMPS,
    TEST_COLUMNS,
    WORKSPACE,
    WORKSPACE_GUID,
    add_east_vm,
    install_log_analytics,
    install_monitor,
    metric_series,
    metrics_body,
)

CM = f"{WATCHER_ID}/connectionMonitors/web-mesh"
CHECKS = [{"source": "MultiTierApp0", "destination": "Database0", "port": 80,
           "resource_group": "ContosoRG"},
          {"source": "MultiTierApp0", "destination": "10.1.4.4", "port": 443,
           "resource_group": "ContosoRG"}]
TEST_80 = ("group-2", "MultiTierApp0", "Database0", "tcp-80")
TEST_443 = ("group-1", "MultiTierApp0", "10.1.4.4", "tcp-443")


@pytest.fixture
def la():
    server = FakeArm()
    try:
        yield server
    finally:
        server.stop()


def _metrics():
    return metrics_body({
        "ChecksFailedPercent": [metric_series("ChecksFailedPercent", TEST_80, [0, 0, 100]),
                                metric_series("ChecksFailedPercent", TEST_443, [0, 0, 0])],
        "RoundTripTimeMs": [metric_series("RoundTripTimeMs", TEST_80, [1.5, 2.5, 3.0]),
                            metric_series("RoundTripTimeMs", TEST_443, [10, 11, 12])],
        "TestResult": [metric_series("TestResult", TEST_80, [1, 1, 3]),
                       metric_series("TestResult", TEST_443, [1, 1, 1])]})


def test_create_status_results_stop_start_delete(fake_arm, connect, la):
    fake_arm.contoso(None)
    install_monitor(fake_arm, metrics=_metrics())
    install_log_analytics(la, [[STAMPS[2].replace(":00Z", ":20Z"), CM.upper(), *TEST_80[:1],
                                TEST_80[3], TEST_80[1], TEST_80[2], "Tcp", 80, "Fail", 10, 10,
                                None, None, None, None]])
    credential = FakeCredential()
    nw = connect(credential=credential)
    nw.log_analytics_endpoint = la.endpoint
    m = nw.monitor(CHECKS, "web-mesh", workspace=WORKSPACE,
                   thresholds={"checks_failed_percent": 5, "round_trip_time_ms": 50})

    (put,) = fake_arm.seen("PUT", "/connectionMonitors/")
    assert put.path == CM
    props = put.body["properties"]
    assert put.body["location"] == "westcentralus"
    assert props["endpoints"] == [
        {"name": "10.1.4.4", "type": "ExternalAddress", "address": "10.1.4.4"},
        {"name": "Database0", "type": "AzureVM", "resourceId": DB_VM},
        {"name": "MultiTierApp0", "type": "AzureVM", "resourceId": VM_ID}]
    assert [c["name"] for c in props["testConfigurations"]] == ["tcp-443", "tcp-80"]
    assert props["testConfigurations"][1] == {
        "name": "tcp-80", "protocol": "Tcp", "testFrequencySec": 60,
        "tcpConfiguration": {"port": 80, "disableTraceRoute": False},
        "successThreshold": {"checksFailedPercent": 5, "roundTripTimeMs": 50.0}}
    # exactly the two requested pairs: no MultiTierApp0 -> Database0 on 443
    assert [(g["sources"], g["destinations"], g["testConfigurations"])
            for g in props["testGroups"]] == [(["MultiTierApp0"], ["10.1.4.4"], ["tcp-443"]),
                                              (["MultiTierApp0"], ["Database0"], ["tcp-80"])]
    assert props["outputs"] == [{"type": "Workspace",
                                 "workspaceSettings": {"workspaceResourceId": WORKSPACE}}]
    for v1 in ("source", "destination", "autoStart", "monitoringIntervalInSeconds"):
        assert v1 not in props
    # the LRO: the async operation was polled to Succeeded, then the resource read
    assert len(fake_arm.seen("GET", "/operations/op-web-mesh")) == 2
    assert [t.key for t in m.tests] == [TEST_443, TEST_80]

    assert m.status().provisioning_state == "Succeeded"
    assert m.status().frame()["monitoring_status"].tolist() == ["Running"]

    res = m.results(since="1h")
    (metrics,) = fake_arm.seen("GET", "/providers/Microsoft.Insights/metrics")
    assert metrics.query["timespan"] == "PT1H" and metrics.query["api-version"] == "2024-02-01"
    assert metrics.query["metricnames"] == "ChecksFailedPercent,RoundTripTimeMs,TestResult"
    assert metrics.query["$filter"] == ("TestGroupName eq '*' and SourceName eq '*' and "
                                        "DestinationName eq '*' and TestConfigurationName eq '*'")
    assert int(metrics.query["top"]) >= 10
    frame = res.frame()
    assert len(frame) == 6  # 2 tests x 3 one-minute buckets
    last_80 = frame[(frame["configuration"] == "tcp-80")].iloc[-1]
    assert last_80["test_result"] == "Fail" and last_80["checks_failed_percent"] == 100
    assert last_80["checks_total"] == 10 and last_80["checks_failed"] == 10  # joined from logs
    assert last_80["port"] == 80 and last_80["protocol"] == "Tcp"
    (query,) = [r for r in la.seen("POST")
                if r.body["query"].startswith("NWConnectionMonitorTestResult")]
    assert query.path == f"/v1/workspaces/{WORKSPACE_GUID}/query"
    assert query.body["timespan"] == "PT1H" and CM in query.body["query"]

    m.stop()
    m.start()
    assert [r.path for r in fake_arm.seen("POST", "/connectionMonitors/")] == [f"{CM}/stop",
                                                                              f"{CM}/start"]
    (start,) = fake_arm.seen("POST", "/start$")
    assert start.query["api-version"] <= "2024-07-01"  # /start is gone from later versions
    m.delete()
    assert [r.path for r in fake_arm.seen("DELETE")] == [CM]
    assert len(fake_arm.seen("GET", "/operationResults/del-1")) == 2  # polled until done


def test_log_analytics_token_has_its_own_scope_and_goes_only_to_its_origin(fake_arm, connect,
                                                                           la):
    fake_arm.contoso(None)
    install_monitor(fake_arm)
    install_log_analytics(la, [])
    credential = FakeCredential()
    nw = connect(credential=credential)
    nw.log_analytics_endpoint = la.endpoint
    nw.monitor(CHECKS[:1], "web-mesh", workspace=WORKSPACE).results("30m")

    def scope_of(header: str) -> str:
        return credential.scopes[int(header.rsplit("-", 1)[1]) - 1]

    la_tokens = {r.headers["authorization"] for r in la.requests}
    arm_tokens = {r.headers["authorization"] for r in fake_arm.requests}
    assert la_tokens and arm_tokens and not la_tokens & arm_tokens
    assert {scope_of(t) for t in la_tokens} == {"https://api.loganalytics.io/.default"}
    assert {scope_of(t) for t in arm_tokens} == {"https://management.azure.com/.default"}
    # nothing for Log Analytics went to ARM, nothing for ARM to Log Analytics
    assert not fake_arm.seen("POST", "/v1/workspaces/")
    assert all(r.path.startswith("/v1/workspaces/") for r in la.requests)
    client = nwlab.monitor.LogAnalyticsClient.for_client(nw.arm, la.endpoint)
    with pytest.raises(ValueError, match="refusing to send the Log Analytics token"):
        client.post(f"{fake_arm.endpoint}/v1/workspaces/{WORKSPACE_GUID}/query", {"query": "x"})


def test_sovereign_clouds_query_their_own_log_analytics_with_their_own_scope():
    from nwlab.arm.auth import StaticTokenCredential
    from nwlab.arm.clouds import resolve_cloud
    from nwlab.arm.session import ArmClient
    from nwlab.monitor.logs import LogAnalyticsClient

    for cloud, origin in (("AzureCloud", "https://api.loganalytics.io"),
                          ("AzureUSGovernment", "https://api.loganalytics.us"),
                          ("AzureChinaCloud", "https://api.loganalytics.azure.cn")):
        arm = ArmClient(subscription_id=SUB, credential=StaticTokenCredential("t"),
                        cloud=resolve_cloud(cloud))
        client = LogAnalyticsClient.for_client(arm)
        assert client.origin == origin and client.scope == f"{origin}/.default"
        assert client.scope != arm.tokens.scope


def test_an_unknown_log_analytics_origin_is_a_typed_error_not_a_guess(fake_arm, connect):
    fake_arm.contoso(None)
    install_monitor(fake_arm)
    nw = connect()
    m = nw.monitor(CHECKS[:1], "web-mesh", workspace=WORKSPACE)
    with pytest.raises(nwlab.monitor.LogAnalyticsUnknown, match="log_analytics_endpoint"):
        m.results()


def test_one_monitor_per_source_region(fake_arm, connect):
    fake_arm.contoso(None)
    add_east_vm(fake_arm)
    install_monitor(fake_arm)
    nw = connect()
    m = nw.monitor([*CHECKS, {"source": EAST_VM, "destination": DB_VM, "port": 1433}], "web-mesh")
    puts = {r.path: r.body for r in fake_arm.seen("PUT", "/connectionMonitors/")}
    assert set(puts) == {CM, f"{EAST_WATCHER}/connectionMonitors/web-mesh"}
    east = puts[f"{EAST_WATCHER}/connectionMonitors/web-mesh"]
    assert east["location"] == "eastus"
    assert [e["name"] for e in east["properties"]["endpoints"]] == ["Database0", "WebEast0"]
    assert east["properties"]["outputs"] == []
    assert sorted(p.region for p in m.plans) == ["eastus", "westcentralus"]
    listed = nw.list_monitors()
    assert listed["region"].tolist() == ["eastus", "westcentralus"]
    assert listed["created_by_nwlab"].all()
    found = nwlab.monitor.Monitor.find(nw, "web-mesh")
    assert sorted(t.identity for t in found.tests) == sorted(t.identity for t in m.tests)


def test_list_monitors_follows_every_page(fake_arm, connect):
    fake_arm.contoso(None)
    install_monitor(fake_arm, existing={"westcentralus": [f"cm-{i:02d}" for i in range(7)]},
                    page_size=3)
    frame = connect().list_monitors()
    assert frame["name"].tolist() == [f"cm-{i:02d}" for i in range(7)]
    assert len(fake_arm.seen("GET", "/connectionMonitors$")) == 3  # 3 + 3 + 1


def test_batch_to_monitor_promotes_its_checks(fake_arm, connect):
    from nwlab.batch import BatchEntry, BatchResult

    fake_arm.contoso(None)
    install_monitor(fake_arm)
    nw = connect()
    batch = BatchResult([BatchEntry(i, dict(c)) for i, c in enumerate(CHECKS)])
    m = batch.to_monitor("web-mesh", nw, frequency_s=30)
    (put,) = fake_arm.seen("PUT", "/connectionMonitors/")
    assert {c["testFrequencySec"] for c in put.body["properties"]["testConfigurations"]} == {30}
    assert len(m.tests) == 2


def test_a_failed_put_is_a_typed_error(fake_arm, connect):
    fake_arm.contoso(None)
    install_monitor(fake_arm)
    error = {"code": "NetworkWatcherVmExtensionNotInstalled",
             "message": "Network Watcher VM extension is not installed"}
    fake_arm.on("GET", r"/locations/[^/]+/operations/op-",
                (200, {}, {"status": "Failed", "error": error}))
    with pytest.raises(nwlab.OperationFailed) as info:
        connect().monitor(CHECKS[:1], "web-mesh")
    assert info.value.code == "NetworkWatcherVmExtensionNotInstalled"


def test_columns_of_the_fake_tables_are_the_documented_ones():
    names = [n for n, _ in TEST_COLUMNS]
    assert {"TestResult", "ChecksTotal", "ChecksFailed", "AvgRoundTripTimeMs"} <= set(names)


def test_checks_may_come_as_a_dataframe(fake_arm, connect):
    import pandas as pd

    fake_arm.contoso(None)
    install_monitor(fake_arm)
    frame = pd.DataFrame([{**CHECKS[0], "protocol": None}, CHECKS[1]])  # an empty cell is NaN
    m = connect().monitor(frame, "web-mesh")
    assert sorted(t.port for t in m.tests) == [80, 443]


def test_a_failure_in_a_later_region_says_what_was_already_created(fake_arm, connect):
    fake_arm.contoso(None)
    add_east_vm(fake_arm)
    install_monitor(fake_arm)
    fake_arm.on("PUT", r"NetworkWatcher_westcentralus/connectionMonitors/",
                (400, {}, {"error": {"code": "InvalidTestFrequency", "message": "bad"}}))
    with pytest.raises(nwlab.ArmError) as info:
        connect().monitor([*CHECKS, {"source": EAST_VM, "destination": DB_VM, "port": 1433}],
                          "web-mesh")
    assert info.value.code == "InvalidTestFrequency"
    assert "Created before this failure: web-mesh in eastus" in "\n".join(info.value.__notes__)


def test_a_put_that_is_done_at_once_is_read_without_polling(fake_arm, connect):
    fake_arm.contoso(None)
    stored = install_monitor(fake_arm, async_put=False)
    connect().monitor(CHECKS[:1], "web-mesh")
    assert not fake_arm.seen("GET", "/operations/")
    assert fake_arm.seen("GET", "/connectionMonitors/web-mesh$") and stored


def test_an_operation_that_never_ends_times_out(fake_arm, connect):
    from nwlab.monitor.operations import put_and_wait

    fake_arm.contoso(None)
    install_monitor(fake_arm)
    fake_arm.on("GET", r"/locations/[^/]+/operations/op-", (200, {}, {"status": "InProgress"}))
    nw = connect()
    with pytest.raises(nwlab.OperationTimeout):
        put_and_wait(nw.arm, CM, {"location": "westcentralus", "properties": {}},
                     poll_interval=0.01, timeout=0.2)


def test_find_reads_monitors_nwlab_did_not_make(fake_arm, connect):
    fake_arm.contoso(None)
    body = {"name": "Portal(CM)", "properties": {
        "endpoints": [{"name": "vm", "resourceId": VM_ID}, {"name": "web", "address": "bing.com"}],
        "testConfigurations": [{"name": "https", "protocol": "Http", "testFrequencySec": 30,
                                "httpConfiguration": {"port": 443, "preferHTTPS": True}}],
        "testGroups": [{"name": "g", "sources": ["vm"], "destinations": ["web"],
                        "testConfigurations": ["https"]}]}}
    fake_arm.on("GET", r"/connectionMonitors/Portal\(CM\)$", (200, {}, body))
    found = nwlab.monitor.Monitor.find(connect(), "Portal(CM)")
    (test,) = found.tests
    assert (test.protocol, test.port, test.frequency_s, test.destination_value) == \
        ("Https", 443, 30, "bing.com")
    with pytest.raises(ValueError, match="name: "):
        nwlab.monitor.Monitor.find(connect(), "a/b")
    with pytest.raises(nwlab.monitor.MonitorNotFound):
        nwlab.monitor.Monitor.find(connect(), "missing")
