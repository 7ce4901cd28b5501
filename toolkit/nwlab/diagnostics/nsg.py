"""NsgDiagnosticResult (networkConfigurationDiagnostic): every NSG layer the service evaluated for a
traffic profile, with each rule's per-field match results (reference §2).

Both wire shapes parse: 2018-06-01 answers `results[].trafficQuery` and no `appliedTo`; 2018-08-01
and later answer `results[].profile` and `appliedTo`. The Virtual Network Manager admin layer is an
evaluated entry whose id is a `networkManagers/...` id, applied to the VNet.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Self

from nwlab.diagnostics._wire import Field, Wire, flag, nested, nested_list, text
from nwlab.diagnostics.flow import split_rule_name
from nwlab.diagnostics.render import table_frame, table_html, table_text

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

__all__ = ["EvaluatedNsg", "MatchedRule", "NsgDiagnosticEntry", "NsgDiagnosticResult", "NsgProfile",
           "RuleEvaluation"]

MATCH_FIELDS = ("protocol", "source", "source_port", "destination", "destination_port")


@dataclass(frozen=True)
class NsgProfile(Wire):
    """The traffic asked about (`profile`, or `trafficQuery` in 2018-06-01)."""

    direction: str = ""
    protocol: str = ""
    source: str = ""
    destination: str = ""
    destination_port: str = ""
    extra: dict[str, Any] = field(default_factory=dict)
    _present: frozenset[str] = field(default=frozenset(), compare=False, repr=False)

    FIELDS: ClassVar[tuple[Field, ...]] = (
        Field("direction", "direction", text), Field("protocol", "protocol", text),
        Field("source", "source", text), Field("destination", "destination", text),
        Field("destinationPort", "destination_port", text))

    def describe(self) -> str:
        return (f"{self.direction} {self.protocol} {self.source or '*'} -> "
                f"{self.destination or '*'}:{self.destination_port or '*'}")


@dataclass(frozen=True)
class RuleEvaluation(Wire):
    """One rule checked against the profile; a rule matches only when all five fields match."""

    name: str = ""
    protocol_matched: bool | None = None
    source_matched: bool | None = None
    source_port_matched: bool | None = None
    destination_matched: bool | None = None
    destination_port_matched: bool | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    _present: frozenset[str] = field(default=frozenset(), compare=False, repr=False)

    FIELDS: ClassVar[tuple[Field, ...]] = (
        Field("name", "name", text), Field("protocolMatched", "protocol_matched", flag),
        Field("sourceMatched", "source_matched", flag),
        Field("sourcePortMatched", "source_port_matched", flag),
        Field("destinationMatched", "destination_matched", flag),
        Field("destinationPortMatched", "destination_port_matched", flag))

    @property
    def matched(self) -> bool:
        return all(getattr(self, f"{f}_matched") is True for f in MATCH_FIELDS)

    @property
    def mismatches(self) -> list[str]:
        """The fields that did not match (protocol, source, source_port, ...)."""
        return [f for f in MATCH_FIELDS if getattr(self, f"{f}_matched") is False]

    @property
    def near_miss(self) -> bool:
        """Four of five fields matched: the rule a user probably meant to hit."""
        return len(self.mismatches) == 1

    @property
    def rule(self) -> str:
        return split_rule_name(self.name)[0]


@dataclass(frozen=True)
class MatchedRule(Wire):
    rule_name: str = ""
    action: str = ""
    extra: dict[str, Any] = field(default_factory=dict)
    _present: frozenset[str] = field(default=frozenset(), compare=False, repr=False)

    FIELDS: ClassVar[tuple[Field, ...]] = (Field("ruleName", "rule_name", text),
                                           Field("action", "action", text))


@dataclass(frozen=True)
class EvaluatedNsg(Wire):
    """One evaluated layer: an NSG (on a subnet or NIC) or the network manager's admin rules."""

    nsg_id: str = ""
    applied_to: str | None = None
    matched_rule: MatchedRule | None = None
    rules: tuple[RuleEvaluation, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)
    _present: frozenset[str] = field(default=frozenset(), compare=False, repr=False)

    FIELDS: ClassVar[tuple[Field, ...]] = (
        Field("networkSecurityGroupId", "nsg_id", text), Field("appliedTo", "applied_to", text),
        nested("matchedRule", "matched_rule", MatchedRule),
        nested_list("rulesEvaluationResult", "rules", RuleEvaluation))

    @property
    def layer(self) -> str:
        """admin (network manager), subnet, nic, or nsg when appliedTo does not say.

        appliedTo is read by its last resource type only: the spec example's NIC appliedTo is
        malformed (`.../virtualNetworks/vnet/networkInterfaces/nic`), so no path grammar is assumed.
        """
        if "/networkmanagers/" in self.nsg_id.lower():
            return "admin"
        parts = [p.lower() for p in (self.applied_to or "").strip("/").split("/")]
        kind = parts[-2] if len(parts) >= 2 else ""
        return {"subnets": "subnet", "networkinterfaces": "nic",
                "virtualnetworks": "vnet"}.get(kind, "nsg")

    @property
    def action(self) -> str:
        return self.matched_rule.action if self.matched_rule else ""

    @property
    def denied(self) -> bool:
        return self.action.lower() == "deny"


@dataclass(frozen=True)
class NsgSecurityResult(Wire):
    access: str = ""
    evaluated: tuple[EvaluatedNsg, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)
    _present: frozenset[str] = field(default=frozenset(), compare=False, repr=False)

    FIELDS: ClassVar[tuple[Field, ...]] = (
        Field("securityRuleAccessResult", "access", text),
        nested_list("evaluatedNetworkSecurityGroups", "evaluated", EvaluatedNsg))


@dataclass(frozen=True)
class NsgDiagnosticEntry(Wire):
    """The answer for one profile: the overall verdict across layers and every layer evaluated."""

    profile: NsgProfile | None = None
    traffic_query: NsgProfile | None = None
    security: NsgSecurityResult | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    _present: frozenset[str] = field(default=frozenset(), compare=False, repr=False)

    FIELDS: ClassVar[tuple[Field, ...]] = (
        nested("profile", "profile", NsgProfile), nested("trafficQuery", "traffic_query", NsgProfile),
        nested("networkSecurityGroupResult", "security", NsgSecurityResult))

    @property
    def query(self) -> NsgProfile | None:
        """The profile asked about, whichever API version named it."""
        return self.profile or self.traffic_query

    @property
    def access(self) -> str:
        return self.security.access if self.security else ""

    @property
    def evaluated(self) -> tuple[EvaluatedNsg, ...]:
        return self.security.evaluated if self.security else ()


@dataclass(frozen=True)
class NsgDiagnosticResult(Wire):
    """NetworkConfigurationDiagnosticResponse: one entry per profile asked."""

    results: tuple[NsgDiagnosticEntry, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)
    _present: frozenset[str] = field(default=frozenset(), compare=False, repr=False)

    FIELDS: ClassVar[tuple[Field, ...]] = (nested_list("results", "results", NsgDiagnosticEntry),)
    COLUMNS: ClassVar[tuple[str, ...]] = (
        "profile", "verdict", "layer", "nsg", "applied_to", "rule", "decided", "matched",
        "near_miss", *(f"{f}_matched" for f in MATCH_FIELDS))

    @classmethod
    def from_dict(cls, data: Any, *, meta: dict[str, Any] | None = None) -> Self:
        return cls(**cls.parse_fields(data), meta=dict(meta or {}))

    @property
    def access(self) -> str:
        """The overall verdict: Deny when any profile is denied, else the first profile's."""
        verdicts = [e.access for e in self.results if e.access]
        denied = [v for v in verdicts if v.lower() == "deny"]
        return (denied or verdicts or [""])[0]

    @property
    def allowed(self) -> bool:
        return self.access.lower() == "allow"

    def blocking(self) -> list[EvaluatedNsg]:
        """Every layer whose matched rule denies, in evaluation order."""
        return [nsg for entry in self.results for nsg in entry.evaluated if nsg.denied]

    def summary(self) -> str:
        queries = "; ".join(e.query.describe() for e in self.results if e.query)
        blocks = ", ".join(f"{n.matched_rule.rule_name if n.matched_rule else '?'} in "
                           f"{_name(n.nsg_id)}" for n in self.blocking())
        line = f"NSG diagnostic: {self.access or 'Unknown'}"
        if queries:
            line += f" for {queries}"
        return line + (f"; denied by {blocks}" if blocks else "")

    def rows(self) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = []
        for entry in self.results:
            profile = entry.query.describe() if entry.query else None
            for nsg in entry.evaluated:
                base = {"profile": profile, "verdict": entry.access, "layer": nsg.layer,
                        "nsg": nsg.nsg_id, "applied_to": nsg.applied_to}
                decided_by = nsg.matched_rule.rule_name if nsg.matched_rule else None
                if not nsg.rules:
                    rows.append({**base, "rule": decided_by, "decided": nsg.action or None})
                for rule in nsg.rules:
                    rows.append({**base, "rule": rule.name,
                                 "decided": nsg.action if rule.name == decided_by else None,
                                 "matched": rule.matched, "near_miss": rule.near_miss,
                                 **{f"{f}_matched": getattr(rule, f"{f}_matched")
                                    for f in MATCH_FIELDS}})
        return rows

    def frame(self) -> pd.DataFrame:
        """One row per evaluated rule (per layer when the service listed no rules)."""
        return table_frame(self.COLUMNS, self.rows())

    def __str__(self) -> str:
        return table_text(self.summary(), ("layer", "nsg", "rule", "decided", "matched"),
                          [{**r, "nsg": _name(r["nsg"])} for r in self.rows()])

    def _repr_html_(self) -> str:
        rows = self.rows()
        return table_html("nsg-diagnostic", self.summary(), self.COLUMNS, rows,
                          marked=[bool(r.get("decided")) for r in rows])

    def __repr__(self) -> str:
        return (f"<NsgDiagnosticResult {self.access or 'Unknown'}; "
                f"{sum(len(e.evaluated) for e in self.results)} layers evaluated>")


def _name(resource_id: str) -> str:
    return resource_id.rstrip("/").rsplit("/", 1)[-1] if resource_id else "-"
