"""The rich repr: badge, figures, verdict, findings with fixes, hop table, escaping, no Plotly."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from nwlab.explain import verdict_sentence
from nwlab.model import ConnectivityResult
from nwlab.viz.html import result_html

DATA = Path(__file__).parent / "data" / "results"


def load(name: str) -> ConnectivityResult:
    return ConnectivityResult.from_dict(json.loads((DATA / f"{name}.json").read_text()))


def test_blocked_result_html() -> None:
    r = load("vm-to-vm-nsg-blocked")
    markup = r._repr_html_()
    assert markup == result_html(r)
    assert "&#x2716; Unreachable" in markup  # icon and word, not colour alone
    assert "100 of 100 probes failed" in markup
    assert verdict_sentence(r) in markup
    assert "Outbound NSG rule UserRule_Port80 blocks the path at 10.1.3.4" in markup
    assert "Fix:" in markup
    nsg_docs = "https://learn.microsoft.com/azure/virtual-network/network-security-groups-overview"
    assert f'href="{nsg_docs}"' in markup
    assert markup.count("<tr>") == 1 + 4  # header + hops
    assert "auNic" in markup and "VirtualAppliance" in markup


def test_reachable_result_html() -> None:
    markup = load("vm-to-website-reachable")._repr_html_()
    assert "&#x2714; Reachable" in markup
    assert "latency avg 1 ms (min 0 ms, max 7 ms)" in markup
    assert "0 of 100 probes failed" in markup


def test_everything_is_escaped() -> None:
    d = json.loads((DATA / "vm-to-vm-nsg-blocked.json").read_text())
    d["hops"][2]["issues"][0]["context"][0]["value"] = "UserRule_<script>alert(1)</script>"
    d["hops"][1]["type"] = "<img src=x>"
    markup = ConnectivityResult.from_dict(d)._repr_html_()
    assert "<script>" not in markup and "<img" not in markup
    assert "&lt;script&gt;" in markup and "&lt;img src=x&gt;" in markup


def test_deterministic_and_no_ids() -> None:
    r = load("vm-to-ip-udr-blocked")
    assert result_html(r) == result_html(load("vm-to-ip-udr-blocked"))
    assert " id=" not in result_html(r) and "<style" not in result_html(r)


def test_html_module_does_not_import_plotly() -> None:
    path = str(DATA / "vm-to-vm-nsg-blocked.json")
    code = ("import sys, json; from nwlab.model import ConnectivityResult; "
            f"r = ConnectivityResult.from_dict(json.load(open({path!r}))); "
            "r._repr_html_(); print('plotly' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={"PYTHONPATH": str(Path(__file__).parents[1] / "toolkit")})
    assert out.stdout.strip() == "False"


def test_markup_in_any_service_string_shows_as_text() -> None:
    hostile = "<script>alert(1)</script><b>b</b><img src=x onerror=alert(1)>"
    d = json.loads((DATA / "vm-to-vm-nsg-blocked.json").read_text())
    d["connectionStatus"] = "Unreachable" + hostile
    for hop in d["hops"]:
        hop["type"] += hostile
        hop["address"] += hostile
        hop["resourceId"] += hostile
    d["hops"][2]["issues"][0]["type"] = hostile
    d["hops"][2]["issues"][0]["origin"] = hostile
    d["hops"][2]["issues"][0]["context"].append({"key": hostile, "value": hostile})
    r = ConnectivityResult.from_dict(d, meta={"destination": hostile, "destination_kind": "host"})
    for markup in (r._repr_html_(), r.explain()._repr_html_()):
        for tag in ("<script", "<b>", "<img"):
            assert tag not in markup, tag
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in markup


def test_a_report_shows_service_markup_as_text(tmp_path: Path) -> None:
    """The report embeds the rich repr and the figures' JSON: neither lets a service string out
    as markup (hop ids go into the figure data too)."""
    from nwlab.report import export_html

    hostile = "</script><script>alert(1)</script><b>x</b>"
    d = json.loads((DATA / "vm-to-vm-nsg-blocked.json").read_text())
    for hop in d["hops"]:
        hop["id"] += hostile
        hop["type"] += hostile
        hop["nextHopIds"] = [n + hostile for n in hop["nextHopIds"]]
    d["hops"][2]["issues"][0]["context"][0]["value"] = "UserRule_" + hostile
    page = export_html(ConnectivityResult.from_dict(d), tmp_path / "r.html", redact=False)
    text = page.read_text()
    assert "<script>alert" not in text and "<b>x" not in text
