"""A light requests transport for plain-http endpoints (the local emulator).

requests + urllib3 spend about 0.6 ms of CPU on each exchange (pool bookkeeping, URL parsing
three times, header validation, retry objects, response wrappers), which bounds a batch of
hundreds of checks polling at once. `PlainHttpAdapter` writes the request head itself and reads
the answer with http.client's own parser over kept-alive sockets, so a response is read exactly
as urllib3 would read it (a cut header block reads as complete; a short body is IncompleteRead).

Only ``http://`` without a proxy comes here: Azure is https and keeps requests/urllib3 with TLS
verification and proxies; anything this adapter does not handle (a proxy, a streamed body or
response, a client certificate) is passed to a regular HTTPAdapter.

Failures map as requests maps them, because the client's retry rules depend on it: a connect
failure is ConnectionError (ConnectTimeout when it timed out), silence past the read timeout is
ReadTimeout, a connection dropped in the status line or headers is ConnectionError and one
dropped in the body (fewer bytes than Content-Length) ChunkedEncodingError. A connection is
closed and forgotten after any error and when the server says it will close.
"""

from __future__ import annotations

import http.client
import io
import re
import select
import socket
import zlib
from collections.abc import Mapping
from http.client import (
    HTTPConnection,
    HTTPException,
    HTTPResponse,
    IncompleteRead,
    UnknownProtocol,
    parse_headers,
)
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.adapters import BaseAdapter, HTTPAdapter
from requests.structures import CaseInsensitiveDict
from requests.utils import get_encoding_from_headers

_Key = tuple[str, int]


class _Consumed:
    """`response.raw` for an answer read in full: nothing left to read or release."""

    _original_response = None

    def read(self, *args: Any, **kwargs: Any) -> bytes:
        return b""

    def close(self) -> None:
        pass

    def release_conn(self) -> None:
        pass


_CONSUMED = _Consumed()


def _dropped(sock: socket.socket) -> bool:
    """True when an idle kept-alive socket was closed by the server (readable = EOF or junk)."""
    try:
        if _poll is not None:
            poller = _poll()
            poller.register(sock, select.POLLIN)
            return bool(poller.poll(0))
        return bool(select.select([sock], [], [], 0)[0])
    except (OSError, ValueError):
        return True


_poll = getattr(select, "poll", None)
_read_headers = http.client._read_headers  # type: ignore[attr-defined]

# What email's header parser (http.client's) takes as a header line: a name and a colon.
_NAME = re.compile(r"[\x21-\x39\x3b-\x7e]*\Z")


class _Fields(dict[str, str]):
    """The first value of each header by lower-case name: what HTTPResponse.begin asks of its
    headers (transfer-encoding, content-length, connection, keep-alive)."""

    def get(self, name: str, default: Any = None) -> Any:
        return dict.get(self, name.lower(), default)


def _parse_fields(lines: list[bytes]) -> tuple[CaseInsensitiveDict[str], _Fields]:
    """The header lines as http.client's email parser reads them, at a tenth of its cost.

    Same rules: a line without a `name:` ends the block (a cut header block reads as complete),
    continuation lines extend the previous value, values keep everything after the colon but
    leading blanks and the line end. Anything unusual (a bare CR) goes to the email parser.
    """
    pairs: list[tuple[str, list[str]]] = []
    for raw in lines:
        line = raw.decode("iso-8859-1")
        body = line[:-2] if line.endswith("\r\n") else line[:-1] if line.endswith("\n") else line
        if "\r" in body or line.startswith("From "):
            return _parse_slowly(lines)
        if line[:1] in (" ", "\t"):
            if pairs:
                pairs[-1][1].append(line)
            continue
        name, colon, value = line.partition(":")
        if not colon or not _NAME.match(name):
            break
        if not name:
            continue
        pairs.append((name, [value.lstrip(" \t")]))
    fields: CaseInsensitiveDict[str] = CaseInsensitiveDict()
    first = _Fields()
    for name, parts in pairs:
        value = "".join(parts).rstrip("\r\n")
        lower = name.lower()
        if lower in first:  # repeated headers are joined, as urllib3 does
            fields[name] = f"{fields[name]}, {value}"
        else:
            first[lower] = value
            fields[name] = value
    return fields, first


def _parse_slowly(lines: list[bytes]) -> tuple[CaseInsensitiveDict[str], _Fields]:
    message = parse_headers(io.BytesIO(b"".join(lines) + b"\r\n"))
    fields: CaseInsensitiveDict[str] = CaseInsensitiveDict()
    first = _Fields()
    for name, value in message.items():
        lower = name.lower()
        if lower in first:
            fields[name] = f"{fields[name]}, {value}"
        else:
            first[lower] = value
            fields[name] = value
    return fields, first


class _Answer(HTTPResponse):
    """http.client's response with a fast header parser: begin() is the standard library's
    (Python 3.11-3.13), but for parse_headers."""

    fields: CaseInsensitiveDict[str]

    def begin(self) -> None:
        if self.headers is not None:
            return
        while True:
            version, status, reason = self._read_status()
            if status != 100:
                break
            _read_headers(self.fp)
        self.code = self.status = status
        self.reason = reason.strip()
        if version in ("HTTP/1.0", "HTTP/0.9"):
            self.version = 10
        elif version.startswith("HTTP/1."):
            self.version = 11
        else:
            raise UnknownProtocol(version)
        self.fields, first = _parse_fields(_read_headers(self.fp))
        self.headers = self.msg = first
        tr_enc = first.get("transfer-encoding")
        self.chunked = bool(tr_enc and tr_enc.lower() == "chunked")
        if self.chunked:
            self.chunk_left = None
        self.will_close = self._check_close()
        self.length = None
        length = first.get("content-length")
        if length and not self.chunked:
            try:
                self.length = int(length)
            except ValueError:
                self.length = None
            else:
                if self.length < 0:
                    self.length = None
        if status in (204, 304) or 100 <= status < 200 or self._method == "HEAD":
            self.length = 0
        if not self.will_close and not self.chunked and self.length is None:
            self.will_close = True


class PlainHttpAdapter(BaseAdapter):
    """http:// over kept-alive http.client connections, at most `pool_maxsize` idle per host."""

    def __init__(self, pool_maxsize: int = 256, fallback: HTTPAdapter | None = None) -> None:
        super().__init__()
        self.pool_maxsize = pool_maxsize
        self.fallback = fallback or HTTPAdapter(pool_connections=4, pool_maxsize=pool_maxsize)
        # Idle connections per (host, port); list.pop()/append() are atomic, so no lock.
        self._idle: dict[_Key, list[HTTPConnection]] = {}
        # Parsed URL parts by the URL up to its path: the client sends to a handful of hosts.
        self._targets: dict[str, tuple[_Key, str]] = {}
        self.connections_opened = 0

    # -- requests' interface --------------------------------------------------------------

    def send(self, request: requests.PreparedRequest, stream: bool = False,
             timeout: Any = None, verify: Any = True, cert: Any = None,
             proxies: Mapping[str, str] | None = None) -> requests.Response:
        url = request.url or ""
        body = request.body
        if stream or cert or not url.startswith("http://") or _proxied(url, proxies) \
                or not (body is None or isinstance(body, bytes | str)):
            return self.fallback.send(request, stream=stream, timeout=timeout, verify=verify,
                                      cert=cert, proxies=proxies)
        connect_timeout, read_timeout = _timeouts(timeout)
        key, host_header = self._target(url)
        method = request.method or "GET"
        path = request.path_url
        headers = request.headers
        lines = [f"{method} {path} HTTP/1.1\r\n"]
        if "Host" not in headers:
            lines.append(f"Host: {host_header}\r\n")
        for name, value in headers.items():
            lines.append(f"{name}: {value}\r\n")
        data = body.encode("utf-8") if isinstance(body, str) else body
        if data is not None and "Content-Length" not in headers:
            lines.append(f"Content-Length: {len(data)}\r\n")
        lines.append("\r\n")
        payload = "".join(lines).encode("latin-1")
        if data:
            payload += data

        conn = self._checkout(key, connect_timeout, request)
        try:
            sock = conn.sock
            assert sock is not None
            sock.settimeout(read_timeout)
            sock.sendall(payload)
            answer = _Answer(sock, method=method)
            answer.begin()
            content = answer.read()
        except TimeoutError as exc:
            conn.close()
            raise requests.ReadTimeout(exc, request=request) from exc
        except IncompleteRead as exc:
            conn.close()
            raise requests.exceptions.ChunkedEncodingError(
                f"Connection broken: {exc!r}", request=request) from exc
        except (OSError, HTTPException) as exc:
            conn.close()
            raise requests.ConnectionError(exc, request=request) from exc
        except BaseException:
            conn.close()
            raise
        if answer.will_close:
            conn.close()
        else:
            self._checkin(key, conn)
        return self._response(request, answer, content)

    def close(self) -> None:
        idle, self._idle = self._idle, {}
        for connections in idle.values():
            while connections:
                connections.pop().close()
        self.fallback.close()

    # -- connections ----------------------------------------------------------------------

    def _target(self, url: str) -> tuple[_Key, str]:
        base = url[: url.find("/", 7) if url.find("/", 7) > 0 else len(url)]
        target = self._targets.get(base)
        if target is None:
            parts = urlsplit(base)
            host = parts.hostname or ""
            port = parts.port or 80
            target = (host, port), parts.netloc.rpartition("@")[2]
            if len(self._targets) < 64:
                self._targets[base] = target
        return target

    def _checkout(self, key: _Key, connect_timeout: float | None,
                  request: requests.PreparedRequest) -> HTTPConnection:
        idle = self._idle.get(key)
        if idle is None:
            idle = self._idle.setdefault(key, [])
        while True:
            try:
                conn = idle.pop()
            except IndexError:
                break
            if conn.sock is not None and not _dropped(conn.sock):
                return conn
            conn.close()
        conn = HTTPConnection(key[0], key[1], timeout=connect_timeout)
        try:
            conn.connect()
        except TimeoutError as exc:
            conn.close()
            raise requests.exceptions.ConnectTimeout(exc, request=request) from exc
        except OSError as exc:
            conn.close()
            raise requests.ConnectionError(exc, request=request) from exc
        self.connections_opened += 1
        return conn

    def _checkin(self, key: _Key, conn: HTTPConnection) -> None:
        idle = self._idle.get(key)
        if idle is None or len(idle) >= self.pool_maxsize:
            conn.close()
        else:
            idle.append(conn)

    # -- the answer -----------------------------------------------------------------------

    @staticmethod
    def _response(request: requests.PreparedRequest, answer: _Answer,
                  content: bytes) -> requests.Response:
        headers = answer.fields
        encoding = headers.get("Content-Encoding")
        if encoding and content:
            content = _decode(content, encoding.strip().lower(), request)
        response = requests.Response()
        response.status_code = answer.status
        response.headers = headers
        response.reason = answer.reason
        response.url = request.url or ""
        response.request = request
        response.encoding = get_encoding_from_headers(headers)
        response.raw = _CONSUMED
        response._content = content
        response._content_consumed = True  # type: ignore[attr-defined]
        return response


def _decode(content: bytes, encoding: str, request: requests.PreparedRequest) -> bytes:
    """gzip/deflate bodies decoded as urllib3 would; other codings are left as sent."""
    try:
        if encoding in ("gzip", "x-gzip"):
            return zlib.decompress(content, 16 + zlib.MAX_WBITS)
        if encoding == "deflate":
            try:
                return zlib.decompress(content)
            except zlib.error:
                return zlib.decompress(content, -zlib.MAX_WBITS)
    except zlib.error as exc:
        raise requests.exceptions.ContentDecodingError(
            f"Received response with content-encoding: {encoding}, but failed to decode it.",
            request=request) from exc
    return content


def _timeouts(timeout: Any) -> tuple[float | None, float | None]:
    if isinstance(timeout, tuple):
        connect, read = timeout
        return connect, read
    return timeout, timeout


def _proxied(url: str, proxies: Mapping[str, str] | None) -> bool:
    if not proxies:
        return False
    from requests.utils import select_proxy

    return select_proxy(url, dict(proxies)) is not None


__all__ = ["PlainHttpAdapter"]
