"""What Azure refuses when a security rule is PUT, beyond what a topology load checks.

- Two rules of one NSG with the same priority and direction: 400 SecurityRuleConflict,
  "Security rule {existing} conflicts with rule {new}. Rules cannot have the same Priority and
  Direction." (the service's words, as ARM clients report them).
- '*', a default tag or a service tag in sourceAddressPrefixes / destinationAddressPrefixes:
  400 SecurityRuleParameterContainsUnsupportedValue; the plural fields take CIDRs or IP
  ranges only, a tag or '*' goes in the singular field (SecurityRule schema; the service's
  refusal as ARM clients report it).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from typing import Any

from .errors import ArmError

__all__ = ["refuse_security_rule_put"]

_PLURAL = {"sourceAddressPrefixes": "SourceAddressPrefixes",
           "destinationAddressPrefixes": "DestinationAddressPrefixes"}


def _address_or_range(text: str) -> bool:
    parts = text.split("-")
    try:
        if len(parts) == 2:
            ipaddress.ip_address(parts[0].strip())
            ipaddress.ip_address(parts[1].strip())
        else:
            ipaddress.ip_network(text.strip(), strict=False)
    except ValueError:
        return False
    return True


def refuse_security_rule_put(nsg: Mapping[str, Any], rule: Mapping[str, Any]) -> None:
    """Raise the ArmError Azure answers for `rule` (a PUT body with its name and id) in `nsg`."""
    props = rule.get("properties") or {}
    for field, shown in _PLURAL.items():
        for value in props.get(field) or []:
            if not _address_or_range(str(value)):
                raise ArmError(400, "SecurityRuleParameterContainsUnsupportedValue",
                               f"Security rule parameter {shown} for rule with Id {rule['id']} "
                               "cannot specify existing VIRTUALNETWORK, INTERNET, "
                               f"AZURELOADBALANCER, '*' or system tags. Unsupported value "
                               f"used: {value}.")
    name = str(rule.get("name", ""))
    direction = str(props.get("direction", "")).lower()
    for other in (nsg.get("properties") or {}).get("securityRules") or []:
        theirs = other.get("properties") or {}
        if str(other.get("name", "")).lower() != name.lower() and \
                theirs.get("priority") == props.get("priority") and \
                str(theirs.get("direction", "")).lower() == direction:
            raise ArmError(400, "SecurityRuleConflict",
                           f"Security rule {other.get('name')} conflicts with rule {name}. "
                           "Rules cannot have the same Priority and Direction. To learn "
                           f"more, see aka.ms/nsgrules. (Both are {direction} at priority "
                           f"{props.get('priority')}.)")
