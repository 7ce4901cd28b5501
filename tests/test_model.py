"""The result model: every response shape in the reference parses, round-trips to the REST shape,
and turns into frames and readable text."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from nwlab.model import ConnectivityResult, Hop, HopLink, Issue

SHAPES = Path(__file__).parent / "data" / "shapes"
SHAPE_NAMES = sorted(p.stem for p in SHAPES.glob("*.json"))
NIC = ("/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/ContosoRG/providers"
       "/Microsoft.Network/networkInterfaces/appNic0/ipConfigurations/ipconfig1")


def shape(name: str) -> dict[str, Any]:
    data = json.loads((SHAPES / f"{name}.json").read_text(encoding="utf-8"))
    data.pop("_about")
    return data


def hop(**fields: Any) -> dict[str, Any]:
    return {"type": "Source", "id": "h1", "address": "10.0.0.4", "nextHopIds": [], "issues": [],
            **fields}


# -- the documented results and the shape fixtures ------------------------------------------------


def test_seed_results_round_trip_exactly(seeds):
    for name, scenario in seeds.items():
        result = ConnectivityResult.from_dict(scenario["result"])
        assert result.to_dict() == scenario["result"], name
        assert ConnectivityResult.from_dict(result.to_dict()) == result, name
        assert json.loads(json.dumps(result.to_dict())) == scenario["result"]


@pytest.mark.parametrize("name", SHAPE_NAMES)
def test_every_shape_round_trips_through_to_dict(name):
    result = ConnectivityResult.from_dict(shape(name))
    again = ConnectivityResult.from_dict(result.to_dict())
    assert again == result
    assert again.to_dict() == result.to_dict()
    assert result.hops and result.status


def test_fixtures_cover_the_reference_shapes():
    assert {"powershell-2019", "python-2020", "az-flattened", "spec-2026"} <= set(SHAPE_NAMES)


def test_python_2020_shape_is_reproduced_exactly():
    data = shape("python-2020")
    assert ConnectivityResult.from_dict(data).to_dict() == data


def test_powershell_2019_links_with_type_and_previous_links():
    r = ConnectivityResult.from_dict(shape("powershell-2019"))
    assert r.status == "Reachable" and r.reachable
    assert (r.min_latency_ms, r.avg_latency_ms, r.max_latency_ms) == (1, 1, 2)
    assert (r.probes_sent, r.probes_failed, r.probe_loss) == (3, 0, 0.0)
    source, internet = r.hops
    link = source.links[0]
    assert link.link_type == "Internet"  # from the undocumented `type`
    assert (link.rtt_min_ms, link.rtt_avg_ms, link.rtt_max_ms) == (1, 1, 2)
    assert link.next_hop_id == internet.id
    assert source.link_to(internet.id) is link
    assert internet.previous_hop_ids == (source.id,)
    # previousLinks name the previous hop, not a next one.
    assert internet.previous_links[0].next_hop_id == source.id
    assert internet.next_hop_ids == ()
    assert source.resource_id and source.resource_id.endswith("/virtualMachines/vm6316")
    assert source.name == "vm6316"
    assert internet.resource_id is None and internet.name == "Internet"
    assert r.edges() == [(source.id, internet.id)]
    assert r.to_dict()["hops"][0]["links"][0]["linkType"] == "Internet"


def test_python_2020_unmeasured_rtts_and_full_rule_id():
    r = ConnectivityResult.from_dict(shape("python-2020"))
    assert r.status == "Unreachable" and not r.reachable
    assert (r.min_latency_ms, r.avg_latency_ms, r.max_latency_ms) == (None, None, None)
    assert r.probe_loss == 1.0
    link = r.hops[0].links[0]
    assert (link.link_type, link.rtt_min_ms, link.rtt_avg_ms, link.rtt_max_ms) == \
        ("VirtualNetwork", None, None, None)
    assert r.hops[1].type == "VirtualMachine"
    (issue,) = r.issues
    assert issue.rule_name and issue.rule_name.endswith("/SecurityRules/Deny3389Inbound")
    assert (issue.origin, issue.severity, issue.hop_id, issue.hop_address) == \
        ("Inbound", "Error", r.hops[1].id, "192.168.100.4")
    assert r.hops[0].name == "nic1" and r.hops[1].name == "nic2"


def test_az_flattened_rtts_branches_and_link_issues():
    r = ConnectivityResult.from_dict(shape("az-flattened"))
    first = r.hops[0]
    assert [(x.rtt_min_ms, x.rtt_avg_ms, x.rtt_max_ms) for x in first.links] == [(1, 2, 3), (3, 6, 9)]
    assert len(first.next_hop_ids) == 2
    assert len(r.edges()) == 4
    assert r.hops[-1].previous_hop_ids == (r.hops[1].id, r.hops[2].id)
    (issue,) = r.issues
    assert (issue.type, issue.severity, issue.origin) == ("Platform", "Warning", "Local")
    assert issue.hop_id == first.id and issue.link_next_hop_id == r.hops[2].id
    assert first.all_issues == (issue,) and first.issues == ()
    # to_dict writes the REST shape: RTTs back under `properties`.
    link = r.to_dict()["hops"][0]["links"][0]
    assert link["properties"] == {"roundTripTimeMin": 1, "roundTripTimeAvg": 2, "roundTripTimeMax": 3}
    assert "roundTripTimeAvg" not in link
    assert r.hops[-1].name == "Database0"


def test_spec_2026_connected_dict_context_strings_and_unknown_types():
    data = shape("spec-2026")
    r = ConnectivityResult.from_dict(data)
    assert r.status == "Connected" and r.reachable
    assert (r.min_latency_ms, r.avg_latency_ms, r.max_latency_ms) == (3, 4, 5)
    assert [h.type for h in r.hops] == ["Source", "HyperNetGateway", "Destination"]
    assert [i.type for i in r.issues] == ["CPU", "NoListenerOnDestination"]
    assert r.issues[0].context == {"Utilization": "97"}
    assert r.hops[0].resource_id == "/" + data["hops"][0]["resourceId"]
    out = r.to_dict()
    # What came in is what goes out: the raw id without its slash, context as a map.
    assert out["hops"][0]["resourceId"] == data["hops"][0]["resourceId"]
    assert out["hops"][0]["issues"][0]["context"] == {"Utilization": "97"}
    assert "resourceId" not in out["hops"][2]
    assert out["hops"][1]["resourceId"] == ""


# -- status and figures ---------------------------------------------------------------------------


@pytest.mark.parametrize("status,reachable", [
    ("Reachable", True), ("Connected", True), ("connected", True), ("REACHABLE", True),
    ("Unreachable", False), ("Disconnected", False), ("Degraded", False), ("Unknown", False),
    ("SomethingNew", False)])
def test_only_reachable_and_connected_count_as_reachable(status, reachable):
    r = ConnectivityResult.from_dict({"connectionStatus": status, "hops": []})
    assert r.status == status  # the raw word is kept
    assert r.reachable is reachable
    assert r.to_dict()["connectionStatus"] == status


@pytest.mark.parametrize("body", [None, {}, {"hops": None, "connectionStatus": None}])
def test_null_or_empty_body_is_an_unknown_result(body):
    r = ConnectivityResult.from_dict(body)
    assert (r.status, r.hops, r.reachable, r.probes_sent, r.probe_loss) == \
        ("Unknown", (), False, None, None)
    assert r.issues == [] and r.source is None and r.destination is None
    assert r.to_dict() == {"hops": [], "connectionStatus": "Unknown"}


def test_latency_absent_is_none_and_omitted(seeds):
    data = seeds["vm-to-ip-udr-blocked"]["result"]
    r = ConnectivityResult.from_dict(data)
    assert r.avg_latency_ms is None
    assert not {"avgLatencyInMs", "minLatencyInMs", "maxLatencyInMs"} & set(r.to_dict())


def test_latency_present(seeds):
    r = ConnectivityResult.from_dict(seeds["vm-to-website-reachable"]["result"])
    assert (r.min_latency_ms, r.avg_latency_ms, r.max_latency_ms) == (0, 1, 7)
    assert (r.probes_sent, r.probes_failed) == (100, 0)


def test_unreadable_figures_are_none():
    r = ConnectivityResult.from_dict({"connectionStatus": "Reachable", "avgLatencyInMs": "fast",
                                      "probesSent": "", "probesFailed": None,
                                      "maxLatencyInMs": 7.9})
    assert (r.avg_latency_ms, r.probes_sent, r.probes_failed, r.max_latency_ms) == (None, None, None, 7)


def test_wrapped_in_properties_as_some_sdk_dumps_print_it(seeds):
    data = seeds["vm-to-vm-nsg-blocked"]["result"]
    assert ConnectivityResult.from_dict({"properties": data}) == ConnectivityResult.from_dict(data)


def test_junk_entries_in_lists_are_skipped():
    r = ConnectivityResult.from_dict({"connectionStatus": "Reachable", "hops": [
        None, "x", hop(links=[None, {"nextHopId": "h2"}], issues=[3, {"type": "Platform"}])]})
    assert len(r.hops) == 1 and len(r.hops[0].links) == 1 and len(r.issues) == 1


# -- hops --------------------------------------------------------------------------------------


@pytest.mark.parametrize("raw,resource_id,name", [
    (None, None, ""),
    ("", None, ""),
    ("Unknown", None, "Unknown"),
    ("Internet", None, "Internet"),
    (NIC.lstrip("/"), NIC, "appNic0"),
    (NIC, NIC, "appNic0"),
    (" " + NIC + " ", NIC, "appNic0"),
])
def test_resource_id_variants(raw, resource_id, name):
    data = hop() if raw is None else hop(resourceId=raw)
    h = Hop.from_dict(data)
    assert h.resource_id == resource_id
    assert h.name == name
    out = h.to_dict()
    if raw is None:
        assert "resourceId" not in out
    else:
        assert out["resourceId"] == raw  # the service's own value is written back
    assert Hop.from_dict(out) == h


def test_optional_graph_fields_absent_stay_absent(seeds):
    data = seeds["vm-to-vm-nsg-blocked"]["result"]["hops"][0]
    h = Hop.from_dict(data)
    assert (h.previous_hop_ids, h.links, h.previous_links) == ((), (), ())
    assert not {"previousHopIds", "links", "previousLinks"} & set(h.to_dict())


def test_optional_graph_fields_present_but_empty_stay_present():
    h = Hop.from_dict(hop(previousHopIds=[], links=[], previousLinks=[]))
    assert h.to_dict()["previousHopIds"] == [] and h.to_dict()["links"] == []
    assert h.to_dict()["previousLinks"] == []


def test_next_hops_from_links_when_next_hop_ids_is_missing():
    data = hop(links=[{"nextHopId": "h2", "linkType": "VirtualNetwork"}])
    del data["nextHopIds"]
    h = Hop.from_dict(data)
    assert h.next_hop_ids == ("h2",)


def test_missing_id_and_type_get_stable_placeholders():
    h = Hop.from_dict({"address": ""}, index=3)
    assert (h.id, h.type, h.address) == ("hop-3", "Unknown", None)


# -- links ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("data,rtts", [
    ({"properties": {"roundTripTimeMin": 1, "roundTripTimeAvg": 2, "roundTripTimeMax": 3}}, (1, 2, 3)),
    ({"roundTripTimeMin": 1, "roundTripTimeAvg": 2, "roundTripTimeMax": 3}, (1, 2, 3)),
    ({"properties": {}, "roundTripTimeMin": 4, "roundTripTimeAvg": 5, "roundTripTimeMax": 6},
     (4, 5, 6)),
    ({"properties": {}}, (None, None, None)),
    ({}, (None, None, None)),
    ({"properties": {"roundTripTimeAvg": "4294967295"}}, (None, 4294967295, None)),
])
def test_link_rtts_under_properties_or_flattened(data, rtts):
    link = HopLink.from_dict({"nextHopId": "h2", **data})
    assert (link.rtt_min_ms, link.rtt_avg_ms, link.rtt_max_ms) == rtts
    assert HopLink.from_dict(link.to_dict()) == link


def test_link_type_prefers_link_type_over_type():
    assert HopLink.from_dict({"nextHopId": "x", "linkType": "VirtualNetwork",
                              "type": "Internet"}).link_type == "VirtualNetwork"
    assert HopLink.from_dict({"nextHopId": "x"}).link_type is None
    assert "linkType" not in HopLink.from_dict({"nextHopId": "x"}).to_dict()


# -- issues ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("context,parsed,written", [
    ([{"key": "RuleName", "value": "UserRule_Port80"}], {"RuleName": "UserRule_Port80"},
     [{"key": "RuleName", "value": "UserRule_Port80"}]),
    ({"RuleName": "UserRule_Port80"}, {"RuleName": "UserRule_Port80"}, {"RuleName": "UserRule_Port80"}),
    ([{"RouteType": "User"}], {"RouteType": "User"}, [{"key": "RouteType", "value": "User"}]),
    ([], {}, []),
    ({}, {}, {}),
    (None, {}, []),
    ([{"key": "ErrorMessage", "value": None}, "junk"], {"ErrorMessage": ""},
     [{"key": "ErrorMessage", "value": ""}]),
])
def test_issue_context_as_list_or_dict(context, parsed, written):
    issue = Issue.from_dict({"origin": "Outbound", "severity": "Error",
                             "type": "NetworkSecurityRule", "context": context})
    assert issue.context == parsed
    assert issue.to_dict()["context"] == written
    assert Issue.from_dict(issue.to_dict()) == issue


def test_issue_helpers_and_unknown_types_kept_raw():
    issue = Issue.from_dict({"origin": "Outbound", "severity": "Error", "type": "RouteMissing",
                             "context": [{"key": "RouteType", "value": "Default"},
                                         {"key": "ErrorMessage", "value": "NextHop Type None"}]})
    assert issue.type == "RouteMissing"
    assert (issue.rule_name, issue.route_type) == (None, "Default")
    assert issue.describe() == "RouteMissing (Outbound) RouteType=Default ErrorMessage=NextHop Type None"
    assert Issue.from_dict({}).type == "Unknown"


def test_issues_know_their_hop(seeds):
    r = ConnectivityResult.from_dict(seeds["vm-to-vm-nsg-blocked"]["result"])
    (issue,) = r.issues
    assert issue.hop_id == r.hops[2].id and issue.hop_address == "10.1.3.4"
    assert issue.rule_name == "UserRule_Port80" and issue.link_next_hop_id is None


# -- frames ---------------------------------------------------------------------------------------


HOP_COLUMNS = ["hop", "type", "address", "name", "resource_id", "next_hops", "rtt_avg_ms", "issues", "id"]
ISSUE_COLUMNS = ["hop", "hop_type", "hop_address", "origin", "severity", "type", "rule_name",
                 "route_type", "context"]


def test_hops_frame_columns_and_contents(seeds):
    r = ConnectivityResult.from_dict(seeds["vm-to-vm-nsg-blocked"]["result"])
    frame = r.hops_frame()
    assert isinstance(frame, pd.DataFrame)
    assert list(frame.columns) == HOP_COLUMNS
    assert list(frame["hop"]) == [1, 2, 3, 4]
    assert list(frame["type"]) == ["Source", "VirtualAppliance", "VirtualAppliance", "VnetLocal"]
    assert list(frame["address"]) == ["10.1.1.4", "10.1.2.4", "10.1.3.4", "10.1.4.4"]
    assert list(frame["name"]) == ["appNic0", "fwNic", "auNic", "dbNic0"]
    assert list(frame["next_hops"]) == [1, 1, 1, 0]
    assert list(frame["issues"]) == ["", "", "NetworkSecurityRule (Outbound) RuleName=UserRule_Port80", ""]
    assert frame["rtt_avg_ms"].isna().all() and str(frame["rtt_avg_ms"].dtype) == "Int64"
    assert list(frame["id"]) == [h.id for h in r.hops]


def test_hops_frame_rtt_of_branching_hop_is_the_worst_link():
    frame = ConnectivityResult.from_dict(shape("az-flattened")).hops_frame()
    assert list(frame["rtt_avg_ms"]) == [6, 1, 1, pd.NA]
    assert "Platform (Local)" in frame["issues"][0]


def test_issues_frame_columns_and_contents(seeds):
    frame = ConnectivityResult.from_dict(seeds["vm-to-ip-udr-blocked"]["result"]).issues_frame()
    assert list(frame.columns) == ISSUE_COLUMNS
    assert frame.to_dict("records") == [{
        "hop": 1, "hop_type": "Source", "hop_address": "10.1.1.4", "origin": "Outbound",
        "severity": "Error", "type": "UserDefinedRoute", "rule_name": None, "route_type": "User",
        "context": "RouteType=User"}]
    frame = ConnectivityResult.from_dict(seeds["vm-to-vm-nsg-blocked"]["result"]).issues_frame()
    assert list(frame["hop"]) == [3] and list(frame["rule_name"]) == ["UserRule_Port80"]


def test_frames_of_an_empty_result_have_the_columns():
    r = ConnectivityResult.from_dict(None)
    assert list(r.hops_frame().columns) == HOP_COLUMNS and r.hops_frame().empty
    assert list(r.issues_frame().columns) == ISSUE_COLUMNS and r.issues_frame().empty


# -- words and meta -------------------------------------------------------------------------------


def test_str_is_a_readable_summary(seeds):
    text = str(ConnectivityResult.from_dict(seeds["vm-to-vm-nsg-blocked"]["result"]))
    lines = text.splitlines()
    assert lines[0] == "Unreachable, 100 of 100 probes failed"
    assert lines[1].split() == ["1.", "Source", "10.1.1.4", "appNic0"]
    assert lines[3].split() == ["3.", "VirtualAppliance", "10.1.3.4", "auNic"]
    assert lines[4].strip() == "! Error NetworkSecurityRule (Outbound) RuleName=UserRule_Port80"
    assert len(lines) == 6
    reachable = ConnectivityResult.from_dict(seeds["vm-to-website-reachable"]["result"])
    assert str(reachable).splitlines()[0] == \
        "Reachable, 0 of 100 probes failed, latency avg 1 ms (min 0, max 7)"
    assert "Internet" in str(reachable).splitlines()[2]


def test_str_of_an_empty_result():
    assert str(ConnectivityResult.from_dict(None)) == "Unknown"


def test_meta_is_neither_compared_nor_written(seeds):
    data = seeds["vm-to-website-reachable"]["result"]
    plain = ConnectivityResult.from_dict(data)
    tagged = ConnectivityResult.from_dict(data, meta={"request_id": "r1"}).with_meta(polls=2)
    assert tagged == plain
    assert tagged.meta == {"request_id": "r1", "polls": 2}
    assert tagged.to_dict() == data


@pytest.mark.parametrize("body", [[1, 2], "Reachable", 5, True])
def test_a_body_that_is_not_an_object_is_an_unknown_result(body):
    r = ConnectivityResult.from_dict(body)  # type: ignore[arg-type]
    assert (r.status, r.hops) == ("Unknown", ())


def test_scalar_where_a_list_was_expected():
    h = Hop.from_dict(hop(nextHopIds="h2", previousHopIds=7))
    assert (h.next_hop_ids, h.previous_hop_ids) == (("h2",), ("7",))


def test_links_round_trip_exactly_with_only_the_keys_received():
    hop = {"type": "Source", "id": "a", "address": "10.0.0.4", "nextHopIds": ["b"],
           "links": [{"nextHopId": "b", "linkType": "VirtualNetwork",
                      "properties": {"roundTripTimeAvg": 2}, "issues": []}],
           "issues": []}
    data = {"hops": [hop, {"type": "Destination", "id": "b", "address": "10.0.0.5",
                           "nextHopIds": [], "issues": []}],
            "connectionStatus": "Reachable", "probesSent": 3, "probesFailed": 0}
    assert ConnectivityResult.from_dict(data).to_dict() == data


# -- total over JSON (issue 9, item 11; the property tests in test_model_properties.py) ----------


@pytest.mark.parametrize("value", [float("inf"), float("-inf"), float("nan"), 1e308 * 10, 2**63,
                                   -(2**63) - 1, "1e400", pytest.param("9" * 5000, id="5000-digits"),
                                   pytest.param(10**5000, id="5000-digit-int"), True, False, [3],
                                   {"v": 3}])
def test_figures_that_cannot_be_figures_read_as_not_reported(value: Any) -> None:
    r = ConnectivityResult.from_dict({"connectionStatus": "Reachable", "avgLatencyInMs": value,
                                      "probesSent": value, "hops": [hop(links=[
                                          {"nextHopId": "h2", "properties": {"roundTripTimeAvg": value}}])]})
    assert (r.avg_latency_ms, r.probes_sent, r.hops[0].links[0].rtt_avg_ms) == (None, None, None)
    assert json.loads(json.dumps(r.to_dict(), allow_nan=False))
    r.hops_frame()


def test_the_int64_bounds_are_figures() -> None:
    r = ConnectivityResult.from_dict({"probesSent": 2**63 - 1, "probesFailed": -(2**63)})
    assert (r.probes_sent, r.probes_failed) == (2**63 - 1, -(2**63))


@pytest.mark.parametrize("hops", [5, "abc", {"id": "a"}, True, 1.5])
def test_hops_of_the_wrong_type_are_absent(hops: Any) -> None:
    r = ConnectivityResult.from_dict({"connectionStatus": "Unreachable", "hops": hops})
    assert r.hops == () and r.status == "Unreachable"


@pytest.mark.parametrize("field,value", [("links", 7), ("issues", "x"), ("previousLinks", 2.5),
                                         ("links", {"nextHopId": "h2"})])
def test_hop_lists_of_the_wrong_type_are_absent(field: str, value: Any) -> None:
    h = Hop.from_dict(hop(**{field: value}))
    assert (h.links, h.issues, h.previous_links) == ((), (), ())


@pytest.mark.parametrize("value,text", [({"a": 1}, ""), ([1], ""), (True, ""), (7, "7"),
                                        (2.5, "2.5"), pytest.param(10**5000, "", id="5000-digits"),
                                        (float("nan"), "")])
def test_string_fields_of_the_wrong_type(value: Any, text: str) -> None:
    h = Hop.from_dict(hop(type=value, address=value, id=value), index=2)
    assert h.type == (text or "Unknown") and h.address == (text or None)
    assert h.id == (text or "hop-2")
    issue = Issue.from_dict({"type": value, "context": {"RuleName": value}})
    assert issue.type == (text or "Unknown") and issue.context == {"RuleName": text}


def test_a_non_object_body_is_kept_raw_and_a_non_json_value_is_a_value_error() -> None:
    body = ["Reachable", {"hops": []}]
    r = ConnectivityResult.from_dict(body)
    assert r.status == "Unknown" and r.raw is body
    assert ConnectivityResult.from_dict({"connectionStatus": "Reachable"}).raw is None
    for value in (b"{}", {1, 2}, object()):
        with pytest.raises(ValueError, match="takes parsed JSON"):
            ConnectivityResult.from_dict(value)
