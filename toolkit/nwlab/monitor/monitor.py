"""`Monitor`: the Connection Monitor resources made from a set of checks (one per source region),
and what can be done with them: status, stop, start, delete, results. `create_monitor` is what
nw.monitor() calls; `list_monitors` what nw.list_monitors() calls."""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from nwlab.arm.errors import ArmError, NwlabError, PreflightError
from nwlab.arm.ids import normalize_region, parse_resource_id
from nwlab.monitor.build import MonitorPlan, MonitorTest, build_plans
from nwlab.monitor.client import WatcherLike
from nwlab.monitor.limits import check_body, check_region_count
from nwlab.monitor.logs import LogAnalyticsClient, workspace_guid
from nwlab.monitor.metrics import read_metrics
from nwlab.monitor.operations import put_and_wait, request_and_wait
from nwlab.monitor.results import MonitorResults
from nwlab.monitor.spec import Thresholds, check_name, validate_request
from nwlab.monitor.window import timespan_of

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

# POST /start exists up to api-version 2024-07-01 only (reference connection-monitor.md §1.2);
# ARM keeps serving older versions, so start() asks in the last one that has it.
LAST_START_VERSION = "2024-07-01"
TEST_KQL = """NWConnectionMonitorTestResult
| where ConnectionMonitorResourceId in~ ({ids})
| project TimeGenerated, ConnectionMonitorResourceId, TestGroupName, TestConfigurationName,
          SourceName, DestinationName, Protocol, DestinationPort, TestResult, ChecksTotal,
          ChecksFailed, AvgRoundTripTimeMs, MinRoundTripTimeMs, MaxRoundTripTimeMs, JitterMs
| order by TimeGenerated asc"""
PATH_KQL = """NWConnectionMonitorPathResult
| where ConnectionMonitorResourceId in~ ({ids})
| project TimeGenerated, ConnectionMonitorResourceId, TestGroupName, TestConfigurationName,
          SourceName, DestinationName, PathTestResult, PathTestResultCriterion, HopAddresses,
          HopTypes, Hops, Issues
| order by TimeGenerated asc"""


class MonitorNotFound(NwlabError, LookupError):
    """No connection monitor of that name in any region's Network Watcher."""


@dataclass(frozen=True)
class MonitorStatus:
    """The monitor's resources as ARM shows them now, one row per region."""

    name: str
    rows: list[dict[str, Any]]

    @property
    def provisioning_state(self) -> str:
        """Succeeded only when every region's resource is; else the first other state."""
        states = [str(r.get("provisioning_state")) for r in self.rows]
        return next((s for s in states if s != "Succeeded"), "Succeeded") if states else "Unknown"

    def frame(self) -> pd.DataFrame:
        import pandas as pd

        return pd.DataFrame(self.rows, columns=STATUS_COLUMNS)

    def _repr_html_(self) -> str:
        return (f'<div class="nwlab-monitor-status"><strong>{html.escape(self.name)}</strong>: '
                f"{html.escape(self.provisioning_state)}"
                f"{self.frame().to_html(index=False, na_rep='', border=0, escape=True)}</div>")


STATUS_COLUMNS = ["region", "provisioning_state", "monitoring_status", "start_time",
                  "connection_monitor_type", "tests", "id"]
LIST_COLUMNS = ["name", "region", "provisioning_state", "monitoring_status", "start_time",
                "endpoints", "tests", "created_by_nwlab", "workspace", "id"]


class Monitor:
    """Connection Monitor resources of one name, one per source region, and their tests."""

    def __init__(self, nw: WatcherLike, name: str, plans: list[MonitorPlan], *,
                 workspace: str | None = None, thresholds: Thresholds | None = None,
                 warnings: list[str] | None = None) -> None:
        self.nw = nw
        self.name = name
        self.plans = plans
        self.workspace = workspace
        self.thresholds = thresholds
        self.warnings = list(warnings or [])

    def __repr__(self) -> str:
        regions = ", ".join(p.region for p in self.plans)
        return f"<Monitor {self.name}: {len(self.tests)} tests in {regions}>"

    @property
    def ids(self) -> list[str]:
        return [p.id for p in self.plans]

    @property
    def tests(self) -> list[MonitorTest]:
        return [t for p in self.plans for t in p.tests]

    def tests_frame(self) -> pd.DataFrame:
        """One row per test: region, group, source, destination, configuration, protocol, port."""
        import pandas as pd

        columns = ["region", "group", "source", "destination", "configuration", "protocol",
                   "port", "source_id", "destination_value"]
        frame = pd.DataFrame([{c: getattr(t, c) for c in columns} for t in self.tests],
                             columns=columns)
        frame["port"] = frame["port"].astype("Int64")
        return frame

    # -- lifecycle ------------------------------------------------------------------------

    def status(self) -> MonitorStatus:
        rows = []
        for plan in self.plans:
            body = self.nw.arm.get_json(plan.id)
            rows.append(_status_row(plan.region, body, len(plan.tests), plan.id))
        return MonitorStatus(self.name, rows)

    def stop(self) -> Monitor:
        """POST /stop on every region's resource (long-running; waits for it)."""
        for plan in self.plans:
            request_and_wait(self.nw.arm, "POST", f"{plan.id}/stop",
                             poll_interval=self.nw.poll_interval)
        return self

    def start(self) -> Monitor:
        """POST /start on every region's resource (in the last api-version that has it)."""
        version = min(self.nw.arm.api_versions.get("Microsoft.Network", LAST_START_VERSION),
                      LAST_START_VERSION)
        for plan in self.plans:
            request_and_wait(self.nw.arm, "POST", f"{plan.id}/start",
                             poll_interval=self.nw.poll_interval, api_version=version)
        return self

    def delete(self) -> None:
        """DELETE every region's resource and wait until it is gone; one already gone is fine."""
        for plan in self.plans:
            try:
                request_and_wait(self.nw.arm, "DELETE", plan.id,
                                 poll_interval=self.nw.poll_interval)
            except ArmError as exc:
                if exc.status != 404:
                    raise

    # -- results --------------------------------------------------------------------------

    def results(self, since: Any = "1h") -> MonitorResults:
        """Metrics of every region's resource over `since`, and the workspace's rows when a
        workspace is set. Metrics go to ARM with the ARM token; logs to Log Analytics with its."""
        timespan = timespan_of(since)
        out = MonitorResults(name=self.name, timespan=timespan,
                             subscription_id=self.nw.subscription_id, tests=self.tests,
                             regions_by_id={p.id.lower(): p.region for p in self.plans},
                             thresholds=self.thresholds, workspace=self.workspace)
        for plan in self.plans:
            points, notes = read_metrics(self.nw.arm, plan.id, timespan, len(plan.tests))
            out.metrics[plan.region] = points
            out.warnings.extend(f"{plan.region}: {n}" for n in notes)
        if self.workspace is not None:
            client = LogAnalyticsClient.for_client(self.nw.arm, self.nw.log_analytics_endpoint)
            guid = workspace_guid(self.nw.arm, self.workspace)
            ids = ", ".join(_kql_string(i) for i in self.ids)
            for kql, target in ((TEST_KQL, out.test_rows), (PATH_KQL, out.path_rows)):
                tables, notes = client.query(guid, kql.format(ids=ids), timespan)
                out.warnings.extend(notes)
                for table in tables[:1]:  # the query's PrimaryResult
                    target.extend(table.records())
        return out

    # -- display --------------------------------------------------------------------------

    def _repr_html_(self) -> str:
        regions = ", ".join(html.escape(p.region) for p in self.plans)
        warnings = "".join(f'<div style="margin:2px 0">&#x26A0; {html.escape(w)}</div>'
                           for w in self.warnings)
        table = self.tests_frame().drop(columns=["source_id"]).to_html(
            index=False, na_rep="", border=0, escape=True)
        return (f'<div class="nwlab-monitor"><div style="margin:4px 0"><strong>'
                f"{html.escape(self.name)}</strong>: {len(self.tests)} tests in {regions}</div>"
                f"{warnings}{table}</div>")

    # -- reading one back -----------------------------------------------------------------

    @classmethod
    def find(cls, nw: WatcherLike, name: str) -> Monitor:
        """The monitor named `name`, read from every region's watcher (e.g. for the CLI). Any
        existing name is accepted (the portal may have made it), not only the ones nwlab makes."""
        if not isinstance(name, str) or not name.strip() or any(c in name for c in "/?#%"):
            check_name(name)  # the error says what a name looks like
        plans = []
        workspace = None
        thresholds = None
        for region, watcher_id in sorted(nw.list_watchers().items()):
            path = f"{watcher_id}/connectionMonitors/{name}"
            try:
                body = nw.arm.get_json(path)
            except ArmError as exc:
                if exc.status == 404:
                    continue
                raise
            plan = plan_from_body(name, region, watcher_id, body)
            plans.append(plan)
            workspace = workspace or _workspace_of(body)
            thresholds = thresholds or _thresholds_of(body)
        if not plans:
            raise MonitorNotFound(f"No connection monitor named {name!r} in this subscription.",
                                  fix="nw.list_monitors() lists them.")
        return cls(nw, name, plans, workspace=workspace, thresholds=thresholds)


def create_monitor(nw: WatcherLike, checks_or_batch: Any, name: Any, *, workspace: Any = None,
                   frequency_s: Any = 60, thresholds: Any = None,
                   timeout: float = 600.0) -> Monitor:
    """Validate, read the source VMs (region, agent) and each region's monitors, build and check
    every body against the documented limits, and only then PUT them, one per region."""
    request = validate_request(nw.subscription_id, checks_or_batch, name, workspace=workspace,
                               frequency_s=frequency_s, thresholds=thresholds)
    regions: dict[str, str] = {}
    watchers: dict[str, str] = {}
    warnings: list[str] = []
    for spec in request.checks:
        source = spec.source_id.lower()
        if source not in regions:
            status = nw.vm_status(spec.source_id)
            _require_agent(status)
            if not status.running:
                warnings.append(f"Source VM {status.name} is {status.power_state}: its tests stay "
                                "Indeterminate until it runs.")
            regions[source] = normalize_region(status.location)
        region = regions[source]
        if spec.watcher is not None:
            if watchers.get(region, spec.watcher).lower() != spec.watcher.lower():
                raise ValueError(f"watcher: two watchers given for region {region} "
                                 f"({watchers[region]} and {spec.watcher}); one region has one "
                                 "Network Watcher: give the same watcher, or leave it out")
            watchers[region] = spec.watcher
    for region in set(regions.values()) - set(watchers):
        watchers[region] = nw.find_watcher(region)
    plans = build_plans(request.name, list(request.checks), regions, watchers,
                        workspace=request.workspace, frequency_s=request.frequency_s,
                        thresholds=request.thresholds)
    for plan in plans:
        check_body(plan.name, plan.region, plan.body)
        existing = [str(m.get("name") or "") for m in
                    nw.arm.list(f"{plan.watcher_id}/connectionMonitors")]
        check_region_count(plan.region, existing, plan.name)
    for number, plan in enumerate(plans):
        try:
            put_and_wait(nw.arm, plan.id, plan.body, poll_interval=nw.poll_interval,
                         timeout=timeout)
        except NwlabError as exc:
            if number:  # the regions before this one hold a monitor now: say so, and how to undo
                made = ", ".join(p.region for p in plans[:number])
                exc.add_note(f"Created before this failure: {request.name} in {made}; "
                             f"nwlab.monitor.Monitor.find(nw, {request.name!r}).delete() "
                             "removes them.")
            raise
    return Monitor(nw, request.name, plans, workspace=request.workspace,
                   thresholds=request.thresholds, warnings=warnings)


def list_monitors(nw: WatcherLike) -> pd.DataFrame:
    """Every connection monitor of the subscription, one row per resource (all pages, all
    regions' watchers), sorted by name and region."""
    import pandas as pd

    rows: list[dict[str, Any]] = []
    for region, watcher_id in sorted(nw.list_watchers().items()):
        for body in nw.arm.list(f"{watcher_id}/connectionMonitors"):
            props = body.get("properties") or {}
            plan = plan_from_body(str(body.get("name") or ""), region, watcher_id, body)
            row = _status_row(region, body, len(plan.tests), str(body.get("id") or plan.id))
            rows.append({"name": plan.name, **row,
                         "endpoints": len(props.get("endpoints") or []),
                         "created_by_nwlab": (body.get("tags") or {}).get("createdBy") == "nwlab",
                         "workspace": _workspace_of(body)})
    rows.sort(key=_list_order)
    frame = pd.DataFrame(rows, columns=LIST_COLUMNS)
    frame["tests"] = frame["tests"].astype("Int64")
    frame["endpoints"] = frame["endpoints"].astype("Int64")
    return frame


def _list_order(row: dict[str, Any]) -> tuple[str, str]:
    return (str(row["name"]).lower(), str(row["region"]))


def plan_from_body(name: str, region: str, watcher_id: str, body: Any) -> MonitorPlan:
    """A monitor's plan as the service holds it: its tests are every source x destination x
    configuration of every group (parsed leniently: missing lists are empty)."""
    props = (body or {}).get("properties") or {} if isinstance(body, dict) else {}
    endpoints = {e.get("name"): e for e in props.get("endpoints") or [] if isinstance(e, dict)}
    configs = {c.get("name"): c for c in props.get("testConfigurations") or []
               if isinstance(c, dict)}
    tests = []
    for group in props.get("testGroups") or []:
        if not isinstance(group, dict):
            continue
        for source in group.get("sources") or []:
            for destination in group.get("destinations") or []:
                for config_name in group.get("testConfigurations") or []:
                    config = configs.get(config_name) or {}
                    protocol, port = _config_protocol(config)
                    frequency = config.get("testFrequencySec")
                    target = endpoints.get(destination) or {}
                    tests.append(MonitorTest(
                        monitor=name, region=region, group=str(group.get("name") or ""),
                        source=str(source), destination=str(destination),
                        configuration=str(config_name),
                        source_id=str((endpoints.get(source) or {}).get("resourceId") or ""),
                        destination_value=str(target.get("resourceId") or target.get("address")
                                              or ""),
                        protocol=protocol, port=port,
                        frequency_s=frequency if isinstance(frequency, int) else 60))
    return MonitorPlan(name=name, region=region, watcher_id=watcher_id,
                       body=body if isinstance(body, dict) else {},
                       tests=sorted(tests, key=lambda t: t.key))


def _require_agent(status: Any) -> None:
    """The PUT fails with NetworkWatcherVmExtensionNotInstalled without it (reference §1.4)."""
    if status.agent:
        return
    agent = "NetworkWatcherAgentLinux" if (status.os_type or "").lower() == "linux" \
        else "NetworkWatcherAgentWindows"
    raise PreflightError(
        f"Source VM {status.name} has no Network Watcher agent extension (or it is still "
        "installing); Connection Monitor refuses sources without it.",
        fix=f"Install it and wait for it to succeed: az vm extension set -g "
            f"{status.resource_group} --vm-name {status.name} --publisher "
            f"Microsoft.Azure.NetworkWatcher --name {agent}")


def _status_row(region: str, body: Any, tests: int, monitor_id: str) -> dict[str, Any]:
    props = (body.get("properties") or {}) if isinstance(body, dict) else {}
    return {"region": region, "provisioning_state": props.get("provisioningState"),
            "monitoring_status": props.get("monitoringStatus"),
            "start_time": props.get("startTime"),
            "connection_monitor_type": props.get("connectionMonitorType"), "tests": tests,
            "id": monitor_id}


def _config_protocol(config: dict[str, Any]) -> tuple[str, int | None]:
    protocol = str(config.get("protocol") or "")
    if protocol == "Http":
        http = config.get("httpConfiguration") or {}
        port = http.get("port")
        https = bool(http.get("preferHTTPS")) or port == 443
        return ("Https" if https else "Http"), port
    if protocol == "Tcp":
        return "Tcp", (config.get("tcpConfiguration") or {}).get("port")
    return protocol, None


def _workspace_of(body: Any) -> str | None:
    for output in ((body or {}).get("properties") or {}).get("outputs") or []:
        settings = (output or {}).get("workspaceSettings") or {}
        workspace = settings.get("workspaceResourceId")
        if workspace and parse_resource_id(str(workspace)) is not None:
            return str(workspace)
    return None


def _thresholds_of(body: Any) -> Thresholds | None:
    for config in ((body or {}).get("properties") or {}).get("testConfigurations") or []:
        threshold = (config or {}).get("successThreshold") or {}
        if threshold:
            return Thresholds(threshold.get("checksFailedPercent"),
                              threshold.get("roundTripTimeMs"))
    return None


def _kql_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
