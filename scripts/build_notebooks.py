"""Build the notebooks from the cell lists below and execute them in place (`make notebooks`).

Notebooks are committed with their outputs and validated by nbval, so they are only ever written
by this script: edit the cells here, run `make notebooks`, commit both.
Execution uses nbclient (what `jupyter execute` uses), with the kernel's cwd in notebooks/ as under
nbval, and PLOTLY_RENDERER=plotly_mimetype so stored figures match CI.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"

Cell = tuple[str, str]  # ("md" | "code", source)


def md(text: str) -> Cell:
    return ("md", text.strip("\n"))


def code(text: str) -> Cell:
    return ("code", text.strip("\n"))


QUICKSTART: list[Cell] = [
    md("""
# Quickstart: the four documented connection-troubleshoot checks

**What this teaches.** How to run an Azure Network Watcher *connection troubleshoot* check from
Python, and how to read what comes back: the verdict, every hop on the path, the NSG rule or route
that blocks it, latency and probe loss. The four checks are the ones Microsoft documents for the
REST API, replayed from recordings, so this notebook runs offline with no Azure subscription.

Swap `nwlab.replay()` for `nwlab.connect("<subscription-id>")` to run the same cells live.
"""),
    code("""
import nwlab

nw = nwlab.replay()   # recorded exchanges: nothing leaves this machine, nothing sleeps
nw
"""),
    md("""
## 1. VM to VM through two virtual appliances: an NSG rule blocks port 80

`MultiTierApp0` (10.1.1.4) talks to `Database0` (10.1.4.4). User routes send the traffic through
a firewall appliance (10.1.2.4) and an auditing appliance (10.1.3.4). The auditing appliance's NSG
has an outbound rule `Port80` that denies port 80, so no probe arrives.

*What it teaches:* the service traces the whole path even after the block, and puts the issue on
the hop whose NIC or subnet holds the NSG (`UserRule_` = a rule you wrote).
"""),
    code("""
blocked = nw.check("MultiTierApp0", "Database0", 80, resource_group="ContosoRG")
blocked
"""),
    code("""
print(blocked)
"""),
    code("""
for finding in blocked.explain():
    print(finding)
    print()
"""),
    md("""
The path figure lays the hops out left to right; the hop with the issue is drawn as a red cross,
and its hover text names the rule. The Sankey figure shows where the probes go: all 100 leave the
path at the auditing appliance.
"""),
    code("""
blocked.path_figure()
"""),
    code("""
blocked.sankey_figure()
"""),
    code("""
import pandas as pd

pd.set_option("display.max_colwidth", None)  # pandas cuts cells at 50 characters: show issues whole
blocked.hops_frame()[["hop", "type", "address", "name", "next_hops", "issues"]]
"""),
    md("""
## 2. VM to a public IP: a user-defined route drops it

`13.107.21.200` is one of bing.com's addresses. A route in the app subnet's route table sends
`13.107.21.200/32` to next hop *None*, so the packets are dropped at the source.

*What it teaches:* routing problems are reported as `UserDefinedRoute`, with `RouteType` `User`
(your route table) or `Default` (a system route), on the hop that routes. The destination hop is
typed `Destination` with resource id `Unknown`: the service never reached it.
"""),
    code("""
routed = nw.check("MultiTierApp0", "13.107.21.200", 80, resource_group="ContosoRG")
print(routed)
routed.issues_frame()[["hop", "hop_type", "hop_address", "origin", "type", "route_type"]]
"""),
    md("""
## 3. VM to a website: latency

With a URL as destination the port comes from the scheme. The check succeeds and reports latency
(minimum, average, maximum in ms) and probe counts; the Internet hop's address is where the name
resolved.

*What it teaches:* latency figures only exist for reachable destinations; the service omits them
otherwise.
"""),
    code("""
website = nw.check("MultiTierApp0", "https://bing.com", resource_group="ContosoRG")
print(website.summary())
website.hops_frame()[["hop", "type", "address", "name"]]
"""),
    md("""
## 4. VM to a storage endpoint

The same check against a blob storage endpoint: the path leaves Azure's network through the
Internet hop.
"""),
    code("""
storage = nw.check("MultiTierApp0", "https://build2017nwdiag360.blob.core.windows.net/",
                   resource_group="ContosoRG")
storage
"""),
    md("""
## The raw answer

`to_dict()` gives the service's JSON back exactly (REST shape), and
`nwlab.ConnectivityResult.from_dict()` reads it again: results can be stored and shared.
"""),
    code("""
same = nwlab.ConnectivityResult.from_dict(blocked.to_dict())
same == blocked, sorted(blocked.to_dict())
"""),
]

FORM: list[Cell] = [
    md("""
# Troubleshoot with the form

**What this teaches.** How to run checks without writing code: pick the source VM from the
inventory, type a destination (a VM, an IP address, a host name or a URL), choose port and
protocol, and press **Run**. The check runs in the background, so the notebook stays responsive;
the progress line shows elapsed time and polls; the verdict, the findings with their fixes, both
figures and the hop table appear inside the form. Mistakes are explained inline, with what to type
instead.

This notebook uses recorded answers (`nwlab.replay()`), so it runs offline. With
`nwlab.connect(...)` or `nwlab.emulate()` the same form works against Azure or the emulator.
"""),
    code("""
import nwlab
from nwlab.widgets import CheckForm

nw = nwlab.replay()
form = CheckForm(nw)
form
"""),
    md("""
A mistake is explained in the form, with what to type instead and the field named as the form
labels it, never as a traceback. Below, the form is filled from code (what typing into it does)
with an address that cannot exist:
"""),
    code("""
form.fill(resource_group="ContosoRG", vm="MultiTierApp0", destination="10.1.1.300", port=80)
form.run.click()
form.wait()
print(form.status_text)
"""),
    md("""
Corrected, the check runs in the background; `form.wait()` is only needed in a script, a user just
watches the progress line. The verdict, the findings, both figures and the hop table appear inside
the form above (the refusal is gone: a form never shows an old message beside a new result); the
result is also a normal Python object:
"""),
    code("""
form.fill(destination="13.107.21.200", port=80)
form.run.click()
result = form.wait()
print(result.summary())
"""),
    md("""
Replay answers only what was recorded, so the lists offer exactly that: the source, the
destinations and the ports of the recorded checks. Anything else is refused in one line before a
request is sent; `nwlab.emulate()` answers any check, with the same form.

The form keeps what was typed when its cell is run again (values are remembered per client), so
re-running the notebook does not lose a half-filled check.
"""),
]

TEACHING: list[Cell] = [
    md("""
# Teaching NSGs and routes with the emulator

**What this teaches.** How Azure decides whether a packet gets through, one idea per exercise:
NSG rules are evaluated by priority and the first match wins; outbound rules filter traffic leaving
a NIC or subnet and inbound rules traffic arriving; Azure's default rules allow everything inside
the virtual network; an NSG that allows is not the end (the guest firewall and a listener matter
too); a route to next hop *None* drops; a virtual appliance must forward. Each exercise: **predict**
the verdict, **run** the check, **change** one rule or route with the same REST call you would send
to Azure, **run** again.

`nwlab.emulate()` starts a local Network Watcher on 127.0.0.1 over the bundled Contoso network
(the one Microsoft's documents use), so nothing here needs a subscription.
"""),
    code("""
import nwlab

nw = nwlab.emulate(check_seconds=0.2, retry_after=0.1)
RG = ("/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/ContosoRG"
      "/providers/Microsoft.Network")
nw.list_vms("ContosoRG")[["name", "location", "power_state", "agent"]]
"""),
    md("""
## Exercise 1: an outbound rule on an appliance

`MultiTierApp0` reaches `Database0` through two appliances. The second one, `Auditor0`
(10.1.3.4), has an NSG `AuditNsg` with an outbound rule `Port80` (priority 100, deny TCP 80).

**Predict:** does port 80 get through? Does port 1433?
"""),
    code("""
for port in (80, 1433):
    r = nw.check("MultiTierApp0", "Database0", port, resource_group="ContosoRG")
    print(f"port {port}: {r.summary()}")
    for issue in r.issues:
        print("   ", issue.hop_address, issue.describe())
"""),
    md("""
Now delete the rule, with the same `DELETE .../securityRules/Port80` a user would send to Azure,
and predict again.
"""),
    code("""
nw.delete_security_rule(f"{RG}/networkSecurityGroups/AuditNsg", "Port80")
print(nw.check("MultiTierApp0", "Database0", 80, resource_group="ContosoRG"))
"""),
    md("""
## Exercise 2: inbound rules, the guest firewall and listeners

`WebVM0` (10.1.5.4) talks to `Database0` directly. The database subnet's NSG `DbNsg` allows 1433
from the web subnet (priority 100) and denies 3389 from it (priority 110). Inside the VM, the guest
firewall refuses 22, and nothing listens on 5432.

**Predict** the four answers before running the cell: an NSG is only the first of three gates.
"""),
    code("""
for port in (1433, 3389, 22, 5432):
    r = nw.check("WebVM0", "Database0", port, resource_group="ContosoRG")
    cause = "; ".join(i.describe() for i in r.issues) or "-"
    print(f"port {port:>4}: {r.status:<11} {cause}")
"""),
    md("""
## Exercise 3: Azure's default rules

Delete `AllowSqlFromWeb`. **Predict:** is 1433 blocked now? Azure's default inbound rule
`AllowVnetInBound` (priority 65000) allows any traffic from inside the virtual network, so removing
an allow rule does not block anything. To block, add a *deny* for the `VirtualNetwork` service tag.
"""),
    code("""
db_nsg = f"{RG}/networkSecurityGroups/DbNsg"
nw.delete_security_rule(db_nsg, "AllowSqlFromWeb")
print("allow rule removed:", nw.check("WebVM0", "Database0", 1433,
                                      resource_group="ContosoRG").summary())
nw.set_security_rule(db_nsg, "DenyVnetSql", priority=4000, direction="Inbound", access="Deny",
                     protocol="Tcp", sourceAddressPrefix="VirtualNetwork", sourcePortRange="*",
                     destinationAddressPrefix="*", destinationPortRange="1433")
blocked = nw.check("WebVM0", "Database0", 1433, resource_group="ContosoRG")
print("deny VirtualNetwork:", blocked.summary(), [i.rule_name for i in blocked.issues])
nw.delete_security_rule(db_nsg, "DenyVnetSql")  # undo, so the next exercise starts clean
"""),
    md("""
## Exercise 4: priority decides

On the auditing appliance, add a *deny* rule for port 1433 at priority 200 and an *allow* rule for
the same port at priority 100. Which wins? (Lower number, higher priority: the first match wins.)
"""),
    code("""
audit_nsg = f"{RG}/networkSecurityGroups/AuditNsg"
nw.set_security_rule(audit_nsg, "DenySql", priority=200, direction="Outbound", access="Deny",
                     protocol="Tcp", sourceAddressPrefix="*", sourcePortRange="*",
                     destinationAddressPrefix="*", destinationPortRange="1433")
denied = nw.check("MultiTierApp0", "Database0", 1433, resource_group="ContosoRG")
print("deny only:     ", denied.summary(), [i.rule_name for i in denied.issues])
nw.set_security_rule(audit_nsg, "AllowSql", priority=100, direction="Outbound", access="Allow",
                     protocol="Tcp", sourceAddressPrefix="*", sourcePortRange="*",
                     destinationAddressPrefix="*", destinationPortRange="1433")
print("allow at 100:  ", nw.check("MultiTierApp0", "Database0", 1433,
                                  resource_group="ContosoRG").summary())
"""),
    md("""
## Exercise 5: a route to nowhere

The app subnet's route table sends `13.107.21.200/32` to next hop *None*. **Predict:** what
happens to a check to that address, and what happens when the route is removed?
"""),
    code("""
app_routes = f"{RG}/routeTables/AppRouteTable"
before = nw.check("MultiTierApp0", "13.107.21.200", 80, resource_group="ContosoRG")
nw.delete_route(app_routes, "BlockBing")
after = nw.check("MultiTierApp0", "13.107.21.200", 80, resource_group="ContosoRG")
print("with the route:   ", before.summary(), [i.describe() for i in before.issues])
print("without the route:", after.summary(), [h.type for h in after.hops])
"""),
    md("""
## Exercise 6: an appliance must forward

Send the app subnet's traffic for the web subnet through `Jumpbox0` (10.1.6.4), a VM whose NIC does
not have IP forwarding enabled. **Predict:** Azure delivers to a VM only what is addressed to it
unless its NIC forwards, so the packets stop at the jump box.
"""),
    code("""
nw.set_route(app_routes, "ToWebViaJumpbox", addressPrefix="10.1.5.0/24",
             nextHopType="VirtualAppliance", nextHopIpAddress="10.1.6.4")
stuck = nw.check("MultiTierApp0", "WebVM0", 80, resource_group="ContosoRG")
print(stuck)
print()
print(stuck.explain()[0])
"""),
    md("""
## What the path looks like

The figure shows the last VM-to-VM check through the two appliances after the changes: both are
still in the path (the user routes send traffic through them), and nothing drops it.
"""),
    code("""
nw.check("MultiTierApp0", "Database0", 80, resource_group="ContosoRG").path_figure()
"""),
    code("""
nw.close()
"""),
]

MESH: list[Cell] = [
    md("""
# Mesh checks: a tier at once, before and after a change

**What this teaches.** How to check many paths at once (every app VM to every database on every
port) with `nw.check_many()`, read the answer as a table and a heatmap, and compare two runs to see
exactly what a change fixed or broke. Checks run concurrently within Azure's write budget
(1,000 writes per 5 minutes per subscription and region by default), so a mesh takes about as long
as its slowest check instead of one check after another.

This notebook runs against the local emulator (`nwlab.emulate()`), so it needs no subscription.
"""),
    code("""
import nwlab
from nwlab.batch import mesh

nw = nwlab.emulate(check_seconds=0.2, retry_after=0.1)
checks = mesh(["MultiTierApp0", "WebVM0"], ["Database0", "WebVM0"], [80, 1433, 3389],
              resource_group="ContosoRG")
len(checks)
"""),
    md("""
## Before

Each row is one check: the verdict and, when it fails, the cause in words first, then the inputs,
latency and probe loss. `before.frame()` holds the same as a DataFrame, one row per check.
"""),
    code("""
before = nw.check_many(checks)
before
"""),
    code("""
before.heatmap_figure()
"""),
    md("""
## The change

The auditing appliance's NSG denies outbound port 80 (`Port80`). Remove it, with the same REST
call you would send to Azure, and run the same mesh again.
"""),
    code("""
audit_nsg = ("/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/ContosoRG"
             "/providers/Microsoft.Network/networkSecurityGroups/AuditNsg")
nw.delete_security_rule(audit_nsg, "Port80")
after = nw.check_many(checks)
print(after.summary())
"""),
    md("""
## What changed

`before.compare(after)` lists only the checks whose verdict or cause changed, with before and
after side by side: deleting `Port80` fixed exactly one path.
"""),
    code("""
changes = before.compare(after)
changes[["source", "destination", "port", "verdict_before", "verdict_after", "cause_before"]]
"""),
    md("""
Batches can be saved as JSON lines and loaded later (for example to compare with tomorrow's run),
and the Sankey figure shows where the checks end up.
"""),
    code("""
after.sankey_figure()
"""),
    md("""
## The same from a form

`BatchForm` picks the sources from the inventory, takes destinations and ports as text, runs the
mesh in the background (the progress bar counts checks as they end; Stop cancels the rest and
every check is still accounted for) and shows the table, the heatmap and the Sankey inside the form.
Below it is filled and run from code, which is what typing and pressing **Run mesh** do.
"""),
    code("""
from nwlab.widgets import BatchForm

form = BatchForm(nw)
form
"""),
    code("""
form.fill(sources=["MultiTierApp0", "WebVM0"], destinations=["Database0"], ports=[1433, 3389],
          resource_group="ContosoRG")
form.run.click()
print(form.wait().summary())
"""),
    md("""
The form stays live: change a field above and press **Run mesh** again. The emulator stops when
the kernel does (`nw.close()` would stop it now, and the form with it).
"""),
]

SHARING: list[Cell] = [
    md("""
# Share a diagnosis safely

**What this teaches.** How to hand a diagnosis to a colleague, a ticket or a class without leaking
anything: `result.redact()` replaces subscription and tenant ids (and, if you ask, resource names
and IP addresses) with stable pseudonyms while keeping the verdict, the hops and the issues;
`nwlab.report.export_html()` writes one self-contained HTML file with the findings and both
figures, which opens offline (plotly.js is inside the file, no script is fetched).

This notebook replays recorded checks, so it runs offline.
"""),
    code("""
import nwlab
from nwlab.report import export_html

nw = nwlab.replay()
blocked = nw.check("MultiTierApp0", "Database0", 80, resource_group="ContosoRG")
routed = nw.check("MultiTierApp0", "13.107.21.200", 80, resource_group="ContosoRG")
print(blocked)
"""),
    md("""
## Redact

By default subscription and tenant ids, every other GUID, people, tags and the rule names are
replaced. With `names=True` and `addresses=True` the VM, NIC and resource group names and the IP
addresses become pseudonyms too: the same real value always gets the same pseudonym within one
redaction, so the path still reads as a path. `keep_rule_names=True` keeps the names of the rules
that block, which is what a colleague needs to fix them.
"""),
    code("""
shared = blocked.redact(names=True, addresses=True, keep_rule_names=True)
print(shared)
shared.hops[0].resource_id
"""),
    md("""
The verdict and the cause are untouched; that is what the colleague needs:
"""),
    code("""
(shared.status, shared.probes_failed, [i.rule_name for i in shared.issues])
"""),
    md("""
## Export one HTML file

`export_html` takes one result, a list of results or a batch. `redact=True` is the default. The
file below is written to a temporary folder; open it in any browser, even without a network.
"""),
    code("""
import pathlib
import tempfile

folder = pathlib.Path(tempfile.mkdtemp())
report = export_html([blocked, routed], folder / "diagnosis.html", names=True, addresses=True,
                     keep_rule_names=True)
page = report.read_text(encoding="utf-8")
print(f"wrote {report.name} ({report.stat().st_size // 1024} KiB) in the temporary folder")
print("sections:", page.count("<section>"))
print("loads a script from the network:", "<script src=" in page)
print("mentions appNic0:", "appNic0" in page, "| names the blocking rule:", "UserRule_Port80" in page)
"""),
    md("""
## Or share the data

A redacted result is still a result: `to_dict()` is the service's JSON shape, and
`ConnectivityResult.from_dict()` reads it back on the other side.
"""),
    code("""
again = nwlab.ConnectivityResult.from_dict(shared.to_dict())
again == shared
"""),
]

LANDING_ZONE: list[Cell] = [
    md("""
# How traffic crosses a landing zone

**What this teaches.** An enterprise estate is more than NSGs and routes: an internal load
balancer only sends to backends whose health probe gets in, a *private* subnet has no way out to
the Internet unless something gives it one, a scale set's instances are sources like VMs, a
dual-stack subnet carries IPv6 beside IPv4, and the hub's Azure Firewall, VPN gateway and private
endpoints decide the rest. Each exercise: **predict** the verdict, **run** the check, **change**
one thing with the call you would send to Azure, **run** again.

`nwlab.emulate("landing-zone")` starts the bundled estate (docs/twin.md): a hub with Azure
Firewall, a VPN gateway to an on-premises site and a jump box; spoke `spoke-web` with an internal
load balancer (10.1.2.100) before `web1` and `web2`; spoke `spoke-app` with `app1`, a private
endpoint for the storage account `stlzdata` and `worker1` in a private subnet; spoke `spoke-data`,
dual stack, with the scale set `api` behind a NAT gateway and `dual1`.

Where the twin does not model a part yet, or Azure does not document what happens, it says so:
every result lists the **assumptions** its path rests on.
"""),
    code("""
import nwlab

nw = nwlab.emulate("landing-zone", check_seconds=0.2, retry_after=0.1)
RG = "landing-zone"
NET = ("/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/landing-zone"
       "/providers/Microsoft.Network")


def show(result):
    \"\"\"The verdict, the path, the issues and the assumptions, one line each.\"\"\"
    print(result.summary())
    print("   path:", " -> ".join(f"{h.type} {h.address}" for h in result.hops))
    for issue in result.issues:
        print("   issue:", issue.describe())
    for note in result.assumptions:
        print("   assumed:", note.code, "-", note.assumed[:110])


nw.list_vms(RG)[["name", "power_state", "agent"]]
"""),
    md("""
## Exercise 1: a load-balanced web tier

The jump box (10.0.3.4) calls the web tier through the internal load balancer's frontend
10.1.2.100 on 443. The rule `https` sends 443 to the pool `web-pool` (web1, web2) if the probe
`https-probe` (TCP 443) finds them healthy. Probes come from **168.63.129.16** (the
`AzureLoadBalancer` service tag), and the backends' NSGs must let them in.

**Predict:** reachable? Which VM answers?
"""),
    code("""
show(nw.check("jump", "10.1.2.100", 443, resource_group=RG))
"""),
    md("""
Now someone *tightens* the web NSG: `allow-https-to-web` admits only `10.0.0.0/8` instead of
`VirtualNetwork`, and the catch-all `deny-rest-inbound` denies every other source. **Predict:**
can the jump box (10.0.3.4, inside 10.0.0.0/8) still reach the web tier through the load balancer?
And web1 directly?
"""),
    code("""
web_nsg = f"{NET}/networkSecurityGroups/web-nsg"
asg_web = [{"id": f"{NET}/applicationSecurityGroups/asg-web"}]
nw.set_security_rule(web_nsg, "allow-https-to-web", priority=100, direction="Inbound",
                     access="Allow", protocol="Tcp", sourceAddressPrefix="10.0.0.0/8",
                     sourcePortRange="*", destinationApplicationSecurityGroups=asg_web,
                     destinationPortRange="443")
nw.set_security_rule(web_nsg, "deny-rest-inbound", priority=4000, direction="Inbound",
                     access="Deny", protocol="*", sourceAddressPrefix="*", sourcePortRange="*",
                     destinationAddressPrefix="*", destinationPortRange="*")
print("through the load balancer:")
show(nw.check("jump", "10.1.2.100", 443, resource_group=RG))
print("web1 directly:")
show(nw.check("jump", "web1", 443, resource_group=RG))
"""),
    md("""
The probe's 168.63.129.16 is not in 10.0.0.0/8, so `deny-rest-inbound` drops the probes, both
backends are marked down and the load balancer sends nothing, although every client is allowed.
The fix is an inbound allow for the `AzureLoadBalancer` tag above the deny (Azure's default rule
`AllowAzureLoadBalancerInBound` does this at 65001, which is why a catch-all deny at 4000 hides it):
"""),
    code("""
nw.set_security_rule(web_nsg, "allow-lb-probe", priority=3900, direction="Inbound",
                     access="Allow", protocol="Tcp", sourceAddressPrefix="AzureLoadBalancer",
                     sourcePortRange="*", destinationAddressPrefix="*",
                     destinationPortRange="443")
show(nw.check("jump", "10.1.2.100", 443, resource_group=RG))
"""),
    md("""
## Exercise 2: a private subnet

`worker1` (10.2.3.4) sits in the subnet `private`, created with `defaultOutboundAccess: false`.
There is no NAT gateway on it, no public IP on its NIC and no load balancer outbound rule.

**Predict:** can it reach the Internet (13.107.21.200:443)? Can it reach `app1` next door?
"""),
    code("""
show(nw.check("worker1", "13.107.21.200", 443, resource_group=RG))
show(nw.check("worker1", "app1", 8080, resource_group=RG))
"""),
    md("""
Private subnets lose only *default* outbound access: private addresses are unaffected. Azure
documents no `connectivityCheck` issue for "no outbound path", so the twin answers Unreachable with
no issue and says what it assumed. The documented ways out are a NAT gateway on the subnet, a
public IP on the NIC, a load balancer outbound rule, or a default route to an appliance such as
the hub's firewall.

## Exercise 3: a scale set instance

The scale set `api` (Uniform) has two instances, 10.3.1.4 and 10.3.1.5, in a subnet with the NAT
gateway `data-natgw`. Connection troubleshoot lists scale sets among its *sources*; a check runs
from one instance, named by its instance id.

**Predict:** does instance 0 reach the Internet? Which address does it leave with?
"""),
    code("""
VMSS = ("/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/landing-zone"
        "/providers/Microsoft.Compute/virtualMachineScaleSets/api")
show(nw.check(f"{VMSS}/virtualMachines/0", "13.107.21.200", 443))
"""),
    md("""
It leaves through the NAT gateway: on a subnet with one, the NAT gateway outranks every other
method, and its public IP (20.50.0.9) is the source address the far end sees. As a
*destination*, a scale set instance is not documented, so `check()` refuses it before any
request and says what to give instead:
"""),
    code("""
try:
    nw.check("jump", f"{VMSS}/virtualMachines/1", 8443, resource_group=RG)
except ValueError as exc:
    print(exc)
show(nw.check("jump", "10.3.1.5", 8443, resource_group=RG))
"""),
    md("""
## Exercise 4: a dual-stack subnet

`spoke-data` has `10.3.0.0/16` and `fd00:db8:3::/48`; `dual1` has 10.3.2.4 and fd00:db8:3:2::4.
**Predict:** does an IPv4 check from `dual1` to the scale set work? Does the IPv6 one?
"""),
    code("""
show(nw.check("dual1", "10.3.1.4", 8443, resource_group=RG))
show(nw.check("dual1", "fd00:db8:3:1::4", 8443, resource_group=RG, ip_version="IPv6"))
"""),
    md("""
Both are reachable, each family on its own: the IPv6 probe leaves from `dual1`'s IPv6
configuration, takes the VNet's IPv6 range (`VnetLocal`) and is let in by `data-nsg`'s rule
`allow-api-v6` (source `fd00:db8::/32`, port 8443); the IPv4 one by `allow-api-from-spokes`.
Azure's routing article lists no IPv6 system routes, so the twin says which it assumed
(`ASSUME_IPV6_SYSTEM_ROUTES`), and that it drew the IPv6 hops like IPv4 ones
(`ASSUME_IPV6_HOPS`).

**Change:** ask for IPv6 from `jump`, whose NIC has no IPv6 configuration. **Predict:** an
Unreachable verdict, or a refusal?
"""),
    code("""
try:
    nw.check("jump", "fd00:db8:3:1::4", 8443, resource_group=RG, ip_version="IPv6")
except Exception as exc:  # the twin refuses the request before any walk
    print(type(exc).__name__, exc)
"""),
    md("""
A refusal: a source without an address of the chosen family cannot take part, so the request is
refused (400) with what to send instead, not reported as Unreachable.

## Exercise 5: spoke to spoke through the firewall

Every spoke's route table sends `10.0.0.0/8` and `0.0.0.0/0` to the firewall's private IP
10.0.1.4. The firewall policy allows `spoke-web` to reach `spoke-app` on 8080 and nothing else
between spokes. **Predict:** `web1` to `app1` on 8080? `app1` to `web1` on 443?
"""),
    code("""
show(nw.check("web1", "app1", 8080, resource_group=RG))
show(nw.check("app1", "web1", 443, resource_group=RG))
"""),
    md("""
The first flow crosses the hub: the firewall's network rule allows it, and it is drawn as a
`VirtualAppliance` hop at 10.0.1.4 (the service's drawing of a firewall is undocumented, so the
twin says it assumed it). The second meets the policy's default deny. No documented
connectivity-check issue names a firewall rule, so the hop carries no issue and the assumption
`ASSUME_FIREWALL_DENY` names the rule that decided: that is where to look in the policy.
**Change:** a rule collection that allows `spoke-app` to `spoke-web` on 443 would open it.
"""),
    md("""
## Exercise 6: a private endpoint by name

`app1` calls `https://stlzdata.blob.core.windows.net`. The private DNS zone
`privatelink.blob.core.windows.net`, linked to every VNet, resolves the name to the private
endpoint's 10.2.2.5. **Predict:** which address does the check go to, and does it answer?
"""),
    code("""
show(nw.check("app1", "https://stlzdata.blob.core.windows.net", resource_group=RG))
"""),
    md("""
## Exercise 7: on-premises through the VPN gateway

The jump box admits SSH from on-premises (192.168.0.0/16, the local network gateway
`onprem-site`). **Predict:** can the jump box reach 192.168.1.10 on 22? Which hop does the packet
leave by?
"""),
    code("""
show(nw.check("jump", "192.168.1.10", 22, resource_group=RG))
nw.close()
"""),
    md("""
The storage name resolved through the private DNS zone to the endpoint's 10.2.2.5, which answers
on 443 (the blob service's port). On-premises traffic leaves by a `VirtualNetworkGateway` hop:
the VPN gateway's routes for 192.168.0.0/16 replace the system route to *None*. What lies beyond
the gateway is outside the twin, so the verdict there is an assumption (`ASSUME_GATEWAY_BEYOND`):
Azure itself would test the on-premises end.
"""),
]

MONITOR: list[Cell] = [
    md("""
# Keep watching: the mesh as a Connection Monitor on the twin

**What this teaches.** How to hand the mesh of notebook 04 to Azure Connection Monitor
(`batch.to_monitor()`), which keeps probing it on a schedule and writes what it finds to Azure
Monitor metrics and Log Analytics; how to break a rule in the middle of the run and read the failure
window back (`m.results()`, one row per test and minute); and how the monitor's view compares with
an ad-hoc mesh run now.

This notebook runs against the local emulator, which runs Connection Monitor too. Its clock runs
ten times faster than real time (`time_scale=10`), and the notebook moves it forward
(`nw.emulator.clock.advance(...)`) to put the change at an exact minute of the run.
"""),
    code("""
import nwlab
from nwlab.batch import mesh

nw = nwlab.emulate(check_seconds=0, retry_after=0, time_scale=10)
checks = mesh(["MultiTierApp0", "WebVM0"], ["Database0", "WebVM0"], [80, 1433, 3389],
              resource_group="ContosoRG")
before = nw.check_many(checks)
print(before.summary())
"""),
    md("""
## Promote the mesh

One Connection Monitor per source region (here one, in westcentralus): an endpoint per VM, a test
configuration per port, test groups covering exactly the checks of the mesh, and the results sent
to a Log Analytics workspace. The limits Azure documents are checked before anything is sent.
"""),
    code("""
workspace = ("/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/monitor-rg"
             "/providers/Microsoft.OperationalInsights/workspaces/nwlab-law")
m = before.to_monitor("contoso-mesh", nw, workspace=workspace, frequency_s=60)
m
"""),
    code("""
m.status().frame()[["region", "provisioning_state", "monitoring_status", "tests"]]
"""),
    md("""
## Break a rule before minute 5

Four and a half minutes into the run, someone flips the database NSG's `AllowSqlFromWeb` rule to
Deny, with the same REST call you would send to Azure. The monitor's tests from minute 5 on
probe the changed network; the earlier ones keep what they saw.
"""),
    code("""
clock = nw.emulator.clock
clock.advance(4 * 60 + 30)
db_nsg = ("/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/ContosoRG"
          "/providers/Microsoft.Network/networkSecurityGroups/DbNsg")
nw.set_security_rule(db_nsg, "AllowSqlFromWeb", priority=100, direction="Inbound",
                     access="Deny", protocol="Tcp", sourceAddressPrefix="10.1.5.0/24",
                     sourcePortRange="*", destinationAddressPrefix="*",
                     destinationPortRange="1433")
_ = clock.advance(5 * 60 + 30)  # ten minutes of the run in all
"""),
    md("""
## Read the failure window back

`m.results(since="1h")` reads the metrics (on ARM, with the ARM token) and the workspace's
`NWConnectionMonitorTestResult` rows (on Log Analytics' own origin, with its own token). Below, the
test that broke, minute by minute from the start of the run.
"""),
    code("""
res = m.results(since="1h")
frame = res.frame()
start = frame["time"].min()
frame["minute"] = ((frame["time"] - start).dt.total_seconds() // 60).astype(int)
sql = frame[(frame["source"] == "WebVM0") & (frame["configuration"] == "tcp-1433")]
sql[["minute", "source", "destination", "configuration", "test_result",
     "checks_failed_percent", "checks_total", "checks_failed"]].reset_index(drop=True)
"""),
    code("""
failing = frame[frame["test_result"] == "Fail"]
window = failing[failing["configuration"] == "tcp-1433"].groupby(["source", "destination"])["minute"]
window.agg(["min", "max", "count"]).rename(columns={"min": "first_failed_minute",
                                                     "max": "last_failed_minute",
                                                     "count": "failed_minutes"})
"""),
    md("""
The path the monitor logged when the result changed names the rule that now blocks it:
"""),
    code("""
changed = [row for row in res.path_rows
           if row["SourceName"] == "WebVM0" and row["TestConfigurationName"] == "tcp-1433"]
[(row["PathTestResult"], row["Issues"]) for row in changed]
"""),
    md("""
The figures draw every test over time (their axes are the twin's clock, so they differ from run
to run):
"""),
    code("""
# NBVAL_IGNORE_OUTPUT
res.failures_figure()
"""),
    md("""
## Compare with an ad-hoc mesh

An ad-hoc mesh run now answers "can these talk now?"; the monitor answers "since when not?".
`res.compare(batch)` puts them side by side: the monitor's latest result, its failed minutes in the
window, and whether the two agree.
"""),
    code("""
after = nw.check_many(checks)
compared = res.compare(after)
compared[["source", "destination", "port", "adhoc_verdict", "monitor_result", "failed_buckets",
          "agree"]]
"""),
    code("""
m.delete()
nw.list_monitors().empty
"""),
]



ONE_DIAGNOSIS: list[Cell] = [
    md("""
# One diagnosis: every Network Watcher test at once, a fix proven on the twin

**What this teaches.** How to ask one question - "why can't A reach B, and what do I change?" -
and get one answer: `nw.diagnose()` runs the connectivity check and, at the same time, the tests
that explain it (NSG diagnostic and IP flow verify at each end, next hop and effective routes at
the source, and the same at the hop that drops). The answer names the exact rule in the exact NSG,
the fixes (the `az` command and the REST request), and can prove a fix on a copy of the twin
before anything in Azure is touched. Last, a live answer and the twin's are reconciled test by
test, and a disagreement is explained.

Everything here runs offline: the documented checks from recordings, the rest on the bundled
Contoso twin (the estate the documented checks were run against).
"""),
    md("""
## 1. A documented check, from the recordings

The recordings hold every request `diagnose()` makes for the documented check: the connectivity
check is Azure's documented exchange; Azure documents no answer for the tests that explain it, so
theirs were recorded from the twin of the same documented estate (consistent with the documented
check, and each cassette's note says so). So replay gives the whole diagnosis offline: the rule,
its NSG and the fixes. The recorded watcher does not offer the `connectionAnalyzers` bundle (the
documents predate it), so the tests ran as separate calls, and `via` says why. A request nobody
recorded is an error naming it, never an invented answer.
"""),
    code("""
import nwlab

recorded = nwlab.replay()
d = recorded.diagnose("MultiTierApp0", "Database0", 80, resource_group="ContosoRG")
print(d)
"""),
    md("""
## 2. The same question on the twin: every test, and the rule that blocks

The twin computes the same tests itself (the recordings above hold its answers). Both ends
allow the flow; the hop round finds the auditing
appliance's NSG denying outbound port 80, names the rule, its priority and the NIC it is applied
to, and lists the fixes smallest first (its priority is 100, so no allow rule can go above it:
narrowing the deny comes first).

The `Tests` line says how they ran. The twin serves Network API 2026-01-01's
`connectionAnalyzers` bundle, so the check, the source's next hop and its NSG diagnostic ran as
that one resource (a PUT, a query and a DELETE: writes), read into the same tests; where a
service does not offer it, `diagnose()` runs the separate calls and says why (the recordings
above). `analyzer=False` keeps to the separate calls.
"""),
    code("""
twin = nwlab.emulate(check_seconds=0, retry_after=0)   # instant checks: a teaching twin
d = twin.diagnose("MultiTierApp0", "Database0", 80, resource_group="ContosoRG")
print(d)
"""),
    code("""
d.findings[0].resource_id, d.findings[0].priority, d.findings[0].fields["destinationPortRange"]
"""),
    md("""
## 3. A fix proven on a fork of the twin

Someone adds a rule in the database's NSG that denies HTTP from the whole address space. We make
that change on a fork (an independent copy of the twin), diagnose `WebVM0 -> Database0:80` there,
and prove each fix on further forks: a fix is *proven* when the check passes after it **and** no
other check of the given set changes verdict. With this set every fix passes; a fix that also
changed one of the given checks (deleting a deny that other sources rely on, say) would be marked
not proven. Smallest first still matters: the allow rule opens exactly this one flow.
"""),
    code("""
DB_NSG = ("/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/ContosoRG/"
          "providers/Microsoft.Network/networkSecurityGroups/DbNsg")
changed = twin.fork()
changed.set_security_rule(DB_NSG, "DenyHttpToDb", priority=120, direction="Inbound",
                          access="Deny", protocol="Tcp", sourceAddressPrefix="10.1.0.0/16",
                          sourcePortRange="*", destinationAddressPrefix="*",
                          destinationPortRange="80")
d = changed.diagnose("WebVM0", "Database0", 80, resource_group="ContosoRG")
fixes = d.verify_fixes(changed, checks=[("MultiTierApp0", "Database0", 1433)])
print(d)
"""),
    code("""
frame = d.fixes_frame()[["kind", "proven", "resource_id"]]
frame.assign(resource_id=frame["resource_id"].str.rsplit("/", n=1).str[-1])
"""),
    md("""
The network the fixes were tried on is untouched: each ran on its own fork.
"""),
    code("""
changed.check("WebVM0", "Database0", 80, resource_group="ContosoRG").status
"""),
    md("""
## 4. Live and twin side by side: a disagreement explained

Here the fork with the new deny stands for Azure *now* and the original twin for a snapshot taken
*before* the change. `diagnose(..., twin=)` runs every test on both and reconciles them: where they
disagree it compares the resources on the path (etag, else their properties) and names the one
that changed since the snapshot. Other causes it names: an assumption the twin made (its code), the
guest OS or application refusing (Azure saw the packet reach the NIC), or a destination beyond the
estate.
"""),
    code("""
d = changed.diagnose("WebVM0", "Database0", 80, resource_group="ContosoRG", twin=twin)
for line in d.reconciliation:
    print(line)
"""),
    md("""
## 5. The landing-zone estate: a flow the hub's firewall stops

`nwlab.emulate("landing-zone")` is a hub with Azure Firewall and a VPN gateway, three spokes, a
private endpoint, an internal load balancer, a NAT gateway and a scale set (see notebook 06).
Spokes reach each other only through the firewall, whose policy allows `spoke-web` to `spoke-app`
on 8080 and nothing else. **Predict:** can `app1` (spoke-app) reach `web1` on 443, and what will
the answer name? No documented connectivity-check issue names a firewall rule, so the diagnosis
names what the twin assumed where the packet stopped: the firewall and the rule that decided.
"""),
    code("""
lz = nwlab.emulate("landing-zone", check_seconds=0, retry_after=0)
d = lz.diagnose("app1", "web1", 443, resource_group="landing-zone")
print(d.summary())
for finding in d.findings:
    print("-", finding.text[:160])
"""),
    code("""
lz.close()
changed.close()
twin.close()
recorded.close()
"""),
]

NOTEBOOKS_BY_NAME: dict[str, list[Cell]] = {
    "01-quickstart": QUICKSTART,
    "02-troubleshoot-with-the-form": FORM,
    "03-teaching-nsg-and-routes": TEACHING,
    "04-mesh-checks": MESH,
    "05-share-a-diagnosis": SHARING,
    "06-landing-zone": LANDING_ZONE,
    "07-one-diagnosis": ONE_DIAGNOSIS,
    "08-monitor": MONITOR,
}


def build(name: str, cells: list[Cell]) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    for index, (kind, source) in enumerate(cells):
        cell = nbformat.v4.new_markdown_cell(source) if kind == "md" else nbformat.v4.new_code_cell(source)
        cell["id"] = f"{name[:2]}-{index:02d}"  # stable ids keep diffs small
        nb.cells.append(cell)
    return nb


def execute(nb: nbformat.NotebookNode) -> None:
    os.environ["PLOTLY_RENDERER"] = "plotly_mimetype"
    client = NotebookClient(nb, timeout=600, kernel_name="python3",
                            resources={"metadata": {"path": str(NOTEBOOKS)}})
    client.execute()
    for cell in nb.cells:
        cell.metadata.pop("execution", None)  # timestamps would churn every regeneration


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("names", nargs="*", help="notebook names (default: all)")
    args = parser.parse_args(argv)
    names = args.names or list(NOTEBOOKS_BY_NAME)
    for name in names:
        nb = build(name, NOTEBOOKS_BY_NAME[name])
        execute(nb)
        path = NOTEBOOKS / f"{name}.ipynb"
        nbformat.write(nb, path)
        print(f"wrote {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
