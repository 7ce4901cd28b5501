"""Connection Monitor in the twin: the ARM resource (PUT/GET/DELETE/list, POST stop/start, with
the long-running-operation answers Azure gives, reference connection-monitor.md §1.1-1.3) and its
tests, run by the twin's own engine on the twin's clock.

Tests are evaluated lazily: when results are asked for, every evaluation due so far (one per
test per ``testFrequencySec`` from the monitor's start, while it runs) is computed over the
network as it was at that twin time. The service records each topology the twin has had, with
the twin time it took effect, so a rule deleted at minute 5 fails the evaluations from minute 5
on and no earlier one. Results of one test over one topology are computed once.

What Azure does not document and the twin assumes (docs/monitoring.md lists them): the first
evaluation is at the start time (Azure shows data after about 5 minutes); an evaluation whose
source cannot probe (VM stopped or gone, agent missing) is Indeterminate with no checks; a
source VM outside the monitor's region is refused with NetworkWatcherRegionMismatch; limits
beyond what is documented are not enforced.
"""

from __future__ import annotations

import bisect
import copy
import threading
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from . import engine
from .assumptions import Assumption
from .clock import TwinClock, iso
from .errors import ArmError, not_found
from .topology import JSON, Topology, key

T_CM = "Microsoft.Network/networkWatchers/connectionMonitors"
MIN_FREQUENCY_S, MAX_FREQUENCY_S = 30, 1800  # §1.4 InvalidTestFrequency
MAX_ENDPOINTS, MAX_GROUPS, MAX_CONFIGS, MAX_PER_REGION = 100, 20, 20, 100  # §3.1
PROTOCOLS = {"tcp": "Tcp", "http": "Http", "icmp": "Icmp"}
# The service's automatic thresholds when none are set (§2.3): Warning at 10 % / 750 ms.
AUTO_WARNING_PERCENT, AUTO_WARNING_RTT_MS = 10.0, 750.0
RESULT_CODES = {"Indeterminate": 0, "Pass": 1, "Warning": 2, "Fail": 3}


@dataclass(frozen=True)
class Test:
    """One source x destination x configuration of a group, as metrics and logs name it."""

    group: str
    source: str
    destination: str
    configuration: str
    source_endpoint: JSON
    destination_endpoint: JSON
    config: JSON

    @property
    def frequency_s(self) -> int:
        return int(self.config["testFrequencySec"])

    @property
    def protocol(self) -> str:
        return PROTOCOLS[str(self.config["protocol"]).lower()]

    @property
    def port(self) -> int | None:
        if self.protocol == "Tcp":
            return int((self.config.get("tcpConfiguration") or {}).get("port") or 0) or None
        if self.protocol == "Http":
            http = self.config.get("httpConfiguration") or {}
            return int(http.get("port") or (443 if http.get("preferHTTPS") else 80))
        return None

    @property
    def https(self) -> bool:
        http = self.config.get("httpConfiguration") or {}
        return self.protocol == "Http" and (bool(http.get("preferHTTPS")) or self.port == 443)


@dataclass
class Evaluation:
    """One run of one test: what NWConnectionMonitorTestResult and the metrics report."""

    time: datetime
    monitor_id: str
    test: Test
    result: str  # Pass | Warning | Fail | Indeterminate
    checks_total: int
    checks_failed: int
    rtt_avg: float | None = None
    rtt_min: float | None = None
    rtt_max: float | None = None
    criterion: str = ""
    source_ip: str = ""
    destination_ip: str = ""
    hops: list[JSON] = field(default_factory=list)

    @property
    def checks_failed_percent(self) -> float | None:
        return 100.0 * self.checks_failed / self.checks_total if self.checks_total else None


@dataclass
class Monitor:
    """One connectionMonitors resource and its run: created, running intervals, tests."""

    id: str
    watcher_id: str
    location: str
    body: JSON
    tests: list[Test]
    created: datetime
    runs: list[list[datetime | None]]  # [start, stop or None]
    etag: int = 1

    @property
    def running(self) -> bool:
        return bool(self.runs) and self.runs[-1][1] is None

    def running_at(self, when: datetime) -> bool:
        return any(start is not None and start <= when and (stop is None or when < stop)
                   for start, stop in self.runs)


@dataclass
class _Operation:
    ready_at: datetime  # twin time: an operation's length scales with the twin's clock
    kind: str  # "async" (PUT) or "location"


class ConnectionMonitorService:
    """Every connection monitor of the twin, and the history of its network."""

    def __init__(self, clock: TwinClock, *, retry_after: float = 1.0) -> None:
        self.clock = clock
        # An operation stays InProgress for `retry_after` twin seconds; its answers say so.
        self.retry_after = retry_after
        self.monitors: dict[str, Monitor] = {}
        self._ops: dict[str, _Operation] = {}
        self._history: list[tuple[datetime, Topology]] = []
        self._cache: dict[tuple[int, str, tuple[str, str, str, str]], Evaluation | None] = {}
        self._lock = threading.RLock()

    # -- the network over time ----------------------------------------------------------------
    def observe(self, topology: Topology) -> None:
        """Record `topology` as the network from now on, if it is not the one recorded last."""
        with self._lock:
            if not self._history or self._history[-1][1] is not topology:
                self._history.append((self.clock.now(), topology))

    def _topology_at(self, when: datetime) -> tuple[int, Topology]:
        times = [t for t, _ in self._history]
        index = max(0, bisect.bisect_right(times, when) - 1)
        return index, self._history[index][1]

    # -- ARM: {watcher}/connectionMonitors[/{name}[/stop|/start]] --------------------------------
    def handle(self, method: str, segs: list[str], low: list[str], watcher: JSON,
               query: dict[str, str], body: Any, topology: Topology,
               endpoint: str) -> tuple[int, Any, dict[str, str]]:
        """(status, body, headers) for a request below a watcher; segs[8] is 'connectionMonitors'
        or 'operationResults'."""
        self.observe(topology)
        api = query.get("api-version", "")
        if low[8] == "operationresults" and len(low) == 10:
            _only(method, "GET")
            return self._poll_location(segs[9], endpoint, segs, api)
        if len(low) == 9:
            _only(method, "GET")
            with self._lock:
                items = [self._render(m) for m in self.monitors.values()
                         if key(m.watcher_id) == key(watcher["id"])]
            return 200, {"value": sorted(items, key=lambda m: m["name"].lower())}, {}
        monitor_id = "/" + "/".join(segs[:10])
        if len(low) == 10:
            if method == "PUT":
                return self._put(monitor_id, watcher, body, topology, endpoint, api)
            if method == "DELETE":
                return self._delete(monitor_id, segs, endpoint, api)
            _only(method, "GET")
            return 200, self._render(self._get(monitor_id)), {}
        if len(low) == 11 and low[10] in ("stop", "start"):
            _only(method, "POST")
            return self._stop_start(monitor_id, low[10], segs, endpoint, api)
        raise ArmError(404, "InvalidResourceType", f"No route for '/{'/'.join(segs)}'.")

    def poll_async(self, op_id: str) -> tuple[int, Any, dict[str, str]]:
        """GET {endpoint}/subscriptions/{id}/providers/Microsoft.Network/locations/{region}/
        operations/{id}: the PUT's Azure-AsyncOperation status."""
        with self._lock:
            op = self._ops.get(op_id.lower())
        if op is None or op.kind != "async":
            raise ArmError(404, "NotFound", f"Operation '{op_id}' was not found.")
        if self.clock.now() < op.ready_at:
            return 200, {"status": "InProgress"}, {"Retry-After": self._retry()}
        return 200, {"status": "Succeeded"}, {}

    def _retry(self) -> str:
        value = self.retry_after
        return str(int(value)) if float(value).is_integer() else f"{value:g}"

    def _get(self, monitor_id: str) -> Monitor:
        with self._lock:
            monitor = self.monitors.get(key(monitor_id))
        if monitor is None:
            raise not_found(monitor_id)
        return monitor

    def _put(self, monitor_id: str, watcher: JSON, body: Any, topology: Topology,
             endpoint: str, api: str) -> tuple[int, Any, dict[str, str]]:
        location = str(watcher.get("location") or "")
        tests = validate(body, location, topology)
        now = self.clock.now()
        with self._lock:
            existing = self.monitors.get(key(monitor_id))
            in_region = sum(1 for m in self.monitors.values()
                            if key(m.watcher_id) == key(watcher["id"]))
            if existing is None and in_region >= MAX_PER_REGION:
                raise ArmError(400, "ConnectionMonitorLimitReached",  # the twin's code
                               f"The subscription has {in_region} connection monitors in region "
                               f"'{location}'; the limit is {MAX_PER_REGION} per region.")
            stored = {"location": location, "tags": copy.deepcopy(body.get("tags") or {}),
                      "properties": copy.deepcopy(body["properties"])}
            if existing is None:
                monitor = Monitor(monitor_id, watcher["id"], location, stored, tests, now,
                                  [[now, None]])
            else:  # an update replaces the body (full PUT); the run goes on
                monitor = existing
                monitor.body, monitor.tests, monitor.etag = stored, tests, existing.etag + 1
            self.monitors[key(monitor_id)] = monitor
            op_id = str(uuid.uuid4())
            self._ops[op_id] = _Operation(now + timedelta(seconds=self.retry_after), "async")
        rendered = self._render(monitor, state="Updating")
        sub = monitor_id.split("/")[2]
        async_url = (f"{endpoint}/subscriptions/{sub}/providers/Microsoft.Network/locations/"
                     f"{location}/operations/{op_id}" + _api(api))
        return (200 if existing else 201), rendered, {"Azure-AsyncOperation": async_url,
                                                      "azure-asyncnotification": "Enabled"}

    def _delete(self, monitor_id: str, segs: list[str], endpoint: str,
                api: str) -> tuple[int, Any, dict[str, str]]:
        with self._lock:
            if key(monitor_id) not in self.monitors:
                return 204, None, {}
            self.monitors.pop(key(monitor_id))
        return self._accepted(segs, endpoint, api)

    def _stop_start(self, monitor_id: str, action: str, segs: list[str], endpoint: str,
                    api: str) -> tuple[int, Any, dict[str, str]]:
        monitor = self._get(monitor_id)
        now = self.clock.now()
        with self._lock:
            if action == "stop" and monitor.running:
                monitor.runs[-1][1] = now
            elif action == "start" and not monitor.running:
                monitor.runs.append([now, None])
        return self._accepted(segs, endpoint, api)

    def _accepted(self, segs: list[str], endpoint: str,
                  api: str) -> tuple[int, Any, dict[str, str]]:
        """202 + Location under the watcher (the 2026-01-01 examples' operationresults form)."""
        op_id = str(uuid.uuid4())
        with self._lock:
            self._ops[op_id] = _Operation(self.clock.now() + timedelta(seconds=self.retry_after),
                                          "location")
        location = f"{endpoint}/{'/'.join(segs[:8])}/operationResults/{op_id}" + _api(api)
        return 202, None, {"Location": location, "Retry-After": self._retry()}

    def _poll_location(self, op_id: str, endpoint: str, segs: list[str],
                       api: str) -> tuple[int, Any, dict[str, str]]:
        with self._lock:
            op = self._ops.get(op_id.lower())
        if op is None or op.kind != "location":
            raise ArmError(404, "NotFound", f"Operation '{op_id}' was not found.")
        if self.clock.now() < op.ready_at:
            location = f"{endpoint}/{'/'.join(segs[:10])}" + _api(api)
            return 202, None, {"Location": location, "Retry-After": self._retry()}
        return 200, None, {}

    def _render(self, monitor: Monitor, *, state: str = "Succeeded") -> JSON:
        with self._lock:
            op_pending = state == "Updating"
            out: JSON = copy.deepcopy(monitor.body)
            props = out["properties"]
            start = monitor.runs[-1][0] if monitor.runs else monitor.created
            props.update(provisioningState="Updating" if op_pending else "Succeeded",
                         startTime=iso(start) if start else None,
                         monitoringStatus="Running" if monitor.running else "Stopped",
                         connectionMonitorType="MultiEndpoint",
                         resourceGuid=str(uuid.uuid5(uuid.NAMESPACE_URL, key(monitor.id))))
            return {"name": monitor.id.rsplit("/", 1)[-1], "id": monitor.id,
                    "etag": f'W/"{monitor.etag}"', "type": T_CM, "location": monitor.location,
                    **out, EXTENSION: {"assumptions": [a.to_json() for a in
                                                       assumptions_of(monitor)]}}

    # -- the tests' results ---------------------------------------------------------------------
    def find(self, monitor_id: str) -> Monitor | None:
        with self._lock:
            return self.monitors.get(key(monitor_id))

    def evaluations(self, monitor: Monitor, start: datetime, end: datetime,
                    probes: int | None) -> list[Evaluation]:
        """Every evaluation of `monitor` in [start, end] that is due by now, oldest first."""
        now = self.clock.now()
        end = min(end, now)
        out: list[Evaluation] = []
        with self._lock:
            tests = list(monitor.tests)
            disabled = {str(g.get("name")) for g in monitor.body["properties"]["testGroups"]
                        if g.get("disable")}
        for test in tests:
            if test.group in disabled:
                continue  # "Not Running": a disabled group writes nothing
            step = timedelta(seconds=test.frequency_s)
            first = monitor.created
            if start > first:  # the first grid time at or after `start`
                first += step * -(-(start - first) // step)
            when = first
            while when <= end:
                if monitor.running_at(when):
                    found = self._evaluate(monitor, test, when, probes)
                    out.append(found)
                when += step
        out.sort(key=lambda e: (e.time, e.test.group, e.test.source, e.test.destination,
                                e.test.configuration))
        return out

    def _evaluate(self, monitor: Monitor, test: Test, when: datetime,
                  probes: int | None) -> Evaluation:
        with self._lock:
            index, topology = self._topology_at(when)
            cache_key = (index, key(monitor.id), (test.group, test.source, test.destination,
                                                  test.configuration))
            if cache_key not in self._cache:
                self._cache[cache_key] = run_test(topology, monitor, test, probes)
            found = self._cache[cache_key]
        return Evaluation(when, monitor.id, test, found.result, found.checks_total,
                          found.checks_failed, found.rtt_avg, found.rtt_min, found.rtt_max,
                          found.criterion, found.source_ip, found.destination_ip, found.hops) \
            if found is not None else Evaluation(when, monitor.id, test, "Indeterminate", 0, 0)


EXTENSION = "nwlab"  # the twin's extension field, as on connectivity results (engine.EXTENSION)


def assumptions_of(monitor: Monitor) -> list[Assumption]:
    """What the twin assumes in running this monitor (docs/twin.md, docs/monitoring.md)."""
    items = [Assumption("ASSUME_MONITOR_FIRST_RUN_AT_START", monitor.id,
                        "the first tests run at the start time",
                        alternatives=("data from about 5 minutes after the start",)),
             Assumption("ASSUME_MONITOR_INDETERMINATE_SOURCE", monitor.id,
                        "a source that cannot probe makes its tests Indeterminate"),
             Assumption("ASSUME_MONITOR_ERROR_CODES", monitor.id,
                        "refusals Azure documents no code for use the twin's codes")]
    for output in monitor.body["properties"].get("outputs") or []:
        workspace = ((output or {}).get("workspaceSettings") or {}).get("workspaceResourceId")
        if workspace:
            items.append(Assumption("ASSUME_MONITOR_WORKSPACE", str(workspace),
                                    "the workspace exists and receives rows at once",
                                    field="properties.outputs"))
    return items


def run_test(topology: Topology, monitor: Monitor, test: Test,
             probes: int | None) -> Evaluation | None:
    """One probe round of `test` by the twin's engine (a connectivity check from the source's
    agent); None when the source cannot probe (Indeterminate)."""
    watcher = topology.watchers.get(key(monitor.watcher_id))
    if watcher is None:
        return None
    destination = test.destination_endpoint
    target: JSON = {"port": test.port or 0}
    if destination.get("resourceId"):
        target["resourceId"] = destination["resourceId"]
    else:
        address = str(destination.get("address") or "")
        if test.protocol == "Http":
            address = f"{'https' if test.https else 'http'}://{address}"
        target["address"] = address
    protocol = "Https" if test.https else test.protocol
    request = {"source": {"resourceId": test.source_endpoint["resourceId"]},
               "destination": target, "protocol": protocol}
    try:
        spec = engine.parse_check(topology, watcher, request)
    except ArmError:
        return None  # source stopped, gone, without its agent, or not resolvable
    answer = engine.run_check(topology, spec, probes)
    sent = int(answer.get("probesSent") or 0)
    failed = int(answer.get("probesFailed") or 0)
    rtt = answer.get("avgLatencyInMs")
    result, criterion = judge(test.config.get("successThreshold") or {},
                              100.0 * failed / sent if sent else 100.0,
                              float(rtt) if rtt is not None else None)
    hops = answer.get("hops") or []
    return Evaluation(datetime.min, monitor.id, test, result, sent, failed,
                      None if rtt is None else float(rtt),
                      _float(answer.get("minLatencyInMs")), _float(answer.get("maxLatencyInMs")),
                      criterion, str(spec.source_cfg.address),
                      str(spec.address) if spec.address is not None else "", hops)


def judge(threshold: JSON, failed_percent: float, rtt: float | None) -> tuple[str, str]:
    """Pass/Warning/Fail as the overview defines them (§2.3): Fail past a set threshold (with
    none, only at 100 % failed); Warning past 80 % of a set threshold, or past the automatic
    10 % / 750 ms when none is set."""
    percent = threshold.get("checksFailedPercent")
    limit_rtt = threshold.get("roundTripTimeMs")
    if percent is None and limit_rtt is None:
        if failed_percent >= 100.0:
            return "Fail", "ChecksFailedPercent"
        if failed_percent > AUTO_WARNING_PERCENT:
            return "Warning", "ChecksFailedPercent"
        if rtt is not None and rtt > AUTO_WARNING_RTT_MS:
            return "Warning", "RoundTripTimeMs"
        return "Pass", ""
    if percent is not None and failed_percent > float(percent):
        return "Fail", "ChecksFailedPercent"
    if limit_rtt is not None and rtt is not None and rtt > float(limit_rtt):
        return "Fail", "RoundTripTimeMs"
    if percent is not None and float(percent) > 0 and failed_percent > 0.8 * float(percent):
        return "Warning", "ChecksFailedPercent"
    if limit_rtt is not None and rtt is not None and rtt > 0.8 * float(limit_rtt):
        return "Warning", "RoundTripTimeMs"
    return "Pass", ""


def validate(body: Any, location: str, topology: Topology) -> list[Test]:
    """The body as the service checks it (§1.4, §3.1, §6.2); its tests on success."""
    if not isinstance(body, dict) or not isinstance(body.get("properties"), dict):
        raise ArmError(400, "InvalidRequestFormat",
                       "The body must be a JSON object with 'properties'.")
    props = body["properties"]
    for v1 in ("source", "destination", "monitoringIntervalInSeconds", "autoStart"):
        if v1 in props:
            raise ArmError(400, "InvalidRequestFormat", f"'{v1}' is a connection monitor "
                           "(classic) field; classic monitors can no longer be created.")
    endpoints = _named(props.get("endpoints"), "endpoints")
    configs = _named(props.get("testConfigurations"), "testConfigurations")
    groups = _named(props.get("testGroups"), "testGroups")
    for what, items, limit in (("endpoints", endpoints, MAX_ENDPOINTS),
                               ("test groups", groups, MAX_GROUPS),
                               ("test configurations", configs, MAX_CONFIGS)):
        if len(items) > limit:
            raise ArmError(400, "ConnectionMonitorLimitReached",
                           f"The connection monitor has {len(items)} {what}; the limit is "
                           f"{limit}.")
    vms: dict[str, str] = {}
    for name, endpoint in endpoints.items():
        rid = endpoint.get("resourceId")
        if rid:
            if key(rid) in vms:
                raise ArmError(400, "InvalidEndpoint", "We don't allow creating different "
                               f"endpoints for the same VM: {vms[key(rid)]} and {name}.")
            vms[key(rid)] = name
    for name, config in configs.items():
        frequency = config.get("testFrequencySec")
        if isinstance(frequency, bool) or not isinstance(frequency, int) or \
                not MIN_FREQUENCY_S <= frequency <= MAX_FREQUENCY_S:
            raise ArmError(400, "InvalidTestFrequency", f"Test frequency in seconds {frequency} "
                           "should be greater or equal to 30 and lesser or equal to 1800.")
        if str(config.get("protocol") or "").lower() not in PROTOCOLS:
            raise ArmError(400, "InvalidRequestFormat", f"testConfigurations {name}: protocol "
                           f"must be Tcp, Http or Icmp, got {config.get('protocol')!r}.")
    tests: list[Test] = []
    for group_name, group in groups.items():
        sources = _references(group, "sources", endpoints, group_name)
        destinations = _references(group, "destinations", endpoints, group_name)
        names = _references(group, "testConfigurations", configs, group_name)
        for source in sources:
            _check_source(endpoints[source], source, location, topology)
        for source in sources:
            for destination in destinations:
                for config_name in names:
                    tests.append(Test(group_name, source, destination, config_name,
                                      endpoints[source], endpoints[destination],
                                      configs[config_name]))
    return tests


def _check_source(endpoint: JSON, name: str, location: str, topology: Topology) -> None:
    rid = endpoint.get("resourceId")
    if not rid:
        raise ArmError(400, "MissingResourceIDInEndpoint", "Required field 'resourceID' is "
                       f"missing for source endpoint {name}.")
    vm = topology.vms.get(key(str(rid)))
    if vm is None:
        raise not_found(str(rid))
    if vm.location.replace(" ", "").lower() != location.replace(" ", "").lower():
        raise ArmError(400, "NetworkWatcherRegionMismatch", f"The source virtual machine {rid} "
                       f"is in '{vm.location}'; a connection monitor in '{location}' can only "
                       "use sources in its own region.")
    if not vm.has_agent:
        raise ArmError(400, "NetworkWatcherVmExtensionNotInstalled", "Network Watcher VM "
                       f"extension is not installed, VM: id {rid}. Retry operation after "
                       "installing the extension.")


def _named(items: Any, field_name: str) -> dict[str, JSON]:
    if items is None:
        return {}
    if not isinstance(items, list):
        raise ArmError(400, "InvalidRequestFormat", f"properties.{field_name} must be a list.")
    out: dict[str, JSON] = {}
    for item in items:
        name = item.get("name") if isinstance(item, dict) else None
        if not isinstance(name, str) or not name:
            raise ArmError(400, "InvalidRequestFormat",
                           f"Every item of properties.{field_name} needs a name.")
        if name.lower() in {n.lower() for n in out}:
            raise ArmError(400, "InvalidRequestFormat",
                           f"properties.{field_name}: the name '{name}' is used twice.")
        out[name] = item
    return out


def _references(group: JSON, field_name: str, known: dict[str, JSON], group_name: str) -> list[str]:
    names = group.get(field_name)
    if not isinstance(names, list) or not names:
        raise ArmError(400, "InvalidRequestFormat",
                       f"Test group {group_name} needs at least one of {field_name}.")
    for name in names:
        if name not in known:
            raise ArmError(400, "InvalidRequestFormat", f"Test group {group_name} names "
                           f"{field_name[:-1]} '{name}', which the monitor does not define.")
    return [str(n) for n in names]


def _only(method: str, allowed: str) -> None:
    if method != allowed:
        raise ArmError(405, "MethodNotAllowed",
                       f"The requested method '{method}' is not allowed here; use {allowed}.")


def _api(api: str) -> str:
    return f"?{urlencode({'api-version': api})}" if api else ""


def _float(value: Any) -> float | None:
    return None if value is None else float(value)
