"""Cassettes: recorded ARM exchanges, replayed to the client's own requests session.

A cassette is one JSON file holding the exchanges of one check (method, URL, request body, status,
headers, body). Replay mounts `ReplayAdapter` as the session's transport, so the client runs the
same code as against Azure. Recording mounts `RecordingAdapter`, which scrubs before writing:
no Authorization header, no token, subscription and tenant ids replaced by zeros.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import requests
from requests.adapters import BaseAdapter, HTTPAdapter
from requests.structures import CaseInsensitiveDict

from nwlab.arm.errors import ReplayMismatch
from nwlab.arm.ids import ZERO_SUBSCRIPTION

CASSETTE_FORMAT = 1
_GUID = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
_SUBSCRIPTION_IN_PATH = re.compile(rf"(/subscriptions/){_GUID}", re.IGNORECASE)
_ID_FIELDS = re.compile(rf'("(?:subscriptionId|tenantId|homeTenantId|managedByTenants)"\s*:\s*"){_GUID}"')
_JWT = re.compile(r"eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*")
_BEARER = re.compile(r"(?i)bearer\s+[A-Za-z0-9._~+/=-]+")
# Headers that identify a person, a machine or a token; never worth keeping in a shared file.
_DROP_HEADERS = frozenset({"authorization", "set-cookie", "cookie", "x-ms-client-principal-id",
                           "x-ms-client-principal-name", "x-ms-client-tenant-id",
                           "x-ms-client-object-id", "x-ms-client-app-id"})
# Hosts that hand out tokens: their traffic is never recorded.
_TOKEN_HOSTS = ("login.microsoftonline", "login.windows.net", "login.chinacloudapi.cn",
                "login.microsoftonline.us", "169.254.169.254")

BUNDLED = "nwlab.cassettes"


def scrub_text(text: str) -> str:
    """Replace subscription and tenant ids with zeros and cut out anything that looks like a token."""
    text = _SUBSCRIPTION_IN_PATH.sub(rf"\g<1>{ZERO_SUBSCRIPTION}", text)
    text = _ID_FIELDS.sub(rf'\g<1>{ZERO_SUBSCRIPTION}"', text)
    text = _JWT.sub("<redacted-token>", text)
    return _BEARER.sub("Bearer <redacted>", text)


def _scrub_value(value: Any) -> Any:
    return json.loads(scrub_text(json.dumps(value)))


@dataclass
class Interaction:
    method: str
    url: str
    request_body: Any
    status: int
    headers: dict[str, str]
    body: Any
    text: str | None = None  # the raw body when it was not JSON

    def to_dict(self) -> dict[str, Any]:
        response: dict[str, Any] = {"status": self.status, "headers": self.headers}
        if self.text is not None:
            response["text"] = self.text
        else:
            response["body"] = self.body
        return {"request": {"method": self.method, "url": self.url, "body": self.request_body},
                "response": response}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Interaction:
        req, resp = data["request"], data["response"]
        return cls(method=str(req["method"]).upper(), url=str(req["url"]),
                   request_body=req.get("body"), status=int(resp["status"]),
                   headers={str(k): str(v) for k, v in (resp.get("headers") or {}).items()},
                   body=resp.get("body"), text=resp.get("text"))


@dataclass
class Cassette:
    name: str
    interactions: list[Interaction] = field(default_factory=list)
    note: str = ""

    @classmethod
    def load(cls, path: str | Path) -> Cassette:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        return cls.from_dict(data, default_name=Path(path).stem)

    @classmethod
    def from_dict(cls, data: dict[str, Any], default_name: str = "cassette") -> Cassette:
        return cls(name=str(data.get("name") or default_name), note=str(data.get("note") or ""),
                   interactions=[Interaction.from_dict(i) for i in data.get("interactions") or []])

    def to_dict(self) -> dict[str, Any]:
        return {"format": CASSETTE_FORMAT, "name": self.name, "note": self.note,
                "interactions": [i.to_dict() for i in self.interactions]}

    def save(self, path: str | Path) -> None:
        """Write atomically: a crash leaves the old file or the new one, never half of one."""
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        text = json.dumps(self.to_dict(), indent=1, sort_keys=False) + "\n"
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(text)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, target)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise


def _canonical_body(body: Any) -> str:
    """POST bodies match as JSON, keys sorted. Port 0 and no port are one request to the service
    (the documents send 0 where no port is meant), so port 0 is dropped before comparing."""
    if isinstance(body, dict):
        body = _drop_zero_ports(body)
    return json.dumps(body, sort_keys=True, separators=(",", ":"))


def _drop_zero_ports(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _drop_zero_ports(v) for k, v in value.items() if not (k == "port" and v == 0)}
    if isinstance(value, list):
        return [_drop_zero_ports(v) for v in value]
    return value


def match_key(method: str, url: str, body: Any) -> tuple[str, str, str, str]:
    """Method, path (ARM paths are case-insensitive), query without api-version, and a POST's body."""
    parts = urlsplit(url)
    query = sorted((k.lower(), v) for k, v in parse_qsl(parts.query) if k.lower() != "api-version")
    method = method.upper()
    return (method, parts.path.rstrip("/").lower(), json.dumps(query),
            _canonical_body(body) if method == "POST" else "")


def _request_body(request: requests.PreparedRequest) -> Any:
    raw = request.body
    if raw is None:
        return None
    text = raw.decode("utf-8") if isinstance(raw, bytes) else str(raw)
    try:
        return json.loads(text)
    except ValueError:
        return text


def _response_body(response: requests.Response) -> tuple[Any, str | None]:
    text = response.text
    if not text.strip():
        return None, ""
    try:
        return json.loads(text), None
    except ValueError:
        return None, text


class ReplayAdapter(BaseAdapter):
    """Serve recorded answers: same method, path and (for POST) body; in recorded order, the last
    one repeating, so a check can be replayed as often as wanted."""

    def __init__(self, cassettes: list[Cassette], origin: str = "") -> None:
        super().__init__()
        self.cassettes = cassettes
        self.origin = origin
        self._lock = threading.Lock()
        self._answers: dict[tuple[str, str, str, str], list[Interaction]] = {}
        self._cursor: dict[tuple[str, str, str, str], int] = {}
        self.served = 0
        for cassette in cassettes:
            for item in cassette.interactions:
                key = match_key(item.method, item.url, item.request_body)
                self._answers.setdefault(key, []).append(item)

    def send(self, request: requests.PreparedRequest, stream: bool = False, timeout: Any = None,
             verify: Any = True, cert: Any = None, proxies: Any = None) -> requests.Response:
        key = match_key(str(request.method), str(request.url), _request_body(request))
        with self._lock:
            answers = self._answers.get(key)
            if not answers:
                raise ReplayMismatch(self._mismatch(request))
            index = self._cursor.get(key, 0)
            self._cursor[key] = index + 1
            self.served += 1
        item = answers[min(index, len(answers) - 1)]
        return _build_response(request, item)

    def _mismatch(self, request: requests.PreparedRequest) -> str:
        names = ", ".join(c.name for c in self.cassettes) or "none"
        body = _request_body(request)
        shown = f" with body {json.dumps(body, sort_keys=True)}" if body is not None else ""
        return (f"Replay has no recorded answer for {request.method} "
                f"{urlsplit(str(request.url)).path}{shown}. Cassettes searched ({self.origin}): "
                f"{names}. Record it against Azure with nw.recording(path), or check the inputs.")

    def close(self) -> None:
        pass


def _build_response(request: requests.PreparedRequest, item: Interaction) -> requests.Response:
    response = requests.Response()
    response.status_code = item.status
    response.headers = CaseInsensitiveDict(item.headers)
    if item.text is not None:
        content = item.text.encode("utf-8")
    else:
        content = json.dumps(item.body).encode("utf-8")
    response._content = content
    response.encoding = "utf-8"
    response.url = str(request.url)
    response.request = request
    response.reason = "Recorded"
    return response


class RecordingAdapter(HTTPAdapter):
    """A real transport that also keeps a scrubbed copy of every exchange."""

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()
        self.interactions: list[Interaction] = []

    def send(self, request: requests.PreparedRequest, stream: bool = False, timeout: Any = None,
             verify: Any = True, cert: Any = None, proxies: Any = None) -> requests.Response:
        response = super().send(request, stream=stream, timeout=timeout, verify=verify, cert=cert,
                                proxies=proxies)
        host = urlsplit(str(request.url)).netloc.lower()
        if any(token_host in host for token_host in _TOKEN_HOSTS) or "/oauth2/" in str(request.url):
            return response
        body, text = _response_body(response)
        headers = {k: scrub_text(v) for k, v in response.headers.items()
                   if k.lower() not in _DROP_HEADERS}
        item = Interaction(method=str(request.method).upper(), url=scrub_text(str(request.url)),
                           request_body=_scrub_value(_request_body(request)),
                           status=response.status_code, headers=headers,
                           body=_scrub_value(body), text=scrub_text(text) if text else None)
        with self._lock:
            self.interactions.append(item)
        return response


@contextlib.contextmanager
def recording(session: requests.Session, path: str | Path, *, name: str | None = None,
              note: str = "", rewrite_endpoint: tuple[str, str] | None = None) -> Iterator[Cassette]:
    """Record every exchange made through `session` inside the block into the cassette at `path`.

    `rewrite_endpoint=(old, new)` swaps a stand-in server's address for the real endpoint, so
    cassettes recorded against a loopback server replay as Azure's.
    """
    adapter = RecordingAdapter()
    previous = {prefix: session.adapters[prefix] for prefix in ("http://", "https://")}
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    cassette = Cassette(name=name or Path(path).stem, note=note)
    try:
        yield cassette
    finally:
        for prefix, old in previous.items():
            session.mount(prefix, old)
        items = adapter.interactions
        if rewrite_endpoint:
            old_ep, new_ep = rewrite_endpoint
            items = [Interaction.from_dict(json.loads(json.dumps(i.to_dict()).replace(old_ep, new_ep)))
                     for i in items]
        cassette.interactions = items
        cassette.save(path)


def load_cassettes(source: Any = None) -> tuple[list[Cassette], str]:
    """Cassettes from a directory, a file, a list of those, or (None) the bundled seed cassettes."""
    if source is None:
        folder = resources.files(BUNDLED)
        found = sorted((p for p in folder.iterdir() if p.name.endswith(".json")),
                       key=lambda p: p.name)
        return [Cassette.from_dict(json.loads(p.read_text(encoding="utf-8")), p.name[:-5])
                for p in found], "bundled seed cassettes"
    items = source if isinstance(source, list | tuple) else [source]
    cassettes: list[Cassette] = []
    for item in items:
        if isinstance(item, Cassette):
            cassettes.append(item)
            continue
        if not isinstance(item, str | os.PathLike):
            raise TypeError(f"cassettes: expected a folder or file path, got {type(item).__name__}; "
                            "e.g. nwlab.replay('notebooks/cassettes')")
        path = Path(item)
        if path.is_dir():
            cassettes.extend(Cassette.load(p) for p in sorted(path.glob("*.json")))
        elif path.is_file():
            cassettes.append(Cassette.load(path))
        else:
            raise ValueError(f"cassettes: {str(item)!r} is neither a folder nor a cassette file; "
                             "e.g. nwlab.replay('notebooks/cassettes') or nwlab.replay() for the "
                             "bundled ones")
    if not cassettes:
        raise ValueError(f"cassettes: no *.json cassette found in {source!r}")
    return cassettes, ", ".join(str(i) for i in items)
