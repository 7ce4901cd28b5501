"""One requests session per client: auth, request ids, retries and a shared back-off on throttling.

Retries follow the reference's §6.4 advice: GETs (and other idempotent reads/writes) are retried on
408/429/5xx and on connection failures with backoff that honours Retry-After; a POST is re-sent only
after a 429 or a 401 (ARM refused it, so no check was started) and never after a timeout or a
dropped connection, because a second POST starts a second check.
"""

from __future__ import annotations

import re
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import requests
from requests.compat import json as complexjson  # type: ignore[attr-defined]
from requests.structures import CaseInsensitiveDict
from requests.utils import check_header_validity

from nwlab import __version__
from nwlab.arm.auth import TokenCache, TokenCredential
from nwlab.arm.clouds import Cloud
from nwlab.arm.errors import ArmError, BackendUnavailable, CheckCancelled, ThrottledError
from nwlab.arm.headers import parse_retry_after
from nwlab.arm.throttle import TokenBucket

DEFAULT_API_VERSIONS = {
    # connectivityCheck's wire format has not changed in a way that matters since 2020-05-01;
    # 2024-05-01 is a mature version every public region serves (reference §1.2).
    "Microsoft.Network": "2024-05-01",
    "Microsoft.Compute": "2024-07-01",
    "resources": "2021-04-01",
    "subscriptions": "2022-12-01",
}
RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
IDEMPOTENT = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})
WRITES = frozenset({"POST", "PUT", "DELETE", "PATCH"})


_DEADLINE: ContextVar[float | None] = ContextVar("nwlab_request_deadline", default=None)


@contextmanager
def deadline_scope(deadline: float | None) -> Iterator[None]:
    """Requests made inside (on this thread) that name no deadline of their own end by this one,
    so a check's timeout also bounds its pre-flight reads (a Retry-After: 3600 on a GET)."""
    token = _DEADLINE.set(deadline)
    try:
        yield
    finally:
        _DEADLINE.reset(token)


class Canceller:
    """Anything with is_set() (a threading.Event) stops waits early."""

    def __init__(self, *events: Any) -> None:
        self.events = [e for e in events if e is not None]

    def is_set(self) -> bool:
        return any(e.is_set() for e in self.events)

    def wait(self, timeout: float) -> bool:
        """Block until one event is set or `timeout` passes; True when set. A single Event is
        waited on directly (no polling: a batch has hundreds of checks asleep at once); several
        are watched in slices short enough for a Stop button."""
        if len(self.events) == 1 and isinstance(self.events[0], threading.Event):
            return self.events[0].wait(timeout)
        deadline = time.monotonic() + timeout
        first = self.events[0] if self.events and isinstance(self.events[0], threading.Event) \
            else None
        while not self.is_set():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            if first is not None:
                first.wait(min(remaining, 0.25))
            else:
                time.sleep(min(remaining, 0.05))
        return True


class CancelScope:
    """A Stop that wakes waiting checks without polling: set() sets the Event of every check
    attached to it. Clients and batches own one each; a check attaches its own Event to both."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._set = False
        self._attached: set[threading.Event] = set()

    def is_set(self) -> bool:
        return self._set

    def set(self) -> None:
        with self._lock:
            self._set = True
            attached = list(self._attached)
        for event in attached:
            event.set()

    def attach(self, event: threading.Event) -> None:
        with self._lock:
            if self._set:
                event.set()
            else:
                self._attached.add(event)

    def detach(self, event: threading.Event) -> None:
        with self._lock:
            self._attached.discard(event)


@dataclass(frozen=True)
class RequestRecord:
    """What support asks for after a failure: which request, what came back, and its ids."""

    method: str
    url: str
    status: int | None
    request_id: str | None
    correlation_id: str | None
    client_request_id: str
    elapsed_s: float


class ArmClient:
    """Talks to one ARM endpoint for one subscription; thread-safe, shared by concurrent checks."""

    def __init__(self, *, subscription_id: str, credential: TokenCredential, cloud: Cloud,
                 api_versions: dict[str, str] | None = None, session: requests.Session | None = None,
                 sleep: Callable[[float], None] | None = time.sleep,
                 request_timeout: tuple[float, float] = (10.0, 60.0),
                 max_retries: int = 10, status_retries: int = 3, connection_retries: int = 3,
                 backoff_factor: float = 0.8, backoff_max: float = 120.0,
                 write_budget: TokenBucket | None = None) -> None:
        self.subscription_id = subscription_id
        self.cloud = cloud
        self.endpoint = cloud.endpoint.rstrip("/")
        self.api_versions = {**DEFAULT_API_VERSIONS, **(api_versions or {})}
        self.session = session or _pooled_session()
        _read_environment_once(self.session, self.endpoint)
        self.tokens = TokenCache(credential, cloud.scope)
        # None means "never sleep" (replay): waits are skipped but cancellation is still honoured.
        self._sleep = sleep
        self.request_timeout = request_timeout
        self.max_retries = max_retries
        self.status_retries = status_retries
        self.connection_retries = connection_retries
        self.backoff_factor = backoff_factor
        self.backoff_max = backoff_max
        self.write_budget = write_budget
        self.user_agent = f"nwlab/{__version__} python-requests/{requests.__version__}"
        self.history: deque[RequestRecord] = deque(maxlen=200)
        self.throttled_responses = 0
        self._throttle_lock = threading.Lock()
        self._throttled_until = 0.0

    # -- waiting ---------------------------------------------------------------------------

    @property
    def sleeps(self) -> bool:
        return self._sleep is not None

    def wait(self, seconds: float, cancel: Any = None) -> None:
        """Sleep, waking early (and raising CheckCancelled) when `cancel` is set."""
        if cancel is not None and cancel.is_set():
            raise CheckCancelled("The check was stopped.")
        if seconds <= 0 or self._sleep is None:
            return
        if cancel is None:
            self._sleep(seconds)
            return
        if self._sleep is time.sleep and isinstance(cancel, Canceller | threading.Event):
            if cancel.wait(seconds):
                raise CheckCancelled("The check was stopped.")
            return
        deadline = time.monotonic() + seconds
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            self._sleep(min(remaining, 0.05))
            if cancel.is_set():
                raise CheckCancelled("The check was stopped.")

    def _backoff(self, attempt: int) -> float:
        # azure-core: first retry immediate, then factor * 2^(n-1), capped (reference §6.4).
        if attempt <= 1:
            return 0.0
        return min(self.backoff_max, self.backoff_factor * (2 ** (attempt - 1)))

    def note_throttled(self, retry_after: float | None) -> None:
        """Every request of this client waits out a 429 that any of them received."""
        with self._throttle_lock:
            self.throttled_responses += 1
            until = time.monotonic() + (retry_after if retry_after is not None else 1.0)
            self._throttled_until = max(self._throttled_until, until)

    def _wait_for_throttle(self, cancel: Any, deadline: float | None = None) -> None:
        while True:
            with self._throttle_lock:
                remaining = self._throttled_until - time.monotonic()
            if remaining <= 0 or self._sleep is None:
                return
            if _past(deadline, remaining):
                # Waiting out the back-off would end past the deadline: give up now, unsent.
                raise ThrottledError(
                    f"ARM throttled this client for {remaining:.1f} s more (Retry-After), past "
                    "this request's deadline; nothing was sent.", status=429,
                    code="TooManyRequests", retry_after=remaining, fix=_THROTTLE_FIX)
            self.wait(remaining, cancel)

    # -- requests --------------------------------------------------------------------------

    def url(self, path: str, api_version: str | None = None) -> tuple[str, dict[str, str]]:
        """Absolute URL and the query to add: api-version unless the URL already carries one."""
        url = path if path.startswith(("http://", "https://")) else self.endpoint + path
        if "api-version=" in url:
            return url, {}
        return url, {"api-version": api_version or self.api_version_for(path)}

    def api_version_for(self, path: str) -> str:
        lowered = path.lower()
        if "/providers/microsoft.compute/" in lowered:
            return self.api_versions["Microsoft.Compute"]
        if "/providers/microsoft.network/" in lowered:
            return self.api_versions["Microsoft.Network"]
        if lowered.rstrip("/").endswith("/subscriptions") or lowered == "/subscriptions":
            return self.api_versions["subscriptions"]
        return self.api_versions["resources"]

    def request(self, method: str, path: str, *, json: Any = None,
                params: dict[str, str] | None = None, api_version: str | None = None,
                cancel: Any = None, deadline: float | None = None,
                retry_statuses: bool = True) -> requests.Response:
        """Send with auth and ids; retry what is safe to retry; raise ArmError on an error answer."""
        method = method.upper()
        if deadline is None:
            deadline = _DEADLINE.get()
        url, query = self.url(path, api_version)
        query.update(params or {})
        attempts = status_tries = connection_tries = 0
        refreshed = False
        while True:
            attempts += 1
            self._wait_for_throttle(cancel, deadline)
            if self.write_budget is not None and method in WRITES:
                self.write_budget.acquire(self, cancel)
            if cancel is not None and cancel.is_set():
                raise CheckCancelled("The check was stopped.")
            token = self.tokens.get()
            client_request_id = str(uuid.uuid4())
            headers = {"Authorization": f"Bearer {token}", "User-Agent": self.user_agent,
                       "x-ms-client-request-id": client_request_id,
                       "Accept": "application/json"}
            timeout = self._timeout(deadline)
            started = time.monotonic()
            try:
                response = self._send(method, url, query, json, headers, timeout)
            except (requests.Timeout, requests.ConnectionError,
                    requests.exceptions.ChunkedEncodingError) as exc:
                # ChunkedEncodingError: the connection dropped part way through the body.
                self.history.append(RequestRecord(method, url, None, None, None, client_request_id,
                                                  time.monotonic() - started))
                connection_tries += 1
                # A POST that may have reached the service is never re-sent: it would start a
                # second check. Reads are safe to repeat.
                backoff = self._backoff(connection_tries)
                if method in IDEMPOTENT and connection_tries <= self.connection_retries \
                        and attempts <= self.max_retries and not _past(deadline, backoff):
                    self.wait(backoff, cancel)
                    continue
                kind = "timed out" if isinstance(exc, requests.Timeout) else "failed"
                raise BackendUnavailable(
                    f"{method} {_short(url)} {kind}: {type(exc).__name__}",
                    fix="Check the network path to the ARM endpoint and try again; for a POST the "
                        "check may have started, so nwlab did not re-send it.") from exc
            self.history.append(RequestRecord(
                method, url, response.status_code, response.headers.get("x-ms-request-id"),
                response.headers.get("x-ms-correlation-request-id"), client_request_id,
                time.monotonic() - started))
            status = response.status_code
            if status == 401 and not refreshed:
                # An expired or revoked token: ARM refused the request, so even a POST may be re-sent.
                self.tokens.invalidate(token)
                refreshed = True
                continue
            if status == 429:
                retry_after = parse_retry_after(response.headers.get("Retry-After"))
                self.note_throttled(retry_after)
                if retry_statuses and attempts <= self.max_retries \
                        and not _past(deadline, retry_after if retry_after is not None else 1.0):
                    continue
            elif status in RETRY_STATUSES and retry_statuses and method in IDEMPOTENT:
                status_tries += 1
                retry_after = parse_retry_after(response.headers.get("Retry-After"))
                pause = retry_after if retry_after is not None else self._backoff(status_tries)
                if status_tries <= self.status_retries and attempts <= self.max_retries \
                        and not _past(deadline, pause):
                    self.wait(pause, cancel)
                    continue
            if status >= 400:
                raise ArmError.from_response(status, response.headers, response.text,
                                             method=method, url=_short(url))
            return response

    def _send(self, method: str, url: str, query: dict[str, str], body: Any,
              headers: dict[str, str], timeout: tuple[float, float]) -> requests.Response:
        """Prepare the request ourselves and hand it to the session's transport.

        Session.request() merges session headers, cookies, auth and settings into every request;
        the client sets all of those itself, and skipping the merge saves a third of the CPU a
        request costs, which is what bounds a batch of hundreds of checks.
        """
        session = self.session
        query_text = urlencode(query) if query else ""
        prepared = _fast_prepare(method, url, query_text, body, headers, session.hooks)
        if prepared is None:
            # The query goes in encoded: requests checks a dict against typing Protocols, which
            # costs more than the rest of preparing the request.
            prepared = requests.Request(method, url, params=query_text or None, json=body,
                                        headers=headers, hooks=session.hooks).prepare()
        return session.send(prepared, timeout=timeout, allow_redirects=False,
                            proxies=session.proxies, verify=session.verify)

    def _timeout(self, deadline: float | None) -> tuple[float, float]:
        connect, read = self.request_timeout
        if deadline is None:
            return connect, read
        remaining = max(0.5, deadline - time.monotonic())
        return min(connect, remaining), min(read, remaining)

    def get_json(self, path: str, *, params: dict[str, str] | None = None,
                 api_version: str | None = None) -> Any:
        response = self.request("GET", path, params=params, api_version=api_version)
        return response_json(response, strict=True)

    def list(self, path: str, *, params: dict[str, str] | None = None,
             api_version: str | None = None) -> Iterator[dict[str, Any]]:
        """Every item of a paged ARM list, following nextLink until it is absent."""
        body = self.get_json(path, params=params, api_version=api_version)
        while True:
            for item in (body or {}).get("value") or []:
                if isinstance(item, dict):
                    yield item
            next_link = (body or {}).get("nextLink")
            if not next_link:
                return
            body = self.get_json(next_link)


# Checks in flight at once share kept-alive connections; requests keeps 10 per host by default,
# so a batch would open and drop a connection for most of its requests.
POOL_SIZE = 256


def _pooled_session() -> requests.Session:
    """https through urllib3 (TLS verification, proxies); plain http (the local emulator) through
    PlainHttpAdapter, a third of urllib3's CPU per exchange (transport.py)."""
    from requests.adapters import HTTPAdapter

    from nwlab.arm.transport import PlainHttpAdapter

    session = requests.Session()
    session.mount("https://", HTTPAdapter(pool_connections=4, pool_maxsize=POOL_SIZE))
    session.mount("http://", PlainHttpAdapter(pool_maxsize=POOL_SIZE))
    return session


# URLs requests.PreparedRequest.prepare_url would leave exactly as they are: a lower-case http(s)
# scheme and host, no user info, no percent escapes (requote_uri may rewrite those), no dot
# segments, no fragment, only characters it never quotes.
_PLAIN_URL = re.compile(r"https?://[a-z0-9.\-]+(:[0-9]{1,5})?(/[A-Za-z0-9\-._~!$&'()*+,;=:@/]*)?"
                        r"(\?[A-Za-z0-9\-._~!$&'()*+,;=:@/?]*)?")
_DOT_SEGMENT = re.compile(r"/\.\.?(/|\?|$)")
_valid_header_values: set[str] = set()


def _fast_prepare(method: str, url: str, query: str, body: Any, headers: dict[str, str],
                  hooks: dict[str, list[Any]]) -> requests.PreparedRequest | None:
    """The PreparedRequest requests.Request(...).prepare() would build, at a fifth of its cost,
    for the URLs and bodies the client sends; None for anything else (the caller prepares it
    the usual way)."""
    if query:
        url = f"{url}&{query}" if "?" in url else f"{url}?{query}"
    if not _PLAIN_URL.fullmatch(url) or _DOT_SEGMENT.search(url, 8):
        return None
    if url.count("/") < 3:
        return None  # prepare_url adds the path "/"
    for name, value in headers.items():
        if value not in _valid_header_values:
            check_header_validity((name, value))  # raises InvalidHeader, as prepare() does
            if name != "x-ms-client-request-id" and len(_valid_header_values) < 64:
                _valid_header_values.add(value)
    prepared = requests.PreparedRequest()
    prepared.method = method
    prepared.url = url
    fields = CaseInsensitiveDict(headers)
    data: bytes | None = None
    if body is not None:
        data = complexjson.dumps(body, allow_nan=False).encode("utf-8")
        if data:
            fields["Content-Length"] = str(len(data))
        if "content-type" not in fields:
            fields["Content-Type"] = "application/json"
    elif method not in ("GET", "HEAD") and "Content-Length" not in fields:
        fields["Content-Length"] = "0"
    prepared.headers = fields
    prepared.body = data
    prepared.prepare_cookies(None)
    prepared.hooks = {"response": [h for h in hooks.get("response", []) if callable(h)]}
    return prepared


def _read_environment_once(session: requests.Session, endpoint: str) -> None:
    """Proxy and CA settings from the environment, read once for the endpoint.

    With trust_env, requests scans os.environ (proxies, no_proxy, CA bundle, netrc) on every
    request: a third of a request's CPU when a batch sends thousands. Authorization is set by
    the client, so netrc is never needed.
    """
    if not session.trust_env:
        return
    settings = session.merge_environment_settings(endpoint + "/", {}, None, None, None)
    session.proxies.update(settings.get("proxies") or {})
    session.verify = settings.get("verify", session.verify)
    session.trust_env = False


def response_json(response: requests.Response, *, strict: bool = False) -> Any:
    """The body as JSON; the service's literal `null` or an empty body give None.

    Non-JSON text gives None too, unless `strict` (a body that should hold an answer): then it is
    an ArmError, not an answer that silently reads as empty.
    """
    text = response.text
    if not text or not text.strip():
        return None
    try:
        return response.json()
    except ValueError:
        if not strict:
            return None
        raise ArmError(
            f"The service answered HTTP {response.status_code} with a body that is not JSON: "
            f"{text.strip()[:80]!r}", status=response.status_code, code="InvalidResponseContent",
            request_id=response.headers.get("x-ms-request-id"),
            correlation_id=response.headers.get("x-ms-correlation-request-id"),
            method=getattr(getattr(response, "request", None), "method", None),
            url=_short(getattr(response, "url", None) or ""),
            fix="Try again; the answer was damaged on the way (or the endpoint is not ARM).") \
            from None


def _past(deadline: float | None, wait: float = 0.0) -> bool:
    """True when the deadline has passed, or would pass during a `wait` of that many seconds."""
    return deadline is not None and time.monotonic() + wait >= deadline


_THROTTLE_FIX = "Wait and retry, or lower concurrency / write_rate in check_many()."


def _short(url: str) -> str:
    return url.split("?", 1)[0]


__all__ = ["ArmClient", "ArmError", "ThrottledError", "parse_retry_after", "response_json"]
