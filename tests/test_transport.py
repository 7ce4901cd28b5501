"""PlainHttpAdapter: the light http:// transport maps every failure the way requests does, keeps
connections alive only while that is safe, and is what ArmClient mounts for its own session."""

from __future__ import annotations

import socket
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest
import requests

from nwlab.arm.auth import StaticTokenCredential
from nwlab.arm.clouds import resolve_cloud
from nwlab.arm.session import ArmClient
from nwlab.arm.transport import PlainHttpAdapter

Script = Callable[[socket.socket, bytes], bool]  # handles one request; False closes the socket


def _read_request(conn: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return b""
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    while len(rest) < length:
        rest += conn.recv(65536)
    return head + b"\r\n\r\n" + rest


@contextmanager
def raw_server(script: Script) -> Iterator[dict]:
    """A socket server answering each request with whatever `script` writes."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    state: dict = {"url": f"http://127.0.0.1:{listener.getsockname()[1]}", "connections": 0,
                   "requests": []}
    stop = threading.Event()

    def serve(conn: socket.socket) -> None:
        with conn:
            while not stop.is_set():
                try:
                    request = _read_request(conn)
                except OSError:
                    return
                if not request:
                    return
                state["requests"].append(request)
                if not script(conn, request):
                    return

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            state["connections"] += 1
            threading.Thread(target=serve, args=(conn,), daemon=True).start()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        stop.set()
        listener.close()


def answer(status: str = "200 OK", body: bytes = b'{"ok": true}', extra: str = "",
           length: int | None = None) -> bytes:
    length = len(body) if length is None else length
    return (f"HTTP/1.1 {status}\r\nContent-Type: application/json; charset=utf-8\r\n{extra}"
            f"Content-Length: {length}\r\n\r\n").encode() + body


def session() -> requests.Session:
    s = requests.Session()
    s.trust_env = False
    s.mount("http://", PlainHttpAdapter())
    return s


def test_answer_fields_and_keep_alive():
    def ok(conn, request):
        conn.sendall(answer(extra="X-Ms-Request-Id: r1\r\nSet: a\r\nSet: b\r\n"))
        return True

    with raw_server(ok) as srv:
        s = session()
        seen = []
        s.hooks["response"].append(lambda r, *a, **k: seen.append(r.status_code))
        for _ in range(3):
            r = s.post(srv["url"] + "/p?api-version=1", json={"a": 1}, timeout=(2, 2))
        assert r.status_code == 200 and r.reason == "OK" and r.json() == {"ok": True}
        assert r.headers["x-ms-request-id"] == "r1" and r.headers["set"] == "a, b"
        assert r.url == srv["url"] + "/p?api-version=1" and r.request.method == "POST"
        assert r.encoding == "utf-8" and r.elapsed.total_seconds() >= 0
        assert seen == [200, 200, 200]  # hooks still run
        assert srv["connections"] == 1  # one kept-alive connection for all three
        first = srv["requests"][0]
        assert first.startswith(b"POST /p?api-version=1 HTTP/1.1\r\n")
        assert b"\r\nHost: 127.0.0.1:" in first and first.endswith(b'{"a": 1}')
        s.close()


def test_connection_close_is_honoured():
    def once(conn, request):
        conn.sendall(answer(extra="Connection: close\r\n"))
        return False

    with raw_server(once) as srv:
        s = session()
        for _ in range(2):
            assert s.get(srv["url"] + "/", timeout=2).status_code == 200
        assert srv["connections"] == 2


def test_server_closing_an_idle_connection_is_not_an_error():
    def then_close(conn, request):
        conn.sendall(answer())
        return False  # closes after answering, without saying so

    with raw_server(then_close) as srv:
        s = session()
        assert s.post(srv["url"] + "/", timeout=2).status_code == 200
        time.sleep(0.1)
        assert s.post(srv["url"] + "/", timeout=2).status_code == 200  # a fresh connection
        assert srv["connections"] == 2


@pytest.mark.parametrize("cut,error", [
    ("status", requests.ConnectionError),
    ("body", requests.exceptions.ChunkedEncodingError),
])
def test_a_dropped_connection(cut, error):
    def drop(conn, request):
        data = answer(body=b'{"long": "' + b"x" * 100 + b'"}')
        conn.sendall(data[:6] if cut == "status" else data[:-20])
        return False

    with raw_server(drop) as srv:
        s = session()
        with pytest.raises(error):
            s.get(srv["url"] + "/", timeout=2)


def test_headers_cut_short_read_as_a_complete_answer():
    def cut(conn, request):
        conn.sendall(b"HTTP/1.1 202 Accepted\r\nX-A: 1\r\nLocat")
        return False

    with raw_server(cut) as srv:
        r = session().post(srv["url"] + "/", timeout=2)
        assert r.status_code == 202 and "Location" not in r.headers and r.content == b""


def test_read_timeout_and_the_connection_is_not_reused():
    calls = []

    def stall_first(conn, request):
        calls.append(1)
        if len(calls) == 1:
            time.sleep(0.6)
            return False
        conn.sendall(answer())
        return True

    with raw_server(stall_first) as srv:
        s = session()
        started = time.monotonic()
        with pytest.raises(requests.ReadTimeout):
            s.get(srv["url"] + "/", timeout=(2, 0.2))
        assert time.monotonic() - started < 0.5
        assert s.get(srv["url"] + "/", timeout=2).status_code == 200
        assert srv["connections"] == 2


def test_connect_refused_is_a_connection_error():
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    with pytest.raises(requests.ConnectionError) as caught:
        session().get(f"http://127.0.0.1:{port}/", timeout=1)
    assert not isinstance(caught.value, requests.ReadTimeout)


def test_connect_timeout_is_connect_timeout(monkeypatch):
    import nwlab.arm.transport as transport

    def slow(self):
        raise TimeoutError("timed out")

    monkeypatch.setattr(transport.HTTPConnection, "connect", slow)
    with pytest.raises(requests.exceptions.ConnectTimeout):
        session().get("http://127.0.0.1:9/", timeout=(0.1, 1))


def test_gzip_body_is_decoded():
    body = zlib.compress(b'{"z": 1}', wbits=16 + zlib.MAX_WBITS)

    def gz(conn, request):
        conn.sendall(answer(body=body, extra="Content-Encoding: gzip\r\n"))
        return True

    with raw_server(gz) as srv:
        assert session().get(srv["url"] + "/", timeout=2).json() == {"z": 1}


def test_streamed_and_proxied_requests_use_urllib3():
    adapter = PlainHttpAdapter()
    sent = []

    class Fallback(requests.adapters.HTTPAdapter):
        def send(self, request, **kwargs):
            sent.append(kwargs)
            r = requests.Response()
            r.status_code = 204
            r.request = request
            return r

    adapter.fallback = Fallback()
    s = requests.Session()
    s.trust_env = False
    s.mount("http://", adapter)
    s.get("http://example.invalid/", stream=True)
    s.get("http://example.invalid/", proxies={"http": "http://proxy.invalid:3128"})
    assert len(sent) == 2


def test_arm_client_mounts_it_only_on_its_own_session():
    def ok(conn, request):
        conn.sendall(answer())
        return True

    with raw_server(ok) as srv:
        cloud = resolve_cloud("AzureCloud", arm_endpoint=srv["url"])
        own = ArmClient(subscription_id="s", credential=StaticTokenCredential("t"), cloud=cloud)
        assert isinstance(own.session.get_adapter(srv["url"] + "/"), PlainHttpAdapter)
        assert not isinstance(own.session.get_adapter("https://management.azure.com/"),
                              PlainHttpAdapter)
        assert own.request("GET", "/x").json() == {"ok": True}
        request = srv["requests"][-1]
        assert b"Authorization: Bearer t\r\n" in request and b"api-version=" in request
        given = requests.Session()
        theirs = ArmClient(subscription_id="s", credential=StaticTokenCredential("t"),
                           cloud=cloud, session=given)
        assert not isinstance(theirs.session.get_adapter(srv["url"] + "/"), PlainHttpAdapter)


@pytest.mark.parametrize("block", [
    b"Location: http://h/x?a=1\r\nRetry-After: 1\r\nContent-Length: 4\r\n",
    b"X-A: 1\r\nLocat",  # cut inside a name: ends the block
    b"X-A: 1\r\nLocation: http://127.0.0.1:1/sub",  # cut inside a value
    b"Set: a\r\nset: b\r\nX:  spaced  \r\n",  # repeated, blanks kept at the end
    b"X-Long: one\r\n two\r\n\tthree\r\nY: 2\r\n",  # continuation lines
    b"Bad Header: 1\r\nY: 2\r\n",  # a space in the name ends the block
    b": empty\r\nY: 2\r\n",  # an empty name is skipped
    b"X: a\rb\r\nY: 2\r\n",  # a bare CR: handed to the email parser
    b"X: caf\xe9\r\n",
])
def test_header_parsing_matches_http_client(block):
    import io
    from http.client import _read_headers, parse_headers

    from nwlab.arm.transport import _parse_fields

    expected: dict[str, str] = {}
    for name, value in parse_headers(io.BytesIO(block + b"\r\n")).items():
        key = name.lower()
        expected[key] = f"{expected[key]}, {value}" if key in expected else value
    fields, first = _parse_fields(_read_headers(io.BytesIO(block)))
    assert {k.lower(): v for k, v in fields.items()} == expected
    assert set(first) == set(expected)


@pytest.mark.parametrize("url,query", [
    ("http://127.0.0.1:4000/subscriptions/s/providers/Microsoft.Network/networkWatchers/nw/"
     "connectivityCheck", "api-version=2024-05-01"),
    ("https://management.azure.com/subscriptions/s/providers/Microsoft.Network/locations/w/"
     "operationResults/abc?api-version=2024-05-01", ""),
    ("https://management.azure.com/subscriptions/s/resources", "api-version=1&%24top=5"),
    ("https://Management.Azure.com/x", "a=1"),
    ("http://127.0.0.1:4000/a/../b", "a=1"),
    ("http://127.0.0.1:4000/a b/ü", "a=1"),
    ("http://user:pw@127.0.0.1:4000/x", ""),
    ("http://127.0.0.1:4000", "a=1"),
    ("http://127.0.0.1:4000/x#frag", "a=1"),
])
@pytest.mark.parametrize("method,body", [("GET", None), ("POST", {"a": [1, "é"]}),
                                         ("POST", None), ("DELETE", None)])
def test_fast_prepare_builds_what_requests_builds(url, query, method, body):
    from nwlab.arm.session import _fast_prepare

    headers = {"Authorization": "Bearer t", "User-Agent": "nwlab/x", "Accept": "application/json",
               "x-ms-client-request-id": "3f2a1b4c-5d6e-4f70-8192-a3b4c5d6e7f8"}
    hook = lambda r, *a, **k: r  # noqa: E731
    fast = _fast_prepare(method, url, query, body, dict(headers), {"response": [hook]})
    slow = requests.Request(method, url, params=query or None, json=body, headers=dict(headers),
                            hooks={"response": [hook]}).prepare()
    if fast is None:  # left to requests: only for URLs it would rewrite or that need care
        assert "%" in url + query or not url.islower() or "@" in url or " " in url \
            or "/.." in url or "#" in url or url.count("/") < 3
        return
    assert (fast.method, fast.url, fast.body) == (slow.method, slow.url, slow.body)
    assert list(fast.headers.items()) == list(slow.headers.items())
    assert fast.hooks == slow.hooks


def test_fast_prepare_refuses_a_bad_header_as_requests_does():
    from nwlab.arm.session import _fast_prepare

    with pytest.raises(requests.exceptions.InvalidHeader):
        _fast_prepare("GET", "http://127.0.0.1:1/x", "", None,
                      {"Authorization": "Bearer t\r\nX-Injected: 1"}, {"response": []})
