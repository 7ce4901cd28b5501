"""IpFlowResult (ipFlowVerify) and NextHopResult (nextHop): one verdict each, for one packet.

Both mirror their REST shape (reference diagnostics-and-estate-api.md §3): parse leniently, keep what
is not modelled, give the shape back with to_dict().
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Self

from nwlab.diagnostics._wire import Field, Wire, text
from nwlab.diagnostics.render import table_frame, table_html, table_text

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

__all__ = ["SYSTEM_ROUTE", "IpFlowResult", "NextHopResult", "split_rule_name"]

# What nextHop answers in routeTableId when a system route decided (reference §3.2).
SYSTEM_ROUTE = "System Route"
# Rule-name spellings seen on the wire: `securityRules/<n>` and `defaultSecurityRules/<n>`
# (effective rules, documented IP flow verify runs), `UserRule_<n>` and `DefaultRule_<n>` (NSG
# diagnostics and connectivity issues).
_PREFIXES = (("defaultSecurityRules/", True), ("securityRules/", False),
             ("DefaultRule_", True), ("UserRule_", False))


def split_rule_name(name: str) -> tuple[str, bool | None]:
    """The rule's own name and whether it is a default rule (None when the spelling does not say)."""
    for prefix, default in _PREFIXES:
        if name.startswith(prefix):
            return name[len(prefix):], default
    return name, None


@dataclass(frozen=True)
class _Result(Wire):
    """What the single-answer results share: rows for the three faces, and meta (inputs, ids)."""

    KIND: ClassVar[str] = ""
    COLUMNS: ClassVar[tuple[str, ...]] = ()

    def summary(self) -> str:
        raise NotImplementedError

    def rows(self) -> list[dict[str, Any]]:
        raise NotImplementedError

    def frame(self) -> pd.DataFrame:
        return table_frame(self.COLUMNS, self.rows())

    def __str__(self) -> str:
        return table_text(self.summary(), self.COLUMNS, self.rows())

    def _repr_html_(self) -> str:
        return table_html(self.KIND, self.summary(), self.COLUMNS, self.rows())


@dataclass(frozen=True)
class IpFlowResult(_Result):
    """VerificationIPFlowResult: Allow or Deny, and the rule that decided (absent when none did)."""

    access: str = ""
    rule_name: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)
    _present: frozenset[str] = field(default=frozenset(), compare=False, repr=False)

    FIELDS: ClassVar[tuple[Field, ...]] = (Field("access", "access", text),
                                           Field("ruleName", "rule_name", text))
    KIND: ClassVar[str] = "ip-flow"
    COLUMNS: ClassVar[tuple[str, ...]] = ("access", "rule", "default_rule", "direction",
                                          "protocol", "local", "remote")

    @classmethod
    def from_dict(cls, data: Any, *, meta: dict[str, Any] | None = None) -> Self:
        return cls(**cls.parse_fields(data), meta=dict(meta or {}))

    @property
    def allowed(self) -> bool:
        return self.access.lower() == "allow"

    @property
    def rule(self) -> str | None:
        """The rule's own name, without the service's `securityRules/` or `UserRule_` prefix."""
        return split_rule_name(self.rule_name)[0] if self.rule_name else None

    def summary(self) -> str:
        verdict = self.access or "Unknown"
        by = f" by rule {self.rule_name}" if self.rule_name else " (no rule named)"
        flow = self.meta.get("flow")
        return f"IP flow verify: {verdict}{by}" + (f" for {flow}" if flow else "")

    def rows(self) -> list[dict[str, Any]]:
        meta = self.meta
        return [{"access": self.access, "rule": self.rule_name,
                 "default_rule": split_rule_name(self.rule_name or "")[1],
                 "direction": meta.get("direction"), "protocol": meta.get("protocol"),
                 "local": _endpoint(meta.get("local_ip"), meta.get("local_port")),
                 "remote": _endpoint(meta.get("remote_ip"), meta.get("remote_port"))}]

    def __repr__(self) -> str:
        return f"<IpFlowResult {self.access or 'Unknown'} rule={self.rule_name!r}>"


@dataclass(frozen=True)
class NextHopResult(_Result):
    """NextHopResult: where the source NIC's routes send the packet, and which route table said so."""

    next_hop_type: str = ""
    next_hop_ip: str | None = None
    route_table_id: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)
    _present: frozenset[str] = field(default=frozenset(), compare=False, repr=False)

    FIELDS: ClassVar[tuple[Field, ...]] = (Field("nextHopType", "next_hop_type", text),
                                           Field("nextHopIpAddress", "next_hop_ip", text),
                                           Field("routeTableId", "route_table_id", text))
    KIND: ClassVar[str] = "next-hop"
    COLUMNS: ClassVar[tuple[str, ...]] = ("next_hop_type", "next_hop_ip", "route_table",
                                          "source_ip", "destination_ip")

    @classmethod
    def from_dict(cls, data: Any, *, meta: dict[str, Any] | None = None) -> Self:
        return cls(**cls.parse_fields(data), meta=dict(meta or {}))

    @property
    def dropped(self) -> bool:
        """Next hop None: the route drops the packet."""
        return self.next_hop_type.lower() == "none"

    @property
    def system_route(self) -> bool:
        return (self.route_table_id or SYSTEM_ROUTE).strip().lower() == SYSTEM_ROUTE.lower()

    @property
    def user_route_table_id(self) -> str | None:
        """The route table holding the deciding user route; None for a system route."""
        return None if self.system_route else self.route_table_id

    def summary(self) -> str:
        kind = self.next_hop_type or "Unknown"
        ip = f" {self.next_hop_ip}" if self.next_hop_ip else ""
        where = "a system route" if self.system_route else f"route table {self.route_table_id}"
        dest = self.meta.get("destination_ip")
        return f"Next hop{f' to {dest}' if dest else ''}: {kind}{ip} ({where})"

    def rows(self) -> list[dict[str, Any]]:
        return [{"next_hop_type": self.next_hop_type, "next_hop_ip": self.next_hop_ip,
                 "route_table": self.route_table_id, "source_ip": self.meta.get("source_ip"),
                 "destination_ip": self.meta.get("destination_ip")}]

    def __repr__(self) -> str:
        ip = f" {self.next_hop_ip}" if self.next_hop_ip else ""
        return f"<NextHopResult {self.next_hop_type or 'Unknown'}{ip}>"


def _endpoint(ip: Any, port: Any) -> str | None:
    if ip is None and port is None:
        return None
    return f"{ip or '*'}:{port if port is not None else '*'}"
