"""What a result means in plain words: the issue catalogue, findings with fixes, verdicts, errors.

The catalogue covers every issue type the reference lists (the spec enum, the live extras and the
overview doc's CPU/Memory/DNSResolution); anything else gets a generic entry keeping the raw type.
Nothing here imports Plotly or widgets: `result.explain()`, the rich repr and the form use it.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypedDict
from urllib.parse import urlsplit

from nwlab.verdict import status_verdict
from nwlab.viz.palette import ISSUE, NEUTRAL, OK, WARN

if TYPE_CHECKING:  # pragma: no cover
    from nwlab.model import Assumption, ConnectivityResult, Hop, Issue

__all__ = [
    "CATALOGUE",
    "Finding",
    "Findings",
    "IssueInfo",
    "RouteRef",
    "RuleRef",
    "blocking_cause",
    "blocking_issue",
    "destination_name",
    "drops_traffic",
    "error_html",
    "error_text",
    "explain_issue",
    "explain_result",
    "findings_html",
    "issue_info",
    "parse_route",
    "parse_rule_name",
    "requested_host",
    "short_cause",
    "verdict_sentence",
]

DOCS = {
    "troubleshoot": "https://learn.microsoft.com/azure/network-watcher/connection-troubleshoot-overview",
    "fault_types": "https://learn.microsoft.com/azure/network-watcher/connection-troubleshoot-overview#fault-types",
    "agent": "https://learn.microsoft.com/azure/network-watcher/network-watcher-agent-windows",
    "agent_linux": "https://learn.microsoft.com/azure/network-watcher/network-watcher-agent-linux",
    "nsg": "https://learn.microsoft.com/azure/virtual-network/network-security-groups-overview",
    "nsg_default": "https://learn.microsoft.com/azure/virtual-network/network-security-groups-overview"
                   "#default-security-rules",
    "udr": "https://learn.microsoft.com/azure/virtual-network/virtual-networks-udr-overview",
    "system_routes": "https://learn.microsoft.com/azure/virtual-network/virtual-networks-udr-overview"
                     "#system-routes",
    "peering": "https://learn.microsoft.com/azure/virtual-network/virtual-network-peering-overview",
    "dns": "https://learn.microsoft.com/azure/virtual-network/"
           "virtual-networks-name-resolution-for-vms-and-role-instances",
    "guest_firewall": "https://learn.microsoft.com/troubleshoot/azure/virtual-machines/windows/"
                      "guest-os-firewall-blocking-inbound-traffic",
    "snat": "https://learn.microsoft.com/azure/load-balancer/load-balancer-outbound-connections",
    "health": "https://learn.microsoft.com/azure/service-health/resource-health-overview",
    "monitor_vm": "https://learn.microsoft.com/azure/virtual-machines/monitor-vm",
    "vm_states": "https://learn.microsoft.com/azure/virtual-machines/states-billing",
    "rbac": "https://learn.microsoft.com/azure/network-watcher/required-rbac-permissions",
}


@dataclass(frozen=True)
class IssueInfo:
    """A catalogue entry: what an issue type means, why it happens, what to do, what to read."""

    type: str
    short: str  # a few words for tables and Sankey labels, e.g. "Guest firewall"
    meaning: str
    cause: str
    fix: str
    docs_url: str


CATALOGUE: dict[str, IssueInfo] = {info.type: info for info in (
    IssueInfo(
        "NetworkSecurityRule", "NSG rule",
        "A network security group (NSG) rule denies the traffic. NSG rules are evaluated by "
        "priority, first match wins; outbound rules filter traffic leaving a NIC or subnet, "
        "inbound rules traffic entering one.",
        "A deny rule (yours, or Azure's default DenyAll rule when nothing allows the traffic) on "
        "the NSG attached to this hop's network interface or subnet matches the destination and "
        "port.",
        "Change or remove the deny rule, or add an allow rule for this source, destination and "
        "port with a higher priority (a lower number) than the rule that denies it.",
        DOCS["nsg"]),
    IssueInfo(
        "UserDefinedRoute", "Route",
        "A route sends the traffic to next hop None (or elsewhere), so it is dropped at this hop.",
        "A route in the subnet's route table, or a system route with next hop None, matches the "
        "destination prefix.",
        "Fix the route table: remove or correct the route, or add a more specific route towards a "
        "valid next hop (virtual network, appliance, gateway or Internet).",
        DOCS["udr"]),
    IssueInfo(
        "AgentStopped", "Agent stopped",
        "The Network Watcher agent on the source VM is not running, so no probe could be sent.",
        "The NetworkWatcherAgentWindows/Linux extension is missing or failed, or the VM's guest "
        "agent is not running.",
        "Install or repair the Network Watcher agent extension on the source VM (publisher "
        "Microsoft.Azure.NetworkWatcher) and make sure the VM is running, then check again.",
        DOCS["agent"]),
    IssueInfo(
        "GuestFirewall", "Guest firewall",
        "Traffic is blocked by the firewall inside the virtual machine's operating system "
        "(Windows Firewall, iptables, firewalld, ufw).",
        "The guest OS firewall has no rule allowing this port, or a rule denies it; NSGs allow it.",
        "Open the port in the guest OS firewall of the VM named here (for example "
        "`New-NetFirewallRule` on Windows or `ufw allow <port>` on Linux).",
        DOCS["guest_firewall"]),
    IssueInfo(
        "DnsResolution", "DNS resolution failed",
        "The destination host name could not be resolved to an address from the source VM.",
        "The name is misspelled, the record does not exist, or the VNet's DNS servers (custom DNS, "
        "private DNS zone links) cannot resolve it.",
        "Check the host name, then the VNet's DNS server settings and private DNS zone links; try "
        "`nslookup <name>` on the source VM.",
        DOCS["dns"]),
    IssueInfo(
        "SocketBind", "Socket bind failed",
        "The agent could not bind the source socket for the probe.",
        "The requested source port is already in use on the source VM, or not allowed.",
        "Leave the source port empty (any port), or choose a free source port, and check again.",
        DOCS["troubleshoot"]),
    IssueInfo(
        "PortThrottled", "Port throttled",
        "Connections from the source were throttled: outbound ports were exhausted or rate "
        "limited.",
        "Too many concurrent outbound connections (SNAT port exhaustion), often from connection "
        "churn without pooling.",
        "Reuse connections, add outbound IPs (NAT gateway) or reduce concurrency, then check "
        "again.",
        DOCS["snat"]),
    IssueInfo(
        "Platform", "Platform issue",
        "The Azure platform reported a problem on this hop.",
        "A transient or ongoing Azure platform event affecting the resource.",
        "Look at Resource Health and Service Health for the resources on the path; retry later.",
        DOCS["health"]),
    IssueInfo(
        "NoListenerOnDestination", "No listener",
        "The probe reached the destination but nothing listens on the destination port.",
        "The service on the destination VM is stopped, listens on another port, or only on "
        "localhost.",
        "Start the service on the destination, make it listen on this port on the VM's address, "
        "or check the port you asked for.",
        DOCS["fault_types"]),
    IssueInfo(
        "RouteMissing", "Route missing",
        "No route leads to the destination from this hop.",
        "The destination's address space is not in this VNet, not peered, and no route or gateway "
        "covers it.",
        "Add a VNet peering or a route (with a valid next hop) covering the destination's address.",
        DOCS["peering"]),
    IssueInfo(
        "CPU", "High CPU",
        "High CPU utilisation on this VM, which can delay or drop traffic.",
        "A process on the VM uses most of the CPU.",
        "Find the busy process (Task Manager, top), or resize the VM.",
        DOCS["monitor_vm"]),
    IssueInfo(
        "Memory", "High memory",
        "High memory utilisation on this VM, which can delay or drop traffic.",
        "A process on the VM uses most of the memory.",
        "Find the process using the memory, or resize the VM.",
        DOCS["monitor_vm"]),
    IssueInfo(
        "Unknown", "Unknown issue",
        "The service found a problem on this hop but could not classify it.",
        "Not reported by the service.",
        "Run the check again; check the hop's NSGs, routes and the VM's state; if it persists, "
        "use IP flow verify and next hop on this hop.",
        DOCS["troubleshoot"]),
)}

# Alternative spellings seen in docs; lookup is also case-insensitive.
_ALIASES = {"dnsresolution": "DnsResolution"}
_BY_LOWER = {k.lower(): k for k in CATALOGUE}


def issue_info(issue_type: str) -> IssueInfo:
    """The catalogue entry for a type (case-insensitive, aliases understood), else a generic one."""
    key = (issue_type or "").strip().lower()
    name = _ALIASES.get(key) or _BY_LOWER.get(key)
    if name is not None:
        return CATALOGUE[name]
    raw = issue_type or "Unknown"
    return IssueInfo(
        raw, raw,
        f"The service reported an issue of type '{raw}', which nwlab does not know yet.",
        "Not documented in the connection troubleshoot reference.",
        "Look at the hop's NSGs, routes and VM state, and the connection troubleshoot docs.",
        DOCS["troubleshoot"])


# -- rule names and routes ------------------------------------------------------------------

_RULE_ID = re.compile(
    r"/networkSecurityGroups/(?P<nsg>[^/]+)/(?P<kind>securityRules|defaultSecurityRules)/(?P<rule>[^/]+)",
    re.IGNORECASE)
_RG = re.compile(r"/resourceGroups/(?P<rg>[^/]+)", re.IGNORECASE)


@dataclass(frozen=True)
class RuleRef:
    """An NSG rule as the service names it: `UserRule_x`, `DefaultRule_x` or a rule resource id."""

    raw: str
    name: str
    kind: str  # "user", "default" or "unknown"
    nsg: str | None = None
    resource_group: str | None = None
    resource_id: str | None = None

    @property
    def label(self) -> str:
        """How to print it: the short name as the service sent it, or `rule in nsg` for an id."""
        if self.resource_id:
            return f"{self.name} in {self.nsg}" if self.nsg else self.name
        return self.raw

    @property
    def is_default(self) -> bool:
        return self.kind == "default"


def parse_rule_name(raw: str | None) -> RuleRef:
    """Understand `UserRule_Port80`, `DefaultRule_DenyAllInBound` or `/subscriptions/.../x`."""
    text = (raw or "").strip()
    match = _RULE_ID.search(text)
    if match:
        rg = _RG.search(text)
        kind = "default" if match.group("kind").lower().startswith("default") else "user"
        return RuleRef(text, match.group("rule"), kind, nsg=match.group("nsg"),
                       resource_group=rg.group("rg") if rg else None,
                       resource_id=text if text.startswith("/") else "/" + text)
    lowered = text.lower()
    if lowered.startswith("userrule_"):
        return RuleRef(text, text[len("UserRule_"):], "user")
    if lowered.startswith("defaultrule_"):
        return RuleRef(text, text[len("DefaultRule_"):], "default")
    return RuleRef(text, text or "(unnamed rule)", "unknown")


@dataclass(frozen=True)
class RouteRef:
    """A route that dropped traffic: `User` (your route table) or `Default` (a system route)."""

    route_type: str  # as sent, e.g. "User", "Default", "" when absent
    next_hop_type: str  # from ErrorMessage "NextHop Type None, NextHop IP ", else "None"
    next_hop_ip: str | None = None

    @property
    def is_user(self) -> bool:
        return self.route_type.lower() == "user"

    @property
    def is_system(self) -> bool:
        return self.route_type.lower() in ("default", "system")

    @property
    def kind_words(self) -> str:
        if self.is_user:
            return "User route"
        if self.is_system:
            return "System route"
        return "Route"


_NEXT_HOP = re.compile(r"NextHop\s*Type\s*:?\s*(?P<type>[A-Za-z]+)?\s*,?\s*(NextHop\s*IP\s*:?\s*"
                       r"(?P<ip>[0-9A-Fa-f.:]+)?)?", re.IGNORECASE)


def parse_route(issue: Issue) -> RouteRef:
    """RouteType and the next hop from ErrorMessage; with no message the route went to None."""
    route_type = issue.context.get("RouteType", "")
    message = issue.context.get("ErrorMessage", "")
    match = _NEXT_HOP.search(message) if message else None
    next_type = (match.group("type") if match and match.group("type") else None) or "None"
    ip = match.group("ip") if match and match.group("ip") else None
    return RouteRef(route_type, next_type, ip)


# -- findings -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Finding:
    """One thing to know about a result: what happened where, what it means, the cause, the fix."""

    severity: str  # "Error", "Warning" or "Info"
    title: str
    meaning: str
    cause: str
    fix: str
    docs_url: str
    hop_id: str | None = None
    hop_address: str | None = None
    hop_type: str | None = None
    issue: Issue | None = None

    def __str__(self) -> str:
        return "\n".join([
            f"[{self.severity}] {self.title}",
            f"  What it means: {self.meaning}",
            f"  Likely cause:  {self.cause}",
            f"  Fix:           {self.fix}",
            f"  Read:          {self.docs_url}",
        ])

    def _repr_html_(self) -> str:
        return findings_html([self])


class Findings(list[Finding]):
    """What `result.explain()` returns: a plain list of Finding (index it, iterate it) that shows
    itself as findings, as text in a REPL and as HTML in a notebook, instead of a list repr."""

    def __str__(self) -> str:
        return "\n\n".join(str(f) for f in self) if self else "No findings."

    def __repr__(self) -> str:
        return str(self)

    def _repr_html_(self) -> str:
        return findings_html(self)


_SEVERITY_MARK = {  # icon and colour per finding severity (the word is always printed too)
    "error": ("&#x2716;", ISSUE),
    "warning": ("&#x26A0;", WARN),
    "info": ("&#x2714;", OK),
}


def findings_html(findings: Iterable[Finding]) -> str:
    """Each finding: severity icon and word, title, meaning, cause, fix and a docs link; every
    word from the service escaped (inline styles only, so it reads in light and dark themes)."""
    esc = html.escape
    items = []
    for f in findings:
        icon, colour = _SEVERITY_MARK.get(f.severity.lower(), ("&#x2022;", NEUTRAL))
        items.append(
            f'<li style="margin:6px 0;padding-left:8px;border-left:3px solid {colour};'
            f'list-style:none">'
            f'<div><span style="color:{colour};font-weight:600">{icon} {esc(f.severity)}</span> '
            f"<strong>{esc(f.title)}</strong></div>"
            f"<div>{esc(f.meaning)}</div>"
            f"<div><em>Likely cause:</em> {esc(f.cause)}</div>"
            f"<div><em>Fix:</em> {esc(f.fix)}</div>"
            f'<div><a href="{esc(f.docs_url, quote=True)}" target="_blank" '
            f'rel="noopener noreferrer" style="color:inherit;text-decoration:underline">'
            f"Read: {esc(f.docs_url)}</a></div>"
            "</li>")
    return f'<ul class="nwlab-findings" style="padding-left:0;margin:4px 0">{"".join(items)}</ul>'


def _at(address: str | None) -> str:
    return f" at {address}" if address else ""


def _direction(issue: Issue) -> str:
    return issue.origin.lower() if issue.origin.lower() in ("inbound", "outbound") else ""


def short_cause(issue: Issue) -> str:
    """A few words naming the issue and where: `NSG rule UserRule_Port80 (outbound) at 10.1.3.4`."""
    at = _at(issue.hop_address)
    kind = issue_info(issue.type)
    if kind.type == "NetworkSecurityRule":
        rule = parse_rule_name(issue.rule_name)
        direction = _direction(issue)
        return f"NSG rule {rule.label}{f' ({direction})' if direction else ''}{at}"
    if kind.type == "UserDefinedRoute":
        route = parse_route(issue)
        return f"{route.kind_words} to {route.next_hop_type}{at}"
    if kind.type == "NoListenerOnDestination":
        return f"No listener on {issue.hop_address or 'the destination'}"
    return f"{kind.short}{at}"


def _title(issue: Issue, hop_type: str | None) -> str:
    at = _at(issue.hop_address)
    kind = issue_info(issue.type)
    direction = _direction(issue)
    if kind.type == "NetworkSecurityRule":
        rule = parse_rule_name(issue.rule_name)
        words = f"{direction.capitalize()} NSG rule" if direction else "NSG rule"
        words = f"{words} {rule.label}" + (" (Azure default)" if rule.is_default else "")
        return f"{words} blocks the path{at}"
    if kind.type == "UserDefinedRoute":
        route = parse_route(issue)
        if route.is_user:
            return f"A user-defined route sends the traffic to next hop {route.next_hop_type}{at}"
        if route.is_system:
            return f"A system route with next hop {route.next_hop_type} drops the traffic{at}"
        return f"A route with next hop {route.next_hop_type} drops the traffic{at}"
    if kind.type == "NoListenerOnDestination":
        return f"Nothing listens on the destination port{at}"
    where = f" on {hop_type} {issue.hop_address}" if hop_type and issue.hop_address else at
    return f"{kind.short}{where}"


def explain_issue(issue: Issue, hop: Hop | None = None) -> Finding:
    """The finding for one issue, specialised by rule name (user/default/id) and route type."""
    kind = issue_info(issue.type)
    meaning, cause, fix, docs = kind.meaning, kind.cause, kind.fix, kind.docs_url
    direction = _direction(issue)
    if kind.type == "NetworkSecurityRule":
        rule = parse_rule_name(issue.rule_name)
        where = f"an NSG on the network interface or subnet of {issue.hop_address or 'this hop'}"
        if rule.nsg:
            where = f"NSG {rule.nsg}" + (f" (resource group {rule.resource_group})"
                                          if rule.resource_group else "")
        dir_words = f"{direction} " if direction else ""
        if rule.is_default:
            cause = (f"Azure's default {dir_words}rule {rule.name} in {where} matched: no rule of "
                     f"yours allows this traffic, so the default deny applies.")
            fix = (f"Add an {dir_words}allow rule for this source, destination and port with a "
                   f"higher priority (a lower number, e.g. 100-4096) than {rule.name} "
                   f"(65000-65500); default rules cannot be edited or removed.")
            docs = DOCS["nsg_default"]
        elif rule.kind == "user":
            cause = (f"Your {dir_words}rule {rule.name} in {where} denies this traffic "
                     f"(first match by priority wins).")
            fix = (f"Edit or remove rule {rule.name}, or add an {dir_words}allow rule for this "
                   f"destination and port with a higher priority (a lower number) than it.")
        else:
            cause = f"The {dir_words}rule {rule.label} in {where} denies this traffic."
    elif kind.type == "UserDefinedRoute":
        route = parse_route(issue)
        if route.is_user:
            cause = (f"A route you wrote in the route table of the subnet of "
                     f"{issue.hop_address or 'this hop'} matches the destination and sends it to "
                     f"next hop {route.next_hop_type}.")
            fix = ("Change the route's next hop (e.g. to your virtual appliance or Internet), "
                   "remove it, or add a more specific route for the destination.")
        elif route.is_system:
            cause = (f"An Azure system route with next hop {route.next_hop_type} matches the "
                     "destination, e.g. 10.0.0.0/8, 172.16.0.0/12 or 192.168.0.0/16 when no VNet "
                     "or peering holds that address.")
            fix = ("Peer the VNet that holds the destination, or add a user route covering it "
                   "with a valid next hop (gateway or appliance).")
            docs = DOCS["system_routes"]
        if issue.context.get("ErrorMessage"):
            meaning = f"{meaning} The service said: {issue.context['ErrorMessage'].strip()}"
    elif kind.type == "AgentStopped" and hop is not None and "linux" in (hop.name or "").lower():
        docs = DOCS["agent_linux"]
    severity = issue.severity.capitalize() if issue.severity else "Error"
    return Finding(
        severity=severity,
        title=_title(issue, hop.type if hop else None),
        meaning=meaning, cause=cause, fix=fix, docs_url=docs,
        hop_id=issue.hop_id, hop_address=issue.hop_address,
        hop_type=hop.type if hop else None, issue=issue,
    )


def _endpoint(hop: Hop | None, fallback: str) -> str:
    if hop is None:
        return fallback
    return hop.address or hop.name or fallback


def requested_host(result: ConnectivityResult) -> str | None:
    """The host name the check was asked for (`bing.com` for `https://bing.com/x`), None for a
    VM or IP destination or a result without inputs: the service answers with the address only."""
    kind = result.meta.get("destination_kind")
    requested = result.meta.get("destination")
    if kind not in ("url", "host") or not isinstance(requested, str) or not requested:
        return None
    if kind == "url":
        try:
            return urlsplit(requested).hostname or requested
        except ValueError:  # not a URL after all (the check validated it, a saved one may not be)
            return requested
    return requested


def destination_name(result: ConnectivityResult) -> str:
    """The destination in words: `bing.com (204.79.197.200)` for a host or URL check (the service
    answers with the resolved address only), else its address, name or what was asked."""
    dest = result.destination
    host = requested_host(result)
    if host and dest is not None and dest.address and dest.address.lower() != host.lower():
        return f"{host} ({dest.address})"
    if host:
        return host
    if dest is not None and dest.address:
        return dest.address
    requested = result.meta.get("destination")
    return str(requested) if requested else _endpoint(dest, "the destination")


def _probes(result: ConnectivityResult) -> str:
    if result.probes_sent is None:
        return "the service sent no probe figures"
    return f"{result.probes_failed or 0} of {result.probes_sent} probes failed"


def _latency(result: ConnectivityResult) -> str | None:
    if result.avg_latency_ms is None:
        return None
    text = f"latency avg {result.avg_latency_ms} ms"
    if result.min_latency_ms is not None and result.max_latency_ms is not None:
        text += f" (min {result.min_latency_ms}, max {result.max_latency_ms})"
    return text


def drops_traffic(issue: Issue) -> bool:
    """An Error issue drops the traffic; so does one without severity (the service's older
    answers leave it out). Warnings (CPU, Memory...) only describe the hop."""
    return issue.severity.lower() in ("error", "")


def blocking_issue(result: ConnectivityResult) -> Issue | None:
    """The issue that stops the traffic: the first that drops it, else the first issue; None
    when the service reported none."""
    issues = result.issues
    for issue in issues:
        if drops_traffic(issue):
            return issue
    return issues[0] if issues else None


class _HopFields(TypedDict):
    hop_id: str | None
    hop_address: str | None
    hop_type: str | None


def _located_at(hop: Hop | None) -> _HopFields:
    """The hop fields of a Finding about the path's end (none when there are no hops)."""
    return {"hop_id": hop.id if hop else None, "hop_address": hop.address if hop else None,
            "hop_type": hop.type if hop else None}


def explain_result(result: ConnectivityResult) -> Findings:
    """One finding per issue; with none, one on why it failed, on probe loss, or that it works."""
    by_id = {hop.id: hop for hop in result.hops}
    findings = Findings(explain_issue(i, by_id.get(i.hop_id or "")) for i in result.issues)
    dest = result.destination
    dest_name = destination_name(result)
    loss = result.probe_loss
    unsure = status_verdict(False, result.status) == "unknown"  # nwlab.verdict classifies
    if not result.reachable and not findings and unsure:
        findings.append(Finding(
            severity="Warning",
            title=f"The check ended with status '{result.status}' and no issue",
            meaning=(f"The service could not say whether the destination is reachable "
                     f"({len(result.hops)} hops, {_probes(result)})."),
            cause="The check did not complete normally, or the answer was empty.",
            fix="Run the check again; if it persists, check the source VM's agent and power state.",
            docs_url=DOCS["troubleshoot"],
        ))
    elif not result.reachable and not findings and _ends_at_appliance(result):
        findings.append(Finding(
            severity="Error",
            title=f"The path ends at the virtual appliance {dest.address if dest else ''}",
            meaning=("The probes were routed to a virtual appliance and went no further; the "
                     f"service named no rule or route ({_probes(result)})."),
            cause=("The appliance does not forward: IP forwarding is off on its network interface "
                   "(Azure then drops what is not addressed to it) or in its operating system, "
                   "the routes send the traffic round in a loop between appliances, or the "
                   "appliance itself is stopped."),
            fix=("Enable IP forwarding on the appliance's NIC (az network nic update "
                 "--ip-forwarding true) and in its OS; check the next hops of the subnets on the "
                 "way (nextHop / effective routes) for a loop; start the appliance VM."),
            docs_url=DOCS["udr"],
            **_located_at(dest),
        ))
    elif not result.reachable and not findings:
        findings.append(Finding(
            severity="Error",
            title=f"No answer from {dest_name}, and the service named no cause",
            meaning=("Every hop on the path allowed the traffic, yet the probes got no answer "
                     f"({_probes(result)})."),
            cause=("The destination VM is stopped or deallocated (the service then answers "
                   "Unreachable with no issue), or the destination does not answer on this port: "
                   "the service is not running, a firewall outside Azure drops it, or the reply "
                   "cannot route back."),
            fix=("Check the destination's power state (nw.list_vms()) and start it; make sure "
                 "something listens on the port; for endpoints outside Azure check their firewall; "
                 "then check again."),
            docs_url=DOCS["vm_states"],
            **_located_at(dest),
        ))
    elif result.reachable and loss:
        findings.append(Finding(
            severity="Warning",
            title=f"{dest_name} is reachable but {_probes(result)} ({loss:.0%} loss)",
            meaning="Some probes got no answer: the path works but is not reliable.",
            cause=("Congestion or throttling on the path, a busy destination, or a rule or route "
                   "that changed while the check ran."),
            fix=("Check again; if loss persists, look at the destination's load and the hops' "
                 "issues."),
            docs_url=DOCS["troubleshoot"],
            **_located_at(dest),
        ))
    elif result.reachable and not findings:
        latency = _latency(result)
        findings.append(Finding(
            severity="Info",
            title=f"{dest_name} is reachable",
            meaning=(f"Every probe was answered ({_probes(result)}"
                     f"{', ' + latency if latency else ''})."),
            cause="No NSG rule, route or firewall blocks this path.",
            fix="Nothing to fix.",
            docs_url=DOCS["troubleshoot"],
            **_located_at(dest),
        ))
    findings.extend(assumption_finding(a) for a in result.assumptions)
    return findings


def assumption_finding(assumption: Assumption) -> Finding:
    """What the emulator assumed on this path, said beside the verdict that may rest on it."""
    others = "; ".join(assumption.alternatives)
    return Finding(
        severity="Warning" if assumption.verdict_sensitive else "Info",
        title=f"The emulator assumed: {assumption.assumed}",
        meaning=(f"{assumption.code} at {assumption.resource_id}"
                 + (f" (field {assumption.field})" if assumption.field else "") + ". "
                 + ("The verdict rests on it." if assumption.verdict_sensitive else
                    "The verdict does not depend on it.")),
        cause=("The emulator does not model this, or Azure does not document it"
               + (f"; it could also be: {others}." if others else ".")),
        fix=("Confirm on Azure (run the same check against the live network, or read the "
             "resource) before acting on this verdict." if assumption.verdict_sensitive else
             "Nothing to do; listed so that no choice is made silently."),
        docs_url=DOCS["troubleshoot"],
    )


def blocking_cause(result: ConnectivityResult) -> str | None:
    """Short words for tables: what stops the traffic and where; None when reachable."""
    if result.reachable:
        return None
    issue = blocking_issue(result)
    if issue is not None:
        return short_cause(issue)
    if _ends_at_appliance(result):
        return f"Path ends at appliance {result.hops[-1].address}"
    return f"No answer from {destination_name(result)}"


def _ends_at_appliance(result: ConnectivityResult) -> bool:
    """The last hop is an appliance: the probes never left it (no forwarding, a loop)."""
    return bool(result.hops) and result.hops[-1].type.lower() == "virtualappliance"


def _verdict_phrase(issue: Issue) -> str:
    """The verdict's subject, e.g. `the outbound NSG rule UserRule_Port80 at 10.1.3.4`."""
    kind = issue_info(issue.type).type
    at = _at(issue.hop_address)
    direction = _direction(issue)
    if kind == "NetworkSecurityRule":
        rule = parse_rule_name(issue.rule_name)
        default = "Azure default " if rule.is_default else ""
        return f"the {direction + ' ' if direction else ''}{default}NSG rule {rule.label}{at}"
    if kind == "UserDefinedRoute":
        route = parse_route(issue)
        words = {"User route": "a user-defined route", "System route": "a system route"}.get(
            route.kind_words, "a route")
        return f"{words} to next hop {route.next_hop_type}{at}"
    if kind == "NoListenerOnDestination":
        return f"nothing listening on the destination port{at}"
    return f"{issue_info(issue.type).short.lower()}{at}"


def verdict_sentence(result: ConnectivityResult) -> str:
    """The verdict in one sentence: who reaches whom, what blocks it and where, probe figures."""
    src = _endpoint(result.source, "the source")
    dest = destination_name(result)
    status = result.status.lower()
    if result.reachable:
        latency = _latency(result)
        tail = f", {latency}" if latency else ""
        if result.probe_loss:
            return (f"{src} reaches {dest}, but {_probes(result)} "
                    f"({result.probe_loss:.0%} loss){tail}.")
        return f"{src} reaches {dest}: {_probes(result)}{tail}."
    if status_verdict(False, status) == "unknown":
        return (f"The check from {src} to {dest} ended with status '{result.status}': "
                f"{_probes(result)}.")
    verb = ("cannot reach" if status_verdict(False, status) != "degraded"
            else "reaches with degraded connectivity")
    issue = blocking_issue(result)
    if issue is None and _ends_at_appliance(result):
        return (f"{src} {verb} {dest}: the probes reach the virtual appliance "
                f"{result.hops[-1].address} and go no further ({_probes(result)}); the appliance "
                "does not forward them (IP forwarding off, a loop, or the appliance is stopped).")
    if issue is None:
        return (f"{src} {verb} {dest}: no answer came back ({_probes(result)}) and the service "
                f"named no cause; the destination may be stopped or deallocated, or not answering "
                f"on this port.")
    sent, failed = result.probes_sent, result.probes_failed or 0
    if sent is None:
        drops = "blocks the path (no probe figures)"
    elif sent and failed >= sent:
        drops = f"drops every probe ({failed} of {sent} failed)"
    else:
        drops = f"drops {failed} of {sent} probes"
    return f"{src} {verb} {dest}: {_verdict_phrase(issue)} {drops}."


# -- errors ---------------------------------------------------------------------------------


def _error_parts(exc: BaseException) -> tuple[str, str, str | None]:
    """(heading, message, fix) for any exception, without repeating the fix inside the message."""
    from nwlab.arm.errors import CheckCancelled, NwlabError

    fix: str | None = None
    message = str(exc) or type(exc).__name__
    if isinstance(exc, CheckCancelled):
        heading = "Check stopped"
        fix = exc.fix
    elif isinstance(exc, NwlabError):
        heading = _words(type(exc).__name__)
        fix = exc.fix
        if fix and message.endswith(f" Fix: {fix}"):
            message = message[: -len(f" Fix: {fix}")]
    elif isinstance(exc, (ValueError, TypeError)):
        heading = "Invalid input"
    elif isinstance(exc, TimeoutError):
        heading = "Timed out"
        fix = "Try again with a larger timeout."
    else:
        heading = f"Unexpected error ({type(exc).__name__})"
        fix = ("This may be a bug in nwlab or an answer it does not understand; run the check "
               "again, and report it with the message above if it persists.")
    return heading, message, fix


def _words(class_name: str) -> str:
    """`PreflightError` -> `Preflight error`, `ArmError` -> `Azure Resource Manager error`."""
    if class_name == "ArmError":
        return "Azure Resource Manager error"
    if class_name == "NwlabError":
        return "nwlab error"
    spaced = re.sub(r"(?<=[a-z])(?=[A-Z])", " ", class_name)
    return spaced[:1] + spaced[1:].lower()


def error_text(exc: BaseException) -> str:
    """An exception as readable lines: what went wrong and, when known, the fix."""
    heading, message, fix = _error_parts(exc)
    lines = [f"{heading}: {message}"]
    if fix:
        lines.append(f"Fix: {fix}")
    return "\n".join(lines)


def error_html(exc: BaseException) -> str:
    """An exception as an inline HTML box (icon + words, escaped), used instead of a traceback."""
    heading, message, fix = _error_parts(exc)
    esc = html.escape
    parts = [
        '<div class="nwlab-error" role="alert" style="border-left:4px solid #D55E00;'
        "background:rgba(213,94,0,0.08);padding:6px 10px;margin:4px 0;color:inherit;"
        'font-family:inherit;line-height:1.4">',
        f'<div><strong>&#x2716; {esc(heading)}</strong>: {esc(message)}</div>',
    ]
    if fix:
        parts.append(f"<div><strong>Fix:</strong> {esc(fix)}</div>")
    parts.append("</div>")
    return "".join(parts)
