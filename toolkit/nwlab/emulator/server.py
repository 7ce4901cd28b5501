"""The HTTP side of the emulator: a threaded server on 127.0.0.1 speaking ARM's wire contract.

Everything ARM-specific is in facade.py; this module does sockets, bearer-token auth, body
limits, write throttling, request ids and turning any failure into an ARM-shaped error, so a
client is never left hanging.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import logging
import math
import re
import secrets
import socket
import sys
import threading
import uuid
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from .chaos import Chaos, Sabotage
from .clock import TwinClock
from .errors import ArmError
from .facade import NO_BODY, ArmApp, Response
from .log_analytics import LogAnalyticsServer
from .ratelimit import TokenBucket
from .topology import Topology, load_topology

log = logging.getLogger(__name__)

MAX_BODY = 1024 * 1024  # ARM refuses request bodies over 1 MiB
DRAIN_LIMIT = 16 * MAX_BODY  # read (and drop) an oversized body up to this, so the 400 arrives
WRITE_METHODS = frozenset({"POST", "PUT", "DELETE", "PATCH"})
# Bounds on a JSON body: ARM request bodies nest a handful of levels and carry int32/int64
# numbers. Deeper or longer is an attack, not a request (json's C parser recurses per level,
# and int() of a 100,000-digit numeral is slow, then raises ValueError).
MAX_JSON_DEPTH = 64
MAX_INT_DIGITS = 20  # -9223372036854775808 is 19 digits
_DIGITS = re.compile(r"[0-9]{1,20}")  # a Content-Length of more than 20 digits is no length



def new_token() -> str:
    """A random bearer token that a shell and argparse take as a value: token_urlsafe may begin
    with '-', which `--token -abc` reads as another option, so every token starts with a letter."""
    return "t" + secrets.token_urlsafe(32)

class _HttpServer(ThreadingHTTPServer):
    daemon_threads = True  # a stuck keep-alive connection must not block stop()
    allow_reuse_address = True
    # A batch opens hundreds of connections at once; socketserver's default backlog of 5 resets
    # them (measured with benchmarks/batch.py).
    request_queue_size = 1024
    emulator: EmulatorServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that hung up or timed out mid-answer is normal (a stalled check, chaos);
        # socketserver's default prints a traceback to stderr, i.e. into the user's notebook.
        if isinstance(sys.exc_info()[1], OSError):
            log.debug("connection from %s ended abruptly", client_address, exc_info=True)
        else:
            log.exception("connection from %s failed", client_address)


class _HttpServer6(_HttpServer):
    address_family = socket.AF_INET6  # host="::1": the endpoint property already brackets it


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: load tests reuse connections
    server_version = "nwlab-emulator/1"
    timeout = 60  # idle keep-alive connections are dropped after a minute
    # Headers and body go out as two writes; with Nagle on, each answer waits for a delayed ACK
    # (about 40 ms on Linux), which dominates a short check's polls.
    disable_nagle_algorithm = True
    server: _HttpServer

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def do_PUT(self) -> None:
        self._serve("PUT")

    def do_DELETE(self) -> None:
        self._serve("DELETE")

    def do_PATCH(self) -> None:
        self._serve("PATCH")

    def send_error(self, code: int, message: str | None = None,
                   explain: str | None = None) -> None:
        """Protocol-level errors (bad request line, unknown method) in ARM's shape too."""
        self.close_connection = True
        self._send(Response(code, {"error": {
            "code": "BadRequest" if code < 500 else "NotImplemented",
            "message": message or explain or "The request could not be understood."}},
            {"x-ms-request-id": str(uuid.uuid4())}))

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s " + format, self.address_string(), *args)

    def _serve(self, method: str) -> None:
        emu = self.server.emulator
        request_id = str(uuid.uuid4())
        correlation = self.headers.get("x-ms-correlation-request-id") or str(uuid.uuid4())
        try:
            response = emu._dispatch(method, self.path, self.headers.get("Authorization"),
                                     self._read_body)
        except ArmError as exc:
            response = Response(exc.status, exc.body())
        except TimeoutError:  # the body stopped arriving (slow or half-sent): ARM's 408
            self.close_connection = True
            response = Response(408, {"error": {"code": "RequestTimeout", "message":
                                                "The request body did not arrive in time."}})
        except Exception as exc:  # never hang a client: any bug becomes an ARM 500
            log.exception("emulator handler failed")
            emu._count("errors")
            response = Response(500, {"error": {
                "code": "InternalServerError",
                "message": f"The emulator failed to process the request: {exc!r}"}})
        response.headers.setdefault("x-ms-request-id", request_id)
        response.headers["x-ms-correlation-request-id"] = correlation
        self._send(response)

    def _read_body(self) -> bytes | None:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            self.close_connection = True
            raise ArmError(411, "LengthRequired", "Send the body with a Content-Length.")
        length = self._content_length()
        if length is None:
            return None
        if length > MAX_BODY:
            if length <= DRAIN_LIMIT:
                remaining = length
                while remaining > 0:
                    chunk = self.rfile.read(min(remaining, 65536))
                    if not chunk:
                        break
                    remaining -= len(chunk)
            else:
                self.close_connection = True
            raise ArmError(400, "RequestBodyTooLarge", f"The request body is {length} bytes; "
                           f"the limit is {MAX_BODY} bytes.")
        body = self.rfile.read(length) if length else None
        if body:
            check_json_bounds(body)
        return body

    def _content_length(self) -> int | None:
        """The declared body length, or None. RFC 9110 allows only digits, and one value: int()
        would take '-5' (rfile.read(-5) waits for the client to hang up), '+5', ' 5', '1_0' and
        100,000 digits (slow, then ValueError); differing repeats are a request-smuggling tell."""
        values = self.headers.get_all("Content-Length") or []
        if not values:
            return None
        texts = {v.strip() for v in values}
        text = texts.pop()
        if texts or not _DIGITS.fullmatch(text):
            self.close_connection = True  # the body's end is unknown: the stream is lost
            raise ArmError(400, "InvalidRequestFormat", "Invalid Content-Length: it must be one "
                           "non-negative whole number of bytes.")
        return int(text)

    def _send(self, response: Response) -> None:
        if isinstance(response, Sabotage):  # chaos: late, partial or broken on purpose
            response.deliver(self)
            return
        data = b"" if response.body is NO_BODY else \
            json.dumps(response.body).encode("utf-8")
        self.send_response(response.status)
        for name, value in response.headers.items():
            self.send_header(name, value)
        if response.body is not NO_BODY:
            self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if data:
            self.wfile.write(data)


class EmulatorServer:
    """A local Network Watcher: ARM over HTTP on 127.0.0.1, answering from a topology.

    ``topology`` is a path, a dict, a loaded Topology or None (bundled Contoso). Knobs:
    ``check_seconds`` until a check's result is ready (0: first poll is 200), ``retry_after``
    sent on 202s, ``probes`` overriding ``emulation.probes``, ``write_rate`` writes per second
    before 429 (None: unlimited) with ``write_burst`` saved up (default: one second's worth;
    ARM's own write bucket holds 200 refilled at 10 a second), ``page_size`` items per list
    page before a nextLink,
    ``chaos`` a fault script (chaos.py; also settable as ``server.chaos`` while running).
    ``host`` must be a loopback address unless ``allow_remote``: the token grants write access
    to the twin, and it travels in plain http.
    """

    def __init__(self, topology: Any = None, *, host: str = "127.0.0.1", port: int = 0,
                 token: str | None = None, check_seconds: float = 2.0,
                 retry_after: float = 1.0, probes: int | None = None,
                 write_rate: float | None = None, write_burst: float | None = None,
                 page_size: int = 1000,
                 chaos: Chaos | None = None, allow_remote: bool = False,
                 time_scale: float = 1.0) -> None:
        if not allow_remote and not is_loopback_host(host.strip("[]")):
            raise ValueError(f"host: {host!r} is not a loopback address, so other machines could "
                             "reach the twin, and its token grants write access to it; e.g. "
                             "host='127.0.0.1', or allow_remote=True to serve beyond this machine")
        if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
            raise ValueError(f"port: {port!r} is not a TCP port (0-65535); e.g. port=8080, or "
                             "port=0 for a free one")
        if check_seconds < 0 or retry_after < 0:
            raise ValueError("check_seconds and retry_after must be >= 0")
        if probes is not None and not 1 <= probes <= 100:
            raise ValueError("probes must be 1-100 (the service sends at most 100)")
        if page_size < 1:
            raise ValueError("page_size must be >= 1")
        # load_topology copies a Topology too: PUTs here must not leak into the caller's object.
        # The twin's clock (Connection Monitor runs on it): time_scale twin seconds per second.
        self.clock = TwinClock(time_scale)
        self.app = ArmApp(load_topology(topology), check_seconds=check_seconds,
                          retry_after=retry_after, probes=probes, page_size=page_size,
                          twin_clock=self.clock)
        self.host = host[1:-1] if host.startswith("[") and host.endswith("]") else host
        # Log Analytics is another origin in Azure, with another token: here too (IPv4 only).
        self.log_analytics = LogAnalyticsServer(
            self.app.monitoring.query, host="127.0.0.1" if ":" in self.host else self.host,
            token="")
        self.port = port
        self._fixed_token = token
        self.token = token or ""
        self.write_rate = write_rate
        if write_burst is not None and not write_burst >= 1:
            raise ValueError("write_burst must be >= 1 (writes saved up), e.g. write_burst=200")
        self._bucket = TokenBucket(write_rate, write_burst) if write_rate else None
        self.chaos = chaos
        self._stats: Counter[str] = Counter()
        self._stats_lock = threading.Lock()
        self._httpd: _HttpServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle --------------------------------------------------------------------------
    def start(self) -> EmulatorServer:
        """Serve in a background thread; port 0 picks a free port. Returns self."""
        if self._httpd is not None:
            return self
        self.token = self._fixed_token or new_token()
        httpd = (_HttpServer6 if ":" in self.host else _HttpServer)((self.host, self.port),
                                                                    _Handler)
        httpd.emulator = self
        self._httpd = httpd
        self.port = httpd.server_address[1]
        self.app.endpoint = self.endpoint
        self._thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.02},
                                        name=f"nwlab-emulator:{self.port}", daemon=True)
        self._thread.start()
        self.log_analytics.token = new_token()
        self.log_analytics.start()
        return self

    def stop(self) -> None:
        """Stop serving and join the server thread (idempotent)."""
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        self.log_analytics.stop()
        if self.chaos is not None:
            self.chaos.wake()  # stalled handlers end now
        httpd.shutdown()
        httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def __enter__(self) -> EmulatorServer:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    # -- what callers read ------------------------------------------------------------------
    @property
    def endpoint(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def subscription_id(self) -> str:
        return self.app.topology.subscription_id

    @property
    def log_analytics_endpoint(self) -> str:
        """The Log Analytics query origin (its own port on loopback)."""
        return self.log_analytics.endpoint

    def token_for(self, *scopes: str) -> str:
        """The token a credential hands out for `scopes`: Log Analytics' own for its scope,
        the ARM token otherwise (so neither is ever accepted by the other origin)."""
        if any("loganalytics" in str(s).lower() for s in scopes):
            return self.log_analytics.token
        return self.token

    @property
    def topology(self) -> Topology:
        """The network as it is now (after any PUT/DELETE)."""
        return self.app.topology

    @property
    def stats(self) -> dict[str, int]:
        """Counters: requests, GET/POST/PUT/DELETE, throttled (429s), unauthorized, checks."""
        with self._stats_lock:
            return dict(self._stats)

    @property
    def requests_count(self) -> int:
        return self.stats.get("requests", 0)

    def rotate_token(self) -> str:
        """Issue a new token; the old one is refused from now on (chaos: a token expiring)."""
        self.token = new_token()
        return self.token

    def _count(self, *names: str) -> None:
        with self._stats_lock:
            for name in names:
                self._stats[name] += 1

    # -- one request ------------------------------------------------------------------------
    def _dispatch(self, method: str, target: str, authorization: str | None,
                  read_body: Any) -> Response:
        self._count("requests", method)
        body = read_body()  # always read, so a keep-alive connection stays in sync
        scheme, _, presented = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(presented.strip().encode(),
                                                                 self.token.encode()):
            self._count("unauthorized")
            resp = Response(401, {"error": {
                "code": "AuthenticationFailed",
                "message": "Authentication failed. The 'Authorization' header must be "
                           "'Bearer <token>' with the token the emulator printed at start."}})
            resp.headers["WWW-Authenticate"] = 'Bearer realm="nwlab-emulator"'
            return resp
        chaos = self.chaos
        fault = chaos.decide(method, urlsplit(target).path) if chaos is not None else None
        refused = chaos.before(self, fault) if chaos is not None else None
        if refused is not None:
            return refused
        extra: dict[str, str] = {}
        # The write limit is a subscription's: a tenant-scope POST (a Resource Graph query)
        # answers to its own quota (resource_graph.py), as on Azure.
        if method in WRITE_METHODS and self._bucket is not None and \
                urlsplit(target).path.lower().startswith("/subscriptions/"):
            wait = self._bucket.take()
            if wait > 0:
                self._count("throttled")
                seconds = max(1, math.ceil(wait))  # clients parse Retry-After as whole seconds
                return Response(429, {"error": {
                    "code": "TooManyRequests",
                    "message": f"Number of write requests exceeded the limit of "
                               f"{self.write_rate:g} per second. Retry after {seconds} "
                               "second(s)."}}, {"Retry-After": str(seconds)})
            extra["x-ms-ratelimit-remaining-subscription-writes"] = str(self._bucket.remaining)
        parts = urlsplit(target)
        query = {k.lower() if k.lower() in ("$top", "$skiptoken", "$expand", "statusonly")
                 else k: v for k, v in parse_qsl(parts.query, keep_blank_values=True)}
        try:
            response = self.app.handle(method, parts.path, query, body)
        except ArmError as exc:
            if chaos is None:
                raise
            response = Response(exc.status, exc.body())  # what _serve would send
        if method == "POST" and response.status == 202:
            self._count("checks")
        if method in WRITE_METHODS:  # a what-if: monitors see the new network from now on
            self.app.monitoring.service.observe(self.app.topology)
        response.headers.update(extra)
        if chaos is not None:
            response = chaos.after(self, method, parts.path, body, response, fault)
        return response


def is_loopback_host(host: str) -> bool:
    """Whether binding `host` listens on this machine only. Addresses are read by the OS's own
    parser (AI_NUMERICHOST: 127.1 and 0x7f.0.0.1 are loopback too), '' and names other than
    localhost are not loopback (a name can resolve anywhere; '' binds every interface)."""
    if host.rstrip(".").lower() == "localhost":
        return True
    try:
        found = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM,
                                   flags=socket.AI_NUMERICHOST)
    except (OSError, UnicodeError, ValueError):
        return False
    for info in found:
        address = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        if not address.is_loopback:
            return False
    return bool(found)


def check_json_bounds(body: bytes) -> None:
    """Refuse a body nested deeper than MAX_JSON_DEPTH, with integers longer than
    MAX_INT_DIGITS, NaN/Infinity or numbers beyond a double, with ARM's 400, before the facade
    parses it. Bodies that are not JSON at all
    pass: the facade answers those with its own InvalidRequestContent."""
    def bounded_int(text: str) -> int:
        if len(text.lstrip("-")) > MAX_INT_DIGITS:
            raise _Unbounded(f"an integer of {len(text.lstrip('-'))} digits (the limit is "
                             f"{MAX_INT_DIGITS})")
        return int(text)

    def no_constant(text: str) -> Any:
        raise _Unbounded(f"{text}, which is not JSON")

    def finite_float(text: str) -> float:
        number = float(text)
        if not math.isfinite(number):  # 1e400: beyond any double, float() makes it inf
            raise _Unbounded(f"the number {text[:40]}, beyond the largest a double holds")
        return number

    try:
        value = json.loads(body, parse_int=bounded_int, parse_constant=no_constant,
                           parse_float=finite_float)
    except _Unbounded as exc:
        raise ArmError(400, "InvalidRequestContent", f"The request content was invalid and "
                       f"could not be deserialized: it holds {exc}.") from None
    except RecursionError:
        value = None
        depth = MAX_JSON_DEPTH + 1
    except ValueError:  # not JSON (or not UTF-8): the facade's answer
        return
    else:
        depth = _depth(value)
    if depth > MAX_JSON_DEPTH:
        raise ArmError(400, "InvalidRequestContent", "The request content was invalid and could "
                       f"not be deserialized: it is nested deeper than {MAX_JSON_DEPTH} levels.")


class _Unbounded(ValueError):
    """A JSON token beyond the bounds (raised from inside json.loads' hooks)."""


def _depth(value: Any) -> int:
    """How deep containers nest in `value` (a scalar is 0), without recursion."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict):
            item = list(item.values())
        if isinstance(item, list):
            level += 1
            deepest = max(deepest, level)
            if level > MAX_JSON_DEPTH:
                return level
            stack.extend((child, level) for child in item if isinstance(child, dict | list))
    return deepest
