"""The diagnostics' inputs, validated strictly before any request (reference §2-§4 give the
accepted forms). Every refusal names the argument and shows what to type instead."""

from __future__ import annotations

import ipaddress
import numbers
import re
from typing import Any

from nwlab.arm.ids import GUID_RE, ResourceId, is_vm_id, parse_resource_id
from nwlab.checkspec import build_source

__all__ = [
    "DIRECTIONS",
    "direction",
    "flow_port",
    "flow_protocol",
    "ip_address",
    "ipv4",
    "nic_id",
    "nsg_endpoint",
    "nsg_port",
    "nsg_protocol",
    "nsg_sides_one_family",
    "nsg_target",
    "same_family",
    "vm_id",
    "vm_or_nic",
]

DIRECTIONS = {"inbound": "Inbound", "outbound": "Outbound"}
NIC_EXAMPLE = ("/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/ContosoRG"
               "/providers/Microsoft.Network/networkInterfaces/appNic0")
# What networkConfigurationDiagnostic accepts as its target (reference §2).
_NSG_TARGETS = {"microsoft.compute/virtualmachines": "a VM",
                "microsoft.network/networkinterfaces": "a NIC",
                "microsoft.compute/virtualmachinescalesets/virtualmachines/networkinterfaces":
                    "a scale-set instance NIC",
                "microsoft.network/applicationgateways": "an application gateway"}
# Service tags: letters and digits with dotted regional suffixes (Storage.WestEurope, AzureCloud).
_SERVICE_TAG = re.compile(r"^[A-Za-z][A-Za-z0-9]*(\.[A-Za-z0-9]+)*$")
_SOURCE_WORD = re.compile(r"\bsource\b")
_NIC_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,79}$")


def vm_id(subscription_id: str, vm: Any, resource_group: Any, *, name: str = "vm") -> str:
    """A VM id from a name (with resource_group) or an id; check()'s rules, named `name`."""
    try:
        return build_source(subscription_id, vm, resource_group)
    except (TypeError, ValueError) as exc:
        # build_source speaks of check()'s `source`; say which argument of this call it was.
        raise type(exc)(_SOURCE_WORD.sub(name, str(exc))) from None


def nic_id(subscription_id: str, nic: Any, resource_group: Any) -> str | None:
    """A NIC id from a name (with resource_group) or an id; None passes through."""
    if nic is None:
        return None
    if not isinstance(nic, str) or not nic.strip():
        raise TypeError(f"nic: expected a network interface name or resource id, got {nic!r}; "
                        f"e.g. nic='{NIC_EXAMPLE}'")
    text = nic.strip()
    if "/" in text:
        rid = parse_resource_id(text)
        if rid is None or rid.type.lower() != "microsoft.network/networkinterfaces":
            kind = f"a {rid.type} id" if rid else "not a resource id"
            raise ValueError(f"nic: {nic!r} is {kind}; give the NIC's id, e.g. nic='{NIC_EXAMPLE}'")
        _guid("nic", nic, rid, f"nic='{NIC_EXAMPLE}'")
        return str(rid)
    if not _NIC_NAME.match(text):
        raise ValueError(f"nic: {nic!r} is not a valid NIC name; e.g. nic='appNic0' with "
                         "resource_group='ContosoRG', or the NIC's resource id")
    if resource_group is None:
        raise ValueError(f"resource_group: nic {nic!r} is a name, so the resource group is needed, "
                         f"e.g. resource_group='ContosoRG', or pass nic='{NIC_EXAMPLE}'")
    return (f"/subscriptions/{subscription_id}/resourceGroups/{resource_group}/providers/"
            f"Microsoft.Network/networkInterfaces/{text}")


def vm_or_nic(subscription_id: str, value: Any, resource_group: Any) -> tuple[str, str]:
    """('vm', id) or ('nic', id): a VM name or id, or a NIC id (a bare name is a VM, as in check())."""
    if isinstance(value, str) and "/" in value:
        rid = parse_resource_id(value)
        if rid is not None and rid.type.lower() == "microsoft.network/networkinterfaces":
            return "nic", str(nic_id(subscription_id, value, resource_group))
        if rid is not None and not is_vm_id(rid):
            raise ValueError(f"vm_or_nic: {value!r} is a {rid.type} id; give a VM (name or id) or "
                             f"a network interface id, e.g. '{NIC_EXAMPLE}'")
    return "vm", vm_id(subscription_id, value, resource_group, name="vm_or_nic")


def direction(value: Any) -> str:
    if not isinstance(value, str) or value.strip().lower() not in DIRECTIONS:
        raise ValueError(f"direction: {value!r} is not a direction; use 'Inbound' (traffic to the "
                         "VM) or 'Outbound' (traffic from it), e.g. direction='Inbound'")
    return DIRECTIONS[value.strip().lower()]


def flow_protocol(value: Any) -> str:
    """IP flow verify takes TCP or UDP only (spec enum IpFlowProtocol), sent upper-case."""
    if not isinstance(value, str) or value.strip().upper() not in ("TCP", "UDP"):
        raise ValueError(f"protocol: {value!r} is not supported by IP flow verify; use 'TCP' or "
                         "'UDP', e.g. protocol='TCP' (for ICMP use nw.nsg_diagnostic)")
    return value.strip().upper()


def flow_port(name: str, value: Any) -> str:
    """One port 0-65535, or '*' (any), sent as a string as the spec declares."""
    if isinstance(value, str) and value.strip() == "*":
        return "*"
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name}: expected one port 0-65535 or '*', got {value!r}; e.g. {name}=443")
    if not 0 <= int(value) <= 65535:
        raise ValueError(f"{name}: {value} is outside 0-65535; e.g. {name}=443")
    return str(int(value))


def ip_address(name: str, value: Any) -> str:
    """One IPv4 or IPv6 address (next hop's fields name no family)."""
    if not isinstance(value, str):
        raise TypeError(f"{name}: expected an IP address as a string, got "
                        f"{type(value).__name__}; e.g. {name}='10.1.4.4'")
    try:
        address = ipaddress.ip_address(value.strip())
    except ValueError:
        hint = " (a prefix; give one address)" if "/" in value else ""
        raise ValueError(f"{name}: {value!r} is not an IP address{hint}; e.g. {name}='10.1.4.4'") \
            from None
    return str(address)


def ipv4(name: str, value: Any) -> str:
    """An IPv4 address: IP flow verify's spec fields accept "valid IPv4 addresses" only."""
    address = ip_address(name, value)
    if ipaddress.ip_address(address).version != 4:
        raise ValueError(f"{name}: {value!r} is IPv6; this operation takes IPv4 addresses only, "
                         f"e.g. {name}='10.1.4.4'. For an IPv6 flow use nw.nsg_diagnostic(...) "
                         "with the addresses as source and destination, or nw.check(..., "
                         "ip_version='IPv6')")
    return address


def same_family(*named: tuple[str, str | None]) -> str:
    """'IPv4' or 'IPv6', the family the given addresses share (None ones are skipped); one
    packet has one family, so a mix is refused naming both."""
    return _one_family([(name, value, ipaddress.ip_address(value).version)
                        for name, value in named if value is not None])


def _one_family(given: list[tuple[str, str, int]]) -> str:
    """The family of named addresses or prefixes, (name, text, version) each (IPv4 when none),
    or the refusal of a mix."""
    families = {version for _, _, version in given}
    if len(families) > 1:
        shown = " and ".join(f"{name}={text!r} (IPv{version})" for name, text, version in given)
        raise ValueError(f"{shown} are of different address families; give both as IPv4 or both "
                         "as IPv6")
    return f"IPv{families.pop()}" if families else "IPv4"


def nsg_target(value: Any) -> str:
    """The resource NSG diagnostics evaluates: a VM, NIC, scale-set NIC or application gateway id."""
    example = ("target='/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/"
               "ContosoRG/providers/Microsoft.Compute/virtualMachines/MultiTierApp0'")
    if not isinstance(value, str):
        raise TypeError(f"target: expected a resource id, got {type(value).__name__}; e.g. {example}")
    rid = parse_resource_id(value)
    if rid is None:
        raise ValueError(f"target: {value!r} is not a resource id; NSG diagnostics needs the full "
                         f"id of a VM, NIC, scale-set NIC or application gateway, e.g. {example}")
    _guid("target", value, rid, example)
    if rid.type.lower() not in _NSG_TARGETS:
        raise ValueError(f"target: {value!r} is a {rid.type} id; NSG diagnostics evaluates "
                         f"{', '.join(_NSG_TARGETS.values())}; e.g. {example}")
    return str(rid)


def nsg_protocol(value: Any) -> str:
    """'*', TCP or UDP (spec); ICMP as the docs use it (unverified on the wire)."""
    if not isinstance(value, str) or value.strip().upper() not in ("*", "TCP", "UDP", "ICMP"):
        raise ValueError(f"protocol: {value!r} is not one of '*', 'TCP', 'UDP', 'ICMP'; e.g. "
                         "protocol='TCP'")
    return value.strip().upper()


def nsg_endpoint(name: str, value: Any) -> str:
    """'*', an IP address, a CIDR prefix or a service tag (VirtualNetwork, Internet, Storage...)."""
    example = f"{name}='10.1.0.4', '10.1.0.0/24', 'Internet' or '*'"
    if not isinstance(value, str) or not value.strip():
        raise TypeError(f"{name}: expected an address, prefix, service tag or '*', got {value!r}; "
                        f"e.g. {example}")
    text = value.strip()
    if text == "*":
        return text
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        pass
    if "/" in text:
        try:
            return str(ipaddress.ip_network(text, strict=False))
        except ValueError:
            raise ValueError(f"{name}: {value!r} is not a valid prefix; e.g. {example}") from None
    if _SERVICE_TAG.match(text) and not text.replace(".", "").isdigit():
        return text
    raise ValueError(f"{name}: {value!r} is neither an address, a prefix nor a service tag; e.g. "
                     f"{example}")


def nsg_sides_one_family(source: str, destination: str) -> None:
    """A profile describes one packet: its address or prefix sides (validated by nsg_endpoint)
    are of one family; '*' and tags go with either."""
    sides: list[tuple[str, str, int]] = []
    for name, text in (("source", source), ("destination", destination)):
        try:
            sides.append((name, text, ipaddress.ip_network(text, strict=False).version))
        except ValueError:
            continue  # '*' or a service tag
    _one_family(sides)


def nsg_port(value: Any) -> str:
    """One destination port or '*' (NSG diagnostics takes no ranges)."""
    if isinstance(value, str) and "-" in value:
        raise ValueError(f"destination_port: {value!r} is a range; NSG diagnostics takes one port "
                         "or '*', e.g. destination_port=443")
    return flow_port("destination_port", value)


def _guid(name: str, original: str, rid: ResourceId, example: str) -> None:
    if not GUID_RE.match(rid.subscription):
        raise ValueError(f"{name}: {original!r} has {rid.subscription!r} where the subscription id "
                         f"(a GUID) belongs; e.g. {example}")
