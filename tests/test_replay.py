"""Replay of the bundled cassettes: the four documented checks reproduce the documented results
exactly, fast, from many threads at once; anything else fails loudly, naming cassette and request."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

import nwlab
from fakearm import VM_ID, WATCHER_ID
from nwlab.recording import Cassette
from nwlab.redact import PSEUDONYM_GUID_PREFIX

# (scenario, destination, port) exactly as the documents ask them.
CHECKS = [
    ("vm-to-vm-nsg-blocked", "Database0", 0),
    ("vm-to-vm-nsg-blocked", "Database0", 80),
    ("vm-to-ip-udr-blocked", "13.107.21.200", 80),
    ("vm-to-website-reachable", "https://bing.com", 0),
    ("vm-to-website-reachable", "https://bing.com", None),
    ("vm-to-storage-reachable", "https://build2017nwdiag360.blob.core.windows.net/", 0),
    ("vm-to-storage-reachable", "https://build2017nwdiag360.blob.core.windows.net/", None),
]
IDS = [f"{name}-port{port}" for name, _, port in CHECKS]
FAST = 0.5  # seconds a replayed check may take; the recordings hold 10 s Retry-After hints


@pytest.fixture(scope="module")
def nw():
    client = nwlab.replay()
    yield client
    client.close()


@pytest.mark.parametrize("with_watcher", [False, True], ids=["discovered", "watcher-given"])
@pytest.mark.parametrize("name,destination,port", CHECKS, ids=IDS)
def test_documented_check_reproduces_the_documented_result(nw, seeds, name, destination, port,
                                                           with_watcher):
    extra = {"watcher": WATCHER_ID} if with_watcher else {}
    started = time.monotonic()
    r = nw.check("MultiTierApp0", destination, port, resource_group="ContosoRG", **extra)
    assert time.monotonic() - started < FAST
    assert r.to_dict() == seeds[name]["result"]
    assert r.meta["backend"] == "replay"
    assert r.meta["watcher"] == WATCHER_ID
    assert r.meta["polls"] == 2  # one intermediate 202, then the 200


def test_documented_request_ids_are_kept(nw, seeds):
    """Replay reports the request ids its cassette holds. Recording gives every GUID a pseudonym
    (the documented ones too), one per GUID, so the documented pairing survives: the POST's
    request id is the operation id in its Location, and the polls carry the same ids."""
    r = nw.check("MultiTierApp0", "13.107.21.200", 80, resource_group="ContosoRG")
    cassette = Cassette.load(Path(nwlab.__file__).parent / "cassettes" / "vm-to-ip-udr-blocked.json")
    post = next(i for i in cassette.interactions if i.method == "POST")
    headers = seeds["vm-to-ip-udr-blocked"]["accepted"]["headers"]
    assert headers["Location"].split("?")[0].endswith(headers["x-ms-request-id"])
    assert r.meta["request_id"] == post.headers["x-ms-request-id"] != headers["x-ms-request-id"]
    assert r.meta["request_id"].startswith(PSEUDONYM_GUID_PREFIX)
    assert post.headers["Location"].split("?")[0].endswith("/" + r.meta["request_id"])
    assert r.meta["correlation_id"] == post.headers["x-ms-correlation-request-id"]
    polls = [i for i in cassette.interactions if "/operationResults/" in i.url]
    assert {p.headers["x-ms-correlation-request-id"] for p in polls} == {r.meta["correlation_id"]}


def test_replay_does_not_sleep_even_with_a_10s_retry_after(nw, monkeypatch):
    def no_sleep(seconds: float) -> None:
        raise AssertionError(f"replay slept {seconds} s")

    monkeypatch.setattr(time, "sleep", no_sleep)
    started = time.monotonic()
    for _ in range(5):
        nw.check("MultiTierApp0", "https://bing.com", resource_group="ContosoRG")
    assert time.monotonic() - started < 5 * FAST


def test_a_check_can_be_replayed_again_and_again(seeds):
    client = nwlab.replay()
    results = [client.check("MultiTierApp0", "Database0", 80, resource_group="ContosoRG")
               for _ in range(3)]
    assert all(r.to_dict() == seeds["vm-to-vm-nsg-blocked"]["result"] for r in results)


def test_concurrent_checks_on_one_replay_client_are_all_correct(seeds):
    client = nwlab.replay()
    work = CHECKS * 6

    def one(item):
        name, destination, port = item
        r = client.check("MultiTierApp0", destination, port, resource_group="ContosoRG")
        return name, r.to_dict()

    with ThreadPoolExecutor(max_workers=12) as pool:
        done = list(pool.map(one, work))
    assert len(done) == len(work)
    for name, result in done:
        assert result == seeds[name]["result"], name


def test_unmatched_check_names_the_cassettes_and_the_request(nw):
    with pytest.raises(nwlab.ReplayMismatch) as info:
        nw.check("MultiTierApp0", "10.9.9.9", 22, resource_group="ContosoRG")
    text = str(info.value)
    assert "POST" in text and "/connectivityCheck" in text
    assert '"address": "10.9.9.9"' in text and '"port": 22' in text
    assert "vm-to-ip-udr-blocked" in text and "bundled seed cassettes" in text
    assert "Traceback" not in text


def test_unmatched_read_names_the_path(nw):
    with pytest.raises(nwlab.ReplayMismatch) as info:
        nw.check("WebServer9", "10.1.4.4", 80, resource_group="ContosoRG")
    assert "GET /subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/ContosoRG" \
           "/providers/Microsoft.Compute/virtualMachines/WebServer9" in str(info.value)


def test_a_different_port_does_not_match(nw):
    with pytest.raises(nwlab.ReplayMismatch):
        nw.check("MultiTierApp0", "13.107.21.200", 443, resource_group="ContosoRG")


def test_paths_and_ids_match_without_case(nw, seeds):
    r = nw.check(VM_ID.lower(), "13.107.21.200", 80, watcher=WATCHER_ID.upper())
    assert r.to_dict() == seeds["vm-to-ip-udr-blocked"]["result"]
    r = nw.check("multitierapp0", "database0", 80, resource_group="CONTOSORG")
    assert r.to_dict() == seeds["vm-to-vm-nsg-blocked"]["result"]


def test_inventory_is_replayed(nw):
    assert nw.list_resource_groups() == ["ContosoExampleRG", "ContosoRG", "NetworkWatcherRG"]
    frame = nw.list_vms("ContosoRG")
    assert list(frame["name"]) == ["Database0", "MultiTierApp0"]
    assert set(frame["power_state"]) == {"running"} and frame["agent"].all()


def test_replay_from_a_folder_or_a_file(tmp_path, seeds):
    bundled = Path(nwlab.__file__).parent / "cassettes"
    one = bundled / "vm-to-ip-udr-blocked.json"
    client = nwlab.replay(str(one))
    r = client.check("MultiTierApp0", "13.107.21.200", 80, resource_group="ContosoRG")
    assert r.to_dict() == seeds["vm-to-ip-udr-blocked"]["result"]
    with pytest.raises(nwlab.ReplayMismatch) as info:
        client.check("MultiTierApp0", "Database0", 80, resource_group="ContosoRG")
    assert "vm-to-ip-udr-blocked" in str(info.value) and str(one) in str(info.value)
    folder = nwlab.replay(bundled)
    assert folder.check("MultiTierApp0", "Database0", 80,
                        resource_group="ContosoRG").status == "Unreachable"


@pytest.mark.parametrize("source,error", [("/no/such/folder", ValueError), (5, TypeError)])
def test_bad_cassette_source_is_refused_with_an_example(source, error, tmp_path):
    with pytest.raises(error, match=r"^cassettes: .*e\.g\."):
        nwlab.replay(source)


def test_empty_folder_is_refused(tmp_path):
    with pytest.raises(ValueError, match=r"^cassettes: "):
        nwlab.replay(tmp_path)


def test_replay_lists_vms_of_the_whole_subscription_and_of_a_group():
    nw = nwlab.replay()
    everything = nw.list_vms()
    assert set(everything["name"]) == {"ContosoVM", "Database0", "MultiTierApp0"}
    assert list(nw.list_vms("ContosoRG")["name"]) == ["Database0", "MultiTierApp0"]
    assert nw.list_resource_groups() == ["ContosoExampleRG", "ContosoRG", "NetworkWatcherRG"]
