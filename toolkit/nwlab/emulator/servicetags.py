"""Service tag prefixes from the Service Tags discovery API, stored in the topology per region.

The topology holds each API answer as a pseudo-resource (twin-semantics §1.1)::

    {"id": "/subscriptions/<s>/providers/Microsoft.Network/locations/<region>/serviceTags",
     "name": "public", "type": "Microsoft.Network/serviceTags", "location": "<region>",
     "cloud": "Public", "changeNumber": "...", "values": [
        {"name": "Storage.WestEurope", "id": "Storage.WestEurope",
         "properties": {"changeNumber": "...", "region": "westeurope", "systemService":
                        "AzureStorage", "addressPrefixes": ["20.38.108.0/23", "..."]}}]}

Names are matched case-insensitively (the data spells ``Storage.WestEurope`` but
``AzureCloud.westeurope``). A tag holds both families, as the data lists them
(twin-semantics §1.1, §13.3): an IPv6 packet matches the tag's IPv6 prefixes, an IPv4 packet its
IPv4 ones (PrefixSet keeps one interval list per family).
VirtualNetwork, Internet and AzureLoadBalancer are never read from here: they are computed per
NIC (DESIGN.md).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .prefixset import PrefixSet

T_SERVICE_TAGS = "microsoft.network/servicetags"


@dataclass(frozen=True)
class TagData:
    name: str  # as the data spells it
    regional: bool  # a regional entry (properties.region set), e.g. Sql.WestEurope
    prefixes: PrefixSet  # both families, as addressPrefixes lists them
    change_number: str


class ServiceTagIndex:
    """region -> lower-cased tag name -> TagData, built once per topology."""

    def __init__(self) -> None:
        self._by_region: dict[str, dict[str, TagData]] = {}

    def add(self, resource: Mapping[str, Any], problem: Any) -> None:
        """Index one stored Discovery API answer; ``problem(field, text)`` raises for bad data."""
        region = normalize_region(str(resource.get("location") or ""))
        values = resource.get("values")
        if not isinstance(values, list):
            problem("values", "a serviceTags resource needs a 'values' list (the Discovery "
                    "API's answer)")
        tags = self._by_region.setdefault(region, {})
        for i, value in enumerate(values or []):
            props = value.get("properties") if isinstance(value, Mapping) else None
            name = value.get("name") if isinstance(value, Mapping) else None
            if not isinstance(name, str) or not isinstance(props, Mapping):
                problem(f"values[{i}]", "each tag needs a 'name' and 'properties'")
                continue
            nets = []
            for text in props.get("addressPrefixes") or []:
                try:
                    net = ipaddress.ip_network(str(text), strict=False)
                except ValueError:
                    problem(f"values[{i}].properties.addressPrefixes",
                            f"{text!r} is not a CIDR prefix")
                    continue
                nets.append(net)
            tags[name.lower()] = TagData(name, bool(props.get("region")), PrefixSet(nets),
                                         str(props.get("changeNumber", "")))

    def lookup(self, name: str, region: str) -> tuple[TagData | None, str | None]:
        """The tag as the region's list defines it (assumed: an NSG evaluates its own
        region's answer); else another stored region's, returned with that region's name."""
        wanted = name.lower()
        own = self._by_region.get(normalize_region(region), {}).get(wanted)
        if own is not None:
            return own, None
        for other, tags in sorted(self._by_region.items()):
            if wanted in tags:
                return tags[wanted], other
        return None, None

    def __bool__(self) -> bool:
        return any(self._by_region.values())


def normalize_region(region: str) -> str:
    return region.replace(" ", "").lower()


def route_tag_rank(tag: TagData) -> int:
    """Equal-prefix order among tag routes (doc virtual-networks-udr-overview, "Exact match"):
    regional service tag > top-level service tag > AzureCloud.<region> > AzureCloud. An
    explicit CIDR route (rank 4) beats them all."""
    cloud = tag.name.lower().split(".", 1)[0] == "azurecloud"
    if cloud:
        return 1 if tag.regional else 0
    return 3 if tag.regional else 2


# Service endpoint name -> its service tag where the two differ (doc service-tags-overview).
TAG_OF_SERVICE = {
    "microsoft.keyvault": "AzureKeyVault", "microsoft.web": "AppService",
    "microsoft.containerregistry": "AzureContainerRegistry",
    "microsoft.cognitiveservices": "CognitiveServicesManagement",
    "microsoft.azurecosmosdb": "AzureCosmosDB", "microsoft.storage.global": "Storage",
}


def endpoint_tag_names(service: str, locations: list[Any]) -> list[str]:
    """The tags whose prefixes a subnet's service endpoint routes: the regional tag of each
    listed location (Storage.westeurope), the top-level tag for "*" or a global service."""
    base = TAG_OF_SERVICE.get(service.lower()) or service.split(".", 1)[-1]
    locs = [str(x).replace(" ", "") for x in locations]
    if not locs or "*" in locs or service.lower() == "microsoft.storage.global":
        return [base]
    return [f"{base}.{loc}" for loc in locs]
