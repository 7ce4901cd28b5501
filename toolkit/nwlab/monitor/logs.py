"""Log Analytics: a small client of its own, and the two Connection Monitor tables.

Log Analytics is not ARM: it has its own origin per cloud and its own token audience (reference
diagnostics-and-estate-api.md §7.2-7.3). `LogAnalyticsClient` asks the credential for a token for
the Log Analytics scope only, and sends it only to the Log Analytics origin: the ARM token never
goes there, and this token never goes anywhere else (a URL on another origin is refused, redirects
are not followed). It shares the ARM client's transport (requests session), so replay and
recording see its exchanges like any other.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests

from nwlab.arm.auth import TokenCache, TokenCredential
from nwlab.arm.clouds import CLOUDS
from nwlab.arm.errors import ArmError, BackendUnavailable, NwlabError
from nwlab.arm.headers import parse_retry_after
from nwlab.arm.ids import GUID_RE
from nwlab.monitor.client import ArmLike
from nwlab.monitor.window import is_iso_time

WORKSPACE_API_VERSION = "2022-10-01"
# Per cloud: the query origin and the token scope (reference §7.3; the /.default forms of the
# sovereign audiences follow the resource-id pattern, which the reference marks unverified).
# Public cloud: api.loganalytics.io is the audience and still served (the SDK's default host).
ORIGINS: dict[str, tuple[str, str]] = {
    "AzureCloud": ("https://api.loganalytics.io", "https://api.loganalytics.io/.default"),
    "AzureUSGovernment": ("https://api.loganalytics.us", "https://api.loganalytics.us/.default"),
    "AzureChinaCloud": ("https://api.loganalytics.azure.cn",
                        "https://api.loganalytics.azure.cn/.default"),
}
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
MAX_TRIES = 3


class LogAnalyticsUnknown(NwlabError, LookupError):
    """No Log Analytics origin is known for this client's ARM endpoint (an emulator or stand-in)."""


def origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme.lower()}://{(parts.netloc or '').lower()}"


@dataclass(frozen=True)
class Table:
    """One result table: column names and rows of values converted by column type."""

    name: str
    columns: list[str]
    rows: list[list[Any]]

    def records(self) -> list[dict[str, Any]]:
        return [dict(zip(self.columns, row, strict=True)) for row in self.rows]


class LogAnalyticsClient:
    """POSTs KQL to one Log Analytics origin with a token for its scope; nothing else."""

    def __init__(self, *, origin: str, scope: str, credential: TokenCredential,
                 session: requests.Session, wait: Callable[[float], None],
                 request_timeout: tuple[float, float] = (10.0, 60.0)) -> None:
        if not origin.startswith(("https://", "http://")):
            raise ValueError(f"log analytics endpoint: {origin!r} is not a URL; e.g. "
                             "'https://api.loganalytics.io'")
        self.origin = origin_of(origin)
        self.scope = scope
        self.tokens = TokenCache(credential, scope)
        self.session = session
        self._wait = wait
        self.request_timeout = request_timeout

    @classmethod
    def for_client(cls, arm: ArmLike, override: str | None = None) -> LogAnalyticsClient:
        """The cloud's Log Analytics, or `override` (nw.log_analytics_endpoint) when the ARM
        endpoint is not the cloud's own; the credential is the ARM client's, asked for another
        scope."""
        origin, scope = ORIGINS.get(arm.cloud.name, ORIGINS["AzureCloud"])
        default = CLOUDS.get(arm.cloud.name)
        if override:
            origin = override
        elif default is None or origin_of(arm.endpoint) != origin_of(default.endpoint):
            raise LogAnalyticsUnknown(
                f"The Log Analytics endpoint for the ARM endpoint {arm.endpoint} is not known, so "
                "the workspace cannot be queried.",
                fix="Set nw.log_analytics_endpoint = 'https://...' (the Log Analytics query origin "
                    "that goes with this ARM endpoint) and ask again.")
        return cls(origin=origin, scope=scope, credential=arm.tokens.credential,
                   session=arm.session, wait=arm.wait)

    def query(self, workspace_guid: str, kql: str, timespan: str) -> tuple[list[Table], list[str]]:
        """Run `kql` over `timespan` in the workspace (its customerId GUID); tables and warnings."""
        if not GUID_RE.match(workspace_guid):
            raise ValueError(f"workspace id {workspace_guid!r} is not a GUID (the workspace's "
                             "customerId)")
        url = f"{self.origin}/v1/workspaces/{workspace_guid}/query"
        body = self.post(url, {"query": kql, "timespan": timespan})
        return parse_tables(body, url=url)

    def post(self, url: str, body: dict[str, Any]) -> Any:
        if origin_of(url) != self.origin:
            # The Log Analytics token is for this origin only.
            raise ValueError(f"refusing to send the Log Analytics token to {origin_of(url)}; "
                             f"this client talks to {self.origin} only")
        refreshed = False
        tries = 0
        while True:
            tries += 1
            token = self.tokens.get()
            headers = {"Authorization": f"Bearer {token}", "Accept": "application/json",
                       "User-Agent": f"nwlab python-requests/{requests.__version__}",
                       "x-ms-client-request-id": str(uuid.uuid4())}
            try:
                response = self.session.post(url, json=body, headers=headers,
                                             timeout=self.request_timeout, allow_redirects=False)
            except (requests.Timeout, requests.ConnectionError) as exc:
                if tries < MAX_TRIES:  # a query reads only: safe to repeat
                    continue
                raise BackendUnavailable(f"POST {url} failed: {type(exc).__name__}",
                                         fix="Check the network path to Log Analytics and try "
                                             "again.") from exc
            status = response.status_code
            if status == 401 and not refreshed:
                self.tokens.invalidate(token)
                refreshed = True
                continue
            if status in RETRY_STATUSES and tries < MAX_TRIES:
                pause = parse_retry_after(response.headers.get("Retry-After"))
                self._wait(min(30.0, pause if pause is not None else 2.0 * tries))
                continue
            if 300 <= status < 400:
                # Following would carry the token to wherever Location points.
                raise ArmError(f"Log Analytics answered HTTP {status} (a redirect to "
                               f"{origin_of(response.headers.get('Location') or '')}); nwlab does "
                               "not follow redirects with its token.", status=status,
                               code="Redirect", method="POST", url=url,
                               fix="Check the Log Analytics endpoint (nw.log_analytics_endpoint).")
            if status >= 400:
                fix = ("Ask for Reader (or Log Analytics Reader) on the workspace."
                       if status == 403 else None)
                raise ArmError.from_response(status, response.headers, response.text,
                                             method="POST", url=url, fix=fix)
            try:
                return response.json()
            except ValueError:
                raise ArmError(f"Log Analytics answered HTTP {status} with a body that is not "
                               "JSON.", status=status, code="InvalidResponseContent",
                               method="POST", url=url) from None


def workspace_guid(arm: ArmLike, workspace_id: str) -> str:
    """The workspace's customerId (the query API's workspace id), read from ARM."""
    body = arm.get_json(workspace_id, api_version=WORKSPACE_API_VERSION)
    guid = ((body or {}).get("properties") or {}).get("customerId") \
        if isinstance(body, dict) else None
    if not isinstance(guid, str) or not GUID_RE.match(guid):
        raise ArmError(f"The workspace {workspace_id.rsplit('/', 1)[-1]} has no customerId GUID in "
                       "its properties.", status=200, code="UnexpectedResponseShape",
                       method="GET", url=workspace_id,
                       fix="Check that the id names a Log Analytics workspace.")
    return guid


def parse_tables(body: Any, *, url: str = "") -> tuple[list[Table], list[str]]:
    """`{"tables": [{name, columns: [{name, type}], rows: [[...]]}], "error"?}`; values converted by
    column type (row values may arrive as strings, dynamic ones as JSON text; §7.2)."""
    if not isinstance(body, dict) or not isinstance(body.get("tables"), list):
        raise _shape("the answer has no `tables` list", url)
    warnings = []
    error = body.get("error")
    if isinstance(error, dict):  # 200 + error: partial data (PartialError)
        warnings.append(f"{error.get('code') or 'Error'}: {error.get('message') or ''}".strip())
    tables = []
    for raw in body["tables"]:
        if not isinstance(raw, dict) or not isinstance(raw.get("columns"), list) \
                or not isinstance(raw.get("rows"), list):
            raise _shape("a table lacks `columns` or `rows`", url)
        columns: list[tuple[str, str]] = []
        for column in raw["columns"]:
            if not isinstance(column, dict) or not isinstance(column.get("name"), str):
                raise _shape("a column has no name", url)
            columns.append((column["name"], str(column.get("type") or "string").lower()))
        rows = []
        for row in raw["rows"]:
            if not isinstance(row, list) or len(row) != len(columns):
                raise _shape(f"a row does not have {len(columns)} values", url)
            rows.append([_convert(value, kind, url) for value, (_, kind) in
                         zip(row, columns, strict=True)])
        tables.append(Table(str(raw.get("name") or ""), [c for c, _ in columns], rows))
    return tables, warnings


def _convert(value: Any, kind: str, url: str) -> Any:
    if value is None or (value == "" and kind != "string"):
        return None
    try:
        if kind in ("int", "long"):
            return int(value)
        if kind in ("real", "decimal"):
            return float(value)
        if kind == "bool":
            return value if isinstance(value, bool) else str(value).lower() == "true"
    except (TypeError, ValueError):
        raise _shape(f"{value!r} is not a {kind}", url) from None
    if kind == "datetime" and not is_iso_time(value):
        raise _shape(f"{value!r} is not an ISO 8601 datetime", url)
    if kind == "dynamic" and isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _shape(what: str, url: str) -> ArmError:
    return ArmError(f"The Log Analytics answer is not the documented query result: {what}.",
                    status=200, code="UnexpectedResponseShape", method="POST", url=url,
                    fix="Check that the endpoint is Log Analytics' query API.")
