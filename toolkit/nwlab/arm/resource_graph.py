"""Azure Resource Graph: POST /providers/Microsoft.ResourceGraph/resources, paged and throttle-aware.

Shapes follow arg2024-04-01 (reference diagnostics-and-estate-api.md §6): a QueryRequest with
`subscriptions` or `managementGroups` and `options` ($top, $skipToken, resultFormat,
allowPartialScopes, authorizationScopeFilter); a QueryResponse with `data`, `count`,
`totalRecords`, `resultTruncated` and `$skipToken` while more pages exist. Every response carries
`x-ms-user-quota-remaining` / `x-ms-user-quota-resets-after`: when the quota is spent the client
waits for the reset instead of failing, and a 429 waits for Retry-After (or the reset) too.
"""

from __future__ import annotations

import random
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from nwlab.arm.errors import (
    ArmError,
    MalformedResponse,
    OperationTimeout,
    PagingError,
    ThrottledError,
)
from nwlab.arm.ids import GUID_RE
from nwlab.arm.session import ArmClient, response_json

API_VERSION = "2024-04-01"
PATH = "/providers/Microsoft.ResourceGraph/resources"
MAX_PAGE = 1000  # options.$top is 1..1000 (QueryRequestOptions)
# The REST API caps subscriptions per request; the reference reads the throttling guidance as
# "chunks of at most 300, run one after another".
SUBSCRIPTION_BATCH = 300
SCOPE_FILTERS = ("AtScopeAndBelow", "AtScopeAndAbove", "AtScopeExact", "AtScopeAboveAndBelow")
# Live Azure is never re-asked sooner than this after a 429 or a spent quota (no spinning on a
# "00:00:00" reset); tests of the local emulator pass a smaller floor.
MIN_WAIT_S = 1.0
SERVER_RETRIES = 3  # a 5xx "unexpected query execution error" is retried (reference: azqr#712)
MAX_THROTTLED_IN_A_ROW = 30  # then ThrottledError: a quota that never resets is a fault, not a wait
# One wait longer than this (a reset hours away, a huge Retry-After) is a ThrottledError, not a
# sleep: the documented quota windows are seconds (15 queries per 5 s), so such an answer would
# otherwise hang a caller who set no timeout. A caller's timeout= bounds the waits instead.
MAX_WAIT_S = 600.0
# Pages with no rows that still carry a (new) $skipToken: a few are tolerated, more are a
# service that pages without end.
MAX_EMPTY_PAGES_IN_A_ROW = 5
UNREADABLE_SCOPE = "NoValidSubscriptionsInQueryRequest"
_HMS = re.compile(r"^(?:(\d+)\.)?(\d{1,2}):(\d{2}):(\d{2}(?:\.\d+)?)$")


class ResourceGraphError(MalformedResponse):
    """Resource Graph answered with something that is not a QueryResponse (no `data` list, a
    page that is not an object): a malformed answer, caught as MalformedResponse too."""


class SkipTokenCycle(ResourceGraphError, PagingError):
    """A `$skipToken` repeated an earlier page: paging would not end (a PagingError, as a
    repeating nextLink is)."""


def parse_resets_after(text: str | None) -> float | None:
    """`x-ms-user-quota-resets-after` ("hh:mm:ss", optionally "d.hh:mm:ss") in seconds."""
    match = _HMS.match((text or "").strip())
    if not match:
        return None
    days, hours, minutes, seconds = match.groups()
    return int(days or 0) * 86400 + int(hours) * 3600 + int(minutes) * 60 + float(seconds)


def batches(items: list[str], size: int = SUBSCRIPTION_BATCH) -> list[list[str]]:
    return [items[i:i + size] for i in range(0, len(items), size)] or [[]]


@dataclass
class QueryResult:
    """Every row of a query, and what it took: pages, quota waits, whether the tenant's
    10,000-subscription limit cut the scope (x-ms-tenant-subscription-limit-hit)."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    pages: int = 0
    throttled: int = 0  # 429s received
    quota_waits: int = 0  # waits for a spent quota to reset (no 429 needed)
    waited_s: float = 0.0
    subscription_limit_hit: bool = False
    truncated: bool = False  # resultTruncated "true" with no $skipToken: rows are missing
    missing: int = 0  # rows totalRecords announced that no page brought (per scope, summed)
    # Subscriptions of batches Resource Graph refused whole (none readable by the caller), when
    # other batches were read: named, not silently dropped.
    unreadable: list[str] = field(default_factory=list)


class ResourceGraph:
    """Queries over one ArmClient (its token, endpoint, session and retries).

        rg = ResourceGraph(nw.arm)
        rows = rg.query("Resources | project id, name | order by id asc",
                        subscriptions=[sub]).rows
    """

    def __init__(self, arm: ArmClient, *, api_version: str = API_VERSION,
                 min_wait: float = MIN_WAIT_S, max_wait: float = MAX_WAIT_S) -> None:
        self.arm = arm
        self.api_version = api_version
        self.min_wait = min_wait
        self.max_wait = max_wait
        self._quota_until = 0.0  # monotonic time before which the quota is known to be spent

    def query(self, query: str, *, subscriptions: Iterable[str] | None = None,
              management_groups: Iterable[str] | None = None, page_size: int = MAX_PAGE,
              allow_partial_scopes: bool | None = None,
              authorization_scope_filter: str | None = None, timeout: float | None = None,
              cancel: Any = None, on_page: Callable[[QueryResult], None] | None = None
              ) -> QueryResult:
        """Every row of `query` over the scope, subscriptions sent in batches of 300.

        Bad arguments raise ValueError/TypeError before any request; `timeout` (seconds) bounds
        the whole query including quota waits (OperationTimeout); `cancel` (an Event) stops it
        with CheckCancelled.
        """
        subs, groups = validate_scope(subscriptions, management_groups)
        if not isinstance(query, str) or not query.strip():
            raise ValueError("query: expected KQL text, e.g. \"Resources | project id, name | "
                             "order by id asc\"")
        if isinstance(page_size, bool) or not isinstance(page_size, int) \
                or not 1 <= page_size <= MAX_PAGE:
            raise ValueError(f"page_size: expected 1-{MAX_PAGE} rows per page (options.$top), "
                             f"got {page_size!r}")
        if authorization_scope_filter is not None and \
                authorization_scope_filter not in SCOPE_FILTERS:
            raise ValueError(f"authorization_scope_filter: expected one of "
                             f"{', '.join(SCOPE_FILTERS)}, got {authorization_scope_filter!r}")
        if authorization_scope_filter is not None and self.api_version < "2021-06-01":
            raise ValueError(f"authorization_scope_filter needs api-version 2021-06-01-preview or "
                             f"later; this client uses {self.api_version}")
        deadline = None if timeout is None else time.monotonic() + float(timeout)
        result = QueryResult()
        options: dict[str, Any] = {"$top": page_size, "resultFormat": "objectArray"}
        if allow_partial_scopes is not None:
            options["allowPartialScopes"] = bool(allow_partial_scopes)
        if authorization_scope_filter is not None:
            options["authorizationScopeFilter"] = authorization_scope_filter
        scopes: list[dict[str, Any]] = [{"managementGroups": groups}] if groups is not None \
            else [{"subscriptions": chunk} for chunk in batches(subs)] if subs is not None \
            else [{}]  # neither: every scope the caller can read (the tenant)
        refused: ArmError | None = None
        for scope in scopes:
            try:
                self._run(query, scope, options, result, deadline, cancel, on_page)
            except ArmError as exc:
                # A batch none of whose subscriptions the caller can read is refused whole
                # (400 NoValidSubscriptionsInQueryRequest); the other batches still count.
                if exc.code != UNREADABLE_SCOPE or "subscriptions" not in scope:
                    raise
                refused = exc
                result.unreadable.extend(scope["subscriptions"])
        if refused is not None and len(result.unreadable) == len(subs or []):
            raise refused  # nothing in scope was readable
        return result

    # -- one scope, every page ------------------------------------------------------------------
    def _run(self, query: str, scope: dict[str, Any], options: dict[str, Any],
             result: QueryResult, deadline: float | None, cancel: Any,
             on_page: Callable[[QueryResult], None] | None) -> None:
        body: dict[str, Any] = {**scope, "query": query, "options": dict(options)}
        seen: set[str] = set()
        rows_here = empty_in_a_row = 0
        total: int | None = None
        while True:
            page, headers = self._post(body, result, deadline, cancel)
            data = page.get("data")
            if not isinstance(data, list):
                raise ResourceGraphError(
                    "Resource Graph answered without a 'data' list (asked for objectArray).",
                    status=200, code="InvalidResponseContent", method="POST", url=PATH,
                    fix="Try again; report the request id to Azure support if it repeats.")
            rows = [row for row in data if isinstance(row, dict)]
            result.rows.extend(rows)
            result.pages += 1
            rows_here += len(rows)
            empty_in_a_row = 0 if rows else empty_in_a_row + 1
            total = _count(page.get("totalRecords"), total)
            if str(headers.get("x-ms-tenant-subscription-limit-hit", "")).lower() == "true":
                result.subscription_limit_hit = True
            token = page.get("$skipToken")
            if on_page is not None:
                on_page(result)
            if not token:
                # Without a token a "true" means rows are missing (a query that projects no id).
                if str(page.get("resultTruncated", "false")).lower() == "true":
                    result.truncated = True
                # Fewer rows than announced: pages were lost (more is the estate growing while
                # it was paged, or a row served twice: callers key rows by id).
                result.missing += max(0, (total or 0) - rows_here)
                return
            if empty_in_a_row > MAX_EMPTY_PAGES_IN_A_ROW:
                raise SkipTokenCycle(
                    f"Resource Graph sent {empty_in_a_row} pages in a row with no rows and a new "
                    "$skipToken; paging would not end.", status=200, code="SkipTokenCycle",
                    method="POST", url=PATH, fix="Try again later; report it if it repeats.")
            if not isinstance(token, str) or token in seen:
                raise SkipTokenCycle(
                    "Resource Graph sent a $skipToken that repeats an earlier page (or is not "
                    "text); paging would not end.", status=200, code="SkipTokenCycle",
                    method="POST", url=PATH, fix="Try again later; report it if it repeats.")
            seen.add(token)
            # Only the token changes: query and scope must be identical (ResourcesNextPageQuery).
            body["options"] = {**options, "$skipToken": token}

    def _post(self, body: dict[str, Any], result: QueryResult, deadline: float | None,
              cancel: Any) -> tuple[dict[str, Any], Any]:
        throttled_in_a_row = server_errors = 0
        while True:
            self._wait(self._quota_until - time.monotonic(), result, deadline, cancel)
            try:
                # 429 and 5xx are handled here: a Resource Graph POST is a read, safe to repeat,
                # and its quota headers say how long to wait better than Retry-After alone.
                response = self.arm.request("POST", PATH, json=body, api_version=self.api_version,
                                            cancel=cancel, deadline=deadline,
                                            retry_statuses=False)
            except ThrottledError as exc:
                result.throttled += 1
                throttled_in_a_row += 1
                if throttled_in_a_row > MAX_THROTTLED_IN_A_ROW:
                    raise
                wait = _throttle_wait(exc)
                # Jitter, so several clients of one user do not come back at the same moment.
                self._quota_until = time.monotonic() + max(self.min_wait, wait) + \
                    random.uniform(0, 0.1 * max(self.min_wait, wait))
                continue
            except ArmError as exc:
                if exc.status is not None and exc.status >= 500 and server_errors < SERVER_RETRIES:
                    server_errors += 1
                    self._wait(self.min_wait * 2 ** (server_errors - 1), None, deadline, cancel)
                    continue
                raise
            page = response_json(response, strict=True)
            if not isinstance(page, dict):
                raise ResourceGraphError(
                    "Resource Graph answered something other than a QueryResponse object.",
                    status=response.status_code, code="InvalidResponseContent",
                    request_id=response.headers.get("x-ms-request-id"), method="POST", url=PATH,
                    fix="Try again; report the request id to Azure support if it repeats.")
            self._note_quota(response.headers)
            return page, response.headers

    def _note_quota(self, headers: Any) -> None:
        """A spent quota (remaining 0) is waited out before the next query, not met with a 429."""
        remaining = headers.get("x-ms-user-quota-remaining")
        try:
            spent = remaining is not None and int(str(remaining).strip()) <= 0
        except ValueError:
            spent = False
        if spent:
            resets = parse_resets_after(headers.get("x-ms-user-quota-resets-after"))
            self._quota_until = time.monotonic() + max(self.min_wait, resets or 0.0)

    def _wait(self, seconds: float, result: QueryResult | None, deadline: float | None,
              cancel: Any) -> None:
        if seconds <= 0:
            return
        if deadline is not None and time.monotonic() + seconds > deadline:
            raise OperationTimeout(
                f"Resource Graph asks to wait {seconds:.1f} s for its quota, past the timeout; "
                "nothing more was sent.", fix="Pass a larger timeout=, or query fewer scopes.")
        if deadline is None and seconds > self.max_wait:
            # Waited only when the caller's timeout= covers it: no unbounded sleep unasked.
            raise ThrottledError(
                f"Resource Graph's quota resets in {seconds:.0f} s, more than the "
                f"{self.max_wait:.0f} s this client waits without a timeout; nothing more was "
                "sent.", status=429, code="QuotaResetTooFar", method="POST", url=PATH,
                fix="Try again later, or pass a timeout= that covers the wait.")
        if result is not None:
            result.quota_waits += 1
            result.waited_s += seconds
        self.arm.wait(seconds, cancel)


def _throttle_wait(exc: ArmError) -> float:
    """Retry-After, else the 429's x-ms-user-quota-resets-after (the throttling guidance: wait
    either, plus jitter); a second when neither is readable."""
    if exc.retry_after is not None:
        return exc.retry_after
    resets = parse_resets_after(exc.headers.get("x-ms-user-quota-resets-after"))
    return resets if resets is not None else 1.0


def _count(value: Any, previous: int | None) -> int | None:
    """totalRecords read leniently (an int64, sometimes sent as text); the last readable wins."""
    if isinstance(value, bool):
        return previous
    try:
        return int(value) if isinstance(value, int | str) else previous
    except ValueError:
        return previous


def validate_scope(subscriptions: Iterable[str] | None, management_groups: Iterable[str] | None
                    ) -> tuple[list[str] | None, list[str] | None]:
    if subscriptions is not None and management_groups is not None:
        raise ValueError("subscriptions= and management_group= name two scopes; pass one of them "
                         "(e.g. subscriptions=['00000000-0000-0000-0000-000000000000'])")
    if isinstance(subscriptions, str) or isinstance(management_groups, str):
        raise TypeError("expected a list of names, not one string; e.g. "
                        "subscriptions=['00000000-0000-0000-0000-000000000000']")
    subs = None if subscriptions is None else [str(s).strip() for s in subscriptions]
    for sub in subs or []:
        if not GUID_RE.match(sub):
            raise ValueError(f"subscriptions: {sub!r} is not a subscription id (a GUID); "
                             "e.g. '00000000-0000-0000-0000-000000000000' (`az account list "
                             "--query [].id -o tsv` prints yours)")
    if subs is not None and not subs:
        raise ValueError("subscriptions: the list is empty; name at least one subscription id")
    groups = None if management_groups is None else [str(g).strip() for g in management_groups]
    if groups is not None and (not groups or not all(groups)):
        raise ValueError("management_group: expected a management group name or id, e.g. "
                         "'ProductionMG'")
    # Order kept, duplicates dropped (ids in any casing are one subscription, as ARM compares
    # them): a subscription is read (and counted) once.
    return (_unique(subs) if subs is not None else None,
            _unique(groups) if groups is not None else None)


def _unique(names: list[str]) -> list[str]:
    return list({name.lower(): name for name in reversed(names)}.values())[::-1]


__all__ = ["API_VERSION", "QueryResult", "ResourceGraph", "ResourceGraphError", "SkipTokenCycle",
           "batches",
           "parse_resets_after"]
