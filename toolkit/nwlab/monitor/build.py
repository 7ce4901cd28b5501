"""Checks -> Connection Monitor v2 bodies: one per source region, as the service requires
(sources must be in the monitor's region, reference connection-monitor.md §2.7).

Mapping (§6.1): one AzureVM endpoint per VM (a VM that is source and destination is one endpoint),
one ExternalAddress endpoint per address or host; one test configuration per distinct protocol,
port and HTTP settings; test groups that cover exactly the requested (source, destination,
configuration) triples, so no unwanted pair is probed. Names are derived from the checks alone,
so the same checks always give the same body, and results join back to them by name.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from nwlab.arm.ids import parse_resource_id
from nwlab.checkspec import CheckSpec
from nwlab.monitor.spec import Thresholds


@dataclass(frozen=True)
class MonitorTest:
    """One test of a monitor: a source, a destination and a configuration in a group.

    `group`, `source`, `destination`, `configuration` are the names Azure reports back as
    TestGroupName, SourceName, DestinationName and TestConfigurationName; the rest says which
    check it came from (source VM id, destination as checked, nwlab protocol and port).
    """

    monitor: str
    region: str
    group: str
    source: str
    destination: str
    configuration: str
    source_id: str = ""
    destination_value: str = ""
    protocol: str = ""
    port: int | None = None
    frequency_s: int = 60

    @property
    def key(self) -> tuple[str, str, str, str]:
        return (self.group, self.source, self.destination, self.configuration)

    @property
    def identity(self) -> tuple[str, str, str, int | None]:
        """What the check was, independent of names: to match an ad-hoc batch's entries."""
        return (self.source_id.lower(), self.destination_value.lower(), self.protocol, self.port)


@dataclass
class MonitorPlan:
    """The body of one Connection Monitor resource (one region) and the tests it creates."""

    name: str
    region: str
    watcher_id: str
    body: dict[str, Any]
    tests: list[MonitorTest] = field(default_factory=list)

    @property
    def id(self) -> str:
        return f"{self.watcher_id}/connectionMonitors/{self.name}"


@dataclass(frozen=True)
class _Config:
    name: str
    body: dict[str, Any]
    protocol: str  # nwlab's word: Tcp, Http, Https, Icmp
    port: int | None
    frequency_s: int


def check_identity(spec: CheckSpec) -> tuple[str, str, str, int | None]:
    """The identity (as MonitorTest.identity) of a check."""
    protocol, port, _ = _protocol_port(spec)
    return (spec.source_id.lower(), _destination_value(spec).lower(), protocol, port)


def build_plans(name: str, specs: list[CheckSpec], regions: dict[str, str],
                watchers: dict[str, str], *, workspace: str | None, frequency_s: int,
                thresholds: Thresholds | None) -> list[MonitorPlan]:
    """One plan per source region. `regions` maps each source VM id (lower case) to its region,
    `watchers` each region to its Network Watcher id."""
    by_region: dict[str, list[CheckSpec]] = defaultdict(list)
    for spec in specs:
        by_region[regions[spec.source_id.lower()]].append(spec)
    return [_plan(name, region, watchers[region], by_region[region], workspace=workspace,
                  frequency_s=frequency_s, thresholds=thresholds)
            for region in sorted(by_region)]


def _plan(name: str, region: str, watcher_id: str, specs: list[CheckSpec], *,
          workspace: str | None, frequency_s: int, thresholds: Thresholds | None) -> MonitorPlan:
    endpoints = _endpoints(specs)
    configs: dict[str, _Config] = {}
    triples: set[tuple[str, str, str]] = set()
    for spec in specs:
        config = _config(spec, frequency_s, thresholds)
        configs.setdefault(config.name, config)
        triples.add((endpoints[_source_key(spec)]["name"], endpoints[_dest_key(spec)]["name"],
                     config.name))
    groups = _groups(triples)
    tests = []
    names = {e["name"]: key for key, e in endpoints.items()}
    for group in groups:
        for source in group["sources"]:
            for destination in group["destinations"]:
                for config_name in group["testConfigurations"]:
                    config = configs[config_name]
                    target = endpoints[names[destination]]
                    tests.append(MonitorTest(
                        monitor=name, region=region, group=group["name"], source=source,
                        destination=destination, configuration=config_name,
                        source_id=endpoints[names[source]]["resourceId"],
                        destination_value=target.get("resourceId") or target["address"],
                        protocol=config.protocol, port=config.port,
                        frequency_s=config.frequency_s))
    outputs = [] if workspace is None else [
        {"type": "Workspace", "workspaceSettings": {"workspaceResourceId": workspace}}]
    sources = {t.source for t in tests}
    notes = (f"Created by nwlab: {len(tests)} tests from {len(sources)} source VMs in {region}.")
    body = {"location": region, "tags": {"createdBy": "nwlab"},
            "properties": {"endpoints": sorted(endpoints.values(), key=lambda e: e["name"]),
                           "testConfigurations": [configs[n].body for n in sorted(configs)],
                           "testGroups": groups, "outputs": outputs, "notes": notes}}
    return MonitorPlan(name=name, region=region, watcher_id=watcher_id, body=body,
                       tests=sorted(tests, key=lambda t: t.key))


def _source_key(spec: CheckSpec) -> tuple[str, str]:
    return ("vm", spec.source_id.lower())


def _dest_key(spec: CheckSpec) -> tuple[str, str]:
    if spec.destination.kind == "vm":
        return ("vm", spec.destination.value.lower())
    return ("address", _destination_value(spec).lower())


def _destination_value(spec: CheckSpec) -> str:
    """The VM id, or the address the agent probes (a URL's host: its path goes in the config)."""
    if spec.destination.kind == "url":
        return urlsplit(spec.destination.value).hostname or spec.destination.value
    return spec.destination.value


def _endpoints(specs: list[CheckSpec]) -> dict[tuple[str, str], dict[str, Any]]:
    """One endpoint per VM and per address, named by the VM's name or the address itself;
    two VMs of one name (in different groups) get a short suffix from their ids."""
    wanted: dict[tuple[str, str], dict[str, Any]] = {}
    for spec in specs:
        for key, value in ((_source_key(spec), spec.source_id), (_dest_key(spec), None)):
            if key in wanted:
                continue
            if key[0] == "vm":
                vm = value or spec.destination.value
                rid = parse_resource_id(vm)
                wanted[key] = {"name": rid.name if rid else vm, "type": "AzureVM", "resourceId": vm}
            else:
                address = _destination_value(spec)
                wanted[key] = {"name": address, "type": "ExternalAddress", "address": address}
    counts: dict[str, int] = defaultdict(int)
    for endpoint in wanted.values():
        counts[endpoint["name"].lower()] += 1
    for key, endpoint in wanted.items():
        if counts[endpoint["name"].lower()] > 1:
            endpoint["name"] = f"{endpoint['name']}-{_digest(key[1])}"
    return wanted


def _protocol_port(spec: CheckSpec) -> tuple[str, int | None, str | None]:
    """nwlab's protocol word, the port, and (for a URL) the path with its query."""
    dest = spec.destination
    if dest.kind == "url":
        parts = urlsplit(dest.value)
        protocol = spec.protocol or ("Https" if parts.scheme.lower() == "https" else "Http")
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        return protocol, spec.port or dest.url_port, path
    protocol = spec.protocol or "Tcp"
    return protocol, None if protocol == "Icmp" else spec.port, None


def _config(spec: CheckSpec, frequency_s: int, thresholds: Thresholds | None) -> _Config:
    protocol, port, path = _protocol_port(spec)
    body: dict[str, Any] = {"protocol": "Http" if protocol == "Https" else protocol,
                            "testFrequencySec": frequency_s}
    name = protocol.lower() if port is None else f"{protocol.lower()}-{port}"
    if protocol == "Tcp":
        body["tcpConfiguration"] = {"port": port, "disableTraceRoute": False}
    elif protocol == "Icmp":
        body["icmpConfiguration"] = {"disableTraceRoute": False}
    else:
        http: dict[str, Any] = {"port": port, "method": "Get",
                                "preferHTTPS": protocol == "Https"}
        options = spec.http or {}
        if path not in (None, "/"):
            http["path"] = path
        if options.get("headers"):
            http["requestHeaders"] = options["headers"]
        if options.get("validStatusCodes"):
            http["validStatusCodeRanges"] = [str(c) for c in options["validStatusCodes"]]
        extras = {k: v for k, v in http.items() if k in ("path", "requestHeaders",
                                                          "validStatusCodeRanges")}
        if extras:  # two HTTP tests on one port with different settings are two configurations
            name += f"-{_digest(json.dumps(extras, sort_keys=True))}"
        body["httpConfiguration"] = http
    if spec.ip_version is not None:
        body["preferredIPVersion"] = spec.ip_version
        name += f"-{spec.ip_version.lower()}"
    if thresholds is not None:
        body["successThreshold"] = thresholds.to_body()
    body = {"name": name, **body}
    return _Config(name, body, protocol, port, frequency_s)


def _groups(triples: set[tuple[str, str, str]]) -> list[dict[str, Any]]:
    """Groups covering exactly `triples` (reference §6.1 step 4): per configuration, sources with
    the same destination set share a group; groups with the same sources and destinations then
    share their configuration lists."""
    per_config: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    for source, destination, config in triples:
        per_config[config][source].add(destination)
    merged: dict[tuple[tuple[str, ...], tuple[str, ...]], list[str]] = defaultdict(list)
    for config in sorted(per_config):
        by_destinations: dict[tuple[str, ...], list[str]] = defaultdict(list)
        for source, reached in per_config[config].items():
            by_destinations[tuple(sorted(reached))].append(source)
        for reached_set, sharing in by_destinations.items():
            merged[(tuple(sorted(sharing)), reached_set)].append(config)
    groups = []
    for number, ((members, targets), names) in enumerate(sorted(merged.items()), start=1):
        groups.append({"name": f"group-{number}", "disable": False, "sources": list(members),
                       "destinations": list(targets), "testConfigurations": sorted(names)})
    return groups


def _digest(text: str) -> str:
    return hashlib.sha1(text.lower().encode("utf-8"), usedforsecurity=False).hexdigest()[:6]
