"""The results of a batch: BatchEntry, BatchError, BatchResult, BatchProgress.

Data only: these types know the model (ConnectivityResult) and the verdict words (nwlab.verdict),
never the runner or the client that produced them, so progress displays, reports, figures and
forms can import them without importing the code that acts on them. `frame()` is the one table a
batch becomes; the figures (viz.batch) and the form draw from it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nwlab.arm.errors import CheckCancelled, NwlabError
from nwlab.arm.ids import parse_resource_id
from nwlab.model import ConnectivityResult
from nwlab.verdict import MARKS, VERDICTS, count_text, verdict_of

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd
    import plotly.graph_objects as go

    from nwlab.monitor import Monitor
    from nwlab.redact import Redactor

CANCELLED_BEFORE_START = "The batch was cancelled before this check started."

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

    @property
    def estimate(self) -> str | None:
        """What check_many said before the first check, e.g. `3,000 checks: at least 10 minutes
        at Azure's write budget (...)` (stats['estimate']; its seconds are stats['estimate_s'])."""
        value = self.stats.get("estimate")
        return value if isinstance(value, str) else None

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
            f'border:1px solid #88888888;border-radius:10px">{MARKS[v]} {count_text(v, n)}</span>'
            for v, n in counts.items() if n)
        noun = "check" if len(self.entries) == 1 else "checks"
        table = frame_html(self.frame()[TABLE_COLUMNS])
        return (f'<div class="nwlab-batch"><div style="margin:4px 0"><strong>'
                f"{len(self.entries)} {noun}</strong> {badges}</div>{table}</div>")

    def to_monitor(self, name: str, nw: Any, *, workspace: str | None = None,
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


__all__ = ["CANCELLED_BEFORE_START", "COMPARE_COLUMNS", "FRAME_COLUMNS", "TABLE_COLUMNS",
           "VERDICTS", "BatchEntry", "BatchError", "BatchFileError", "BatchProgress",
           "BatchResult", "ProgressCallback", "count_text", "frame_html", "verdict_of"]
