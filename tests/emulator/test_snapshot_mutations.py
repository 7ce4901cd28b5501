"""A real snapshot's partial values (missing fields, nulls, other kinds) never crash the twin.

Property: load_topology on a bundled estate with random fields dropped, nulled or given another
JSON kind either loads or raises TopologyError naming a resource; a check on what loaded
returns a result or a typed refusal (ArmError / TopologyError), never a bare KeyError,
TypeError, AttributeError or ValueError from inside a parser.
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import nwlab.emulator  # noqa: F401  (registers the part parsers)
from nwlab.emulator import engine
from nwlab.emulator.errors import ArmError
from nwlab.emulator.topology import BUNDLED, Topology, TopologyError

# Values a snapshot or a hand edit puts where another kind belongs.
STRANGERS: list[Any] = [None, 0, 7, -1, "", "x", "10.0.0.0/33", [], {}, True, [None], ["x"],
                        {"id": None}, {"id": 3}, "/subscriptions/x"]


@functools.cache
def estate(name: str) -> dict[str, Any]:
    return BUNDLED[name]()


def _paths(obj: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    items = obj.items() if isinstance(obj, dict) else enumerate(obj) \
        if isinstance(obj, list) else ()
    for k, v in items:
        yield (*prefix, k)
        yield from _paths(v, (*prefix, k))


@functools.cache
def paths(name: str) -> list[tuple[Any, ...]]:
    """Every field path under every resource: (resource index, key, key...)."""
    return [(i, *p) for i, res in enumerate(estate(name)["resources"]) for p in _paths(res)]


mutation = st.tuples(st.integers(min_value=0), st.sampled_from(["drop", *range(len(STRANGERS))]))


def mutate(doc: dict[str, Any], name: str, picks: list[tuple[int, Any]]) -> list[str]:
    done = []
    for index, what in picks:
        choices = paths(name)
        path = choices[index % len(choices)]
        parent: Any = doc["resources"]
        try:
            for step in path[:-1]:
                parent = parent[step]
            if isinstance(parent, dict) and what == "drop":
                parent.pop(path[-1], None)
            elif what == "drop":
                parent[path[-1]] = None
            else:
                parent[path[-1]] = copy.deepcopy(STRANGERS[what])
        except (KeyError, IndexError, TypeError):
            continue  # an earlier mutation removed or retyped the way there
        done.append(f"{path}={what}")
    return done


def checks(topo: Topology) -> Iterator[dict[str, Any]]:
    vms = list(topo.vms.values())
    for a, b in zip(vms, vms[1:] + vms[:1], strict=True):
        yield {"source": {"resourceId": a.id}, "destination": {"resourceId": b.id, "port": 443}}
    if vms:
        yield {"source": {"resourceId": vms[0].id},
               "destination": {"address": "203.0.113.10", "port": 443}}


@pytest.mark.parametrize("name", ["landing-zone", "contoso"])
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow],
          derandomize=True)
@given(picks=st.lists(mutation, min_size=1, max_size=4))
def test_a_mutated_estate_loads_or_is_refused_by_name_and_its_checks_never_crash(
        name: str, picks: list[tuple[int, Any]]) -> None:
    doc = copy.deepcopy(estate(name))
    done = mutate(doc, name, picks)
    try:
        topo = Topology(doc, owned=True)
    except TopologyError as exc:
        assert exc.resource_id and str(exc), done  # names what is wrong
        return
    watcher = next(iter(topo.watchers.values()), None)
    if watcher is None:
        return
    for body in list(checks(topo))[:4]:
        try:
            spec = engine.parse_check(topo, watcher, body)
            result = engine.run_check(topo, spec)
        except ArmError as exc:
            assert exc.code and exc.message, done
        except TopologyError as exc:
            assert exc.resource_id, done
        else:
            assert result["connectionStatus"] in ("Reachable", "Unreachable"), done


@pytest.mark.parametrize(("value", "loads"), [
    (None, True),  # null is unset: the NSG has no rules of its own
    ("x", False), (7, False), ({}, False),
])
def test_null_is_absent_and_another_kind_is_refused_naming_the_field(
        value: Any, loads: bool) -> None:
    doc = copy.deepcopy(estate("landing-zone"))
    nsg = next(r for r in doc["resources"]
               if r["type"].lower() == "microsoft.network/networksecuritygroups")
    nsg["properties"]["securityRules"] = value
    if loads:
        topo = Topology(doc, owned=True)
        assert [r for r in topo.nsgs[nsg["id"].lower()].rules if not r.default] == []
        return
    with pytest.raises(TopologyError) as caught:
        Topology(doc, owned=True)
    assert caught.value.resource_id == nsg["id"]
    assert caught.value.field == "properties.securityRules"
    assert "expected a list of objects" in str(caught.value)


def _null_empty_lists(obj: Any) -> int:
    """Every [] under obj becomes null (as Resource Graph and older api-versions send)."""
    count = 0
    items = obj.items() if isinstance(obj, dict) else enumerate(obj) \
        if isinstance(obj, list) else ()
    for k, v in list(items):
        if v == []:
            obj[k] = None
            count += 1
        else:
            count += _null_empty_lists(v)
    return count


@pytest.mark.parametrize("name", ["landing-zone", "contoso"])
def test_a_null_array_anywhere_reads_as_empty(name: str) -> None:
    doc = copy.deepcopy(estate(name))
    assert _null_empty_lists(doc["resources"]) > 0
    nulls, empty = Topology(doc, owned=True), Topology(estate(name))
    assert (set(nulls.nics), set(nulls.subnets), set(nulls.nsgs), set(nulls.route_tables)) \
        == (set(empty.nics), set(empty.subnets), set(empty.nsgs), set(empty.route_tables))
    assert [a.code for a in nulls.assumptions] == [a.code for a in empty.assumptions]


def test_a_list_of_references_holding_a_bare_string_is_refused_naming_the_entry() -> None:
    doc = copy.deepcopy(estate("contoso"))
    vm = next(r for r in doc["resources"]
              if r["type"].lower() == "microsoft.compute/virtualmachines")
    nic_id = vm["properties"]["networkProfile"]["networkInterfaces"][0]["id"]
    vm["properties"]["networkProfile"]["networkInterfaces"][0] = nic_id
    with pytest.raises(TopologyError) as caught:
        Topology(doc, owned=True)
    assert caught.value.resource_id == vm["id"]
    assert caught.value.field == "properties.networkProfile.networkInterfaces[0]"
    assert "expected an object" in str(caught.value)


def _recase_references(obj: Any, flip: Any) -> None:
    """Every reference ({"id": ...} below a resource's properties) in another casing."""
    items = obj.items() if isinstance(obj, dict) else enumerate(obj) \
        if isinstance(obj, list) else ()
    for k, v in list(items):
        if k == "id" and isinstance(v, str) and isinstance(obj, dict) and len(obj) == 1:
            obj[k] = flip(v)
        else:
            _recase_references(v, flip)


def _verdicts(topo: Topology) -> list[tuple[str, str]]:
    watcher = next(iter(topo.watchers.values()))
    out = []
    for body in checks(topo):
        try:
            result = engine.run_check(topo, engine.parse_check(topo, watcher, body))
        except ArmError as exc:  # e.g. a scale set instance as destination
            out.append(("refused", exc.code))
            continue
        out.append((result["connectionStatus"], result.get("nwlab", {}).get("outcome", "")))
    return out


@pytest.mark.parametrize("name", ["landing-zone", "contoso"])
@pytest.mark.parametrize("flip", [str.upper, str.lower, lambda s: s.rstrip("/") + "/"],
                         ids=["upper", "lower", "trailing-slash"])
def test_references_in_another_casing_load_and_answer_alike(name: str, flip: Any) -> None:
    """ARM ids are case-insensitive: Resource Graph and some api-versions recase them."""
    doc = copy.deepcopy(estate(name))
    for res in doc["resources"]:
        _recase_references(res.get("properties"), flip)
    assert _verdicts(Topology(doc, owned=True)) == _verdicts(Topology(estate(name)))


@pytest.mark.parametrize("state", ["Failed", "Updating", "Deleting"])
def test_provisioning_states_load_and_answer_alike(state: str) -> None:
    """A snapshot taken mid-deployment: the twin evaluates what the resources say (the data
    plane of a Failed resource keeps its last good configuration, doc
    networking/troubleshoot-failed-state). Not the agent extension: its provisioningState is
    what says the Network Watcher agent is installed (a Failed one is not)."""
    doc = copy.deepcopy(estate("landing-zone"))
    for res in doc["resources"]:
        if not res["type"].lower().endswith("/extensions"):
            res.setdefault("properties", {})["provisioningState"] = state
    assert _verdicts(Topology(doc, owned=True)) == _verdicts(Topology(estate("landing-zone")))
