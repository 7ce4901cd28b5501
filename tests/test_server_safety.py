"""The emulator as a safe server: one test per property (issue 6, item 5).

- it binds 127.0.0.1 unless told otherwise (the socket's own address is checked);
- it refuses requests without its token, or with a wrong one, with an ARM-shaped 401 that
  starts nothing and does not echo the token;
- it refuses oversized (> 1 MiB) and malformed bodies with ARM-shaped 400s and keeps serving;
- a slow-loris or half-sent request does not block other clients (a thread per connection),
  and a stuck connection times out (the handler's socket timeout; shortened here to 1 s);
- a negative, malformed, huge or repeated Content-Length, JSON nested past its bound, integers
  past theirs, NaN/Infinity: an ARM-shaped 400 at once, no 500, no traceback (issue 9, item 17);
- a host beyond loopback only with allow_remote/--allow-remote, which warns (issue 9, item 18).

tests/emulator/test_server.py covers the same ground per endpoint (401 for each header form,
the oversized body, garbage request lines); these tests state each property once, over raw
sockets where the property is about the socket.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from nwlab.emulator import EmulatorServer
from nwlab.emulator import server as server_module
from nwlab.emulator.cli import build_parser
from nwlab.emulator.server import MAX_BODY, MAX_JSON_DEPTH, is_loopback_host

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


# -- hostile framing and bodies (issue 9, item 17) ----------------------------------------------


def framed(srv: EmulatorServer, length_headers: list[str], body: bytes = b"") -> bytes:
    """A POST with the given Content-Length header lines (raw), then `body`."""
    head = "".join(f"Content-Length: {value}\r\n" for value in length_headers)
    return (f"POST {CHECK_URL} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {srv.token}\r\n"
            f"{head}\r\n").encode() + body


@pytest.mark.timeout(30)
@pytest.mark.parametrize("lengths", [
    ["-5"], ["-1"], ["+5"], ["0x10"], ["1_0"], ["5 5"], ["5,5"], ["1e3"], ["\u0665"],
    ["9" * 60000],  # under the header-line limit, far over any length
    ["5", "6"],  # two different lengths: which body ends where is unknowable
], ids=["negative", "minus-one", "plus", "hex", "underscore", "two-numbers", "list", "exponent",
        "arabic-digit", "60000-digits", "differing-repeats"])
def test_malformed_content_length_is_an_arm_400_at_once(server: EmulatorServer,
                                                        capfd: pytest.CaptureFixture[str],
                                                        lengths: list[str]) -> None:
    body = json.dumps(GOOD_BODY).encode()
    # The socket timeout is the "never a hang" bound: the answer comes without the client
    # closing its side, and the server closes the connection (the stream's framing is lost).
    reply = raw_exchange(server, framed(server, lengths, body), timeout=10)
    head, _, payload = reply.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400"), reply[:200]
    error = json.loads(payload)["error"]
    assert error["code"] == "InvalidRequestFormat" and "Content-Length" in error["message"]
    assert server.stats.get("checks", 0) == 0 and server.stats.get("errors", 0) == 0
    assert "Traceback" not in capfd.readouterr().err
    assert requests.get(server.endpoint + LIST_URL, headers=auth(server), timeout=5).ok


def test_a_repeated_equal_content_length_is_one_length(server: EmulatorServer) -> None:
    body = json.dumps(GOOD_BODY).encode()
    reply = raw_exchange(server, framed(server, [str(len(body))] * 2, body)
                         .replace(b"HTTP/1.1\r\n", b"HTTP/1.1\r\nConnection: close\r\n", 1))
    assert reply.startswith(b"HTTP/1.1 202"), reply[:200]


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


HOSTILE_BODIES = {
    # nested past the bound, but shallow enough that json itself copes: only a bound refuses it
    "nested-100": json.dumps(GOOD_BODY)[:-1] + f', "extra": {nested(100)}}}',
    # deep enough that json's C parser runs out of recursion (was a 500 with a traceback)
    "nested-100000": nested(100_000),
    "objects-nested-5000": '{"a":' * 5000 + "1" + "}" * 5000,
    # a 100,000-digit integer: int() of it raises (or is slow), was a 500 with a traceback
    "int-100000-digits": json.dumps(GOOD_BODY).replace("1433", "1" * 100_000),
    "negative-int-5000-digits": json.dumps(GOOD_BODY).replace("1433", "-" + "9" * 5000),
    "int-21-digits": json.dumps(GOOD_BODY).replace("1433", "1" * 21),
    "nan": json.dumps(GOOD_BODY).replace("1433", "NaN"),
    "infinity": json.dumps(GOOD_BODY).replace("1433", "-Infinity"),
    "float-beyond-a-double": json.dumps(GOOD_BODY).replace("1433", "1e400"),
}


@pytest.mark.timeout(60)
@pytest.mark.parametrize("name", sorted(HOSTILE_BODIES))
def test_hostile_json_is_an_arm_400_without_a_traceback(server: EmulatorServer,
                                                        capfd: pytest.CaptureFixture[str],
                                                        name: str) -> None:
    data = HOSTILE_BODIES[name].encode()
    assert len(data) <= MAX_BODY
    rule = (f"/subscriptions/{SUB}/resourceGroups/ContosoRG/providers/Microsoft.Network/"
            "networkSecurityGroups/DbNsg/securityRules/Hostile?api-version=2024-05-01")
    for method, url in (("POST", CHECK_URL), ("PUT", rule)):
        resp = requests.request(method, server.endpoint + url, data=data, timeout=20,
                                headers={**auth(server), "Content-Type": "application/json"})
        message = arm_error(resp, 400, "InvalidRequestContent")["message"]
        assert any(why in message for why in ("nested deeper", "digits", "not JSON", "double")), \
            message
    assert server.stats.get("checks", 0) == 0 and server.stats.get("errors", 0) == 0
    assert "Traceback" not in capfd.readouterr().err


def test_json_within_the_bounds_is_served(server: EmulatorServer) -> None:
    body = {**GOOD_BODY, "extra": json.loads(nested(MAX_JSON_DEPTH - 1)),
            "big": 9223372036854775807, "small": -9223372036854775808, "float": 1.5e300}
    resp = requests.post(server.endpoint + CHECK_URL, json=body, headers=auth(server), timeout=5)
    assert resp.status_code == 202, resp.text


# -- where it may listen (issue 9, item 18) ------------------------------------------------------


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "", "10.1.2.3", "192.0.2.1", "example.com",
                                  "::ffff:10.0.0.1", "0"])
def test_a_non_loopback_host_is_refused_unless_allowed(host: str) -> None:
    assert not is_loopback_host(host)
    with pytest.raises(ValueError, match=r"^host: .*not a loopback address.*allow_remote=True"):
        EmulatorServer(host=host)


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2", "127.1", "0x7f.0.0.1", "2130706433",
                                  "::1", "[::1]", "0:0:0:0:0:0:0:1", "::ffff:127.0.0.1",
                                  "localhost", "LocalHost."])
def test_loopback_in_any_spelling_is_loopback(host: str) -> None:
    assert is_loopback_host(host.strip("[]"))
    EmulatorServer(host=host)  # constructed; nothing is bound until start()


def test_allow_remote_constructs_without_binding() -> None:
    srv = EmulatorServer(host="0.0.0.0", allow_remote=True)
    assert srv._httpd is None  # never started here: tests listen on loopback only


@pytest.mark.parametrize("port", [-1, 65536, 10**6, True, "80"])
def test_a_port_out_of_range_is_refused_by_the_server(port: Any) -> None:
    with pytest.raises(ValueError, match=r"^port: .*e\.g\. port=8080"):
        EmulatorServer(port=port)


def run_emulator(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "nwlab", "emulator", *args], capture_output=True,
                          text=True, timeout=60)


@pytest.mark.timeout(60)
@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.0.2.1"])
def test_cli_refuses_a_non_loopback_host_without_allow_remote(host: str) -> None:
    done = run_emulator("--host", host, "--port", "0")
    assert done.returncode == 2 and done.stdout == ""
    line = done.stderr.strip()
    assert "\n" not in line and "Traceback" not in line
    assert line.startswith(f"nwlab emulator: error: --host {host!r} is not a loopback address")
    assert "--allow-remote" in line and "e.g. --host 127.0.0.1" in line


@pytest.mark.timeout(60)
def test_cli_with_allow_remote_warns_that_the_token_grants_write_access() -> None:
    # 192.0.2.1 (TEST-NET-1) is no interface here: the warning comes first, then binding fails
    # with one line, so the test never listens beyond this machine.
    done = run_emulator("--host", "192.0.2.1", "--allow-remote", "--port", "0")
    assert done.returncode == 1 and done.stdout == ""
    warning, error = done.stderr.strip().splitlines()
    assert warning.startswith("nwlab emulator: warning: serving on 192.0.2.1")
    assert "token" in warning and "change the twin" in warning
    assert error.startswith("nwlab emulator: error: cannot serve on 192.0.2.1:0")
    assert "Traceback" not in done.stderr
