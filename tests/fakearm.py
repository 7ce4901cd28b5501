"""A fake credential and a fake ARM server on 127.0.0.1 for the tests (fixtures in conftest.py).

The fake ARM server is a real HTTP server, so tests drive nwlab's real session, retries and
polling. Routes are (method, path regex) -> a list of answers served in order, the last repeating;
every request is recorded so that tests can count what the server saw (e.g. exactly one POST).
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

DATA = Path(__file__).parent / "data"
SUB = "00000000-0000-0000-0000-000000000000"
RG = f"/subscriptions/{SUB}/resourceGroups/ContosoRG"
VM_ID = f"{RG}/providers/Microsoft.Compute/virtualMachines/MultiTierApp0"
WATCHER_ID = (f"/subscriptions/{SUB}/resourceGroups/NetworkWatcherRG/providers/Microsoft.Network"
              "/networkWatchers/NetworkWatcher_westcentralus")
CHECK_PATH = WATCHER_ID + "/connectivityCheck"
OP_PATH = f"/subscriptions/{SUB}/providers/Microsoft.Network/locations/westcentralus/operationResults/op1"


@dataclass
class Token:
    token: str
    expires_on: float


class FakeCredential:
    """get_token(scope) hands out tok-1, tok-2, ... each valid for `lifetime` seconds."""

    def __init__(self, lifetime: float = 3600.0, prefix: str = "tok") -> None:
        self.lifetime = lifetime
        self.prefix = prefix
        self.scopes: list[str] = []

    def get_token(self, *scopes: str, **kwargs: Any) -> Token:
        self.scopes.extend(scopes)
        return Token(f"{self.prefix}-{len(self.scopes)}", time.time() + self.lifetime)


@dataclass
class Seen:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any
    at: float = field(default_factory=time.monotonic)


@dataclass
class Stall:
    """Answer nothing for `seconds` (or until the server stops), then drop the connection."""

    seconds: float = 30.0


DROP = Stall(0.0)  # close the connection without an answer

Answer = tuple[int, dict[str, str], Any] | Stall | Callable[[Seen], Any]


class FakeArm:
    """A scripted ARM endpoint. `on(method, path_regex, *answers)`; answers are (status, headers,
    body) tuples (body None is sent as the literal `null`, bytes as is), Stall, or callables."""

    def __init__(self) -> None:
        self.requests: list[Seen] = []
        self._routes: list[tuple[str, re.Pattern[str], list[Answer], list[int]]] = []
        self._lock = threading.Lock()
        self.stopping = threading.Event()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.endpoint = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, args=(0.02,), daemon=True)
        self._thread.start()

    def on(self, method: str, pattern: str, *answers: Answer) -> FakeArm:
        """Newest route wins, so a test can override what `contoso()` installed."""
        with self._lock:
            self._routes.insert(0, (method.upper(), re.compile(pattern, re.IGNORECASE),
                                    list(answers), [0]))
        return self

    def reset(self) -> FakeArm:
        """Forget every route and request (a property test reuses one server across examples)."""
        with self._lock:
            self._routes.clear()
            self.requests.clear()
        return self

    def seen(self, method: str, pattern: str = "") -> list[Seen]:
        regex = re.compile(pattern, re.IGNORECASE)
        return [r for r in self.requests if r.method == method.upper() and regex.search(r.path)]

    def stop(self) -> None:
        self.stopping.set()
        self.server.shutdown()
        self.server.server_close()

    def _answer(self, seen: Seen) -> Answer:
        with self._lock:
            self.requests.append(seen)
            for method, regex, answers, cursor in self._routes:
                if method == seen.method and regex.search(seen.path):
                    answer = answers[min(cursor[0], len(answers) - 1)]
                    cursor[0] += 1
                    break
            else:
                return 404, {}, {"error": {"code": "ResourceNotFound",
                                           "message": f"fake ARM has no route for {seen.path}"}}
        return answer(seen) if callable(answer) else answer

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Head and body leave in one segment (flushed after each request): written apart,
            # Nagle and the client's delayed ACK add 40 ms to every exchange.
            wbufsize = 1 << 16

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                parts = urlsplit(self.path)
                seen = Seen(self.command, parts.path, dict(parse_qsl(parts.query)),
                            {k.lower(): v for k, v in self.headers.items()},
                            json.loads(raw) if raw else None)
                answer = fake._answer(seen)
                if isinstance(answer, Stall):
                    fake.stopping.wait(answer.seconds)
                    self.close_connection = True
                    return
                status, headers, body = answer
                payload = body if isinstance(body, bytes) else json.dumps(body).encode()
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value.replace("{endpoint}", fake.endpoint))
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_PUT = do_DELETE = _serve

            def log_message(self, *args: Any) -> None:
                pass

        return Handler

    # -- a small Contoso: one running VM with the agent, one watcher, one check ------------

    def contoso(self, result: Any, *, location: str = "westcentralus", power: str = "running",
                extensions: list[dict[str, Any]] | None = None,
                watchers: list[dict[str, Any]] | None = None, polls: int = 1,
                retry_after: str | None = "0") -> FakeArm:
        """Routes for pre-flight reads and a check that answers 202 `polls` times, then `result`."""
        vm = {"id": VM_ID, "name": "MultiTierApp0", "location": location,
              "type": "Microsoft.Compute/virtualMachines",
              "properties": {"storageProfile": {"osDisk": {"osType": "Linux"}}}}
        agent = {"name": "AzureNetworkWatcherExtension",
                 "properties": {"publisher": "Microsoft.Azure.NetworkWatcher",
                                "type": "NetworkWatcherAgentLinux", "provisioningState": "Succeeded"}}
        if watchers is None:
            watchers = [{"id": WATCHER_ID, "name": "NetworkWatcher_westcentralus",
                         "location": "westcentralus"}]
        wait = {"Retry-After": retry_after} if retry_after is not None else {}
        accepted = (202, {"Location": "{endpoint}" + OP_PATH + "?api-version=2024-05-01",
                          "x-ms-request-id": "op1", "x-ms-correlation-request-id": "corr1", **wait},
                    None)
        self.on("GET", r"/virtualMachines/MultiTierApp0$", (200, {}, vm))
        self.on("GET", r"/virtualMachines/MultiTierApp0/instanceView$",
                (200, {}, {"statuses": [{"code": "ProvisioningState/succeeded"},
                                        {"code": f"PowerState/{power}"}]}))
        self.on("GET", r"/virtualMachines/MultiTierApp0/extensions$",
                (200, {}, {"value": [agent] if extensions is None else extensions}))
        self.on("GET", r"/providers/Microsoft.Network/networkWatchers$",
                (200, {}, {"value": watchers}))
        self.on("POST", r"/connectivityCheck$", accepted)
        self.on("GET", r"/operationResults/op1$", *([(202, wait, None)] * polls),
                (200, {}, result))
        return self
