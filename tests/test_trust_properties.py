"""Issue 9 item 10 as a property: whatever JSON (or bytes) the service answers at any step of a
check or a list call, the call ends with a result or a typed nwlab error, never a stray
AttributeError, TypeError, OverflowError or InvalidURL. The table in test_trust_client.py holds
the named cases; here hypothesis draws the rest."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import nwlab
from fakearm import SUB, FakeArm, FakeCredential
from nwlab.arm.errors import NwlabError
from test_trust_client import ENTRY_POINTS, STAGES, _stage

# Keys the client reads, so that drawn objects often have the shape it looks for.
KEYS = st.sampled_from(["value", "nextLink", "id", "name", "location", "properties",
                        "instanceView", "statuses", "code", "error", "message", "status",
                        "connectionStatus", "hops", "resources", "publisher", "type",
                        "storageProfile", "osDisk", "osType", "provisioningState", "details"])
SCALARS = (st.none() | st.booleans() | st.integers() | st.integers(-10**400, 10**400)
           | st.floats() | st.text(max_size=30)
           | st.sampled_from(["PowerState/running", "Microsoft.Azure.NetworkWatcher",
                              "NetworkWatcherAgentLinux", "Succeeded", "Reachable",
                              "westcentralus", "/subscriptions", "http://[::1", "\r\n"]))
JSON = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=4)
                    | st.dictionaries(KEYS | st.text(max_size=8), inner, max_size=5),
                    max_leaves=25)
BODIES = JSON | st.binary(max_size=40)


@pytest.fixture(scope="module")
def server() -> Iterator[FakeArm]:
    fake = FakeArm()
    try:
        yield fake
    finally:
        fake.stop()


@pytest.fixture(scope="module")
def seeds() -> dict[str, Any]:
    data = json.loads((Path(__file__).parent / "data" / "seed-scenarios.json")
                      .read_text(encoding="utf-8"))
    return {s["name"]: s for s in data["scenarios"]}


@settings(max_examples=80, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(stage=st.sampled_from(STAGES), body=BODIES)
def test_any_answer_ends_as_a_result_or_a_typed_error(server, seeds, stage, body):
    _stage(server.reset(), seeds, stage, _sendable(body))
    nw = nwlab.connect(SUB, credential=FakeCredential(), arm_endpoint=server.endpoint,
                       poll_interval=0.01)
    nw.arm.request_timeout = (2.0, 5.0)
    nw.arm.min_poll_interval = 0.0
    nw.arm.connection_retries = nw.arm.status_retries = 0
    try:
        for name, call in ENTRY_POINTS.items():
            nw._watchers = None
            try:
                outcome = call(nw)
            except NwlabError:
                continue
            if name == "check":
                assert isinstance(outcome, nwlab.ConnectivityResult)
    finally:
        nw.close()


def _sendable(body: Any) -> Any:
    """JSON the fake can send: json.dumps refuses integers past 4,300 digits' str() limit only
    when asked to print them, so very long ones go as raw text."""
    if isinstance(body, bytes):
        return body
    try:
        json.dumps(body)
    except ValueError:
        return repr(body).encode()
    return body
