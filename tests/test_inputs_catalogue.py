"""A catalogue of bad inputs a user can type. Each is refused before any request with ValueError or
TypeError naming the field and showing a valid example; the CLI prints the same message in its own
words (flags, not keyword arguments) on one line, without a traceback, and exits 2."""

from __future__ import annotations

import re
import subprocess
import sys
from typing import Any

import pytest

from fakearm import VM_ID, WATCHER_ID
from nwlab.cli import cli_message, main

NIC_ID = VM_ID.replace("Microsoft.Compute/virtualMachines/MultiTierApp0",
                       "Microsoft.Network/networkInterfaces/appNic0")
NSG_ID = VM_ID.replace("Microsoft.Compute/virtualMachines/MultiTierApp0",
                       "Microsoft.Network/networkSecurityGroups/appNsg")
BAD_SUB_VM_ID = ("/subscriptions/not-a-guid/resourceGroups/RG/providers/Microsoft.Compute"
                 "/virtualMachines/X")
BASE: dict[str, Any] = {"source": "MultiTierApp0", "destination": "10.1.4.4", "port": 80,
                        "resource_group": "ContosoRG"}

# (id, what differs from BASE, exception, the field the message names)
CATALOGUE: list[tuple[str, dict[str, Any], type[Exception], str]] = [
    # ports out of range or not numbers
    ("port-too-big", {"port": 65536}, ValueError, "port"),
    ("port-negative", {"port": -1}, ValueError, "port"),
    ("port-far-too-big", {"port": 100000}, ValueError, "port"),
    ("port-word", {"port": "eighty"}, TypeError, "port"),
    ("port-float", {"port": 80.0}, TypeError, "port"),
    ("port-bool", {"port": True}, TypeError, "port"),
    ("port-list", {"port": [80]}, TypeError, "port"),
    ("port-missing-for-tcp", {"port": None}, ValueError, "port"),
    ("port-on-icmp", {"protocol": "Icmp", "port": 80}, ValueError, "port"),
    ("source-port-too-big", {"source_port": 70000}, ValueError, "source_port"),
    ("source-port-word", {"source_port": "any"}, TypeError, "source_port"),
    # malformed or wrong-type resource ids
    ("source-nic-id", {"source": NIC_ID}, ValueError, "source"),
    ("source-nsg-id", {"source": NSG_ID}, ValueError, "source"),
    ("source-truncated-id", {"source": "/subscriptions/x/resourceGroups"}, ValueError, "source"),
    ("source-garbled-id", {"source": "subscriptions/abc"}, ValueError, "source"),
    ("destination-nic-id", {"destination": NIC_ID}, ValueError, "destination"),
    ("destination-truncated-id", {"destination": "/subscriptions/x/resourceGroups/rg"}, ValueError,
     "destination"),
    ("watcher-vm-id", {"watcher": VM_ID}, ValueError, "watcher"),
    ("watcher-name-only", {"watcher": "NetworkWatcher_westcentralus"}, ValueError, "watcher"),
    ("watcher-child-id", {"watcher": WATCHER_ID + "/packetCaptures/pc1"}, ValueError, "watcher"),
    ("source-id-subscription-not-a-guid", {"source": BAD_SUB_VM_ID}, ValueError, "source"),
    ("destination-id-subscription-not-a-guid", {"destination": BAD_SUB_VM_ID}, ValueError,
     "destination"),
    ("watcher-subscription-not-a-guid", {"watcher": WATCHER_ID.replace(
        "00000000-0000-0000-0000-000000000000", "my-sub")}, ValueError, "watcher"),
    # an IP address as the source: the check runs from a VM
    ("source-ipv4", {"source": "10.1.1.4"}, ValueError, "source"),
    ("source-ipv6", {"source": "2001:db8::1"}, ValueError, "source"),
    # impossible IP addresses
    ("ipv4-octet-256", {"destination": "10.1.4.256"}, ValueError, "destination"),
    ("ipv4-999", {"destination": "999.1.1.1"}, ValueError, "destination"),
    ("ipv4-three-octets", {"destination": "10.1.4"}, ValueError, "destination"),
    ("ipv4-five-octets", {"destination": "1.2.3.4.5"}, ValueError, "destination"),
    ("ipv6-bad-digits", {"destination": "2001:db8::zz"}, ValueError, "destination"),
    ("ipv6-triple-colon", {"destination": "fe80:::1"}, ValueError, "destination"),
    # addresses no probe can reach: unspecified, broadcast, loopback, multicast, reserved, zone ids
    ("ipv4-unspecified", {"destination": "0.0.0.0"}, ValueError, "destination"),
    ("ipv6-unspecified", {"destination": "::"}, ValueError, "destination"),
    ("ipv4-this-network", {"destination": "0.1.2.3"}, ValueError, "destination"),
    ("ipv4-broadcast", {"destination": "255.255.255.255"}, ValueError, "destination"),
    ("ipv4-loopback", {"destination": "127.0.0.1"}, ValueError, "destination"),
    ("ipv6-loopback", {"destination": "::1"}, ValueError, "destination"),
    ("ipv4-mapped-loopback", {"destination": "::ffff:127.0.0.1"}, ValueError, "destination"),
    ("localhost", {"destination": "localhost"}, ValueError, "destination"),
    ("ipv4-multicast", {"destination": "224.0.0.1"}, ValueError, "destination"),
    ("ipv6-multicast", {"destination": "ff02::1"}, ValueError, "destination"),
    ("ipv4-reserved", {"destination": "240.0.0.1"}, ValueError, "destination"),
    ("ipv6-zone-id", {"destination": "fe80::1%eth0"}, ValueError, "destination"),
    ("url-loopback", {"destination": "http://127.0.0.1:8080/", "port": None}, ValueError,
     "destination"),
    ("url-ipv6-loopback", {"destination": "http://[::1]/", "port": None}, ValueError, "destination"),
    ("url-unspecified", {"destination": "https://0.0.0.0/", "port": None}, ValueError,
     "destination"),
    ("url-broadcast", {"destination": "http://255.255.255.255/", "port": None}, ValueError,
     "destination"),
    ("url-multicast", {"destination": "http://224.0.0.1/", "port": None}, ValueError,
     "destination"),
    ("url-zone-id", {"destination": "http://[fe80::1%25eth0]/", "port": None}, ValueError,
     "destination"),
    ("url-localhost", {"destination": "http://localhost/", "port": None}, ValueError,
     "destination"),
    # loopback and the other impossible ranges in every spelling a resolver reads (issue 9, 15)
    *[(f"loopback-spelled-{n}", {"destination": d}, ValueError, "destination") for n, d in [
        ("short", "127.1"), ("hex", "0x7f.0.0.1"), ("decimal", "2130706433"),
        ("octal", "017700000001"), ("octal-dotted", "0177.0.0.01"), ("mixed", "0x7F.0.1"),
        ("trailing-dot", "127.0.0.1."), ("other-127", "127.255.255.254"),
        ("bracketed-v6", "[::1]"), ("long-v6", "0:0:0:0:0:0:0:1"), ("mapped-hex", "::ffff:7f00:1"),
        ("compatible", "::127.0.0.1"), ("translated", "::ffff:0:127.0.0.1"),
        ("localdomain", "localhost.localdomain"), ("ip6-localhost", "ip6-localhost")]],
    *[(f"url-loopback-spelled-{n}", {"destination": d, "port": None}, ValueError, "destination")
      for n, d in [("short", "http://127.1/"), ("hex", "http://0x7f.0.0.1:8080/"),
                   ("decimal", "https://2130706433/"), ("octal", "http://0177.0.0.1/"),
                   ("trailing-dot", "http://127.0.0.1./"), ("mapped", "http://[::ffff:127.0.0.1]/"),
                   ("mapped-hex", "http://[::ffff:7f00:1]/"), ("percent", "http://%31%32%37.0.0.1/"),
                   ("uppercase-name", "http://LOCALHOST./")]],
    *[(f"other-range-spelled-{n}", {"destination": d}, ValueError, "destination") for n, d in [
        ("unspecified", "0"), ("unspecified-hex", "0x0.0"), ("broadcast", "4294967295"),
        ("broadcast-hex", "0xffffffff"), ("multicast", "0xe0000001"), ("reserved", "0xf0.1"),
        ("this-network", "0.0x10203"), ("mapped-multicast", "::ffff:224.0.0.1")]],
    ("ipv4-short-form", {"destination": "10.1"}, ValueError, "destination"),
    ("ipv4-hex-public", {"destination": "0x0d.0x6b.0x15.0xc8"}, ValueError, "destination"),
    ("url-ipv4-short-form", {"destination": "http://10.1/", "port": None}, ValueError,
     "destination"),
    ("ipv4-hex-overflow", {"destination": "0x100.0.0.1"}, ValueError, "destination"),
    # control characters anywhere, percent-encoded ones in a URL's host too
    *[(f"control-{n}", {"destination": d, **({"port": None} if "://" in d else {})}, ValueError,
       "destination") for n, d in [
        ("lf-after-host", "bing.com\n"), ("crlf-in-url-path", "https://bing.com/x\r\nHost: evil"),
        ("tab-in-host", "bing\t.com"), ("nul", "10.1.4.4\x00"), ("tab-in-url", "http://bing.com/\t"),
        ("del", "bing.com\x7f"), ("c1", "bing.com\x85"), ("line-separator", "bing.com\u2028"),
        ("percent-crlf-in-host", "http://bing.com%0d%0a/"),
        ("percent-nul-in-host", "http://bing%00.com/"), ("percent-tab-in-host", "http://bing.com%09/"),
        ("leading-lf", "\nbing.com")]],
    ("url-percent-encoded-host", {"destination": "http://bing%2ecom/", "port": None}, ValueError,
     "destination"),
    ("control-in-source-name", {"source": "MultiTierApp0\n"}, ValueError, "source"),
    ("control-in-group", {"resource_group": "ContosoRG\n"}, ValueError, "resource_group"),
    ("control-in-group-tab", {"resource_group": "Contoso\tRG"}, ValueError, "resource_group"),
    ("control-in-watcher", {"watcher": WATCHER_ID + "\r\n"}, ValueError, "watcher"),
    # resource ids with '..', '.', '?', '#', '%', a backslash, empty segments or whitespace
    *[(f"id-{n}-{field}", {field: text}, ValueError, field)
      for field, base in (("source", VM_ID),
                          ("destination", VM_ID.replace("MultiTierApp0", "Database0")),
                          ("watcher", WATCHER_ID))
      for n, text in [("dotdot", base + "/../x"),
                      ("dotdot-inside", base.replace("/providers/", "/../providers/")),
                      ("dot", base.replace("/providers/", "/./providers/")),
                      ("query", base + "?api-version=1"), ("fragment", base + "#x"),
                      ("percent", base + "%2F..%2F"),
                      ("backslash", base.replace("/providers/", "\\providers/")),
                      ("double-slash", base.replace("/providers/", "//providers/")),
                      ("trailing-slash", base + "/"),
                      ("space", base.replace("/providers/", "/providers /")),
                      ("tab", base + "\t")]],
    # a network prefix is not an address
    ("ipv4-prefix", {"destination": "10.1.4.0/24"}, ValueError, "destination"),
    ("ipv6-prefix", {"destination": "2001:db8::/64"}, ValueError, "destination"),
    # empty or schemeless URLs, and other broken URLs
    ("destination-empty", {"destination": ""}, ValueError, "destination"),
    ("destination-blank", {"destination": "   "}, ValueError, "destination"),
    ("url-without-scheme", {"destination": "bing.com/health"}, ValueError, "destination"),
    ("url-without-host", {"destination": "https://", "port": None}, ValueError, "destination"),
    ("url-ftp", {"destination": "ftp://bing.com", "port": None}, ValueError, "destination"),
    ("url-port-out-of-range", {"destination": "https://bing.com:99999/", "port": None}, ValueError,
     "destination"),
    ("url-with-credentials", {"destination": "https://user:pw@bing.com/", "port": None}, ValueError,
     "destination"),
    ("url-bad-host", {"destination": "http://bad_host!/", "port": None}, ValueError, "destination"),
    ("url-one-slash", {"destination": "http:/bing.com", "port": None}, ValueError, "destination"),
    ("url-no-slashes", {"destination": "https:bing.com", "port": None}, ValueError, "destination"),
    ("url-no-colon", {"destination": "http//bing.com", "port": None}, ValueError, "destination"),
    ("url-port-vs-port", {"destination": "https://bing.com:8443", "port": 443}, ValueError, "port"),
    ("host-bad-label", {"destination": "-bing.com"}, ValueError, "destination"),
    # unknown protocols
    ("protocol-udp", {"protocol": "Udp"}, ValueError, "protocol"),
    ("protocol-tcp-ip", {"protocol": "TCP/IP"}, ValueError, "protocol"),
    ("protocol-number", {"protocol": 6}, TypeError, "protocol"),
    ("protocol-vs-url-scheme", {"destination": "https://bing.com", "port": None, "protocol": "Http"},
     ValueError, "protocol"),
    # HTTP options on a Tcp check, and broken HTTP options
    ("http-on-tcp", {"protocol": "Tcp", "http": {"method": "Get"}}, ValueError, "http"),
    ("http-on-default-tcp", {"http": {"valid_status_codes": [200]}}, ValueError, "http"),
    ("http-on-icmp", {"protocol": "Icmp", "port": None, "http": {"method": "Get"}}, ValueError, "http"),
    ("http-method-post", {"protocol": "Http", "http": {"method": "Post"}}, ValueError, "http"),
    ("http-unknown-option", {"protocol": "Http", "http": {"timeout": 5}}, ValueError, "http"),
    ("http-not-a-dict", {"protocol": "Http", "http": "GET /"}, TypeError, "http"),
    ("http-header-not-text", {"protocol": "Http", "http": {"headers": {"x-n": 1}}}, ValueError, "http"),
    ("http-header-name-newline", {"protocol": "Http", "http": {"headers": {"a\nb": "x"}}},
     ValueError, "http"),
    ("http-header-name-space", {"protocol": "Http", "http": {"headers": {"x y": "z"}}}, ValueError,
     "http"),
    ("http-header-name-colon", {"protocol": "Http", "http": {"headers": {"x:": "z"}}}, ValueError,
     "http"),
    ("http-header-value-injection", {"protocol": "Http",
                                     "http": {"headers": {"x": "a\r\nInjected: 1"}}}, ValueError,
     "http"),
    ("http-header-value-nul", {"protocol": "Http", "http": {"headers": {"x": "a\x00"}}}, ValueError,
     "http"),
    # invalid status codes
    ("status-code-999", {"protocol": "Http", "http": {"valid_status_codes": [200, 999]}}, ValueError,
     "http"),
    ("status-code-99", {"protocol": "Http", "http": {"valid_status_codes": [99]}}, ValueError, "http"),
    ("status-codes-text", {"protocol": "Http", "http": {"valid_status_codes": "200"}}, TypeError,
     "http"),
    ("status-code-as-text", {"protocol": "Http", "http": {"valid_status_codes": ["200"]}}, ValueError,
     "http"),
    # unknown IP versions
    ("ip-version-5", {"ip_version": "IPv5"}, ValueError, "ip_version"),
    ("ip-version-v4", {"ip_version": "v4"}, ValueError, "ip_version"),
    ("ip-version-number", {"ip_version": 5}, TypeError, "ip_version"),
    ("ip-version-float", {"ip_version": 4.0}, TypeError, "ip_version"),
    ("ip-version-4-vs-ipv6", {"destination": "2001:db8::4", "ip_version": "IPv4"}, ValueError,
     "ip_version"),
    ("ip-version-6-vs-ipv4", {"destination": "10.1.4.4", "ip_version": "IPv6"}, ValueError,
     "ip_version"),
    ("ip-version-vs-url-host", {"destination": "http://[2001:db8::4]/", "port": None,
                                "ip_version": "IPv4"}, ValueError, "ip_version"),
    # source equal to destination
    ("destination-is-source-by-name", {"destination": "MultiTierApp0"}, ValueError, "destination"),
    ("destination-is-source-by-id", {"destination": VM_ID.upper()}, ValueError, "destination"),
    # a VM name without resource group
    ("source-name-without-group", {"resource_group": None}, ValueError, "resource_group"),
    ("destination-name-without-group", {"source": VM_ID, "resource_group": None,
                                        "destination": "Database0"}, ValueError, "resource_group"),
    # wrong Python types and other impossible values
    ("source-number", {"source": 42}, TypeError, "source"),
    ("source-none", {"source": None}, TypeError, "source"),
    ("destination-number", {"destination": 10}, TypeError, "destination"),
    ("destination-list", {"destination": ["10.1.4.4"]}, TypeError, "destination"),
    ("group-number", {"resource_group": 5}, TypeError, "resource_group"),
    ("group-invalid-name", {"resource_group": "bad rg!"}, ValueError, "resource_group"),
    ("timeout-text", {"timeout": "600"}, TypeError, "timeout"),
    ("timeout-zero", {"timeout": 0.0}, ValueError, "timeout"),
    ("timeout-negative", {"timeout": -5.0}, ValueError, "timeout"),
    ("on-progress-number", {"on_progress": 5}, TypeError, "on_progress"),
    ("on-progress-text", {"on_progress": "print"}, TypeError, "on_progress"),
    ("cancel-bool", {"cancel": True}, TypeError, "cancel"),
    ("cancel-number", {"cancel": 5}, TypeError, "cancel"),
]
IDS = [c[0] for c in CATALOGUE]


def test_the_catalogue_is_big_enough():
    assert len(CATALOGUE) >= 40
    assert len(set(IDS)) == len(IDS)


def refusal(nw: Any, change: dict[str, Any]) -> Exception:
    args = {**BASE, **change}
    try:
        nw.check(args.pop("source"), args.pop("destination"), args.pop("port"), **args)
    except (ValueError, TypeError) as exc:
        return exc
    raise AssertionError(f"accepted: {change}")


@pytest.mark.parametrize("case,change,error,field", CATALOGUE, ids=IDS)
def test_refused_naming_the_field_with_an_example(fake_arm, connect, case, change, error, field):
    exc = refusal(connect(), change)
    assert type(exc) is error, exc
    message = str(exc)
    assert message.startswith(f"{field}: "), message
    assert "e.g." in message, message
    assert "\n" not in message
    assert fake_arm.requests == []  # refused before any request


def cli_args(change: dict[str, Any]) -> list[str] | None:
    """The same input as `python -m nwlab check` arguments; None when the CLI cannot express it
    (a dict, a list, or a Python type the command line would turn into text)."""
    args = {**BASE, **change}
    argv = ["check", "--replay"]
    if args["source"] is None or args["destination"] is None:
        return None
    # `--flag=value`, so that values starting with "-" stay values.
    for key, flag in (("source", "--source"), ("destination", "--dest"),
                      ("resource_group", "--resource-group"), ("protocol", "--protocol"),
                      ("ip_version", "--ip-version"), ("watcher", "--watcher")):
        value = args.get(key)
        if value is None:
            continue
        if not isinstance(value, str):
            return None
        argv.append(f"{flag}={value}")
    for key, flag in (("port", "--port"), ("source_port", "--source-port")):
        value = args.get(key)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int | str):
            return None
        argv.append(f"{flag}={value}")
    if "timeout" in args:
        if not isinstance(args["timeout"], float):
            return None
        argv.append(f"--timeout={args['timeout']!r}")
    if "http" in args or "on_progress" in args or "cancel" in args:
        return None
    return argv


CLI_CASES = [c for c in CATALOGUE if cli_args(c[1]) is not None]


def test_most_of_the_catalogue_can_be_typed_on_the_command_line():
    assert len(CLI_CASES) >= 35


# What each field is called on the command line (written here independently of nwlab.cli).
CLI_FLAG = {"source": "--source", "destination": "--dest", "port": "--port", "resource_group": "-g",
            "protocol": "--protocol", "source_port": "--source-port", "ip_version": "--ip-version",
            "watcher": "--watcher", "timeout": "--timeout"}
PYTHON_WORDS = re.compile(r"(?<![\w-])(" + "|".join(CLI_FLAG) + r")=|\bcheck\(|resource_group|"
                          r"source_port|ip_version")


def assert_speaks_flags(line: str, field: str) -> None:
    assert line.startswith(f"nwlab: error: {CLI_FLAG[field]}: "), line
    assert not PYTHON_WORDS.search(line), line
    assert "e.g." in line and "\n" not in line.rstrip("\n"), line


@pytest.mark.parametrize("case,change,error,field", CLI_CASES, ids=[c[0] for c in CLI_CASES])
def test_cli_prints_the_message_in_flags_and_exits_2(fake_arm, connect, capsys, case, change, error,
                                                     field):
    expected = str(refusal(connect(), change))
    argv = cli_args(change)
    assert argv is not None
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == f"nwlab: error: {cli_message(expected)}\n"
    assert_speaks_flags(captured.err, field)


SAMPLE = ["port-too-big", "port-word", "source-nic-id", "ipv4-octet-256", "url-without-scheme",
          "protocol-udp", "ip-version-5", "destination-is-source-by-name", "source-name-without-group",
          "timeout-negative", "ipv4-loopback", "url-one-slash", "loopback-spelled-hex",
          "control-lf-after-host", "id-dotdot-source", "control-in-group"]


@pytest.mark.parametrize("case", SAMPLE)
def test_cli_in_a_real_process_has_no_traceback(fake_arm, connect, case):
    change, field = next((c[1], c[3]) for c in CATALOGUE if c[0] == case)
    expected = str(refusal(connect(), change))
    argv = cli_args(change)
    assert argv is not None
    done = subprocess.run([sys.executable, "-m", "nwlab", *argv], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 2
    assert done.stderr == f"nwlab: error: {cli_message(expected)}\n"
    assert_speaks_flags(done.stderr, field)
    assert "Traceback" not in done.stderr + done.stdout


@pytest.mark.parametrize("message,cli", [
    ("port: 70000 is outside 0-65535; e.g. port=443", "--port: 70000 is outside 0-65535; e.g. --port 443"),
    ("resource_group: source 'A' is a VM name, so the resource group is needed, e.g. "
     "resource_group='ContosoRG', or pass the VM resource id as source",
     "-g: source 'A' is a VM name, so the resource group is needed, e.g. -g ContosoRG, or pass "
     "the VM resource id as source"),
    ("source: empty; give a VM name with resource_group, e.g. source='My VM' with "
     "resource_group='ContosoRG'", "--source: empty; give a VM name with -g, e.g. --source 'My VM' "
     "with -g ContosoRG"),
    ("checks[0]: ip_version: 'IPv5' is not IPv4 or IPv6; e.g. ip_version='IPv6'",
     "--ip-version: 'IPv5' is not IPv4 or IPv6; e.g. --ip-version IPv6"),
    ("port: an Icmp check has no port, got 80; drop port=, or use protocol='Tcp' to check a port, "
     "e.g. protocol='Tcp'", "--port: an Icmp check has no port, got 80; drop --port, or use "
     "--protocol Tcp to check a port, e.g. --protocol Tcp"),
    ("cassettes: 'x' is neither a folder nor a cassette file; e.g. "
     "nwlab.replay('notebooks/cassettes') or nwlab.replay() for the bundled ones",
     "--replay: 'x' is neither a folder nor a cassette file; e.g. --replay notebooks/cassettes or "
     "--replay for the bundled ones"),
    ("subscription_id: 'x' is not a subscription id (a GUID); e.g. "
     "nwlab.connect('00000000-0000-0000-0000-000000000000')",
     "--subscription: 'x' is not a subscription id (a GUID); e.g. "
     "--subscription 00000000-0000-0000-0000-000000000000"),
    ("http: header 'x': 1 must be two strings; e.g. http={'method': 'Get'}",
     "http: header 'x': 1 must be two strings; e.g. http={'method': 'Get'}"),  # no flag: unchanged
])
def test_library_messages_become_flag_messages(message, cli):
    assert cli_message(message) == cli
