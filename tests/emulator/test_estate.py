"""A snapshot-shaped estate through the client: hub and spoke with an appliance, service tags,
ASGs, admin rules and peering flags, answered as twin-semantics says, assumptions shown."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import nwlab

from .factory import Net, admin_rule, route, rule


@pytest.fixture(scope="module")
def estate() -> Iterator[nwlab.NetworkWatcher]:
    net = Net()
    web, db = net.asg("asg-web"), net.asg("asg-db")
    net.vnet("hub", "10.0.0.0/16")
    net.vnet("spoke1", "10.1.0.0/16")
    net.vnet("spoke2", "10.2.0.0/16")
    net.subnet("hub", "nva", "10.0.1.0/24")
    net.rt("via-hub", route("default", "0.0.0.0/0", "VirtualAppliance", "10.0.1.4"),
           route("storage", "Storage", "Internet"))
    net.nsg("app", rule("web-db", 100, "Inbound", "Allow", src_asgs=[web], dst_asgs=[db],
                        dport="1433", protocol="Tcp"),
            rule("deny-db", 110, "Inbound", "Deny", dst_asgs=[db]),
            rule("no-sql", 120, "Outbound", "Deny", dst="Sql.WestUS"),
            rule("from-spoke2", 130, "Inbound", "Allow", src="10.2.0.0/16", dport="443"))
    net.subnet("spoke1", "app", "10.1.1.0/24", nsg="app", rt="via-hub")
    net.subnet("spoke2", "app", "10.2.1.0/24", rt="via-hub")
    net.peer("hub", "spoke1", ab={"allowForwardedTraffic": True},
             ba={"allowForwardedTraffic": True})
    net.peer("hub", "spoke2", ab={"allowForwardedTraffic": True},
             ba={"allowForwardedTraffic": True})
    net.vm("nva", "hub", "nva", "10.0.1.4", forwarding=True)
    net.vm("web", "spoke1", "app", "10.1.1.4", asgs=[web])
    net.vm("db", "spoke1", "app", "10.1.1.5", asgs=[db])
    net.vm("other", "spoke2", "app", "10.2.1.4")
    net.admin("spoke1", admin_rule("deny-telnet", 10, "Inbound", "Deny", dport="23"))
    net.service_tags({"Storage": ["20.60.0.0/16"], "Sql.WestUS": ["40.78.0.0/16"]})
    nw = nwlab.emulate(net.document(), check_seconds=0, retry_after=0)
    yield nw
    nw.close()


@pytest.mark.parametrize(("source", "dest", "port", "reachable", "blocker"), [
    ("web", "db", 1433, True, None),  # ASG to ASG allowed
    ("web", "db", 22, False, "UserRule_deny-db"),  # other ports to the db ASG denied
    ("other", "web", 443, True, None),  # spoke to spoke through the hub's appliance
    ("other", "web", 23, False, "deny-telnet"),  # the admin rule comes before the NSG
    ("web", "40.78.1.1", 1433, False, "UserRule_no-sql"),  # regional service tag
    ("web", "20.60.1.1", 443, True, None),  # the Storage tag route goes straight out
])
def test_estate_answers(estate: nwlab.NetworkWatcher, source: str, dest: str, port: int,
                        reachable: bool, blocker: str | None) -> None:
    result = estate.check(source, dest, port, resource_group="rg")
    assert result.reachable is reachable
    names = [i.context.get("RuleName") for i in result.issues]
    assert names == ([blocker] if blocker else [])


def test_estate_storage_route_skips_the_appliance(estate: nwlab.NetworkWatcher) -> None:
    via_tag = estate.check("web", "20.60.1.1", 443, resource_group="rg")
    via_nva = estate.check("web", "8.8.8.8", 443, resource_group="rg")
    assert [h.type for h in via_tag.hops] == ["Source", "Internet"]
    assert [h.type for h in via_nva.hops] == ["Source", "VirtualAppliance", "Internet"]


def test_estate_assumptions_show_where_the_path_touched_them(
        estate: nwlab.NetworkWatcher) -> None:
    spoke_to_spoke = estate.check("other", "web", 443, resource_group="rg")
    codes = {a.code for a in spoke_to_spoke.assumptions}
    assert "ASSUME_PEERING_FORWARDED_RECEIVER_SIDE" in codes
    assert not spoke_to_spoke.undetermined  # both sides allow forwarded traffic
    blocked = estate.check("other", "web", 23, resource_group="rg")
    assert "ASSUME_ADMIN_RULE_ISSUE" in {a.code for a in blocked.assumptions}
    assert "assumed" in str(blocked)
    assert {a.code for a in estate.assumptions} == {"ASSUME_TAG_ROUTE_NOT_IN_VIRTUALNETWORK"}
