"""The four documented checks against the bundled Contoso topology, through HTTP."""

from __future__ import annotations

import copy
import itertools
from typing import Any

import pytest

from .conftest import Client


def _without_ids(result: dict[str, Any]) -> dict[str, Any]:
    """The seed documents' shape only: ids and the post-2020 link fields aside."""
    out = copy.deepcopy(result)
    for hop in out["hops"]:
        for k in ("id", "nextHopIds", "previousHopIds", "links", "previousLinks"):
            hop.pop(k, None)
    return out


SEEDS = ["vm-to-vm-nsg-blocked", "vm-to-ip-udr-blocked", "vm-to-website-reachable",
         "vm-to-storage-reachable"]


@pytest.mark.parametrize("name", SEEDS)
def test_documented_check_reproduced_over_http(contoso: Client, seeds: dict[str, Any],
                                               name: str) -> None:
    scenario = next(s for s in seeds["scenarios"] if s["name"] == name)
    req = scenario["request"]
    result = contoso.lro(req["url"], req["body"])
    assert result.status_code == 200
    got = result.json()
    assert _without_ids(got) == _without_ids(scenario["result"])
    # The graph is consistent: nextHopIds point at the following hop, previousHopIds back.
    hops = got["hops"]
    for before, after in itertools.pairwise(hops):
        assert before["nextHopIds"] == [after["id"]] == [before["links"][0]["nextHopId"]]
        assert after["previousHopIds"] == [before["id"]]
        assert after["previousLinks"][0]["nextHopId"] == before["id"]


def test_seed_one_on_explicit_port_80_equals_port_0(contoso: Client,
                                                    seeds: dict[str, Any]) -> None:
    """Port 0 means 'no port given' -> port 80, the answer the document shows (seed 1)."""
    req = seeds["scenarios"][0]["request"]
    body80 = copy.deepcopy(req["body"])
    body80["destination"]["port"] = 80
    at80 = contoso.lro(req["url"], body80).json()
    at0 = contoso.lro(req["url"], req["body"]).json()
    assert _without_ids(at80) == _without_ids(at0) == _without_ids(seeds["scenarios"][0]["result"])
    # ... while another port is not blocked by Port80 (so port 0 really did check 80).
    body1433 = copy.deepcopy(req["body"])
    body1433["destination"]["port"] = 1433
    at1433 = contoso.lro(req["url"], body1433).json()
    assert all(not h["issues"] for h in at1433["hops"])
    assert at1433["connectionStatus"] == "Reachable"


def test_same_check_gives_byte_identical_result(contoso: Client, seeds: dict[str, Any]) -> None:
    req = seeds["scenarios"][0]["request"]
    first = contoso.lro(req["url"], req["body"]).content
    second = contoso.lro(req["url"], req["body"]).content
    assert first == second


def test_accepted_response_matches_the_documented_protocol(contoso: Client,
                                                           seeds: dict[str, Any]) -> None:
    req = seeds["scenarios"][2]["request"]
    resp = contoso.request("POST", req["url"], json=req["body"])
    assert resp.status_code == 202 and resp.text == "null"
    op_id = resp.headers["x-ms-request-id"]
    assert resp.headers["Location"] == (
        f"{contoso.server.endpoint}/subscriptions/00000000-0000-0000-0000-000000000000/providers/"
        f"Microsoft.Network/locations/westcentralus/operationResults/{op_id}"
        "?api-version=2017-03-01")
    assert resp.headers["Retry-After"] == "0"
    assert resp.headers["x-ms-correlation-request-id"]


VMS = ("/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/ContosoRG/"
       "providers/Microsoft.Compute/virtualMachines/")
WATCHER_URL = ("/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/"
               "NetworkWatcherRG/providers/Microsoft.Network/networkWatchers/"
               "NetworkWatcher_westcentralus/connectivityCheck?api-version=2024-05-01")


@pytest.mark.parametrize(("destination", "port", "status", "issues"), [
    ("Database0", 1433, "Reachable", []),
    ("Database0", 3389, "Unreachable", ["NetworkSecurityRule/UserRule_DenyRdpFromWeb"]),
    ("Database0", 22, "Unreachable", ["GuestFirewall/"]),
    ("Database0", 5432, "Unreachable", ["NoListenerOnDestination/"]),
    ("Reporting0", 80, "Unreachable", []),
])
def test_contoso_teaching_paths(contoso: Client, destination: str, port: int, status: str,
                                issues: list[str]) -> None:
    result = contoso.lro(WATCHER_URL, {"source": {"resourceId": VMS + "WebVM0"},
                                       "destination": {"resourceId": VMS + destination,
                                                       "port": port}}).json()
    assert result["connectionStatus"] == status
    found = [f"{i['type']}/" + ",".join(c["value"] for c in i["context"])
             for h in result["hops"] for i in h["issues"]]
    assert found == issues
