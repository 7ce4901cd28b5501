"""What a user asked to check, validated strictly before any request, and turned into the REST body.

Every refusal names the field and shows a valid example, because the person reading it is in the
middle of troubleshooting something else.
"""

from __future__ import annotations

import ipaddress
import numbers
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeAlias
from urllib.parse import unquote, urlsplit

from nwlab.arm.ids import (
    GUID_RE,
    VM_ID_EXAMPLE,
    ResourceId,
    is_vm_id,
    is_vmss_instance_id,
    parse_resource_id,
    vm_id,
)

PROTOCOLS = {"tcp": "Tcp", "http": "Http", "https": "Https", "icmp": "Icmp"}
IP_VERSIONS = {"ipv4": "IPv4", "ipv6": "IPv6"}
HTTP_METHODS = {"get": "Get"}
HTTP_KEYS = {"method", "headers", "valid_status_codes"}
WATCHER_EXAMPLE = ("/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/NetworkWatcherRG"
                   "/providers/Microsoft.Network/networkWatchers/NetworkWatcher_westcentralus")

# Azure's naming rules: VM names 1-64 of letters, digits, '-', '_', '.'; resource groups 1-90 of
# letters, digits, '-', '_', '.', '(' and ')', not ending in '.'.
# (fullmatch throughout: `$` also matches before a trailing newline.)
_VM_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
_RG_NAME = re.compile(r"[-\w._()]{0,89}[-\w_()]")
# Host labels: letters, digits and '-', plus '_' (service labels such as `_sip._tcp` and names in
# private DNS zones use it); a label neither starts with '-' nor ends with '-' or '_'.
_HOST_LABEL = re.compile(r"(?!-)[A-Za-z0-9_-]{1,63}(?<![-_])")
# A host label an OS resolver (inet_aton) or a browser (WHATWG URL) reads as a number: decimal,
# octal (leading 0) or hex (0x). A host made only of such labels is an IPv4 address, however spelled.
_NUMERIC_LABEL = re.compile(r"0[xX][0-9A-Fa-f]{0,32}|[0-9]{1,32}")
# Names every VM resolves to itself (/etc/hosts on Linux images), besides *.localhost.
_LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"})
# `http:/bing.com`, `https:bing.com`, `http//bing.com`: a scheme whose '://' is mistyped.
_BROKEN_SCHEME = re.compile(r"^(https?)(?::?[/\\]+|:)(?=[^/\\:])", re.IGNORECASE)
# RFC 9110 token: what a header name may be made of.
_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")  # in a header value, TAB is allowed
# Anywhere else: C0 (TAB, CR, LF, NUL...), DEL, C1 and the Unicode line breaks. urlsplit silently
# drops TAB/CR/LF, so a URL that looks checked would still carry them to the service.
_CONTROL_ANY = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
# Characters no ARM resource name may hold, and which would change what an id means in a URL.
_ID_FORBIDDEN = re.compile(r"[\s?#%\\]")
_THIS_NETWORK = ipaddress.ip_network("0.0.0.0/8")
_RESERVED_V4 = ipaddress.ip_network("240.0.0.0/4")
_BROADCAST = ipaddress.ip_address("255.255.255.255")

IPAddress: TypeAlias = ipaddress.IPv4Address | ipaddress.IPv6Address


@dataclass(frozen=True)
class Destination:
    """Where the probes go: a VM (by id), an IP address, a host name or a URL."""

    kind: str  # "vm", "ip", "host", "url"
    value: str  # the VM id, the address, the host or the URL as sent
    url_port: int | None = None  # the port a URL implies (its own, or the scheme's)

    def to_body(self) -> dict[str, Any]:
        return {"resourceId": self.value} if self.kind == "vm" else {"address": self.value}


@dataclass(frozen=True)
class CheckSpec:
    """A validated check: everything needed to build the request body, nothing that needs a request."""

    source_id: str
    destination: Destination
    port: int | None = None
    protocol: str | None = None
    source_port: int | None = None
    http: dict[str, Any] | None = None
    ip_version: str | None = None
    watcher: str | None = None
    timeout: float = 600.0
    inputs: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def source_name(self) -> str:
        rid = parse_resource_id(self.source_id)
        return rid.name if rid else self.source_id

    @property
    def resource_group(self) -> str:
        rid = parse_resource_id(self.source_id)
        return rid.resource_group if rid else ""

    def body(self) -> dict[str, Any]:
        """The ConnectivityParameters body; HTTPConfiguration only for Http/Https (reference §1.3)."""
        source: dict[str, Any] = {"resourceId": self.source_id}
        if self.source_port is not None:
            source["port"] = self.source_port
        destination = self.destination.to_body()
        if self.port is not None:
            destination["port"] = self.port
        body: dict[str, Any] = {"source": source, "destination": destination}
        if self.protocol is not None:
            body["protocol"] = self.protocol
        if self.http is not None and self.protocol in ("Http", "Https"):
            body["protocolConfiguration"] = {"HTTPConfiguration": self.http}
        if self.ip_version is not None:
            body["preferredIPVersion"] = self.ip_version
        return body

    def key(self) -> tuple[Any, ...]:
        """Identical checks share this key, so a batch runs each only once."""
        return (self.source_id.lower(), self.destination.kind, self.destination.value.lower(),
                self.port, self.protocol, self.source_port, repr(self.http), self.ip_version)


def build_check(subscription_id: str, source: Any, destination: Any, port: Any = None, *,
                protocol: Any = None, resource_group: Any = None, source_port: Any = None,
                http: Any = None, ip_version: Any = None, watcher: Any = None,
                timeout: Any = 600) -> CheckSpec:
    """Validate the arguments of `check()`; raise ValueError/TypeError naming the field."""
    rg = _resource_group(resource_group)
    source_id = _source(subscription_id, source, rg)
    proto = _protocol(protocol)
    dest = _destination(subscription_id, destination, rg)
    if dest.kind == "vm" and dest.value.lower() == source_id.lower():
        raise ValueError(f"destination: {destination!r} is the source VM itself; a check needs "
                         "another endpoint, e.g. destination='Database0' or '10.1.4.4'")
    port_value = _port("port", port)
    if dest.kind == "url" and port_value is not None:
        explicit = urlsplit(dest.value).port
        if explicit is not None and explicit != port_value:
            raise ValueError(f"port: port={port_value} contradicts the port in the URL "
                             f"{dest.value!r} ({explicit}); e.g. port={explicit}, or leave port "
                             "out (the URL's port is used)")
    if proto == "Icmp":
        if port_value not in (None, 0):
            raise ValueError(f"port: an Icmp check has no port, got {port_value}; drop port=, or "
                             "use protocol='Tcp' to check a port, e.g. protocol='Tcp'")
    elif port_value is None and dest.kind != "url":
        raise ValueError(f"port: a {proto or 'Tcp'} check to {_show(destination)} needs a destination "
                         f"port, e.g. port=443 (or protocol='Icmp' for a ping-style check)")
    if proto in ("Http", "Https") and dest.kind == "url":
        scheme = urlsplit(dest.value).scheme.lower()
        if scheme != proto.lower():
            raise ValueError(f"protocol: {proto!r} does not match the URL scheme {scheme!r}; "
                             f"e.g. protocol={PROTOCOLS[scheme]!r} for {dest.value!r}, or change "
                             "the URL")
    version = _ip_version(ip_version)
    literal = _literal_version(dest)
    if version is not None and literal is not None and version != f"IPv{literal}":
        raise ValueError(f"ip_version: {version!r} contradicts the destination {dest.value!r}, an "
                         f"IPv{literal} address; e.g. ip_version='IPv{literal}', or leave it out")
    http_value = _http(http)
    if http_value is not None:
        if proto is None and dest.kind == "url":
            proto = PROTOCOLS[urlsplit(dest.value).scheme.lower()]
        if proto not in ("Http", "Https"):
            raise ValueError(f"http: HTTP options apply to protocol='Http' or 'Https', not "
                             f"{proto or 'Tcp (the default)'}; e.g. check(src, "
                             "'https://contoso.com', protocol='Https', http={'method': 'Get'})")
    return CheckSpec(
        source_id=source_id,
        destination=dest,
        port=port_value,
        protocol=proto,
        source_port=_port("source_port", source_port),
        http=http_value,
        ip_version=version,
        watcher=_watcher(watcher),
        timeout=_timeout(timeout),
        inputs={"source": source, "destination": destination, "port": port,
                "protocol": protocol, "resource_group": resource_group},
    )


def build_source(subscription_id: str, vm: Any, resource_group: Any = None) -> str:
    """A VM id from a VM name (with its resource group) or a VM id, validated like check()'s."""
    return _source(subscription_id, vm, _resource_group(resource_group))


def check_callbacks(on_progress: Any, cancel: Any) -> None:
    """Validate check()'s `on_progress` and `cancel` (before any request, like the rest)."""
    if on_progress is not None and not callable(on_progress):
        raise TypeError(f"on_progress: expected a function taking a Progress, got "
                        f"{type(on_progress).__name__}; e.g. "
                        "on_progress=lambda p: print(p.state, p.elapsed_s), or leave it out")
    if cancel is not None and not callable(getattr(cancel, "is_set", None)):
        raise TypeError(f"cancel: expected a threading.Event (anything with is_set()), got "
                        f"{type(cancel).__name__}; e.g. stop = threading.Event(); "
                        "nw.check(..., cancel=stop)")


def _show(value: Any) -> str:
    return repr(value) if isinstance(value, str) else type(value).__name__


def _resource_group(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise TypeError(f"resource_group: expected a resource group name, got "
                        f"{type(value).__name__}; e.g. resource_group='ContosoRG'")
    _no_control("resource_group", value, "resource_group='ContosoRG'")
    if not _RG_NAME.fullmatch(value):
        raise ValueError(f"resource_group: {value!r} is not a valid resource group name (1-90 "
                         "letters, digits, '-', '_', '.', '(' or ')'); e.g. resource_group='ContosoRG'")
    return value


def _source(subscription_id: str, value: Any, rg: str | None) -> str:
    if not isinstance(value, str):
        raise TypeError(f"source: expected a VM name or VM resource id, got {type(value).__name__}; "
                        "e.g. source='MultiTierApp0' with resource_group='ContosoRG'")
    _no_control("source", value, "source='MultiTierApp0'")
    text = value.strip()
    if not text:
        raise ValueError("source: empty; give a VM name with resource_group, e.g. "
                         "source='MultiTierApp0' with resource_group='ContosoRG', or a VM resource "
                         "id")
    if _ip_literal(text) is not None:
        raise ValueError(f"source: {value!r} is an IP address, but connection troubleshoot runs "
                         "from a VM; give the VM name (with resource_group) or its resource id, "
                         f"e.g. source='MultiTierApp0' with resource_group='ContosoRG', or "
                         f"source='{VM_ID_EXAMPLE}'")
    if "/" in text:
        _id_text("source", value, text, f"source='{VM_ID_EXAMPLE}'")
        rid = parse_resource_id(text)
        if rid is None:
            raise ValueError(f"source: {value!r} is not a resource id; e.g. source='{VM_ID_EXAMPLE}'")
        _subscription_guid("source", value, rid, f"source='{VM_ID_EXAMPLE}'")
        if rid.type.lower() == "microsoft.compute/virtualmachinescalesets":
            # The overview lists scale sets as sources, but a check runs from one instance.
            raise ValueError(f"source: {value!r} is a scale set; a check runs from one instance: "
                             f"pass '{rid}/virtualMachines/<instanceId>' (a Uniform instance) "
                             "or the Flexible member VM's id")
        if not (is_vm_id(rid) or is_vmss_instance_id(rid)):
            raise ValueError(f"source: {value!r} is a {rid.type} id, but connection troubleshoot runs "
                             f"from a virtual machine; pass the VM's id, e.g. '{VM_ID_EXAMPLE}'")
        return str(rid)
    if not _VM_NAME.fullmatch(text):
        raise ValueError(f"source: {value!r} is not a valid VM name (letters, digits, '-', '_', '.'); "
                         "e.g. source='MultiTierApp0'")
    if rg is None:
        raise ValueError(f"resource_group: source {value!r} is a VM name, so the resource group is "
                         "needed, e.g. resource_group='ContosoRG', or pass the VM resource id as "
                         "source")
    return vm_id(subscription_id, rg, text)


def _destination(subscription_id: str, value: Any, rg: str | None) -> Destination:
    if not isinstance(value, str):
        raise TypeError(f"destination: expected a VM name or id, an IP address, a host name or a URL, "
                        f"got {type(value).__name__}; e.g. destination='10.1.4.4' or "
                        "'https://bing.com'")
    _no_control("destination", value, "destination='bing.com'")
    text = value.strip()
    if not text:
        raise ValueError("destination: empty; e.g. destination='Database0' (a VM, with "
                         "resource_group), '10.1.4.4', 'bing.com' or 'https://bing.com'")
    if "://" in text:
        return _url(text)
    broken = _BROKEN_SCHEME.match(text)
    if broken:
        fixed = f"{broken.group(1).lower()}://{text[broken.end():]}"
        raise ValueError(f"destination: {value!r} is a malformed URL (the scheme is followed by "
                         f"'://'); e.g. {fixed!r}")
    if text.startswith("/") or text.lower().startswith("subscriptions/"):
        _id_text("destination", value, text, f"destination='{VM_ID_EXAMPLE}'")
        rid = parse_resource_id(text)
        if is_vmss_instance_id(rid):
            # The overview lists VMs, FQDNs, URIs and IPs as destinations, not scale set
            # instances.
            raise ValueError(f"destination: {value!r} is a scale set instance, which connection "
                             "troubleshoot does not document as a destination; give the "
                             "instance's private IP address instead, e.g. destination='10.1.4.4'")
        if rid is None or not is_vm_id(rid):
            kind = f"a {rid.type} id" if rid else "not a resource id"
            raise ValueError(f"destination: {value!r} is {kind}; a destination resource must be a "
                             f"VM, e.g. '{VM_ID_EXAMPLE}', or give an address such as '10.1.4.4'")
        _subscription_guid("destination", value, rid, f"destination='{VM_ID_EXAMPLE}'")
        return Destination("vm", str(rid))
    address = _ip_literal(text)
    if address is not None:
        _reachable(address, repr(value), repr)
        return Destination("ip", str(address))
    if "/" in text:
        _not_a_prefix(value, text)
    if _is_numeric_host(text):
        _numeric_address(repr(value), text, repr)
    if ":" in text and "/" not in text:  # no host name holds a colon
        raise ValueError(f"destination: {value!r} is not a valid IP address; e.g. '10.1.4.4' or "
                         "'2001:db8::4'")
    if "/" in text:
        raise ValueError(f"destination: {value!r} looks like a URL without a scheme; e.g. "
                         f"'https://{text}'")
    if "." not in text:
        if text.lower() in _LOOPBACK_NAMES:
            raise ValueError(f"destination: {value!r} is the VM's own loopback, not a network "
                             "path; e.g. '10.1.4.4' or 'Database0' (another VM)")
        # A single label is a VM name, the way az's --dest-resource takes one with -g.
        if not _VM_NAME.fullmatch(text):
            raise ValueError(f"destination: {value!r} is neither a VM name nor a host name; e.g. "
                             "'Database0' or 'bing.com'")
        if rg is None:
            raise ValueError(f"resource_group: destination {value!r} is a VM name, so the resource "
                             "group is needed, e.g. resource_group='ContosoRG', or pass the VM id")
        return Destination("vm", vm_id(subscription_id, rg, text))
    _host(value, text)
    return Destination("host", text.rstrip("."))


def _host(original: str, text: str) -> None:
    labels = text.rstrip(".").split(".")
    if len(text) > 253 or not all(_HOST_LABEL.fullmatch(label) for label in labels):
        raise ValueError(f"destination: {original!r} is not a valid host name (labels of letters, "
                         "digits, '-' and '_', separated by dots); e.g. 'bing.com'")
    if labels[-1].lower() == "localhost" or text.rstrip(".").lower() in _LOOPBACK_NAMES:
        example = "'https://bing.com/'" if "://" in original else "'bing.com' or '10.1.4.4'"
        raise ValueError(f"destination: {original!r} names the VM's own loopback, not a network "
                         f"path; e.g. {example}")


def _ip_literal(text: str) -> IPAddress | None:
    """The address `text` spells (brackets allowed around IPv6), or None."""
    try:
        return ipaddress.ip_address(text.strip("[]"))
    except ValueError:
        return None


def _literal_version(dest: Destination) -> int | None:
    """4 or 6 when the destination is an IP literal (bare or as a URL's host), else None."""
    if dest.kind == "ip":
        return ipaddress.ip_address(dest.value).version
    if dest.kind == "url":
        address = _ip_literal(urlsplit(dest.value).hostname or "")
        return address.version if address is not None else None
    return None


def _unreachable(address: IPAddress) -> str | None:
    """Why no probe from a VM can reach `address` (None when one can). Link-local addresses stay
    allowed: 169.254.169.254 (IMDS) and 168.63.129.16 are real diagnostic targets."""
    address = _embedded_ipv4(address)
    if address.is_unspecified:
        return "is the unspecified address, which names no host"
    if address == _BROADCAST:
        return "is the broadcast address, not one host"
    if isinstance(address, ipaddress.IPv4Address) and address in _THIS_NETWORK:
        return "is in 0.0.0.0/8 ('this network'), which is never a destination"
    if address.is_loopback:
        return "is a loopback address: the VM's own loopback is not a network path"
    if address.is_multicast:
        return "is a multicast address; connection troubleshoot checks one host"
    if isinstance(address, ipaddress.IPv4Address) and address in _RESERVED_V4:
        return "is in 240.0.0.0/4, reserved and never routed"
    return None


def _reachable(address: IPAddress, what: str, show: Callable[[str], str]) -> None:
    """Refuse an address no probe can reach, or one with a zone id. `what` names the input in the
    message; `show(address)` renders an example the way the user typed it (bare, or in a URL)."""
    if isinstance(address, ipaddress.IPv6Address) and address.scope_id:
        bare = str(address).split("%", 1)[0]
        raise ValueError(f"destination: {what} carries the zone id '%{address.scope_id}', which "
                         f"only means something on the machine that names it; e.g. {show(bare)}")
    reason = _unreachable(address)
    if reason is not None:
        example = show("10.1.4.4" if address.version == 4 else "2001:db8::4")
        raise ValueError(f"destination: {what} {reason}; e.g. {example}")


def _not_a_prefix(original: str, text: str) -> None:
    """`10.1.4.0/24` is a network prefix: say so, with an address in it as the example."""
    left, _, right = text.partition("/")
    address = _ip_literal(left)
    if address is None or not right.isdigit():
        return
    try:
        network = ipaddress.ip_network(text, strict=False)
    except ValueError:
        candidate: IPAddress = address
    else:
        # The fifth address: Azure keeps the first four of a subnet, .4 is the first VM's.
        candidate = network.network_address + min(4, network.num_addresses - 1)
    example = str(candidate) if _unreachable(candidate) is None \
        else "10.1.4.4" if address.version == 4 else "2001:db8::4"
    raise ValueError(f"destination: {original!r} is a network prefix, not an address; a check "
                     f"goes to one address, e.g. {example!r}")


def _no_control(name: str, value: str, example: str) -> None:
    """Refuse control characters anywhere in a text field (they cannot travel in a request)."""
    found = _CONTROL_ANY.search(value)
    if found:
        raise ValueError(f"{name}: {value!r} holds the control character U+{ord(found.group()):04X} "
                         f"at position {found.start()}; type it on one line without it, e.g. "
                         f"{example}")


def _id_text(name: str, original: str, text: str, example: str) -> None:
    """Refuse an id whose text would mean another path once in a URL: whitespace, '?', '#', '%'
    or a backslash, empty segments ('//', a trailing '/'), '.' or '..' segments. Checked before
    parsing, because parse_resource_id skips empty segments."""
    bad = _ID_FORBIDDEN.search(text)
    if bad:
        what = "whitespace" if bad.group().isspace() else repr(bad.group())
        raise ValueError(f"{name}: {original!r} holds {what}, which no resource id holds; e.g. "
                         f"{example}")
    segments = text[1:].split("/") if text.startswith("/") else text.split("/")
    if "" in segments:
        raise ValueError(f"{name}: {original!r} has an empty segment ('//' or a trailing '/'); "
                         f"e.g. {example}")
    if "." in segments or ".." in segments:
        raise ValueError(f"{name}: {original!r} has a '.' or '..' segment, which would change "
                         f"the path it names; e.g. {example}")


def _is_numeric_host(text: str) -> bool:
    """Every label a number (decimal, octal or hex): what a resolver takes for an IPv4 address."""
    labels = (text[:-1] if text.endswith(".") else text).split(".")
    return all(_NUMERIC_LABEL.fullmatch(label) for label in labels)


def _inet_aton(text: str) -> ipaddress.IPv4Address | None:
    """The IPv4 address an OS resolver (inet_aton) or a browser (WHATWG URL) reads in a numeric
    host: 1-4 parts, the last filling the remaining bytes (127.1, 2130706433, 0x7f.0.0.1,
    017700000001); None when they read none."""
    labels = (text[:-1] if text.endswith(".") else text).split(".")
    if not 1 <= len(labels) <= 4:
        return None
    values = []
    for label in labels:
        if label[:2].lower() == "0x":
            values.append(int(label[2:] or "0", 16))
        elif len(label) > 1 and label.startswith("0"):
            if not set(label) <= set("01234567"):
                return None
            values.append(int(label, 8))
        else:
            values.append(int(label))
    *head, last = values
    if any(v > 255 for v in head) or last >= 256 ** (5 - len(values)):
        return None
    number = last
    for position, value in enumerate(head):
        number += value << (8 * (3 - position))
    return ipaddress.IPv4Address(number)


def _numeric_address(what: str, text: str, show: Callable[[str], str]) -> None:
    """Refuse a numeric host that is not a plain dotted quad, naming the address it spells."""
    address = _inet_aton(text)
    if address is None:
        raise ValueError(f"destination: {what} is not a valid IP address; e.g. {show('10.1.4.4')} "
                         f"or {show('2001:db8::4')}")
    reason = _unreachable(address)
    if reason is not None:
        raise ValueError(f"destination: {what} spells {address}, which {reason}; "
                         f"e.g. {show('10.1.4.4')}")
    raise ValueError(f"destination: {what} spells {address} in a form resolvers disagree on; "
                     f"write the address as four decimal numbers, e.g. {show(str(address))}")


def _embedded_ipv4(address: IPAddress) -> IPAddress:
    """The IPv4 address an IPv6 one carries (::ffff:a.b.c.d mapped, ::ffff:0:a.b.c.d translated,
    ::a.b.c.d compatible), so ::ffff:7f00:1 and ::127.0.0.1 are judged as 127.0.0.1."""
    if not isinstance(address, ipaddress.IPv6Address):
        return address
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    high, low = int(address) >> 32, int(address) & 0xFFFFFFFF
    if high == 0xFFFF0000 or (high == 0 and int(address) > 1):
        return ipaddress.IPv4Address(low)
    return address


def _subscription_guid(name: str, original: str, rid: ResourceId, example: str) -> None:
    if not GUID_RE.match(rid.subscription):
        raise ValueError(f"{name}: {original!r} has {rid.subscription!r} where the subscription id "
                         f"(a GUID) belongs; e.g. {example}")


def _url(text: str) -> Destination:
    parts = urlsplit(text)
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise ValueError(f"destination: the URL scheme {parts.scheme!r} is not supported; use http:// "
                         "or https://, e.g. 'https://bing.com'")
    if parts.username is not None or parts.password is not None:
        # Credentials in a URL would travel to Azure and into logs and cassettes.
        raise ValueError("destination: the URL carries a user name or password; leave them out "
                         "(the check only opens the connection), e.g. 'https://contoso.com/'")
    host = parts.hostname or ""
    if not host:
        raise ValueError(f"destination: the URL {text!r} has no host; e.g. 'https://bing.com/'")
    # An HTTP client percent-decodes the host (a zone id is written %25eth0), so it is judged
    # decoded: %31%32%37.0.0.1 is 127.0.0.1, %0d%0a a line break.
    decoded = unquote(host)
    if _CONTROL_ANY.search(decoded):
        raise ValueError(f"destination: the host of the URL {text!r} decodes to {decoded!r}, "
                         "which holds control characters; e.g. 'https://bing.com/'")

    def in_url(a: str) -> str:
        return repr(f"{scheme}://{f'[{a}]' if ':' in a else a}/")

    address = _ip_literal(decoded)
    where = f"the host of the URL {text!r} ({decoded})"
    if address is not None:
        _reachable(address, where, in_url)
    elif _is_numeric_host(decoded):
        _numeric_address(where, decoded, in_url)
    else:
        _host(text, decoded)
        if "%" in host:
            raise ValueError(f"destination: the host of the URL {text!r} is percent-encoded; type "
                             f"it plainly, e.g. {in_url(decoded)}")
    try:
        explicit = parts.port
    except ValueError:
        raise ValueError(f"destination: the URL {text!r} has an invalid port; e.g. "
                         "'https://contoso.com:8443/'") from None
    return Destination("url", text, explicit or (443 if scheme == "https" else 80))


def _port(name: str, value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name}: expected an integer 0-65535, got {type(value).__name__} "
                        f"{value!r}; e.g. {name}=443")
    port = int(value)
    if not 0 <= port <= 65535:
        raise ValueError(f"{name}: {port} is outside 0-65535; e.g. {name}=443")
    return port


def _protocol(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise TypeError(f"protocol: expected one of Tcp, Http, Https, Icmp, got "
                        f"{type(value).__name__}; e.g. protocol='Tcp'")
    proto = PROTOCOLS.get(value.strip().lower())
    if proto is None:
        raise ValueError(f"protocol: {value!r} is not supported; use one of Tcp, Http, Https, Icmp, "
                         "e.g. protocol='Tcp' (UDP cannot be checked by Network Watcher)")
    return proto


def _ip_version(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, numbers.Integral) and not isinstance(value, bool) and int(value) in (4, 6):
        return f"IPv{int(value)}"
    if not isinstance(value, str):
        raise TypeError(f"ip_version: expected 'IPv4' or 'IPv6', got {type(value).__name__}; "
                        "e.g. ip_version='IPv4'")
    version = IP_VERSIONS.get(value.strip().lower())
    if version is None:
        raise ValueError(f"ip_version: {value!r} is not IPv4 or IPv6; e.g. ip_version='IPv6' "
                         "(omit it to let the service choose)")
    return version


def _http(value: Any) -> dict[str, Any] | None:
    if value is None:
        return None
    example = ("e.g. http={'method': 'Get', 'headers': {'accept': 'application/json'}, "
               "'valid_status_codes': [200, 204]}")
    if not isinstance(value, Mapping):
        raise TypeError(f"http: expected a dict, got {type(value).__name__}; {example}")
    unknown = sorted(set(value) - HTTP_KEYS)
    if unknown:
        raise ValueError(f"http: unknown option(s) {', '.join(map(repr, unknown))}; the options are "
                         f"method, headers, valid_status_codes; {example}")
    config: dict[str, Any] = {}
    method = value.get("method")
    if method is not None:
        if not isinstance(method, str) or method.lower() not in HTTP_METHODS:
            raise ValueError(f"http: method {method!r} is not supported; the service only sends "
                             f"'Get'; {example}")
        config["method"] = HTTP_METHODS[method.lower()]
    headers = value.get("headers")
    if headers is not None:
        config["headers"] = _headers(headers, example)
    codes = value.get("valid_status_codes")
    if codes is not None:
        if isinstance(codes, str | bytes) or not hasattr(codes, "__iter__"):
            raise TypeError(f"http: valid_status_codes must be a list of integers; {example}")
        checked = []
        for code in codes:
            if isinstance(code, bool) or not isinstance(code, numbers.Integral) \
                    or not 100 <= int(code) <= 599:
                raise ValueError(f"http: valid_status_codes has {code!r}, not an HTTP status code "
                                 f"(100-599); {example}")
            checked.append(int(code))
        config["validStatusCodes"] = checked
    return config


def _headers(headers: Any, example: str) -> list[dict[str, str]]:
    pairs: list[tuple[Any, Any]]
    if isinstance(headers, Mapping):
        pairs = list(headers.items())
    elif isinstance(headers, list | tuple):
        pairs = []
        for item in headers:
            if not isinstance(item, Mapping) or "name" not in item:
                raise ValueError(f"http: headers must be a dict of name: value; {example}")
            pairs.append((item.get("name"), item.get("value")))
    else:
        raise TypeError(f"http: headers must be a dict of name: value; {example}")
    out = []
    for name, val in pairs:
        if not isinstance(name, str) or not name.strip() or not isinstance(val, str):
            raise ValueError(f"http: header {name!r}: {val!r} must be two strings; {example}")
        if not _HEADER_NAME.fullmatch(name.strip()):
            raise ValueError(f"http: header name {name!r} is not valid (letters, digits and "
                             "!#$%&'*+-.^_`|~ only: no spaces, colons or control characters); "
                             f"{example}")
        if _CONTROL.search(val):
            raise ValueError(f"http: header {name.strip()!r} has control characters in its value "
                             f"{val!r} (a header value is one line of text); {example}")
        out.append({"name": name.strip(), "value": val})
    return out


def _watcher(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise TypeError(f"watcher: expected a Network Watcher resource id, got {type(value).__name__}; "
                        f"e.g. watcher='{WATCHER_EXAMPLE}'")
    _no_control("watcher", value, f"watcher='{WATCHER_EXAMPLE}'")
    _id_text("watcher", value, value.strip(), f"watcher='{WATCHER_EXAMPLE}'")
    rid = parse_resource_id(value)
    if rid is None or rid.type.lower() != "microsoft.network/networkwatchers" or len(rid.names) != 1:
        raise ValueError(f"watcher: {value!r} is not a Network Watcher resource id; "
                         f"e.g. watcher='{WATCHER_EXAMPLE}' (or leave it out to find it by region)")
    _subscription_guid("watcher", value, rid, f"watcher='{WATCHER_EXAMPLE}'")
    return str(rid)


def _timeout(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"timeout: expected seconds as a number, got {type(value).__name__}; "
                        "e.g. timeout=600")
    if not float(value) > 0:
        raise ValueError(f"timeout: {value!r} must be more than 0 seconds; e.g. timeout=600")
    return float(value)
