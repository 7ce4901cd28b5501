"""Connection Monitor in the twin, through nwlab's own client: create -> run on the twin's clock
-> results (metrics on ARM, logs on the Log Analytics origin) -> stop/start -> delete, and a
what-if mid-run (a rule deleted at minute 5 fails the tests from minute 5 on)."""

from __future__ import annotations

import copy
import json
import signal
import subprocess
import sys
import time
from typing import Any

import pytest
import requests

import nwlab
from nwlab.emulator.topology import DEFAULT_TOPOLOGY_PATH
from nwlab.monitor.logs import ORIGINS

from .test_cli import _env

SUB = "00000000-0000-0000-0000-000000000000"
RG = f"/subscriptions/{SUB}/resourceGroups/ContosoRG"
WATCHER = (f"/subscriptions/{SUB}/resourceGroups/NetworkWatcherRG/providers/Microsoft.Network/"
           "networkWatchers/NetworkWatcher_westcentralus")
WORKSPACE = (f"/subscriptions/{SUB}/resourceGroups/monitor-rg/providers/"
             "Microsoft.OperationalInsights/workspaces/nwlab-law")
DB_NSG = f"{RG}/providers/Microsoft.Network/networkSecurityGroups/DbNsg"
CHECKS = [{"source": "WebVM0", "destination": "Database0", "port": 1433,
           "resource_group": "ContosoRG"},
          {"source": "WebVM0", "destination": "Database0", "port": 80,
           "resource_group": "ContosoRG"}]


def _contoso_with_fallback_deny() -> dict[str, Any]:
    """Contoso, with a deny for SQL from the whole VNet below AllowSqlFromWeb: deleting that
    allow rule then breaks WebVM0 -> Database0:1433 (and nothing else)."""
    doc = json.loads(DEFAULT_TOPOLOGY_PATH.read_text(encoding="utf-8"))
    doc = copy.deepcopy(doc)
    for res in doc["resources"]:
        if res["name"] == "DbNsg":
            res["properties"]["securityRules"].append({
                "name": "DenySqlFromVnet", "id": f"{DB_NSG}/securityRules/DenySqlFromVnet",
                "properties": {"priority": 300, "direction": "Inbound", "access": "Deny",
                               "protocol": "Tcp", "sourceAddressPrefix": "VirtualNetwork",
                               "sourcePortRange": "*", "destinationAddressPrefix": "*",
                               "destinationPortRange": "1433"}})
    return doc


@pytest.fixture
def nw():
    client = nwlab.emulate(_contoso_with_fallback_deny(), check_seconds=0, retry_after=0)
    try:
        yield client
    finally:
        client.close()


def test_create_run_results_stop_start_delete(nw: Any) -> None:
    clock = nw.emulator.clock
    m = nw.monitor(CHECKS, "db-watch", workspace=WORKSPACE, frequency_s=60)
    status = m.status()
    assert status.provisioning_state == "Succeeded"
    assert status.rows[0]["monitoring_status"] == "Running"
    listed = nw.list_monitors()
    assert list(listed["name"]) == ["db-watch"] and listed["workspace"][0] == WORKSPACE
    start = clock.now().replace(microsecond=0)
    clock.advance(10 * 60)
    res = m.results(since="1h")
    frame = res.frame()
    assert set(frame["configuration"]) == {"tcp-1433", "tcp-80"}
    assert len(frame) == 2 * 11  # minute 0..10, two tests
    assert set(frame["test_result"]) == {"Pass"}
    assert (frame["checks_failed_percent"] == 0).all()
    assert frame["checks_total"].notna().all()  # the workspace's rows joined the metrics
    assert res.test_rows and res.path_rows
    assert {r["TestResult"] for r in res.test_rows} == {"Pass"}
    # one path row per test while nothing changes
    assert len(res.path_rows) == 2

    m.stop()
    assert m.status().rows[0]["monitoring_status"] == "Stopped"
    clock.advance(5 * 60)
    m.start()
    clock.advance(3 * 60)
    later = m.results(since=(start, clock.now())).frame()
    minutes = sorted({int((t - later["time"].min()).total_seconds() // 60)
                      for t in later["time"]})
    assert 12 not in minutes and 14 not in minutes  # no evaluation while stopped
    assert max(minutes) >= 16

    m.delete()
    assert nw.list_monitors().empty
    with pytest.raises(nwlab.ArmError) as info:
        nw.arm.get_json(m.ids[0])
    assert info.value.status == 404


def test_rule_deleted_at_minute_5_fails_the_tests_from_minute_5_on(nw: Any) -> None:
    clock = nw.emulator.clock
    m = nw.monitor(CHECKS, "what-if", workspace=WORKSPACE)
    clock.advance(5 * 60 - 1)  # just before the evaluation of minute 5
    deleted = nw.arm.request("DELETE", f"{DB_NSG}/securityRules/AllowSqlFromWeb",
                             api_version="2024-05-01")
    assert deleted.status_code in (200, 202, 204)
    clock.advance(5 * 60 + 1)
    frame = m.results(since="1h").frame()
    sql = frame[frame["configuration"] == "tcp-1433"].sort_values("time")
    minute = ((sql["time"] - sql["time"].min()).dt.total_seconds() // 60).astype(int)
    results = dict(zip(minute, sql["test_result"], strict=True))
    assert all(results[i] == "Pass" for i in range(0, 5))
    assert all(results[i] == "Fail" for i in range(5, 11))
    assert (sql[minute >= 5]["checks_failed_percent"] == 100).all()
    http = frame[frame["configuration"] == "tcp-80"]
    assert set(http["test_result"]) == {"Pass"}  # the other test is untouched
    paths = [r for r in m.results(since="1h").path_rows
             if r["TestConfigurationName"] == "tcp-1433"]
    assert [p["PathTestResult"] for p in paths] == ["Pass", "Fail"]
    assert "DenySqlFromVnet" in json.dumps(paths[-1]["Issues"])


def test_a_stopped_source_is_indeterminate_and_the_monitor_states_its_assumptions() -> None:
    doc = _contoso_with_fallback_deny()
    for res in doc["resources"]:
        if res["name"] == "WebVM0":
            res["properties"]["instanceView"] = {"statuses": [
                {"code": "PowerState/deallocated"}]}
    nw = nwlab.emulate(doc, check_seconds=0, retry_after=0)
    try:
        m = nw.monitor(CHECKS, "stopped", workspace=WORKSPACE)
        assert any("deallocated" in w for w in m.warnings)
        codes = {a["code"] for a in nw.arm.get_json(m.ids[0])["nwlab"]["assumptions"]}
        assert {"ASSUME_MONITOR_FIRST_RUN_AT_START", "ASSUME_MONITOR_WORKSPACE",
                "ASSUME_MONITOR_INDETERMINATE_SOURCE", "ASSUME_MONITOR_ERROR_CODES"} <= codes
        nw.emulator.clock.advance(180)
        frame = m.results(since="1h").frame()
        assert set(frame["test_result"]) == {"Indeterminate"}
        assert frame["checks_failed_percent"].isna().all()
        assert frame["round_trip_time_ms"].isna().all()
    finally:
        nw.close()


def test_time_scale_runs_the_clock_faster_than_real_time() -> None:
    nw = nwlab.emulate(check_seconds=0, retry_after=0, time_scale=600)
    try:
        before = nw.emulator.clock.now()
        time.sleep(0.2)
        assert (nw.emulator.clock.now() - before).total_seconds() >= 0.2 * 600
    finally:
        nw.close()
    with pytest.raises(ValueError, match="time_scale"):
        nwlab.emulate(time_scale=0)


def test_log_analytics_is_its_own_origin_with_its_own_token(nw: Any) -> None:
    server = nw.emulator
    assert nw.log_analytics_endpoint == server.log_analytics_endpoint
    assert nw.log_analytics_endpoint != server.endpoint
    assert server.token_for(ORIGINS["AzureCloud"][1]) != server.token
    nw.monitor(CHECKS, "la", workspace=WORKSPACE)
    guid = nw.arm.get_json(WORKSPACE, api_version="2022-10-01")["properties"]["customerId"]
    url = f"{server.log_analytics_endpoint}/v1/workspaces/{guid}/query"
    body = {"query": "NWConnectionMonitorTestResult | project TimeGenerated", "timespan": "PT1H"}
    arm_token = requests.post(url, json=body, timeout=5,
                              headers={"Authorization": f"Bearer {server.token}"})
    assert arm_token.status_code == 401
    la = {"Authorization": f"Bearer {server.log_analytics.token}"}
    assert requests.post(url, json=body, headers=la, timeout=5).status_code == 200
    # and the Log Analytics token opens nothing on ARM
    assert requests.get(f"{server.endpoint}/subscriptions?api-version=2022-12-01", timeout=5,
                        headers=la).status_code == 401
    other = dict(body, query="AzureActivity | take 5")
    refused = requests.post(url, json=other, headers=la, timeout=5)
    assert refused.status_code == 400 and "not served" in refused.json()["error"]["message"]
    unknown = requests.post(url, json=dict(body, query="NWConnectionMonitorTestResult "
                                                       "| project Nope"), headers=la, timeout=5)
    assert unknown.status_code == 400 and "'Nope'" in unknown.json()["error"]["message"]
    missing = requests.post(f"{server.log_analytics_endpoint}/v1/workspaces/{SUB}/query",
                            json=body, headers=la, timeout=5)
    assert missing.status_code == 404


def _put(nw: Any, name: str, properties: dict[str, Any]) -> requests.Response:
    return nw.arm.session.put(
        f"{nw.emulator.endpoint}{WATCHER}/connectionMonitors/{name}?api-version=2024-05-01",
        json={"location": "westcentralus", "properties": properties}, timeout=5,
        headers={"Authorization": f"Bearer {nw.emulator.token}"})


def _body(**config: Any) -> dict[str, Any]:
    source = {"name": "WebVM0", "type": "AzureVM",
              "resourceId": f"{RG}/providers/Microsoft.Compute/virtualMachines/WebVM0"}
    return {"endpoints": [source, {"name": "bing.com", "type": "ExternalAddress",
                                   "address": "bing.com"}],
            "testConfigurations": [{"name": "tcp-443", "protocol": "Tcp", "testFrequencySec": 60,
                                    "tcpConfiguration": {"port": 443}, **config}],
            "testGroups": [{"name": "g", "sources": ["WebVM0"], "destinations": ["bing.com"],
                            "testConfigurations": ["tcp-443"]}], "outputs": []}


@pytest.mark.parametrize("change,code", [
    (lambda b: b["testConfigurations"][0].update(testFrequencySec=29), "InvalidTestFrequency"),
    (lambda b: b["testGroups"][0].update(sources=["bing.com"]), "MissingResourceIDInEndpoint"),
    (lambda b: b["endpoints"][0].update(
        resourceId=f"{RG}/providers/Microsoft.Compute/virtualMachines/Jumpbox0"),
     "NetworkWatcherVmExtensionNotInstalled"),
    (lambda b: b["endpoints"].extend({"name": f"a{i}", "address": f"10.9.0.{i}"}
                                     for i in range(100)), "ConnectionMonitorLimitReached"),
    (lambda b: b["testGroups"][0].update(destinations=["nowhere"]), "InvalidRequestFormat"),
    (lambda b: b.update(monitoringIntervalInSeconds=60), "InvalidRequestFormat"),
])
def test_the_twin_refuses_what_the_service_refuses(nw: Any, change: Any, code: str) -> None:
    body = _body()
    change(body)
    response = _put(nw, "bad", body)
    assert response.status_code == 400 and response.json()["error"]["code"] == code
    assert nw.list_monitors().empty


def test_metrics_answer_only_the_served_subset(nw: Any) -> None:
    assert _put(nw, "one", _body()).status_code == 201
    nw.emulator.clock.advance(120)
    path = f"{WATCHER}/connectionMonitors/one/providers/Microsoft.Insights/metrics"
    base = {"metricnamespace": "Microsoft.Network/networkWatchers/connectionMonitors",
            "metricnames": "TestResult", "timespan": "PT10M", "interval": "PT1M",
            "$filter": "SourceName eq '*'"}
    body = nw.arm.get_json(path, params=base, api_version="2024-02-01")
    series = body["value"][0]["timeseries"]
    assert [d["value"] for d in series[0]["metadatavalues"]] == ["WebVM0"]
    assert [p["average"] for p in series[0]["data"] if "average" in p] == [1.0, 1.0, 1.0]
    for bad in ({"metricnames": "ProbesFailedPercent"}, {"interval": "PT5M"},
                {"$filter": "SourceName eq 'WebVM0'"}, {"aggregation": "Maximum"}):
        with pytest.raises(nwlab.ArmError) as info:
            nw.arm.get_json(path, params={**base, **bad}, api_version="2024-02-01")
        assert info.value.status == 400


def test_standalone_emulator_takes_time_scale_and_prints_log_analytics() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "nwlab.emulator", "--port", "0", "--time-scale", "60"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env())
    try:
        assert proc.stdout is not None
        lines = dict(proc.stdout.readline().strip().split(": ", 1) for _ in range(7))
        assert lines["time scale"] == "60"
        assert lines["log analytics"].startswith("http://127.0.0.1:")
        assert lines["log analytics"] != lines["endpoint"]
        assert lines["log analytics token"] != lines["token"]
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    done = subprocess.run([sys.executable, "-m", "nwlab.emulator", "--time-scale", "0"],
                          capture_output=True, text=True, env=_env(), timeout=60)
    assert done.returncode == 2 and "--time-scale" in done.stderr


def test_nwlab_monitor_loads_lazily() -> None:
    done = subprocess.run([sys.executable, "-c", "import sys, nwlab; "
                           "assert 'nwlab.monitor' not in sys.modules; "
                           "print(nwlab.monitor.Monitor.__name__)"],
                          capture_output=True, text=True, env=_env(), timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "Monitor"
