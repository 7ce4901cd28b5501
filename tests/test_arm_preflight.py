"""Pre-flight (power state, agent, watcher by region), watcher= skipping discovery, the request body
as the server receives it, and the sovereign clouds."""

from __future__ import annotations

import pytest

import nwlab
from fakearm import SUB, VM_ID, WATCHER_ID, FakeCredential
from nwlab.arm.clouds import CLOUDS, resolve_cloud

AGENT = {"publisher": "Microsoft.Azure.NetworkWatcher", "type": "NetworkWatcherAgentLinux",
         "provisioningState": "Succeeded"}


def run(connect, **kwargs):
    return connect().check("MultiTierApp0", "10.1.4.4", 80, resource_group="ContosoRG", **kwargs)


@pytest.fixture
def result(seeds):
    return seeds["vm-to-ip-udr-blocked"]["result"]


# -- source VM power state ---------------------------------------------------------------------


@pytest.mark.parametrize("power", ["deallocated", "stopped"])
def test_source_vm_not_running_is_refused_before_the_post(fake_arm, connect, result, power):
    fake_arm.contoso(result, power=power)
    with pytest.raises(nwlab.PreflightError) as info:
        run(connect)
    text = str(info.value)
    assert f"MultiTierApp0 is {power}" in text
    assert "az vm start -g ContosoRG -n MultiTierApp0" in text
    assert not fake_arm.seen("POST")


def test_unknown_power_state_is_not_treated_as_stopped(fake_arm, connect, result):
    fake_arm.contoso(result)
    fake_arm.on("GET", "/instanceView$", (200, {}, {"statuses": [{"code": "ProvisioningState/succeeded"}]}))
    assert run(connect).status == "Unreachable"


def test_instance_view_and_extensions_inline_save_requests(fake_arm, connect, result):
    fake_arm.contoso(result)
    vm = {"id": VM_ID, "name": "MultiTierApp0", "location": "westcentralus",
          "properties": {"instanceView": {"statuses": [{"code": "PowerState/running"}]}},
          "resources": [{"id": VM_ID + "/extensions/nw", "properties": AGENT}]}
    fake_arm.on("GET", "/virtualMachines/MultiTierApp0$", (200, {}, vm))
    run(connect)
    assert not fake_arm.seen("GET", "/instanceView$")
    assert not fake_arm.seen("GET", "/extensions$")


# -- the Network Watcher agent ------------------------------------------------------------------


@pytest.mark.parametrize("extensions", [
    [],
    [{"name": "NetworkWatcherAgentLinux", "properties": {
        "publisher": "Microsoft.Azure.Monitor", "type": "NetworkWatcherAgentLinux"}}],
    [{"name": "AzureNetworkWatcherExtension", "properties": {
        "publisher": "Microsoft.Azure.NetworkWatcher", "type": "SomethingElse"}}],
    [{"name": "AzureNetworkWatcherExtension", "properties": {**AGENT, "provisioningState": "Failed"}}],
    [{"name": "AzureNetworkWatcherExtension", "properties": {**AGENT, "provisioningState": "Creating"}}],
], ids=["none", "other-publisher", "other-type", "failed", "creating"])
def test_no_usable_agent_is_refused_before_the_post(fake_arm, connect, result, extensions):
    fake_arm.contoso(result, extensions=extensions)
    with pytest.raises(nwlab.PreflightError) as info:
        run(connect)
    text = str(info.value)
    assert "no Network Watcher agent" in text
    # The VM is Linux, so the fix installs the Linux agent.
    assert "--publisher Microsoft.Azure.NetworkWatcher --name NetworkWatcherAgentLinux" in text
    assert not fake_arm.seen("POST")


@pytest.mark.parametrize("name,publisher,kind", [
    ("MyNetworkWatcherAgent", "Microsoft.Azure.NetworkWatcher", "NetworkWatcherAgentWindows"),
    ("whatever", "microsoft.azure.networkwatcher", "networkwatcheragentlinux"),
    ("AzureNetworkWatcherExtension", "Microsoft.Azure.NetworkWatcher", "NetworkWatcherAgentLinux"),
])
def test_agent_found_by_publisher_and_type_under_any_name(fake_arm, connect, result, name,
                                                          publisher, kind):
    others = {"name": "MicrosoftMonitoringAgent",
              "properties": {"publisher": "Microsoft.EnterpriseCloud.Monitoring",
                             "type": "MicrosoftMonitoringAgent"}}
    fake_arm.contoso(result, extensions=[others, {"name": name, "properties": {
        "publisher": publisher, "type": kind, "provisioningState": "Succeeded"}}])
    assert run(connect).to_dict() == result
    assert len(fake_arm.seen("POST")) == 1


# -- the watcher of the region ------------------------------------------------------------------


@pytest.mark.parametrize("vm_location,watcher_location", [
    ("West Central US", "westcentralus"), ("westcentralus", "West Central US"),
    ("WESTCENTRALUS", "westCentralUs")])
def test_watcher_found_with_region_compared_without_case_or_spaces(
        fake_arm, connect, result, vm_location, watcher_location):
    fake_arm.contoso(result, location=vm_location, watchers=[
        {"id": WATCHER_ID.replace("westcentralus", "eastus"), "location": "eastus"},
        {"id": WATCHER_ID, "location": watcher_location}])
    r = run(connect)
    assert r.meta["watcher"] == WATCHER_ID
    assert fake_arm.seen("POST")[0].path == WATCHER_ID + "/connectivityCheck"


def test_watcher_with_any_name_in_any_group_is_used(fake_arm, connect, result):
    custom = f"/subscriptions/{SUB}/resourceGroups/Ops/providers/Microsoft.Network/networkWatchers/nw1"
    fake_arm.contoso(result, watchers=[{"id": custom, "location": "westcentralus"}])
    run(connect)
    assert fake_arm.seen("POST")[0].path == custom + "/connectivityCheck"


def test_region_without_a_watcher_is_refused_before_the_post(fake_arm, connect, result):
    fake_arm.contoso(result, watchers=[{"id": WATCHER_ID.replace("westcentralus", "eastus"),
                                        "location": "eastus"}])
    with pytest.raises(nwlab.PreflightError) as info:
        run(connect)
    text = str(info.value)
    assert "not enabled for region westcentralus" in text
    assert "az network watcher configure" in text and "watcher=" in text
    assert not fake_arm.seen("POST")


def test_watcher_list_is_read_once_per_client(fake_arm, connect, result):
    fake_arm.contoso(result)
    nw = connect()
    for _ in range(3):
        nw.check("MultiTierApp0", "10.1.4.4", 80, resource_group="ContosoRG")
    assert len(fake_arm.seen("GET", "/networkWatchers$")) == 1
    assert len(fake_arm.seen("POST")) == 3


def test_watcher_given_skips_discovery_entirely(fake_arm, connect, result):
    fake_arm.contoso(result)
    r = run(connect, watcher=WATCHER_ID)
    assert r.to_dict() == result
    assert not fake_arm.seen("GET", "/networkWatchers$")
    assert not fake_arm.seen("GET", "/virtualMachines/")
    assert [x.method for x in fake_arm.requests] == ["POST", "GET", "GET"]


# -- the request body as the server receives it ---------------------------------------------------


def posted(fake_arm, connect, result, destination, port=None, **kwargs):
    fake_arm.contoso(result)
    connect().check(VM_ID, destination, port, watcher=WATCHER_ID, **kwargs)
    return fake_arm.seen("POST")[0].body


def test_plain_tcp_body_has_no_optional_fields(fake_arm, connect, result):
    assert posted(fake_arm, connect, result, "10.1.4.4", 80) == {
        "source": {"resourceId": VM_ID}, "destination": {"address": "10.1.4.4", "port": 80}}


def test_http_configuration_sent_for_http(fake_arm, connect, result):
    body = posted(fake_arm, connect, result, "10.1.4.4", 8080, protocol="http",
                  http={"method": "get", "headers": {"accept": "application/json"},
                        "valid_status_codes": [200, 204]})
    assert body["protocol"] == "Http"
    assert body["protocolConfiguration"] == {"HTTPConfiguration": {
        "method": "Get", "headers": [{"name": "accept", "value": "application/json"}],
        "validStatusCodes": [200, 204]}}


def test_http_configuration_sent_for_https_url_with_protocol_inferred(fake_arm, connect, result):
    body = posted(fake_arm, connect, result, "https://bing.com/health", http={"method": "Get"})
    assert body == {"source": {"resourceId": VM_ID},
                    "destination": {"address": "https://bing.com/health"},
                    "protocol": "Https",
                    "protocolConfiguration": {"HTTPConfiguration": {"method": "Get"}}}


@pytest.mark.parametrize("protocol", ["Tcp", "Icmp"])
def test_no_http_configuration_for_tcp_or_icmp(fake_arm, connect, result, protocol):
    port = 443 if protocol == "Tcp" else None
    body = posted(fake_arm, connect, result, "10.1.4.4", port, protocol=protocol)
    assert body["protocol"] == protocol
    assert "protocolConfiguration" not in body
    assert ("port" in body["destination"]) == (protocol == "Tcp")


@pytest.mark.parametrize("given,sent", [("IPv6", "IPv6"), ("ipv4", "IPv4"), (4, "IPv4"), (6, "IPv6")])
def test_preferred_ip_version(fake_arm, connect, result, given, sent):
    # A host name is where a preferred version means something (an IP literal already has one,
    # and a contradicting ip_version is refused before any request).
    body = posted(fake_arm, connect, result, "contoso.com", 443, ip_version=given)
    assert body["preferredIPVersion"] == sent
    assert body["destination"]["address"] == "contoso.com"


@pytest.mark.parametrize("source_port", [0, 1234, 65535])
def test_source_port(fake_arm, connect, result, source_port):
    body = posted(fake_arm, connect, result, "10.1.4.4", 80, source_port=source_port)
    assert body["source"] == {"resourceId": VM_ID, "port": source_port}


def test_destination_vm_by_name_is_sent_as_resource_id(fake_arm, connect, result):
    fake_arm.contoso(result)
    connect().check("MultiTierApp0", "Database0", 1433, resource_group="ContosoRG",
                    watcher=WATCHER_ID)
    assert fake_arm.seen("POST")[0].body["destination"] == {
        "resourceId": VM_ID.replace("MultiTierApp0", "Database0"), "port": 1433}


def test_port_zero_is_sent(fake_arm, connect, result):
    assert posted(fake_arm, connect, result, "https://bing.com", 0)["destination"] == {
        "address": "https://bing.com", "port": 0}


# -- clouds -------------------------------------------------------------------------------------


@pytest.mark.parametrize("name,endpoint,scope", [
    ("AzureCloud", "https://management.azure.com", "https://management.azure.com/.default"),
    ("AzureUSGovernment", "https://management.usgovcloudapi.net",
     "https://management.usgovcloudapi.net/.default"),
    ("AzureChinaCloud", "https://management.chinacloudapi.cn",
     "https://management.chinacloudapi.cn/.default"),
    ("azure china cloud", "https://management.chinacloudapi.cn",
     "https://management.chinacloudapi.cn/.default"),
])
def test_cloud_endpoint_and_token_scope(name, endpoint, scope):
    credential = FakeCredential()
    nw = nwlab.connect(SUB, credential=credential, cloud=name)
    assert nw.arm.endpoint == endpoint
    assert nw.arm.tokens.scope == scope
    nw.arm.tokens.get()  # no request: only the credential is asked
    assert credential.scopes == [scope]


def test_arm_endpoint_override_keeps_the_cloud_scope(fake_arm):
    fake_arm.on("GET", "/resourcegroups$", (200, {}, {"value": [{"name": "rg"}]}))
    credential = FakeCredential()
    nw = nwlab.connect(SUB, credential=credential, cloud="AzureUSGovernment",
                       arm_endpoint=fake_arm.endpoint + "/")
    assert nw.list_resource_groups() == ["rg"]
    assert credential.scopes == ["https://management.usgovcloudapi.net/.default"]
    assert nw.arm.endpoint == fake_arm.endpoint


def test_unknown_cloud_is_a_value_error_listing_the_clouds():
    with pytest.raises(ValueError) as info:
        nwlab.connect(SUB, credential=FakeCredential(), cloud="AzureGermanCloud")
    text = str(info.value)
    assert text.startswith("cloud:") and "e.g." in text
    assert all(name in text for name in CLOUDS)


def test_cloud_of_the_wrong_type_is_a_type_error():
    with pytest.raises(TypeError, match=r"^cloud: .*e\.g\."):
        resolve_cloud(3)  # type: ignore[arg-type]


def test_arm_endpoint_must_be_a_url():
    with pytest.raises(ValueError, match=r"^arm_endpoint: .*e\.g\."):
        nwlab.connect(SUB, credential=FakeCredential(), arm_endpoint="management.azure.com")


def test_arm_endpoint_of_the_wrong_type_is_a_type_error():
    with pytest.raises(TypeError, match=r"^arm_endpoint: .*e\.g\."):
        nwlab.connect(SUB, credential=FakeCredential(), arm_endpoint=8080)  # type: ignore[arg-type]
