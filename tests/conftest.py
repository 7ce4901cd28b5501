"""Shared fixtures: the seed scenarios, a fake ARM server on 127.0.0.1 and a client for it.

The server and the credential live in fakearm.py (a module name of its own, so that test files
import them without clashing with other conftest.py files).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from fakearm import DATA, SUB, FakeArm, FakeCredential


@pytest.fixture(scope="session")
def seeds() -> dict[str, dict[str, Any]]:
    """The four documented scenarios by name."""
    data = json.loads((DATA / "seed-scenarios.json").read_text(encoding="utf-8"))
    return {s["name"]: s for s in data["scenarios"]}


@pytest.fixture
def fake_arm() -> Iterator[FakeArm]:
    server = FakeArm()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def connect(fake_arm: FakeArm) -> Callable[..., Any]:
    """nwlab.connect() against the fake server with a fake credential; small poll interval."""
    import nwlab

    def make(*, poll_interval: float = 0.01, credential: Any = None, **kwargs: Any) -> Any:
        nw = nwlab.connect(SUB, credential=credential or FakeCredential(),
                           arm_endpoint=fake_arm.endpoint, poll_interval=poll_interval, **kwargs)
        nw.arm.request_timeout = (2.0, 5.0)
        # The fake answers Retry-After: 0; Azure's 1 s poll floor is tested on its own
        # (test_trust_client.py), the other tests need not wait it out.
        nw.arm.min_poll_interval = 0.0
        return nw

    return make


@pytest.fixture
def private_network() -> Iterator[tuple[Any, str]]:
    """The Contoso topology under a random, non-zero subscription id (so scrubbing is visible),
    with a tag a snapshot must drop, served by the emulator: (client, subscription id)."""
    import uuid
    from pathlib import Path

    import nwlab
    from nwlab.emulator import DEFAULT_TOPOLOGY_PATH

    subscription = str(uuid.uuid4())
    text = Path(DEFAULT_TOPOLOGY_PATH).read_text(encoding="utf-8").replace(
        "00000000-0000-0000-0000-000000000000", subscription)
    topology = json.loads(text)
    topology["resources"][0].setdefault("tags", {})["owner"] = "someone@contoso.example"
    nw = nwlab.emulate(topology, check_seconds=0, retry_after=0)
    yield nw, subscription
    nw.close()


@pytest.fixture(scope="module")
def twin() -> Iterator[Any]:
    """The bundled Contoso emulator, fast knobs, one per test module (for tests that only read
    it; a test that writes takes its own)."""
    import nwlab

    nw = nwlab.emulate(check_seconds=0.0, retry_after=0.0)
    try:
        yield nw
    finally:
        nw.close()
