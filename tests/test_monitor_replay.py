"""Monitoring offline: the bundled monitor cassettes replay create -> list -> status -> results ->
stop/start -> delete through nwlab.replay(), Log Analytics (a second origin) included, and the
results compare with the replayed ad-hoc mesh of the same checks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import nwlab

CASSETTES = Path(nwlab.__file__).parent / "cassettes"
CHECKS = [{"source": "MultiTierApp0", "destination": "Database0", "port": 80,
           "resource_group": "ContosoRG"},
          {"source": "MultiTierApp0", "destination": "13.107.21.200", "port": 80,
           "resource_group": "ContosoRG"},
          {"source": "MultiTierApp0", "destination": "https://bing.com",
           "resource_group": "ContosoRG"}]
WORKSPACE = ("/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/ContosoRG"
             "/providers/Microsoft.OperationalInsights/workspaces/contoso-law")


def test_monitoring_replays_offline():
    nw = nwlab.replay()
    m = nw.monitor(CHECKS, "contoso-mesh", workspace=WORKSPACE, frequency_s=300,
                   thresholds={"checks_failed_percent": 10, "round_trip_time_ms": 100})
    assert len(m.tests) == 3 and [p.region for p in m.plans] == ["westcentralus"]
    assert m.status().provisioning_state == "Succeeded"
    listed = nw.list_monitors()
    assert listed["name"].tolist() == ["contoso-mesh"] and listed["tests"].tolist() == [3]

    res = m.results(since="1h")
    frame = res.frame()
    assert len(frame) == 36  # 3 tests x 12 five-minute buckets
    latest = res.latest().set_index("destination")
    assert latest.loc["Database0", "test_result"] == "Fail"
    assert latest.loc["bing.com", "test_result"] == "Pass"
    assert latest.loc["bing.com", "checks_total"] == 10  # from Log Analytics
    paths = res.paths_frame()
    assert sorted(paths["destination"]) == ["13.107.21.200", "Database0"]
    assert isinstance(paths["issues"].iloc[0], str)  # kept as the service sent it

    compared = res.compare(nw.check_many(CHECKS))
    assert compared["agree"].tolist() == [True, True, True]
    assert compared["monitor_result"].tolist() == ["Fail", "Fail", "Pass"]
    assert res.rtt_figure().data and res.failures_figure().data

    m.stop().start()
    m.delete()


def test_another_window_is_a_clear_replay_mismatch():
    nw = nwlab.replay()
    m = nw.monitor(CHECKS, "contoso-mesh", workspace=WORKSPACE, frequency_s=300)
    with pytest.raises(nwlab.ReplayMismatch,
                       match=r"no recorded answer for GET .*metrics.*Cassettes searched"):
        m.results(since="2h")


@pytest.mark.parametrize("name", ["monitor-create", "monitor-list", "monitor-results",
                                  "monitor-stop-start", "monitor-delete"])
def test_the_cassettes_hold_only_azure_origins(name):
    data = json.loads((CASSETTES / f"{name}.json").read_text(encoding="utf-8"))
    origins = {i["request"]["url"].split("/", 3)[2] for i in data["interactions"]}
    assert origins <= {"management.azure.com", "api.loganalytics.io"}
    assert "127.0.0.1" not in json.dumps(data)
