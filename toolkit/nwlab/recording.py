"""Cassettes: recorded ARM exchanges, replayed to the client's own requests session.

A cassette is one JSON file holding the exchanges of one check (method, URL, request body, status,
headers, body). Replay mounts `ReplayAdapter` as the session's transport, so the client runs the
same code as against Azure. Recording mounts `RecordingAdapter`; what it keeps is scrubbed before
it is written: no request headers at all (so no Authorization), only an allow-list of response
headers, token traffic not recorded, and everything else through nwlab.redact's one redactor in
its replay profile (every GUID, tenant and principal ids, people, tags, secret-valued keys and
tokens; the subscription becomes the all-zero GUID replay connects with, so what replay matches
on, paths with their names and POST bodies, still matches).
"""

from __future__ import annotations

import contextlib
import json
import os
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
from nwlab.files import write_text
from nwlab.redact import Redactor

CASSETTE_FORMAT = 1
# Response headers kept in a cassette: what replay needs and what support asks for. Every other
# header (cookies, caller principal and tenant headers, WWW-Authenticate challenges naming the
# tenant, a proxy's own headers) is dropped on every write, so no re-recording, and no re-save of
# an older or hand-edited cassette, can reveal more than this list.
KEPT_HEADERS = frozenset({
    "content-type", "location", "azure-asyncoperation", "retry-after", "x-ms-request-id",
    "x-ms-correlation-request-id", "x-ms-routing-request-id", "x-ms-arm-service-request-id",
    "pragma", "cache-control", "expires", "strict-transport-security", "server", "date", "etag"})
KEPT_HEADER_PREFIXES = ("x-ms-ratelimit-",)
# Where tokens are handed out (Entra ID in each cloud, managed identity endpoints): never recorded.
_TOKEN_HOSTS = ("login.microsoftonline.com", "login.microsoftonline.us", "login.chinacloudapi.cn",
                "login.partner.microsoftonline.cn", "login.windows.net", "login.microsoft.com",
                "sts.windows.net", "169.254.169.254")
_TOKEN_PATHS = ("/oauth2/", "/metadata/identity/", "/msi/token")

BUNDLED = "nwlab.cassettes"


def header_kept(name: str) -> bool:
    lowered = name.lower()
    return lowered in KEPT_HEADERS or lowered.startswith(KEPT_HEADER_PREFIXES)


def is_token_request(url: str) -> bool:
    """Requests that fetch tokens; their traffic never reaches a cassette."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    return any(host == h or host.endswith("." + h) for h in _TOKEN_HOSTS) \
        or any(p in parts.path.lower() for p in _TOKEN_PATHS)


def scrub_text(text: str) -> str:
    """One string as a cassette would hold it (ids, GUIDs, people and tokens scrubbed)."""
    return str(Redactor(for_replay=True).redact(text))


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

    def scrubbed(self, redactor: Redactor | None = None) -> Interaction:
        """This exchange as it may be written: kept headers only, no ids, no tokens, no secrets.
        Scrub the exchanges of one cassette with one redactor (Cassette.scrubbed does)."""
        kept = Interaction(self.method, self.url, self.request_body, self.status,
                           {k: v for k, v in self.headers.items() if header_kept(k)}, self.body,
                           self.text)
        return Interaction.from_dict((redactor or Redactor(for_replay=True)).redact(kept.to_dict()))

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
        """A cassette file; one that is not JSON or lacks a field is refused naming the file."""
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
            return cls.from_dict(data, default_name=Path(path).stem)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            why = f"no {exc.args[0]!r} field" if isinstance(exc, KeyError) else str(exc)
            raise ValueError(f"cassettes: {str(path)!r} is not a cassette nwlab can replay ({why}); "
                             "e.g. record it again with nw.record(path), or replay the bundled "
                             "ones with nwlab.replay()") from None

    @classmethod
    def from_dict(cls, data: dict[str, Any], default_name: str = "cassette") -> Cassette:
        return cls(name=str(data.get("name") or default_name), note=str(data.get("note") or ""),
                   interactions=[Interaction.from_dict(i) for i in data.get("interactions") or []])

    def to_dict(self) -> dict[str, Any]:
        return {"format": CASSETTE_FORMAT, "name": self.name, "note": self.note,
                "interactions": [i.to_dict() for i in self.interactions]}

    def scrubbed(self) -> Cassette:
        """The whole cassette through one redactor: a GUID gets one pseudonym in every exchange
        (an operation's Location and the polls of that URL still match), and an id learnt in one
        exchange is scrubbed wherever else it appears."""
        redactor = Redactor(for_replay=True)
        redactor.learn({"note": self.note, "interactions": [i.to_dict() for i in self.interactions]})
        return Cassette(name=self.name, note=str(redactor.redact({"note": self.note})["note"]),
                        interactions=[i.scrubbed(redactor) for i in self.interactions])

    def save(self, path: str | Path) -> None:
        """Write atomically: a crash leaves the old file or the new one, never half of one.

        Every write goes through the scrubber, so a cassette loaded from an older or hand-edited
        file and saved again never keeps a header, id or token the scrubber would remove.
        """
        write_text(path, json.dumps(self.scrubbed().to_dict(), indent=1, sort_keys=False) + "\n")


def _canonical_body(body: Any) -> str:
    """POST bodies match as JSON, keys sorted. Port 0 and no port are one request to the service
    (the documents send 0 where no port is meant), so port 0 is dropped before comparing; resource
    ids are compared without case, as ARM compares them."""
    if isinstance(body, dict):
        body = _canonical_value(body)
    return json.dumps(body, sort_keys=True, separators=(",", ":"))


def _canonical_value(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: (v.lower() if k == "resourceId" and isinstance(v, str) else _canonical_value(v))
                for k, v in value.items() if not (k == "port" and v == 0)}
    if isinstance(value, list):
        return [_canonical_value(v) for v in value]
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
            if item.method == "POST":
                # A replayed POST starts its operation again: its polls replay from the first
                # recorded answer, so every run of a check looks the same (same polls, same meta).
                for header in ("Location", "Azure-AsyncOperation"):
                    url = CaseInsensitiveDict(item.headers).get(header)
                    if url:
                        self._cursor.pop(match_key("GET", url, None), None)
        return _build_response(request, item)

    def _mismatch(self, request: requests.PreparedRequest) -> str:
        names = ", ".join(c.name for c in self.cassettes) or "none"
        body = _request_body(request)
        shown = f" with body {json.dumps(body, sort_keys=True)}" if body is not None else ""
        return (f"Replay has no recorded answer for {request.method} "
                f"{urlsplit(str(request.url)).path}{shown}. Cassettes searched ({self.origin}): "
                f"{names}. Check the inputs, or record the exchange against Azure with "
                "nwlab.recording.recording(nw.arm.session, path).")

    def recorded_checks(self) -> list[dict[str, Any]]:
        """The connection checks these cassettes can answer (see `recorded_checks`)."""
        return recorded_checks(self.cassettes)

    def close(self) -> None:
        pass


def recorded_checks(cassettes: list[Cassette]) -> list[dict[str, Any]]:
    """Each recorded connectivityCheck POST as `check()` keyword arguments, in cassette order.

    Read from the request bodies (what replay matches on): source and destination as resource id
    or address, port None where the request sent none (0), and the options the body carried. A
    check several cassettes hold (its own and a diagnose() recording of it) is listed once.
    """
    checks: list[dict[str, Any]] = []
    for cassette in cassettes:
        for item in cassette.interactions:
            body = item.request_body
            if item.method != "POST" or not urlsplit(item.url).path.endswith("/connectivityCheck") \
                    or not isinstance(body, dict):
                continue
            source: dict[str, Any] = body["source"] if isinstance(body.get("source"), dict) else {}
            target: dict[str, Any] = (body["destination"] if isinstance(body.get("destination"), dict)
                                      else {})
            port = target.get("port")
            check = {
                "source": source.get("resourceId"),
                "destination": target.get("resourceId") or target.get("address"),
                "port": port if isinstance(port, int) and port else None,
                "protocol": body.get("protocol"),
                "source_port": source.get("port") or None,
                "ip_version": body.get("preferredIPVersion"),
                "http": body.get("protocolConfiguration"),
            }
            if check not in checks:
                checks.append(check)
    return checks


def _build_response(request: requests.PreparedRequest, item: Interaction) -> requests.Response:
    response = requests.Response()
    response.status_code = item.status
    response.headers = CaseInsensitiveDict(item.headers)
    text = item.text if item.text is not None else json.dumps(item.body)
    response._content = text.encode("utf-8")
    response.encoding = "utf-8"
    response.url = str(request.url)
    response.request = request
    response.reason = "Recorded"
    return response


class RecordingAdapter(HTTPAdapter):
    """A real transport that also keeps every exchange (token traffic excepted), to be scrubbed
    as one cassette when the recording ends (`interactions` is the scrubbed view)."""

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()
        self._raw: list[Interaction] = []
        self.skipped = 0

    @property
    def interactions(self) -> list[Interaction]:
        return Cassette("recording", self.raw()).scrubbed().interactions

    def raw(self) -> list[Interaction]:
        """What was exchanged, unscrubbed (headers included): never write this anywhere."""
        with self._lock:
            return list(self._raw)

    def send(self, request: requests.PreparedRequest, stream: bool = False, timeout: Any = None,
             verify: Any = True, cert: Any = None, proxies: Any = None) -> requests.Response:
        response = super().send(request, stream=stream, timeout=timeout, verify=verify, cert=cert,
                                proxies=proxies)
        url = str(request.url)
        if is_token_request(url):
            with self._lock:
                self.skipped += 1
            return response
        body, text = _response_body(response)
        item = Interaction(method=str(request.method).upper(), url=url,
                           request_body=_request_body(request), status=response.status_code,
                           headers=dict(response.headers), body=body, text=text)
        with self._lock:
            self._raw.append(item)
        return response


@contextlib.contextmanager
def recording(session: requests.Session, path: str | Path, *, name: str | None = None,
              note: str = "", rewrite_endpoint: tuple[str, str] | None = None) -> Iterator[Cassette]:
    """Record every exchange made through `session` inside the block into the cassette at `path`.

    The cassette is written (atomically, scrubbed) only when the block finishes: a block that
    raises leaves any existing cassette as it was, never half a recording.
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
    items = adapter.raw()
    if rewrite_endpoint:
        old_ep, new_ep = rewrite_endpoint
        items = [Interaction.from_dict(json.loads(json.dumps(i.to_dict()).replace(old_ep, new_ep)))
                 for i in items]
    scrubbed = Cassette(cassette.name, items, cassette.note).scrubbed()
    cassette.interactions, cassette.note = scrubbed.interactions, scrubbed.note
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
