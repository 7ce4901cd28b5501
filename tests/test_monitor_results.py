"""Parsing every documented answer shape of the metrics and Log Analytics APIs, and what
MonitorResults makes of them: frame, latest, compare, figures and escaped HTML."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

import nwlab
from fakearm import VM_ID
from fakemonitor import DB_VM, STAMPS, metric_series, metrics_body
from nwlab.batch import BatchEntry, BatchResult
from nwlab.model import ConnectivityResult
from nwlab.monitor.build import MonitorTest
from nwlab.monitor.logs import parse_tables
from nwlab.monitor.metrics import parse_metrics
from nwlab.monitor.results import MonitorResults
from nwlab.monitor.spec import Thresholds
from nwlab.monitor.window import timespan_of

SUB = "00000000-0000-0000-0000-000000000000"
TEST = ("group-1", "MultiTierApp0", "Database0", "tcp-80")


def _test(**kw):
    base = {"monitor": "web-mesh", "region": "westcentralus", "group": "group-1",
            "source": "MultiTierApp0", "destination": "Database0", "configuration": "tcp-80",
            "source_id": VM_ID, "destination_value": DB_VM, "protocol": "Tcp", "port": 80}
    return MonitorTest(**{**base, **kw})


# -- metrics --------------------------------------------------------------------------------

def test_metrics_series_split_by_lower_cased_dimensions():
    body = metrics_body({"RoundTripTimeMs": [metric_series("RoundTripTimeMs", TEST, [1.0, 2.0])],
                         "TestResult": [metric_series("TestResult", TEST, [1, 3])]})
    points, notes = parse_metrics(body)
    assert notes == []
    assert [(p.metric, p.time, p.value) for p in points] == [
        ("RoundTripTimeMs", STAMPS[0], 1.0), ("RoundTripTimeMs", STAMPS[1], 2.0),
        ("TestResult", STAMPS[0], 1.0), ("TestResult", STAMPS[1], 3.0)]
    assert {(p.group, p.source, p.destination, p.configuration) for p in points} == {TEST}


def test_metric_dimension_names_match_in_any_case():
    series = metric_series("RoundTripTimeMs", TEST, [4.0])
    for item in series["metadatavalues"]:
        item["name"]["value"] = item["name"]["value"].upper()
    points, _ = parse_metrics(metrics_body({"RoundTripTimeMs": [series]}))
    assert (points[0].source, points[0].configuration) == ("MultiTierApp0", "tcp-80")


def test_empty_metrics_are_empty_not_an_error():
    assert parse_metrics(metrics_body({})) == ([], [])
    assert parse_metrics({"value": []}) == ([], [])
    series = metric_series("RoundTripTimeMs", TEST, [1.0])
    series["data"] = [{"timeStamp": STAMPS[0]}]  # a bucket without a sample: no average
    assert parse_metrics(metrics_body({"RoundTripTimeMs": [series]})) == ([], [])


def test_a_metric_nwlab_did_not_ask_for_is_left_out_of_the_frame():
    res = _results()
    extra = res.metrics["westcentralus"][0]
    res.metrics["westcentralus"].append(type(extra)(extra.time, extra.group, extra.source,
                                                    extra.destination, extra.configuration,
                                                    "ProbesFailedPercent", 50.0))
    assert res.frame()["checks_failed_percent"].tolist() == [0, 0, 100]


def test_a_metric_error_code_is_reported():
    body = metrics_body({})
    body["value"][0]["errorCode"] = "Throttled"
    body["value"][0]["errorMessage"] = "try later"
    assert parse_metrics(body)[1] == ["ChecksFailedPercent: Throttled try later"]


@pytest.mark.parametrize("body", [
    None, [], {"values": []}, {"value": {}}, {"value": [3]}, {"value": [{"name": 5}]},
    {"value": [{"name": {"value": "X"}, "timeseries": {}}]},
    {"value": [{"name": {"value": "X"}, "timeseries": [{"metadatavalues": {}, "data": []}]}]},
    {"value": [{"name": {"value": "X"}, "timeseries": [{"data": [{"average": 1}]}]}]},
    {"value": [{"name": {"value": "X"}, "timeseries": [{"data": [{"timeStamp": STAMPS[0],
                                                                  "average": "1"}]}]}]},
    {"value": [{"name": {"value": "X"}, "timeseries": [{"data": [{"timeStamp": "yesterday",
                                                                  "average": 1}]}]}]},
])
def test_wrong_metric_shapes_are_typed_errors(body):
    with pytest.raises(nwlab.ArmError) as info:
        parse_metrics(body, url="/x")
    assert info.value.code == "UnexpectedResponseShape"


# -- Log Analytics --------------------------------------------------------------------------

def test_tables_are_converted_by_column_type():
    body = {"tables": [{"name": "PrimaryResult",
                        "columns": [{"name": "TimeGenerated", "type": "datetime"},
                                    {"name": "ChecksTotal", "type": "long"},
                                    {"name": "AvgRoundTripTimeMs", "type": "real"},
                                    {"name": "Ok", "type": "bool"},
                                    {"name": "Hops", "type": "dynamic"},
                                    {"name": "Name", "type": "string"}],
                        # the v1 example sends numbers and booleans as strings
                        "rows": [[STAMPS[0], "10", "1.5", "true", '[{"address": "10.1.4.4"}]',
                                  "x"],
                                 [STAMPS[1], 3, 2, False, None, ""]]}]}
    (table,), warnings = parse_tables(body)
    assert warnings == []
    assert table.records() == [
        {"TimeGenerated": STAMPS[0], "ChecksTotal": 10, "AvgRoundTripTimeMs": 1.5, "Ok": True,
         "Hops": [{"address": "10.1.4.4"}], "Name": "x"},
        {"TimeGenerated": STAMPS[1], "ChecksTotal": 3, "AvgRoundTripTimeMs": 2.0, "Ok": False,
         "Hops": None, "Name": ""}]


def test_no_rows_and_partial_errors():
    body = {"tables": [{"name": "PrimaryResult", "columns": [{"name": "A", "type": "string"}],
                        "rows": []}],
            "error": {"code": "PartialError", "message": "some data is missing"}}
    (table,), warnings = parse_tables(body)
    assert table.rows == [] and warnings == ["PartialError: some data is missing"]


@pytest.mark.parametrize("body", [
    None, {"tables": {}}, {"tables": [{"columns": []}]}, {"tables": [{"rows": []}]},
    {"tables": [{"columns": [{"type": "int"}], "rows": []}]},
    {"tables": [{"columns": [{"name": "A", "type": "int"}], "rows": [[1, 2]]}]},
    {"tables": [{"columns": [{"name": "A", "type": "int"}], "rows": [["one"]]}]},
    {"tables": [{"columns": [{"name": "A", "type": "int"}], "rows": [5]}]},
    {"tables": [{"columns": [{"name": "T", "type": "datetime"}], "rows": [["noon"]]}]},
])
def test_wrong_table_shapes_are_typed_errors(body):
    with pytest.raises(nwlab.ArmError) as info:
        parse_tables(body, url="/v1/workspaces/x/query")
    assert info.value.code == "UnexpectedResponseShape"


# -- MonitorResults -------------------------------------------------------------------------

def _results(values=(0, 0, 100), results=(1, 1, 3), **kw):
    body = metrics_body({
        "ChecksFailedPercent": [metric_series("ChecksFailedPercent", TEST, list(values))],
        "RoundTripTimeMs": [metric_series("RoundTripTimeMs", TEST, [1.0, 2.0, 3.0])],
        "TestResult": [metric_series("TestResult", TEST, list(results))]})
    points, _ = parse_metrics(body)
    return MonitorResults(name="web-mesh", timespan="PT1H", subscription_id=SUB,
                          tests=[_test(), _test(group="group-2", destination="10.1.4.4",
                                                destination_value="10.1.4.4",
                                                configuration="tcp-443", port=443)],
                          metrics={"westcentralus": points},
                          regions_by_id={"x": "westcentralus"}, **kw)


def test_frame_is_one_row_per_test_and_bucket():
    frame = _results().frame()
    assert len(frame) == 3
    assert frame["test_result"].tolist() == ["Pass", "Pass", "Fail"]
    assert frame["checks_failed_percent"].tolist() == [0, 0, 100]
    assert str(frame["time"].dtype).startswith("datetime64") and frame["time"].dt.tz is not None
    assert frame["port"].tolist() == [80, 80, 80]


def test_log_rows_without_metrics_make_rows_and_percentages():
    res = _results()
    res.metrics = {}
    res.test_rows = [{"TimeGenerated": "2026-12-01T09:00:31.5Z", "ConnectionMonitorResourceId": "X",
                      "TestGroupName": "group-1", "SourceName": "MultiTierApp0",
                      "DestinationName": "Database0", "TestConfigurationName": "tcp-80",
                      "TestResult": "Warning", "ChecksTotal": 20, "ChecksFailed": 5,
                      "AvgRoundTripTimeMs": 7.5, "JitterMs": 0.5}]
    (row,) = res.frame().to_dict("records")
    assert row["test_result"] == "Warning" and row["checks_failed_percent"] == 25.0
    assert row["round_trip_time_ms"] == 7.5 and row["jitter_ms"] == 0.5
    assert row["time"].isoformat() == "2026-12-01T09:00:00+00:00"  # its one-minute bucket


def test_latest_lists_tests_without_data():
    latest = _results().latest()
    assert latest[["configuration", "test_result"]].values.tolist() == [["tcp-80", "Fail"],
                                                                         ["tcp-443", None]]


def test_empty_results_say_why():
    res = _results()
    res.metrics = {}
    assert res.empty and len(res.frame()) == 0
    assert "about 5 minutes" in res._repr_html_() and "permission" in res._repr_html_()


def test_compare_with_an_adhoc_mesh():
    def entry(index, destination, port, status):
        result = ConnectivityResult.from_dict({"connectionStatus": status, "hops": []})
        return BatchEntry(index, {"source": "MultiTierApp0", "destination": destination,
                                  "port": port, "resource_group": "ContosoRG"}, result=result)

    batch = BatchResult([entry(0, "Database0", 80, "Unreachable"),
                         entry(1, "10.1.4.4", 443, "Reachable"),
                         entry(2, "10.9.9.9", 22, "Reachable")])
    frame = _results().compare(batch)
    assert frame[["destination", "adhoc_verdict", "monitor_result", "failed_buckets"]] \
        .values.tolist() == [["Database0", "unreachable", "Fail", 1],
                             ["10.1.4.4", "reachable", None, 0],
                             ["10.9.9.9", "reachable", "not monitored", 0]]
    assert frame["agree"].tolist()[0] is True
    assert frame["agree"].isna().tolist() == [False, True, True]
    with pytest.raises(TypeError, match="BatchResult"):
        _results().compare([1, 2])


def test_figures_have_a_line_per_test_and_the_threshold():
    res = _results(thresholds=Thresholds(5, 50.0))
    fig = res.failures_figure()
    names = [t.name for t in fig.data]
    assert names == ["MultiTierApp0 \u2192 Database0 (tcp-80)", "threshold: 5"]
    assert list(fig.data[0].y) == [0, 0, 100]
    assert res.rtt_figure().data[-1].name == "threshold: 50"
    assert fig.to_json() == _results(thresholds=Thresholds(5, 50.0)).failures_figure().to_json()
    # no thresholds set: the service's automatic warning levels, said to be defaults
    assert _results().rtt_figure().data[-1].name == "Azure's default warning: 750"
    assert _results().failures_figure().data[-1].name == "Azure's default warning: 10"


def test_html_escapes_every_service_string():
    res = _results()
    evil = "<script>alert(1)</script>"
    res.tests = [_test(source=evil)]
    res.metrics["westcentralus"] = [type(p)(p.time, p.group, evil, p.destination,
                                            p.configuration, p.metric, p.value)
                                    for p in res.metrics["westcentralus"]]
    res.warnings = ["<b>partial</b>"]
    page = res._repr_html_()
    assert "<script>" not in page and "<b>partial" not in page
    assert "&lt;script&gt;" in page


@pytest.mark.parametrize("since,expected", [
    ("1h", "PT1H"), ("30m", "PT30M"), ("2d", "P2D"), ("90s", "PT90S"), ("1.5h", "PT90M"),
    (timedelta(hours=3), "PT3H"),
    ((datetime(2026, 12, 1, 9, tzinfo=UTC), "2026-12-01T10:00:00Z"),
     "2026-12-01T09:00:00Z/2026-12-01T10:00:00Z"),
])
def test_since_becomes_an_iso_timespan(since, expected):
    assert timespan_of(since) == expected


@pytest.mark.parametrize("since", ["", "yesterday", "0h", "31d", timedelta(0), 5,
                                   (datetime(2026, 12, 1, 10), datetime(2026, 12, 1, 11)),
                                   ("2026-12-01T10:00:00Z", "2026-12-01T09:00:00Z")])
def test_bad_windows_are_refused(since):
    with pytest.raises((ValueError, TypeError), match="since: "):
        timespan_of(since)


def test_frames_survive_json():
    frame = _results().frame()
    assert json.loads(frame.to_json(orient="records", date_format="iso"))[0]["source"] \
        == "MultiTierApp0"


def test_a_monitor_over_several_regions_names_the_region_in_each_line():
    res = _results()
    east = [type(p)(p.time, p.group, "WebEast0", p.destination, p.configuration, p.metric,
                    p.value) for p in res.metrics["westcentralus"]]
    res.metrics["eastus"] = east
    res.tests = [*res.tests, _test(region="eastus", source="WebEast0")]
    names = [t.name for t in res.rtt_figure().data]
    assert names[:2] == ["WebEast0 \u2192 Database0 (tcp-80) [eastus]",
                         "MultiTierApp0 \u2192 Database0 (tcp-80) [westcentralus]"]


def test_an_empty_window_draws_a_figure_that_says_so():
    res = _results()
    res.metrics = {}
    fig = res.failures_figure()
    assert [a.text for a in fig.layout.annotations] == ["No data in this window"]


def test_monitor_and_status_html_escape_service_strings():
    from nwlab.monitor import Monitor, MonitorPlan, MonitorStatus

    evil = "<img src=x onerror=alert(1)>"
    plan = MonitorPlan(name="web-mesh", region=evil, watcher_id="/w", body={},
                       tests=[_test(destination=evil)])
    page = Monitor(object(), "web-mesh", [plan], warnings=[evil])._repr_html_()
    status = MonitorStatus("web-mesh", [{"region": "x", "provisioning_state": evil}])._repr_html_()
    for text in (page, status):
        assert "<img" not in text and "&lt;img" in text
