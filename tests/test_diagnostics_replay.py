"""Replay answers every diagnostic from the bundled cassettes, recorded from the documented examples
by scripts/make_diagnostic_cassettes.py (the seed cassettes' mechanism)."""

from __future__ import annotations

import json
import re
import sys
from importlib import resources
from pathlib import Path
from typing import Any

import pytest

import nwlab
from fakearm import DATA
from nwlab.arm.errors import ReplayMismatch

SHAPES = json.loads((DATA / "diagnostics" / "shapes.json").read_text(encoding="utf-8"))
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

import make_diagnostic_cassettes as maker  # noqa: E402

CASES = [(name, kind, example) for name, _, kind, example in maker.RUNS]


def _bundled(name: str) -> dict[str, Any]:
    text = resources.files("nwlab.cassettes").joinpath(f"{name}.json").read_text(encoding="utf-8")
    return dict(json.loads(text))


@pytest.fixture(scope="module")
def nw() -> Any:
    client = nwlab.replay()
    yield client
    client.close()


@pytest.mark.parametrize(("name", "kind", "example"), CASES)
def test_replay_answers_each_diagnostic_with_the_documented_result(nw, name, kind, example):
    for _ in range(2):  # again and again, the same answer
        result = maker.calls(nw)[kind]()
        assert result.to_dict() == SHAPES[kind][example]
        assert result.meta["backend"] == "replay" and result.meta["polls"] == 2


@pytest.mark.parametrize(("name", "kind", "example"), CASES)
def test_each_cassette_holds_the_documented_request(name, kind, example):
    posts = [i for i in _bundled(name)["interactions"] if i["request"]["method"] == "POST"]
    (post,) = posts
    assert post["request"]["body"] == SHAPES["requests"][kind]
    assert post["response"]["status"] == 202 and "Location" in post["response"]["headers"]


def test_a_diagnostic_nobody_recorded_names_the_cassettes(nw):
    with pytest.raises(ReplayMismatch, match=r"POST .*/nextHop with body .*10\.0\.0\.11.*"
                                             r"diag-next-hop"):
        nw.next_hop(maker.VM1, "10.0.0.11", source_ip="10.0.0.5", nic=maker.NIC1)


_PSEUDONYM = re.compile(r"00000000-0000-0000-0000-[0-9a-f]{12}")


def _numbered(cassette: dict[str, Any]) -> Any:
    """The cassette with each GUID pseudonym replaced by its order of first appearance: recording
    draws pseudonyms at random (cassettes recorded apart must not collide), so two recordings of one
    exchange agree in which ids are the same, not in their spelling."""
    seen: dict[str, str] = {}
    text = _PSEUDONYM.sub(lambda m: seen.setdefault(m.group(0), f"<guid {len(seen)}>"),
                          json.dumps(cassette, sort_keys=True))
    return json.loads(text)


def test_the_bundled_cassettes_are_what_the_script_records(tmp_path):
    assert maker.main(str(DATA / "diagnostics" / "shapes.json"), str(tmp_path)) == 0
    for name, *_ in maker.RUNS:
        recorded = json.loads((tmp_path / f"{name}.json").read_text(encoding="utf-8"))
        assert _numbered(recorded) == _numbered(_bundled(name))
