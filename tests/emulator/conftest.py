"""Fixtures: emulator servers bound to 127.0.0.1, fast knobs, always stopped by the test."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from nwlab.emulator import EmulatorServer

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="session")
def seeds() -> dict[str, Any]:
    return json.loads((DATA / "seed-scenarios.json").read_text(encoding="utf-8"))


class Client:
    """A tiny ARM client over requests: bearer token, endpoint rewrite, LRO polling."""

    def __init__(self, server: EmulatorServer) -> None:
        self.server = server
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {server.token}"

    def url(self, path_or_url: str) -> str:
        # Seed URLs point at management.azure.com; the emulator serves the same paths.
        path = path_or_url.split("management.azure.com", 1)[-1]
        return path if path.startswith("http") else self.server.endpoint + path

    def request(self, method: str, path: str, **kw: Any) -> requests.Response:
        return self.session.request(method, self.url(path), timeout=10, **kw)

    def lro(self, path: str, body: Any) -> requests.Response:
        """POST an action and poll its Location until it stops answering 202."""
        resp = self.request("POST", path, json=body)
        assert resp.status_code == 202, resp.text
        assert resp.text == "null"
        location = resp.headers["Location"]
        for _ in range(200):
            poll = self.session.get(location, timeout=10)
            if poll.status_code != 202:
                return poll
            time.sleep(float(poll.headers.get("Retry-After", "0")))
        raise AssertionError("operation never finished")


@pytest.fixture
def serve() -> Iterator[Callable[..., Client]]:
    """serve(topology=None, **knobs) -> Client; every server started is stopped afterwards."""
    started: list[EmulatorServer] = []

    def start(topology: Any = None, **knobs: Any) -> Client:
        knobs.setdefault("check_seconds", 0)
        knobs.setdefault("retry_after", 0)
        server = EmulatorServer(topology, **knobs).start()
        started.append(server)
        return Client(server)

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def contoso(serve: Callable[..., Client]) -> Client:
    return serve()
