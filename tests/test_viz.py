"""Figures as objects: nodes, colours, labels, hover, branching layout, RTT labels, Sankey flows."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from nwlab.model import ConnectivityResult
from nwlab.viz import path_figure, rtt_label, sankey_figure
from nwlab.viz._graph import layers, positions
from nwlab.viz.palette import HOP_COLOURS, ISSUE

DATA = Path(__file__).parent / "data" / "results"
SEEDS = ["vm-to-vm-nsg-blocked", "vm-to-ip-udr-blocked", "vm-to-website-reachable",
         "vm-to-storage-reachable"]


def raw(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((DATA / f"{name}.json").read_text())
    return data


def load(name: str) -> ConnectivityResult:
    return ConnectivityResult.from_dict(raw(name))


def nodes(fig: Any) -> dict[str, dict[str, Any]]:
    """Address -> {trace, label, colour, symbol, x, y, hover} for every hop marker (a hop's label
    is its name over its address: the address is the label's last line)."""
    out = {}
    for trace in fig.data:
        if trace.name == "links" or trace.name.startswith("edges:"):
            continue
        for i, text in enumerate(trace.text):
            out[text.split("<br>")[-1]] = {
                "trace": trace.name, "label": text, "colour": trace.marker.color,
                "symbol": trace.marker.symbol, "x": trace.x[i], "y": trace.y[i],
                "hover": trace.hovertext[i]}
    return out


def arrows(fig: Any) -> list[tuple[float, float, float, float]]:
    """(x0, y0, x1, y1) of every drawn edge: the edge traces hold (start, end, gap) triples."""
    out = []
    for trace in fig.data:
        if trace.name.startswith("edges:"):
            for k in range(0, len(trace.x), 3):
                out.append((trace.x[k], trace.y[k], trace.x[k + 1], trace.y[k + 1]))
    return out


def branching() -> ConnectivityResult:
    """Source -> two appliances (ECMP) -> destination, with RTTs on the links."""
    def link(to: str, avg: int | None, lo: int | None = None, hi: int | None = None
             ) -> dict[str, Any]:
        props = {k: v for k, v in (("roundTripTimeMin", lo), ("roundTripTimeAvg", avg),
                                   ("roundTripTimeMax", hi)) if v is not None}
        return {"nextHopId": to, "linkType": "VirtualNetwork", "properties": props,
                "issues": [], "context": {}, "resourceId": ""}
    return ConnectivityResult.from_dict({
        "connectionStatus": "Reachable", "probesSent": 100, "probesFailed": 0,
        "avgLatencyInMs": 2, "minLatencyInMs": 1, "maxLatencyInMs": 4,
        "hops": [
            {"type": "Source", "id": "s", "address": "10.0.0.4", "nextHopIds": ["a", "b"],
             "links": [link("a", 2, 1, 4), link("b", 3, 3, 3)], "issues": []},
            {"type": "VirtualAppliance", "id": "a", "address": "10.0.1.4", "nextHopIds": ["d"],
             "links": [link("d", None)], "issues": []},
            {"type": "VirtualAppliance", "id": "b", "address": "10.0.1.5", "nextHopIds": ["d"],
             "links": [link("d", None)], "issues": []},
            {"type": "VirtualMachine", "id": "d", "address": "10.0.2.4", "nextHopIds": [],
             "issues": []},
        ]})


@pytest.mark.parametrize("name", SEEDS)
def test_path_figure_nodes_edges_labels_and_determinism(name: str) -> None:
    r = load(name)
    fig = path_figure(r)
    found = nodes(fig)
    assert set(found) == {h.address for h in r.hops}
    assert len(arrows(fig)) == len(r.edges())
    xs = [found[h.address]["x"] for h in r.hops if h.address]
    assert xs == sorted(xs) and len(set(xs)) == len(xs)  # a chain runs left to right
    for hop in r.hops:
        node = found[hop.address or ""]
        assert hop.type in node["hover"] and (hop.address or "") in node["hover"]
        if hop.all_issues:
            assert node["colour"] == ISSUE and node["symbol"] == "x"
        elif not r.reachable and hop is r.hops[-1]:  # beyond the block, or never answered
            assert node["colour"] != HOP_COLOURS[hop.type] and node["symbol"] == "circle-open"
        else:
            assert node["colour"] == HOP_COLOURS[hop.type] and node["symbol"] == "circle"
    assert fig.layout.paper_bgcolor == "rgba(0,0,0,0)"
    assert fig.layout.title.text.startswith("10.1.1.4")
    assert fig.to_json() == path_figure(load(name)).to_json()
    assert '"uid"' not in fig.to_json()


def test_issue_hover_names_rule_and_explains() -> None:
    hover = nodes(path_figure(load("vm-to-vm-nsg-blocked")))["10.1.3.4"]["hover"]
    assert "RuleName: UserRule_Port80" in hover
    assert "Outbound NSG rule UserRule_Port80 blocks the path" in hover
    assert "Fix:" in hover and "auNic" in hover
    hover = nodes(path_figure(load("vm-to-ip-udr-blocked")))["10.1.1.4"]["hover"]
    assert "RouteType: User" in hover and "route" in hover


def test_branches_spread_vertically_without_overlap() -> None:
    r = branching()
    assert layers(r) == {"s": 0, "a": 1, "b": 1, "d": 2}
    pos = positions(r)
    assert pos["a"][0] == pos["b"][0] and pos["a"][1] != pos["b"][1]
    found = nodes(path_figure(r))
    assert found["10.0.1.4"]["y"] != found["10.0.1.5"]["y"]
    assert len({(n["x"], n["y"]) for n in found.values()}) == 4


def test_rtt_labels_from_links() -> None:
    r = branching()
    labels = sorted(a.text for a in path_figure(r).layout.annotations if not a.showarrow)
    assert labels == ["3 ms", "avg 2 ms"]
    assert rtt_label(None) is None


def test_disconnected_hop_is_still_placed() -> None:
    d = raw("vm-to-vm-nsg-blocked")
    d["hops"].append({"type": "VirtualMachine", "id": "lonely", "address": "10.9.9.9",
                      "nextHopIds": [], "issues": []})
    found = nodes(path_figure(ConnectivityResult.from_dict(d)))
    assert "10.9.9.9" in found and found["10.9.9.9"]["x"] == 4


def test_cycle_does_not_hang() -> None:
    d = raw("vm-to-vm-nsg-blocked")
    d["hops"][3]["nextHopIds"] = [d["hops"][1]["id"]]
    r = ConnectivityResult.from_dict(d)
    assert len(nodes(path_figure(r))) == 4
    sankey_figure(r)


def flows(fig: Any) -> list[tuple[str, str, float]]:
    s = fig.data[0]
    return [(s.node.label[a], s.node.label[b], v)
            for a, b, v in zip(s.link.source, s.link.target, s.link.value, strict=True)]


def terminal_sum(fig: Any) -> float:
    s = fig.data[0]
    sources = set(s.link.source)
    return sum(v for b, v in zip(s.link.target, s.link.value, strict=True) if b not in sources)


def test_sankey_nsg_drop() -> None:
    fig = sankey_figure(load("vm-to-vm-nsg-blocked"))
    assert flows(fig) == [
        ("Source 10.1.1.4", "VirtualAppliance 10.1.2.4", 100),
        ("VirtualAppliance 10.1.2.4", "VirtualAppliance 10.1.3.4", 100),
        ("VirtualAppliance 10.1.3.4", "Dropped: NSG rule UserRule_Port80 (outbound) at 10.1.3.4",
         100),
    ]
    assert terminal_sum(fig) == 100
    assert "100 probes" in fig.layout.title.text


def test_sankey_udr_drop_and_reachable_delivery() -> None:
    fig = sankey_figure(load("vm-to-ip-udr-blocked"))
    assert flows(fig) == [("Source 10.1.1.4", "Dropped: User route to None at 10.1.1.4", 100)]
    fig = sankey_figure(load("vm-to-website-reachable"))
    assert flows(fig) == [("Source 10.1.1.4", "Internet 204.79.197.200", 100)]


def test_sankey_unreachable_without_issue_is_lost() -> None:
    d = raw("vm-to-vm-nsg-blocked")
    for hop in d["hops"]:
        hop["issues"] = []
    fig = sankey_figure(ConnectivityResult.from_dict(d))
    assert ("VirtualAppliance 10.1.3.4", "Lost: no answer from 10.1.4.4", 100) in flows(fig)
    assert terminal_sum(fig) == 100


def test_sankey_partial_loss_and_branches_sum() -> None:
    r = branching()
    d = r.to_dict()
    d["probesFailed"] = 10
    fig = sankey_figure(ConnectivityResult.from_dict(d))
    assert terminal_sum(fig) == pytest.approx(100)
    delivered = sum(v for _, b, v in flows(fig) if b == "VirtualMachine 10.0.2.4")
    assert delivered == pytest.approx(90)
    assert sum(v for _, b, v in flows(fig) if b.startswith("Lost:")) == pytest.approx(10)


def test_sankey_without_probe_figures_uses_one_unit() -> None:
    d = raw("vm-to-ip-udr-blocked")
    del d["probesSent"], d["probesFailed"]
    fig = sankey_figure(ConnectivityResult.from_dict(d))
    assert flows(fig) == [("Source 10.1.1.4", "Dropped: User route to None at 10.1.1.4", 1)]
    assert "1 unit" in fig.layout.title.text


def test_sankey_deterministic() -> None:
    for name in SEEDS:
        assert sankey_figure(load(name)).to_json() == sankey_figure(load(name)).to_json()


def test_result_methods_return_figures() -> None:
    r = load("vm-to-vm-nsg-blocked")
    assert r.path_figure().to_json() == path_figure(r).to_json()
    assert r.sankey_figure().data[0].type == "sankey"
