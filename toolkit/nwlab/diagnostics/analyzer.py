"""ConnectionAnalyzerResult: the answer of `connectionAnalyzers/{name}/query` (Network API
2026-01-01, reference §8.3), which runs next hop, NSG, port scan and connectivity tests as one
resource. Each operation's `result` is a JSON *string* whose shape the spec does not give; it is
kept as sent and also offered parsed (`data`)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Self

from nwlab.diagnostics._wire import Field, Wire, nested_list, text
from nwlab.diagnostics.render import table_frame, table_html, table_text

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

__all__ = ["DIAGNOSTIC_OPERATIONS", "AnalyzerOperationResult", "ConnectionAnalyzerResult"]

DIAGNOSTIC_OPERATIONS = ("NextHop", "NSG", "PortScan", "ConnectivityCheck", "ExpressRouteDiagnostic")


@dataclass(frozen=True)
class AnalyzerOperationResult(Wire):
    """One operation of the bundle: its name, its error (a string) and its result (a JSON string)."""

    diagnostic_operation: str = ""
    error: str | None = None
    result: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    _present: frozenset[str] = field(default=frozenset(), compare=False, repr=False)

    FIELDS: ClassVar[tuple[Field, ...]] = (
        Field("diagnosticOperation", "diagnostic_operation", text), Field("error", "error", text),
        Field("result", "result", text))

    @property
    def data(self) -> Any:
        """`result` parsed as JSON; None when absent or not JSON (kept as text in `result`)."""
        if not self.result:
            return None
        try:
            return json.loads(self.result)
        except ValueError:
            return None


@dataclass(frozen=True)
class ConnectionAnalyzerResult(Wire):
    """ConnectionAnalyzerQueryStatusResult: the bundle's status and each operation's result."""

    id: str = ""
    status: str = ""
    error: str | None = None
    output_storage_path: str | None = None
    expiry_in_utc: str | None = None
    operations: tuple[AnalyzerOperationResult, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)
    _present: frozenset[str] = field(default=frozenset(), compare=False, repr=False)

    FIELDS: ClassVar[tuple[Field, ...]] = (
        Field("id", "id", text), Field("connectionAnalyzerStatus", "status", text),
        Field("error", "error", text), Field("outputStoragePath", "output_storage_path", text),
        Field("expiryInUtc", "expiry_in_utc", text),
        nested_list("diagnosticOperationResults", "operations", AnalyzerOperationResult))
    COLUMNS: ClassVar[tuple[str, ...]] = ("operation", "error", "result")

    @classmethod
    def from_dict(cls, data: Any, *, meta: dict[str, Any] | None = None) -> Self:
        return cls(**cls.parse_fields(data), meta=dict(meta or {}))

    @property
    def succeeded(self) -> bool:
        return self.status.lower() == "succeeded"

    def operation(self, name: str) -> AnalyzerOperationResult | None:
        """The result of one operation by name (NextHop, NSG, PortScan, ConnectivityCheck...)."""
        for op in self.operations:
            if op.diagnostic_operation.lower() == name.lower():
                return op
        return None

    def rows(self) -> list[dict[str, Any]]:
        return [{"operation": op.diagnostic_operation, "error": op.error, "result": op.result}
                for op in self.operations]

    def summary(self) -> str:
        error = f": {self.error}" if self.error else ""
        return f"Connection analyzer {self.status or 'Unknown'}{error}"

    def frame(self) -> pd.DataFrame:
        return table_frame(self.COLUMNS, self.rows())

    def __str__(self) -> str:
        return table_text(self.summary(), self.COLUMNS, self.rows())

    def _repr_html_(self) -> str:
        return table_html("connection-analyzer", self.summary(), self.COLUMNS, self.rows(),
                          marked=[bool(op.error) for op in self.operations])
