"""NetworkWatcher: the session object users hold. Inventory, pre-flight, check() and check_many()."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from nwlab.arm.errors import OperationFailed, OperationTimeout, PreflightError
from nwlab.arm.ids import normalize_region
from nwlab.arm.lro import Progress, run_operation
from nwlab.arm.session import ArmClient, Canceller, CancelScope, deadline_scope
from nwlab.checkspec import CheckSpec, build_check, check_callbacks

# Re-exported: these names were defined here before nwlab.inventory became their home.
from nwlab.inventory import AGENT_PUBLISHER as AGENT_PUBLISHER
from nwlab.inventory import AGENT_TYPES as AGENT_TYPES
from nwlab.inventory import VmStatus, read_vm_status, status_from_vm
from nwlab.inventory import has_agent as has_agent
from nwlab.inventory import power_state as power_state
from nwlab.inventory import text_or_empty as _text
from nwlab.model import Assumption, ConnectivityResult

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from nwlab.batch import BatchResult
    from nwlab.diagnostics import (
        EffectiveRoutes,
        EffectiveSecurityRules,
        IpFlowResult,
        NextHopResult,
        NsgDiagnosticResult,
    )
    from nwlab.diagnostics.analyzer import ConnectionAnalyzerResult
    from nwlab.diagnostics.diagnosis import Diagnosis
    from nwlab.monitor import Monitor

def _looks_like_result(body: Any) -> bool:
    """A ConnectivityInformation, flat or wrapped in "properties" (as model.from_dict reads it)."""
    if isinstance(body, dict) and isinstance(body.get("properties"), dict) and "hops" not in body:
        body = body["properties"]
    return isinstance(body, dict) and ("connectionStatus" in body or "hops" in body)


# The emulator's own endpoints live under a provider namespace Azure does not have.
TWIN_NAMESPACE = "nwlab.emulator"

# The least time one connectivity check is taken to need against Azure, for a batch's up-front
# estimate: reference network-watcher-api.md §6.1 (checks took 51 s and 2 min in recorded
# traces; plan for 30 s - 3 min). Replay answers at once.
AZURE_MIN_CHECK_S = 30.0


class NetworkWatcher:
    """A connection-troubleshoot session for one subscription, over any of the three backends."""

    def __init__(self, arm: ArmClient, *, poll_interval: float = 10.0, backend: str = "azure",
                 on_close: Callable[[], None] | None = None) -> None:
        if isinstance(poll_interval, bool) or not isinstance(poll_interval, int | float) \
                or poll_interval < 0:
            raise ValueError(f"poll_interval: expected seconds >= 0, got {poll_interval!r}; "
                             "e.g. poll_interval=10")
        self.arm = arm
        self.poll_interval = float(poll_interval)
        self.backend = backend
        # What check_many's estimate takes one check to need (nwlab.emulate sets its own).
        self.min_check_s = 0.0 if backend == "replay" else AZURE_MIN_CHECK_S
        self._on_close = on_close
        self._watchers: dict[str, str] | None = None
        self._lock = threading.Lock()
        self._cancel_all = CancelScope()
        # Set by nwlab.emulate(): the running emulator, for what-if helpers and tests, and the
        # function that starts one (fork() calls it; the watcher does not import the package).
        self.emulator: Any = None
        self.start_emulator: Callable[..., NetworkWatcher] | None = None

    def __repr__(self) -> str:
        return (f"<NetworkWatcher backend={self.backend} endpoint={self.arm.endpoint} "
                f"subscription={self.subscription_id}>")

    @property
    def subscription_id(self) -> str:
        return self.arm.subscription_id

    def close(self) -> None:
        """Drop the connections (and stop the emulator this client started); any later call
        raises ClientClosed."""
        self.arm.close()
        if self._on_close is not None:
            self._on_close()
            self._on_close = None

    def __enter__(self) -> NetworkWatcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def cancel(self) -> None:
        """Stop every check in flight on this client (from any thread); later checks run as usual.

        Checks in flight hold the event they started with; a fresh one serves the checks to come.
        """
        stopping, self._cancel_all = self._cancel_all, CancelScope()
        stopping.set()

    @property
    def assumptions(self) -> list[Assumption]:
        """Every assumption of the emulated network as it is now (what the emulator does not
        model, or Azure does not document), read from the emulator's extension endpoint
        (README, "What the twin assumes"); [] for Azure and replay, which assume nothing."""
        if self.backend != "emulator":
            return []
        path = f"/subscriptions/{self.subscription_id}/providers/{TWIN_NAMESPACE}/assumptions"
        return [Assumption.from_dict(item) for item in self.arm.list(path)]

    # -- inventory -------------------------------------------------------------------------

    @contextlib.contextmanager
    def _bounded(self, timeout: Any, cancel: Any) -> Iterator[None]:
        """Every request inside (each list page too) ends by `timeout` seconds and stops on
        `cancel` (anything with is_set()) or this client's cancel(); inside a check's pre-flight
        the check's own timeout and Stop apply as well."""
        self.arm.require_open()
        if timeout is not None and (isinstance(timeout, bool)
                                    or not isinstance(timeout, int | float)
                                    or not 0 < timeout < 10**7):
            raise ValueError(f"timeout: expected seconds > 0, got {timeout!r}; e.g. timeout=60")
        if cancel is not None and not callable(getattr(cancel, "is_set", None)):
            raise TypeError("cancel: expected a threading.Event (anything with is_set()), got "
                            f"{type(cancel).__name__}")
        own = threading.Event()
        scope = self._cancel_all
        scope.attach(own)
        try:
            stop = own if cancel is None else Canceller(cancel, own)
            deadline = None if timeout is None else time.monotonic() + float(timeout)
            with deadline_scope(deadline, stop):
                yield
        finally:
            scope.detach(own)

    def list_subscriptions(self, *, timeout: float | None = None,
                           cancel: Any = None) -> list[dict[str, Any]]:
        with self._bounded(timeout, cancel):
            return [{"subscription_id": s.get("subscriptionId"), "name": s.get("displayName"),
                     "state": s.get("state")} for s in self.arm.list("/subscriptions")]

    def list_resource_groups(self, *, timeout: float | None = None,
                             cancel: Any = None) -> list[str]:
        path = f"/subscriptions/{self.subscription_id}/resourcegroups"
        with self._bounded(timeout, cancel):
            names = [_text(g.get("name")) for g in self.arm.list(path)]
        return sorted((name for name in names if name), key=str.lower)

    def list_vms(self, resource_group: str | None = None, *, timeout: float | None = None,
                 cancel: Any = None) -> pd.DataFrame:
        """One row per VM with its region, power state and whether the agent is installed."""
        import pandas as pd

        if resource_group is not None and not isinstance(resource_group, str):
            raise TypeError("resource_group: expected a resource group name; e.g. 'ContosoRG'")
        scope = f"/subscriptions/{self.subscription_id}"
        if resource_group:
            scope += f"/resourceGroups/{resource_group}"
        rows = []
        with self._bounded(timeout, cancel):
            for vm in self.arm.list(f"{scope}/providers/Microsoft.Compute/virtualMachines"):
                status = status_from_vm(self.arm, vm)
                rows.append({"name": status.name, "resource_group": status.resource_group,
                             "location": status.location, "power_state": status.power_state,
                             "agent": status.agent, "os_type": status.os_type, "id": status.id})
        columns = ["name", "resource_group", "location", "power_state", "agent", "os_type", "id"]
        frame = pd.DataFrame(rows, columns=columns)
        return frame.sort_values(["resource_group", "name"], key=lambda s: s.str.lower(),
                                 ignore_index=True) if rows else frame

    def get_vm(self, vm: str, resource_group: str | None = None, *,
               timeout: float | None = None, cancel: Any = None) -> dict[str, Any]:
        """A VM as ARM returns it, by name (with resource_group) or by resource id."""
        from nwlab.checkspec import build_source

        path = build_source(self.subscription_id, vm, resource_group)
        with self._bounded(timeout, cancel):
            return self.arm.get_object(path)

    def vm_status(self, vm_id: str) -> VmStatus:
        """GET the VM (region), its instance view (power state) and its extensions (agent)."""
        return read_vm_status(self.arm, vm_id)

    def list_watchers(self, *, timeout: float | None = None,
                      cancel: Any = None) -> dict[str, str]:
        """Region (normalised) -> Network Watcher id, from one subscription-wide list, cached."""
        with self._bounded(timeout, cancel), self._lock:
            if self._watchers is None:
                found: dict[str, str] = {}
                path = f"/subscriptions/{self.subscription_id}/providers/Microsoft.Network/networkWatchers"
                for watcher in self.arm.list(path):
                    watcher_id = _text(watcher.get("id"))
                    if not watcher_id:
                        continue  # a watcher without an id cannot run a check
                    # Any other id is kept as sent: one naming another origin ends at the
                    # client's origin gate (ForeignOriginError), one that names no watcher at
                    # ARM's 404.
                    region = normalize_region(_text(watcher.get("location")))
                    found.setdefault(region, watcher_id)  # az takes the first match
                self._watchers = found
            return dict(self._watchers)

    def find_watcher(self, region: str) -> str:
        """The watcher of `region` the way az finds it: list all, match the region loosely."""
        watcher = self.list_watchers().get(normalize_region(region))
        if watcher is None:
            raise PreflightError(
                f"Network Watcher is not enabled for region {region}.",
                fix=f"Enable it: az network watcher configure -g NetworkWatcherRG -l {region} "
                    "--enabled true (or pass watcher=<id> if it lives elsewhere).")
        return watcher

    def preflight(self, spec: CheckSpec) -> str:
        """Check the source VM and find its watcher; return the watcher id or raise PreflightError."""
        status = self.vm_status(spec.source_id)
        if not status.running:
            raise PreflightError(
                f"Source VM {status.name} is {status.power_state}; connection troubleshoot needs the "
                "source VM running.",
                fix=f"Start it: az vm start -g {status.resource_group} -n {status.name}")
        if not status.agent:
            agent = "NetworkWatcherAgentLinux" if (status.os_type or "").lower() == "linux" \
                else "NetworkWatcherAgentWindows"
            raise PreflightError(
                f"Source VM {status.name} has no Network Watcher agent extension.",
                fix=f"Install it: az vm extension set -g {status.resource_group} --vm-name "
                    f"{status.name} --publisher Microsoft.Azure.NetworkWatcher --name {agent}")
        return self.find_watcher(status.location)

    def recorded_checks(self) -> list[dict[str, Any]] | None:
        """What a replay client can answer: each recorded check as `check()` keyword arguments.
        None when the backend answers any check (Azure, the emulator)."""
        adapter = self.arm.session.get_adapter(self.arm.endpoint)
        recorded = getattr(adapter, "recorded_checks", None)
        return recorded() if callable(recorded) else None

    # -- checks ----------------------------------------------------------------------------

    def check(self, source: Any, destination: Any, port: Any = None, *, protocol: Any = None,
              resource_group: Any = None, source_port: Any = None, http: Any = None,
              ip_version: Any = None, watcher: Any = None, timeout: Any = 600,
              on_progress: Callable[[Progress], None] | None = None,
              cancel: Any = None) -> ConnectivityResult:
        """Run one connection-troubleshoot check and return its typed result.

        Bad input raises ValueError/TypeError before any request; pre-flight problems raise
        PreflightError; ARM failures raise ArmError subclasses; `cancel` (a threading.Event)
        stops it with CheckCancelled.
        """
        spec = build_check(self.subscription_id, source, destination, port, protocol=protocol,
                           resource_group=resource_group, source_port=source_port, http=http,
                           ip_version=ip_version, watcher=watcher, timeout=timeout)
        return self.run_spec(spec, on_progress=on_progress, cancel=cancel)

    def run_spec(self, spec: CheckSpec, *, on_progress: Callable[[Progress], None] | None = None,
                 cancel: Any = None, watcher_for: Callable[[CheckSpec], str] | None = None
                 ) -> ConnectivityResult:
        """Run a validated check (check_many shares this path, passing its own watcher lookup)."""
        self.arm.require_open()
        check_callbacks(on_progress, cancel)  # a TypeError naming the argument, before any request

        # The check waits on one Event of its own, set by this client's cancel() or by the
        # batch's scope; a user's own Event (a Stop button) is watched beside it.
        own = threading.Event()
        scopes = [self._cancel_all, *([cancel] if isinstance(cancel, CancelScope) else [])]
        for scope in scopes:
            scope.attach(own)
        try:
            stop = own if cancel is None or isinstance(cancel, CancelScope) \
                else Canceller(cancel, own)
            return self._run(spec, stop, on_progress, watcher_for)
        finally:
            for scope in scopes:
                scope.detach(own)

    def _run(self, spec: CheckSpec, stop: Any, on_progress: Callable[[Progress], None] | None,
             watcher_for: Callable[[CheckSpec], str] | None) -> ConnectivityResult:
        started = time.monotonic()
        deadline = started + spec.timeout
        with deadline_scope(deadline, stop):  # `timeout` and Stop bound the pre-flight reads too
            watcher_id = spec.watcher or (watcher_for or self.preflight)(spec)
        remaining = deadline - time.monotonic()
        if remaining <= 0:  # do not start a check nobody will wait for
            raise OperationTimeout(f"The check did not start within {spec.timeout:g} s "
                                   "(pre-flight took all of it); nothing was sent.")
        op = run_operation(self.arm, f"{watcher_id}/connectivityCheck", spec.body(),
                           poll_interval=self.poll_interval, timeout=remaining,
                           on_progress=on_progress, cancel=stop)
        if op.status == 204 or op.body is None or not _looks_like_result(op.body):
            # A failed operation (typed like the others), not a bare NwlabError, and never some
            # other JSON (e.g. from a Location cut short in transit) read as an Unknown result.
            empty = op.status == 204 or op.body is None
            raise OperationFailed(
                "The check finished without a result (empty answer from the service)." if empty
                else "The check's answer is not a connectivity result (no connectionStatus or "
                     "hops).",
                status=op.status, code="EmptyResult" if empty else "InvalidResult",
                request_id=op.request_id, correlation_id=op.correlation_id, method="GET",
                url=op.poll_url,
                fix=f"Run it again; report the request id {op.request_id} to Azure support if "
                    "it repeats.")
        meta = {"source": spec.source_id, "destination": spec.destination.value,
                "destination_kind": spec.destination.kind, "port": spec.port,
                "protocol": spec.protocol, "watcher": watcher_id, "request_id": op.request_id,
                "correlation_id": op.correlation_id, "polls": op.polls,
                "elapsed_s": round(time.monotonic() - started, 3), "backend": self.backend,
                # When the answer came (UTC), so that a report can say when its checks ran.
                "checked_at": time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime())}
        try:
            return ConnectivityResult.from_dict(op.body, meta=meta)
        except (ValueError, TypeError, AttributeError, KeyError, IndexError, OverflowError,
                RecursionError) as exc:
            # The model documents ValueError for what it cannot read; the rest are a safety net:
            # whatever the service answered, check() ends as a result or a typed error.
            raise OperationFailed(
                f"The check's answer could not be read as a connectivity result "
                f"({type(exc).__name__}: {' '.join(str(exc).split())[:200]}).",
                status=op.status, code="InvalidResult", request_id=op.request_id,
                correlation_id=op.correlation_id, method="GET", url=op.poll_url,
                fix=f"Run it again; report the request id {op.request_id} to Azure support if "
                    "it repeats.") from exc

    def check_many(self, checks: Any, *, concurrency: int | None = None,
                   write_rate: float | None = None,
                   on_progress: Callable[[Any], None] | None = None,
                   cancel: Any = None) -> BatchResult:
        """Run many checks concurrently within a write budget; every check ends as a result or an error.

        `write_rate=None` (the default) spends this client's adaptive write budget (Azure
        Network's 1,000 writes per 5 minutes, adapted to ARM's remaining-writes count and 429s);
        a number of writes per second is a fixed budget; math.inf none (see run_batch)."""
        from nwlab.batch import run_batch

        self.arm.require_open()
        return run_batch(self, checks, concurrency=concurrency, write_rate=write_rate,
                         on_progress=on_progress, cancel=cancel)

    # -- what-if helpers (plain ARM writes, the same calls a user makes against Azure) -------

    def set_security_rule(self, nsg_id: str, name: str, **properties: Any) -> dict[str, Any]:
        """PUT a security rule into an NSG; properties as ARM names them (priority, access, ...)."""
        response = self.arm.request("PUT", f"{nsg_id}/securityRules/{name}",
                                    json={"properties": properties})
        return dict(response.json())

    def delete_security_rule(self, nsg_id: str, name: str) -> None:
        self.arm.request("DELETE", f"{nsg_id}/securityRules/{name}")

    def set_route(self, route_table_id: str, name: str, **properties: Any) -> dict[str, Any]:
        response = self.arm.request("PUT", f"{route_table_id}/routes/{name}",
                                    json={"properties": properties})
        return dict(response.json())

    def delete_route(self, route_table_id: str, name: str) -> None:
        self.arm.request("DELETE", f"{route_table_id}/routes/{name}")

    @contextlib.contextmanager
    def record(self, path: Any, *, note: str = "") -> Iterator[Any]:
        """Record every exchange inside the block into a cassette at `path` (scrubbed: no
        Authorization header, no token, subscription and tenant ids zeroed), for nwlab.replay()."""
        from nwlab.recording import recording

        with recording(self.arm.session, path, note=note) as cassette:
            yield cassette

    def snapshot(self, resource_group: str | None = None, path: Any = None, *,
                 subscriptions: list[str] | None = None, management_group: str | None = None,
                 via: str = "auto", keep_subscription: bool = False,
                 progress: Any = True) -> dict[str, Any]:
        """Read the network in scope and return (and optionally write) it as an emulator topology.

        via="arm": ARM GETs of one resource group (or this subscription); "resource-graph": Azure
        Resource Graph over `subscriptions` or `management_group` (default: this subscription);
        "auto": ARM for a resource group or no scope, Resource Graph for an estate.
        """
        if via not in ("auto", "arm", "resource-graph"):
            raise ValueError(f"via: expected 'auto', 'arm' or 'resource-graph', got {via!r}")
        estate = subscriptions is not None or management_group is not None
        if estate and resource_group is not None:
            raise ValueError("resource_group= reads one group over ARM; subscriptions= / "
                             "management_group= read an estate through Resource Graph: pass one")
        if via == "arm" and estate:
            raise ValueError("via='arm' reads one subscription or resource group; for "
                             "subscriptions= / management_group= use via='resource-graph'")
        if via == "resource-graph" and resource_group is not None:
            raise ValueError("via='resource-graph' reads subscriptions or a management group; "
                             "for one resource group use via='arm' (or 'auto')")
        if via == "resource-graph" or (via == "auto" and estate):
            from nwlab.snapshot_graph import take_graph_snapshot

            return take_graph_snapshot(self.arm, path=path, subscriptions=subscriptions,
                                       management_group=management_group,
                                       keep_subscription=keep_subscription, progress=progress)
        from nwlab.snapshot import take_snapshot

        return take_snapshot(self.arm, resource_group=resource_group, path=path,
                             keep_subscription=keep_subscription)

    # -- the other diagnostics (request building and calling live in nwlab.diagnostics) -------

    def ip_flow_verify(self, vm: Any, direction: Any, protocol: Any, local_port: Any,
                       remote_ip: Any, remote_port: Any, *, local_ip: Any = None, nic: Any = None,
                       resource_group: Any = None) -> IpFlowResult:
        """Would the VM's NSGs allow this flow (TCP/UDP, one port each side), and by which rule?
        `local_ip` defaults to the NIC's primary address, `nic` to the VM's primary NIC."""
        from nwlab.diagnostics import operations

        return operations.ip_flow_verify(self, vm, direction, protocol, local_port, remote_ip,
                                         remote_port, local_ip=local_ip, nic=nic,
                                         resource_group=resource_group)

    def next_hop(self, vm: Any, destination_ip: Any, *, source_ip: Any = None, nic: Any = None,
                 resource_group: Any = None) -> NextHopResult:
        """The next hop the VM's routes pick for `destination_ip`, and the route table that did."""
        from nwlab.diagnostics import operations

        return operations.next_hop(self, vm, destination_ip, source_ip=source_ip, nic=nic,
                                   resource_group=resource_group)

    def nsg_diagnostic(self, target: Any, *, direction: Any, protocol: Any, source: Any,
                       destination: Any, destination_port: Any) -> NsgDiagnosticResult:
        """Every NSG layer (admin rules included) evaluated for one traffic profile at `target`
        (a VM, NIC, scale-set NIC or application gateway id)."""
        from nwlab.diagnostics import operations

        return operations.nsg_diagnostic(self, target, direction=direction, protocol=protocol,
                                         source=source, destination=destination,
                                         destination_port=destination_port)

    def effective_routes(self, vm_or_nic: Any, *, resource_group: Any = None) -> EffectiveRoutes:
        """The routes a NIC (a VM's primary NIC) forwards with."""
        from nwlab.diagnostics import operations

        return operations.effective_routes(self, vm_or_nic, resource_group=resource_group)

    def effective_security_rules(self, vm_or_nic: Any, *, resource_group: Any = None
                                 ) -> EffectiveSecurityRules:
        """Every NSG that applies to a NIC (a VM's primary NIC), rules with tags expanded."""
        from nwlab.diagnostics import operations

        return operations.effective_security_rules(self, vm_or_nic,
                                                   resource_group=resource_group)

    def analyze_connection(self, source: Any, destination: Any, port: Any = None, *,
                           protocol: Any = "Tcp", operations: Any = None,
                           resource_group: Any = None) -> ConnectionAnalyzerResult:
        """Next hop, NSG, port scan and connectivity tests as one connectionAnalyzers run
        (api-version 2026-01-01). Raises AnalyzerUnsupported where the service does not offer
        it: run the tests one by one instead."""
        from nwlab.diagnostics.analyzer_run import analyze_connection

        return analyze_connection(self, source, destination, port, protocol=protocol,
                                  operations=operations, resource_group=resource_group)

    # -- one diagnosis, and a twin's forks -----------------------------------------------------
    def diagnose(self, source: Any, destination: Any, port: Any = None, *, protocol: Any = None,
                 resource_group: Any = None, twin: Any = None, timeout: Any = 600,
                 analyzer: Any = None) -> Diagnosis:
        """The connectivity check and, concurrently, the tests that explain it, as one answer:
        verdict, path, the blocking rule or route with the resource that holds it, fixes. With
        twin= (an emulator client), every test also runs on the twin and is reconciled.
        analyzer: None uses the connectionAnalyzers bundle where the service offers it (a PUT
        and a DELETE), False the separate calls only, True the bundle or an error (d.via)."""
        from nwlab.diagnostics.diagnosis import diagnose

        return diagnose(self, source, destination, port, protocol=protocol,
                        resource_group=resource_group, twin=twin, timeout=timeout,
                        analyzer=analyzer)

    def fork(self) -> NetworkWatcher:
        """An independent copy of this emulator client's twin: a new emulator over the twin's
        topology as it is now, with the same timing. Cheap: the loaded topology is immutable,
        so the fork starts from a copy of its document, not from a file."""
        if self.emulator is None or self.start_emulator is None:
            raise TypeError("fork(): only an emulator client has a twin to fork "
                            "(nwlab.emulate(...)); Azure itself is never copied")
        app = self.emulator.app
        return self.start_emulator(self.emulator.topology, check_seconds=app.check_seconds,
                             retry_after=app.retry_after, probes=app.probes,
                             write_rate=self.emulator.write_rate)

    # -- continuous monitoring (Connection Monitor) ------------------------------------------

    # Where Log Analytics queries go when the ARM endpoint is not a cloud's own (an emulator, a
    # stand-in); None means the cloud's Log Analytics origin (nwlab.monitor.logs.ORIGINS).
    log_analytics_endpoint: str | None = None

    def monitor(self, checks_or_batch: Any, name: Any, *, workspace: Any = None,
                frequency_s: Any = 60, thresholds: Any = None) -> Monitor:
        """Promote checks (check() dicts, or a BatchResult) to Azure Connection Monitor: one
        resource per source region, validated against the documented limits, then PUT."""
        from nwlab.monitor import create_monitor

        return create_monitor(self, checks_or_batch, name, workspace=workspace,
                              frequency_s=frequency_s, thresholds=thresholds)

    def list_monitors(self) -> pd.DataFrame:
        """Every connection monitor of the subscription (all regions, all pages)."""
        from nwlab.monitor import list_monitors

        return list_monitors(self)
