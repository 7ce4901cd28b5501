"""Every documented Connection Monitor limit, and the shape rules, refused before any PUT with an
error that names the limit and what to change (one test per limit)."""

from __future__ import annotations

import pytest

import nwlab
from fakearm import RG, VM_ID, Seen
from fakemonitor import WORKSPACE, install_monitor
from nwlab.monitor import MonitorLimitError
from nwlab.monitor.limits import check_body

ONE = {"source": "MultiTierApp0", "destination": "Database0", "port": 80,
       "resource_group": "ContosoRG"}


@pytest.fixture
def nw(fake_arm, connect):
    fake_arm.contoso(None)
    install_monitor(fake_arm)
    return connect()


def add_sources(fake_arm, count: int) -> list[str]:
    """`count` running source VMs with the agent, all in westcentralus."""
    def vm(seen: Seen):
        name = seen.path.rsplit("/", 1)[-1]
        return 200, {}, {"id": seen.path, "name": name, "location": "westcentralus",
                         "properties": {"instanceView": {"statuses": [
                             {"code": "PowerState/running"}]}}}

    agent = {"properties": {"publisher": "Microsoft.Azure.NetworkWatcher",
                            "type": "NetworkWatcherAgentLinux", "provisioningState": "Succeeded"}}
    fake_arm.on("GET", r"/virtualMachines/Src\d+$", vm)
    fake_arm.on("GET", r"/virtualMachines/Src\d+/extensions$", (200, {}, {"value": [agent]}))
    return [f"{RG}/providers/Microsoft.Compute/virtualMachines/Src{i}" for i in range(count)]


def no_put(fake_arm) -> None:
    assert not fake_arm.seen("PUT"), "nothing may be PUT when a limit is broken"


@pytest.mark.parametrize("frequency", [29, 1801, 0])
def test_test_frequency_is_30_to_1800_seconds(nw, fake_arm, frequency):
    with pytest.raises(MonitorLimitError, match=r"frequency_s: .*30-1800 s") as info:
        nw.monitor([ONE], "web-mesh", frequency_s=frequency)
    assert info.value.limit == "test frequency" and "frequency_s=60" in str(info.value)
    assert not fake_arm.requests  # before any request at all


def test_endpoints_per_monitor_at_most_100(nw, fake_arm):
    checks = [{**ONE, "destination": f"10.1.{i // 250}.{i % 250 + 1}"} for i in range(100)]
    with pytest.raises(MonitorLimitError, match=r"101 endpoints .*allows 100 endpoints per "
                                                r"monitor") as info:
        nw.monitor(checks, "web-mesh")
    assert info.value.limit == "endpoints per monitor" and info.value.value == 101
    assert "Split the checks" in str(info.value)
    no_put(fake_arm)
    nw.monitor(checks[:99], "web-mesh")  # 99 destinations + 1 source = 100: allowed
    assert len(fake_arm.seen("PUT")) == 1


def test_test_configurations_per_monitor_at_most_20(nw, fake_arm):
    checks = [{**ONE, "port": 8000 + i} for i in range(21)]
    with pytest.raises(MonitorLimitError, match=r"21 test configurations") as info:
        nw.monitor(checks, "web-mesh")
    assert info.value.limit == "test configurations per monitor" and info.value.maximum == 20
    assert "fewer distinct ports" in str(info.value)
    no_put(fake_arm)
    nw.monitor(checks[:20], "web-mesh")
    (put,) = fake_arm.seen("PUT")
    assert len(put.body["properties"]["testGroups"]) == 1  # one source, one destination: a group


def test_test_groups_per_monitor_at_most_20(nw, fake_arm):
    sources = add_sources(fake_arm, 21)
    # each source to its own destination: 21 different source/destination sets
    checks = [{"source": s, "destination": f"10.2.0.{i + 1}", "port": 80}
              for i, s in enumerate(sources)]
    with pytest.raises(MonitorLimitError, match=r"21 test groups") as info:
        nw.monitor(checks, "web-mesh")
    assert info.value.limit == "test groups per monitor"
    no_put(fake_arm)
    # the full mesh of the same sources and destinations is one group
    mesh = [{"source": s, "destination": c["destination"], "port": 80}
            for s in sources[:10] for c in checks[:10]]
    nw.monitor(mesh, "web-mesh")
    (put,) = fake_arm.seen("PUT")
    assert len(put.body["properties"]["testGroups"]) == 1


def test_monitors_per_subscription_per_region_at_most_100(fake_arm, connect):
    fake_arm.contoso(None)
    install_monitor(fake_arm, existing={"westcentralus": [f"cm-{i}" for i in range(100)]})
    nw = connect()
    with pytest.raises(MonitorLimitError, match=r"westcentralus already holds 100") as info:
        nw.monitor([ONE], "web-mesh")
    assert info.value.limit == "monitors per subscription per region"
    assert "nw.list_monitors()" in str(info.value)
    no_put(fake_arm)
    nw.monitor([ONE], "cm-7")  # replacing one of the 100 adds none
    assert len(fake_arm.seen("PUT")) == 1


def test_a_source_without_the_agent_is_refused_before_the_put(fake_arm, connect):
    fake_arm.contoso(None, extensions=[])
    install_monitor(fake_arm)
    with pytest.raises(nwlab.PreflightError, match="no Network Watcher agent") as info:
        connect().monitor([ONE], "web-mesh")
    assert "az vm extension set" in str(info.value)
    no_put(fake_arm)


@pytest.mark.parametrize("thresholds,message", [
    ({"checks_failed_percent": 101}, "not a percentage 0-100"),
    ({"checks_failed_percent": -1}, "not a percentage 0-100"),
    ({"checks_failed_percent": 5.5}, "whole percentage"),
    ({"round_trip_time_ms": 0}, "must be more than 0"),
    ({"rtt": 10}, "unknown key"),
    ([10], "expected a dict"),
])
def test_thresholds_are_a_percentage_and_a_positive_rtt(nw, fake_arm, thresholds, message):
    with pytest.raises((ValueError, TypeError), match=message) as info:
        nw.monitor([ONE], "web-mesh", thresholds=thresholds)
    assert "thresholds=" in str(info.value)
    assert not fake_arm.requests


@pytest.mark.parametrize("name", ["web (mesh)", "-web", "web.", "", "x" * 65, "web mesh"])
def test_names_follow_the_documented_pattern(nw, fake_arm, name):
    with pytest.raises(ValueError, match=r"name: .*e\.g\. name='web-mesh'"):
        nw.monitor([ONE], name)
    assert not fake_arm.requests


@pytest.mark.parametrize("workspace,message", [
    ("00000000-0000-0000-0000-0000000000aa", "not its workspace/customer id GUID"),
    (VM_ID, "not a Log Analytics workspace resource id"),
    (WORKSPACE.replace("00000000-0000-0000-0000-000000000000", "mysub"), "subscription id"),
])
def test_workspace_is_a_workspace_resource_id(nw, fake_arm, workspace, message):
    with pytest.raises(ValueError, match=message):
        nw.monitor([ONE], "web-mesh", workspace=workspace)
    assert not fake_arm.requests


@pytest.mark.parametrize("check,message", [
    ({**ONE, "source_port": 5000}, "no source port"),
    ({**ONE, "source": "10.1.0.4"}, "IP address"),  # an address can never be a source
    ({**ONE, "colour": "red"}, "unknown key"),
    ({**ONE, "port": 70000}, "outside 0-65535"),
])
def test_checks_are_validated_like_check(nw, fake_arm, check, message):
    with pytest.raises((ValueError, TypeError), match=rf"checks\[1\]: .*{message}"):
        nw.monitor([ONE, check], "web-mesh")
    assert not fake_arm.requests


def test_a_tcp_test_needs_a_real_port(nw, fake_arm):
    with pytest.raises(ValueError, match="needs a port 1-65535"):
        nw.monitor([{**ONE, "port": 0}], "web-mesh")
    no_put(fake_arm)


def _body(**props):
    base = {"endpoints": [{"name": "a", "type": "AzureVM", "resourceId": VM_ID},
                          {"name": "b", "type": "ExternalAddress", "address": "10.0.0.1"}],
            "testConfigurations": [{"name": "tcp-80", "protocol": "Tcp", "testFrequencySec": 60,
                                    "tcpConfiguration": {"port": 80}}],
            "testGroups": [{"name": "g", "sources": ["a"], "destinations": ["b"],
                            "testConfigurations": ["tcp-80"]}], "outputs": []}
    return {"location": "westcentralus", "properties": {**base, **props}}


def test_one_endpoint_per_vm():
    endpoints = [{"name": "a", "type": "AzureVM", "resourceId": VM_ID},
                 {"name": "a2", "type": "AzureVM", "resourceId": VM_ID.upper()},
                 {"name": "b", "type": "ExternalAddress", "address": "10.0.0.1"}]
    with pytest.raises(ValueError, match="one endpoint per VM"):
        check_body("m", "westcentralus", _body(endpoints=endpoints))
    check_body("m", "westcentralus", _body())


@pytest.mark.parametrize("change,message", [
    ({"testGroups": [{"name": "g", "sources": ["b"], "destinations": ["a"],
                      "testConfigurations": ["tcp-80"]}]}, "can only be a destination"),
    ({"testGroups": [{"name": "g", "sources": ["a"], "destinations": ["zz"],
                      "testConfigurations": ["tcp-80"]}]}, "unknown destinations"),
    ({"testConfigurations": [{"name": "x", "protocol": "Https", "testFrequencySec": 60}]},
     "Https"),
    ({"testConfigurations": [{"name": "tcp-80", "protocol": "Http", "testFrequencySec": 60,
                              "httpConfiguration": {"port": 80, "method": "Put"}}]}, "Get or Post"),
    ({"testConfigurations": [{"name": "tcp-80", "protocol": "Http", "testFrequencySec": 60,
                              "httpConfiguration": {"port": 80,
                                                    "validStatusCodeRanges": ["2x"]}}]},
     "status range"),
    ({"autoStart": True}, "v1 field"),
])
def test_shape_rules_of_the_body(change, message):
    with pytest.raises(ValueError, match=message):
        check_body("m", "westcentralus", _body(**change))
