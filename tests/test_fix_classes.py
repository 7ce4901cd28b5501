"""Every fix, for every shape of block, is a valid az command and a valid REST request, and the
twin accepts it: classes of inputs (rule shapes, flows, names, priorities), not one example.

The az table holds each verb's arguments as the az CLI documents them (azure-cli's aaz
network nsg rule / route-table route commands and their custom wrappers; the
virtual-network-manager extension's rule create example; az network manager post-commit);
the REST table the 2024-05-01 SecurityRule, Route, AdminRule and NetworkManagerCommit schemas of
Azure/azure-rest-api-specs."""

from __future__ import annotations

import ipaddress
import random
import re
import shlex
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import pytest
from tests.emulator.factory import SUB, Net, admin_rule, route, rule, two_subnets

import nwlab
from nwlab.diagnostics.admin_fixes import admin_rule_fixes
from nwlab.diagnostics.fixes import (
    BlockingRoute,
    BlockingRule,
    Fix,
    FixRequest,
    Flow,
    nsg_rule_fixes,
    route_fixes,
)
from nwlab.diagnostics.verify import apply_fix

# -- the az CLI, as documented --------------------------------------------------------------------

NSG_RULE = {"--access", "--description", "--destination-address-prefixes", "--destination-asgs",
            "--destination-port-ranges", "--direction", "--priority", "--protocol",
            "--source-address-prefixes", "--source-asgs", "--source-port-ranges"}
COMMON = {"--subscription", "-g", "--resource-group", "--no-wait"}
AZ: dict[str, dict[str, set[str]]] = {
    "network nsg rule create": {"required": {"-g", "--nsg-name", "-n", "--priority"},
                                "allowed": NSG_RULE | {"--nsg-name", "-n", "--name"}},
    "network nsg rule update": {"required": {"-g", "--nsg-name", "-n"},
                                "allowed": NSG_RULE | {"--nsg-name", "-n", "--name"}},
    "network nsg rule delete": {"required": {"-g", "--nsg-name", "-n"},
                                "allowed": {"--nsg-name", "-n", "--name"}},
    "network route-table route create": {
        "required": {"-g", "--route-table-name", "-n", "--next-hop-type", "--address-prefix"},
        "allowed": {"--route-table-name", "-n", "--name", "--next-hop-type", "--address-prefix",
                    "--next-hop-ip-address"}},
    "network route-table route update": {
        "required": {"-g", "--route-table-name", "-n"},
        "allowed": {"--route-table-name", "-n", "--name", "--next-hop-type", "--address-prefix",
                    "--next-hop-ip-address"}},
    "network route-table route delete": {"required": {"-g", "--route-table-name", "-n"},
                                         "allowed": {"--route-table-name", "-n", "--name"}},
    "network manager security-admin-config rule-collection rule create": {
        "required": {"-g", "--network-manager-name", "--configuration-name",
                     "--rule-collection-name", "--rule-name", "--kind", "--access",
                     "--direction", "--priority", "--protocol"},
        "allowed": {"--network-manager-name", "--configuration-name", "--rule-collection-name",
                    "--rule-name", "--kind", "--access", "--direction", "--priority",
                    "--protocol", "--sources", "--destinations", "--dest-port-ranges",
                    "--source-port-ranges", "--description"}},
    "network manager security-admin-config rule-collection rule delete": {
        "required": {"-g", "--network-manager-name", "--configuration-name",
                     "--rule-collection-name", "--rule-name"},
        "allowed": {"--network-manager-name", "--configuration-name", "--rule-collection-name",
                    "--rule-name", "--yes"}},
    "network manager post-commit": {
        "required": {"-g", "--network-manager-name", "--commit-type", "--target-locations"},
        "allowed": {"--network-manager-name", "--commit-type", "--target-locations",
                    "--configuration-ids"}},
}
MANY = {"--source-address-prefixes", "--destination-address-prefixes", "--source-port-ranges",
        "--destination-port-ranges", "--source-asgs", "--destination-asgs", "--sources",
        "--destinations", "--dest-port-ranges", "--configuration-ids", "--target-locations"}
BARE = {"--yes", "--no-wait"}
ADMIN_VERB = "network manager security-admin-config rule-collection rule create"
ENUMS: dict[tuple[str, str], set[str]] = {
    ("nsg", "--protocol"): {"*", "Ah", "Esp", "Icmp", "Tcp", "Udp"},
    ("nsg", "--access"): {"Allow", "Deny"},
    ("admin", "--protocol"): {"Ah", "Any", "Esp", "Icmp", "Tcp", "Udp"},
    ("admin", "--access"): {"Allow", "AlwaysAllow", "Deny"},
    ("any", "--direction"): {"Inbound", "Outbound"},
    ("any", "--next-hop-type"): {"Internet", "None", "VirtualAppliance", "VirtualApplianceEcmp",
                                 "VirtualNetworkGateway", "VnetLocal"},
    ("any", "--kind"): {"Custom", "Default"},
    ("any", "--commit-type"): {"Connectivity", "SecurityAdmin", "Routing"},
}
TAGS = re.compile(r"^[A-Za-z][A-Za-z0-9.]*$")  # '*' or a tag: allowed alone, never in a list


def _port_ok(value: str) -> bool:
    if value == "*":
        return True
    low, _, high = value.partition("-")
    return low.isdigit() and (not high or high.isdigit()) and \
        0 <= int(low) <= int(high or low) <= 65535


def _prefix_ok(value: str) -> bool:
    try:
        ipaddress.ip_network(value, strict=False)
    except ValueError:
        return False
    return True


def parse_az(command: str) -> tuple[str, dict[str, list[str]]]:
    """(verb, flag -> values) of one az command line, checked against the documented table."""
    words = shlex.split(command)
    assert words[0] == "az", command
    verb = max((v for v in AZ if words[1:1 + len(v.split())] == v.split()), key=len,
               default=None)
    assert verb is not None, f"not a documented az verb: {command}"
    args: dict[str, list[str]] = {}
    flag = None
    for word in words[1 + len(verb.split()):]:
        if word.startswith("-") and not word[1:2].isdigit():
            assert word not in args, f"{word} given twice: {command}"
            flag = word
            args[flag] = []
        else:
            assert flag is not None, f"a value before any flag: {command}"
            args[flag].append(word)
    table = AZ[verb]
    unknown = set(args) - table["allowed"] - COMMON
    assert not unknown, f"{verb}: undocumented {sorted(unknown)} in {command}"
    missing = {f for f in table["required"] if f not in args and
               not (f == "-g" and "--resource-group" in args) and
               not (f == "-n" and "--name" in args)}
    assert not missing, f"{verb}: missing {sorted(missing)} in {command}"
    family = "admin" if verb.startswith("network manager") else "nsg"
    for name, values in args.items():
        if name in BARE:
            assert values == [], f"{name} takes no value: {command}"
            continue
        assert values, f"{name} has no value: {command}"
        if name not in MANY:
            assert len(values) == 1, f"{name} takes one value, got {values}: {command}"
        allowed = ENUMS.get((family, name)) or ENUMS.get(("any", name))
        if allowed:
            assert set(values) <= allowed, f"{name} {values} not in {sorted(allowed)}"
    if "--priority" in args:
        low = 1 if family == "admin" else 100
        assert low <= int(args["--priority"][0]) <= 4096, command
    for name in ("--source-port-ranges", "--destination-port-ranges", "--dest-port-ranges"):
        assert all(_port_ok(v) for v in args.get(name, [])), command
    for name in ("--source-address-prefixes", "--destination-address-prefixes"):
        values = args.get(name, [])
        # One of '*' or a tag alone (CLI help: "specify ONE of ... or '*'"), else CIDRs/IPs.
        assert all(_prefix_ok(v) for v in values) or (len(values) == 1 and
                                                      (values[0] == "*" or TAGS.match(values[0])))
    for name in ("--sources", "--destinations"):
        assert all(re.fullmatch(r"address-prefix(-type)?=\S+", v) for v in args.get(name, []))
    if "--address-prefix" in args:
        assert _prefix_ok(args["--address-prefix"][0]), command
    if args.get("--next-hop-ip-address") == ["null"]:  # nullable on update: clears it
        assert verb.endswith("update") and args.get("--next-hop-type") != ["VirtualAppliance"]
    elif "--next-hop-ip-address" in args:
        ipaddress.ip_address(args["--next-hop-ip-address"][0])
        assert args.get("--next-hop-type") in (None, ["VirtualAppliance"]), command
    return verb, args


# -- the REST schemas (2024-05-01) ----------------------------------------------------------------

API_VERSIONS = {"2024-05-01"}  # the Microsoft.Network stable version the fixes use
RULE_WRITABLE = {"description", "protocol", "sourcePortRange", "destinationPortRange",
                 "sourceAddressPrefix", "sourceAddressPrefixes",
                 "sourceApplicationSecurityGroups", "destinationAddressPrefix",
                 "destinationAddressPrefixes", "destinationApplicationSecurityGroups",
                 "sourcePortRanges", "destinationPortRanges", "access", "priority",
                 "direction"}
RULE_REQUIRED = {"protocol", "access", "priority", "direction"}
ROUTE_WRITABLE = {"addressPrefix", "nextHopType", "nextHopIpAddress"}
ADMIN_WRITABLE = {"description", "protocol", "sources", "destinations", "sourcePortRanges",
                  "destinationPortRanges", "access", "priority", "direction"}
ADMIN_REQUIRED = {"access", "direction", "priority", "protocol"}
COMMIT_FIELDS = {"targetLocations", "configurationIds", "commitType"}
PATHS = {
    "securityRules": re.compile(r"^/subscriptions/[^/]+/resourceGroups/[^/]+/providers/"
                                r"Microsoft\.Network/networkSecurityGroups/[^/]+/securityRules/"
                                r"[^/]{1,80}$"),
    "routes": re.compile(r"^/subscriptions/[^/]+/resourceGroups/[^/]+/providers/"
                         r"Microsoft\.Network/routeTables/[^/]+/routes/[A-Za-z0-9][A-Za-z0-9_.-]"
                         r"{0,78}[A-Za-z0-9_]?$"),
    "admin": re.compile(r"^/subscriptions/[^/]+/resourceGroups/[^/]+/providers/"
                        r"Microsoft\.Network/networkManagers/[^/]+/securityAdminConfigurations/"
                        r"[^/]+/ruleCollections/[^/]+/rules/[^/]+$"),
    "commit": re.compile(r"^/subscriptions/[^/]+/resourceGroups/[^/]+/providers/"
                         r"Microsoft\.Network/networkManagers/[^/]+/commit$"),
}


def check_request(request: FixRequest) -> str:
    """The schema the request is of, after checking it against that schema."""
    parts = urlsplit(request.url)
    # Azure's endpoint, or the twin's on loopback (a diagnosis of the twin names the twin).
    assert parts.scheme == "https" or parts.hostname == "127.0.0.1", request.url
    assert parse_qs(parts.query).get("api-version") in ([v] for v in API_VERSIONS), request.url
    assert not set(request.url) & set(' "#%<>\\^`{|}') - {"%"} and \
        all(ord(c) < 128 for c in request.url), request.url  # what a URL cannot carry raw
    path = unquote(parts.path)
    kind = next((k for k, pattern in PATHS.items() if pattern.match(path)), None)
    assert kind is not None, f"not a documented path: {path}"
    if kind == "commit":
        assert request.method == "POST" and set(request.body or {}) == COMMIT_FIELDS
        assert request.body["commitType"] == "SecurityAdmin"  # type: ignore[index]
        return kind
    if request.method == "DELETE":
        assert request.body is None
        return kind
    assert request.method == "PUT", request
    body = request.body or {}
    props = body.get("properties")
    assert isinstance(props, dict), body
    if kind == "securityRules":
        assert set(body) == {"properties"} and set(props) <= RULE_WRITABLE, set(props)
        assert set(props) >= RULE_REQUIRED
        assert props["protocol"] in {"Tcp", "Udp", "Icmp", "Esp", "*", "Ah"}
        assert 100 <= props["priority"] <= 4096
        assert len(props.get("description", "")) <= 140
        for single, many in (("sourceAddressPrefix", "sourceAddressPrefixes"),
                             ("destinationAddressPrefix", "destinationAddressPrefixes"),
                             ("sourcePortRange", "sourcePortRanges"),
                             ("destinationPortRange", "destinationPortRanges")):
            # One field or the other, never both; a list holds two or more CIDRs or ranges.
            assert not (props.get(single) and props.get(many)), (single, props)
            if props.get(many):
                assert len(props[many]) >= 2, (many, props[many])
                assert all(v != "*" and not TAGS.match(v) for v in props[many]), props[many]
        families = {ipaddress.ip_network(v, strict=False).version
                    for f in ("sourceAddressPrefixes", "destinationAddressPrefixes")
                    for v in props.get(f) or [] if _prefix_ok(v)}
        for f in ("sourceAddressPrefixes", "destinationAddressPrefixes"):
            got = {ipaddress.ip_network(v, strict=False).version for v in props.get(f) or []}
            assert len(got) <= 1, f"{f} mixes address families: {props[f]}"
        assert families <= {4, 6}
    elif kind == "routes":
        assert set(props) <= ROUTE_WRITABLE and "nextHopType" in props, props
        assert _prefix_ok(props["addressPrefix"])
        assert ("nextHopIpAddress" in props) == (props["nextHopType"] == "VirtualAppliance")
    else:
        assert body.get("kind") == "Custom" and set(props) <= ADMIN_WRITABLE, body
        assert set(props) >= ADMIN_REQUIRED
        assert props["protocol"] in {"Tcp", "Udp", "Icmp", "Esp", "Any", "Ah"}
        assert 1 <= props["priority"] <= 4096
        for side in ("sources", "destinations"):
            for item in props.get(side) or []:
                assert set(item) == {"addressPrefix", "addressPrefixType"}
                assert item["addressPrefixType"] in {"IPPrefix", "ServiceTag", "NetworkGroup"}
    return kind


def check_fix(fix: Fix) -> None:
    """Each step: a documented az command and a request the spec allows, naming the same
    resource; the single-step fields agree with the steps."""
    assert len(fix.commands) == len(fix.requests) >= 1
    assert fix.command == "\n".join(fix.commands) and fix.request == fix.requests[0]
    for command, request in zip(fix.commands, fix.requests, strict=True):
        verb, args = parse_az(command)
        kind = check_request(request)
        method = {"create": "PUT", "update": "PUT", "delete": "DELETE",
                  "post-commit": "POST"}[verb.rsplit(" ", 1)[-1]]
        assert request.method == method, (verb, request.method)
        path = unquote(urlsplit(request.url).path)
        rg = path.split("/resourceGroups/")[1].split("/")[0]
        assert (args.get("-g") or args.get("--resource-group")) == [rg], (command, path)
        assert args["--subscription"] == [path.split("/")[2]]
        if kind in ("securityRules", "routes"):
            parent = path.split("/")[8]
            flag = "--nsg-name" if kind == "securityRules" else "--route-table-name"
            assert args[flag] == [parent], (command, path)
            assert (args.get("-n") or args.get("--name")) == [path.rsplit("/", 1)[-1]]
            body = (request.body or {}).get("properties") or {}
            if verb.endswith("create") and kind == "securityRules":
                # The command creates the rule the body describes.
                for flag_name, single, many in (
                        ("--source-address-prefixes", "sourceAddressPrefix",
                         "sourceAddressPrefixes"),
                        ("--destination-address-prefixes", "destinationAddressPrefix",
                         "destinationAddressPrefixes"),
                        ("--destination-port-ranges", "destinationPortRange",
                         "destinationPortRanges")):
                    assert args[flag_name] == ([body[single]] if single in body else body[many])
                assert args["--priority"] == [str(body["priority"])]
                assert args["--protocol"] == [body["protocol"]]
        if kind == "admin" and verb == ADMIN_VERB:
            body = (request.body or {}).get("properties") or {}
            assert args["--priority"] == [str(body["priority"])]
            assert args["--rule-name"] == [path.rsplit("/", 1)[-1]]


# -- the class of inputs --------------------------------------------------------------------------

def _nsg_id(rg: str = "ContosoRG", nsg: str = "DbNsg") -> str:
    return (f"/subscriptions/{SUB}/resourceGroups/{rg}/providers/Microsoft.Network/"
            f"networkSecurityGroups/{nsg}")


ASG = f"/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.Network/" \
      "applicationSecurityGroups/web"
SHAPES: dict[str, dict[str, Any]] = {
    "star": {"protocol": "*", "sourceAddressPrefix": "*", "destinationAddressPrefix": "*",
             "destinationPortRange": "*"},
    "cidr-list": {"protocol": "Tcp", "sourceAddressPrefixes": ["10.0.0.0/16", "10.9.0.0/16"],
                  "destinationAddressPrefix": "VirtualNetwork",
                  "destinationPortRanges": ["80", "443", "8000-8100"]},
    "tag-source": {"protocol": "Tcp", "sourceAddressPrefix": "Internet",
                   "destinationAddressPrefix": "*", "destinationPortRange": "0-1000"},
    "asg-source": {"protocol": "Tcp", "sourceApplicationSecurityGroups": [{"id": ASG}],
                   "destinationAddressPrefix": "*", "destinationPortRange": "80"},
    "one-port": {"protocol": "Tcp", "sourceAddressPrefix": "10.0.1.0/24",
                 "destinationAddressPrefix": "*", "destinationPortRange": "80"},
    "udp-range": {"protocol": "Udp", "sourceAddressPrefix": "*",
                  "destinationAddressPrefix": "10.0.2.0/24", "destinationPortRange": "53-90"},
    "icmp": {"protocol": "Icmp", "sourceAddressPrefix": "10.0.0.0/8",
             "destinationAddressPrefix": "*", "destinationPortRange": "*"},
    "ipv6": {"protocol": "Tcp", "sourceAddressPrefix": "fd00:1::/64",
             "destinationAddressPrefix": "*", "destinationPortRange": "80"},
}
FLOWS = {
    "tcp": Flow("Tcp", "10.0.1.4", "10.0.2.4", 80),
    "udp": Flow("Udp", "10.0.1.4", "10.0.2.4", 53),
    "icmp": Flow("Icmp", "10.0.1.4", "10.0.2.4"),
    "ipv6": Flow("Tcp", "fd00:1::4", "fd00:2::4", 80),
    "any-port": Flow("Tcp", "10.0.1.4", "10.0.2.4"),
}
NAMES = [("ContosoRG", "DbNsg", "DenyWeb"), ("rg(prod).v1", "nsg-1.a_b", "Deny_Web.1-x"),
         ("my rg", "nsg 'quoted'", "deny $HOME;rm")]  # the last: quoting, not Azure's naming


def nsg_cases() -> Iterator[tuple[str, Fix, Flow]]:
    for (rg, nsg, name) in NAMES:
        for shape, fields in SHAPES.items():
            for direction in ("Inbound", "Outbound"):
                for flow_name, flow in FLOWS.items():
                    for priority in (100, 250, 4096):
                        props = {"priority": priority, "direction": direction, "access": "Deny",
                                 "sourcePortRange": "*", "provisioningState": "Succeeded",
                                 **fields}
                        deny = BlockingRule.from_arm(_nsg_id(rg, nsg), {"name": name,
                                                                        "properties": props})
                        try:
                            fixes = nsg_rule_fixes(deny, flow, taken_priorities=[priority - 2])
                        except ValueError as exc:  # the rule cannot match this flow
                            assert "does not match it" in str(exc)
                            continue
                        for fix in fixes:
                            yield f"{rg}/{shape}/{direction}/{flow_name}/{priority}", fix, flow


def route_cases() -> Iterator[tuple[str, Fix]]:
    for rg in ("ContosoRG", "rg(prod).v1"):
        table = (f"/subscriptions/{SUB}/resourceGroups/{rg}/providers/Microsoft.Network/"
                 "routeTables/AppRouteTable")
        for prefix, dest in (("10.2.0.0/16", "10.2.0.4"), ("13.107.21.200/32", "13.107.21.200"),
                             ("fd00:2::/48", "fd00:2::4")):
            v6 = ":" in dest
            for blocking in ({"nextHopType": "None"},  # a route to None, a wrong appliance
                             {"nextHopType": "VirtualAppliance",
                              "nextHopIpAddress": "fd00:9::9" if v6 else "10.1.9.9"}):
                route = BlockingRoute(prefix, table, "Block", properties={
                    "addressPrefix": prefix, **blocking, "hasBgpOverride": False,
                    "provisioningState": "Succeeded"})
                for hop, ip in (("VnetLocal", None), ("Internet", None),
                                ("VirtualAppliance", "fd00:9::4" if v6 else "10.1.2.4")):
                    for fix in route_fixes(route, dest, next_hop_type=hop, next_hop_ip=ip):
                        yield f"{rg}/{prefix}/{blocking['nextHopType']}/{hop}", fix


ADMIN_RULE = {"id": f"/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.Network/"
                    "networkManagers/nm/securityAdminConfigurations/cfg/ruleCollections/rc/"
                    "rules/DenyWebAdmin",
              "properties": {"access": "Deny", "priority": 10, "direction": "Inbound",
                             "protocol": "Tcp", "destinationPortRanges": ["80"],
                             "sources": [{"addressPrefix": "*", "addressPrefixType": "IPPrefix"}],
                             "destinations": [{"addressPrefix": "10.0.2.0/24",
                                               "addressPrefixType": "IPPrefix"}]}}


def admin_cases() -> Iterator[tuple[str, Fix]]:
    for flow_name, flow in FLOWS.items():
        for priority, taken in ((10, [9, 8]), (1, []), (2, [1])):
            item = {**ADMIN_RULE, "properties": {**ADMIN_RULE["properties"],
                                                 "priority": priority}}
            for fix in admin_rule_fixes(item, flow, location="westus", taken_priorities=taken):
                yield f"{flow_name}/{priority}", fix


def test_every_nsg_fix_is_a_documented_az_command_and_a_spec_request() -> None:
    count = 0
    for case, fix, _ in nsg_cases():
        try:
            check_fix(fix)
        except AssertionError as exc:
            raise AssertionError(f"{case} {fix.kind}: {exc}") from None
        if fix.kind == "add-allow-rule":
            assert fix.widens == "", (case, fix.widens)  # exactly the flow
        elif fix.kind == "delete-deny-rule":
            assert fix.widens, case  # every other flow the deny covered
        count += 1
    assert count > 500


def test_names_with_shell_characters_survive_quoting() -> None:
    for case, fix, _ in nsg_cases():
        if not case.startswith("my rg/"):
            continue
        for command in fix.commands:
            words = shlex.split(command)
            assert words[words.index("-g") + 1] == "my rg"
            assert words[words.index("--nsg-name") + 1] == "nsg 'quoted'"
            if fix.kind != "add-allow-rule":
                assert words[words.index("-n") + 1] == "deny $HOME;rm"


def test_every_route_and_admin_fix_is_a_documented_az_command_and_a_spec_request() -> None:
    kinds = set()
    for case, fix in [*route_cases(), *admin_cases()]:
        try:
            check_fix(fix)
        except AssertionError as exc:
            raise AssertionError(f"{case} {fix.kind}: {exc}") from None
        kinds.add(fix.kind)
    assert {"add-route", "change-route", "delete-route", "add-admin-allow-rule",
            "add-admin-alwaysallow-rule", "delete-admin-rule"} <= kinds


def test_the_az_table_refuses_what_the_cli_does_not_document() -> None:
    """The checker itself can fail: each of these is a mistake a fix could make."""
    good = (f"az network nsg rule create --subscription {SUB} -g rg --nsg-name n -n r "
            "--priority 200 --protocol Tcp --destination-port-ranges 80")
    parse_az(good)
    for bad in (good.replace("--priority 200", "--priority 99"),
                good.replace("--protocol Tcp", "--protocol TCP"),
                good.replace("--destination-port-ranges", "--destination-port-range"),
                good.replace("--priority 200", ""),
                good + " --source-address-prefixes '*' 10.0.0.0/8",
                good.replace("rule create", "rule make")):
        with pytest.raises(AssertionError):
            parse_az(bad)
    body = {"properties": {"protocol": "Tcp", "access": "Allow", "priority": 200,
                           "direction": "Inbound", "sourceAddressPrefixes": ["*", "10.0.0.0/8"]}}
    with pytest.raises(AssertionError):
        check_request(FixRequest("PUT", f"https://management.azure.com{_nsg_id()}/securityRules/"
                                        "r?api-version=2024-05-01", body))


# -- priorities -----------------------------------------------------------------------------------

def test_the_allow_rules_priority_is_free_in_that_nsg_and_direction_just_above_the_deny() -> None:
    rng = random.Random(13)
    for _ in range(400):
        deny_priority = rng.choice([rng.randint(100, 4096), 65000, 65500])
        same = set(rng.sample(range(100, 4097), rng.randint(0, 60)))
        same |= set(range(max(100, min(deny_priority, 4097) - rng.randint(0, 5)),
                          min(deny_priority, 4097)))  # often a run just above the deny
        same.discard(deny_priority)
        deny = BlockingRule(_nsg_id(), "Deny", deny_priority, "Inbound",
                            {"protocol": "Tcp", "sourceAddressPrefix": "10.0.0.0/8",
                             "destinationAddressPrefix": "*", "destinationPortRange": "80",
                             "access": "Deny"}, default=deny_priority >= 65000)
        try:
            fixes = nsg_rule_fixes(deny, FLOWS["tcp"], taken_priorities=same)
        except ValueError as exc:  # a default deny with every priority taken
            assert deny.default and "taken" in str(exc)
            continue
        allow = next((f for f in fixes if f.kind == "add-allow-rule"), None)
        free = [p for p in range(100, min(deny_priority, 4097)) if p not in same]
        if not free:
            assert allow is None and "No free priority below" in fixes[0].note
            continue
        assert allow is not None and fixes[0] is allow
        chosen = allow.request.body["properties"]["priority"]  # type: ignore[index]
        assert chosen == max(free) and chosen not in same and chosen < deny_priority


def test_a_chosen_priority_is_accepted_by_the_twin_where_a_clash_is_refused() -> None:
    net = two_subnets(nsg_b="sb")
    net.nsg("sb", rule("DenyWeb", 200, "Inbound", "Deny", protocol="Tcp", dport="80"),
            rule("Taken199", 199, "Inbound", "Allow", protocol="Tcp", dport="22"),
            rule("Taken198", 198, "Inbound", "Allow", protocol="Tcp", dport="23"),
            rule("Out197", 197, "Outbound", "Allow", protocol="Tcp", dport="443"))
    twin = nwlab.emulate(net.document(), check_seconds=0.0, retry_after=0.0)
    try:
        d = twin.diagnose("a", "b", 80, resource_group="rg")
        allow = d.fixes[0]
        assert allow.kind == "add-allow-rule"
        assert allow.request.body["properties"]["priority"] == 197  # type: ignore[index]
        (proven,) = [f for f in d.verify_fixes(twin) if f.kind == "add-allow-rule"]
        assert proven.proven is True
        clash = FixRequest(allow.request.method, allow.request.url.replace(
            "nwlab-allow", "clash"), {"properties": {**allow.request.body["properties"],  # type: ignore[index]
                                                      "priority": 199}})
        fork = twin.fork()
        try:
            with pytest.raises(nwlab.NwlabError) as err:
                apply_fix(fork, Fix("x", "x", "x", clash, allow.resource_id))
            assert getattr(err.value, "code", None) == "SecurityRuleConflict"
        finally:
            fork.close()
    finally:
        twin.close()


# -- every fix is accepted by the twin ------------------------------------------------------------

def test_the_twin_accepts_every_fix_of_every_rule_shape() -> None:
    """Each fix's own requests, sent to a fork holding the deny, are accepted (the emulator
    refuses what Azure refuses: clashing priorities, '*' or tags in a list, mixed families)."""
    net = two_subnets()
    asg = net.asg("web")
    rules = []
    for i, (shape, fields) in enumerate(SHAPES.items()):
        for j, direction in enumerate(("Inbound", "Outbound")):
            props = {**fields}
            if "sourceApplicationSecurityGroups" in props:
                props["sourceApplicationSecurityGroups"] = [{"id": asg}]
            rules.append({"name": f"Deny-{shape}-{direction}",
                          "properties": {"priority": 300 + 10 * i + j, "direction": direction,
                                         "access": "Deny", "sourcePortRange": "*", **props}})
    nsg_id = net.nsg("shapes", *rules)
    twin = nwlab.emulate(net.document(), check_seconds=0.0, retry_after=0.0)
    try:
        nsg = twin.arm.get_json(nsg_id)
        taken = [r["properties"]["priority"] for r in nsg["properties"]["securityRules"]]
        sent = 0
        for item in nsg["properties"]["securityRules"]:
            deny = BlockingRule.from_arm(nsg_id, item)
            same = [p for r, p in zip(nsg["properties"]["securityRules"], taken, strict=True)
                    if r["properties"]["direction"] == deny.direction]
            for flow in FLOWS.values():
                try:
                    fixes = nsg_rule_fixes(deny, flow, taken_priorities=same,
                                           endpoint=twin.arm.endpoint)
                except ValueError:  # the rule cannot match this flow
                    continue
                for fix in fixes:
                    fork = twin.fork()
                    try:
                        apply_fix(fork, fix)  # raises the twin's refusal, if any
                    finally:
                        fork.close()
                    sent += 1
        assert sent > 80
    finally:
        twin.close()


# -- layers: every one that denies is opened ------------------------------------------------------

def _emulate(net: Net) -> Any:
    return nwlab.emulate(net.document(), check_seconds=0.0, retry_after=0.0)


def test_a_subnet_and_a_nic_nsg_that_both_deny_are_opened_together_on_the_fork() -> None:
    net = two_subnets(nsg_b="sb", nic_nsg_b="nb")
    net.nsg("sb", rule("DenyWebSubnet", 200, "Inbound", "Deny", protocol="Tcp",
                       src="10.0.1.0/24", dport="80"))
    net.nsg("nb", rule("DenyWebNic", 300, "Inbound", "Deny", protocol="Tcp", dport="80-90"))
    twin = _emulate(net)
    try:
        d = twin.diagnose("a", "b", 80, resource_group="rg")
        assert [f.rule for f in d.findings] == ["DenyWebSubnet", "DenyWebNic"]
        both = d.fixes[0]
        assert both.kind == "add-allow-rule+add-allow-rule" and len(both.requests) == 2
        assert {r.url.split("/networkSecurityGroups/")[1].split("/")[0]
                for r in both.requests} == {"sb", "nb"}
        check_fix(both)
        fixes = d.verify_fixes(twin)
        assert fixes[0].proven is True and fixes[0].widens == ""
        # Alone, no single layer's fix opens the flow (the other layer still denies it).
        assert all(f.proven is False for f in fixes[1:])
        assert not twin.check("a", "b", 80, resource_group="rg").reachable
    finally:
        twin.close()


def test_an_outbound_deny_at_the_source_and_an_inbound_one_at_the_destination() -> None:
    net = two_subnets(nsg_a="sa", nsg_b="sb")
    net.nsg("sa", rule("NoWebOut", 400, "Outbound", "Deny", protocol="Tcp", dport="80"))
    net.nsg("sb", rule("NoWebIn", 400, "Inbound", "Deny", protocol="Tcp", dport="80"))
    twin = _emulate(net)
    try:
        d = twin.diagnose("a", "b", 80, resource_group="rg")
        assert {f.rule for f in d.findings} == {"NoWebOut", "NoWebIn"}
        fixes = d.verify_fixes(twin)
        assert fixes[0].kind == "add-allow-rule+add-allow-rule" and fixes[0].proven is True
    finally:
        twin.close()


def test_one_nsg_on_both_ends_gets_two_allow_rules_that_do_not_overwrite_each_other() -> None:
    net = two_subnets(nsg_a="shared", nsg_b="shared")
    net.nsg("shared", rule("NoWebOut", 400, "Outbound", "Deny", protocol="Tcp", dport="80"),
            rule("NoWebIn", 400, "Inbound", "Deny", protocol="Tcp", dport="80"))
    twin = _emulate(net)
    try:
        d = twin.diagnose("a", "b", 80, resource_group="rg")
        both = d.fixes[0]
        names = [r.url.split("/securityRules/")[1].split("?")[0] for r in both.requests]
        assert len(set(names)) == 2 and all("/shared/" in r.url for r in both.requests)
        assert d.verify_fixes(twin)[0].proven is True
    finally:
        twin.close()


def test_an_admin_deny_is_fixed_on_its_rule_collection_and_committed() -> None:
    net = two_subnets()
    net.admin("v", admin_rule("DenyWebAdmin", 10, "Inbound", "Deny", protocol="Tcp",
                              dst="10.0.2.0/24", dport="80"),
              admin_rule("AllowSsh", 9, "Inbound", "Allow", protocol="Tcp", dst="10.0.2.0/24",
                         dport="22"))
    twin = _emulate(net)
    try:
        d = twin.diagnose("a", "b", 80, resource_group="rg")
        (finding,) = d.findings
        assert finding.kind == "admin-rule" and finding.resource_id.endswith(
            "/ruleCollections/rc/rules/DenyWebAdmin")
        assert [f.kind for f in d.fixes] == ["add-admin-allow-rule",
                                            "add-admin-alwaysallow-rule", "delete-admin-rule"]
        allow = d.fixes[0]
        assert "/networkSecurityGroups/" not in allow.command
        assert [r.method for r in allow.requests] == ["PUT", "POST"]
        assert allow.request.body["properties"]["priority"] == 8  # type: ignore[index]
        for fix in d.fixes:
            check_fix(fix)
        fixes = d.verify_fixes(twin, checks=[("a", "b", 22)])
        assert [f.proven for f in fixes] == [True, True, True]
        assert fixes[0].widens == ""
        assert "NSGs no longer filter" in fixes[1].widens  # AlwaysAllow skips them
        assert "DenyWebAdmin no longer denies" in fixes[2].widens
        # The twin itself still denies; an uncommitted write changes nothing on a fork.
        assert not twin.check("a", "b", 80, resource_group="rg").reachable
        fork = twin.fork()
        try:
            fork.arm.request("PUT", urlsplit(allow.request.url).path, json=allow.request.body,
                             api_version="2024-05-01")
            assert not fork.check("a", "b", 80, resource_group="rg").reachable
        finally:
            fork.close()
    finally:
        twin.close()


def test_an_admin_deny_and_an_nsg_deny_are_opened_together() -> None:
    net = two_subnets(nic_nsg_b="nb")
    net.nsg("nb", rule("DenyWebNic", 300, "Inbound", "Deny", protocol="Tcp", dport="80"))
    net.admin("v", admin_rule("DenyWebAdmin", 10, "Inbound", "Deny", protocol="Tcp",
                              dst="10.0.2.0/24", dport="80"))
    twin = _emulate(net)
    try:
        d = twin.diagnose("a", "b", 80, resource_group="rg")
        fixes = {f.kind: f for f in d.verify_fixes(twin)}
        # Admin Allow hands the flow to the NSG, which still denies it: both must open.
        assert fixes["add-admin-allow-rule+add-allow-rule"].proven is True
        assert fixes["add-admin-allow-rule"].proven is False
        assert fixes["add-admin-alwaysallow-rule"].proven is True  # skips the NSG: marked
        assert fixes["add-admin-alwaysallow-rule"].widens
    finally:
        twin.close()


def test_a_route_to_an_appliance_the_check_never_reached_is_fixed_and_proven() -> None:
    net = Net()
    net.vnet("v", "10.0.0.0/16")
    net.rt("rt", route("ToNva", "10.0.2.0/24", "VirtualAppliance", "10.0.3.9"))
    net.subnet("v", "a", "10.0.1.0/24", rt="rt")
    net.subnet("v", "b", "10.0.2.0/24")
    net.subnet("v", "c", "10.0.3.0/24")
    net.vm("a", "v", "a", "10.0.1.4")
    net.vm("b", "v", "b", "10.0.2.4")
    net.vm("nva", "v", "c", "10.0.3.5", forwarding=True)  # the appliance is at .5, not .9
    twin = _emulate(net)
    try:
        d = twin.diagnose("a", "b", 80, resource_group="rg")
        (finding,) = d.findings
        assert finding.kind == "route" and finding.rule == "ToNva"
        assert "10.0.3.9" in finding.text and "never reached" in finding.text
        assert [f.kind for f in d.fixes] == ["add-route", "change-route", "delete-route"]
        change = d.fixes[1]
        assert "--next-hop-ip-address null" in change.command  # az update keeps it otherwise
        assert "nextHopIpAddress" not in change.request.body["properties"]  # type: ignore[index]
        for fix in d.fixes:
            check_fix(fix)
        assert [f.proven for f in d.verify_fixes(twin)] == [True, True, True]
    finally:
        twin.close()


# -- verify_fixes: proof, what else a fix opens, forks --------------------------------------------

def _deny_web() -> tuple[Any, str]:
    """A twin whose subnet NSG sb denies a -> b:80 with DenyWeb, and sb's id."""
    net = two_subnets(nsg_b="sb")
    nsg = net.nsg("sb", rule("DenyWeb", 200, "Inbound", "Deny", protocol="Tcp", dport="80"))
    return _emulate(net), nsg


def test_a_hand_made_fix_that_opens_more_than_the_flow_is_marked_so() -> None:
    twin, nsg = _deny_web()
    try:
        d = twin.diagnose("a", "b", 80, resource_group="rg")
        url = f"{twin.arm.endpoint}{nsg}/securityRules/AllowAll?api-version=2024-05-01"
        wide = Fix("add-allow-rule", "allow everything", "az ...", FixRequest("PUT", url, {
            "properties": {"protocol": "*", "sourceAddressPrefix": "*", "sourcePortRange": "*",
                           "destinationAddressPrefix": "*", "destinationPortRange": "*",
                           "access": "Allow", "priority": 150, "direction": "Inbound"}}), nsg)
        gone = Fix("delete-deny-rule", "delete", "az ...", FixRequest(
            "DELETE", f"{twin.arm.endpoint}{nsg}/securityRules/DenyWeb?api-version=2024-05-01"),
            nsg)
        d.fixes = [*d.fixes[:1], wide, gone]
        # The diagnosed check listed among the others is not one that must keep its verdict.
        exact, marked_wide, marked_gone = d.verify_fixes(twin, checks=[("a", "b", 80)])
        assert exact.proven is True and exact.widens == ""
        # Proven (the check passes, no given check changes) but marked: it opens more.
        assert marked_wide.proven is True
        assert marked_wide.widens == "also matches sources *, destinations *, ports *, " \
                                     "every protocol"
        assert marked_gone.widens == "DenyWeb no longer denies sources *, destinations *"
        assert "opens more than the flow" in str(marked_wide)
    finally:
        twin.close()


def test_forks_are_independent_of_the_twin_and_of_each_other() -> None:
    twin, nsg = _deny_web()
    path = f"{nsg}/securityRules/DenyWeb"

    def has(nw: Any) -> bool:
        return any(r["name"] == "DenyWeb" for r in
                   nw.arm.get_json(nsg)["properties"]["securityRules"])

    try:
        first = twin.fork()
        try:
            first.arm.request("DELETE", path, api_version="2024-05-01")
            second = first.fork()  # a fork of a fork starts from the fork as it is now
            try:
                assert not has(second)
                second.arm.request("PUT", f"{nsg}/securityRules/Later", api_version="2024-05-01",
                                   json={"properties": {
                                       "protocol": "Tcp", "sourceAddressPrefix": "*",
                                       "sourcePortRange": "*", "destinationAddressPrefix": "*",
                                       "destinationPortRange": "81", "access": "Deny",
                                       "priority": 300, "direction": "Inbound"}})
                names = {r["name"] for r in second.arm.get_json(nsg)["properties"]
                         ["securityRules"]}
                assert names == {"Later"}
                assert second.check("a", "b", 80, resource_group="rg").reachable
            finally:
                second.close()
            assert {r["name"] for r in first.arm.get_json(nsg)["properties"]
                    ["securityRules"]} == set()  # the second fork's write stayed there
        finally:
            first.close()
        assert has(twin) and not twin.check("a", "b", 80, resource_group="rg").reachable
    finally:
        twin.close()


@pytest.mark.parametrize(("method", "path", "key"), [
    ("GET", r"/networkSecurityGroups/nb$", "nsg_rules.nb"),
    ("POST", r"/listNetworkManagerEffectiveSecurityAdminRules$", "admin_rules.v"),
])
def test_a_deny_whose_rules_cannot_be_read_is_reported_not_dropped(method: str, path: str,
                                                                   key: str) -> None:
    """The read behind a finding's fields and fixes refused (403: not retried): the refusal is
    a test of its own, the finding says it, and no fix is made up without the rule."""
    from nwlab.arm.errors import NwlabError
    from nwlab.emulator.chaos import Chaos, Status

    net = two_subnets(nic_nsg_b="nb" if key.startswith("nsg") else None)
    if key.startswith("nsg"):
        net.nsg("nb", rule("DenyWebNic", 300, "Inbound", "Deny", protocol="Tcp", dport="80"))
    else:
        net.admin("v", admin_rule("DenyWebAdmin", 10, "Inbound", "Deny", protocol="Tcp",
                                  dst="10.0.2.0/24", dport="80"))
    twin = _emulate(net)
    try:
        twin.emulator.chaos = Chaos().on(method, path, Status(403, "AuthorizationFailed"))
        d = twin.diagnose("a", "b", 80, resource_group="rg")
    finally:
        twin.close()
    assert isinstance(d.tests[key], NwlabError) and "AuthorizationFailed" in str(d.tests[key])
    (finding,) = d.findings
    assert f"see {key}" in finding.text and d.fixes == []
    assert any(r["test"] == key and r["outcome"] == "failed" for r in d.rows())
