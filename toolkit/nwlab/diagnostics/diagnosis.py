"""One diagnosis: the connectivity check and, concurrently, the tests that explain it (NSG
diagnostic and IP flow verify at each end, next hop and effective routes at the source, next hop
at the dropping hop when it is another VM), read into findings that name the resource holding the
blocking rule or route, and the fixes for them.

    d = nw.diagnose("MultiTierApp0", "Database0", 1433, resource_group="ContosoRG")
    d.verdict, d.findings, d.fixes, d.frame(); print(d)

Where the service offers the 2026-01-01 connectionAnalyzers bundle (asked once per client, by
a List read), the check, the source's next hop and its NSG diagnostic run as that one resource
and are read into the same tests (nwlab.diagnostics.bundle); elsewhere, or when its answer cannot
be read, the separate calls run. `d.via` says which, `d.via_reason` why. The bundle is a PUT and
a DELETE (writes); analyzer=False keeps to the separate calls, analyzer=True insists on the
bundle (its failures raise). With twin=, every test runs on the twin too (separate calls) and is
reconciled (nwlab.diagnostics.reconcile).
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import ipaddress
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Protocol

from nwlab.arm.admin_rules import effective_admin_rules
from nwlab.arm.errors import NwlabError
from nwlab.checkspec import CheckSpec, build_check
from nwlab.diagnostics import bundle, operations
from nwlab.diagnostics.admin_fixes import admin_rule_fixes
from nwlab.diagnostics.fixes import (
    BlockingRoute,
    Fix,
    Flow,
    combine,
    fixes_frame,
    nsg_fixes,
    route_fixes,
)
from nwlab.diagnostics.flow import IpFlowResult, NextHopResult, split_rule_name
from nwlab.diagnostics.nsg import NsgDiagnosticResult
from nwlab.diagnostics.outcome import GUEST_ISSUES, outcome
from nwlab.diagnostics.render import table_frame, table_html, table_text
from nwlab.diagnostics.routes import EffectiveRoutes

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from nwlab.diagnostics.reconcile import Reconciliation
    from nwlab.model import ConnectivityResult

__all__ = ["Diagnosis", "Finding", "diagnose"]

# Issues Azure reports when the packet reached the destination NIC and the guest did not answer.


class Client(operations.Client, Protocol):
    """What diagnose() needs of a NetworkWatcher: the operations' needs and the check."""

    def run_spec(self, spec: CheckSpec) -> ConnectivityResult: ...

    def ip_flow_verify(self, vm: Any, direction: Any, protocol: Any, local_port: Any,
                       remote_ip: Any, remote_port: Any) -> IpFlowResult: ...

    def next_hop(self, vm: Any, destination_ip: Any, *, source_ip: Any = None,
                 nic: Any = None) -> NextHopResult: ...

    def nsg_diagnostic(self, target: Any, *, direction: Any, protocol: Any, source: Any,
                       destination: Any, destination_port: Any) -> NsgDiagnosticResult: ...

    def effective_routes(self, vm_or_nic: Any) -> Any: ...

    def effective_security_rules(self, vm_or_nic: Any) -> Any: ...


@dataclass(frozen=True)
class Finding:
    """One reason the check came out as it did, with the resource that holds it."""

    kind: str  # nsg-rule, admin-rule, route, guest-or-application, beyond-estate, dns,
    # unreachable, reachable, twin-assumption
    test: str  # the test that shows it (a key of Diagnosis.tests)
    text: str
    resource_id: str | None = None  # the NSG or route table (None when no Azure resource holds it)
    rule: str | None = None  # the rule or route name
    priority: int | None = None
    fields: dict[str, Any] = field(default_factory=dict)  # the rule's own properties


@dataclass
class Diagnosis:
    """Every test's result for one question, the findings they support, and the fixes."""

    source: str
    destination: str
    port: int | None
    protocol: str
    connectivity: ConnectivityResult
    tests: dict[str, Any]  # name -> typed result, or the NwlabError the test failed with
    findings: list[Finding]
    fixes: list[Fix]
    flow: Flow | None = None
    spec: CheckSpec | None = None
    elapsed_s: float = 0.0
    twin: dict[str, Any] | None = None  # the same tests on the twin (name -> result)
    reconciliation: list[Reconciliation] = field(default_factory=list)
    via: str = bundle.VIA_SEPARATE  # how the tests ran: "connectionAnalyzers" or "separate calls"
    via_reason: str | None = None  # why that path (e.g. the service's refusal of the bundle)

    @property
    def verdict(self) -> str:
        return "reachable" if self.connectivity.reachable else "not reachable"

    @property
    def path(self) -> list[str]:
        return [f"{h.type} {h.address}".strip() for h in self.connectivity.hops]

    def summary(self) -> str:
        port = f":{self.port}" if self.port is not None else ""
        return (f"{self.source} -> {self.destination}{port} ({self.protocol}): {self.verdict} "
                f"({self.connectivity.status}); path: {' -> '.join(self.path) or '-'}")

    def rows(self) -> list[dict[str, Any]]:
        """One row per test: its verdict in a word and what it names."""
        out = []
        for name, result in self.tests.items():
            if isinstance(result, NwlabError):
                out.append({"test": name, "outcome": "failed", "detail": str(result)})
                continue
            summary = result.summary() if hasattr(result, "summary") else str(result)
            out.append({"test": name, "outcome": outcome(result), "detail": summary})
        for rec in self.reconciliation:
            for row in out:
                if row["test"] == rec.test:
                    row["twin"] = rec.outcome
                    row["cause"] = rec.cause
        return out

    def frame(self) -> pd.DataFrame:
        columns = ("test", "outcome", "detail") + (("twin", "cause") if self.reconciliation
                                                    else ())
        return table_frame(columns, self.rows())

    def fixes_frame(self) -> pd.DataFrame:
        return fixes_frame(self.fixes)

    def __str__(self) -> str:
        lines = [self.summary(), ""]
        lines += [f"- {f.text}" for f in self.findings] or ["- no finding"]
        if self.fixes:
            lines += ["", "Fixes (smallest first):"]
            for i, fix in enumerate(self.fixes, 1):
                lines.append(f"  {i}. {fix}")
                if fix.result is not None:  # verified: what the check said on the fork
                    lines.append(f"     on the twin's fork: {_after(fix.result)}")
        if self.reconciliation:
            lines += ["", "Live and twin:"]
            lines += [f"  {r}" for r in self.reconciliation]
        columns = ("test", "outcome", "detail")
        return "\n".join(lines) + "\n\n" + table_text(f"Tests ({self.via_text()}):", columns,
                                                       self.rows())

    def to_dict(self) -> dict[str, Any]:
        """Everything `str()` and the HTML show, as JSON-ready data (`--json` prints it): the
        question, verdict and path, how the tests ran and why, each finding with the rule's own
        fields, each fix with its proof and the check on the twin's fork, every test's row, and
        the live-vs-twin reconciliation."""
        return {
            "source": self.source, "destination": self.destination, "port": self.port,
            "protocol": self.protocol, "verdict": self.verdict,
            "status": self.connectivity.status, "path": self.path, "summary": self.summary(),
            "via": self.via, "via_reason": self.via_reason,
            "findings": [dataclasses.asdict(f) for f in self.findings],
            "fixes": [{**f.to_dict(), "on_twin_fork": None if f.result is None
                       else _after(f.result)} for f in self.fixes],
            "tests": self.rows(),
            "reconciliation": [{**dataclasses.asdict(r), "text": str(r)}
                               for r in self.reconciliation],
            "elapsed_s": self.elapsed_s}

    def via_text(self) -> str:
        return f"via {self.via}" + (f": {self.via_reason}" if self.via_reason else "")

    def _repr_html_(self) -> str:
        findings = [{"finding": f.text, "resource": f.resource_id, "priority": f.priority}
                    for f in self.findings]
        fixes = [{"fix": f.title, "proven": f.proven, "opens more": f.widens or None,
                  "command": f.command} for f in self.fixes]
        parts = [table_html("Diagnosis", self.summary(), ("finding", "resource", "priority"),
                            findings),
                 table_html("Fixes", "smallest first", ("fix", "proven", "opens more", "command"),
                            fixes)
                 if fixes else "",
                 table_html("Tests", f"each test's own answer, {self.via_text()}",
                            ("test", "outcome", "detail"), self.rows())]
        return "".join(parts)

    def __repr__(self) -> str:
        return f"<Diagnosis {self.summary()}; {len(self.findings)} findings, {len(self.fixes)} fixes>"

    def verify_fixes(self, twin: Any, checks: Iterable[Any] | None = None) -> list[Fix]:
        """Apply each fix to a fork of the twin and re-run the check (see verify.py)."""
        from nwlab.diagnostics.verify import verify_fixes

        self.fixes = verify_fixes(self, twin, checks)
        return self.fixes


def _after(result: Any) -> str:
    if isinstance(result, NwlabError):
        return f"the fix could not be applied: {result}"
    issues = sorted({i.type for i in getattr(result, "issues", None) or []})
    return f"{result.status}" + (f" ({', '.join(issues)})" if issues else "")




# -- running the tests ---------------------------------------------------------------------------

def _vm_address(client: Client, vm_id: str, deadline: float, family: str = "IPv4") -> str:
    """A VM's primary private address of `family` (its NIC read, as the operations do)."""
    return operations._on_vm(client, vm_id, None, None, "address", deadline, family).address


def _family(spec: CheckSpec) -> str:
    """The check's address family: its ip_version, else the destination literal's, else IPv4
    (the service's default); the explaining tests test a flow of that family."""
    if spec.ip_version:
        return str(spec.ip_version)
    if spec.destination.kind == "ip":
        return f"IPv{ipaddress.ip_address(spec.destination.value).version}"
    return "IPv4"


def _protocols(spec: CheckSpec) -> tuple[str | None, str]:
    """(IP flow verify protocol or None when it cannot test it, NSG diagnostic protocol)."""
    proto = (spec.protocol or "Tcp").lower()
    if proto == "icmp":
        return None, "ICMP"  # IP flow verify is TCP/UDP only (reference §0.3)
    return "TCP", "TCP"  # Http/Https checks are TCP underneath


# The port a check without one tests. Azure's documented connectivity check (the REST example
# "destination port 0", whose text says port 80 was checked; shared seed scenario 1) sends port 0
# for "no port": the tests that explain it must test the port the service checked, not port 0.
NO_PORT_TESTED = 80


def tested_port(spec: CheckSpec) -> int:
    """The destination port the check tested: the one given, else the URL's (its own or its
    scheme's), else 443 for Https and 80 otherwise (port 0 and no port alike)."""
    if spec.port:
        return spec.port
    if spec.destination.url_port:
        return spec.destination.url_port
    return 443 if (spec.protocol or "").lower() == "https" else NO_PORT_TESTED


def plan(client: Client, spec: CheckSpec, deadline: float
         ) -> tuple[dict[str, Callable[[], Any]], Flow | None]:
    """The explaining tests, by name, and the flow they test (None when the destination has no
    address yet, e.g. a host name the service resolves)."""
    family = _family(spec)
    dest = spec.destination
    dest_vm = dest.value if dest.kind == "vm" else None
    dest_ip: str | None = dest.value if dest.kind == "ip" else None
    # Both ends are read at once: the tests wait for these reads, the check does not.
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="nwlab-plan") as reads:
        source_read = reads.submit(_vm_address, client, spec.source_id, deadline, family)
        dest_read = reads.submit(_vm_address, client, dest_vm, deadline, family) \
            if dest_vm else None
        source_ip = source_read.result()
        if dest_read is not None:
            dest_ip = dest_read.result()
    src = spec.source_id
    if dest_ip is None:
        # A host name or URL: its address is known once the check answers (resolved_plan);
        # what needs no address runs with the check meanwhile.
        return {"effective_routes.source": lambda: client.effective_routes(src),
                "effective_security_rules.source":
                    lambda: client.effective_security_rules(src)}, None
    return _flow_tests(client, spec, source_ip, dest_ip, dest_vm, family, routes=True)


def _flow_tests(client: Client, spec: CheckSpec, source_ip: str, dest_ip: str,
                dest_vm: str | None, family: str, *, routes: bool
                ) -> tuple[dict[str, Callable[[], Any]], Flow]:
    """The tests of the flow source_ip -> dest_ip on the check's port: NSG diagnostic and IP
    flow verify at the source, next hop from it (and, with `routes`, the source's effective
    routes, unless they ran already), and at a destination VM its NSG tests."""
    flow_proto, nsg_proto = _protocols(spec)
    # IP flow verify takes IPv4 addresses only (its spec): an IPv6 flow is left to the others.
    verify_proto = flow_proto if family == "IPv4" else None
    port = tested_port(spec) if flow_proto is not None else None
    port_text = str(port) if port is not None else "*"
    tests: dict[str, Callable[[], Any]] = {}
    src = spec.source_id
    tests["nsg_diagnostic.source"] = lambda: client.nsg_diagnostic(
        src, direction="Outbound", protocol=nsg_proto, source=source_ip, destination=dest_ip,
        destination_port=port_text)
    tests["next_hop.source"] = lambda: client.next_hop(src, dest_ip)
    if routes:
        tests["effective_routes.source"] = lambda: client.effective_routes(src)
    if verify_proto is not None:
        tests["ip_flow_verify.source"] = lambda: client.ip_flow_verify(
            src, "Outbound", verify_proto, "*", dest_ip, port_text)
    if dest_vm is not None:
        tests["nsg_diagnostic.destination"] = lambda: client.nsg_diagnostic(
            dest_vm, direction="Inbound", protocol=nsg_proto, source=source_ip,
            destination=dest_ip, destination_port=port_text)
        if verify_proto is not None:
            tests["ip_flow_verify.destination"] = lambda: client.ip_flow_verify(
                dest_vm, "Inbound", verify_proto, port_text, source_ip, "*")
    flow = Flow("Icmp" if flow_proto is None else "Tcp", source_ip, dest_ip, port)
    return tests, flow


def resolved_address(connectivity: Any) -> str | None:
    """The address the check resolved a host name or URL to: its last hop's (the destination
    Azure reached or stopped at), None when the name did not resolve or no hop names one."""
    if any(i.type.lower() == "dnsresolution" for i in connectivity.issues):
        return None
    hops = connectivity.hops
    if len(hops) < 2 or not hops[-1].address:
        return None
    try:
        return str(ipaddress.ip_address(hops[-1].address))
    except ValueError:
        return None


def resolved_plan(client: Client, spec: CheckSpec, connectivity: Any
                  ) -> tuple[dict[str, Callable[[], Any]], Flow | None]:
    """For a host name or URL destination, the tests that need its address, once the check
    has resolved it: the source's address is the check's first hop's (no read needed)."""
    if spec.destination.kind not in ("host", "url"):
        return {}, None
    address = resolved_address(connectivity)
    source_ip = connectivity.hops[0].address if connectivity.hops else None
    if address is None or not source_ip:
        return {}, None
    family = f"IPv{ipaddress.ip_address(address).version}"
    return _flow_tests(client, spec, source_ip, address, None, family, routes=False)


def _dropping_hop(connectivity: Any) -> tuple[Any, Any] | None:
    """The first hop between the ends whose NSG or route blocks, and its blocking issue."""
    hops = connectivity.hops
    for hop in hops[1:-1]:  # the ends are tested already
        for issue in hop.issues:
            if issue.type in ("NetworkSecurityRule", "UserDefinedRoute"):
                return hop, issue
    return None


def _hop_plan(client: Client, connectivity: Any, flow: Flow | None
              ) -> dict[str, Callable[[], Any]]:
    found = _dropping_hop(connectivity) if flow is not None and not connectivity.reachable \
        else None
    if found is None or flow is None:
        return {}
    hop, issue = found
    rid = hop.resource_id or ""
    low = rid.lower()
    if "/networkinterfaces/" not in low:
        return {}
    nic = rid[:low.index("/ipconfigurations/")] if "/ipconfigurations/" in low else rid
    direction = issue.origin if issue.origin in ("Inbound", "Outbound") else "Outbound"
    port = "*" if flow.destination_port is None else str(flow.destination_port)
    # All three start at once: only next hop needs the NIC's VM, so it reads the NIC itself.
    tests: dict[str, Callable[[], Any]] = {
        "nsg_diagnostic.hop": functools.partial(
            client.nsg_diagnostic, nic, direction=direction,
            protocol="ICMP" if flow.protocol == "Icmp" else "TCP", source=flow.source,
            destination=flow.destination, destination_port=port),
        "effective_routes.hop": functools.partial(client.effective_routes, nic)}
    if hop.address:
        tests["next_hop.hop"] = functools.partial(_hop_next_hop, client, nic, flow.destination,
                                                  hop.address)
    return tests


def _hop_next_hop(client: Client, nic: str, destination: str, address: str
                  ) -> NextHopResult | None:
    """Next hop from the hop's NIC, asked of the VM the NIC belongs to (None: no VM holds it,
    so there is no next hop to ask). A failed NIC read is this test's failure, reported."""
    body = client.arm.get_json(nic)
    vm = (((body or {}).get("properties") or {}).get("virtualMachine") or {}).get("id")
    if not vm:
        return None
    return client.next_hop(vm, destination, source_ip=address, nic=nic)


class NsgReads:
    """The NSGs that denying NSG diagnostics name, each read once, as soon as the diagnostic that
    names it answers (in its worker, while slower tests still run), so the findings need no read
    after the last test. A failed read is kept and raised again to the findings."""

    def __init__(self, client: Client) -> None:
        self.client = client
        self._lock = threading.Lock()
        self._read: dict[str, dict[str, Any] | NwlabError] = {}

    def get(self, nsg_id: str) -> dict[str, Any]:
        with self._lock:
            known = self._read.get(nsg_id.lower())
        if known is None:
            try:
                known = dict(self.client.arm.get_json(nsg_id) or {})
            except NwlabError as exc:
                known = exc
            with self._lock:
                self._read.setdefault(nsg_id.lower(), known)
        if isinstance(known, NwlabError):
            raise known
        return known

    def after(self, name: str, call: Callable[[], Any]) -> Callable[[], Any]:
        """`call`, followed (for an NSG diagnostic) by the reads of the NSGs it finds denying."""
        if not name.startswith("nsg_diagnostic."):
            return call

        def diagnostic_then_nsgs() -> Any:
            result = call()
            if isinstance(result, NsgDiagnosticResult) and not result.allowed:
                for layer in result.blocking():
                    if "/networksecuritygroups/" in layer.nsg_id.lower():  # any casing
                        with contextlib.suppress(NwlabError):  # kept; the findings report it
                            self.get(layer.nsg_id)
            return result

        return diagnostic_then_nsgs


def run_tests(client: Client, spec: CheckSpec, timeout: float, *, analyzer: bool | None = False,
              nsgs: NsgReads | None = None
              ) -> tuple[Any, dict[str, Any], Flow | None, tuple[str, str]]:
    """The check and its explaining tests, concurrently: wall time is the slowest of them.
    Unless analyzer=False, the check, source next hop and source NSG diagnostic are first asked
    of the connectionAnalyzers bundle (nwlab.diagnostics.bundle); the separate calls stand in
    when it is not offered or its answer cannot be read. Also returns (path taken, why). With
    `nsgs`, the NSGs a diagnostic finds denying are read as soon as it answers."""
    deadline = time.monotonic() + timeout
    nsgs = nsgs or NsgReads(client)
    unfit = bundle.ineligible(spec) if analyzer is not False else "analyzer=False"
    # A check the bundle cannot express starts at once, concurrently with the plan's reads.
    covered = set(bundle.bundle_tests(spec).values()) if unfit is None else set()
    with ThreadPoolExecutor(max_workers=8, thread_name_prefix="nwlab-diagnose") as pool:
        tried: Future[Any] | None = None
        check: Future[Any] | None = None
        if covered:
            tried = pool.submit(bundle.attempt, client, spec, deadline, analyzer)
        else:
            check = pool.submit(client.run_spec, spec)
        try:
            tests, flow = plan(client, spec, deadline)
        except NwlabError as exc:  # the reads failed: the check still answers
            tests, flow = {}, None
            results: dict[str, Any] = {"plan": exc}
        else:
            results = {}
        planned = {name: pool.submit(nsgs.after(name, call)) for name, call in tests.items()
                   if name not in covered}
        via = (bundle.VIA_SEPARATE, unfit or "")
        if tried is not None:
            got, why = tried.result()  # analyzer=True: its failure is raised here
            if got is None:
                via = (bundle.VIA_SEPARATE, why)
                # What is left of the timeout is the check's (the bundle spent the rest).
                left = dataclasses.replace(spec, timeout=max(0.001, deadline - time.monotonic()))
                check = pool.submit(client.run_spec, left)
                planned.update({name: pool.submit(nsgs.after(name, call))
                                for name, call in tests.items() if name in covered})
            else:
                via = (bundle.VIA_BUNDLE, why)
                results.update({k: v for k, v in got.items() if k in tests})
                hop = results.get("next_hop.source")
                if isinstance(hop, NextHopResult) and flow is not None:
                    # The bundle's next hop does not repeat the addresses it was asked about;
                    # the plan's reads know them (the separate call's meta names them).
                    hop.meta.update(source_ip=flow.source, destination_ip=flow.destination)
                connectivity = got["connectivity"]
        if check is not None:
            connectivity = check.result()
        # One more round: for a host name or URL, the tests its resolved address makes
        # possible; and at the hop that drops, when it is not the source (Azure names the
        # hop's NIC, and the tests there say which of its NSGs or routes did it). Both need
        # only the check's answer, so they start together.
        if flow is None:
            resolved, flow = resolved_plan(client, spec, connectivity)
            tests.update(resolved)
            planned.update({name: pool.submit(nsgs.after(name, call))
                            for name, call in resolved.items()})
        hop_tests = _hop_plan(client, connectivity, flow)
        planned.update({name: pool.submit(nsgs.after(name, call))
                        for name, call in hop_tests.items()})
        for name, future in planned.items():
            try:
                answer = future.result()
            except NwlabError as exc:  # one test failing does not lose the others
                answer = exc
            if answer is not None:  # None: the test does not apply (a NIC without a VM)
                results[name] = answer
    ordered = {name: results[name] for name in tests if name in results}  # the plan's order
    ordered.update(results)
    return connectivity, {"connectivity": connectivity, **ordered}, flow, via


# -- reading the results -------------------------------------------------------------------------

def _nsg_findings(client: Client, tests: dict[str, Any], flow: Flow | None, nsgs: NsgReads
                  ) -> tuple[list[Finding], list[Fix], dict[str, NwlabError]]:
    """A finding per layer that denies (NSG or admin rules, at any end or the dropping hop),
    and its fixes. The flow needs every one of them opened, so when several deny, the first
    fix is each layer's smallest together (a subnet's and a NIC's NSG, an admin rule and an
    NSG, both ends), then each layer's own fixes. Also the reads that failed (as
    `nsg_rules.<NSG>` or `admin_rules.<VNet>`: reported as tests, not dropped)."""
    failed: dict[str, NwlabError] = {}
    findings: list[Finding] = []
    per_layer: list[list[Fix]] = []
    seen: set[tuple[str, str]] = set()
    for end in ("source", "hop", "destination"):
        result = tests.get(f"nsg_diagnostic.{end}")
        if not isinstance(result, NsgDiagnosticResult) or result.allowed:
            continue
        direction = str((result.results[0].query.direction if result.results and
                         result.results[0].query else "") or "").lower() or "-"
        for layer in result.blocking():
            if layer.matched_rule is None:
                continue
            rule_name = layer.matched_rule.rule_name
            if (layer.nsg_id.lower(), rule_name.lower()) in seen:
                continue
            seen.add((layer.nsg_id.lower(), rule_name.lower()))
            read = _admin_layer if layer.layer == "admin" else _nsg_layer
            finding, fixes = read(client, layer, rule_name, direction, flow, nsgs, failed)
            findings.append(replace(finding, test=f"nsg_diagnostic.{end}"))
            per_layer.append(fixes)
    fixes = [f for layer_fixes in per_layer for f in layer_fixes]
    firsts = [layer_fixes[0] for layer_fixes in per_layer if layer_fixes]
    if len(per_layer) > 1 and len(firsts) == len(per_layer):
        names = ", ".join(f.rule or "?" for f in findings)
        fixes.insert(0, combine(firsts, title=f"Open the flow in every layer that denies it "
                                              f"({names})",
                                note="Each layer denies the flow on its own, so it passes only "
                                     "when every one lets it by: this applies each layer's "
                                     "smallest fix, in order."))
    return findings, fixes, failed


def _nsg_layer(client: Client, layer: Any, rule_name: str, direction: str, flow: Flow | None,
               nsgs: NsgReads, failed: dict[str, NwlabError]) -> tuple[Finding, list[Fix]]:
    """An NSG's deny: the rule's own fields from a GET of the NSG, and its fixes."""
    short, _ = split_rule_name(rule_name)
    fields: dict[str, Any] = {}
    priority = None
    nsg = None
    unread = f"nsg_rules.{layer.nsg_id.rsplit('/', 1)[-1]}"
    if "/networksecuritygroups/" in layer.nsg_id.lower():  # ids keep no one casing
        try:
            nsg = nsgs.get(layer.nsg_id)
        except NwlabError as exc:
            failed[unread] = exc
    for kind in ("securityRules", "defaultSecurityRules"):
        for item in ((nsg or {}).get("properties") or {}).get(kind) or []:
            if str(item.get("name", "")).lower() == short.lower():
                fields = dict(item.get("properties") or {})
                fields.pop("provisioningState", None)
                priority = fields.get("priority")
    finding = Finding(
        kind="nsg-rule", test="",
        text=(f"{short} (priority {priority if priority is not None else '?'}, "
              f"{direction}) in {layer.nsg_id.rsplit('/', 1)[-1]} denies the flow; "
              f"applied to {layer.applied_to or '-'}"
              + (f" (the NSG could not be read for its fields and fixes: see {unread})"
                 if unread in failed else "")),
        resource_id=layer.nsg_id, rule=short, priority=priority, fields=fields)
    fixes: list[Fix] = []
    if nsg is not None and flow is not None:
        # ValueError: the rule is not in the NSG as read now (changed since): no fix
        with contextlib.suppress(ValueError):
            fixes = nsg_fixes(nsg, rule_name, flow, endpoint=client.arm.endpoint)
    return finding, fixes


def _admin_layer(client: Client, layer: Any, rule_name: str, direction: str,
                 flow: Flow | None, nsgs: NsgReads, failed: dict[str, NwlabError]
                 ) -> tuple[Finding, list[Fix]]:
    """A Virtual Network Manager admin rule's deny: the rule as the VNet's effective admin
    rules list it (its id names the configuration and collection to fix) and its fixes."""
    vnet = layer.applied_to or ""
    unread = f"admin_rules.{vnet.rsplit('/', 1)[-1]}"
    try:
        rules = effective_admin_rules(client.arm, vnet) if vnet else []
        location = str((client.arm.get_json(vnet) or {}).get("location") or "") if vnet else ""
    except NwlabError as exc:
        rules, location = [], ""
        failed[unread] = exc
    name = split_rule_name(rule_name)[0].lower()
    item = next((r for r in rules if str(r.get("id", "")).rstrip("/").rsplit("/", 1)[-1]
                 .lower() == name), None)
    fields = dict((item or {}).get("properties") or {})
    priority = fields.get("priority")
    manager = layer.nsg_id.rsplit("/", 1)[-1]
    finding = Finding(
        kind="admin-rule", test="",
        text=(f"admin rule {split_rule_name(rule_name)[0]} (priority "
              f"{priority if priority is not None else '?'}, {direction}) of network manager "
              f"{manager} denies the flow before any NSG; applied to {vnet or '-'}"
              + (f" (its rules could not be read for their fields and fixes: see {unread})"
                 if unread in failed else "")),
        resource_id=str((item or {}).get("id") or layer.nsg_id),
        rule=split_rule_name(rule_name)[0], priority=priority, fields=fields)
    fixes: list[Fix] = []
    if item is not None and flow is not None and location:
        same_way = [r for r in rules if str((r.get("properties") or {}).get("direction", ""))
                    .lower() == str(fields.get("direction", "")).lower()]
        # ValueError: not a rule id of a security admin configuration, or not a Deny: no fix
        with contextlib.suppress(ValueError):
            fixes = admin_rule_fixes(
                item, flow, location=location, endpoint=client.arm.endpoint,
                taken_priorities=[int((r.get("properties") or {}).get("priority") or 0)
                                  for r in same_way],
                taken_names=[str(r.get("id", "")).rsplit("/", 1)[-1] for r in rules])
    return finding, fixes


def _unreached_appliance(hop: NextHopResult, tests: dict[str, Any]) -> bool:
    """The route sends the flow to an appliance the check never reached: no hop of the path is
    at the appliance's address (a wrong or missing appliance, or one that does not forward),
    and nothing stopped the packet before it (an NSG at the source would explain it instead)."""
    if (hop.next_hop_type or "").lower() != "virtualappliance" or not hop.next_hop_ip:
        return False
    connectivity = tests.get("connectivity")
    if any(i.type == "NetworkSecurityRule" for i in getattr(connectivity, "issues", ()) or ()):
        return False
    source = tests.get("nsg_diagnostic.source")
    if isinstance(source, NsgDiagnosticResult) and not source.allowed:
        return False
    return not any(h.address == hop.next_hop_ip for h in getattr(connectivity, "hops", ()) or ())


def _route_findings(client: Client, tests: dict[str, Any], flow: Flow | None
                    ) -> tuple[list[Finding], list[Fix]]:
    """A user route that sends the flow to None, or to an appliance the check never reached,
    with the fixes toward the hop Azure's own routes give the destination."""
    hop = tests.get("next_hop.source")
    if not isinstance(hop, NextHopResult) or flow is None:
        return [], []
    wrong_appliance = _unreached_appliance(hop, tests)
    if not hop.dropped and not wrong_appliance:
        return [], []
    routes = tests.get("effective_routes.source")
    route = routes.route_for(flow.destination) if isinstance(routes, EffectiveRoutes) else None
    table = hop.user_route_table_id
    name = route.name if route is not None else None
    where = f"route {name} in {table.rsplit('/', 1)[-1]}" if table and name else \
        (f"a route in {table}" if table else "a system route")
    what = (f"to the appliance {hop.next_hop_ip}, which the check never reached (no appliance "
            "answers there, or it does not forward)") if wrong_appliance \
        else "to None (dropped)"
    finding = Finding(kind="route", test="next_hop.source",
                      text=f"{where} sends {flow.destination} {what}",
                      resource_id=table, rule=name,
                      fields={"addressPrefix": list(route.address_prefixes) if route else [],
                              "nextHopType": hop.next_hop_type,
                              **({"nextHopIpAddress": hop.next_hop_ip} if wrong_appliance
                                 else {})})
    fixes: list[Fix] = []
    intended = _system_hop(routes, flow.destination) if isinstance(routes, EffectiveRoutes) \
        else None
    if route is not None and table and intended is not None:
        blocking = BlockingRoute.from_effective(route, table, flow.destination)
        # ValueError: a next hop the fixes cannot write (e.g. a gateway-learned one): no fix
        with contextlib.suppress(ValueError):
            fixes = route_fixes(blocking, flow.destination, next_hop_type=intended,
                                route_table_id=table, endpoint=client.arm.endpoint)
        if wrong_appliance:
            fixes = [replace(f, note=f"{f.note} This bypasses the appliance for the traffic "
                             "it carries; pointing the route at the right appliance instead "
                             "(az network route-table route update --next-hop-ip-address) "
                             "keeps it inspected.") for f in fixes]
    return [finding], fixes


def _system_hop(routes: EffectiveRoutes, address: str) -> str | None:
    """The next hop Azure's own (Default) routes give `address`: what the traffic would take
    without the user route that drops it."""
    defaults = EffectiveRoutes(routes=tuple(r for r in routes.routes
                                            if r.source.lower() == "default"))
    best = defaults.route_for(address)
    if best is None or best.next_hop_type.lower() == "none":
        return None
    return best.next_hop_type


def _check_findings(connectivity: Any, flow: Flow | None) -> list[Finding]:
    if connectivity.reachable:
        return [Finding(kind="reachable", test="connectivity",
                        text=f"Azure reached the destination ({connectivity.status}).")]
    types = {i.type for i in connectivity.issues}
    last = connectivity.hops[-1] if connectivity.hops else None
    if any(t.lower() == "dnsresolution" for t in types):
        # No packet left: no NSG or route is involved, so no NSG or route fix applies.
        return [Finding(kind="dns", test="connectivity",
                        text="The destination's name did not resolve from the source "
                             "(DnsResolution): check the name, and that the private DNS zone "
                             "holding it is linked to the source's VNet (or that the VNet's DNS "
                             "servers answer for it).",
                        resource_id=last.resource_id if last is not None else None)]
    if types <= GUEST_ISSUES and last is not None and last.type.lower() in ("virtualmachine", "vnetlocal"):
        return [Finding(kind="guest-or-application", test="connectivity",
                        text="Azure delivered the packet to the destination NIC and no NSG or "
                             "route blocks it: the guest OS firewall or the application refused "
                             "or did not answer.", resource_id=last.resource_id)]
    if flow is not None and not ipaddress.ip_address(flow.destination).is_private and \
            not (types & {"NetworkSecurityRule", "UserDefinedRoute"}):
        return [Finding(kind="beyond-estate", test="connectivity",
                        text=f"The packet left the estate towards {flow.destination}; what lies "
                             "beyond (Internet, on-premises) is not visible to Azure.")]
    return [Finding(kind="unreachable", test="connectivity",
                    text=f"Not reachable ({connectivity.status}); issues: "
                         f"{', '.join(sorted(types)) or 'none reported'}.")]


def _assumption_findings(connectivity: Any, *, every: bool) -> list[Finding]:
    """What the twin assumed where the verdict rests on it (verdict-sensitive ones), or, with
    `every` (the check stopped and no NSG or route explains it), all it assumed on the path: a
    firewall's deciding rule, what lies beyond a gateway, so the answer names them instead of
    'none reported'. Azure's own results carry no assumptions: a live diagnosis has none."""
    return [Finding(kind="twin-assumption", test="connectivity",
                    text=f"The twin assumed ({a.code}): {a.assumed}",
                    resource_id=a.resource_id or None)
            for a in getattr(connectivity, "assumptions", None) or []
            if every or a.verdict_sensitive]


def diagnose(client: Client, source: Any, destination: Any, port: Any = None, *,
             protocol: Any = None, resource_group: Any = None, twin: Any = None,
             timeout: Any = 600, analyzer: Any = None) -> Diagnosis:
    """See the module docstring. Bad input fails before any request (build_check)."""
    if analyzer not in (None, True, False):
        raise TypeError(f"analyzer: expected None (use connectionAnalyzers where offered), True "
                        f"or False, got {analyzer!r}; e.g. analyzer=False")
    spec = build_check(client.subscription_id, source, destination, port, protocol=protocol,
                       resource_group=resource_group, timeout=timeout)
    unfit = bundle.ineligible(spec) if analyzer is True else None
    if unfit is not None:
        raise ValueError(f"analyzer=True: {unfit}; pass analyzer=None to use the separate calls "
                         "where the bundle cannot be used")
    started = time.monotonic()
    nsgs = NsgReads(client)
    connectivity, tests, flow, (via, why) = run_tests(client, spec, spec.timeout,
                                                      analyzer=analyzer, nsgs=nsgs)
    findings: list[Finding] = []
    fixes: list[Fix] = []
    if not connectivity.reachable:
        nsg_found, fixes, unread = _nsg_findings(client, tests, flow, nsgs)
        tests.update(unread)
        route_found, route_fixed = _route_findings(client, tests, flow)
        findings, fixes = nsg_found + route_found, fixes + route_fixed
    findings = findings or _check_findings(connectivity, flow)
    findings += _assumption_findings(connectivity, every=[f.kind for f in findings] == ["unreachable"])
    dest = spec.destination.value
    shown = dest.rsplit("/", 1)[-1] if spec.destination.kind == "vm" else dest
    d = Diagnosis(source=spec.source_name, destination=shown, port=spec.port,
                  protocol=spec.protocol or "Tcp", connectivity=connectivity, tests=tests,
                  findings=findings, fixes=fixes, flow=flow, spec=spec,
                  elapsed_s=round(time.monotonic() - started, 3), via=via, via_reason=why)
    if twin is not None:
        from nwlab.diagnostics.reconcile import reconcile

        _, twin_tests, _, _ = run_tests(twin, spec, spec.timeout)
        d.twin = twin_tests
        d.reconciliation = reconcile(client, twin, tests, twin_tests)
    return d
