"""Check validation: what is accepted and how it is normalised, and every refusal naming its field
with an example, raised before any request reaches the (fake) service."""

from __future__ import annotations

import re
from typing import Any

import pytest

import nwlab
from fakearm import SUB, VM_ID, WATCHER_ID, FakeCredential
from nwlab.checkspec import build_check

DB_ID = VM_ID.replace("MultiTierApp0", "Database0")
NIC_ID = VM_ID.replace("Microsoft.Compute/virtualMachines/MultiTierApp0",
                       "Microsoft.Network/networkInterfaces/appNic0")


def spec(source: Any = "MultiTierApp0", destination: Any = "10.1.4.4", port: Any = 80, **kw: Any):
    kw.setdefault("resource_group", "ContosoRG")
    return build_check(SUB, source, destination, port, **kw)


# -- accepted inputs ----------------------------------------------------------------------------


@pytest.mark.parametrize("destination,kind,value", [
    ("10.1.4.4", "ip", "10.1.4.4"),
    (" 10.1.4.4 ", "ip", "10.1.4.4"),
    ("2001:db8::4", "ip", "2001:db8::4"),
    ("[2001:DB8::4]", "ip", "2001:db8::4"),
    ("bing.com", "host", "bing.com"),
    ("bing.com.", "host", "bing.com"),
    ("build2017nwdiag360.blob.core.windows.net", "host", "build2017nwdiag360.blob.core.windows.net"),
    ("https://bing.com", "url", "https://bing.com"),
    ("http://10.1.4.4:8080/health", "url", "http://10.1.4.4:8080/health"),
    ("Database0", "vm", DB_ID),
    (DB_ID, "vm", DB_ID),
    (DB_ID.lstrip("/"), "vm", DB_ID),
    # link-local and platform addresses are real diagnostic targets
    ("169.254.169.254", "ip", "169.254.169.254"),
    ("168.63.129.16", "ip", "168.63.129.16"),
    ("fe80::1", "ip", "fe80::1"),
    ("http://169.254.169.254/metadata/instance", "url", "http://169.254.169.254/metadata/instance"),
    # '_' in host labels: service labels and names in private DNS zones
    ("_sip._tcp.contoso.com", "host", "_sip._tcp.contoso.com"),
    ("my_host.contoso.local", "host", "my_host.contoso.local"),
    ("https://my_host.contoso.local/health", "url", "https://my_host.contoso.local/health"),
    # host names that merely start like a scheme
    ("http.contoso.com", "host", "http.contoso.com"),
    ("httpbin.org", "host", "httpbin.org"),
])
def test_destination_kinds(destination, kind, value):
    s = spec(destination=destination, port=None if kind == "url" else 80)
    assert (s.destination.kind, s.destination.value) == (kind, value)


@pytest.mark.parametrize("url,port", [("https://bing.com", 443), ("http://bing.com/", 80),
                                      ("https://contoso.com:8443/x", 8443)])
def test_url_implies_its_port(url, port):
    assert spec(destination=url, port=None).destination.url_port == port


def test_source_by_name_or_id_is_the_canonical_vm_id():
    assert spec().source_id == VM_ID
    lowered = VM_ID.replace("resourceGroups", "resourcegroups")
    assert spec(source=lowered, resource_group=None).source_id == VM_ID
    assert spec(source=VM_ID.lstrip("/"), resource_group=None).source_id == VM_ID
    assert spec().source_name == "MultiTierApp0" and spec().resource_group == "ContosoRG"


def test_protocol_ip_version_and_http_are_normalised():
    s = spec(destination="2001:db8::4", port=8080, protocol=" HTTP ", ip_version="ipv6",
             http={"method": "GET", "headers": [{"name": "accept", "value": "*/*"}],
                   "valid_status_codes": (200, 301)})
    assert (s.protocol, s.ip_version) == ("Http", "IPv6")
    assert s.http == {"method": "Get", "headers": [{"name": "accept", "value": "*/*"}],
                      "validStatusCodes": [200, 301]}


@pytest.mark.parametrize("kwargs", [
    {"protocol": "Icmp", "port": None}, {"protocol": "icmp", "port": 0},
    {"destination": "https://bing.com", "port": None}, {"port": 0}, {"port": 65535},
    {"timeout": 5}, {"timeout": 0.5}, {"watcher": WATCHER_ID.lower()},
    {"source_port": 0}, {"resource_group": "Contoso-RG_(1).x"},
    {"destination": "https://bing.com:8443", "port": 8443},
    {"destination": "https://bing.com", "port": 8443},
    {"destination": "2001:db8::4", "ip_version": "IPv6"}, {"ip_version": 4},
    {"destination": "bing.com", "ip_version": "IPv6"},
    {"protocol": "Http", "http": {"headers": {" X-Trace_Id ": "a b\tc; q=1"}}},
])
def test_accepted(kwargs):
    spec(**kwargs)


def test_identical_checks_share_a_key():
    assert spec(destination="Database0").key() == spec(destination=DB_ID.upper(), port=80).key()
    assert spec(port=80).key() != spec(port=81).key()


def test_body_is_the_rest_shape():
    assert spec(destination="https://bing.com", port=0, source_port=0).body() == {
        "source": {"resourceId": VM_ID, "port": 0},
        "destination": {"address": "https://bing.com", "port": 0}}


# -- refusals: field named, example shown, nothing sent ------------------------------------------


REFUSED: list[tuple[str, dict[str, Any], type[Exception], str]] = [
    # (case, check() arguments, exception, field the message starts with)
    ("source-type", {"source": 42}, TypeError, "source"),
    ("source-empty", {"source": "  "}, ValueError, "source"),
    ("source-not-an-id", {"source": "/subscriptions/x/resourceGroups"}, ValueError, "source"),
    ("source-nic-id", {"source": NIC_ID}, ValueError, "source"),
    ("source-bad-name", {"source": "my vm!"}, ValueError, "source"),
    ("source-name-without-group", {"resource_group": None}, ValueError, "resource_group"),
    ("group-type", {"resource_group": ["ContosoRG"]}, TypeError, "resource_group"),
    ("group-invalid", {"resource_group": "Contoso RG."}, ValueError, "resource_group"),
    ("destination-type", {"destination": None}, TypeError, "destination"),
    ("destination-empty", {"destination": ""}, ValueError, "destination"),
    ("destination-nic-id", {"destination": NIC_ID}, ValueError, "destination"),
    ("destination-bad-id", {"destination": "/subscriptions/x"}, ValueError, "destination"),
    ("destination-bad-ipv4", {"destination": "10.1.4.256"}, ValueError, "destination"),
    ("destination-bad-ipv6", {"destination": "2001:db8::zz"}, ValueError, "destination"),
    ("destination-schemeless-url", {"destination": "bing.com/health"}, ValueError, "destination"),
    ("destination-bad-host", {"destination": "bing_.com"}, ValueError, "destination"),
    ("destination-host-space", {"destination": "my host.contoso.com"}, ValueError, "destination"),
    ("destination-host-bang", {"destination": "my!host.contoso.com"}, ValueError, "destination"),
    ("destination-host-lone-underscore", {"destination": "_.contoso.com"}, ValueError,
     "destination"),
    ("destination-loopback", {"destination": "127.0.0.1"}, ValueError, "destination"),
    ("destination-zone-id", {"destination": "[fe80::1%eth0]"}, ValueError, "destination"),
    ("destination-prefix", {"destination": "10.1.4.0/24"}, ValueError, "destination"),
    ("destination-bad-sub", {"destination": DB_ID.replace(SUB, "not-a-guid")}, ValueError,
     "destination"),
    ("source-bad-sub", {"source": VM_ID.replace(SUB, "not-a-guid")}, ValueError, "source"),
    ("source-ip", {"source": "10.1.1.4"}, ValueError, "source"),
    ("url-malformed", {"destination": "http:/bing.com", "port": None}, ValueError, "destination"),
    ("url-port-mismatch", {"destination": "https://bing.com:8443", "port": 443}, ValueError, "port"),
    ("http-header-injection", {"protocol": "Http", "http": {"headers": {"x": "a\r\nB: 1"}}},
     ValueError, "http"),
    ("ip-version-vs-address", {"destination": "10.1.4.4", "ip_version": "IPv6"}, ValueError,
     "ip_version"),
    ("on-progress-type", {"on_progress": 5}, TypeError, "on_progress"),
    ("cancel-type", {"cancel": object()}, TypeError, "cancel"),
    ("destination-bad-vm-name", {"destination": "data base"}, ValueError, "destination"),
    ("destination-vm-without-group", {"source": VM_ID, "resource_group": None,
                                      "destination": "Database0"}, ValueError, "resource_group"),
    ("destination-is-source", {"destination": VM_ID.upper()}, ValueError, "destination"),
    ("url-scheme", {"destination": "ftp://bing.com", "port": None}, ValueError, "destination"),
    ("url-no-host", {"destination": "https://", "port": None}, ValueError, "destination"),
    ("url-bad-port", {"destination": "https://bing.com:99999/", "port": None}, ValueError,
     "destination"),
    ("url-credentials", {"destination": "https://user:pw@bing.com/", "port": None}, ValueError,
     "destination"),
    ("port-type", {"port": "80"}, TypeError, "port"),
    ("port-bool", {"port": True}, TypeError, "port"),
    ("port-range", {"port": 65536}, ValueError, "port"),
    ("port-missing", {"port": None}, ValueError, "port"),
    ("port-on-icmp", {"protocol": "Icmp", "port": 80}, ValueError, "port"),
    ("source-port-range", {"source_port": -1}, ValueError, "source_port"),
    ("protocol-type", {"protocol": 6}, TypeError, "protocol"),
    ("protocol-unknown", {"protocol": "Udp"}, ValueError, "protocol"),
    ("protocol-vs-url", {"destination": "https://bing.com", "protocol": "Http", "port": None},
     ValueError, "protocol"),
    ("http-type", {"protocol": "Http", "http": "GET"}, TypeError, "http"),
    ("http-on-tcp", {"http": {"method": "Get"}}, ValueError, "http"),
    ("http-unknown-key", {"protocol": "Http", "http": {"verb": "Get"}}, ValueError, "http"),
    ("http-method", {"protocol": "Http", "http": {"method": "Post"}}, ValueError, "http"),
    ("http-headers-type", {"protocol": "Http", "http": {"headers": "accept: */*"}}, TypeError, "http"),
    ("http-header-value", {"protocol": "Http", "http": {"headers": {"x": 1}}}, ValueError, "http"),
    ("http-header-list", {"protocol": "Http", "http": {"headers": [("x", "y")]}}, ValueError, "http"),
    ("http-codes-type", {"protocol": "Http", "http": {"valid_status_codes": "200"}}, TypeError,
     "http"),
    ("http-code-range", {"protocol": "Http", "http": {"valid_status_codes": [200, 700]}}, ValueError,
     "http"),
    ("ip-version-type", {"ip_version": 4.0}, TypeError, "ip_version"),
    ("ip-version-unknown", {"ip_version": "IPv5"}, ValueError, "ip_version"),
    ("watcher-type", {"watcher": 1}, TypeError, "watcher"),
    ("watcher-vm-id", {"watcher": VM_ID}, ValueError, "watcher"),
    ("timeout-type", {"timeout": "600"}, TypeError, "timeout"),
    ("timeout-zero", {"timeout": 0}, ValueError, "timeout"),
    ("timeout-nan", {"timeout": float("nan")}, ValueError, "timeout"),
]


@pytest.mark.parametrize("case,kwargs,error,field", REFUSED, ids=[r[0] for r in REFUSED])
def test_refused_before_any_request_naming_the_field(fake_arm, connect, case, kwargs, error, field):
    args = {"source": "MultiTierApp0", "destination": "10.1.4.4", "port": 80,
            "resource_group": "ContosoRG", **kwargs}
    nw = connect()
    with pytest.raises(error) as info:
        nw.check(args.pop("source"), args.pop("destination"), args.pop("port"), **args)
    message = str(info.value)
    assert type(info.value) is error
    assert re.match(rf"^{field}: ", message), message
    assert "e.g." in message, message
    assert "\n" not in message
    assert fake_arm.requests == []


# -- the client's own arguments -------------------------------------------------------------------


@pytest.mark.parametrize("kwargs,error,field", [
    ({"subscription_id": "not-a-guid"}, ValueError, "subscription_id"),
    ({"subscription_id": 12}, ValueError, "subscription_id"),
    ({"credential": object()}, TypeError, "credential"),
    ({"api_version": "2024"}, ValueError, "api_version"),
    ({"poll_interval": -1}, ValueError, "poll_interval"),
    ({"poll_interval": "10"}, ValueError, "poll_interval"),
    ({"cloud": "Mars"}, ValueError, "cloud"),
])
def test_connect_arguments_refused_with_an_example(fake_arm, kwargs, error, field):
    args: dict[str, Any] = {"subscription_id": SUB, "credential": FakeCredential(),
                            "arm_endpoint": fake_arm.endpoint, **kwargs}
    with pytest.raises(error) as info:
        nwlab.connect(args.pop("subscription_id"), **args)
    assert str(info.value).startswith(f"{field}: ") and "e.g." in str(info.value)
    assert fake_arm.requests == []


def test_list_vms_resource_group_type(fake_arm, connect):
    with pytest.raises(TypeError, match=r"^resource_group: .*e\.g\."):
        connect().list_vms(3)
    assert fake_arm.requests == []


# -- the suggestion fits the mistake ---------------------------------------------------------------


@pytest.mark.parametrize("destination,says,suggests", [
    ("10.1.4.0/24", "network prefix", "'10.1.4.4'"),
    ("10.1.4.4/32", "network prefix", "'10.1.4.4'"),
    ("2001:db8::/64", "network prefix", "'2001:db8::4'"),
    ("127.0.0.0/8", "network prefix", "'10.1.4.4'"),  # never an unreachable example
    ("http:/bing.com", "malformed URL", "'http://bing.com'"),
    ("https:bing.com", "malformed URL", "'https://bing.com'"),
    ("http//bing.com", "malformed URL", "'http://bing.com'"),
    ("HTTPS:/bing.com/x", "malformed URL", "'https://bing.com/x'"),
    ("bing.com/health", "without a scheme", "'https://bing.com/health'"),
    ("127.0.0.1", "loopback", "'10.1.4.4'"),
    ("::1", "loopback", "'2001:db8::4'"),
    ("fe80::1%eth0", "zone id", "'fe80::1'"),
    ("http://[fe80::1%25eth0]:8080/", "zone id", "'http://[fe80::1]/'"),
    ("http://127.0.0.1/", "loopback", "'http://10.1.4.4/'"),
    ("255.255.255.255", "broadcast", "'10.1.4.4'"),
    ("224.0.0.1", "multicast", "'10.1.4.4'"),
    ("240.0.0.1", "reserved", "'10.1.4.4'"),
    ("127.1", "spells 127.0.0.1, which is a loopback address", "'10.1.4.4'"),
    ("0x7f.0.0.1", "spells 127.0.0.1, which is a loopback address", "'10.1.4.4'"),
    ("http://2130706433:8080/", "spells 127.0.0.1, which is a loopback address",
     "'http://10.1.4.4/'"),
    ("4294967295", "spells 255.255.255.255, which is the broadcast address", "'10.1.4.4'"),
    ("10.1", "spells 10.0.0.1", "'10.0.0.1'"),
    ("http://0x0a.1/", "spells 10.0.0.1", "'http://10.0.0.1/'"),
    ("::ffff:7f00:1", "loopback", "'2001:db8::4'"),
    ("http://bing%2ecom/", "percent-encoded", "'http://bing.com/'"),
    ("bing.com\r\n", "control character U+000D at position 8", "destination='bing.com'"),
])
def test_the_refusal_says_what_is_wrong_and_suggests_a_fix(destination, says, suggests):
    with pytest.raises(ValueError) as info:
        spec(destination=destination, port=None if "://" in destination else 80)
    message = str(info.value)
    assert message.startswith("destination: ") and says in message, message
    assert message.endswith(f"e.g. {suggests}"), message
    assert "https://http" not in message
    assert ("URL without a scheme" in message) == (says == "without a scheme"), message


def test_port_and_ip_version_refusals_suggest_the_consistent_value():
    with pytest.raises(ValueError, match=r"^port: .*\(8443\); e\.g\. port=8443"):
        spec(destination="https://bing.com:8443", port=443)
    with pytest.raises(ValueError, match=r"^ip_version: .*e\.g\. ip_version='IPv6'"):
        spec(destination="2001:db8::4", ip_version="IPv4")


def test_source_ip_says_the_check_runs_from_a_vm():
    with pytest.raises(ValueError) as info:
        spec(source="10.1.1.4")
    assert "runs from a VM" in str(info.value) and "e.g. source='MultiTierApp0'" in str(info.value)


@pytest.mark.parametrize("kwargs,field", [
    ({"on_progress": 5}, "on_progress"),
    ({"on_progress": "tqdm"}, "on_progress"),
    ({"cancel": 5}, "cancel"),
])
def test_check_many_refuses_bad_callbacks_before_any_request(fake_arm, connect, kwargs, field):
    checks = [{"source": "MultiTierApp0", "destination": "10.1.4.4", "port": 80,
               "resource_group": "ContosoRG"}]
    with pytest.raises(TypeError) as info:
        connect().check_many(checks, **kwargs)
    message = str(info.value)
    assert message.startswith(f"{field}: ") and "e.g." in message, message
    assert fake_arm.requests == []
