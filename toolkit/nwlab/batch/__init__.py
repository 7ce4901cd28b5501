"""Many checks at once: `nw.check_many(...)` and what it returns.

Where things are:
- result.py  BatchEntry, BatchError, BatchResult (frame, figures, save/load, compare),
             BatchProgress, the table columns; data only, it imports no runner and no client.
- inputs.py  mesh(), normalize_checks(), validate_checks(), BatchInputError.
- estimate.py  how long a batch takes: Estimate (up front, a lower bound), the running ETA.
- runner.py  run_batch(), estimate_checks(), against the small BatchClient protocol (not the
             watcher module); the write budget it installs lives in nwlab.arm.throttle.
The verdicts and their marks are nwlab.verdict's. Every public name stays importable from
nwlab.batch, where it always was.
"""

from __future__ import annotations

from nwlab.arm.throttle import FairTokenBucket
from nwlab.batch.estimate import Estimate, estimate_batch, eta_seconds, human_duration
from nwlab.batch.inputs import CHECK_KEYS, BatchInputError, mesh, normalize_checks, validate_checks
from nwlab.batch.result import (
    CANCELLED_BEFORE_START,
    COMPARE_COLUMNS,
    FRAME_COLUMNS,
    TABLE_COLUMNS,
    VERDICTS,
    BatchEntry,
    BatchError,
    BatchFileError,
    BatchProgress,
    BatchResult,
    ProgressCallback,
    count_text,
    frame_html,
    verdict_of,
)
from nwlab.batch.runner import (
    DEFAULT_CONCURRENCY,
    MAX_CONCURRENCY,
    BatchClient,
    WatcherCache,
    estimate_checks,
    make_budget,
    run_batch,
)

__all__ = ["CANCELLED_BEFORE_START", "CHECK_KEYS", "COMPARE_COLUMNS", "DEFAULT_CONCURRENCY",
           "FRAME_COLUMNS", "MAX_CONCURRENCY", "TABLE_COLUMNS", "VERDICTS", "BatchClient",
           "BatchEntry", "BatchError", "BatchFileError", "BatchInputError", "BatchProgress",
           "BatchResult", "Estimate", "FairTokenBucket", "ProgressCallback", "WatcherCache",
           "count_text", "estimate_batch", "estimate_checks", "eta_seconds", "frame_html",
           "human_duration", "make_budget", "mesh", "normalize_checks", "run_batch",
           "validate_checks", "verdict_of"]
