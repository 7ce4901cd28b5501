"""EffectiveSecurityRules (NIC effectiveNetworkSecurityGroups): every NSG that applies to a NIC,
where it is associated (subnet, NIC, network manager), and its rules with service tags expanded to
prefixes (reference §4.2)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Self

from nwlab.diagnostics._wire import Field, Ref, Wire, integer, listed, nested, nested_list, text
from nwlab.diagnostics.flow import split_rule_name
from nwlab.diagnostics.render import table_frame, table_html, table_text

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

__all__ = ["Association", "EffectiveNsg", "EffectiveRule", "EffectiveSecurityRules"]


def _tag_map(value: Any) -> Any:
    # The spec declares tagMap "type": "string" with additionalProperties (a spec bug): the service
    # sends an object of tag -> prefixes; both are accepted and given back as they came.
    if isinstance(value, dict | str):
        return value
    raise TypeError("not a tag map")


@dataclass(frozen=True)
class EffectiveRule(Wire):
    """One effective rule; `name` is `securityRules/<n>` or `defaultSecurityRules/<n>`."""

    name: str = ""
    protocol: str = ""
    source_port_range: str | None = None
    destination_port_range: str | None = None
    source_port_ranges: tuple[str, ...] = ()
    destination_port_ranges: tuple[str, ...] = ()
    source_address_prefix: str | None = None
    destination_address_prefix: str | None = None
    source_address_prefixes: tuple[str, ...] = ()
    destination_address_prefixes: tuple[str, ...] = ()
    expanded_source_address_prefix: tuple[str, ...] = ()
    expanded_destination_address_prefix: tuple[str, ...] = ()
    access: str = ""
    priority: int | None = None
    direction: str = ""
    extra: dict[str, Any] = field(default_factory=dict)
    _present: frozenset[str] = field(default=frozenset(), compare=False, repr=False)

    FIELDS: ClassVar[tuple[Field, ...]] = (
        Field("name", "name", text), Field("protocol", "protocol", text),
        Field("sourcePortRange", "source_port_range", text),
        Field("destinationPortRange", "destination_port_range", text),
        listed("sourcePortRanges", "source_port_ranges"),
        listed("destinationPortRanges", "destination_port_ranges"),
        Field("sourceAddressPrefix", "source_address_prefix", text),
        Field("destinationAddressPrefix", "destination_address_prefix", text),
        listed("sourceAddressPrefixes", "source_address_prefixes"),
        listed("destinationAddressPrefixes", "destination_address_prefixes"),
        # May be null on the wire: a null stays null (kept as it came).
        listed("expandedSourceAddressPrefix", "expanded_source_address_prefix"),
        listed("expandedDestinationAddressPrefix", "expanded_destination_address_prefix"),
        Field("access", "access", text), Field("priority", "priority", integer),
        Field("direction", "direction", text))

    @property
    def rule(self) -> str:
        return split_rule_name(self.name)[0]

    @property
    def default(self) -> bool:
        return bool(split_rule_name(self.name)[1])

    @property
    def sources(self) -> tuple[str, ...]:
        """Source prefixes as written (single and list forms together)."""
        return _both(self.source_address_prefix, self.source_address_prefixes)

    @property
    def destinations(self) -> tuple[str, ...]:
        return _both(self.destination_address_prefix, self.destination_address_prefixes)

    @property
    def source_ports(self) -> tuple[str, ...]:
        return _both(self.source_port_range, self.source_port_ranges)

    @property
    def destination_ports(self) -> tuple[str, ...]:
        return _both(self.destination_port_range, self.destination_port_ranges)


@dataclass(frozen=True)
class Association(Wire):
    """Where the NSG applies: a subnet, a NIC, and the network manager when admin rules apply."""

    subnet: Ref | None = None
    network_interface: Ref | None = None
    network_manager: Ref | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    _present: frozenset[str] = field(default=frozenset(), compare=False, repr=False)

    FIELDS: ClassVar[tuple[Field, ...]] = (
        nested("subnet", "subnet", Ref), nested("networkInterface", "network_interface", Ref),
        nested("networkManager", "network_manager", Ref))

    @property
    def subnet_id(self) -> str | None:
        return self.subnet.id if self.subnet else None

    @property
    def nic_id(self) -> str | None:
        return self.network_interface.id if self.network_interface else None

    @property
    def network_manager_id(self) -> str | None:
        return self.network_manager.id if self.network_manager else None


@dataclass(frozen=True)
class EffectiveNsg(Wire):
    """One NSG as it applies to the NIC, with its effective rules and tag map."""

    network_security_group: Ref | None = None
    association: Association | None = None
    rules: tuple[EffectiveRule, ...] = ()
    tag_map: Any = None
    extra: dict[str, Any] = field(default_factory=dict)
    _present: frozenset[str] = field(default=frozenset(), compare=False, repr=False)

    FIELDS: ClassVar[tuple[Field, ...]] = (
        nested("networkSecurityGroup", "network_security_group", Ref),
        nested("association", "association", Association),
        nested_list("effectiveSecurityRules", "rules", EffectiveRule),
        Field("tagMap", "tag_map", _tag_map))

    @property
    def nsg_id(self) -> str | None:
        return self.network_security_group.id if self.network_security_group else None

    @property
    def associated_with(self) -> tuple[str, ...]:
        """subnet, nic and/or network_manager: what the association names."""
        a = self.association
        if a is None:
            return ()
        return tuple(kind for kind, rid in (("subnet", a.subnet_id), ("nic", a.nic_id),
                                            ("network_manager", a.network_manager_id)) if rid)


@dataclass(frozen=True)
class EffectiveSecurityRules(Wire):
    """EffectiveNetworkSecurityGroupListResult: every NSG (and admin layer) on the NIC."""

    groups: tuple[EffectiveNsg, ...] = ()
    next_link: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)
    _present: frozenset[str] = field(default=frozenset(), compare=False, repr=False)

    FIELDS: ClassVar[tuple[Field, ...]] = (nested_list("value", "groups", EffectiveNsg),
                                           Field("nextLink", "next_link", text))
    COLUMNS: ClassVar[tuple[str, ...]] = (
        "nsg", "associated_with", "direction", "priority", "name", "access", "protocol", "source",
        "source_ports", "destination", "destination_ports", "expanded_source",
        "expanded_destination", "subnet", "nic", "network_manager")

    @classmethod
    def from_dict(cls, data: Any, *, meta: dict[str, Any] | None = None) -> Self:
        return cls(**cls.parse_fields(data), meta=dict(meta or {}))

    @property
    def rules(self) -> list[EffectiveRule]:
        return [r for g in self.groups for r in g.rules]

    def rows(self) -> list[dict[str, Any]]:
        rows = []
        for group in self.groups:
            a = group.association or Association()
            for r in sorted(group.rules, key=lambda r: (r.direction, r.priority or 0)):
                rows.append({
                    "nsg": group.nsg_id, "associated_with": group.associated_with,
                    "direction": r.direction, "priority": r.priority, "name": r.name,
                    "access": r.access, "protocol": r.protocol, "source": r.sources,
                    "source_ports": r.source_ports, "destination": r.destinations,
                    "destination_ports": r.destination_ports,
                    "expanded_source": r.expanded_source_address_prefix,
                    "expanded_destination": r.expanded_destination_address_prefix,
                    "subnet": a.subnet_id, "nic": a.nic_id, "network_manager": a.network_manager_id})
        return rows

    def summary(self) -> str:
        nic = self.meta.get("nic")
        where = f" of {nic.rsplit('/', 1)[-1]}" if isinstance(nic, str) and nic else ""
        return (f"Effective security rules{where}: {len(self.groups)} NSG"
                f"{'s' if len(self.groups) != 1 else ''}, {len(self.rules)} rules")

    def frame(self) -> pd.DataFrame:
        """One row per rule, by NSG, direction and priority; prefix columns hold lists."""
        return table_frame(self.COLUMNS, self.rows())

    def __str__(self) -> str:
        short = ("nsg", "direction", "priority", "name", "access", "protocol", "source",
                 "destination", "destination_ports")
        rows = [{**r, "nsg": (r["nsg"] or "-").rsplit("/", 1)[-1]} for r in self.rows()]
        return table_text(self.summary(), short, rows)

    def _repr_html_(self) -> str:
        rows = self.rows()
        return table_html("effective-rules", self.summary(), self.COLUMNS, rows,
                          marked=[str(r["access"]).lower() == "deny" for r in rows])

    def __repr__(self) -> str:
        return f"<EffectiveSecurityRules {len(self.groups)} NSGs, {len(self.rules)} rules>"


def _both(single: str | None, many: tuple[str, ...]) -> tuple[str, ...]:
    return ((single,) if single else ()) + tuple(many)
