"""A set of IPv4 prefixes answering "is this address in it?" in O(log n), built once.

Service tags hold thousands of prefixes (AzureCloud) and the VirtualNetwork tag is asked at
every NSG rule, so membership is a bisect over merged intervals, not a scan.
"""

from __future__ import annotations

import bisect
import ipaddress
from collections.abc import Iterable


class PrefixSet:
    """Union of IPv4 networks as sorted, merged [start, end] integer intervals."""

    __slots__ = ("_ends", "_starts", "networks")

    def __init__(self, networks: Iterable[ipaddress.IPv4Network]) -> None:
        self.networks = tuple(networks)
        spans = sorted((int(n.network_address), int(n.broadcast_address))
                       for n in self.networks)
        starts: list[int] = []
        ends: list[int] = []
        for low, high in spans:
            if ends and low <= ends[-1] + 1:
                ends[-1] = max(ends[-1], high)
            else:
                starts.append(low)
                ends.append(high)
        self._starts = starts
        self._ends = ends

    def __contains__(self, address: object) -> bool:
        if not isinstance(address, ipaddress.IPv4Address):
            return False
        value = int(address)
        i = bisect.bisect_right(self._starts, value) - 1
        return i >= 0 and value <= self._ends[i]

    def __bool__(self) -> bool:
        return bool(self._starts)

    def __len__(self) -> int:
        return len(self.networks)

