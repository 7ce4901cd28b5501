"""nw.snapshot(via="resource-graph") end to end against the emulator's Resource Graph: the result
loads as a new twin that answers like the original; paging, throttling (waited), a denied
subscription (in the coverage record), resume after an interruption, and the dispatch rules."""

from __future__ import annotations

import io
import json
import uuid
from pathlib import Path
from unittest.mock import patch

import pytest

import nwlab
from nwlab.arm.errors import ArmError
from nwlab.arm.resource_graph import ResourceGraph
from nwlab.emulator import DEFAULT_TOPOLOGY_PATH
from nwlab.emulator.chaos import Chaos, Status
from nwlab.progress import auto_progress
from nwlab.snapshot_graph import STEPS, SnapshotError, SnapshotProgress, take_graph_snapshot

ZERO = "00000000-0000-0000-0000-000000000000"
RG = r"/providers/Microsoft.ResourceGraph/resources$"
CHECKS = [("MultiTierApp0", "Database0", 80), ("MultiTierApp0", "Database0", 22),
          ("MultiTierApp0", "13.107.21.200", 80), ("MultiTierApp0", "13.107.21.200", 443)]


def rg_posts(nw) -> int:
    return nw.emulator.app.resource_graph.queries + nw.emulator.app.resource_graph.throttled


def test_snapshot_through_resource_graph_answers_every_check_like_the_original(private_network, tmp_path):
    nw, subscription = private_network
    path = tmp_path / "estate.json"
    topology = nw.snapshot(path=path, subscriptions=[subscription], progress=False)
    text = path.read_text()
    assert subscription not in text and "someone@contoso.example" not in text
    assert json.loads(text) == topology
    assert not (tmp_path / "estate.json.partial.json").exists()
    coverage = topology["snapshot"]["coverage"]
    assert coverage == {"read": [{"subscriptionId": ZERO, "state": "Enabled"}], "denied": [],
                        "skipped": [], "incomplete": []}
    arm = nw.snapshot(keep_subscription=False)  # ARM GETs of the whole subscription
    assert sorted(r["id"] for r in topology["resources"]) == \
        sorted(r["id"] for r in arm["resources"])
    # What runs inside the guests (listeners, guest firewall, DNS) no Azure API reports: a
    # snapshot carries the twin's defaults, and the original's guest behaviour is given back
    # here, as a user writes it into a snapshot (docs/resource-graph.md). Without it Database0's
    # guest firewall (port 22 denied) is the one check that differs.
    assert topology["emulation"] == {"dns": {}, "probes": 100}
    original = json.loads(Path(DEFAULT_TOPOLOGY_PATH).read_text(encoding="utf-8"))["emulation"]
    twin = nwlab.emulate({**topology, "emulation": original}, check_seconds=0, retry_after=0)
    try:
        for source, destination, port in CHECKS:
            live = nw.check(source, destination, port, resource_group="ContosoRG")
            offline = twin.check(source, destination, port, resource_group="ContosoRG")
            assert offline.status == live.status
            assert [h.type for h in offline.hops] == [h.type for h in live.hops]
            assert [i.to_dict() for i in offline.issues] == [i.to_dict() for i in live.issues]
    finally:
        twin.close()


def test_auto_uses_resource_graph_for_an_estate_and_arm_for_a_group(private_network):
    nw, subscription = private_network
    before = rg_posts(nw)
    nw.snapshot("ContosoRG", progress=False)
    assert rg_posts(nw) == before
    estate_topology = nw.snapshot(subscriptions=[subscription], progress=False)
    assert rg_posts(nw) == before + len(STEPS) + 1
    assert estate_topology["snapshot"]["via"] == "resource-graph"


def test_paging_reads_every_row(private_network):
    nw, subscription = private_network
    whole = nw.snapshot(subscriptions=[subscription], progress=False)
    nw.emulator.app.resource_graph.page_size = 2
    paged = nw.snapshot(subscriptions=[subscription], progress=False)
    assert paged["resources"] == whole["resources"]
    assert paged["snapshot"]["queries"]["pages"] > whole["snapshot"]["queries"]["pages"]


def test_throttling_waits_and_does_not_fail(private_network):
    nw, subscription = private_network
    service = nw.emulator.app.resource_graph
    service.quota, service.quota_window_s = 4, 0.3
    graph = ResourceGraph(nw.arm, min_wait=0.05)
    topology = take_graph_snapshot(nw, subscriptions=[subscription], progress=False, graph=graph)
    stats = topology["snapshot"]["queries"]
    assert stats["quota_waits"] + stats["throttled"] >= 1
    assert len(topology["resources"]) > 20


def test_a_denied_subscription_is_named_in_the_coverage_record(private_network):
    nw, subscription = private_network
    other = str(uuid.uuid4())
    nw.emulator.app.resource_graph.denied.add(other)
    topology = nw.snapshot(subscriptions=[subscription, other], progress=False)
    coverage = topology["snapshot"]["coverage"]
    assert [e["subscriptionId"] for e in coverage["read"]] == [ZERO]
    assert [e["subscriptionId"] for e in coverage["denied"]] == [ZERO[:-1] + "1"]
    assert "cannot read" in coverage["denied"][0]["reason"]
    assert other not in json.dumps(topology)
    kept = nw.snapshot(subscriptions=[subscription, other], keep_subscription=True,
                       progress=False)
    assert kept["snapshot"]["coverage"]["denied"][0]["subscriptionId"] == other


def test_every_subscription_denied_is_an_error(private_network):
    nw, subscription = private_network
    nw.emulator.app.resource_graph.denied.add(subscription)
    with pytest.raises(ArmError) as caught:
        nw.snapshot(subscriptions=[subscription], progress=False)
    assert caught.value.code == "NoValidSubscriptionsInQueryRequest"


def test_disabled_subscription_is_skipped_with_its_reason(private_network, monkeypatch):
    nw, subscription = private_network
    from nwlab import snapshot_graph

    state = {"done": {"coverage": [{"subscriptionId": subscription,
                                    "properties": {"state": "Disabled"}}]},
             "stats": {}}
    with pytest.raises(SnapshotError, match="1 skipped"):
        snapshot_graph._assemble(nw, state, [subscription])


def test_an_interrupted_snapshot_resumes_where_it_stopped(private_network, tmp_path):
    nw, subscription = private_network
    path = tmp_path / "estate.json"
    # The fourth query fails (a refusal, not retried): three queries are saved.
    nw.emulator.chaos = Chaos().on("POST", RG, Status(403, "AuthorizationFailed"), nth=[4])
    with pytest.raises(ArmError):
        nw.snapshot(path=path, subscriptions=[subscription], progress=False)
    state = tmp_path / "estate.json.partial.json"
    assert state.exists() and not path.exists()
    assert len(json.loads(state.read_text())["done"]) == 3
    nw.emulator.chaos = None
    before = rg_posts(nw)
    resumed = nw.snapshot(path=path, subscriptions=[subscription], progress=False)
    assert rg_posts(nw) - before == len(STEPS) + 1 - 3
    assert not state.exists()
    fresh = nw.snapshot(subscriptions=[subscription], progress=False)
    assert resumed["resources"] == fresh["resources"]


def _saved_state(nw, path, subscription):
    """The resume state of a snapshot interrupted after its first query."""
    nw.emulator.chaos = Chaos().on("POST", RG, Status(403, "AuthorizationFailed"), nth=[2])
    with pytest.raises(ArmError):
        nw.snapshot(path=path, subscriptions=[subscription], progress=False)
    nw.emulator.chaos = None
    state = Path(str(path) + ".partial.json")
    return state, json.loads(state.read_text())


@pytest.mark.parametrize("change, words", [
    (lambda s: {**s, "scope": {"subscriptions": [str(uuid.uuid4())]}}, "another scope"),
    (lambda s: {**s, "scope": {"management_groups": ["ProductionMG"]}},
     "management group ProductionMG"),
    (lambda s: {**s, "version": 1}, "another nwlab version"),
    (lambda s: {**s, "queries": {**s["queries"], "coverage": "ResourceContainers | project id"}},
     "other queries (coverage)"),
    (lambda s: [s], "unknown shape"),
])
def test_a_resume_state_of_another_scope_or_query_is_refused_clearly(private_network, tmp_path, change,
                                                                      words):
    nw, subscription = private_network
    path = tmp_path / "estate.json"
    state, saved = _saved_state(nw, path, subscription)
    state.write_text(json.dumps(change(saved)))
    kept = state.read_text()
    before = nw.emulator.requests_count
    with pytest.raises(SnapshotError, match=r"estate\.json\.partial\.json") as caught:
        nw.snapshot(path=path, subscriptions=[subscription], progress=False)
    assert words in str(caught.value) and "delete" in str(caught.value).lower()
    assert nw.emulator.requests_count == before  # refused before any request
    assert state.read_text() == kept  # another run's work is not overwritten


def test_a_damaged_resume_state_is_refused_naming_the_file(private_network, tmp_path):
    nw, subscription = private_network
    path = tmp_path / "estate.json"
    Path(str(path) + ".partial.json").write_text("{not json")
    with pytest.raises(SnapshotError, match="not a snapshot's resume state"):
        nw.snapshot(path=path, subscriptions=[subscription], progress=False)


def test_a_snapshot_stopped_mid_query_resumes_to_the_uninterrupted_result(private_network, tmp_path):
    """Pages of 5 rows: the run stops on the fifth page (the second page of the third query); the
    resumed snapshot equals one never interrupted, coverage and statistics aside."""
    nw, subscription = private_network
    path = tmp_path / "estate.json"
    nw.emulator.app.resource_graph.page_size = 5
    nw.emulator.chaos = Chaos().on("POST", RG, Status(403, "AuthorizationFailed"), nth=[5])
    with pytest.raises(ArmError):
        nw.snapshot(path=path, subscriptions=[subscription], progress=False)
    saved = json.loads(Path(str(path) + ".partial.json").read_text())
    assert list(saved["done"]) == ["coverage", "networks"]  # 1 + 2 pages saved, the 4th lost
    nw.emulator.chaos = None
    resumed = nw.snapshot(path=path, subscriptions=[subscription], progress=False)
    fresh = nw.snapshot(subscriptions=[subscription], progress=False)
    for doc in (resumed, fresh):
        doc["snapshot"].pop("at")
        doc["snapshot"].pop("queries")
    assert resumed == fresh
    assert json.loads(path.read_text())["resources"] == fresh["resources"]


@pytest.mark.parametrize("kwargs, message", [
    ({"via": "arm", "subscriptions": ["00000000-0000-0000-0000-000000000001"]}, "via='arm'"),
    ({"via": "resource-graph", "resource_group": "ContosoRG"}, "via='arm'"),
    ({"via": "graph"}, "via: expected"),
    ({"subscriptions": ["nope"]}, "not a subscription id"),
    ({"resource_group": "ContosoRG", "management_group": "mg"}, "pass one"),
    ({"management_group": 7}, "management group name"),
])
def test_bad_scopes_are_refused_before_any_request(private_network, kwargs, message):
    nw, _ = private_network
    before = nw.emulator.requests_count
    with pytest.raises((ValueError, TypeError), match=message):
        nw.snapshot(progress=False, **kwargs)
    assert nw.emulator.requests_count == before


def test_progress_reaches_the_display(private_network):
    nw, subscription = private_network
    seen: list[SnapshotProgress] = []
    nw.snapshot(subscriptions=[subscription], progress=seen.append)
    assert [p.done for p in seen] == list(range(1, len(STEPS) + 2))
    assert seen[-1].counts["rows"] > 20


def test_snapshot_progress_without_a_terminal_is_the_batches_log_line(private_network):
    """One line display for snapshots and check batches (progress.auto_progress): without a
    terminal or a kernel, a line at most every interval, queries and rows read, and a last one."""
    nw, subscription = private_network
    out = io.StringIO()
    now = [0.0]
    with patch("nwlab.snapshot_graph.auto_progress",
               lambda total, desc: auto_progress(total, desc, stream=out, interval_s=3600,
                                                 clock=lambda: now[0])):
        nw.snapshot(subscriptions=[subscription])
    lines = out.getvalue().splitlines()
    assert lines[0] == f"nwlab: {len(STEPS) + 1} snapshot queries: starting"
    assert len(lines) == 2  # the interval never passed: the first and the last line only
    assert lines[-1].startswith(f"nwlab: {len(STEPS) + 1}/{len(STEPS) + 1} snapshot queries, ")
    assert " rows, took " in lines[-1]


def test_resource_graph_snapshot_captures_admin_rules_and_service_tags_like_arm():
    """ASGs, effective admin rules and the service tags in use, read the same as the ARM path
    reads them, so the tagged estate's twin answers like the estate."""
    from tests.test_snapshot import _estate

    live = nwlab.emulate(_estate().document(), check_seconds=0, retry_after=0)
    try:
        graph = live.snapshot(subscriptions=[live.subscription_id], progress=False)
        arm = live.snapshot("rg")
        kinds = ("Microsoft.Network/applicationSecurityGroups",
                 "Microsoft.Network/virtualNetworks/effectiveSecurityAdminRules",
                 "Microsoft.Network/serviceTags")
        for kind in kinds:
            a = [r for r in arm["resources"] if r["type"] == kind]
            g = [r for r in graph["resources"] if r["type"] == kind]
            for r in a + g:  # when read, and the emulator's GET-only provisioningState
                r.pop("retrievedAt", None)
                (r.get("properties") or {}).pop("provisioningState", None)
            assert a and g == a, kind
        twin = nwlab.emulate(graph, check_seconds=0, retry_after=0)
        try:
            for source, destination, port in (("web", "db", 1433), ("jump", "db", 1433),
                                              ("web", "40.78.1.1", 1433),
                                              ("web", "20.60.1.1", 443), ("jump", "web", 3389)):
                a = live.check(source, destination, port, resource_group="rg")
                b = twin.check(source, destination, port, resource_group="rg")
                assert (a.status, [i.to_dict() for i in a.issues]) == \
                    (b.status, [i.to_dict() for i in b.issues]), (source, destination, port)
        finally:
            twin.close()
    finally:
        live.close()


def test_the_emulator_builds_a_querys_rows_once_for_all_its_pages(private_network, monkeypatch):
    """Paging costs O(rows), not O(rows x pages), so thousands of VNets page in seconds; a
    write (a new topology) is seen by the next query."""
    from nwlab.emulator.resource_graph import ResourceGraphService

    nw, subscription = private_network
    built = []
    row = ResourceGraphService._row
    monkeypatch.setattr(ResourceGraphService, "_row",
                        staticmethod(lambda *a: built.append(1) or row(*a)))
    nw.snapshot(subscriptions=[subscription], progress=False)
    whole = len(built)
    built.clear()
    nw.emulator.app.resource_graph.page_size = 2
    paged = nw.snapshot(subscriptions=[subscription], progress=False)
    assert paged["snapshot"]["queries"]["pages"] > len(STEPS) + 1 + 5
    assert len(built) == whole
    nsg = next(r["id"] for r in paged["resources"]
               if r["type"] == "Microsoft.Network/networkSecurityGroups")
    nsg = nsg.replace(ZERO, subscription)
    nw.arm.request("PUT", f"{nsg}/securityRules/late", api_version="2024-05-01", json={
        "properties": {"priority": 4001, "direction": "Inbound", "access": "Deny",
                       "protocol": "Tcp", "sourceAddressPrefix": "*", "sourcePortRange": "*",
                       "destinationAddressPrefix": "*", "destinationPortRange": "4444"}})
    after = nw.snapshot(subscriptions=[subscription], progress=False)
    rules = next(r for r in after["resources"]
                 if r["id"] == nsg.replace(subscription, ZERO))["properties"]["securityRules"]
    assert "late" in [r["name"] for r in rules]


def test_a_peer_outside_the_scope_is_noted_and_kept_as_an_external_vnet():
    """As the ARM snapshot does: the reference stays (scrubbed), a note says it was not read."""
    from tests.test_snapshot import peer_elsewhere

    foreign = str(uuid.uuid4())
    live = nwlab.emulate(peer_elsewhere(foreign).document(), check_seconds=0, retry_after=0)
    try:
        topology = live.snapshot(subscriptions=[live.subscription_id], progress=False)
    finally:
        live.close()
    assert foreign not in json.dumps(topology)  # scrubbed like the ARM snapshot scrubs it
    assert "/subscriptions/11111111-0000-0000-0000-000000000000/resourceGroups/hub/" in \
        json.dumps(topology)
    (note,) = topology["emulation"]["notes"]
    assert note.endswith("virtualNetworks/hub: in another subscription, not captured")
    twin = nwlab.emulate(topology, check_seconds=0, retry_after=0)
    try:
        assert [a.code for a in twin.assumptions] == ["EXTERNAL_VNET"]
    finally:
        twin.close()


def test_a_rows_secrets_are_never_written():
    """A connection's pre-shared key and a gateway's client settings, dropped as ARM's are."""
    from nwlab.snapshot_graph import _resource

    item = _resource({"id": "/subscriptions/x/resourceGroups/g/providers/Microsoft.Network/"
                            "connections/c", "name": "c", "type": "microsoft.network/connections",
                      "properties": {"sharedKey": "s3cret", "connectionStatus": "Connected",
                                     "authorizationKey": "k"}})
    assert item is not None and item["type"] == "Microsoft.Network/connections"
    assert item["properties"] == {"connectionStatus": "Connected"}


def test_thousands_of_subscriptions_in_batches_with_whole_batches_denied(private_network):
    """650 more subscriptions than the tenant holds: three batches of 300 per query, the last
    two refused whole by Resource Graph (none readable); the snapshot goes on and names all."""
    nw, subscription = private_network
    others = [str(uuid.UUID(int=i + 1)) for i in range(650)]
    before = rg_posts(nw)
    topology = nw.snapshot(subscriptions=[subscription, *others], keep_subscription=True,
                           progress=False)
    # One answered batch per query (the refused batches are 400s, not answers).
    assert rg_posts(nw) - before == len(STEPS) + 1
    coverage = topology["snapshot"]["coverage"]
    assert [e["subscriptionId"] for e in coverage["read"]] == [subscription]
    assert sorted(e["subscriptionId"] for e in coverage["denied"]) == sorted(others)
    assert len(topology["resources"]) > 20


def test_a_subscription_named_twice_is_read_once(private_network):
    nw, subscription = private_network
    before = rg_posts(nw)
    topology = nw.snapshot(subscriptions=[subscription.upper(), subscription], progress=False)
    assert rg_posts(nw) - before == len(STEPS) + 1
    coverage = topology["snapshot"]["coverage"]
    assert len(coverage["read"]) == 1 and coverage["denied"] == []


def test_an_answer_with_rows_left_out_is_named_in_the_coverage(private_network, monkeypatch):
    from nwlab.emulator.resource_graph import ResourceGraphService

    nw, subscription = private_network
    real = ResourceGraphService._page

    def short(self, topology, body):
        page = real(self, topology, body)
        if "networkwatchers" in body["query"]:
            page["totalRecords"] += 2  # two rows announced that no page brings
        return page

    monkeypatch.setattr(ResourceGraphService, "_page", short)
    topology = nw.snapshot(subscriptions=[subscription], progress=False)
    assert topology["snapshot"]["coverage"]["incomplete"] == [
        {"query": "watchers", "reason": "2 rows fewer than totalRecords announced"}]


def test_arrays_past_mv_expand_limits_come_whole_as_the_arm_snapshot_has_them():
    """Subnets and rules are kept as JSON in the row (reference §6.5, q2/q4: never mv-expanded,
    whose cap is 400 rows): a VNet of 506 subnets and an NSG of 901 rules arrive whole."""
    topology = json.loads(Path(DEFAULT_TOPOLOGY_PATH).read_text(encoding="utf-8"))
    for res in topology["resources"]:
        if res["type"] == "Microsoft.Network/virtualNetworks":
            res["properties"]["subnets"] += [
                {"name": f"extra{i}", "properties": {
                    "addressPrefix": f"10.1.{100 + i // 16}.{i % 16 * 16}/28"}}
                for i in range(500)]
        if res["name"] == "AuditNsg":
            res["properties"]["securityRules"] += [
                {"name": f"r{i}", "properties": {
                    "priority": 1000 + i, "direction": "Inbound", "access": "Deny",
                    "protocol": "Tcp", "sourceAddressPrefix": f"192.0.2.{i % 250}",
                    "sourcePortRange": "*", "destinationAddressPrefix": "*",
                    "destinationPortRange": str(20000 + i)}} for i in range(900)]
    nw = nwlab.emulate(topology, check_seconds=0, retry_after=0)
    try:
        by_graph = {r["id"]: r for r in
                    nw.snapshot(subscriptions=[ZERO], progress=False)["resources"]}
        by_arm = {r["id"]: r for r in nw.snapshot()["resources"]}
    finally:
        nw.close()
    vnet = next(r for r in by_graph.values() if r["type"] == "Microsoft.Network/virtualNetworks")
    nsg = next(r for r in by_graph.values() if r["name"] == "AuditNsg")
    assert len(vnet["properties"]["subnets"]) == 506
    assert len(nsg["properties"]["securityRules"]) == 901
    assert vnet == by_arm[vnet["id"]] and nsg == by_arm[nsg["id"]]
