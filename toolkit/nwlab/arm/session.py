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
from urllib.parse import urlencode, urljoin, urlsplit

import requests
from requests.compat import json as complexjson  # type: ignore[attr-defined]
from requests.structures import CaseInsensitiveDict
from requests.utils import check_header_validity

from nwlab._version import __version__
from nwlab.arm.auth import TokenCache, TokenCredential
from nwlab.arm.clouds import Cloud
from nwlab.arm.errors import (
    ArmError,
    BackendUnavailable,
    CheckCancelled,
    ClientClosed,
    ForeignOriginError,
    MalformedResponse,
    OperationTimeout,
    PagingError,
    ThrottledError,
)
from nwlab.arm.headers import MAX_RETRY_AFTER_S, parse_retry_after
from nwlab.arm.origin import has_control, origin_of
from nwlab.arm.throttle import REMAINING_HEADER, AdaptiveBudget, BudgetScope, TokenBucket, WriteTicket

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
# Live Azure is never polled (or re-asked after a 429) sooner than this, whatever Retry-After says
# (0, negative, a date in the past): azure-core's pollers do not spin either. Per client, so the
# local emulator's own tests can go faster.
MIN_POLL_INTERVAL_S = 1.0
# ARM lists pages of up to 1,000 items; a list longer than a million is a loop, not an estate.
MAX_PAGES = 1000
MAX_REDIRECTS = 5
# 3xx answers a GET may follow (same origin only); 304 is not one, nwlab never asks conditionally.
REDIRECTS = frozenset({301, 302, 303, 307, 308})


_DEADLINE: ContextVar[float | None] = ContextVar("nwlab_request_deadline", default=None)
_CANCEL: ContextVar[Any] = ContextVar("nwlab_request_cancel", default=None)


@contextmanager
def deadline_scope(deadline: float | None, cancel: Any = None) -> Iterator[None]:
    """Requests made inside (on this thread) that name no deadline or cancel of their own end by
    these, so a check's timeout and Stop also bound its pre-flight reads and list pages (a
    Retry-After: 3600 on a GET, a list of a thousand pages)."""
    # Scopes nest by narrowing: the earlier deadline wins, and either Stop stops.
    outer_deadline, outer_cancel = _DEADLINE.get(), _CANCEL.get()
    if outer_deadline is not None:
        deadline = outer_deadline if deadline is None else min(deadline, outer_deadline)
    if outer_cancel is not None:
        cancel = outer_cancel if cancel is None else Canceller(outer_cancel, cancel)
    token = _DEADLINE.set(deadline)
    cancel_token = _CANCEL.set(cancel)
    try:
        yield
    finally:
        _CANCEL.reset(cancel_token)
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


def _settle(ticket: WriteTicket, status: int, headers: Any) -> None:
    """Tell the budget what became of a write the service answered."""
    if status == 429:
        ticket.throttled(parse_retry_after(headers.get("Retry-After")))
    elif status == 401:
        ticket.released()  # refused before ARM counts writes: nothing spent, nothing learnt
    else:
        ticket.answered(_remaining_writes(headers.get(REMAINING_HEADER)))


def _budget_or_none(budget: Any) -> TokenBucket | None:
    if budget is None or isinstance(budget, TokenBucket):
        return budget
    raise TypeError(f"write_budget: expected a TokenBucket, None or 'adaptive', got {budget!r}")


def _remaining_writes(value: str | None) -> int | None:
    """The remaining-writes header as a count; None when absent or not a whole number."""
    try:
        return max(0, int(value)) if value is not None else None
    except ValueError:
        return None


class ArmClient:
    """Talks to one ARM endpoint for one subscription; thread-safe, shared by concurrent checks."""

    def __init__(self, *, subscription_id: str, credential: TokenCredential, cloud: Cloud,
                 api_versions: dict[str, str] | None = None, session: requests.Session | None = None,
                 sleep: Callable[[float], None] | None = time.sleep,
                 request_timeout: tuple[float, float] = (10.0, 60.0),
                 max_retries: int = 10, status_retries: int = 3, connection_retries: int = 3,
                 backoff_factor: float = 0.8, backoff_max: float = 120.0,
                 write_budget: TokenBucket | str | None = "adaptive",
                 min_poll_interval: float = MIN_POLL_INTERVAL_S, max_pages: int = MAX_PAGES,
                 check_origins: bool = True) -> None:
        self.subscription_id = subscription_id
        self.cloud = cloud
        self.endpoint = cloud.endpoint.rstrip("/")
        origin = origin_of(self.endpoint)
        if origin is None:
            raise ValueError("arm_endpoint: not an http(s) URL with a host; "
                             "e.g. arm_endpoint='https://management.azure.com'")
        # The only origin a request (and so the bearer token) may go to.
        self.origin = origin
        # Off only for replay: its transport opens no socket and its token is the word "replay",
        # while cassettes recorded against the emulator name 127.0.0.1:<port> in their Locations.
        self.check_origins = check_origins
        self.min_poll_interval = min_poll_interval
        self.max_pages = max_pages
        self.closed = False
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
        # Every write (a check's POST, a monitor's PUT, a what-if rule) spends the client's
        # budget: by default Azure Network's documented limit adapted to what ARM answers
        # (arm.throttle.AdaptiveBudget); None spends none (the caller paces its writes).
        self.write_budget: TokenBucket | None = AdaptiveBudget.azure_default() \
            if write_budget == "adaptive" else _budget_or_none(write_budget)
        self.user_agent = f"nwlab/{__version__} python-requests/{requests.__version__}"
        self.history: deque[RequestRecord] = deque(maxlen=200)
        self.throttled_responses = 0
        self._throttle_lock = threading.Lock()
        self._throttled_until = 0.0
        self._throttle_started = -float("inf")

    def close(self) -> None:
        """Drop the connections; every later request raises ClientClosed."""
        self.closed = True
        self.session.close()

    def write_budget_scope(self, budget: TokenBucket | None) -> BudgetScope:
        """`with arm.write_budget_scope(bucket) as installed:` every write in the block spends
        `installed` (the bucket, or the one a batch already running on this client installed)."""
        return BudgetScope(self, budget)

    def require_open(self) -> None:
        if self.closed:
            raise ClientClosed("This client was closed (close() or the end of its `with` block), "
                               "so it sends nothing more.")

    # -- waiting ---------------------------------------------------------------------------

    @property
    def sleeps(self) -> bool:
        return self._sleep is not None

    def wait(self, seconds: float, cancel: Any = None,
             wake: threading.Event | None = None) -> None:
        """Sleep, waking early (and raising CheckCancelled) when `cancel` is set; `wake` (an
        Event) ends the sleep early without an error (the write budget's news)."""
        if cancel is not None and cancel.is_set():
            raise CheckCancelled("The check was stopped.")
        if seconds <= 0 or self._sleep is None or (wake is not None and wake.is_set()):
            return
        if cancel is None and wake is None:
            self._sleep(seconds)
            return
        either = Canceller(wake, cancel)  # wake first: it is waited on directly
        if self._sleep is time.sleep and all(isinstance(e, Canceller | threading.Event)
                                             for e in either.events):
            if either.wait(seconds) and cancel is not None and cancel.is_set():
                raise CheckCancelled("The check was stopped.")
            return
        deadline = time.monotonic() + seconds
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            self._sleep(min(remaining, 0.05))
            if cancel is not None and cancel.is_set():
                raise CheckCancelled("The check was stopped.")
            if wake is not None and wake.is_set():
                return

    def _backoff(self, attempt: int) -> float:
        # azure-core: first retry immediate, then factor * 2^(n-1), capped (reference §6.4).
        if attempt <= 1:
            return 0.0
        return min(self.backoff_max, self.backoff_factor * (2 ** (attempt - 1)))

    def polite(self, retry_after: float | None, default: float) -> float:
        """The wait a Retry-After asks for, never under the client's minimum (0, negative and past
        dates all read as 0), `default` when there is none."""
        return max(self.min_poll_interval, default if retry_after is None else retry_after)

    def note_throttled(self, retry_after: float | None, sent_at: float | None = None) -> None:
        """Every request of this client waits out a 429 that any of them received, once per
        storm: a 429 for a request sent (`sent_at`, monotonic) before the current back-off began
        is the same storm arriving late, counted but not extending the wait."""
        with self._throttle_lock:
            self.throttled_responses += 1
            now = time.monotonic()
            if sent_at is not None and sent_at < self._throttle_started:
                return
            self._throttle_started = now
            until = now + min(self.polite(retry_after, 1.0), MAX_RETRY_AFTER_S)
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

    def _spend_write(self, method: str, url: str, cancel: Any, deadline: float | None
                     ) -> WriteTicket | None:
        """Wait for the write budget (a subscription's writes only), within the deadline and
        cancel. The budget is a subscription's (ARM's and Microsoft.Network's limits are per
        subscription): a POST at tenant scope, such as a Resource Graph query, answers to its
        own quota (x-ms-user-quota-remaining), not to it."""
        budget = self.write_budget
        if budget is None or method not in WRITES or \
                not urlsplit(url).path.lower().startswith("/subscriptions/"):
            return None
        within = None if deadline is None else deadline - time.monotonic()
        return budget.acquire(self, cancel, within)

    # -- requests --------------------------------------------------------------------------

    def url(self, path: str, api_version: str | None = None) -> tuple[str, dict[str, str]]:
        """Absolute URL and the query to add: api-version unless the URL already carries one."""
        if _ABSOLUTE.match(path):
            url = path  # a Location or nextLink: its origin is checked where it is sent
        else:
            # An id read from a body may lack its leading slash ("subscriptions/..." or
            # "@host/..."): glued to the endpoint it would change the host.
            url = self.endpoint + (path if path.startswith("/") else "/" + path)
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
        self.require_open()
        if deadline is None:
            deadline = _DEADLINE.get()
        if cancel is None:
            cancel = _CANCEL.get()
        url, query = self.url(path, api_version)
        query.update(params or {})
        attempts = status_tries = connection_tries = redirects = 0
        refreshed = False
        while True:
            attempts += 1
            self._wait_for_throttle(cancel, deadline)
            # The write's ticket (an adaptive budget's), settled by what became of this attempt;
            # one this attempt leaves unsettled is released, so none stays "in flight".
            ticket = self._spend_write(method, url, cancel, deadline)
            try:
                if cancel is not None and cancel.is_set():
                    raise CheckCancelled("The check was stopped.")
                sent_at = time.monotonic()
                token = self.tokens.get()
                client_request_id = str(uuid.uuid4())
                headers = {"Authorization": f"Bearer {token}", "User-Agent": self.user_agent,
                           "x-ms-client-request-id": client_request_id,
                           "Accept": "application/json"}
                timeout = self._timeout(deadline)
                started = time.monotonic()
                response = self._send(method, url, query, json, headers, timeout)
            except (requests.Timeout, requests.ConnectionError,
                    requests.exceptions.ChunkedEncodingError) as exc:
                # ChunkedEncodingError: the connection dropped part way through the body.
                if ticket is not None:
                    ticket.released()
                self.history.append(RequestRecord(method, url, None, None, None, client_request_id,
                                                  time.monotonic() - started))
                if self.closed:  # closed from another thread while this request was in flight
                    raise ClientClosed("This client was closed while a request was in flight."
                                       ) from None
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
            except BaseException:
                if ticket is not None:
                    ticket.released()  # not sent (cancelled, no token, an unsendable URL...)
                raise
            self.history.append(RequestRecord(
                method, url, response.status_code, response.headers.get("x-ms-request-id"),
                response.headers.get("x-ms-correlation-request-id"), client_request_id,
                time.monotonic() - started))
            status = response.status_code
            if ticket is not None:
                _settle(ticket, status, response.headers)
            if status == 401 and not refreshed:
                # An expired or revoked token: ARM refused the request, so even a POST may be re-sent.
                self.tokens.invalidate(token)
                refreshed = True
                continue
            if status in REDIRECTS and method in ("GET", "HEAD") \
                    and response.headers.get("Location") and redirects < MAX_REDIRECTS:
                # Followed here, not by requests, so the next hop passes the origin check too.
                redirects += 1
                url, query = self.url(_join(url, response.headers["Location"]), api_version)
                continue
            if 300 <= status < 400:
                raise MalformedResponse(
                    f"{method} {_short(url)} answered HTTP {status} (a redirect"
                    + (", too many in a row" if redirects >= MAX_REDIRECTS else "")
                    + "), which is not an answer; nwlab follows redirects of GETs only, within "
                      "the ARM endpoint.", status=status, code="UnexpectedRedirect",
                    request_id=response.headers.get("x-ms-request-id"), method=method,
                    url=_short(url), fix="Check arm_endpoint / cloud=; ARM itself does not "
                                         "redirect these requests.")
            if status == 429:
                retry_after = parse_retry_after(response.headers.get("Retry-After"))
                self.note_throttled(retry_after, sent_at)
                if retry_statuses and attempts <= self.max_retries \
                        and (retry_after or 0.0) <= MAX_RETRY_AFTER_S \
                        and not _past(deadline, self.polite(retry_after, 1.0)):
                    continue
            elif status in RETRY_STATUSES and retry_statuses and method in IDEMPOTENT:
                status_tries += 1
                retry_after = parse_retry_after(response.headers.get("Retry-After"))
                pause = self._backoff(status_tries) if retry_after is None \
                    else self.polite(retry_after, 0.0)
                if status_tries <= self.status_retries and attempts <= self.max_retries \
                        and pause <= MAX_RETRY_AFTER_S and not _past(deadline, pause):
                    self.wait(pause, cancel)
                    continue
            if status >= 400:
                # A server that echoes the request (a proxy's error page) must not put the token
                # into an error message.
                raise ArmError.from_response(status, response.headers,
                                             response.text.replace(token, "<token>"),
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
        self.check_origin(url)
        query_text = urlencode(query) if query else ""
        prepared = _fast_prepare(method, url, query_text, body, headers, session.hooks)
        if prepared is None:
            # The query goes in encoded: requests checks a dict against typing Protocols, which
            # costs more than the rest of preparing the request.
            try:
                prepared = requests.Request(method, url, params=query_text or None, json=body,
                                            headers=headers, hooks=session.hooks).prepare()
            except (requests.exceptions.InvalidURL, requests.exceptions.InvalidHeader,
                    requests.exceptions.MissingSchema, requests.exceptions.InvalidSchema,
                    UnicodeError) as exc:
                raise _unsendable(method, url, type(exc).__name__) from None
        return session.send(prepared, timeout=timeout, allow_redirects=False,
                            proxies=session.proxies, verify=session.verify)

    def check_origin(self, url: str) -> None:
        """The one gate every request passes: only the ARM endpoint's origin gets the token.

        Location, Azure-AsyncOperation, nextLink, a redirect or an id read from a body all end
        here as URLs; one naming another scheme, host or port (or carrying user info) is refused.
        """
        origin = origin_of(url)
        if origin == self.origin or (origin is not None and not self.check_origins):
            return
        if has_control(url):
            raise _unsendable("GET", url, "a control character such as CR or LF")
        foreign = _origin_named(url)
        if foreign is None:
            raise _unsendable("GET", url, "no scheme and host nwlab can read")
        raise ForeignOriginError(
            f"The service pointed nwlab at {foreign}, which is not the ARM endpoint "
            f"{self.origin}; nothing was sent there (the bearer token goes only to "
            f"{self.origin}).", origin=foreign)

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

    def get_object(self, path: str, *, params: dict[str, str] | None = None,
                   api_version: str | None = None) -> dict[str, Any]:
        """GET a resource: a JSON object, or MalformedResponse (a list, a string, null...)."""
        response = self.request("GET", path, params=params, api_version=api_version)
        body = response_json(response, strict=True)
        if not isinstance(body, dict):
            raise _malformed(response, f"GET {_short(response.url or path)} answered "
                                       f"{_json_kind(body)} where a resource (an object) belongs")
        return body

    def list(self, path: str, *, params: dict[str, str] | None = None,
             api_version: str | None = None) -> Iterator[dict[str, Any]]:
        """Every item of a paged ARM list, following nextLink until it is absent.

        The one place paging lives: a nextLink is requested like any URL (origin-checked), a
        repeated one (a cycle) or more than `max_pages` pages is PagingError, and the deadline
        and cancel of the surrounding deadline_scope() bound every page.
        """
        seen: set[str] = set()
        url = path
        pages = 0
        while True:
            deadline = _DEADLINE.get()
            if _past(deadline):
                raise OperationTimeout(f"Listing {_short(path)} did not finish within the "
                                       f"timeout ({pages} pages read).",
                                       fix="Pass a larger timeout=, or list a resource group.")
            response = self.request("GET", url, params=params if pages == 0 else None,
                                    api_version=api_version if pages == 0 else None)
            pages += 1
            body = response_json(response, strict=True)
            if body is None:
                return  # an empty answer lists nothing
            if not isinstance(body, dict):
                raise _malformed(response, f"GET {_short(path)} answered {_json_kind(body)} "
                                           "where a page ({\"value\": [...]}) belongs")
            items = body.get("value")
            if items is not None and not isinstance(items, list):
                raise _malformed(response, f"GET {_short(path)} answered a page whose value is "
                                           f"{_json_kind(items)}, not a list")
            for item in items or []:
                if isinstance(item, dict):  # lenient: a stray non-object is no resource
                    yield item
            next_link = body.get("nextLink")
            if next_link is None or next_link == "":
                return
            if not isinstance(next_link, str):
                raise _malformed(response, f"GET {_short(path)} answered a nextLink that is "
                                           f"{_json_kind(next_link)}, not a URL")
            next_url = _join(response.url or self.endpoint + "/", next_link)
            if next_url in seen or next_url == response.url:
                raise PagingError(
                    f"Listing {_short(path)} went in a circle: page {pages + 1}'s nextLink "
                    "repeats an earlier page.", code="NextLinkCycle", method="GET",
                    url=_short(path), fix="Try again later; report it to Azure support if it "
                                          "repeats.")
            if pages >= self.max_pages:
                raise PagingError(
                    f"Listing {_short(path)} did not end within {self.max_pages} pages.",
                    code="TooManyPages", method="GET", url=_short(path),
                    fix="List a narrower scope (a resource group), or raise the client's "
                        "max_pages.")
            seen.add(next_url)
            url = next_url


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
    except (ValueError, RecursionError):  # RecursionError: JSON nested thousands deep
        if not strict:
            return None
        # ArmError, not MalformedResponse: saved batches name this class since before.
        raise ArmError(
            f"The service answered HTTP {response.status_code} with a body that is not JSON: "
            f"{text.strip()[:80]!r}", status=response.status_code, code="InvalidResponseContent",
            request_id=response.headers.get("x-ms-request-id"),
            correlation_id=response.headers.get("x-ms-correlation-request-id"),
            method=getattr(getattr(response, "request", None), "method", None),
            url=_short(getattr(response, "url", None) or ""),
            fix="Try again; the answer was damaged on the way (or the endpoint is not ARM).") \
            from None


_ABSOLUTE = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:")


def _join(base: str, reference: str) -> str:
    """`reference` (a Location or nextLink) against the URL it came from; one urljoin cannot
    read ("http://[::1") is kept as it is, for the origin gate to refuse."""
    try:
        return urljoin(base, reference)
    except ValueError:
        return reference


def _origin_named(url: str) -> str | None:
    """scheme://host[:port] of a URL whose origin is not ours, for the message; None if unreadable."""
    origin = origin_of(url)
    if origin is not None:
        return str(origin)
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:
        return None
    if not parts.scheme or not host:
        return None
    return f"{parts.scheme.lower()}://{host}"  # user info is left out on purpose


def _unsendable(method: str, url: str, why: str) -> MalformedResponse:
    shown = _short(url)[:120]
    return MalformedResponse(
        f"{method} {shown!r}: a URL from the service that cannot be requested ({why}); nothing "
        "was sent.", code="InvalidUrl", method=method,
        fix="Try again; report it to Azure support if it repeats.")


def _malformed(response: requests.Response, message: str) -> MalformedResponse:
    return MalformedResponse(
        message + ".", status=response.status_code, code="InvalidResponseContent",
        request_id=response.headers.get("x-ms-request-id"),
        correlation_id=response.headers.get("x-ms-correlation-request-id"),
        method=getattr(getattr(response, "request", None), "method", None),
        url=_short(getattr(response, "url", None) or ""),
        fix="Try again; the answer was damaged on the way (or the endpoint is not ARM).")


def _json_kind(value: Any) -> str:
    names = {dict: "an object", list: "a list", str: "a string", bool: "a boolean",
             int: "a number", float: "a number", type(None): "null"}
    return names.get(type(value), type(value).__name__)


def _past(deadline: float | None, wait: float = 0.0) -> bool:
    """True when the deadline has passed, or would pass during a `wait` of that many seconds."""
    return deadline is not None and time.monotonic() + wait >= deadline


_THROTTLE_FIX = "Wait and retry, or lower concurrency / write_rate in check_many()."


def _short(url: str) -> str:
    return url.split("?", 1)[0]


__all__ = ["ArmClient", "ArmError", "ThrottledError", "deadline_scope", "parse_retry_after",
           "response_json"]
