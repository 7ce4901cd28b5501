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


# -- labels, the block and what lies beyond it (issue 12, face item 9) ---------------------------


def edge_styles(fig: Any) -> dict[tuple[float, float], str]:
    """Start x of each edge -> the style of the trace that draws it."""
    out = {}
    for trace in fig.data:
        if trace.name.startswith("edges:"):
            for k in range(0, len(trace.x), 3):
                out[(trace.x[k], trace.x[k + 1])] = trace.name.removeprefix("edges: ")
    return out


def test_hops_are_labelled_with_name_and_address() -> None:
    found = nodes(path_figure(load("vm-to-vm-nsg-blocked")))
    assert found["10.1.1.4"]["label"] == "appNic0<br>10.1.1.4"
    assert found["10.1.3.4"]["label"] == "auNic<br>10.1.3.4"
    assert found["10.1.4.4"]["label"] == "dbNic0<br>10.1.4.4"
    # resourceId "Unknown" is the service's placeholder, not a name.
    assert nodes(path_figure(load("vm-to-ip-udr-blocked")))["13.107.21.200"]["label"] == "13.107.21.200"
    # A hop with neither name nor address is still labelled, by its type.
    d = raw("vm-to-vm-nsg-blocked")
    d["hops"][1].pop("address")
    d["hops"][1].pop("resourceId")
    labels = [t for tr in path_figure(ConnectivityResult.from_dict(d)).data
              if not tr.name.startswith("edges:") and tr.name != "links" for t in tr.text]
    assert "VirtualAppliance" in labels


@pytest.mark.parametrize("name,rule,at", [
    ("vm-to-vm-nsg-blocked", "NSG rule UserRule_Port80 (outbound) at 10.1.3.4", 2),
    ("vm-to-ip-udr-blocked", "User route to None at 10.1.1.4", 0),
])
def test_the_blocking_rule_is_written_on_the_figure_at_its_hop(name: str, rule: str, at: int) -> None:
    fig = path_figure(load(name))
    (mark,) = [a for a in fig.layout.annotations if a.name == "blocked here"]
    assert rule in mark.text and mark.x == at and mark.font.color == ISSUE
    reachable = path_figure(load("vm-to-website-reachable"))
    assert not [a for a in reachable.layout.annotations if a.name == "blocked here"]


@pytest.mark.parametrize("name,blocked_from", [("vm-to-vm-nsg-blocked", 2),
                                               ("vm-to-ip-udr-blocked", 0)])
def test_what_lies_beyond_a_block_is_drawn_as_not_reached(name: str, blocked_from: int) -> None:
    r = load(name)
    fig = path_figure(r)
    styles = edge_styles(fig)
    for (x0, _), style in styles.items():
        assert style == ("not reached" if x0 >= blocked_from else "ok"), (x0, style)
    dotted = next(t for t in fig.data if t.name == "edges: not reached")
    assert dotted.line.dash == "dot"
    dest = nodes(fig)[r.hops[-1].address or ""]
    assert dest["trace"] == "Not reached" and dest["symbol"] == "circle-open"
    assert "Not reached" in dest["hover"]


def test_an_unreachable_destination_without_issue_is_not_reached() -> None:
    d = raw("vm-to-vm-nsg-blocked")
    for hop in d["hops"]:
        hop["issues"] = []
    fig = path_figure(ConnectivityResult.from_dict(d))
    found = nodes(fig)
    assert found["10.1.4.4"]["trace"] == "Not reached"
    assert all(found[a]["trace"] != "Not reached" for a in ("10.1.1.4", "10.1.2.4", "10.1.3.4"))
    assert edge_styles(fig)[(2.0, 3.0)] == "not reached"


@pytest.mark.parametrize("status", ["Unreachable", "Disconnected", "Unknown", "SomethingNew"])
def test_a_destination_not_reached_is_never_drawn_green(status: str) -> None:
    for name in SEEDS:
        d = raw(name)
        d["connectionStatus"] = status
        fig = path_figure(ConnectivityResult.from_dict(d))
        dest = nodes(fig)[d["hops"][-1]["address"]]
        assert dest["colour"] not in (HOP_COLOURS["VirtualMachine"], HOP_COLOURS["Destination"],
                                      HOP_COLOURS["Internet"]), (name, status)


def test_a_blocked_ecmp_branch_leaves_the_destination_reached_by_the_other() -> None:
    d = branching().to_dict()
    d["connectionStatus"] = "Unreachable"
    d["hops"][1]["issues"] = [{"origin": "Outbound", "severity": "Error",
                               "type": "NetworkSecurityRule",
                               "context": [{"key": "RuleName", "value": "UserRule_Deny"}]}]
    found = nodes(path_figure(ConnectivityResult.from_dict(d)))
    assert found["10.0.1.4"]["trace"] == "Issue found here"
    assert found["10.0.2.4"]["trace"] != "Not reached"  # the other appliance still forwards


@pytest.mark.parametrize("kind,requested", [("url", "https://bing.com/search?q=x"),
                                            ("host", "bing.com")])
def test_a_url_or_host_check_names_the_host(kind: str, requested: str) -> None:
    r = ConnectivityResult.from_dict(raw("vm-to-website-reachable"),
                                     meta={"destination": requested, "destination_kind": kind})
    fig = path_figure(r)
    assert nodes(fig)["204.79.197.200"]["label"] == "bing.com<br>204.79.197.200"
    assert "reaches bing.com (204.79.197.200)" in fig.layout.title.text
    assert "delivered to bing.com (204.79.197.200)" in sankey_figure(r).layout.title.text
    plain = path_figure(load("vm-to-website-reachable"))  # no inputs known: the address only
    assert "bing.com" not in plain.to_json()


# -- hostile ids and long paths (issue 9, items 11 and 13) -----------------------------------------


def test_duplicate_hop_ids_are_drawn_as_distinct_hops() -> None:
    d = raw("vm-to-vm-nsg-blocked")
    for hop in d["hops"]:
        hop["id"] = "same"
        hop["nextHopIds"] = ["same", "dangling"]
    r = ConnectivityResult.from_dict(d)
    found = nodes(path_figure(r))
    assert len(found) == 4 and len({(n["x"], n["y"]) for n in found.values()}) == 4
    sankey_figure(r)


def chain(n: int) -> ConnectivityResult:
    """n hops listed last to first, each pointing at the next: the worst order for relaxation."""
    hops = [{"type": "VirtualAppliance", "id": f"h{i}", "address": f"10.0.{i // 256}.{i % 256}",
             "nextHopIds": [f"h{i + 1}"] if i < n - 1 else [], "issues": [],
             "links": [{"nextHopId": f"h{i + 1}", "properties": {"roundTripTimeAvg": 1}}]
             if i < n - 1 else []}
            for i in range(n)]
    return ConnectivityResult.from_dict({"connectionStatus": "Reachable", "hops": hops[::-1]})


def test_a_long_path_is_laid_out_in_order_with_a_fixed_number_of_traces() -> None:
    r = chain(3000)  # deeper than Python's recursion limit, in reverse order
    column = layers(r)
    assert [column[f"h{i}"] for i in range(3000)] == list(range(3000))
    fig = path_figure(r)
    # Edges are grouped by style (not one shape or annotation each): the figure's size grows
    # with the data arrays only. The annotations left are the RTT labels.
    assert len(fig.data) <= 6
    assert len(arrows(fig)) == 2999
    assert all(not a.showarrow for a in fig.layout.annotations)
    assert len(fig.layout.annotations) == 2999


def test_a_cycle_is_broken_where_it_closes() -> None:
    d = raw("vm-to-vm-nsg-blocked")
    d["hops"][3]["nextHopIds"] = [d["hops"][1]["id"]]  # the destination points back
    r = ConnectivityResult.from_dict(d)
    assert list(layers(r).values()) == [0, 1, 2, 3]


# -- every service string is text, not markup (issue 9, item 12) --------------------------------

HOSTILE = "<script>alert(1)</script><b>bold</b><img src=x onerror=alert(1)>&amp;"


def all_strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in all_strings(v)]
    if isinstance(value, list | tuple):
        return [s for v in value for s in all_strings(v)]
    return []


def hostile_result() -> ConnectivityResult:
    d = raw("vm-to-vm-nsg-blocked")
    for hop in d["hops"]:
        hop["type"] = f"Type{HOSTILE}"
        hop["address"] = f"{hop['address']}{HOSTILE}"
        hop["resourceId"] = hop["resourceId"].replace("Nic", f"Nic{HOSTILE}")
    d["hops"][2]["issues"][0]["context"][0]["value"] = f"UserRule_{HOSTILE}"
    d["hops"][2]["issues"][0]["type"] = f"Kind{HOSTILE}"
    d["connectionStatus"] = f"Unreachable{HOSTILE}"
    return ConnectivityResult.from_dict(d)


@pytest.mark.parametrize("render", [path_figure, sankey_figure])
def test_service_strings_are_escaped_in_labels_legend_hover_and_titles(render: Any) -> None:
    fig = render(hostile_result())
    texts = all_strings(fig.to_plotly_json())
    for tag in ("<script", "<b>bold", "<img"):
        assert not any(tag in t for t in texts), tag
    joined = "\n".join(texts)
    assert "&lt;script&gt;" in joined and "&lt;b&gt;bold&lt;/b&gt;" in joined
    assert "&quot;" not in joined  # Plotly shows &quot; literally: quotes are left as they are
    assert "&amp;amp;" in joined  # an entity in the service's text shows as typed


# -- the mesh heatmap's labels (issue 12, face item 2; drawn by a browser in test_viz_browser) ----


def heatmap_batch(sources: list[str], ports: list[int], destination: str = "Database0") -> Any:
    from nwlab.batch import BatchEntry, BatchResult

    body = raw("vm-to-website-reachable")
    return BatchResult([BatchEntry(i, {"source": s, "destination": destination, "port": p},
                                   ConnectivityResult.from_dict(body))
                        for i, (s, p) in enumerate((s, p) for s in sources for p in ports)])


def test_heatmap_orders_ports_as_numbers() -> None:
    fig = heatmap_batch(["vm1"], [3389, 80, 1433, 22, 443]).heatmap_figure()
    assert list(fig.data[0].x) == [f"Database0:{p}" for p in (22, 80, 443, 1433, 3389)]


@pytest.mark.parametrize("source", ["p0", "ContosoWebFrontEndScaleSetInstance0",
                                    "a-very-long-source-virtual-machine-name-in-westeurope-0"])
def test_heatmap_margins_hold_the_longest_labels_and_the_title(source: str) -> None:
    destination = "sqlserver-prod-westeurope.database.windows.net"
    fig = heatmap_batch([source, "vm1"], [80, 1433], destination).heatmap_figure()
    layout = fig.layout
    assert layout.xaxis.automargin and layout.yaxis.automargin
    # At least ~0.6 em per character of the longest row label, so it is never cut on the left.
    assert layout.margin.l >= 0.6 * 12 * len(source)
    # The top margin holds the title and the slanted column labels (sin 30 deg of their length).
    longest = len(f"{destination}:1433")
    assert layout.xaxis.tickangle == -30
    assert layout.margin.t >= 14 + 0.5 * 0.6 * 12 * longest
    assert layout.title.yref == "container" and layout.title.y == 1
    assert layout.title.yanchor == "top"


def test_heatmap_labels_are_escaped() -> None:
    fig = heatmap_batch(["<b>vm</b>"], [80], destination="<img src=x>").heatmap_figure()
    texts = all_strings(fig.to_plotly_json())
    assert not any("<b>vm" in t or "<img" in t for t in texts)
    assert "&lt;b&gt;vm&lt;/b&gt;" in list(fig.data[0].y)
