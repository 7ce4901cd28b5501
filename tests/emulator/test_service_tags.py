"""Service tags in NSG rules and routes (twin-semantics §1; doc service-tags-overview,
virtual-networks-udr-overview "Service Tags for user-defined routes")."""

from __future__ import annotations

from .factory import Net, assumed, check, outcome, route, rule, summary

STORAGE = "20.60.0.0/16"
SQL_WEU = "40.68.0.0/16"
CLOUD = "20.0.0.0/8"


def _net(*rules: dict, tags: dict | None = None, rt: list | None = None) -> Net:
    """VM a (10.0.1.4) whose NIC NSG holds ``rules``; optional route table on its subnet."""
    net = Net()
    net.vnet("v", "10.0.0.0/16")
    if rt is not None:
        net.rt("rt", *rt)
    net.subnet("v", "a", "10.0.1.0/24", rt="rt" if rt is not None else None)
    net.nsg("n", *rules)
    net.vm("a", "v", "a", "10.0.1.4", nsg="n")
    net.service_tags(tags if tags is not None else {
        "Storage": [STORAGE, "2603:1000::/40"], "Storage.WestUS": ["20.60.1.0/24"],
        "Sql.WestEurope": [SQL_WEU], "AzureCloud": [CLOUD], "AzureMonitor": ["20.61.0.0/16"],
        "GatewayManager": ["20.62.0.0/16"]})
    return net


def test_destination_tag_matches_its_prefixes() -> None:
    net = _net(rule("no-storage", 100, "Outbound", "Deny", dst="Storage"))
    blocked = check(net, "a", "20.60.5.5", 443)
    assert blocked["connectionStatus"] == "Unreachable"
    assert summary(blocked)[0][2] == ["NetworkSecurityRule:Outbound:UserRule_no-storage"]
    assert check(net, "a", "20.99.5.5", 443)["connectionStatus"] == "Reachable"


def test_regional_tag_is_its_own_list() -> None:
    net = _net(rule("no-sql-weu", 100, "Outbound", "Deny", dst="Sql.WestEurope"))
    assert check(net, "a", "40.68.1.1", 1433)["connectionStatus"] == "Unreachable"
    assert check(net, "a", "20.60.5.5", 1433)["connectionStatus"] == "Reachable"


def test_tag_names_match_case_insensitively() -> None:
    # twin-semantics §1.4: the data spells Storage.WestEurope but AzureCloud.westeurope.
    net = _net(rule("no-cloud", 100, "Outbound", "Deny", dst="azurecloud"))
    assert check(net, "a", "20.1.2.3", 443)["connectionStatus"] == "Unreachable"


def test_source_tag_in_an_inbound_rule() -> None:
    # A tag may be used in either direction (the doc's direction column is advice).
    net = Net()
    net.vnet("v", "10.0.0.0/16")
    net.subnet("v", "a", "10.0.1.0/24")
    net.subnet("v", "b", "10.0.2.0/24")
    net.nsg("n", rule("monitor-in", 100, "Inbound", "Deny", src="AzureMonitor"),
            rule("vnet-in", 110, "Inbound", "Deny", src="10.0.1.0/24", dport="22"))
    net.vm("a", "v", "a", "10.0.1.4")
    net.vm("b", "v", "b", "10.0.2.4", nsg="n")
    net.service_tags({"AzureMonitor": ["10.0.1.0/24"]})  # a tag naming a's subnet (test only)
    result = check(net, "a", "b", 80)
    assert summary(result)[-1][2] == ["NetworkSecurityRule:Inbound:UserRule_monitor-in"]


def test_ipv6_prefixes_of_a_tag_are_kept_out_of_ipv4_matching() -> None:
    # The tag holds both families (test_ipv6.py matches its IPv6 prefix); an IPv4 packet
    # meets only its IPv4 prefixes, so the IPv6 prefix widens nothing here.
    net = _net(rule("no-storage", 100, "Outbound", "Deny", dst="Storage"))
    topo = net.topology()
    data, _ = topo.service_tags.lookup("Storage", "westus")
    assert data is not None and len(data.prefixes) == 2
    assert check(net, "a", "20.61.5.5", 443)["connectionStatus"] == "Reachable"
    assert check(net, "a", "20.60.5.5", 443)["connectionStatus"] == "Unreachable"


def test_unresolved_tag_is_an_assumption_and_undetermined_when_it_could_decide() -> None:
    net = _net(rule("no-keyvault", 100, "Outbound", "Deny", dst="AzureKeyVault"))
    result = check(net, "a", "20.99.5.5", 443)
    # Treated as not matching, so the default AllowInternetOutBound decides...
    assert result["connectionStatus"] == "Reachable"
    # ...but a Deny skipped before an Allow could have decided: the verdict rests on it.
    assert ("UNRESOLVED_SERVICE_TAG", True) in assumed(result)
    assert outcome(result) == "undetermined"


def test_unresolved_tag_with_the_same_access_as_the_decision_is_not_sensitive() -> None:
    net = _net(rule("keyvault", 100, "Outbound", "Allow", dst="AzureKeyVault"))
    result = check(net, "a", "20.99.5.5", 443)
    assert ("UNRESOLVED_SERVICE_TAG", False) in assumed(result)
    assert outcome(result) == "reached"


def test_unresolved_tag_not_evaluated_is_not_on_the_path() -> None:
    # The rule's port differs: it cannot match whatever the tag holds.
    net = _net(rule("no-keyvault", 100, "Outbound", "Deny", dst="AzureKeyVault", dport="25"))
    assert assumed(check(net, "a", "20.99.5.5", 443)) == []


def test_tag_route_sends_the_tag_prefixes_to_its_next_hop() -> None:
    net = _net(rt=[route("storage-none", "Storage", "None")])
    result = check(net, "a", "20.60.5.5", 443)
    assert summary(result)[0][2] == ["UserDefinedRoute:Outbound:User"]
    assert check(net, "a", "20.99.5.5", 443)["connectionStatus"] == "Reachable"


def test_exact_prefix_cidr_route_beats_tag_route() -> None:
    # doc "Exact match": an explicit prefix wins over a tag route with the same prefix.
    net = _net(rt=[route("storage-none", "Storage", "None"),
                   route("cidr-internet", STORAGE, "Internet")])
    assert check(net, "a", "20.60.5.5", 443)["connectionStatus"] == "Reachable"


def test_regional_tag_route_beats_top_level_and_azurecloud_on_the_same_prefix() -> None:
    same = "20.60.0.0/16"
    tags = {"Storage": [same], "Storage.WestUS": [same], "AzureCloud": [same],
            "AzureCloud.westus": [same]}
    regional = _net(rt=[route("cloud", "AzureCloud", "None"),
                        route("cloud-r", "AzureCloud.westus", "None"),
                        route("top", "Storage", "None"),
                        route("reg", "Storage.WestUS", "Internet")], tags=tags)
    assert check(regional, "a", "20.60.5.5", 443)["connectionStatus"] == "Reachable"
    top = _net(rt=[route("cloud", "AzureCloud", "None"),
                   route("top", "Storage", "Internet")], tags=tags)
    assert check(top, "a", "20.60.5.5", 443)["connectionStatus"] == "Reachable"
    cloud = _net(rt=[route("cloud", "AzureCloud", "Internet"),
                     route("cloud-r", "AzureCloud.westus", "None")], tags=tags)
    assert check(cloud, "a", "20.60.5.5", 443)["connectionStatus"] == "Unreachable"


def test_longer_tag_prefix_beats_shorter_cidr_route() -> None:
    net = _net(rt=[route("storage-none", "Storage", "None"),
                   route("wide", "20.0.0.0/8", "Internet")])
    assert check(net, "a", "20.60.5.5", 443)["connectionStatus"] == "Unreachable"


def test_tag_route_does_not_widen_virtual_network_tag() -> None:
    # Assumed (twin-semantics §1.4): only CIDR user routes join VirtualNetwork.
    net = _net(rule("deny-vnet-out", 100, "Outbound", "Deny", dst="VirtualNetwork"),
               rt=[route("storage-internet", "Storage", "Internet")])
    result = check(net, "a", "20.60.5.5", 443)
    assert result["connectionStatus"] == "Reachable"
    assert ("ASSUME_TAG_ROUTE_NOT_IN_VIRTUALNETWORK", False) in assumed(result)


def test_unresolved_tag_route_is_sensitive_for_public_destinations_only() -> None:
    net = _net(rt=[route("kv", "AzureKeyVault", "None")])
    assert ("UNRESOLVED_SERVICE_TAG", True) in assumed(check(net, "a", "20.99.5.5", 443))
    net.vm("b", "v", "a", "10.0.1.5")
    assert ("UNRESOLVED_SERVICE_TAG", False) in assumed(check(net, "a", "b", 80))


def test_tag_from_another_region_is_used_and_said() -> None:
    net = _net(rule("no-storage", 100, "Outbound", "Deny", dst="Storage"), tags={})
    net.service_tags({"Storage": [STORAGE]}, region="westeurope")
    result = check(net, "a", "20.60.5.5", 443)
    assert result["connectionStatus"] == "Unreachable"
    assert ("ASSUME_SERVICE_TAG_OTHER_REGION", False) in assumed(result)
