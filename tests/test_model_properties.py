"""Property-based: from_dict is total over JSON, and whatever it accepts renders without raising.

Two strategies: arbitrary JSON (any value json.loads can return), and result-shaped JSON whose
values are hostile (wrong types, huge numbers, NaN/inf, cyclic, duplicate and dangling hop ids,
markup in every string). Each property runs a bounded number of examples (60, derandomized so a
run repeats; NWLAB_PROPERTY_EXAMPLES=2000 hunts longer) with no deadline, so a loaded machine
cannot fail it.
"""

from __future__ import annotations

import json
import os
from typing import Any

import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nwlab.explain import blocking_cause, verdict_sentence
from nwlab.model import ConnectivityResult

SETTINGS = settings(max_examples=int(os.environ.get("NWLAB_PROPERTY_EXAMPLES", "60")),
                    deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

MARKUP = ["<script>alert(1)</script>", "<img src=x onerror=alert(1)>", "<i>tilted</i>",
          "<a href='javascript:alert(1)'>x</a>", "a&b<br>c", "%{x}", "\"quoted\" 'single'"]
# Tags the renderers never write themselves, so finding one means a service string got through.
FOREIGN_TAGS = ("<script", "<img", "<i>", "<a href='javascript")

HUGE = [2**63, -(2**63) - 1, 10**30, 1e308, float("inf"), float("-inf"), float("nan"), -1, 0]

scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.sampled_from(HUGE),
                    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=20),
                    st.sampled_from(MARKUP))
json_values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)),
    max_leaves=25)

# A small id pool makes duplicates, cycles (a hop naming an earlier one) and self-loops likely;
# ids outside the hops' own are dangling.
hop_ids = st.sampled_from(["a", "b", "c", "d", "ghost", "", "<b>x</b>"])
texts = st.one_of(st.sampled_from(MARKUP), st.text(max_size=12),
                  st.sampled_from(["Source", "VirtualAppliance", "VnetLocal", "VirtualMachine",
                                   "Internet", "Destination", "NetworkSecurityRule",
                                   "UserDefinedRoute", "Error", "Warning", "Outbound",
                                   "UserRule_<b>deny</b>", "DefaultRule_DenyAllOutBound"]))
anything = st.one_of(texts, st.sampled_from(HUGE), st.integers(), json_values)
numbers = st.one_of(st.sampled_from(HUGE), st.integers(-5, 200), st.text(max_size=6),
                    st.none(), json_values)


def _maybe(value: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(value, anything)


context_list = st.lists(st.fixed_dictionaries({"key": _maybe(texts), "value": _maybe(texts)}),
                        max_size=3)
context = st.one_of(context_list, st.dictionaries(texts, _maybe(texts), max_size=3), anything)
issues = st.lists(_maybe(st.fixed_dictionaries(
    {"origin": _maybe(texts), "severity": _maybe(st.sampled_from(["Error", "Warning", ""])),
     "type": _maybe(texts), "context": context})), max_size=2)
links = st.lists(_maybe(st.fixed_dictionaries(
    {"nextHopId": _maybe(hop_ids), "linkType": _maybe(texts),
     "properties": _maybe(st.fixed_dictionaries({"roundTripTimeMin": numbers,
                                                 "roundTripTimeAvg": numbers,
                                                 "roundTripTimeMax": numbers})),
     "issues": _maybe(issues), "context": anything, "resourceId": _maybe(texts)})), max_size=3)
hops = st.fixed_dictionaries(
    {"id": _maybe(hop_ids), "type": _maybe(texts), "nextHopIds": _maybe(st.lists(hop_ids, max_size=3)),
     "issues": _maybe(issues)},
    optional={"address": _maybe(texts), "resourceId": _maybe(texts),
              "previousHopIds": _maybe(st.lists(hop_ids, max_size=2)),
              "links": _maybe(links), "previousLinks": _maybe(links)})
results = st.fixed_dictionaries(
    {"hops": _maybe(st.lists(_maybe(hops), max_size=6)),
     "connectionStatus": _maybe(st.sampled_from(["Reachable", "Unreachable", "Degraded", "Unknown",
                                                 "Connected", "<b>Up</b>"]))},
    optional={"avgLatencyInMs": numbers, "minLatencyInMs": numbers, "maxLatencyInMs": numbers,
              "probesSent": numbers, "probesFailed": numbers})
bodies = st.one_of(results, results.map(lambda r: {"properties": r}))


def _strings(value: Any) -> list[str]:
    """Every string Plotly may draw in a figure's JSON: all but `customdata`, which holds the raw
    hop ids for code that maps a click back to its hop and is never drawn."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for k, v in value.items() if k != "customdata" for s in _strings(v)]
    if isinstance(value, list | tuple):
        return [s for v in value for s in _strings(v)]
    return []


def render_everything(result: ConnectivityResult) -> dict[str, Any]:
    """Each rendering the model offers; any exception fails the property."""
    findings = result.explain()
    out = {
        "html": result._repr_html_(), "path": result.path_figure(), "sankey": result.sankey_figure(),
        "findings": findings, "findings_text": str(findings) + repr(findings),
        "findings_html": findings._repr_html_(),
        "hops": result.hops_frame(), "issues": result.issues_frame(),
        "text": str(result) + repr(result) + result.summary() + verdict_sentence(result)
        + (blocking_cause(result) or ""),
    }
    out["path"].to_json()
    out["sankey"].to_json()
    assert isinstance(out["hops"], pd.DataFrame) and len(out["hops"]) == len(result.hops)
    assert len(out["issues"]) == len(result.issues)
    assert len(findings) >= 1 and list(findings) == findings[:]  # still a list
    return out


@SETTINGS
@given(json_values)
def test_any_json_value_gives_a_result_that_renders(value: Any) -> None:
    result = ConnectivityResult.from_dict(value)
    assert isinstance(result.status, str) and result.status
    render_everything(result)
    if not isinstance(value, dict) and value is not None:
        assert result.raw is value  # an unknown shape is kept as received
    else:
        again = ConnectivityResult.from_dict(json.loads(json.dumps(result.to_dict())))
        assert again == result and again.to_dict() == result.to_dict()


@SETTINGS
@given(bodies)
def test_hostile_result_shapes_render_and_round_trip(body: dict[str, Any]) -> None:
    result = ConnectivityResult.from_dict(body)
    render_everything(result)
    written = result.to_dict()
    again = ConnectivityResult.from_dict(json.loads(json.dumps(written)))
    assert again == result
    assert again.to_dict() == written
    for figure in (result.path_figure(), result.sankey_figure()):
        for text in _strings(figure.to_plotly_json()):
            assert not any(tag in text for tag in FOREIGN_TAGS), text
    markup = result._repr_html_() + result.explain()._repr_html_()
    assert not any(tag in markup for tag in FOREIGN_TAGS)


@SETTINGS
@given(st.one_of(st.binary(max_size=4), st.sets(st.integers(), max_size=2),
                 st.builds(object)))
def test_a_value_that_is_not_json_is_a_documented_value_error(value: Any) -> None:
    try:
        ConnectivityResult.from_dict(value)
    except ValueError as exc:
        assert "json.loads" in str(exc) and type(value).__name__ in str(exc)
    else:  # pragma: no cover - the property fails
        raise AssertionError(f"{value!r} was accepted")
