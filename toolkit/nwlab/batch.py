"""Many checks at once: validate all, run them concurrently within a write budget, lose none.

`run_batch` is what `NetworkWatcher.check_many` calls. A batch

- validates every entry before any request (errors name the entry: ``checks[3]: port: ...``);
- runs each distinct check once (identical entries share the result, as reference §6.1 asks:
  never start a second identical check while one is in flight);
- runs up to `concurrency` checks at a time on threads (a check spends its life waiting, so a
  thread per check in flight costs little);
- shares one client-side write budget (a token bucket) between all its POSTs, and the client's
  shared back-off after any 429;
- resolves the source VM pre-flight (and through it the region's watcher) once per source;
- ends every entry as a result or a recorded error, also when cancelled half way.

`BatchResult` holds the entries in input order and turns them into a frame, figures, JSON lines
and a before/after comparison.
"""

from __future__ import annotations

import itertools
import json
import math
import numbers
import threading
import time
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from nwlab.arm.errors import CheckCancelled, NwlabError
from nwlab.arm.ids import parse_resource_id
from nwlab.arm.session import CancelScope
from nwlab.arm.throttle import AZURE_NETWORK_WINDOW_S, AZURE_NETWORK_WRITES, TokenBucket
from nwlab.checkspec import CheckSpec, build_check
from nwlab.model import ConnectivityResult

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd
    import plotly.graph_objects as go

    from nwlab.monitor import Monitor
    from nwlab.redact import Redactor
    from nwlab.watcher import NetworkWatcher

# Why 256: a check is a POST followed by sleeping between polls, so a thread per check in flight
# costs a sleeping thread, not a CPU. The limit should therefore be set by how many checks may be
# in flight, not by cores: 256 lets a 200-check mesh run all at once (finishing in about one
# check's time), and it is about what Azure's write budget sustains anyway (3.3 writes/s x
# 30-120 s per check = 100-400 checks in flight). Larger batches queue behind it.
DEFAULT_CONCURRENCY = 256
MAX_CONCURRENCY = 4096

CHECK_KEYS = ("source", "destination", "port", "protocol", "resource_group", "source_port", "http",
              "ip_version", "watcher", "timeout")
_INTEGER_KEYS = ("port", "source_port")
VERDICTS = ("reachable", "degraded", "unreachable", "unknown", "error", "cancelled")
CANCELLED_BEFORE_START = "The batch was cancelled before this check started."


class BatchInputError(ValueError, TypeError):
    """A batch entry that cannot be run; the message starts with `checks[i]: `.

    It is both a ValueError and a TypeError, so code that catches either for `check()` catches
    it for `check_many()` too.
    """

    def __init__(self, message: str, index: int | None = None) -> None:
        super().__init__(message)
        self.index = index


# -- entries --------------------------------------------------------------------------------


@dataclass(frozen=True)
class BatchError:
    """How a check failed, kept as words: the exception's class name, its message and the fix."""

    type: str
    message: str
    fix: str | None = None

    @classmethod
    def from_exception(cls, exc: BaseException) -> BatchError:
        fix = getattr(exc, "fix", None)
        message = str(exc) or type(exc).__name__
        if fix and message.endswith(f" Fix: {fix}"):
            message = message[: -len(f" Fix: {fix}")]
        return cls(type(exc).__name__, message, fix if isinstance(fix, str) else None)

    @property
    def cancelled(self) -> bool:
        return self.type == CheckCancelled.__name__

    def __str__(self) -> str:
        return f"{self.type}: {self.message}"

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.type, "message": self.message, "fix": self.fix}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> BatchError:
        return cls(str(data.get("type") or "Error"), str(data.get("message") or ""),
                   data.get("fix"))


@dataclass
class BatchEntry:
    """One check of a batch: what was asked, and its result or error, and how long it took."""

    index: int
    inputs: dict[str, Any]
    result: ConnectivityResult | None = None
    error: BatchError | None = None
    elapsed_s: float | None = None

    @property
    def done(self) -> bool:
        return self.result is not None or self.error is not None

    @property
    def verdict(self) -> str:
        """reachable, degraded, unreachable, unknown (another status), error or cancelled."""
        return verdict_of(self.result, self.error)

    @property
    def cause(self) -> str | None:
        """What blocks the traffic, in words (explain.blocking_cause); None when reachable."""
        if self.result is None:
            return None
        from nwlab.explain import blocking_cause

        return blocking_cause(self.result)

    @property
    def source_label(self) -> str:
        return _label(self.inputs.get("source"))

    @property
    def destination_label(self) -> str:
        return _label(self.inputs.get("destination"))

    def to_dict(self) -> dict[str, Any]:
        """One JSON line: inputs, the result in its REST shape (plus meta) or the error."""
        return {"index": self.index, "inputs": self.inputs,
                "result": self.result.to_dict() if self.result is not None else None,
                "meta": self.result.meta if self.result is not None else None,
                "error": self.error.to_dict() if self.error is not None else None,
                "elapsed_s": self.elapsed_s}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], index: int) -> BatchEntry:
        raw_result = data.get("result")
        raw_error = data.get("error")
        return cls(
            index=int(data.get("index", index)),
            inputs=dict(data.get("inputs") or {}),
            result=ConnectivityResult.from_dict(raw_result, meta=data.get("meta") or {})
            if raw_result is not None else None,
            error=BatchError.from_dict(raw_error) if raw_error is not None else None,
            elapsed_s=data.get("elapsed_s"),
        )


def verdict_of(result: ConnectivityResult | None, error: BatchError | None) -> str:
    if error is not None:
        return "cancelled" if error.cancelled else "error"
    if result is None:
        return "cancelled"
    if result.reachable:
        return "reachable"
    status = result.status.lower()
    if status in ("unreachable", "disconnected"):
        return "unreachable"
    if status == "degraded":
        return "degraded"
    return "unknown"


def _label(value: Any) -> str:
    """A VM id shows as its name; anything else as given."""
    if value is None:
        return ""
    text = str(value)
    if "/" in text and "://" not in text:
        rid = parse_resource_id(text)
        if rid is not None:
            return rid.name
    return text


@dataclass(frozen=True)
class BatchProgress:
    """What on_progress receives after each check: how many are done, of how many, the last one."""

    done: int
    total: int
    entry: BatchEntry | None
    counts: dict[str, int]
    elapsed_s: float


ProgressCallback = Callable[[BatchProgress], None]


# -- the result -----------------------------------------------------------------------------


class BatchFileError(NwlabError, ValueError):
    """A file BatchResult.load() cannot read: `path` and `line` (1-based, None for the whole file)
    say where. A ValueError (the file holds a bad value), and one of nwlab's own errors, so a form
    or the command line shows it as one line with its fix."""

    def __init__(self, path: str | Path, line: int | None, problem: str) -> None:
        where = f"{path}: line {line}" if line is not None else str(path)
        super().__init__(f"{where} {problem}.",
                         fix="load a file written by BatchResult.save() (or nwlab mesh --out), "
                             "one JSON object per line")
        self.path = str(path)
        self.line = line


def _saved_check_problem(data: Any) -> str | None:
    """What is wrong with one line of a saved batch, in words; None when it has save()'s shape."""
    if not isinstance(data, dict):
        return f"is JSON but not a saved check (a {type(data).__name__}, not an object)"
    if not isinstance(data.get("inputs"), dict):
        return "is not a saved check (no 'inputs' object)"
    index = data.get("index")
    if index is not None and (isinstance(index, bool) or not isinstance(index, int)):
        return f"has an index that is not a whole number ({index!r})"
    for key in ("result", "meta", "error"):
        if data.get(key) is not None and not isinstance(data[key], dict):
            return f"has a '{key}' that is not an object"
    error = data.get("error")
    if error is not None and not all(isinstance(error.get(k), str | None) for k in
                                     ("type", "message", "fix")):
        return "has an 'error' whose type, message or fix is not text"
    elapsed = data.get("elapsed_s")
    if elapsed is not None and (isinstance(elapsed, bool) or not isinstance(elapsed, int | float)):
        return f"has an elapsed_s that is not a number ({elapsed!r})"
    return None


@dataclass(eq=False)
class BatchResult:
    """The checks of a batch in input order; `frame()`, figures, `save`/`load`, `compare`.

    `stats` says how the batch ran (wall time, distinct checks, 429s, ...); it is not saved.
    """

    entries: list[BatchEntry]
    stats: dict[str, Any] = field(default_factory=dict)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, BatchResult) and self.entries == other.entries

    def __len__(self) -> int:
        return len(self.entries)

    def __iter__(self) -> Iterator[BatchEntry]:
        return iter(self.entries)

    def __getitem__(self, index: int) -> BatchEntry:
        return self.entries[index]

    def __repr__(self) -> str:
        return f"<BatchResult {self.summary()}>"

    def redact(self, *, names: bool = False, addresses: bool = False,
               keep_rule_names: bool = False, redactor: Redactor | None = None) -> BatchResult:
        """A copy safe to share, redacted as ConnectivityResult.redact() redacts (inputs, results,
        meta and error messages): one redactor over the whole batch, so the same value gets the
        same pseudonym in every check, and a name met in one check is hidden in all of them."""
        from nwlab.redact import collector_paused, redactor_for

        shared = redactor_for(redactor, names=names, addresses=addresses,
                              keep_rule_names=keep_rule_names)
        with collector_paused():  # JSON out and back in: trees, nothing for the collector
            lines = shared.redact([entry.to_dict() for entry in self.entries])
            entries = [BatchEntry.from_dict(line, n) for n, line in enumerate(lines)]
        return BatchResult(entries, stats=dict(self.stats))

    @property
    def results(self) -> list[ConnectivityResult | None]:
        return [e.result for e in self.entries]

    @property
    def errors(self) -> list[BatchEntry]:
        """Entries that ended in an error (cancelled ones included)."""
        return [e for e in self.entries if e.error is not None]

    @property
    def ok(self) -> bool:
        """True when every check ran to a result (reachable or not)."""
        return all(e.result is not None for e in self.entries)

    def counts(self) -> dict[str, int]:
        """Checks per verdict, every verdict listed (zeros included), in a fixed order."""
        counts = dict.fromkeys(VERDICTS, 0)
        for entry in self.entries:
            counts[entry.verdict] += 1
        return counts

    def summary(self) -> str:
        """E.g. `200 checks: 150 reachable, 40 unreachable, 10 errors`."""
        parts = [count_text(verdict, n) for verdict, n in self.counts().items() if n]
        noun = "check" if len(self.entries) == 1 else "checks"
        return f"{len(self.entries)} {noun}" + (": " + ", ".join(parts) if parts else "")

    # -- tables ---------------------------------------------------------------------------

    def frame(self) -> pd.DataFrame:
        """One row per check, in input order: inputs, verdict, status, latency, probes, cause, error."""
        import pandas as pd

        rows = []
        for entry in self.entries:
            r = entry.result
            rows.append({
                "source": entry.source_label,
                "destination": entry.destination_label,
                "port": entry.inputs.get("port"),
                "protocol": entry.inputs.get("protocol"),
                "verdict": entry.verdict,
                "status": r.status if r is not None else None,
                "reachable": r.reachable if r is not None else None,
                "avg_latency_ms": r.avg_latency_ms if r is not None else None,
                "min_latency_ms": r.min_latency_ms if r is not None else None,
                "max_latency_ms": r.max_latency_ms if r is not None else None,
                "probes_sent": r.probes_sent if r is not None else None,
                "probes_failed": r.probes_failed if r is not None else None,
                "probe_loss": r.probe_loss if r is not None else None,
                "cause": entry.cause,
                "error": str(entry.error) if entry.error is not None else None,
                "elapsed_s": entry.elapsed_s,
            })
        frame = pd.DataFrame(rows, columns=FRAME_COLUMNS)
        for column in ("port", "avg_latency_ms", "min_latency_ms", "max_latency_ms", "probes_sent",
                       "probes_failed"):
            frame[column] = frame[column].astype("Int64")
        frame["reachable"] = frame["reachable"].astype("boolean")
        frame["probe_loss"] = frame["probe_loss"].astype("Float64")
        frame["elapsed_s"] = frame["elapsed_s"].astype("Float64")
        return _with_none(frame, ("source", "destination", "protocol", "verdict", "status", "cause",
                                  "error"))

    def compare(self, other: BatchResult) -> pd.DataFrame:
        """Checks whose verdict or cause changed from `self` (before) to `other` (after).

        Entries are matched by their inputs (the n-th identical entry to the n-th); a check in
        only one of the two batches is listed as `added` or `removed`.
        """
        import pandas as pd

        if not isinstance(other, BatchResult):
            raise TypeError(f"compare: expected a BatchResult, got {type(other).__name__}; e.g. "
                            "before.compare(after)")
        after = _by_inputs(other.entries)
        rows = []
        seen: set[tuple[str, int]] = set()
        for key, entry in _by_inputs(self.entries).items():
            seen.add(key)
            new = after.get(key)
            if new is None:
                rows.append(_change_row("removed", entry, None))
            elif (entry.verdict, _cause_or_error(entry)) != (new.verdict, _cause_or_error(new)):
                change = "verdict" if entry.verdict != new.verdict else "cause"
                rows.append(_change_row(change, entry, new))
        for key, new in after.items():
            if key not in seen:
                rows.append(_change_row("added", None, new))
        frame = pd.DataFrame(rows, columns=COMPARE_COLUMNS)
        frame["port"] = frame["port"].astype("Int64")
        return _with_none(frame, [c for c in COMPARE_COLUMNS if c != "port"])

    # -- files ----------------------------------------------------------------------------

    def save(self, path: str | Path) -> Path:
        """Write JSON lines, one per check (inputs, REST-shaped result or error); returns the path.

        Atomic (nwlab.files): an interrupted save leaves the previous file whole, never a cut
        line. Token-looking text and secret-valued keys are cut out (nwlab.redact.cut_tokens).
        """
        from nwlab.files import atomic_writer
        from nwlab.redact import cut_tokens

        if not self.entries:
            raise ValueError("save: this batch has no checks, so there is nothing load() could "
                             "read back; run check_many() with at least one check first")
        with atomic_writer(path, newline="\n") as handle:
            for entry in self.entries:
                handle.write(json.dumps(cut_tokens(entry.to_dict()), sort_keys=True,
                                        default=_json_default))
                handle.write("\n")
        return Path(path)

    @classmethod
    def load(cls, path: str | Path) -> BatchResult:
        """Read what save() wrote; the entries compare equal to the saved ones.

        A damaged file (empty, cut short, not JSON, or lines of another shape) raises
        BatchFileError naming the file and the line.
        """
        raw = Path(path).read_bytes()
        entries: list[BatchEntry] = []
        lines = raw.split(b"\n")
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            cut = number == len(lines) and not raw.endswith(b"\n")  # save() ends every line
            try:
                data = json.loads(line.decode("utf-8"))
            except UnicodeDecodeError:
                raise BatchFileError(path, number, "is not UTF-8 text") from None
            except ValueError as exc:
                raise BatchFileError(path, number, "is cut short (the file ends in the middle of "
                                     "it: was the save interrupted?)" if cut else
                                     f"is not JSON ({exc})") from None
            problem = _saved_check_problem(data)
            if problem:
                raise BatchFileError(path, number, problem)
            try:
                entries.append(BatchEntry.from_dict(data, len(entries)))
            except (TypeError, ValueError, OverflowError) as exc:
                raise BatchFileError(path, number, f"cannot be read as a check ({exc})") from None
        if not entries:
            raise BatchFileError(path, None, "holds no checks (it is empty)")
        return cls(entries)

    # -- figures and display --------------------------------------------------------------

    def sankey_figure(self) -> go.Figure:
        """Sources -> verdict and cause -> destinations, link widths counting checks."""
        from nwlab.viz.batch import batch_sankey_figure

        return batch_sankey_figure(self)

    def heatmap_figure(self) -> go.Figure:
        """Sources x destinations (and port), coloured and marked by verdict, cause on hover."""
        from nwlab.viz.batch import batch_heatmap_figure

        return batch_heatmap_figure(self)

    def _repr_html_(self) -> str:
        counts = self.counts()
        badges = " ".join(
            f'<span style="display:inline-block;padding:1px 8px;margin-right:4px;'
            f'border:1px solid #88888888;border-radius:10px">{_MARKS[v]} {count_text(v, n)}</span>'
            for v, n in counts.items() if n)
        noun = "check" if len(self.entries) == 1 else "checks"
        table = frame_html(self.frame()[TABLE_COLUMNS])
        return (f'<div class="nwlab-batch"><div style="margin:4px 0"><strong>'
                f"{len(self.entries)} {noun}</strong> {badges}</div>{table}</div>")

    def to_monitor(self, name: str, nw: NetworkWatcher, *, workspace: str | None = None,
                   frequency_s: int = 60, thresholds: Mapping[str, Any] | None = None) -> Monitor:
        """Promote this batch's checks to Azure Connection Monitor through `nw` (the client the
        monitor lives in): the same as nw.monitor(batch, name, ...)."""
        return nw.monitor(self, name, workspace=workspace, frequency_s=frequency_s,
                          thresholds=thresholds)


# Verdict and cause first: what a reader looks for, visible without scrolling a wide table.
FRAME_COLUMNS = ["verdict", "cause", "source", "destination", "port", "protocol", "status",
                 "reachable", "avg_latency_ms", "min_latency_ms", "max_latency_ms", "probes_sent",
                 "probes_failed", "probe_loss", "error", "elapsed_s"]
# What a batch's HTML table shows (the frame has every column): the verdict, why, which check.
TABLE_COLUMNS = ["verdict", "cause", "source", "destination", "port", "protocol", "status",
                 "avg_latency_ms", "probe_loss", "error"]
COMPARE_COLUMNS = ["source", "destination", "port", "protocol", "change", "verdict_before",
                   "verdict_after", "cause_before", "cause_after", "status_before",
                   "status_after", "inputs"]
# A text mark per verdict, so a verdict never rests on colour alone.
_MARKS = {"reachable": "\u2714", "degraded": "\u25d1", "unreachable": "\u2716", "unknown": "?",
          "error": "!", "cancelled": "\u2013"}


def frame_html(frame: pd.DataFrame, keep: Iterable[str] = ("verdict", "cause")) -> str:
    """A frame as an HTML table, blank where a value is missing (not None or <NA>), no cell cut:
    to_html never applies pandas' 50-character display limit, so causes and rule names are whole.
    Columns blank in every row are left out (except `keep`), so the table fits the page; text is
    left-aligned (notebook styles right-align cells, which breaks a wrapped cause apart)."""
    shown = frame.astype(object).where(frame.notna(), "")
    if "probe_loss" in shown:
        shown["probe_loss"] = [f"{v:.0%}" if isinstance(v, float) else v
                               for v in shown["probe_loss"]]
    kept = set(keep)
    shown = shown[[c for c in shown.columns if c in kept or (shown[c] != "").any()]]
    table = str(shown.to_html(index=False, border=0, escape=True, justify="left"))
    return table.replace("<td>", '<td style="text-align:left">').replace(
        "<th>", '<th style="text-align:left">')


def count_text(verdict: str, n: int) -> str:
    """`3 unreachable`, `1 error`, `4 errors` (the other verdicts are adjectives)."""
    return f"{n} {verdict}{'s' if verdict == 'error' and n != 1 else ''}"


def _with_none(frame: pd.DataFrame, columns: Iterable[str]) -> pd.DataFrame:
    """Text columns as objects with None for missing (pandas would infer str dtype with NaN)."""
    for column in columns:
        values = frame[column].astype(object)
        frame[column] = values.where(values.notna(), None)
    return frame


def _cause_or_error(entry: BatchEntry) -> str | None:
    return entry.error.type if entry.error is not None else entry.cause


def _inputs_key(inputs: Mapping[str, Any]) -> str:
    return json.dumps({k: v for k, v in inputs.items() if v is not None}, sort_keys=True,
                      default=_json_default)


def _by_inputs(entries: Iterable[BatchEntry]) -> dict[tuple[str, int], BatchEntry]:
    occurrence: dict[str, int] = {}
    out: dict[tuple[str, int], BatchEntry] = {}
    for entry in entries:
        text = _inputs_key(entry.inputs)
        n = occurrence.get(text, 0)
        occurrence[text] = n + 1
        out[(text, n)] = entry
    return out


def _change_row(change: str, before: BatchEntry | None, after: BatchEntry | None) -> dict[str, Any]:
    some = before if before is not None else after
    assert some is not None
    return {
        "source": some.source_label, "destination": some.destination_label,
        "port": some.inputs.get("port"), "protocol": some.inputs.get("protocol"),
        "change": change,
        "verdict_before": before.verdict if before else None,
        "verdict_after": after.verdict if after else None,
        "cause_before": _cause_or_error(before) if before else None,
        "cause_after": _cause_or_error(after) if after else None,
        "status_before": before.result.status if before and before.result else None,
        "status_after": after.result.status if after and after.result else None,
        "inputs": dict(some.inputs),
    }


def _json_default(value: Any) -> Any:
    item = getattr(value, "item", None)  # numpy scalars
    if callable(item):
        return item()
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


# -- building a batch -----------------------------------------------------------------------


def mesh(sources: Any, destinations: Any, ports: Any = None, **common: Any) -> list[dict[str, Any]]:
    """Every source to every destination on every port, as `check_many` entries.

    `common` (e.g. resource_group='ContosoRG', protocol='Tcp') goes into every entry. A source
    paired with itself is skipped, so one list can serve as both sides of an all-to-all mesh.
    """
    src = _as_list("sources", sources)
    dst = _as_list("destinations", destinations)
    port_list = [None] if ports is None else _as_list("ports", ports)
    reserved = sorted(set(common) & {"source", "destination", "port"})
    if reserved:
        raise ValueError(f"mesh: {', '.join(reserved)} come from the sources, destinations and "
                         "ports lists; pass the other options as keywords, e.g. "
                         "mesh(['A'], ['B'], [80], resource_group='RG')")
    unknown = sorted(set(common) - set(CHECK_KEYS))
    if unknown:
        raise ValueError(f"mesh: unknown option(s) {', '.join(map(repr, unknown))}; the options "
                         f"are {', '.join(CHECK_KEYS[3:])}")
    checks = []
    for s, d, p in itertools.product(src, dst, port_list):
        if isinstance(s, str) and isinstance(d, str) and _label(s).lower() == _label(d).lower():
            continue
        entry: dict[str, Any] = {"source": s, "destination": d}
        if p is not None:
            entry["port"] = p
        entry.update(common)
        checks.append(entry)
    return checks


def _as_list(name: str, value: Any) -> list[Any]:
    if isinstance(value, str | bytes | numbers.Number):
        return [value]
    if isinstance(value, Mapping) or not isinstance(value, Iterable):
        raise TypeError(f"mesh: {name}: expected a list, got {type(value).__name__}; e.g. "
                        "mesh(['MultiTierApp0'], ['Database0', '10.1.4.4'], [80, 443])")
    items = list(value)
    if not items:
        raise ValueError(f"mesh: {name} is empty; give at least one")
    return items


def normalize_checks(checks: Any) -> list[dict[str, Any]]:
    """A list of dicts or a DataFrame -> plain dicts of check() keywords (NaN -> None).

    Shape problems (not a list, an unknown key, a missing source) raise BatchInputError.
    """
    if _is_dataframe(checks):
        unknown = [str(c) for c in checks.columns if c not in CHECK_KEYS]
        if unknown:
            raise BatchInputError(f"checks: unknown column(s) {', '.join(map(repr, unknown))}; the "
                                  f"columns are the keywords of check(): {', '.join(CHECK_KEYS)}")
        raw: list[Any] = checks.to_dict("records")
    elif isinstance(checks, Mapping | str | bytes) or not isinstance(checks, Iterable):
        raise BatchInputError(
            f"checks: expected a list of dicts or a DataFrame, got {type(checks).__name__}; e.g. "
            "[{'source': 'MultiTierApp0', 'destination': 'Database0', 'port': 80, "
            "'resource_group': 'ContosoRG'}] (nwlab.batch.mesh builds one)")
    else:
        raw = list(checks)
    out = []
    for index, item in enumerate(raw):
        if not isinstance(item, Mapping):
            raise BatchInputError(f"checks[{index}]: expected a dict of check() keywords, got "
                                  f"{type(item).__name__}; e.g. {{'source': 'MultiTierApp0', "
                                  "'destination': '10.1.4.4', 'port': 80, 'resource_group': "
                                  "'ContosoRG'}", index)
        unknown = sorted(str(k) for k in item if k not in CHECK_KEYS)
        if unknown:
            raise BatchInputError(f"checks[{index}]: unknown key(s) {', '.join(map(repr, unknown))};"
                                  f" the keys are the keywords of check(): {', '.join(CHECK_KEYS)}",
                                  index)
        entry = {str(k): _plain(str(k), v) for k, v in item.items()}
        for required in ("source", "destination"):
            if entry.get(required) is None:
                raise BatchInputError(f"checks[{index}]: {required}: missing; every check needs a "
                                      "source VM and a destination, e.g. {'source': "
                                      "'MultiTierApp0', 'destination': '10.1.4.4', 'port': 80, "
                                      "'resource_group': 'ContosoRG'}", index)
        out.append(entry)
    return out


def _is_dataframe(value: Any) -> bool:
    return type(value).__name__ == "DataFrame" and hasattr(value, "to_dict") \
        and hasattr(value, "columns")


def _plain(key: str, value: Any) -> Any:
    """NaN/NA -> None, numpy scalars -> Python, whole floats -> int for ports."""
    if value is None:
        return None
    if not isinstance(value, str | Mapping | list | tuple):
        try:
            import pandas as pd

            if pd.isna(value):
                return None
        except (ImportError, TypeError, ValueError):
            pass
    item = getattr(value, "item", None)
    if callable(item) and type(value).__module__ == "numpy":
        value = item()
    if key in _INTEGER_KEYS and isinstance(value, float) and value.is_integer():
        value = int(value)
    return value


def validate_checks(subscription_id: str, checks: list[dict[str, Any]]) -> list[CheckSpec]:
    """build_check for every entry; the first failure raises, naming it (and any others)."""
    specs: list[CheckSpec] = []
    failures: list[tuple[int, Exception]] = []
    for index, entry in enumerate(checks):
        try:
            specs.append(build_check(subscription_id, **entry))
        except (ValueError, TypeError) as exc:
            failures.append((index, exc))
    if failures:
        index, first = failures[0]
        message = f"checks[{index}]: {first}"
        if len(failures) > 1:
            more = ", ".join(f"checks[{i}]" for i, _ in failures[1:6])
            if len(failures) > 6:
                more += f" and {len(failures) - 6} more"
            message += f" (also invalid: {more})"
        raise BatchInputError(message, index) from first
    return specs


def _concurrency(value: Any, distinct: int) -> int:
    if value is None:
        return max(1, min(DEFAULT_CONCURRENCY, distinct))
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) \
            or not 1 <= int(value) <= MAX_CONCURRENCY:
        raise BatchInputError(f"concurrency: expected an integer 1-{MAX_CONCURRENCY}, got "
                              f"{value!r}; e.g. concurrency=64 (default {DEFAULT_CONCURRENCY})")
    return max(1, min(int(value), distinct))


class FairTokenBucket(TokenBucket):
    """A token bucket that hands out tokens in arrival order, each waiter sleeping just once.

    TokenBucket.acquire makes every waiter wake when the next token is due and race for it (a
    thundering herd of all waiting threads per token); here a waiter reserves the next token
    (the balance may go negative) and sleeps until it is due. A cancelled waiter gives its
    token back.
    """

    def acquire(self, waiter: Any, cancel: Any = None) -> None:
        with self._lock:
            self._refill()
            self._tokens -= 1.0
            self.acquired += 1
            delay = -self._tokens / self.rate if self._tokens < 0 else 0.0
        if delay <= 0:
            return
        try:
            waiter.wait(delay, cancel)
        except BaseException:
            with self._lock:
                self._tokens += 1.0
                self.acquired -= 1
            raise


def make_budget(write_rate: Any) -> TokenBucket | None:
    """The batch's write budget: Azure Network's default, `write_rate` per second, or none (inf)."""
    if write_rate is None:
        return FairTokenBucket(AZURE_NETWORK_WRITES / AZURE_NETWORK_WINDOW_S,
                               capacity=AZURE_NETWORK_WRITES)
    if isinstance(write_rate, bool) or not isinstance(write_rate, numbers.Real) \
            or math.isnan(write_rate) or write_rate <= 0:
        raise BatchInputError(f"write_rate: expected a positive number of writes per second, got "
                              f"{write_rate!r}; e.g. write_rate=3.3 (Azure Network allows 1,000 "
                              "per 5 minutes, the default), or math.inf for no client-side budget")
    if math.isinf(write_rate):
        return None
    return FairTokenBucket(float(write_rate))


# -- running --------------------------------------------------------------------------------


class _Slot:
    def __init__(self) -> None:
        self.ready = threading.Event()
        self.value: str | None = None
        self.error: Exception | None = None


class WatcherCache:
    """`watcher_for` for run_spec: pre-flight once per source VM, result or error shared.

    The region's watcher comes from NetworkWatcher.find_watcher, itself one cached list call.
    """

    def __init__(self, nw: NetworkWatcher) -> None:
        self._nw = nw
        self._lock = threading.Lock()
        self._slots: dict[str, _Slot] = {}
        self.preflights = 0

    def __call__(self, spec: CheckSpec) -> str:
        key = spec.source_id.lower()
        with self._lock:
            slot = self._slots.get(key)
            owner = slot is None
            if slot is None:
                slot = self._slots[key] = _Slot()
        if owner:
            try:
                self.preflights += 1
                slot.value = self._nw.preflight(spec)
            except Exception as exc:
                slot.error = exc
            finally:
                slot.ready.set()
        else:
            slot.ready.wait()
        if slot.error is not None:
            # Re-raising one object from many threads would grow its traceback without end.
            raise slot.error.with_traceback(None)
        assert slot.value is not None
        return slot.value


@dataclass
class _Task:
    spec: CheckSpec
    indices: list[int]


class _BudgetInstall:
    """Put a batch's write budget on the client and restore the previous one afterwards.

    Batches running at the same time on one client share the first one's budget (they spend
    the same subscription's writes); the last to finish restores what was there before.
    """

    _lock: ClassVar[threading.Lock] = threading.Lock()
    _active: ClassVar[dict[int, tuple[int, Any]]] = {}

    def __init__(self, arm: Any, budget: TokenBucket | None) -> None:
        self.arm = arm
        self.budget = budget

    def __enter__(self) -> Any:
        with self._lock:
            count, previous = self._active.get(id(self.arm), (0, None))
            if count == 0:
                previous = self.arm.write_budget
                self.arm.write_budget = self.budget
            self._active[id(self.arm)] = (count + 1, previous)
            return self.arm.write_budget

    def __exit__(self, *exc: object) -> None:
        with self._lock:
            count, previous = self._active[id(self.arm)]
            if count == 1:
                self.arm.write_budget = previous
                del self._active[id(self.arm)]
            else:
                self._active[id(self.arm)] = (count - 1, previous)


def run_batch(nw: NetworkWatcher, checks: Any, *, concurrency: int | None = None,
              write_rate: float | None = None,
              on_progress: ProgressCallback | bool | None = None,
              cancel: Any = None) -> BatchResult:
    """Validate every check, then run the distinct ones concurrently; see the module docstring.

    `on_progress`: a callable gets a BatchProgress after each check (from worker threads, one
    call at a time); None shows a progress bar (a widget in a notebook, tqdm in a terminal);
    False shows nothing. `cancel`: a threading.Event; setting it stops running checks (they
    end as CheckCancelled) and records the unstarted ones as cancelled. Ctrl-C / a notebook
    interrupt does the same and returns what was done, with `stats['interrupted']` set.
    """
    inputs = normalize_checks(checks)
    specs = validate_checks(nw.subscription_id, inputs)
    if cancel is not None and not callable(getattr(cancel, "is_set", None)):
        raise BatchInputError("cancel: expected a threading.Event (anything with is_set()); e.g. "
                              "stop = threading.Event(); nw.check_many(checks, cancel=stop)")
    if on_progress is not None and not isinstance(on_progress, bool) and not callable(on_progress):
        raise BatchInputError("on_progress: expected a function taking a BatchProgress, "
                              "True/None for the default display, or False for none, got "
                              f"{type(on_progress).__name__}; e.g. nw.check_many(checks, "
                              "on_progress=lambda p: print(p.done, p.total))")
    budget = make_budget(write_rate)
    groups: dict[tuple[Any, ...], _Task] = {}
    for index, spec in enumerate(specs):
        key = spec.key()
        if key in groups:
            groups[key].indices.append(index)
        else:
            groups[key] = _Task(spec, [index])
    tasks = list(groups.values())
    workers = _concurrency(concurrency, len(tasks))
    entries = [BatchEntry(i, entry) for i, entry in enumerate(inputs)]
    total = len(entries)

    display: Any = None
    callback: ProgressCallback | None
    if on_progress is None or on_progress is True:
        from nwlab.progress import auto_progress

        display = auto_progress(total, desc="checks")
        callback = display
    elif on_progress is False:
        callback = None
    else:
        callback = on_progress

    # One scope wakes every running check at once; the user's `cancel` is forwarded to it by the
    # loop below, so hundreds of waiting checks never poll an Event each.
    stop = CancelScope()
    watcher_for = WatcherCache(nw)
    lock = threading.Lock()
    pending = iter(tasks)
    counts = dict.fromkeys(VERDICTS, 0)
    done = [0]
    finished = threading.Event()
    callback_failed = [False]
    started = time.monotonic()
    throttled_before = getattr(nw.arm, "throttled_responses", 0)

    def record(task: _Task, result: ConnectivityResult | None, error: BatchError | None,
               elapsed: float | None) -> None:
        with lock:
            for index in task.indices:
                entry = entries[index]
                entry.result, entry.error, entry.elapsed_s = result, error, elapsed
                counts[entry.verdict] += 1
                done[0] += 1
                if callback is not None and not callback_failed[0]:
                    try:
                        callback(BatchProgress(done[0], total, entry, dict(counts),
                                               time.monotonic() - started))
                    except Exception as exc:  # a broken display must not lose results
                        callback_failed[0] = True
                        warnings.warn(f"check_many: on_progress failed and is ignored from now "
                                      f"on: {exc!r}", RuntimeWarning, stacklevel=1)
            if done[0] >= total:
                finished.set()

    go = threading.Event()

    def work() -> None:
        # Wait until every worker exists: starting threads while others already run would
        # make each start() wait for the GIL behind busy workers (5 ms each, 1 s for 200).
        go.wait()
        while True:
            with lock:
                task = next(pending, None)
            if task is None:
                return
            if cancel is not None and cancel.is_set():
                stop.set()  # the monitor loop forwards it too; a worker must not start first
            if stop.is_set():
                record(task, None, BatchError(CheckCancelled.__name__, CANCELLED_BEFORE_START),
                       None)
                continue
            t0 = time.monotonic()
            try:
                result = nw.run_spec(task.spec, cancel=stop, watcher_for=watcher_for)
            except Exception as exc:  # every check ends as a result or a recorded error
                record(task, None, BatchError.from_exception(exc),
                       round(time.monotonic() - t0, 3))
            else:
                record(task, result, None, round(time.monotonic() - t0, 3))

    interrupted = False
    threads: list[threading.Thread] = []
    with _BudgetInstall(nw.arm, budget) as installed:
        try:
            if total == 0:
                finished.set()
            for n in range(workers):
                thread = threading.Thread(target=work, name=f"nwlab-batch-{n}", daemon=True)
                thread.start()
                threads.append(thread)
            go.set()
            while not finished.wait(0.05 if cancel is not None else 0.2):
                if cancel is not None and cancel.is_set():
                    stop.set()
                if not any(t.is_alive() for t in threads):
                    break
        except KeyboardInterrupt:
            interrupted = True
            stop.set()
        finally:
            # On an interrupt (or any failure here) stop the rest and let running checks end.
            if not finished.is_set():
                stop.set()
            go.set()
            while True:
                try:
                    for thread in threads:
                        thread.join()
                    break
                except KeyboardInterrupt:  # a second Ctrl-C while draining: keep draining
                    interrupted = True
                    stop.set()
            if display is not None:
                display.close()
    for task in tasks:  # a worker that died unexpectedly must not leave holes
        for index in task.indices:
            if not entries[index].done:
                entries[index].error = BatchError(CheckCancelled.__name__, CANCELLED_BEFORE_START)
    wall = time.monotonic() - started
    stats = {
        "wall_s": round(wall, 3), "checks": total, "distinct": len(tasks),
        "deduplicated": total - len(tasks), "concurrency": workers,
        "write_rate": installed.rate if installed is not None else None,
        "preflights": watcher_for.preflights,
        "throttled_responses": getattr(nw.arm, "throttled_responses", 0) - throttled_before,
        "cancelled": sum(1 for e in entries if e.verdict == "cancelled"),
        "interrupted": interrupted,
    }
    batch = BatchResult(entries, stats)
    if interrupted:
        warnings.warn(f"check_many was interrupted: {batch.summary()}; the result holds every "
                      "check, the unfinished ones as cancelled.", RuntimeWarning, stacklevel=2)
    return batch


__all__ = ["DEFAULT_CONCURRENCY", "BatchEntry", "BatchError", "BatchInputError", "BatchProgress",
           "BatchResult", "WatcherCache", "make_budget", "mesh", "normalize_checks", "run_batch",
           "validate_checks", "verdict_of"]
