"""Connection Monitor's documented limits, checked on the bodies nwlab built, before any PUT.

Limits from Network Watcher's limits page (reference connection-monitor.md §3.1): 100 monitors per
subscription per region, 20 test groups, 100 sources + destinations (endpoints) and 20 test
configurations per monitor; test frequency 30-1800 s (the service's InvalidTestFrequency, §1.4).
The rest are the spec's shapes (§2): names unique, group references resolve, one endpoint per VM,
no address as a source, protocols Tcp/Http/Icmp, no v1 fields.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from nwlab.arm.errors import NwlabError

MONITORS_PER_REGION = 100
GROUPS_PER_MONITOR = 20
ENDPOINTS_PER_MONITOR = 100
CONFIGURATIONS_PER_MONITOR = 20
FREQUENCY_RANGE_S = (30, 1800)
PROTOCOLS = ("Tcp", "Http", "Icmp")
HTTP_METHODS = ("Get", "Post")
V1_FIELDS = ("source", "destination", "autoStart", "monitoringIntervalInSeconds")
# Source endpoints must carry an agent (an address source is MissingResourceIDInEndpoint, §1.4).
AGENT_TYPES = ("AzureVM", "AzureVMSS", "AzureArcVM", "AzureSubnet", "AzureVNet", "AzureArcNetwork",
               "MMAWorkspaceMachine", "MMAWorkspaceNetwork")
_STATUS_RANGE = re.compile(r"^(\d{3}|\dxx|\d{3}-\d{3})$")


class MonitorLimitError(NwlabError, ValueError):
    """A monitor nwlab would create breaks a documented Connection Monitor limit; nothing was sent.

    `limit` names it (e.g. "endpoints per monitor"), `value` is what was asked, `maximum` the limit.
    """

    def __init__(self, message: str, *, limit: str, value: Any = None, maximum: Any = None,
                 fix: str | None = None) -> None:
        super().__init__(message, fix=fix)
        self.limit = limit
        self.value = value
        self.maximum = maximum


def check_frequency(value: Any) -> int:
    """`testFrequencySec`: an integer 30..1800 (else the service answers InvalidTestFrequency)."""
    low, high = FREQUENCY_RANGE_S
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"frequency_s: expected whole seconds {low}-{high}, got "
                        f"{type(value).__name__} {value!r}; e.g. frequency_s=60")
    if not low <= value <= high:
        raise MonitorLimitError(
            f"frequency_s: {value} s is outside Connection Monitor's test frequency range "
            f"{low}-{high} s.", limit="test frequency", value=value, maximum=high,
            fix=f"Pass frequency_s between {low} and {high}, e.g. frequency_s=60 (the portal offers "
                "30, 60, 300, 900 and 1800).")
    return value


def check_region_count(region: str, existing: Iterable[str], adding: str) -> None:
    """At most 100 monitors per subscription per region; replacing one of the same name adds none."""
    names = {n.lower() for n in existing}
    total = len(names | {adding.lower()})
    if total > MONITORS_PER_REGION:
        raise MonitorLimitError(
            f"Region {region} already holds {len(names)} connection monitors in this subscription; "
            f"one more would exceed the limit of {MONITORS_PER_REGION} per subscription per region.",
            limit="monitors per subscription per region", value=total,
            maximum=MONITORS_PER_REGION,
            fix="Delete monitors you no longer need (nw.list_monitors() lists them), or add these "
                "checks to an existing monitor's checks and create it again under its name.")


def check_body(name: str, region: str, body: dict[str, Any]) -> None:
    """Every documented limit and shape rule on one ConnectionMonitor body; raise on the first."""
    props = body.get("properties") or {}
    where = f"Connection monitor {name!r} in {region}"
    for field in V1_FIELDS:
        if field in props:
            raise ValueError(f"{where}: the body carries the v1 field {field!r}; v2 monitors are "
                             "endpoints, testConfigurations, testGroups and outputs only")
    endpoints = list(props.get("endpoints") or [])
    configs = list(props.get("testConfigurations") or [])
    groups = list(props.get("testGroups") or [])
    split = "Split the checks into several monitors (e.g. one per group of sources or ports)."
    _count(where, "endpoints per monitor", "endpoints (sources + destinations)", len(endpoints),
           ENDPOINTS_PER_MONITOR, split)
    _count(where, "test configurations per monitor", "test configurations (distinct protocol, "
           "port and HTTP settings)", len(configs), CONFIGURATIONS_PER_MONITOR,
           "Use fewer distinct ports or protocols per monitor, or split the checks into several "
           "monitors.")
    _count(where, "test groups per monitor", "test groups (distinct source sets)", len(groups),
           GROUPS_PER_MONITOR, "Give more sources the same destinations and ports (a full mesh "
           "is one group), or split the checks into several monitors.")
    by_name = _unique(where, "endpoint", endpoints)
    config_names = set(_unique(where, "test configuration", configs))
    _unique(where, "test group", groups)
    vms: dict[str, str] = {}
    for endpoint in endpoints:
        rid = str(endpoint.get("resourceId") or "").lower()
        if rid:
            if rid in vms:
                raise ValueError(f"{where}: endpoints {vms[rid]!r} and {endpoint['name']!r} point at "
                                 "the same resource; Connection Monitor allows one endpoint per VM")
            vms[rid] = str(endpoint["name"])
    for config in configs:
        _check_config(where, config)
    for group in groups:
        for role in ("sources", "destinations", "testConfigurations"):
            names = group.get(role) or []
            if not names:
                raise ValueError(f"{where}: test group {group['name']!r} has no {role}")
            known = config_names if role == "testConfigurations" else set(by_name)
            missing = [n for n in names if n not in known]
            if missing:
                raise ValueError(f"{where}: test group {group['name']!r} names unknown {role} "
                                 f"{missing}")
        for source in group["sources"]:
            kind = by_name[source].get("type")
            if kind not in AGENT_TYPES or not by_name[source].get("resourceId"):
                raise ValueError(f"{where}: source {source!r} is {kind or 'an address'}, but a "
                                 "source must be a VM (or another agent resource); an address "
                                 "can only be a destination")


def _count(where: str, limit: str, what: str, value: int, maximum: int, fix: str) -> None:
    if value > maximum:
        raise MonitorLimitError(f"{where} would have {value} {what}; Connection Monitor allows "
                                f"{maximum} {limit}.", limit=limit, value=value, maximum=maximum,
                                fix=fix)


def _unique(where: str, what: str, items: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    by_name: dict[str, dict[str, Any]] = {}
    for item in items:
        name = item.get("name")
        if not isinstance(name, str) or not name:
            raise ValueError(f"{where}: a {what} has no name")
        if name in by_name:
            raise ValueError(f"{where}: two {what}s are named {name!r}; names must be unique")
        by_name[name] = item
    return by_name


def _check_config(where: str, config: dict[str, Any]) -> None:
    name = config["name"]
    protocol = config.get("protocol")
    if protocol not in PROTOCOLS:
        raise ValueError(f"{where}: test configuration {name!r} has protocol {protocol!r}; use one "
                         f"of {', '.join(PROTOCOLS)} (HTTPS is Http with port 443)")
    check_frequency(config.get("testFrequencySec"))
    settings = config.get("tcpConfiguration" if protocol == "Tcp" else "httpConfiguration") or {}
    if protocol != "Icmp":
        port = settings.get("port")
        if not isinstance(port, int) or isinstance(port, bool) or not 1 <= port <= 65535:
            raise ValueError(f"{where}: test configuration {name!r} needs a port 1-65535, got "
                             f"{port!r}; e.g. port=443")
    if protocol == "Http":
        method = settings.get("method", "Get")
        if method not in HTTP_METHODS:
            raise ValueError(f"{where}: test configuration {name!r} has HTTP method {method!r}; "
                             "use Get or Post")
        for code in settings.get("validStatusCodeRanges") or []:
            if not _STATUS_RANGE.match(str(code)):
                raise ValueError(f"{where}: test configuration {name!r} has the status range "
                                 f"{code!r}; write 200, 2xx or 301-304")
    threshold = config.get("successThreshold") or {}
    percent = threshold.get("checksFailedPercent")
    if percent is not None and not 0 <= percent <= 100:
        raise ValueError(f"{where}: checksFailedPercent {percent} is not a percentage 0-100")
    rtt = threshold.get("roundTripTimeMs")
    if rtt is not None and not rtt > 0:
        raise ValueError(f"{where}: roundTripTimeMs {rtt} must be more than 0")
