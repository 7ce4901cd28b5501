"""The emulator as a safe server: one test per property (issue 6, item 5).

- it binds 127.0.0.1 unless told otherwise (the socket's own address is checked);
- it refuses requests without its token, or with a wrong one, with an ARM-shaped 401 that
  starts nothing and does not echo the token;
- it refuses oversized (> 1 MiB) and malformed bodies with ARM-shaped 400s and keeps serving;
- a slow-loris or half-sent request does not block other clients (a thread per connection),
  and a stuck connection times out (the handler's socket timeout; shortened here to 1 s).

tests/emulator/test_server.py covers the same ground per endpoint (401 for each header form,
the oversized body, garbage request lines); these tests state each property once, over raw
sockets where the property is about the socket.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from nwlab.emulator import EmulatorServer
from nwlab.emulator import server as server_module
from nwlab.emulator.cli import build_parser
from nwlab.emulator.server import MAX_BODY

SUB = "00000000-0000-0000-0000-000000000000"
WATCHER = (f"/subscriptions/{SUB}/resourceGroups/NetworkWatcherRG/providers/Microsoft.Network/"
           "networkWatchers/NetworkWatcher_westcentralus")
CHECK_URL = f"{WATCHER}/connectivityCheck?api-version=2024-05-01"
LIST_URL = "/subscriptions?api-version=2022-12-01"
VM = f"/subscriptions/{SUB}/resourceGroups/ContosoRG/providers/Microsoft.Compute/virtualMachines"
GOOD_BODY = {"source": {"resourceId": f"{VM}/MultiTierApp0"},
             "destination": {"address": "10.1.4.4", "port": 1433}}


@pytest.fixture
def server() -> Iterator[EmulatorServer]:
    srv = EmulatorServer(check_seconds=0, retry_after=0).start()
    try:
        yield srv
    finally:
        srv.stop()


def auth(srv: EmulatorServer) -> dict[str, str]:
    return {"Authorization": f"Bearer {srv.token}"}


def arm_error(resp: requests.Response, status: int, code: str) -> dict[str, Any]:
    """The ARM error envelope: exactly {"error": {"code", "message"}} and a request id."""
    assert resp.status_code == status, resp.text
    assert resp.headers["Content-Type"].startswith("application/json")
    assert resp.headers.get("x-ms-request-id")
    body = resp.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}
    assert body["error"]["code"] == code and body["error"]["message"]
    return dict(body["error"])


def raw_exchange(srv: EmulatorServer, data: bytes, timeout: float = 5.0) -> bytes:
    """Send raw bytes and read until the server closes the connection."""
    with socket.create_connection((srv.host, srv.port), timeout=timeout) as sock:
        sock.sendall(data)
        reply = b""
        while chunk := sock.recv(65536):
            reply += chunk
    return reply


# -- where it listens ---------------------------------------------------------------------------


@pytest.mark.timeout(20)
def test_binds_loopback_unless_told_otherwise() -> None:
    assert build_parser().parse_args([]).host == "127.0.0.1"  # the CLI default too
    with EmulatorServer() as srv:
        assert srv._httpd is not None
        assert srv._httpd.socket.getsockname()[0] == "127.0.0.1"
        assert srv.endpoint == f"http://127.0.0.1:{srv.port}"
    # Told otherwise, it binds exactly what it was told (another loopback address here, so the
    # test still never listens beyond this machine).
    with EmulatorServer(host="127.0.0.2") as other:
        assert other._httpd is not None
        assert other._httpd.socket.getsockname()[:2] == ("127.0.0.2", other.port)
        resp = requests.get(other.endpoint + LIST_URL, headers=auth(other), timeout=5)
        assert resp.status_code == 200


@pytest.mark.timeout(20)
def test_binds_ipv6_loopback_when_told() -> None:
    try:
        with socket.socket(socket.AF_INET6) as probe:
            probe.bind(("::1", 0))
    except OSError:
        pytest.skip("no IPv6 loopback here")
    with EmulatorServer(host="::1") as srv:
        assert srv._httpd is not None
        assert srv._httpd.socket.getsockname()[0] == "::1"
        assert srv.endpoint == f"http://[::1]:{srv.port}"
        assert requests.get(srv.endpoint + LIST_URL, headers=auth(srv), timeout=5).ok


# -- its token ----------------------------------------------------------------------------------


@pytest.mark.timeout(20)
@pytest.mark.parametrize("header", [None, "Bearer not-the-token", "Bearer ", "Basic dXNlcjpwYXNz",
                                    "not-the-token"])
def test_refuses_requests_without_its_token(server: EmulatorServer, header: str | None) -> None:
    headers = {} if header is None else {"Authorization": header}
    for method, url, body in (("GET", LIST_URL, None), ("POST", CHECK_URL, GOOD_BODY)):
        resp = requests.request(method, server.endpoint + url, headers=headers, json=body,
                                timeout=5)
        error = arm_error(resp, 401, "AuthenticationFailed")
        assert server.token not in resp.text and server.token not in error["message"]
        assert resp.headers["WWW-Authenticate"].startswith("Bearer")
    stats = server.stats
    assert stats["unauthorized"] == 2 and stats.get("checks", 0) == 0  # nothing started
    # The right token works on the same server.
    assert requests.get(server.endpoint + LIST_URL, headers=auth(server), timeout=5).ok


@pytest.mark.timeout(20)
def test_refuses_another_servers_token(server: EmulatorServer) -> None:
    with EmulatorServer() as other:
        resp = requests.get(server.endpoint + LIST_URL, headers=auth(other), timeout=5)
    arm_error(resp, 401, "AuthenticationFailed")


# -- bodies -------------------------------------------------------------------------------------


@pytest.mark.timeout(30)
def test_rejects_oversized_bodies_with_arm_400(server: EmulatorServer) -> None:
    big = json.dumps({**GOOD_BODY, "padding": "x" * MAX_BODY}).encode()
    assert len(big) > MAX_BODY
    resp = requests.post(server.endpoint + CHECK_URL, data=big,
                         headers={**auth(server), "Content-Type": "application/json"}, timeout=10)
    assert "limit is 1048576 bytes" in arm_error(resp, 400, "RequestBodyTooLarge")["message"]
    # A declared length far over the limit is refused before any of it is read.
    reply = raw_exchange(server, (f"POST {CHECK_URL} HTTP/1.1\r\nHost: x\r\n"
                                  f"Authorization: Bearer {server.token}\r\n"
                                  f"Content-Length: {1024 * MAX_BODY}\r\n\r\n").encode())
    assert reply.startswith(b"HTTP/1.1 400") and b'"RequestBodyTooLarge"' in reply
    assert server.stats.get("checks", 0) == 0
    # Exactly the limit is not "oversized" (refused for its content, not its size).
    at_limit = b"{" + b" " * (MAX_BODY - 2) + b"}"
    resp = requests.post(server.endpoint + CHECK_URL, data=at_limit,
                         headers={**auth(server), "Content-Type": "application/json"}, timeout=10)
    arm_error(resp, 400, "InvalidRequestFormat")
    # And the server keeps serving.
    ok = requests.post(server.endpoint + CHECK_URL, json=GOOD_BODY, headers=auth(server), timeout=5)
    assert ok.status_code == 202


@pytest.mark.timeout(20)
@pytest.mark.parametrize(("data", "code"), [
    (b"{", "InvalidRequestContent"),  # not JSON
    (b'{"source": {"resourceId": ', "InvalidRequestContent"),  # cut short
    (b"\xff\xfe{}", "InvalidRequestContent"),  # not UTF-8
    (b"[]", "InvalidRequestFormat"),  # JSON, but not an object
    (b"null", "InvalidRequestFormat"),
    (b'{"destination": {"address": "10.1.4.4"}}', "InvalidRequestFormat"),  # no source
])
def test_rejects_malformed_bodies_with_arm_400(server: EmulatorServer, data: bytes,
                                               code: str) -> None:
    resp = requests.post(server.endpoint + CHECK_URL, data=data,
                         headers={**auth(server), "Content-Type": "application/json"}, timeout=5)
    arm_error(resp, 400, code)
    assert server.stats.get("checks", 0) == 0


@pytest.mark.timeout(20)
def test_rejects_a_malformed_content_length_with_arm_400(server: EmulatorServer) -> None:
    reply = raw_exchange(server, (f"POST {CHECK_URL} HTTP/1.1\r\nHost: x\r\n"
                                  f"Authorization: Bearer {server.token}\r\n"
                                  "Content-Length: twelve\r\n\r\n").encode())
    head, _, body = reply.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400")
    assert json.loads(body)["error"]["code"] == "InvalidRequestFormat"


# -- slow and stuck clients ---------------------------------------------------------------------


@pytest.mark.timeout(30)
def test_slow_loris_does_not_block_other_clients(server: EmulatorServer,
                                                 capfd: pytest.CaptureFixture[str]) -> None:
    stuck: list[socket.socket] = []
    try:
        for n in range(20):
            sock = socket.create_connection((server.host, server.port), timeout=5)
            if n % 2:  # half the headers, never finished
                sock.sendall(b"GET /subscriptions HTTP/1.1\r\nHost: x\r\nAuthor")
            else:  # complete headers, a body that never comes
                sock.sendall((f"POST {CHECK_URL} HTTP/1.1\r\nHost: x\r\n"
                              f"Authorization: Bearer {server.token}\r\n"
                              "Content-Length: 500\r\n\r\n{\"source\"").encode())
            stuck.append(sock)
        # One more that trickles a byte at a time while the others are served.
        trickle = socket.create_connection((server.host, server.port), timeout=5)
        stuck.append(trickle)
        stop = threading.Event()

        def drip() -> None:
            for byte in b"GET /subscriptions HTTP/1.1\r\nHost: x\r\n":
                if stop.wait(0.1):
                    return
                try:
                    trickle.sendall(bytes([byte]))
                except OSError:
                    return

        dripper = threading.Thread(target=drip, daemon=True)
        dripper.start()
        session = requests.Session()
        started = time.monotonic()
        for _ in range(10):
            assert session.get(server.endpoint + LIST_URL, headers=auth(server), timeout=2).ok
        check = session.post(server.endpoint + CHECK_URL, json=GOOD_BODY, headers=auth(server),
                             timeout=2)
        assert check.status_code == 202
        assert time.monotonic() - started < 2.0
        stop.set()
        dripper.join(5)
    finally:
        for sock in stuck:
            sock.close()
    # Clients that hang up are not worth a traceback on stderr (that is a notebook's output).
    time.sleep(0.3)
    assert "Traceback" not in capfd.readouterr().err


@pytest.mark.timeout(30)
def test_a_stuck_connection_times_out(server: EmulatorServer,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    # The handler's socket timeout is 60 s; a second proves the mechanism without the wait.
    monkeypatch.setattr(server_module._Handler, "timeout", 1)
    # Half-sent headers: the server gives up and closes the connection without an answer.
    with socket.create_connection((server.host, server.port), timeout=10) as sock:
        sock.sendall(b"GET /subscriptions HTTP/1.1\r\nHost: x\r\n")
        started = time.monotonic()
        assert sock.recv(65536) == b""  # closed by the server
        assert time.monotonic() - started < 5
    # Half-sent body: an ARM-shaped 408, then the connection is closed; nothing started.
    with socket.create_connection((server.host, server.port), timeout=10) as sock:
        sock.sendall((f"POST {CHECK_URL} HTTP/1.1\r\nHost: x\r\n"
                      f"Authorization: Bearer {server.token}\r\n"
                      "Content-Length: 500\r\n\r\n{\"source\"").encode())
        started = time.monotonic()
        reply = b""
        while chunk := sock.recv(65536):
            reply += chunk
        assert time.monotonic() - started < 5
    head, _, body = reply.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 408")
    assert json.loads(body) == {"error": {"code": "RequestTimeout",
                                          "message": "The request body did not arrive in time."}}
    assert server.stats.get("checks", 0) == 0 and server.stats.get("errors", 0) == 0
    # The server is still fine.
    assert requests.get(server.endpoint + LIST_URL, headers=auth(server), timeout=5).ok
