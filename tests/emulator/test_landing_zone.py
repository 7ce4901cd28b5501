"""The bundled landing-zone estate's documented checks (docs/twin.md, "The landing-zone estate").

Every part of the estate is modelled: Azure Firewall, the private endpoint and its DNS zone, the
VPN gateway, the load balancer, outbound, the scale set. IPv6 checks are not (a strict xfail that
flips the moment they are).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import nwlab
from nwlab.emulator import landing_zone
from nwlab.emulator.topology import load_topology

RG = landing_zone.RG
INSTANCE = f"{landing_zone.COMPUTE}/virtualMachineScaleSets/api/virtualMachines/1"


@pytest.fixture(scope="module")
def lz() -> Iterator[nwlab.NetworkWatcher]:
    nw = nwlab.emulate("landing-zone", check_seconds=0, retry_after=0)
    yield nw
    nw.close()


def codes(result: nwlab.ConnectivityResult) -> list[str]:
    return [a.code for a in result.assumptions]


def test_the_estate_loads_without_refusal_and_lists_what_it_cannot_model() -> None:
    topo = load_topology("landing-zone")
    unmodelled = {a.resource_id.rsplit("/", 1)[-1] for a in topo.assumptions
                  if a.code == "UNMODELLED_RESOURCE_TYPE"}
    # Nothing of the estate is outside the model: firewall, policy, gateway, local network
    # gateway, private endpoint, load balancer, NAT gateway, scale set.
    assert not unmodelled & {"hub-fw", "fw-policy", "hub-vpngw", "onprem-site", "pe-stlzdata",
                             "web-ilb", "data-natgw", "api"}
    assert len(topo.vms) == 8 and len(topo.nics) == 9


def test_web_tier_answers_through_the_internal_load_balancer(lz: nwlab.NetworkWatcher) -> None:
    result = lz.check("jump", landing_zone.ILB_IP, 443, resource_group=RG)
    assert result.reachable
    assert result.hops[-1].address == "10.1.1.4"
    assert "ASSUME_LB_BACKEND_FIRST_HEALTHY" in codes(result)


def test_blocking_the_probe_takes_the_web_tier_down() -> None:
    # Tightening the web NSG to the private ranges leaves out 168.63.129.16, the probes' source.
    nw = nwlab.emulate("landing-zone", check_seconds=0, retry_after=0)
    try:
        nsg = f"{landing_zone.NET}/networkSecurityGroups/web-nsg"
        for name, priority, access, source in (("allow-https-to-web", 100, "Allow", "10.0.0.0/8"),
                                               ("deny-rest-inbound", 4000, "Deny", "*")):
            rule = {"priority": priority, "direction": "Inbound", "access": access,
                    "protocol": "Tcp" if access == "Allow" else "*",
                    "sourceAddressPrefix": source, "sourcePortRange": "*",
                    "destinationPortRange": "443" if access == "Allow" else "*"}
            if access == "Allow":
                rule["destinationApplicationSecurityGroups"] = [
                    {"id": f"{landing_zone.NET}/applicationSecurityGroups/asg-web"}]
            else:
                rule["destinationAddressPrefix"] = "*"
            nw.set_security_rule(nsg, name, **rule)
        result = nw.check("jump", landing_zone.ILB_IP, 443, resource_group=RG)
        assert not result.reachable
        down = [a for a in result.assumptions if a.code == "ASSUME_LB_HEALTH_FROM_PROBE"]
        assert down and "UserRule_deny-rest-inbound" in down[0].assumed
        # The web VMs themselves still answer the jump box directly: only the probe is denied.
        assert nw.check("jump", "web1", 443, resource_group=RG).reachable
    finally:
        nw.close()


def test_private_subnet_has_no_internet_path(lz: nwlab.NetworkWatcher) -> None:
    result = lz.check("worker1", "13.107.21.200", 443, resource_group=RG)
    assert not result.reachable and result.issues == []
    assert codes(result) == ["ASSUME_NO_OUTBOUND_UNREACHABLE"]


def test_private_subnet_still_reaches_its_neighbours(lz: nwlab.NetworkWatcher) -> None:
    assert lz.check("worker1", "app1", 8080, resource_group=RG).reachable


def test_scale_set_instance_leaves_through_the_nat_gateway(lz: nwlab.NetworkWatcher) -> None:
    result = lz.check(INSTANCE, "13.107.21.200", 443)
    assert result.reachable
    assert "ASSUME_VMSS_INSTANCE_SOURCE" in codes(result)


def test_scale_set_instance_is_a_destination_by_its_address(lz: nwlab.NetworkWatcher) -> None:
    assert lz.check("jump", "10.3.1.5", 8443, resource_group=RG).reachable
    with pytest.raises(ValueError, match="private IP address"):
        lz.check("jump", INSTANCE, 8443, resource_group=RG)


def test_dual_stack_vm_checks_over_ipv4(lz: nwlab.NetworkWatcher) -> None:
    result = lz.check("dual1", "10.3.1.4", 8443, resource_group=RG)
    assert result.reachable
    # Its IPv6 configuration is modelled now, not skipped: the IPv4 check assumes nothing.
    assert "UNMODELLED_VALUE" not in codes(result)


def test_dual_stack_vm_checks_over_ipv6(lz: nwlab.NetworkWatcher) -> None:
    result = lz.check("dual1", "fd00:db8:3:1::4", 8443, resource_group=RG, ip_version="IPv6")
    assert result.reachable


def test_spoke_to_spoke_goes_through_the_firewall(lz: nwlab.NetworkWatcher) -> None:
    result = lz.check("web1", "app1", 8080, resource_group=RG)
    assert result.reachable
    assert any("azurefirewalls/hub-fw" in h.resource_id.lower() for h in result.hops)


def test_firewall_without_a_rule_denies(lz: nwlab.NetworkWatcher) -> None:
    result = lz.check("app1", "web1", 443, resource_group=RG)
    assert not result.reachable
    assert any("azurefirewalls/hub-fw" in h.resource_id.lower() for h in result.hops)


def test_private_endpoint_answers_by_name(lz: nwlab.NetworkWatcher) -> None:
    result = lz.check("app1", f"https://{landing_zone.STORAGE_HOST}", resource_group=RG)
    assert result.reachable
    assert result.hops[-1].address == "10.2.2.5"


def test_on_premises_leaves_through_the_vpn_gateway(lz: nwlab.NetworkWatcher) -> None:
    result = lz.check("jump", "192.168.1.10", 22, resource_group=RG)
    assert any("virtualnetworkgateways/hub-vpngw" in h.resource_id.lower()
               for h in result.hops)


def test_firewall_dnat_publishes_the_web_tier_on_its_public_ip(
        lz: nwlab.NetworkWatcher) -> None:
    # The instance leaves by its NAT gateway and comes back in on the firewall's public IP;
    # the DNAT rule web-https sends it to the ILB frontend, which picks web1.
    result = lz.check(INSTANCE, landing_zone.FIREWALL_PUBLIC_IP, 443, resource_group=RG)
    assert result.reachable
    assert [(h.type, h.address) for h in result.hops] == [
        ("Source", "10.3.1.5"), ("Internet", landing_zone.FIREWALL_PUBLIC_IP),
        ("VirtualAppliance", landing_zone.FIREWALL_IP), ("VnetLocal", "10.1.1.4")]
    assert "ASSUME_FIREWALL_DNAT_PATH" in codes(result)


def test_firewall_dnat_rule_for_another_source_denies(lz: nwlab.NetworkWatcher) -> None:
    # jump-ssh admits only the on-premises site's public range; the NAT gateway's address is
    # not in it: default deny at the firewall.
    result = lz.check(INSTANCE, landing_zone.FIREWALL_PUBLIC_IP, 2222, resource_group=RG)
    assert not result.reachable
    assert result.hops[-1].type == "VirtualAppliance"
    assert "ASSUME_FIREWALL_DENY" in codes(result)
    assert not any(a.verdict_sensitive for a in result.assumptions)


def test_public_load_balancer_reaches_the_scale_set_through_the_firewall(
        lz: nwlab.NetworkWatcher) -> None:
    # web1's default route takes it to the firewall (network rule web-to-api-public), which
    # leaves with its public IP; api-plb's rule api-https sends the flow to instance 0 on 8443,
    # whose NSG admits Internet sources.
    result = lz.check("web1", landing_zone.API_PUBLIC_IP, 443, resource_group=RG)
    assert result.reachable
    assert [(h.type, h.address) for h in result.hops] == [
        ("Source", "10.1.1.4"), ("VirtualAppliance", landing_zone.FIREWALL_IP),
        ("Internet", landing_zone.API_PUBLIC_IP), ("VnetLocal", "10.3.1.4")]
    assert "ASSUME_PUBLIC_FRONTEND_PATH" in codes(result)
    # app1 has no firewall rule for it: the firewall stops it on the way out.
    assert not lz.check("app1", landing_zone.API_PUBLIC_IP, 443, resource_group=RG).reachable
