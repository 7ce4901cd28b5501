"""The result of a connection-troubleshoot check, parsed leniently from every shape the service has sent.

The model knows nothing of HTTP, widgets or Plotly: it turns the service's JSON into typed objects,
back into the REST shape (`to_dict`), and into DataFrames. Rendering lives in `explain` and `viz`,
which the convenience methods at the bottom import only when asked.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover - imported lazily at run time to keep `import nwlab` light
    import pandas as pd
    import plotly.graph_objects as go

    from nwlab.explain import Findings
    from nwlab.redact import Redactor

# The service answers "Reachable"/"Unreachable" although the spec enum says Connected/Disconnected/
# Degraded/Unknown (reference §2.5); both families are accepted, the raw word is always kept.
REACHABLE_STATUSES = frozenset({"reachable", "connected"})

# resourceId values the service uses for hops that are not Azure resources (reference §2.2).
_NON_RESOURCE_IDS = frozenset({"", "unknown", "internet"})


# Figures beyond int64 are not figures the service can have sent (the spec types them int32/int64,
# and the frames hold them as Int64): they parse as "not reported" rather than overflow later.
_INT_MIN, _INT_MAX = -(2**63), 2**63 - 1


def _as_int(value: Any) -> int | None:
    """Latency, RTT and probe figures arrive as ints, sometimes as strings; absent, unreadable,
    non-finite (NaN, inf) or beyond int64 means None. Booleans are not figures."""
    if isinstance(value, bool) or value is None:
        return None
    number: int | float
    if isinstance(value, int):
        number = value
    elif isinstance(value, float):
        if not math.isfinite(value):
            return None
        number = int(value)
    elif isinstance(value, str):
        text = value.strip()
        try:
            number = int(text)
        except ValueError:  # "7.9", "1e3", junk, or more digits than Python converts
            try:
                as_float = float(text)
            except ValueError:
                return None
            if not math.isfinite(as_float):
                return None
            number = int(as_float)
    else:
        return None
    return number if _INT_MIN <= number <= _INT_MAX else None


def _as_text(value: Any, default: str = "") -> str:
    """A string field: strings as sent, numbers in their JSON spelling, anything else (objects,
    lists, booleans, null, figures too large to print) the default."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool) or value is None:
        return default
    if isinstance(value, int):
        return str(value) if _INT_MIN <= value <= _INT_MAX else default
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else default
    return default


def _as_list(value: Any) -> list[Any]:
    """A list field: a list as sent; anything else (an object, a string, a number) is absent."""
    return list(value) if isinstance(value, list | tuple) else []


def _as_str_list(value: Any) -> list[str]:
    if isinstance(value, list | tuple):
        # Strings are kept as sent (even empty ones, so to_dict gives them back); other entries
        # become their JSON spelling, or are dropped when they have none (null, objects).
        return [v if isinstance(v, str) else _as_text(v) for v in value
                if isinstance(v, str) or _as_text(v)]
    text = _as_text(value)  # a lone id where a list was expected
    return [text] if text else []


# What json.loads can return (tuples stand in for lists, as Python callers build them).
_JSON_TYPES = (type(None), bool, int, float, str, list, tuple, Mapping)


def _normalize_resource_id(raw: str) -> str | None:
    """An ARM id with its leading slash, or None for the service's placeholders ("", Unknown, Internet)."""
    text = raw.strip()
    if text.lower() in _NON_RESOURCE_IDS:
        return None
    if text.lower().startswith("subscriptions/"):
        return "/" + text
    return text


@dataclass(frozen=True)
class Issue:
    """A problem the service found at a hop (or on a link): where it applies, how bad, what kind."""

    origin: str
    severity: str
    type: str
    context: dict[str, str] = field(default_factory=dict)
    hop_id: str | None = None
    hop_address: str | None = None
    # Link issues also name the far end of the link; None for hop issues.
    link_next_hop_id: str | None = None
    _context_shape: str = field(default="list", compare=False, repr=False)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, hop_id: str | None = None,
                  hop_address: str | None = None, link_next_hop_id: str | None = None) -> Issue:
        raw_context = data.get("context")
        context: dict[str, str] = {}
        shape = "list"
        if isinstance(raw_context, Mapping):
            # The 2026-01-01 spec models context as a plain string map.
            shape = "dict"
            context = {_as_text(k): _as_text(v) for k, v in raw_context.items()}
        elif isinstance(raw_context, list):
            for item in raw_context:
                if not isinstance(item, Mapping):
                    continue
                if "key" in item:
                    context[_as_text(item["key"])] = _as_text(item.get("value"))
                else:  # a list of single-entry maps, as some SDK dumps print it
                    context.update({_as_text(k): _as_text(v) for k, v in item.items()})
        return cls(
            origin=_as_text(data.get("origin")),
            severity=_as_text(data.get("severity")),
            type=_as_text(data.get("type")) or "Unknown",
            context=context,
            hop_id=hop_id,
            hop_address=hop_address,
            link_next_hop_id=link_next_hop_id,
            _context_shape=shape,
        )

    def to_dict(self) -> dict[str, Any]:
        context: Any
        if self._context_shape == "dict":
            context = dict(self.context)
        else:
            context = [{"key": k, "value": v} for k, v in self.context.items()]
        return {"origin": self.origin, "severity": self.severity, "type": self.type,
                "context": context}

    @property
    def rule_name(self) -> str | None:
        return self.context.get("RuleName")

    @property
    def route_type(self) -> str | None:
        return self.context.get("RouteType")

    def describe(self) -> str:
        """One line, e.g. `NetworkSecurityRule (Outbound) RuleName=UserRule_Port80`."""
        parts = [self.type]
        if self.origin:
            parts.append(f"({self.origin})")
        parts.extend(f"{k}={v}" for k, v in self.context.items())
        return " ".join(parts)


_LINK_KEYS = ("properties", "issues", "context", "resourceId")


@dataclass(frozen=True)
class HopLink:
    """An edge of the hop graph with its measured round-trip times (None when not measured)."""

    next_hop_id: str
    link_type: str | None = None
    rtt_min_ms: int | None = None
    rtt_avg_ms: int | None = None
    rtt_max_ms: int | None = None
    issues: tuple[Issue, ...] = ()
    resource_id: str = ""
    context: Any = field(default_factory=dict, compare=False)
    # Which optional keys the service sent, so to_dict() gives back what was received; a link
    # built in code has them all.
    _present: frozenset[str] = field(default=frozenset(_LINK_KEYS), compare=False, repr=False)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, hop_id: str | None = None,
                  hop_address: str | None = None) -> HopLink:
        props = data.get("properties")
        # The Jan 2019 trace sent an undocumented `type` where later ones send `linkType`.
        link_type = data.get("linkType") if data.get("linkType") is not None else data.get("type")
        # On the wire RTTs sit under `properties`; `az` flattens them onto the link (reference §2.6).
        source: Mapping[str, Any] = props if isinstance(props, Mapping) and props else data
        next_hop_id = _as_text(data.get("nextHopId"))
        return cls(
            next_hop_id=next_hop_id,
            link_type=_as_text(link_type) if link_type is not None else None,
            rtt_min_ms=_as_int(source.get("roundTripTimeMin")),
            rtt_avg_ms=_as_int(source.get("roundTripTimeAvg")),
            rtt_max_ms=_as_int(source.get("roundTripTimeMax")),
            issues=tuple(
                Issue.from_dict(i, hop_id=hop_id, hop_address=hop_address, link_next_hop_id=next_hop_id)
                for i in _as_list(data.get("issues")) if isinstance(i, Mapping)
            ),
            resource_id=_as_text(data.get("resourceId")),
            context=data.get("context") if data.get("context") is not None else {},
            _present=frozenset(k for k in _LINK_KEYS if k in data),
        )

    def to_dict(self) -> dict[str, Any]:
        props: dict[str, int] = {}
        for key, value in (("roundTripTimeMin", self.rtt_min_ms), ("roundTripTimeAvg", self.rtt_avg_ms),
                           ("roundTripTimeMax", self.rtt_max_ms)):
            if value is not None:
                props[key] = value
        out: dict[str, Any] = {"nextHopId": self.next_hop_id}
        if self.link_type is not None:
            out["linkType"] = self.link_type
        if props or "properties" in self._present:
            out["properties"] = props
        if self.issues or "issues" in self._present:
            out["issues"] = [i.to_dict() for i in self.issues]
        if "context" in self._present:
            out["context"] = self.context
        if self.resource_id or "resourceId" in self._present:
            out["resourceId"] = self.resource_id
        return out


@dataclass(frozen=True)
class Hop:
    """One node of the path: the source, an appliance, a VNet-local NIC, the Internet or the destination."""

    id: str
    type: str
    address: str | None = None
    resource_id: str | None = None
    next_hop_ids: tuple[str, ...] = ()
    previous_hop_ids: tuple[str, ...] = ()
    links: tuple[HopLink, ...] = ()
    previous_links: tuple[HopLink, ...] = ()
    issues: tuple[Issue, ...] = ()
    # The service's raw resourceId ("Internet", "Unknown", "" or an id without its slash), kept so
    # that to_dict() gives back what was received; None when the key was absent.
    raw_resource_id: str | None = field(default=None, compare=False, repr=False)
    _present: frozenset[str] = field(default=frozenset(), compare=False, repr=False)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], index: int = 0) -> Hop:
        hop_id = _as_text(data.get("id")) or f"hop-{index}"
        address = _as_text(data.get("address")) or None
        raw_rid = None if data.get("resourceId") is None else _as_text(data.get("resourceId"))
        next_ids = _as_str_list(data.get("nextHopIds"))
        links = tuple(HopLink.from_dict(x, hop_id=hop_id, hop_address=address)
                      for x in _as_list(data.get("links")) if isinstance(x, Mapping))
        if not next_ids and links:
            next_ids = [link.next_hop_id for link in links if link.next_hop_id]
        return cls(
            id=hop_id,
            type=_as_text(data.get("type")) or "Unknown",
            address=address,
            resource_id=_normalize_resource_id(raw_rid) if raw_rid is not None else None,
            next_hop_ids=tuple(next_ids),
            previous_hop_ids=tuple(_as_str_list(data.get("previousHopIds"))),
            links=links,
            previous_links=tuple(HopLink.from_dict(x) for x in _as_list(data.get("previousLinks"))
                                 if isinstance(x, Mapping)),
            issues=tuple(Issue.from_dict(i, hop_id=hop_id, hop_address=address)
                         for i in _as_list(data.get("issues")) if isinstance(i, Mapping)),
            raw_resource_id=raw_rid,
            _present=frozenset(k for k in ("previousHopIds", "links", "previousLinks") if k in data),
        )

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.type, "id": self.id}
        if self.address is not None:
            out["address"] = self.address
        if self.raw_resource_id is not None:
            out["resourceId"] = self.raw_resource_id
        elif self.resource_id is not None:
            out["resourceId"] = self.resource_id
        out["nextHopIds"] = list(self.next_hop_ids)
        if self.previous_hop_ids or "previousHopIds" in self._present:
            out["previousHopIds"] = list(self.previous_hop_ids)
        if self.links or "links" in self._present:
            out["links"] = [link.to_dict() for link in self.links]
        if self.previous_links or "previousLinks" in self._present:
            out["previousLinks"] = [link.to_dict() for link in self.previous_links]
        out["issues"] = [i.to_dict() for i in self.issues]
        return out

    @property
    def name(self) -> str:
        """A short label: the NIC or VM name from the resource id, else the raw placeholder."""
        if self.resource_id:
            parts = self.resource_id.strip("/").split("/")
            lowered = [p.lower() for p in parts]
            for kind in ("networkinterfaces", "virtualmachines"):
                if kind in lowered:
                    i = lowered.index(kind)
                    if i + 1 < len(parts):
                        return parts[i + 1]
            return parts[-1]
        return self.raw_resource_id or ""

    def link_to(self, next_hop_id: str) -> HopLink | None:
        for link in self.links:
            if link.next_hop_id == next_hop_id:
                return link
        return None

    @property
    def all_issues(self) -> tuple[Issue, ...]:
        """Issues on the hop and on its outgoing links."""
        return self.issues + tuple(i for link in self.links for i in link.issues)


@dataclass(frozen=True)
class Assumption:
    """What the emulator (the twin) assumed on a check's path where it does not model Azure or
    Azure does not say; results from Azure never carry one. ``verdict_sensitive``: the
    alternative could change the verdict."""

    code: str
    resource_id: str
    assumed: str
    field: str | None = None
    alternatives: tuple[str, ...] = ()
    verdict_sensitive: bool = False

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Assumption:
        return cls(code=str(data.get("code") or "UNKNOWN"),
                   resource_id=str(data.get("resourceId") or ""),
                   assumed=str(data.get("assumed") or ""),
                   field=str(data["field"]) if data.get("field") else None,
                   alternatives=tuple(_as_str_list(data.get("alternatives"))),
                   verdict_sensitive=bool(data.get("verdictSensitive", False)))

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"code": self.code, "resourceId": self.resource_id,
                               "assumed": self.assumed, "verdictSensitive": self.verdict_sensitive}
        if self.field:
            out["field"] = self.field
        if self.alternatives:
            out["alternatives"] = list(self.alternatives)
        return out

    def describe(self) -> str:
        where = self.resource_id.rstrip("/").split("/")[-1] or self.resource_id
        field = f" ({self.field})" if self.field else ""
        return f"{self.code} at {where}{field}: {self.assumed}"


# The emulator's extension field beside the REST shape: {"outcome", "assumptions": [...]}.
TWIN_EXTENSION = "nwlab"


def _assumptions(data: Mapping[str, Any]) -> list[Assumption]:
    ext = data.get(TWIN_EXTENSION)
    items = ext.get("assumptions") if isinstance(ext, Mapping) else None
    return [Assumption.from_dict(a) for a in items or [] if isinstance(a, Mapping)]


@dataclass(frozen=True)
class ConnectivityResult:
    """What connectivityCheck answered: the verdict, probe and latency figures, and the hop graph."""

    status: str
    hops: tuple[Hop, ...] = ()
    avg_latency_ms: int | None = None
    min_latency_ms: int | None = None
    max_latency_ms: int | None = None
    probes_sent: int | None = None
    probes_failed: int | None = None
    # What the twin assumed on this path (the emulator's extension field); [] from Azure.
    assumptions: list[Assumption] = field(default_factory=list)
    # How the check was asked and answered (inputs, watcher, request ids, timing); not part of
    # the REST shape, so it is neither compared nor written by to_dict().
    meta: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)
    # The value from_dict was given when it was not a JSON object (a list, a string, a number),
    # kept as received so nothing is lost; None otherwise. Neither compared nor written.
    raw: Any = field(default=None, compare=False, repr=False)

    @classmethod
    def from_dict(cls, data: Any, *, meta: Mapping[str, Any] | None = None) -> ConnectivityResult:
        """Parse any ConnectivityInformation shape. Total over JSON: every value `json.loads` can
        return gives a result, never an exception; a null body, or anything but an object (kept
        in `raw`), is an Unknown result, and fields of the wrong type read as absent.

        Raises ValueError only for a value that is not JSON at all (bytes, a set, a Response...),
        which is a mistake in the calling code, not an answer from the service.
        """
        if not isinstance(data, _JSON_TYPES):
            raise ValueError(
                f"ConnectivityResult.from_dict takes parsed JSON (a dict, as json.loads or "
                f"response.json() returns it), not {type(data).__name__}; e.g. "
                f"ConnectivityResult.from_dict(json.loads(text))")
        raw = None if data is None or isinstance(data, Mapping) else data
        body: Mapping[str, Any] = data if isinstance(data, Mapping) else {}
        if isinstance(body.get("properties"), Mapping) and "hops" not in body:
            body = body["properties"]  # some SDK dumps wrap the result
        hops = tuple(Hop.from_dict(h, i) for i, h in enumerate(_as_list(body.get("hops")))
                     if isinstance(h, Mapping))
        data = body
        return cls(
            status=_as_text(data.get("connectionStatus")) or "Unknown",
            hops=hops,
            avg_latency_ms=_as_int(data.get("avgLatencyInMs")),
            min_latency_ms=_as_int(data.get("minLatencyInMs")),
            max_latency_ms=_as_int(data.get("maxLatencyInMs")),
            probes_sent=_as_int(data.get("probesSent")),
            probes_failed=_as_int(data.get("probesFailed")),
            assumptions=_assumptions(data),
            meta=dict(meta or {}),
            raw=raw,
        )

    def to_dict(self) -> dict[str, Any]:
        """The REST shape (ConnectivityInformation), absent figures omitted as the service omits them."""
        out: dict[str, Any] = {"hops": [h.to_dict() for h in self.hops],
                               "connectionStatus": self.status}
        for key, value in (("avgLatencyInMs", self.avg_latency_ms),
                           ("minLatencyInMs", self.min_latency_ms),
                           ("maxLatencyInMs", self.max_latency_ms),
                           ("probesSent", self.probes_sent),
                           ("probesFailed", self.probes_failed)):
            if value is not None:
                out[key] = value
        if self.assumptions:
            outcome = "undetermined" if self.undetermined else (
                "reached" if self.reachable else "notReached")
            out[TWIN_EXTENSION] = {"outcome": outcome,
                                   "assumptions": [a.to_dict() for a in self.assumptions]}
        return out

    def with_meta(self, **meta: Any) -> ConnectivityResult:
        return replace(self, meta={**self.meta, **meta})

    # -- verdict ---------------------------------------------------------------------------

    @property
    def reachable(self) -> bool:
        return self.status.lower() in REACHABLE_STATUSES

    @property
    def undetermined(self) -> bool:
        """The twin's verdict rests on an assumption whose alternative could change it."""
        return any(a.verdict_sensitive for a in self.assumptions)

    @property
    def probe_loss(self) -> float | None:
        """Fraction of probes lost (0.0-1.0), None when the service sent no figures."""
        if not self.probes_sent:
            return None
        return (self.probes_failed or 0) / self.probes_sent

    @property
    def issues(self) -> list[Issue]:
        """Every issue, hop issues then link issues, in hop order; each knows its hop."""
        return [i for hop in self.hops for i in hop.all_issues]

    def hop(self, hop_id: str) -> Hop | None:
        for hop in self.hops:
            if hop.id == hop_id:
                return hop
        return None

    @property
    def source(self) -> Hop | None:
        return self.hops[0] if self.hops else None

    @property
    def destination(self) -> Hop | None:
        return self.hops[-1] if self.hops else None

    def edges(self) -> list[tuple[str, str]]:
        """(from, to) hop-id pairs from nextHopIds, the one field every schema version has."""
        known = {h.id for h in self.hops}
        return [(h.id, n) for h in self.hops for n in h.next_hop_ids if n in known]

    # -- tables ----------------------------------------------------------------------------

    def hops_frame(self) -> pd.DataFrame:
        """One row per hop: position, type, address, resource, next hops, RTT to the next hop, issues."""
        import pandas as pd

        rows = []
        for index, hop in enumerate(self.hops, start=1):
            rtts = [link.rtt_avg_ms for link in hop.links if link.rtt_avg_ms is not None]
            rows.append({
                "hop": index,
                "type": hop.type,
                "address": hop.address,
                "name": hop.name,
                "resource_id": hop.resource_id,
                "next_hops": len(hop.next_hop_ids),
                "rtt_avg_ms": rtts[0] if len(rtts) == 1 else (max(rtts) if rtts else None),
                "issues": "; ".join(i.describe() for i in hop.all_issues),
                "id": hop.id,
            })
        columns = ["hop", "type", "address", "name", "resource_id", "next_hops", "rtt_avg_ms",
                   "issues", "id"]
        frame = pd.DataFrame(rows, columns=columns)
        frame["rtt_avg_ms"] = frame["rtt_avg_ms"].astype("Int64")
        return frame

    def issues_frame(self) -> pd.DataFrame:
        """One row per issue with the hop it sits on; rule and route pulled out of the context."""
        import pandas as pd

        index_of = {hop.id: n for n, hop in enumerate(self.hops, start=1)}
        type_of = {hop.id: hop.type for hop in self.hops}
        rows = [{
            "hop": index_of.get(i.hop_id or ""),
            "hop_type": type_of.get(i.hop_id or ""),
            "hop_address": i.hop_address,
            "origin": i.origin,
            "severity": i.severity,
            "type": i.type,
            "rule_name": i.rule_name,
            "route_type": i.route_type,
            "context": ", ".join(f"{k}={v}" for k, v in i.context.items()),
        } for i in self.issues]
        columns = ["hop", "hop_type", "hop_address", "origin", "severity", "type", "rule_name",
                   "route_type", "context"]
        return pd.DataFrame(rows, columns=columns)

    # -- words -----------------------------------------------------------------------------

    def summary(self) -> str:
        """The verdict in one line: status, probes, latency."""
        parts = [self.status]
        if self.probes_sent is not None:
            parts.append(f"{self.probes_failed or 0} of {self.probes_sent} probes failed")
        if self.avg_latency_ms is not None:
            parts.append(f"latency avg {self.avg_latency_ms} ms "
                         f"(min {self.min_latency_ms}, max {self.max_latency_ms})")
        return ", ".join(parts)

    def __repr__(self) -> str:
        issues = len(self.issues)
        assumed = ""
        if self.assumptions:
            count = len(self.assumptions)
            assumed = (f", {count} assumption{'s' if count != 1 else ''}"
                       + (" (verdict undetermined)" if self.undetermined else ""))
        return (f"<ConnectivityResult {self.summary()}; {len(self.hops)} hops, "
                f"{issues} issue{'s' if issues != 1 else ''}{assumed}>")

    def __str__(self) -> str:
        lines = [self.summary()]
        for index, hop in enumerate(self.hops, start=1):
            label = f"  {index}. {hop.type:<16} {hop.address or '-':<15}"
            if hop.name:
                label += f" {hop.name}"
            lines.append(label.rstrip())
            lines.extend(f"       ! {i.severity} {i.describe()}" for i in hop.all_issues)
        lines.extend(f"  assumed{' (verdict rests on it)' if a.verdict_sensitive else ''}: "
                     f"{a.describe()}" for a in self.assumptions)
        return "\n".join(lines)

    def redact(self, *, names: bool = False, addresses: bool = False,
               keep_rule_names: bool = False, redactor: Redactor | None = None) -> ConnectivityResult:
        """A copy safe to share (see nwlab.redact.Redactor): ids, GUIDs, people and tags always,
        resource and rule names with `names=True` (rule names kept with `keep_rule_names=True`),
        IP addresses with `addresses=True`; verdict, hop types and structure unchanged. Pass one
        `redactor` to several results so that they share their pseudonyms."""
        from nwlab.redact import redactor_for

        shared = redactor_for(redactor, names=names, addresses=addresses,
                              keep_rule_names=keep_rule_names)
        data = shared.redact({"result": self.to_dict(), "meta": self.meta})
        return ConnectivityResult.from_dict(data["result"], meta=data["meta"])

    # -- rendering (imported on first use) -------------------------------------------------

    def explain(self) -> Findings:
        """Plain-language findings: what each issue means, its likely cause and the fix; a list
        that shows itself as findings in a notebook and a REPL."""
        from nwlab.explain import explain_result

        return explain_result(self)

    def path_figure(self) -> go.Figure:
        from nwlab.viz import path_figure

        return path_figure(self)

    def sankey_figure(self) -> go.Figure:
        from nwlab.viz import sankey_figure

        return sankey_figure(self)

    def _repr_html_(self) -> str:
        from nwlab.viz.html import result_html

        return result_html(self)

