"""A set of IPv4 and IPv6 prefixes answering "is this address in it?" in O(log n), built once.

Service tags hold thousands of prefixes (AzureCloud) and the VirtualNetwork tag is asked at
every NSG rule, so membership is a bisect over merged intervals, not a scan.
"""

from __future__ import annotations

import bisect
import ipaddress
from collections.abc import Iterable


def _merged(networks: Iterable[ipaddress.IPv4Network | ipaddress.IPv6Network],
            ) -> tuple[list[int], list[int]]:
    spans = sorted((int(n.network_address), int(n.broadcast_address)) for n in networks)
    starts: list[int] = []
    ends: list[int] = []
    for low, high in spans:
        if ends and low <= ends[-1] + 1:
            ends[-1] = max(ends[-1], high)
        else:
            starts.append(low)
            ends.append(high)
    return starts, ends


class PrefixSet:
    """Union of networks as sorted, merged [start, end] integer intervals, one list per
    address family (an IPv6 address never falls in an IPv4 interval of the same integer)."""

    __slots__ = ("_ends", "_ends6", "_starts", "_starts6", "networks")

    def __init__(self, networks: Iterable[ipaddress.IPv4Network | ipaddress.IPv6Network],
                 ) -> None:
        self.networks = tuple(networks)
        self._starts, self._ends = _merged(n for n in self.networks if n.version == 4)
        self._starts6, self._ends6 = _merged(n for n in self.networks if n.version == 6)

    def __contains__(self, address: object) -> bool:
        if isinstance(address, ipaddress.IPv4Address):
            starts, ends = self._starts, self._ends
        elif isinstance(address, ipaddress.IPv6Address):
            starts, ends = self._starts6, self._ends6
        else:
            return False
        value = int(address)
        i = bisect.bisect_right(starts, value) - 1
        return i >= 0 and value <= ends[i]

    def __bool__(self) -> bool:
        return bool(self._starts or self._starts6)

    def __len__(self) -> int:
        return len(self.networks)

