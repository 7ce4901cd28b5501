"""The far end: stopped VMs, listeners, guest firewalls, DNS, destination forms, port 0,
probes and latency; and the source preconditions the service refuses."""

from __future__ import annotations

from typing import Any

import pytest

from nwlab.emulator import engine
from nwlab.emulator.errors import ArmError

from .factory import SUB, Net, check, summary, two_subnets

OK = "Reachable"
NO = "Unreachable"


def lab(**emulation: Any) -> Net:
    net = two_subnets()
    net.emulation.update(emulation)
    return net


def b_id() -> str:
    return Net().vm_id("b")


def test_stopped_destination_vm_unreachable_without_issues() -> None:
    net = Net()
    net.vnet("v", "10.0.0.0/16")
    net.subnet("v", "s", "10.0.1.0/24")
    net.vm("a", "v", "s", "10.0.1.4")
    net.vm("b", "v", "s", "10.0.1.5", power="deallocated")
    result = check(net, "a", "b")
    assert result["connectionStatus"] == NO
    assert summary(result) == [("Source", "10.0.1.4", []), ("VnetLocal", "10.0.1.5", [])]
    assert result["probesFailed"] == result["probesSent"]


@pytest.mark.parametrize(("emulation", "port", "status", "issue"), [
    ({}, 12345, OK, []),  # no listeners section: every port listens
    ({"listeners": {b_id(): [22]}}, 80, NO, ["NoListenerOnDestination:Inbound:"]),
    ({"listeners": {b_id(): [22, 80]}}, 80, OK, []),
    ({"guestFirewall": {b_id(): {"deniedInboundPorts": [80]}}}, 80, NO,
     ["GuestFirewall:Inbound:"]),
    ({"guestFirewall": {b_id(): {"deniedInboundPorts": [80]}}}, 443, OK, []),
    ({"guestFirewall": {b_id(): {"deniedInboundPorts": [80]}}, "listeners": {b_id(): [443]}},
     80, NO, ["GuestFirewall:Inbound:"]),  # the firewall drops before the socket is asked
])
def test_destination_answers(emulation: dict[str, Any], port: int, status: str,
                             issue: list[str]) -> None:
    result = check(lab(**emulation), "a", "b", port)
    assert result["connectionStatus"] == status
    assert summary(result)[-1][2] == issue


def test_icmp_needs_no_listener() -> None:
    assert check(lab(listeners={b_id(): [22]}), "a", "b", protocol="Icmp")[
        "connectionStatus"] == OK


def test_nsg_block_hides_listener_problems() -> None:
    """Probes that never arrive cannot discover a missing listener."""
    from .factory import rule
    net = two_subnets(nsg_b="nb")
    net.nsg("nb", rule("d", 100, "Inbound", "Deny"))
    net.emulation["listeners"] = {b_id(): [22]}
    assert [t for *_, tags in summary(check(net, "a", "b")) for t in tags] == \
        ["NetworkSecurityRule:Inbound:UserRule_d"]


def test_unknown_host_is_a_dns_resolution_issue() -> None:
    result = check(lab(), "a", "nosuch.example.com")
    assert result["connectionStatus"] == NO
    assert summary(result) == [("Source", "10.0.1.4", ["DnsResolution:Local:nosuch.example.com"])]
    assert "avgLatencyInMs" not in result


@pytest.mark.parametrize(("destination", "port", "listening", "status", "last"), [
    ("b.internal", 0, [80], OK, ("VnetLocal", "10.0.2.4")),
    ("B.Internal.", 0, [80], OK, ("VnetLocal", "10.0.2.4")),  # DNS is case-insensitive
    ("http://b.internal/path", 0, [80], OK, ("VnetLocal", "10.0.2.4")),
    ("https://b.internal/", 0, [443], OK, ("VnetLocal", "10.0.2.4")),
    ("https://b.internal/", 0, [80], NO, ("VnetLocal", "10.0.2.4")),
    ("http://b.internal:8080/", 0, [8080], OK, ("VnetLocal", "10.0.2.4")),
    ("http://b.internal:8080/", 22, [22], OK, ("VnetLocal", "10.0.2.4")),  # explicit port wins
    ("http://10.0.2.4/", 0, [80], OK, ("VnetLocal", "10.0.2.4")),  # IP literal in a URL
    ("10.0.2.4", 0, [80], OK, ("VnetLocal", "10.0.2.4")),
    ("10.0.2.4", 0, [443], NO, ("VnetLocal", "10.0.2.4")),  # port 0 -> 80, not "any"
    ("8.8.8.8", 65535, [], OK, ("Internet", "8.8.8.8")),  # the Internet answers on any port
])
def test_destination_forms_and_port_zero(destination: str, port: int, listening: list[int],
                                         status: str, last: tuple[str, str]) -> None:
    net = lab(dns={"b.internal": "10.0.2.4"}, listeners={b_id(): listening or [1]})
    result = check(net, "a", destination, port)
    assert result["connectionStatus"] == status
    assert summary(result)[-1][:2] == last


def test_port_zero_with_https_protocol_checks_443() -> None:
    net = lab(listeners={b_id(): [443]})
    assert check(net, "a", "b", 0, protocol="Https")["connectionStatus"] == OK
    assert check(net, "a", "b", 0, protocol="Tcp")["connectionStatus"] == NO


@pytest.mark.parametrize(("knob", "topology_probes", "expected"), [
    (None, None, 100), (None, 30, 30), (7, 30, 7)])
def test_probes(knob: int | None, topology_probes: int | None, expected: int) -> None:
    net = lab() if topology_probes is None else lab(probes=topology_probes)
    ok = check(net, "a", "b", probes=knob)
    bad = check(net, "a", "10.200.0.1", probes=knob)
    assert (ok["probesSent"], ok["probesFailed"]) == (expected, 0)
    assert (bad["probesSent"], bad["probesFailed"]) == (expected, expected)


def test_latency_from_topology_and_overrides() -> None:
    net = lab(latency={"default": {"min": 2, "avg": 3, "max": 9},
                       "destinations": {"8.8.8.8": {"min": 20, "avg": 25, "max": 40},
                                        b_id(): {"min": 1, "avg": 1, "max": 1}}})
    far = check(net, "a", "8.8.8.8")
    assert (far["minLatencyInMs"], far["avgLatencyInMs"], far["maxLatencyInMs"]) == (20, 25, 40)
    assert far["hops"][0]["links"][0]["properties"] == {
        "roundTripTimeMin": 20, "roundTripTimeAvg": 25, "roundTripTimeMax": 40}
    near = check(net, "a", "b")
    assert near["avgLatencyInMs"] == 1
    other = check(net, "a", "1.1.1.1")
    assert other["avgLatencyInMs"] == 3


def test_unreachable_has_no_latency_and_empty_link_properties() -> None:
    result = check(lab(), "a", "10.200.0.1")
    assert not {"avgLatencyInMs", "minLatencyInMs", "maxLatencyInMs"} & result.keys()
    assert result["hops"][0]["links"][0]["properties"] == {}
    assert result["hops"][0]["links"][0]["context"] == {}
    assert result["hops"][0]["links"][0]["resourceId"] == ""


def test_hop_ids_are_deterministic_and_differ_between_checks() -> None:
    net = lab()
    one, two = check(net, "a", "b"), check(net, "a", "b")
    assert one == two
    other = check(net, "a", "b", 81)
    assert other["hops"][0]["id"] != one["hops"][0]["id"]


# --- preconditions and request validation ----------------------------------------------------

def _body(source: str = "a", **dest: Any) -> dict[str, Any]:
    vm = f"/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/"
    return {"source": {"resourceId": vm + source},
            "destination": dest or {"address": "10.0.2.4", "port": 80}}


def _refused(net: Net, body: Any) -> ArmError:
    topo = net.topology()
    with pytest.raises(ArmError) as err:
        engine.parse_check(topo, next(iter(topo.watchers.values())), body)
    return err.value


def test_source_without_agent_is_refused() -> None:
    net = lab()
    net.vm("c", "v", "a", "10.0.1.5", agent=False)
    err = _refused(net, _body("c"))
    assert (err.status, err.code) == (400, "NetworkWatcherAgentNotInstalled")
    assert "agent is not installed" in err.message


def test_source_not_running_is_refused() -> None:
    net = lab()
    net.vm("c", "v", "a", "10.0.1.5", power="stopped")
    err = _refused(net, _body("c"))
    assert (err.status, err.code) == (400, "VmNotRunning")
    assert "not running" in err.message


def test_watcher_in_other_region_is_refused() -> None:
    net = lab()
    net.vm("c", "v", "a", "10.0.1.5", location="eastus")
    err = _refused(net, _body("c"))
    assert "region" in err.message and err.status == 400


@pytest.mark.parametrize(("body", "status", "words"), [
    (_body("zz"), 404, "virtualMachines/zz"),
    ({"source": {"resourceId": Net().vm_id("a")}}, 400, "destination is required"),
    ({"destination": {"address": "10.0.2.4"}}, 400, "source is required"),
    (_body(address="10.0.2.4", port=70000), 400, "destination.port"),
    (_body(address="10.0.2.4", port=-1), 400, "destination.port"),
    ({**_body(), "protocol": "Udp"}, 400, "protocol"),
    (_body(resourceId=Net().vm_id("zz")), 404, "virtualMachines/zz"),
    (_body(address="ftp://b.internal/"), 400, "http://"),
    (_body(address="10.0.1.4"), 400, "same"),
    ([1, 2], 400, "JSON object"),
])
def test_bad_requests_are_refused(body: Any, status: int, words: str) -> None:
    err = _refused(lab(), body)
    assert err.status == status
    assert words in err.message


def test_port_given_as_digit_string_is_accepted() -> None:
    topo = lab(listeners={b_id(): [3389]}).topology()
    spec = engine.parse_check(topo, next(iter(topo.watchers.values())),
                              _body(address="10.0.2.4", port="3389"))
    assert spec.port == 3389
