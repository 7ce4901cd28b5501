"""The diagnostics' client calls: input refused before any request, the VM resolved to its NIC and
watcher, the request bodies Azure documents, the long-running operation followed, typed errors;
against a fake ARM server, the emulator and the connectionAnalyzers fall-back."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

import nwlab
from fakearm import RG, SUB, VM_ID, WATCHER_ID, FakeArm
from nwlab.arm.errors import ArmError, NwlabError, OperationFailed, PreflightError
from nwlab.diagnostics.analyzer_run import ANALYZER_API_VERSION, AnalyzerUnsupported

NET = f"{RG}/providers/Microsoft.Network"
NIC = f"{NET}/networkInterfaces/appNic0"
NIC2 = f"{NET}/networkInterfaces/appNic1"
OP = f"/subscriptions/{SUB}/providers/Microsoft.Network/locations/westcentralus/operationResults/d1"
ACCEPTED = (202, {"Location": "{endpoint}" + OP + "?api-version=2024-05-01", "Retry-After": "0",
                  "x-ms-request-id": "d1"}, None)


def _vm(power: str = "running", nics: tuple[str, ...] = (NIC,)) -> dict[str, Any]:
    refs = [{"id": n, "properties": {"primary": i == 0}} for i, n in enumerate(nics)]
    return {"id": VM_ID, "name": "MultiTierApp0", "location": "westcentralus",
            "properties": {"networkProfile": {"networkInterfaces": refs},
                           "instanceView": {"statuses": [{"code": f"PowerState/{power}"}]}}}


def _nic(*addresses: str) -> dict[str, Any]:
    return {"id": NIC, "name": "appNic0", "properties": {"ipConfigurations": [
        {"name": f"ipconfig{i}", "properties": {"privateIPAddress": a, "primary": i == 0}}
        for i, a in enumerate(addresses)]}}


def _estate(fake: FakeArm, result: Any, *, vm: dict[str, Any] | None = None,
            action: str = r"/(ipFlowVerify|nextHop|networkConfigurationDiagnostic)$") -> FakeArm:
    """A VM with one NIC at 10.1.1.4, a watcher in its region, and one operation answering
    202 once and then `result`."""
    fake.on("GET", r"/virtualMachines/MultiTierApp0$", (200, {}, vm or _vm()))
    fake.on("GET", r"/networkInterfaces/appNic0$", (200, {}, _nic("10.1.1.4", "10.1.1.5")))
    fake.on("GET", r"/providers/Microsoft.Network/networkWatchers$", (200, {}, {"value": [
        {"id": WATCHER_ID, "location": "westcentralus"}]}))
    fake.on("POST", action, ACCEPTED)
    fake.on("GET", r"/operationResults/d1$", (202, {"Retry-After": "0"}, None), (200, {}, result))
    return fake


# -- input is refused before any request ---------------------------------------------------

BAD_CALLS: list[tuple[str, Callable[[Any], Any], type[Exception], str]] = [
    ("direction", lambda nw: nw.ip_flow_verify("MultiTierApp0", "Sideways", "TCP", 80, "10.1.4.4",
                                               80, resource_group="ContosoRG"),
     ValueError, r"direction: 'Sideways' is not a direction; use 'Inbound'"),
    ("protocol icmp", lambda nw: nw.ip_flow_verify("MultiTierApp0", "Outbound", "ICMP", 80,
                                                   "10.1.4.4", 80, resource_group="ContosoRG"),
     ValueError, r"protocol: 'ICMP' is not supported by IP flow verify; use 'TCP' or 'UDP'"),
    ("local port", lambda nw: nw.ip_flow_verify("MultiTierApp0", "Outbound", "TCP", 70000,
                                                "10.1.4.4", 80, resource_group="ContosoRG"),
     ValueError, r"local_port: 70000 is outside 0-65535; e.g. local_port=443"),
    ("remote port type", lambda nw: nw.ip_flow_verify("MultiTierApp0", "Outbound", "TCP", 80,
                                                      "10.1.4.4", 8.5, resource_group="ContosoRG"),
     TypeError, r"remote_port: expected one port 0-65535 or '\*'"),
    ("remote ip v6", lambda nw: nw.ip_flow_verify("MultiTierApp0", "Outbound", "TCP", 80,
                                                  "2001:db8::4", 80, resource_group="ContosoRG"),
     ValueError, r"remote_ip: '2001:db8::4' is IPv6; this operation takes IPv4 addresses only, "
                 r"e.g. remote_ip='10.1.4.4'. For an IPv6 flow use nw.nsg_diagnostic"),
    ("local ip v6", lambda nw: nw.ip_flow_verify("MultiTierApp0", "Outbound", "TCP", 80,
                                                 "10.1.4.4", 80, local_ip="fd00::4",
                                                 resource_group="ContosoRG"),
     ValueError, r"local_ip: 'fd00::4' is IPv6; this operation takes IPv4"),
    ("next hop mixed families", lambda nw: nw.next_hop(VM_ID, "2001:db8::4",
                                                       source_ip="10.1.1.4"),
     ValueError, r"destination_ip='2001:db8::4' \(IPv6\) and source_ip='10.1.1.4' \(IPv4\) are "
                 r"of different address families; give both as IPv4 or both as IPv6"),
    ("nsg mixed families", lambda nw: nw.nsg_diagnostic(VM_ID, direction="Inbound", protocol="TCP",
                                                        source="10.1.0.0/24",
                                                        destination="2001:db8::4",
                                                        destination_port=80),
     ValueError, r"source='10.1.0.0/24' \(IPv4\) and destination='2001:db8::4' \(IPv6\) are of "
                 r"different address families"),
    ("remote ip prefix", lambda nw: nw.ip_flow_verify("MultiTierApp0", "Outbound", "TCP", 80,
                                                      "10.1.4.0/24", 80, resource_group="ContosoRG"),
     ValueError, r"remote_ip: '10.1.4.0/24' is not an IP address \(a prefix; give one address\)"),
    ("vm without group", lambda nw: nw.ip_flow_verify("MultiTierApp0", "Outbound", "TCP", 80,
                                                      "10.1.4.4", 80),
     ValueError, r"resource_group: vm 'MultiTierApp0' is a VM name"),
    ("vm as ip", lambda nw: nw.next_hop("10.1.1.4", "10.1.4.4"),
     ValueError, r"^vm: '10.1.1.4' is an IP address"),
    ("nic of another type", lambda nw: nw.next_hop(VM_ID, "10.1.4.4", nic=f"{NET}/virtualNetworks/v"),
     ValueError, r"nic: .* is a Microsoft.Network/virtualNetworks id"),
    ("destination ip", lambda nw: nw.next_hop(VM_ID, "bing.com"),
     ValueError, r"destination_ip: 'bing.com' is not an IP address"),
    ("nsg target name", lambda nw: nw.nsg_diagnostic("MultiTierApp0", direction="Inbound",
                                                     protocol="TCP", source="*",
                                                     destination="10.1.4.4",
                                                     destination_port=80),
     ValueError, r"target: 'MultiTierApp0' is not a resource id; NSG diagnostics needs the full id"),
    ("nsg target type", lambda nw: nw.nsg_diagnostic(f"{NET}/virtualNetworks/v", direction="Inbound",
                                                     protocol="TCP", source="*",
                                                     destination="10.1.4.4",
                                                     destination_port=80),
     ValueError, r"target: .* is a Microsoft.Network/virtualNetworks id; NSG diagnostics evaluates"),
    ("nsg port range", lambda nw: nw.nsg_diagnostic(VM_ID, direction="Inbound", protocol="TCP",
                                                    source="*", destination="10.1.4.4",
                                                    destination_port="80-90"),
     ValueError, r"destination_port: '80-90' is a range; NSG diagnostics takes one port or '\*'"),
    ("nsg protocol", lambda nw: nw.nsg_diagnostic(VM_ID, direction="Inbound", protocol="Http",
                                                  source="*", destination="10.1.4.4",
                                                  destination_port=80),
     ValueError, r"protocol: 'Http' is not one of '\*', 'TCP', 'UDP', 'ICMP'"),
    ("nsg source", lambda nw: nw.nsg_diagnostic(VM_ID, direction="Inbound", protocol="TCP",
                                                source="10.1.0.0/33", destination="10.1.4.4",
                                                destination_port=80),
     ValueError, r"source: '10.1.0.0/33' is not a valid prefix"),
    ("nsg destination", lambda nw: nw.nsg_diagnostic(VM_ID, direction="Inbound", protocol="TCP",
                                                     source="*", destination="not a tag!",
                                                     destination_port=80),
     ValueError, r"destination: 'not a tag!' is neither an address, a prefix nor a service tag"),
    ("routes of a subnet", lambda nw: nw.effective_routes(f"{NET}/virtualNetworks/v/subnets/s"),
     ValueError, r"vm_or_nic: .* is a Microsoft.Network/virtualNetworks/subnets id"),
    ("rules of nothing", lambda nw: nw.effective_security_rules(42),
     TypeError, r"vm_or_nic: expected a VM name or VM resource id"),
    ("analyzer port", lambda nw: nw.analyze_connection("MultiTierApp0", "10.1.4.4", "*",
                                                       resource_group="ContosoRG"),
     ValueError, r"port: connectionAnalyzers test one destination port"),
    ("analyzer operations", lambda nw: nw.analyze_connection(VM_ID, "10.1.4.4", 80,
                                                             operations=["Traceroute"]),
     ValueError, r"operations: 'Traceroute' is not one of NextHop, NSG"),
]


@pytest.mark.parametrize(("case", "call", "error", "message"), BAD_CALLS,
                         ids=[c[0] for c in BAD_CALLS])
def test_bad_input_is_refused_before_any_request(fake_arm, connect, case, call, error, message):
    with pytest.raises(error, match=message):
        call(connect())
    assert fake_arm.requests == []


# -- requests, resolution and the long-running operation ------------------------------------

def test_ip_flow_verify_resolves_nic_address_and_watcher_and_follows_the_operation(fake_arm,
                                                                                    connect):
    _estate(fake_arm, {"access": "Deny", "ruleName": "securityRules/DenyWeb"})
    r = connect().ip_flow_verify("MultiTierApp0", "outbound", "tcp", "*", "10.1.4.4", 80,
                                 resource_group="ContosoRG")
    (post,) = fake_arm.seen("POST")
    assert post.path == f"{WATCHER_ID}/ipFlowVerify"
    assert post.body == {"targetResourceId": VM_ID, "direction": "Outbound", "protocol": "TCP",
                         "localPort": "*", "remotePort": "80", "remoteIPAddress": "10.1.4.4",
                         "localIPAddress": "10.1.1.4"}  # one NIC: no targetNicResourceId
    assert fake_arm.seen("GET", "/virtualMachines/")[0].query["$expand"] == "instanceView"
    assert len(fake_arm.seen("GET", "/operationResults/d1$")) == 2
    assert (r.access, r.rule, r.allowed) == ("Deny", "DenyWeb", False)
    assert r.meta["watcher"] == WATCHER_ID and r.meta["request_id"] == "d1"
    assert r.meta["flow"] == "Outbound TCP 10.1.1.4:* -> 10.1.4.4:80"


def test_a_local_ip_not_on_the_nic_is_a_preflight_error_before_the_post(fake_arm, connect):
    _estate(fake_arm, {"access": "Allow"})
    with pytest.raises(PreflightError, match=r"local_ip: 10.1.1.9 is not an address of network "
                                             r"interface appNic0 \(10.1.1.4, 10.1.1.5\)"):
        connect().ip_flow_verify(VM_ID, "Inbound", "UDP", 53, "10.1.4.4", 5353, local_ip="10.1.1.9")
    assert fake_arm.seen("POST") == []


def test_next_hop_names_the_primary_nic_of_a_vm_with_several(fake_arm, connect):
    _estate(fake_arm, {"nextHopType": "None", "nextHopIpAddress": "", "routeTableId": "System Route"},
            vm=_vm(nics=(NIC, NIC2)))
    r = connect().next_hop(VM_ID, "10.9.0.4", source_ip="10.1.1.5")
    (post,) = fake_arm.seen("POST")
    assert post.path == f"{WATCHER_ID}/nextHop"
    assert post.body == {"targetResourceId": VM_ID, "sourceIPAddress": "10.1.1.5",
                         "destinationIPAddress": "10.9.0.4", "targetNicResourceId": NIC}
    assert r.dropped and r.system_route and r.meta["nic"] == NIC


def test_next_hop_to_an_ipv6_destination_leaves_from_the_nics_ipv6_address(fake_arm, connect):
    _estate(fake_arm, {"nextHopType": "VnetLocal", "nextHopIpAddress": "",
                       "routeTableId": "System Route"})
    dual = _nic("10.1.1.4")
    dual["properties"]["ipConfigurations"].append({"name": "ipconfig-v6", "properties": {
        "privateIPAddress": "fd00:db8::4", "privateIPAddressVersion": "IPv6", "primary": False}})
    fake_arm.on("GET", r"/networkInterfaces/appNic0$", (200, {}, dual))
    connect().next_hop(VM_ID, "fd00:db8::5")
    (post,) = fake_arm.seen("POST")
    assert post.body == {"targetResourceId": VM_ID, "sourceIPAddress": "fd00:db8::4",
                         "destinationIPAddress": "fd00:db8::5"}


def test_next_hop_to_ipv6_from_an_ipv4_only_nic_is_refused_before_the_post(fake_arm, connect):
    _estate(fake_arm, {"nextHopType": "Internet"})
    with pytest.raises(PreflightError, match=r"appNic0 has no private IPv6 address"):
        connect().next_hop(VM_ID, "fd00:db8::5")
    assert fake_arm.seen("POST") == []


def test_a_nic_that_is_not_the_vms_is_refused_before_the_post(fake_arm, connect):
    _estate(fake_arm, {"nextHopType": "Internet"})
    with pytest.raises(PreflightError, match=r"nic: .*appNic1 is not a network interface of VM"):
        connect().next_hop(VM_ID, "10.9.0.4", nic="appNic1", resource_group="ContosoRG")
    assert fake_arm.seen("POST") == []


def test_nsg_diagnostic_sends_one_profile_and_reads_the_layers(fake_arm, connect):
    answer = {"results": [{"profile": {"direction": "Inbound", "protocol": "TCP",
                                       "source": "Internet", "destination": "10.1.1.4",
                                       "destinationPort": "443"},
                           "networkSecurityGroupResult": {"securityRuleAccessResult": "Deny",
                                                          "evaluatedNetworkSecurityGroups": [
        {"networkSecurityGroupId": f"{NET}/networkSecurityGroups/WebNsg",
         "appliedTo": f"{NET}/virtualNetworks/v/subnets/app",
         "matchedRule": {"ruleName": "DefaultRule_DenyAllInBound", "action": "Deny"}}]}}]}
    _estate(fake_arm, answer)
    r = connect().nsg_diagnostic(VM_ID, direction="Inbound", protocol="tcp", source="Internet",
                                 destination="10.1.1.4", destination_port=443)
    (post,) = fake_arm.seen("POST")
    assert post.path == f"{WATCHER_ID}/networkConfigurationDiagnostic"
    assert post.body == {"targetResourceId": VM_ID, "profiles": [{
        "direction": "Inbound", "protocol": "TCP", "source": "Internet",
        "destination": "10.1.1.4", "destinationPort": "443"}]}
    assert r.access == "Deny" and r.blocking()[0].layer == "subnet"
    assert r.to_dict() == answer


def test_nsg_diagnostic_of_a_nic_reads_the_nics_region(fake_arm, connect):
    _estate(fake_arm, {"results": []})
    fake_arm.on("GET", r"/networkInterfaces/appNic0$",
                (200, {}, {**_nic("10.1.1.4"), "location": "westcentralus"}))
    connect().nsg_diagnostic(NIC, direction="Outbound", protocol="*", source="10.1.1.4",
                             destination="*", destination_port="*")
    assert fake_arm.seen("GET", "/virtualMachines/") == []
    assert fake_arm.seen("POST")[0].body["profiles"][0]["protocol"] == "*"


@pytest.mark.parametrize(("call", "action", "result_type"), [
    ("effective_routes", "effectiveRouteTable", nwlab.diagnostics.EffectiveRoutes),
    ("effective_security_rules", "effectiveNetworkSecurityGroups",
     nwlab.diagnostics.EffectiveSecurityRules)])
def test_effective_state_is_a_nic_post_without_body_polled_at_its_location(
        fake_arm, connect, call, action, result_type):
    nic_op = f"{NIC}/operationResults/e1"
    _estate(fake_arm, {"value": []}, action="$^")
    fake_arm.on("POST", rf"/networkInterfaces/appNic0/{action}$",
                (202, {"Location": "{endpoint}" + nic_op + "?api-version=2024-05-01"}, None))
    answer = {"value": [{"source": "Default", "state": "Active"}], "nextLink": None}
    fake_arm.on("GET", r"/operationResults/e1$", (202, {"Retry-After": "0"}, None),
                (200, {}, answer))
    nw = connect()
    r = getattr(nw, call)("MultiTierApp0", resource_group="ContosoRG")
    (post,) = fake_arm.seen("POST")
    assert post.path == f"{NIC}/{action}" and post.body is None
    assert isinstance(r, result_type) and r.to_dict() == answer
    assert r.meta["nic"] == NIC and r.meta["vm"] == VM_ID
    # A NIC id goes straight to the NIC: no VM read.
    getattr(nw, call)(NIC)
    assert len(fake_arm.seen("GET", "/virtualMachines/")) == 1


def test_effective_routes_follow_next_link(fake_arm, connect):
    _estate(fake_arm, {"value": []}, action="$^")
    route = {"source": "Default", "state": "Active", "addressPrefix": ["10.0.0.0/8"],
             "nextHopType": "None", "nextHopIpAddress": []}
    fake_arm.on("POST", r"/effectiveRouteTable$", (200, {}, {
        "value": [route], "nextLink": fake_arm.endpoint + NIC + "/effectiveRouteTable/page2"}))
    fake_arm.on("GET", r"/effectiveRouteTable/page2$", (200, {}, {"value": [route, route]}))
    r = connect().effective_routes(NIC)
    assert len(r.routes) == 3 and r.next_link is None
    assert len(fake_arm.seen("GET", "/page2$")) == 1


def test_effective_routes_of_a_stopped_vm_is_refused_before_the_post(fake_arm, connect):
    _estate(fake_arm, {"value": []}, vm=_vm(power="deallocated"))
    with pytest.raises(PreflightError, match="VM MultiTierApp0 is deallocated; Azure computes "
                                             "effective routes only for a NIC of a running VM"):
        connect().effective_routes(VM_ID)
    assert fake_arm.seen("POST") == []


def test_a_vm_that_does_not_exist_is_a_preflight_error(fake_arm, connect):
    with pytest.raises(PreflightError, match="VM Nope was not found in resource group ContosoRG"):
        connect().next_hop("Nope", "10.1.4.4", resource_group="ContosoRG")


@pytest.mark.parametrize(("final", "code"), [
    ((200, {}, None), "EmptyResult"), ((200, {}, ["not", "an", "object"]), "InvalidResult"),
    ((400, {}, {"error": {"code": "InvalidTarget", "message": "VM is not running"}}),
     "InvalidTarget")])
def test_a_failed_or_empty_operation_is_a_typed_error(fake_arm, connect, final, code):
    _estate(fake_arm, {})
    fake_arm.on("GET", r"/operationResults/d1$", final)
    with pytest.raises(OperationFailed) as raised:
        connect().next_hop(VM_ID, "10.1.4.4")
    assert raised.value.code == code
    assert isinstance(raised.value, NwlabError)


# -- on the emulator (it answers IP flow verify and next hop with its engine) ---------------

def test_on_the_emulator_next_hop_follows_the_app_route_table(twin):
    r = twin.next_hop("MultiTierApp0", "10.1.4.4", resource_group="ContosoRG")
    assert (r.next_hop_type, r.next_hop_ip) == ("VirtualAppliance", "10.1.2.4")
    assert r.route_table_id is not None and r.route_table_id.endswith("/routeTables/AppRouteTable")
    assert r.meta["source_ip"] == "10.1.1.4" and r.meta["backend"] == "emulator"


def test_on_the_emulator_ip_flow_verify_names_the_default_rule(twin):
    r = twin.ip_flow_verify("Database0", "Inbound", "TCP", 80, "10.1.1.4", 60000,
                            resource_group="ContosoRG")
    assert r.allowed and r.rule_name == "defaultSecurityRules/AllowVnetInBound"
    assert r.rule == "AllowVnetInBound"


def test_on_the_emulator_the_analyzer_runs_each_operation_with_the_engine(twin):
    # The twin serves connectionAnalyzers (issue 13); the fall-back signal is tested against the
    # fake ARM server below (codes and a 405), where the emulator used to stand for it.
    r = twin.analyze_connection("MultiTierApp0", "10.1.4.4", 80, resource_group="ContosoRG")
    assert r.succeeded and r.meta["deleted"] is True
    hop = r.operation("NextHop")
    assert hop is not None and hop.data["nextHopType"] == "VirtualAppliance"
    nsg = r.operation("NSG")
    assert nsg is not None and nsg.data["results"][0]["networkSecurityGroupResult"][
        "securityRuleAccessResult"] == "Allow"
    check = r.operation("ConnectivityCheck")
    assert check is not None and check.data["ConnectivityStatus"] == "Unreachable"
    scan = r.operation("PortScan")
    assert scan is not None and "not modelled" in (scan.error or "")


def test_a_405_on_the_analyzer_put_is_the_fall_back_signal(fake_arm, connect):
    _estate(fake_arm, {}, action="$^")
    fake_arm.on("PUT", r"/connectionAnalyzers/", (405, {}, {"error": {
        "code": "MethodNotAllowed", "message": "The requested method 'PUT' is not allowed."}}))
    with pytest.raises(AnalyzerUnsupported) as raised:
        connect().analyze_connection(VM_ID, "Database0", 80, resource_group="ContosoRG")
    assert isinstance(raised.value, ArmError) and "nw.next_hop()" in str(raised.value)


# -- connectionAnalyzers -------------------------------------------------------------------

def _analyzer_routes(fake: FakeArm) -> FakeArm:
    status = f"/subscriptions/{SUB}/providers/Microsoft.Network/locations/westcentralus/" \
             "nwOperations/a1"
    result_at = f"/subscriptions/{SUB}/providers/Microsoft.Network/locations/westcentralus/" \
                "operationResults/a1"
    fake.on("PUT", r"/connectionAnalyzers/nwlab-[0-9a-f]{12}$",
            (201, {"Azure-AsyncOperation": "{endpoint}" + status + "?api-version=2026-01-01"},
             {"name": "x"}))
    fake.on("GET", r"/nwOperations/a1$", (200, {}, {"status": "InProgress"}),
            (200, {}, {"status": "Succeeded"}), (200, {}, {"status": "InProgress"}),
            (200, {}, {"status": "Succeeded"}))
    fake.on("POST", r"/connectionAnalyzers/nwlab-[0-9a-f]{12}/query$",
            (202, {"Azure-AsyncOperation": "{endpoint}" + status + "?api-version=2026-01-01",
                   "Location": "{endpoint}" + result_at + "?api-version=2026-01-01",
                   "Retry-After": "0"}, None))
    fake.on("GET", r"/operationResults/a1$", (200, {}, {
        "connectionAnalyzerStatus": "Succeeded", "diagnosticOperationResults": [
            {"diagnosticOperation": "ConnectivityCheck",
             "result": "{\"ConnectivityStatus\":\"Reachable\"}"}]}))
    fake.on("DELETE", r"/connectionAnalyzers/nwlab-[0-9a-f]{12}$", (200, {}, None))
    return fake


def test_connection_analyzer_put_query_delete(fake_arm, connect):
    _estate(fake_arm, {}, action="$^")
    _analyzer_routes(fake_arm)
    r = connect().analyze_connection("MultiTierApp0", "10.1.4.4", 443, resource_group="ContosoRG",
                                     operations=["nsg", "ConnectivityCheck"])
    (put,) = fake_arm.seen("PUT")
    assert put.query["api-version"] == ANALYZER_API_VERSION
    assert put.path.startswith(f"{WATCHER_ID}/connectionAnalyzers/nwlab-")
    assert put.body["location"] == "westcentralus"
    props = put.body["properties"]
    assert props["source"] == {"type": "VM", "resourceId": VM_ID}
    assert props["destination"] == {"type": "ExternalAddress", "address": "10.1.4.4", "port": 443}
    assert props["diagnosticOperations"] == ["NSG", "ConnectivityCheck"]
    assert props["protocolSettings"] == {"protocol": "Tcp"}  # as the spec example answers
    (query,) = fake_arm.seen("POST")
    assert query.path == put.path + "/query" and query.body is None
    assert len(fake_arm.seen("DELETE")) == 1 and r.meta["deleted"]
    check = r.operation("ConnectivityCheck")
    assert r.succeeded and check is not None and check.data == {"ConnectivityStatus": "Reachable"}


@pytest.mark.parametrize("code", ["NoRegisteredProviderFound", "InvalidResourceType",
                                  "InvalidApiVersionParameter"])
def test_an_unsupported_analyzer_is_a_fall_back_signal_and_nothing_else_is_sent(
        fake_arm, connect, code):
    _estate(fake_arm, {}, action="$^")
    fake_arm.on("PUT", r"/connectionAnalyzers/", (400, {}, {"error": {
        "code": code, "message": f"No registered resource provider found for api version "
                                 f"'{ANALYZER_API_VERSION}' for type 'networkWatchers/"
                                 "connectionAnalyzers'."}}))
    with pytest.raises(AnalyzerUnsupported) as raised:
        connect().analyze_connection(VM_ID, "Database0", 80, resource_group="ContosoRG")
    assert raised.value.code == code and raised.value.status == 400
    assert fake_arm.seen("POST") == [] and fake_arm.seen("DELETE") == []


def test_another_analyzer_failure_stays_what_it_is(fake_arm, connect):
    _estate(fake_arm, {}, action="$^")
    fake_arm.on("PUT", r"/connectionAnalyzers/", (403, {}, {"error": {
        "code": "AuthorizationFailed", "message": "no write on networkWatchers"}}))
    with pytest.raises(ArmError) as raised:
        connect().analyze_connection(VM_ID, "Database0", 80, resource_group="ContosoRG")
    assert not isinstance(raised.value, AnalyzerUnsupported)
    assert raised.value.code == "AuthorizationFailed"


def test_an_analyzer_that_fails_to_provision_is_a_typed_failure_and_is_deleted(fake_arm, connect):
    _estate(fake_arm, {}, action="$^")
    _analyzer_routes(fake_arm)
    fake_arm.on("GET", r"/nwOperations/a1$", (200, {}, {"status": "Failed"}))
    with pytest.raises(OperationFailed, match="Creating the connection analyzer ended as failed"):
        connect().analyze_connection(VM_ID, "10.1.4.4", 443)
    assert fake_arm.seen("POST") == [] and len(fake_arm.seen("DELETE")) == 1


def test_an_operation_whose_reads_used_the_whole_timeout_is_not_started(fake_arm, connect):
    import time

    from nwlab.arm.errors import OperationTimeout
    from nwlab.diagnostics.operations import run_diagnostic

    with pytest.raises(OperationTimeout, match=r"Next hop did not start in time \(its reads took "
                                               r"the whole timeout\); nothing was sent"):
        run_diagnostic(connect(), f"{WATCHER_ID}/nextHop", {}, what="Next hop",
                       deadline=time.monotonic() - 1)
    assert fake_arm.requests == []
