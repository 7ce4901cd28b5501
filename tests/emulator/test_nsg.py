"""NSG semantics, one table row per rule (DESIGN.md "NSGs" and "Service tags")."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from .factory import Net, check, flow, route, rule, summary, two_subnets

OK = "Reachable"
NO = "Unreachable"


def _blocked_by(result: dict, direction: str, name: str) -> bool:
    return any(f"NetworkSecurityRule:{direction}:{name}" in tags
               for _, _, tags in summary(result))


def _all_issues(result: dict) -> list[str]:
    return [t for _, _, tags in summary(result) for t in tags]


def nsg_on_b(*rules: dict) -> Net:
    net = two_subnets(nsg_b="nb")
    net.nsg("nb", *rules)
    return net


def nsg_on_a(*rules: dict) -> Net:
    net = two_subnets(nsg_a="na")
    net.nsg("na", *rules)
    return net


# (id, network builder, check kwargs, expected status, expected issues)
CASES: list[tuple[str, Callable[[], Net], dict, str, list[str]]] = [
    ("priority_allow_first_wins",
     lambda: nsg_on_b(rule("allow", 100, "Inbound", "Allow", dport="80"),
                      rule("deny", 200, "Inbound", "Deny", dport="80")), {}, OK, []),
    ("priority_deny_first_wins",
     lambda: nsg_on_b(rule("allow", 200, "Inbound", "Allow", dport="80"),
                      rule("deny", 100, "Inbound", "Deny", dport="80")), {}, NO,
     ["NetworkSecurityRule:Inbound:UserRule_deny"]),
    ("priority_is_numeric_not_listed_order",
     lambda: nsg_on_b(rule("deny", 1000, "Inbound", "Deny"),
                      rule("allow", 999, "Inbound", "Allow")), {}, OK, []),
    ("default_allow_vnet_inbound_and_outbound",
     lambda: _empty_nsgs(), {}, OK, []),
    ("default_deny_all_outbound_reported",
     lambda: nsg_on_a(), {"destination": "192.0.2.1"}, NO,
     ["NetworkSecurityRule:Outbound:DefaultRule_DenyAllOutBound"]),
    ("outbound_user_rule_reported_on_source_hop",
     lambda: nsg_on_a(rule("noweb", 100, "Outbound", "Deny", protocol="Tcp", dport="80")), {},
     NO, ["NetworkSecurityRule:Outbound:UserRule_noweb"]),
    ("direction_matters_outbound_rule_ignores_inbound",
     lambda: nsg_on_b(rule("out", 100, "Outbound", "Deny")), {}, OK, []),
    # service tags
    ("tag_virtualnetwork_source_matches_vnet",
     lambda: nsg_on_b(rule("novnet", 100, "Inbound", "Deny", src="VirtualNetwork")), {}, NO,
     ["NetworkSecurityRule:Inbound:UserRule_novnet"]),
    ("tag_internet_denies_public_only",
     lambda: nsg_on_a(rule("nonet", 100, "Outbound", "Deny", dst="Internet")),
     {"destination": "8.8.8.8"}, NO, ["NetworkSecurityRule:Outbound:UserRule_nonet"]),
    ("tag_internet_does_not_match_private",
     lambda: nsg_on_a(rule("nonet", 100, "Outbound", "Deny", dst="Internet")), {}, OK, []),
    ("tag_azureloadbalancer_does_not_match_vm",
     lambda: nsg_on_b(rule("nolb", 100, "Inbound", "Deny", src="AzureLoadBalancer")), {}, OK,
     []),
    ("tag_is_case_insensitive",
     lambda: nsg_on_b(rule("novnet", 100, "Inbound", "Deny", src="virtualnetwork")), {}, NO,
     ["NetworkSecurityRule:Inbound:UserRule_novnet"]),
    # prefixes
    ("single_prefix_cidr_matches",
     lambda: nsg_on_b(rule("d", 100, "Inbound", "Deny", src="10.0.1.0/24")), {}, NO,
     ["NetworkSecurityRule:Inbound:UserRule_d"]),
    ("single_prefix_other_cidr_ignored",
     lambda: nsg_on_b(rule("d", 100, "Inbound", "Deny", src="10.0.9.0/24")), {}, OK, []),
    ("listed_prefixes_match_any",
     lambda: nsg_on_b(rule("d", 100, "Inbound", "Deny", src=["10.0.9.0/24", "10.0.1.4"])), {},
     NO, ["NetworkSecurityRule:Inbound:UserRule_d"]),
    ("listed_prefixes_none_match",
     lambda: nsg_on_b(rule("d", 100, "Inbound", "Deny", src=["10.0.9.0/24", "10.0.1.5"])), {},
     OK, []),
    ("destination_prefix_matches",
     lambda: nsg_on_a(rule("d", 100, "Outbound", "Deny", dst="10.0.2.4/32")), {}, NO,
     ["NetworkSecurityRule:Outbound:UserRule_d"]),
    # ports
    ("port_range_contains",
     lambda: nsg_on_b(rule("d", 100, "Inbound", "Deny", dport="79-81")), {}, NO,
     ["NetworkSecurityRule:Inbound:UserRule_d"]),
    ("port_range_excludes",
     lambda: nsg_on_b(rule("d", 100, "Inbound", "Deny", dport="81-90")), {}, OK, []),
    ("port_list_contains",
     lambda: nsg_on_b(rule("d", 100, "Inbound", "Deny", dport=["22", "80"])), {}, NO,
     ["NetworkSecurityRule:Inbound:UserRule_d"]),
    ("port_list_excludes",
     lambda: nsg_on_b(rule("d", 100, "Inbound", "Deny", dport=["22", "443"])), {}, OK, []),
    ("source_port_ephemeral_default",
     lambda: nsg_on_b(rule("d", 100, "Inbound", "Deny", sport="49152")), {}, NO,
     ["NetworkSecurityRule:Inbound:UserRule_d"]),
    ("source_port_given",
     lambda: nsg_on_b(rule("d", 100, "Inbound", "Deny", sport="49152")),
     {"source_port": 5000}, OK, []),
    # protocols
    ("protocol_udp_rule_ignores_tcp",
     lambda: nsg_on_b(rule("d", 100, "Inbound", "Deny", protocol="Udp")), {}, OK, []),
    ("protocol_tcp_rule_blocks_tcp",
     lambda: nsg_on_b(rule("d", 100, "Inbound", "Deny", protocol="Tcp")), {}, NO,
     ["NetworkSecurityRule:Inbound:UserRule_d"]),
    ("protocol_tcp_rule_ignores_icmp",
     lambda: nsg_on_b(rule("d", 100, "Inbound", "Deny", protocol="Tcp")),
     {"protocol": "Icmp"}, OK, []),
    ("protocol_icmp_rule_blocks_icmp",
     lambda: nsg_on_b(rule("d", 100, "Inbound", "Deny", protocol="Icmp")),
     {"protocol": "Icmp"}, NO, ["NetworkSecurityRule:Inbound:UserRule_d"]),
    ("protocol_icmp_rule_ignores_tcp",
     lambda: nsg_on_b(rule("d", 100, "Inbound", "Deny", protocol="Icmp")), {}, OK, []),
    ("protocol_any_rule_ports_ignored_for_icmp",
     lambda: nsg_on_b(rule("d", 100, "Inbound", "Deny", protocol="*", dport="3389")),
     {"protocol": "Icmp"}, NO, ["NetworkSecurityRule:Inbound:UserRule_d"]),
    ("protocol_http_is_tcp_on_the_wire",
     lambda: nsg_on_b(rule("d", 100, "Inbound", "Deny", protocol="Tcp", dport="80")),
     {"protocol": "Http"}, NO, ["NetworkSecurityRule:Inbound:UserRule_d"]),
]


def _empty_nsgs() -> Net:
    net = two_subnets(nsg_a="na", nsg_b="nb")
    net.nsg("na")
    net.nsg("nb")
    return net


@pytest.mark.parametrize(("build", "kwargs", "status", "issues"),
                         [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_nsg_rule(build: Callable[[], Net], kwargs: dict, status: str,
                  issues: list[str]) -> None:
    kwargs = dict(kwargs)
    dest = kwargs.pop("destination", "b")
    result = check(build(), "a", dest, **kwargs)
    assert result["connectionStatus"] == status
    assert _all_issues(result) == issues


# --- NIC vs subnet order, both directions ---------------------------------------------------

def test_outbound_nic_nsg_is_evaluated_before_subnet_nsg() -> None:
    net = two_subnets(nsg_a="subnet_nsg", nic_nsg_a="nic_nsg")
    net.nsg("subnet_nsg", rule("subnetdeny", 100, "Outbound", "Deny"))
    net.nsg("nic_nsg", rule("nicdeny", 100, "Outbound", "Deny"))
    result = check(net, "a", "b")
    assert _all_issues(result) == ["NetworkSecurityRule:Outbound:UserRule_nicdeny"]
    assert summary(result)[0][2] == ["NetworkSecurityRule:Outbound:UserRule_nicdeny"]


def test_inbound_subnet_nsg_is_evaluated_before_nic_nsg() -> None:
    net = two_subnets(nsg_b="subnet_nsg", nic_nsg_b="nic_nsg")
    net.nsg("subnet_nsg", rule("subnetdeny", 100, "Inbound", "Deny"))
    net.nsg("nic_nsg", rule("nicdeny", 100, "Inbound", "Deny"))
    result = check(net, "a", "b")
    assert _all_issues(result) == ["NetworkSecurityRule:Inbound:UserRule_subnetdeny"]
    assert summary(result)[1][2] == ["NetworkSecurityRule:Inbound:UserRule_subnetdeny"]


@pytest.mark.parametrize("deny_at", ["nic", "subnet"])
@pytest.mark.parametrize("direction", ["Inbound", "Outbound"])
def test_both_nsgs_must_allow(direction: str, deny_at: str) -> None:
    side = "b" if direction == "Inbound" else "a"
    kw = {f"nsg_{side}": "subnet_nsg", f"nic_nsg_{side}": "nic_nsg"}
    net = two_subnets(**kw)
    allow = rule("allow", 100, direction, "Allow")
    deny = rule("deny", 100, direction, "Deny")
    net.nsg("subnet_nsg", deny if deny_at == "subnet" else allow)
    net.nsg("nic_nsg", deny if deny_at == "nic" else allow)
    result = check(net, "a", "b")
    assert result["connectionStatus"] == NO
    assert _all_issues(result) == [f"NetworkSecurityRule:{direction}:UserRule_deny"]


def test_nsg_is_stateful_reply_not_filtered() -> None:
    """b denies all outbound, yet a's connection to b works: replies are not filtered."""
    net = nsg_on_b(rule("noout", 100, "Outbound", "Deny"))
    assert check(net, "a", "b")["connectionStatus"] == OK


# --- default rules, by ipFlowVerify (the same evaluation) -----------------------------------

@pytest.mark.parametrize(("direction", "remote", "expected"), [
    ("Inbound", "10.0.1.4", ("Allow", "defaultSecurityRules/AllowVnetInBound")),
    ("Inbound", "168.63.129.16", ("Allow", "defaultSecurityRules/AllowAzureLoadBalancerInBound")),
    ("Inbound", "8.8.8.8", ("Deny", "defaultSecurityRules/DenyAllInBound")),
    ("Outbound", "10.0.1.4", ("Allow", "defaultSecurityRules/AllowVnetOutBound")),
    ("Outbound", "8.8.8.8", ("Allow", "defaultSecurityRules/AllowInternetOutBound")),
    ("Outbound", "192.0.2.1", ("Deny", "defaultSecurityRules/DenyAllOutBound")),
])
def test_default_rules(direction: str, remote: str, expected: tuple[str, str]) -> None:
    assert flow(_empty_nsgs(), "b", direction, remote) == expected


def test_no_nsg_allows_everything() -> None:
    assert flow(two_subnets(), "b", "Inbound", "8.8.8.8") == ("Allow", "")


def test_user_rule_beats_default_rule_by_priority() -> None:
    net = nsg_on_b(rule("web", 4096, "Inbound", "Allow", src="Internet", dport="80"))
    assert flow(net, "b", "Inbound", "8.8.8.8") == ("Allow", "securityRules/web")
    assert flow(net, "b", "Inbound", "8.8.8.8", local_port="81") == \
        ("Deny", "defaultSecurityRules/DenyAllInBound")


def test_azureloadbalancer_tag_in_user_rule() -> None:
    net = nsg_on_b(rule("nolb", 100, "Inbound", "Deny", src="AzureLoadBalancer"))
    assert flow(net, "b", "Inbound", "168.63.129.16") == ("Deny", "securityRules/nolb")


def test_udp_flow_matches_udp_rule_only() -> None:
    net = nsg_on_b(rule("dns", 100, "Inbound", "Allow", protocol="Udp", src="*", dport="53"))
    assert flow(net, "b", "Inbound", "8.8.8.8", local_port="53", protocol="UDP") == \
        ("Allow", "securityRules/dns")
    assert flow(net, "b", "Inbound", "8.8.8.8", local_port="53")[0] == "Deny"


# --- VirtualNetwork tag widening -------------------------------------------------------------

def _tagged(*routes: dict) -> Net:
    net = Net()
    net.vnet("v", "10.0.0.0/16")
    net.subnet("v", "b", "10.0.2.0/24", nsg="nb", rt="rt" if routes else None)
    net.nsg("nb")
    if routes:
        net.rt("rt", *routes)
    net.vm("b", "v", "b", "10.0.2.4")
    return net


def test_virtualnetwork_tag_widened_by_default_user_route() -> None:
    """A 0.0.0.0/0 user route makes VirtualNetwork mean everything (observed on Azure)."""
    plain = _tagged()
    widened = _tagged(route("all", "0.0.0.0/0", "Internet"))
    assert flow(plain, "b", "Inbound", "8.8.8.8")[1] == "defaultSecurityRules/DenyAllInBound"
    assert flow(widened, "b", "Inbound", "8.8.8.8") == \
        ("Allow", "defaultSecurityRules/AllowVnetInBound")


def test_virtualnetwork_tag_widened_by_user_route_prefix_only() -> None:
    net = _tagged(route("partner", "203.0.113.0/24", "None"))
    assert flow(net, "b", "Inbound", "203.0.113.9")[1] == "defaultSecurityRules/AllowVnetInBound"
    assert flow(net, "b", "Inbound", "8.8.8.8")[1] == "defaultSecurityRules/DenyAllInBound"


def test_widened_virtualnetwork_is_not_internet() -> None:
    """Internet = public space outside VirtualNetwork: a widened prefix leaves Internet."""
    net = _tagged(route("partner", "203.0.113.0/24", "None"))
    assert flow(net, "b", "Outbound", "203.0.113.9")[1] == \
        "defaultSecurityRules/AllowVnetOutBound"
    assert flow(net, "b", "Outbound", "8.8.8.8")[1] == \
        "defaultSecurityRules/AllowInternetOutBound"


def _peered(state: str | None = None) -> Net:
    net = Net()
    net.vnet("v1", "10.1.0.0/16")
    net.vnet("v2", "10.2.0.0/16")
    net.subnet("v1", "s", "10.1.0.0/24")
    net.subnet("v2", "s", "10.2.0.0/24", nsg="nb")
    net.nsg("nb")
    net.peer("v1", "v2", state=state)
    net.vm("a", "v1", "s", "10.1.0.4")
    net.vm("b", "v2", "s", "10.2.0.4")
    return net


def test_virtualnetwork_tag_includes_peered_vnets() -> None:
    assert flow(_peered(), "b", "Inbound", "10.1.0.4")[1] == \
        "defaultSecurityRules/AllowVnetInBound"
    assert flow(_peered("Disconnected"), "b", "Inbound", "10.1.0.4")[1] == \
        "defaultSecurityRules/DenyAllInBound"
