"""Log Analytics for the twin: the query API (`POST /v1/workspaces/{customerId}/query`,
reference diagnostics-and-estate-api.md §7.2) on an origin of its own, as in Azure, with a token
of its own, answering the two Connection Monitor tables from the monitors' evaluations.

KQL served (exactly what nwlab's monitor client sends; docs/monitoring.md):

    NWConnectionMonitorTestResult | NWConnectionMonitorPathResult
    | where ConnectionMonitorResourceId in~ ("<id>", ...)      (or =~ "<id>")
    | project <columns of the table>
    | order by TimeGenerated asc|desc

Anything else is a 400 BadArgumentError naming what is not served. Path rows are written, as
the service writes them, only when a test's path result changes (and at its first run).
"""

from __future__ import annotations

import hmac
import json
import logging
import re
import threading
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from .clock import iso
from .connection_monitor import Evaluation
from .errors import ArmError
from .metrics import window

log = logging.getLogger(__name__)

TEST_TABLE = "NWConnectionMonitorTestResult"
PATH_TABLE = "NWConnectionMonitorPathResult"
# Column types from the table references (connection-monitor.md §4.2).
TEST_COLUMNS: dict[str, str] = {
    "TimeGenerated": "datetime", "ConnectionMonitorResourceId": "string",
    "TestGroupName": "string", "TestConfigurationName": "string", "SourceName": "string",
    "SourceType": "string", "SourceResourceId": "string", "SourceIP": "string",
    "DestinationName": "string", "DestinationType": "string",
    "DestinationResourceId": "string", "DestinationAddress": "string",
    "DestinationIP": "string", "DestinationPort": "int", "Protocol": "string",
    "TestResult": "string", "TestResultCriterion": "string", "ChecksTotal": "int",
    "ChecksFailed": "int", "ChecksFailedPercentThreshold": "int",
    "RoundTripTimeMsThreshold": "real", "AvgRoundTripTimeMs": "real",
    "MinRoundTripTimeMs": "real", "MaxRoundTripTimeMs": "real", "JitterMs": "real"}
PATH_COLUMNS: dict[str, str] = {
    "TimeGenerated": "datetime", "ConnectionMonitorResourceId": "string",
    "TestGroupName": "string", "TestConfigurationName": "string", "SourceName": "string",
    "DestinationName": "string", "PathTestResult": "string",
    "PathTestResultCriterion": "string", "HopAddresses": "string", "HopTypes": "string",
    "HopResourceIds": "string", "Hops": "string", "Issues": "string"}
TABLES = {TEST_TABLE.lower(): (TEST_TABLE, TEST_COLUMNS), PATH_TABLE.lower(): (PATH_TABLE,
                                                                               PATH_COLUMNS)}
SUBSET = ("the twin serves: <NWConnectionMonitorTestResult|NWConnectionMonitorPathResult> "
          "| where ConnectionMonitorResourceId in~ (\"<id>\", ...) | project <columns> "
          "| order by TimeGenerated asc|desc")
_STRING = re.compile(r'"((?:[^"\\]|\\.)*)"')


class Query:
    """A parsed query of the served subset."""

    def __init__(self, table: str, ids: list[str] | None, columns: list[str],
                 descending: bool) -> None:
        self.table, self.ids, self.columns, self.descending = table, ids, columns, descending


def parse_kql(text: Any) -> Query:
    if not isinstance(text, str) or not text.strip():
        raise _bad("the body needs a 'query' string")
    stages = [s.strip() for s in _pipes(text)]
    table = TABLES.get(stages[0].lower())
    if table is None:
        raise _bad(f"table {stages[0]!r} is not served; {SUBSET}", code="SEM0100")
    name, columns = table
    ids: list[str] | None = None
    project = list(columns)
    descending = False
    for stage in stages[1:]:
        words = stage.split(None, 1)
        verb = words[0].lower() if words else ""
        rest = words[1] if len(words) > 1 else ""
        if verb == "where":
            match = re.match(r"^ConnectionMonitorResourceId\s+(in~|=~|==|in)\s*(.*)$", rest,
                             re.IGNORECASE | re.DOTALL)
            if not match:
                raise _bad(f"'where {rest.strip()[:60]}' is not served; {SUBSET}")
            ids = [_unescape(s) for s in _STRING.findall(match.group(2))]
            if not ids:
                raise _bad("the where clause names no resource id")
        elif verb == "project":
            project = [c.strip() for c in rest.split(",") if c.strip()]
            for column in project:
                if column not in columns:
                    raise _bad(f"Failed to resolve scalar expression named '{column}'",
                               code="SEM0100")
        elif verb == "order":
            match = re.match(r"^by\s+TimeGenerated(\s+(asc|desc))?\s*$", rest, re.IGNORECASE)
            if not match:
                raise _bad(f"'order {rest.strip()}' is not served; {SUBSET}")
            descending = (match.group(2) or "desc").lower() == "desc"  # KQL's default is desc
        else:
            raise _bad(f"'{stage[:40]}' is not served; {SUBSET}")
    return Query(name, ids, project, descending)


def _pipes(text: str) -> list[str]:
    """Split on | outside double-quoted strings."""
    out, current, quoted, escaped = [], [], False, False
    for char in text:
        if quoted:
            current.append(char)
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                quoted = False
        elif char == '"':
            quoted = True
            current.append(char)
        elif char == "|":
            out.append("".join(current))
            current = []
        else:
            current.append(char)
    out.append("".join(current))
    return out


def _unescape(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text)


def _bad(message: str, *, code: str = "BadArgumentError") -> ArmError:
    return ArmError(400, "BadArgumentError", f"{code}: {message}")


def answer(query: Query, evaluations: list[Evaluation]) -> dict[str, Any]:
    """The query API's body: one PrimaryResult table."""
    wanted = None if query.ids is None else {i.lower() for i in query.ids}
    chosen = [e for e in evaluations if wanted is None or e.monitor_id.lower() in wanted]
    records = _path_records(chosen) if query.table == PATH_TABLE \
        else [_test_record(e) for e in chosen]
    records.sort(key=lambda r: r["TimeGenerated"], reverse=query.descending)
    types = TEST_COLUMNS if query.table == TEST_TABLE else PATH_COLUMNS
    return {"tables": [{"name": "PrimaryResult",
                        "columns": [{"name": c, "type": types[c]} for c in query.columns],
                        "rows": [[r.get(c) for c in query.columns] for r in records]}]}


def _test_record(e: Evaluation) -> dict[str, Any]:
    test = e.test
    threshold = test.config.get("successThreshold") or {}
    destination = test.destination_endpoint
    return {"TimeGenerated": iso(e.time), "ConnectionMonitorResourceId": e.monitor_id,
            "TestGroupName": test.group, "TestConfigurationName": test.configuration,
            "SourceName": test.source, "SourceType": "AzureVM",
            "SourceResourceId": test.source_endpoint.get("resourceId"),
            "SourceIP": e.source_ip or None, "DestinationName": test.destination,
            "DestinationType": "AzureVM" if destination.get("resourceId") else "ExternalAddress",
            "DestinationResourceId": destination.get("resourceId"),
            "DestinationAddress": destination.get("address"),
            "DestinationIP": e.destination_ip or None, "DestinationPort": test.port,
            "Protocol": test.protocol, "TestResult": e.result,
            "TestResultCriterion": e.criterion or None,
            "ChecksTotal": e.checks_total if e.checks_total else None,
            "ChecksFailed": e.checks_failed if e.checks_total else None,
            "ChecksFailedPercentThreshold": threshold.get("checksFailedPercent"),
            "RoundTripTimeMsThreshold": threshold.get("roundTripTimeMs"),
            "AvgRoundTripTimeMs": e.rtt_avg, "MinRoundTripTimeMs": e.rtt_min,
            "MaxRoundTripTimeMs": e.rtt_max,
            "JitterMs": None if e.rtt_max is None or e.rtt_min is None
            else float(e.rtt_max) - float(e.rtt_min)}


def _path_records(evaluations: list[Evaluation]) -> list[dict[str, Any]]:
    """One row per test at its first evaluation and whenever its result changes."""
    last: dict[tuple[str, str, str, str, str], str] = {}
    out = []
    for e in sorted(evaluations, key=lambda item: item.time):
        test_key = (e.monitor_id.lower(), e.test.group, e.test.source, e.test.destination,
                    e.test.configuration)
        if last.get(test_key) == e.result:
            continue
        last[test_key] = e.result
        issues = [issue for hop in e.hops for issue in hop.get("issues") or []]
        out.append({"TimeGenerated": iso(e.time), "ConnectionMonitorResourceId": e.monitor_id,
                    "TestGroupName": e.test.group,
                    "TestConfigurationName": e.test.configuration,
                    "SourceName": e.test.source, "DestinationName": e.test.destination,
                    "PathTestResult": e.result, "PathTestResultCriterion": e.criterion or None,
                    "HopAddresses": ",".join(str(h.get("address") or "") for h in e.hops),
                    "HopTypes": ",".join(str(h.get("type") or "") for h in e.hops),
                    "HopResourceIds": ",".join(str(h.get("resourceId") or "") for h in e.hops),
                    "Hops": json.dumps(e.hops, sort_keys=True),
                    "Issues": json.dumps(issues, sort_keys=True)})
    return out


# -- HTTP -------------------------------------------------------------------------------------

class LogAnalyticsServer:
    """The query origin on loopback: its own port (another origin than the ARM endpoint) and its
    own bearer token, so the ARM token is never accepted here, nor this one by ARM."""

    def __init__(self, run: Callable[[str, Any], dict[str, Any]], *, host: str = "127.0.0.1",
                 token: str) -> None:
        self.run = run  # (workspace customerId, body) -> answer
        self.host = host
        self.token = token
        self.port = 0
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def endpoint(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def start(self) -> LogAnalyticsServer:
        if self._httpd is not None:
            return self
        server = self

        class Handler(_Handler):
            owner = server

        httpd = ThreadingHTTPServer((self.host, 0), Handler)
        httpd.daemon_threads = True
        self._httpd = httpd
        self.port = httpd.server_address[1]
        self._thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        name=f"nwlab-log-analytics:{self.port}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        httpd.shutdown()
        httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "nwlab-log-analytics/1"
    timeout = 60
    owner: LogAnalyticsServer

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s " + format, self.address_string(), *args)

    def do_GET(self) -> None:
        self._reply(405, {"error": {"code": "MethodNotAllowed",
                                    "message": "Use POST /v1/workspaces/{id}/query."}})

    def do_POST(self) -> None:
        try:
            length = int(self.headers.get("Content-Length") or 0)
            if not 0 <= length <= 1024 * 1024:
                raise ArmError(400, "BadArgumentError", "The body is too large.")
            raw = self.rfile.read(length) if length else b""
            scheme, _, presented = (self.headers.get("Authorization") or "").partition(" ")
            if scheme.lower() != "bearer" or not hmac.compare_digest(
                    presented.strip().encode(), self.owner.token.encode()):
                raise ArmError(401, "AuthorizationRequiredError", "Valid authentication was "
                               "not provided: present a token for the Log Analytics scope.")
            match = re.match(r"^/v1/workspaces/([^/?]+)/query/?(\?.*)?$", self.path)
            if not match:
                raise ArmError(404, "PathNotFoundError", f"No route for {self.path!r}; the "
                               "twin serves POST /v1/workspaces/{id}/query.")
            try:
                body = json.loads(raw or b"null")
            except ValueError:
                raise ArmError(400, "BadArgumentError", "The body is not JSON.") from None
            if not isinstance(body, dict):
                raise ArmError(400, "BadArgumentError",
                               "The body must be {\"query\": ..., \"timespan\": ...}.")
            self._reply(200, self.owner.run(match.group(1), body))
        except ArmError as exc:
            self._reply(exc.status, exc.body())
        except Exception as exc:  # never hang a client
            log.exception("log analytics handler failed")
            self._reply(500, {"error": {"code": "InternalServerError", "message": repr(exc)}})

    def _reply(self, status: int, body: Any) -> None:
        data = json.dumps(body).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("x-ms-request-id", str(uuid.uuid4()))
        self.end_headers()
        self.wfile.write(data)


def query_window(body: dict[str, Any], now: datetime) -> tuple[datetime, datetime]:
    """The body's timespan (the API's default when absent: the last day)."""
    return window(body.get("timespan"), now, default=timedelta(days=1))
