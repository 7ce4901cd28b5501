"""`python -m nwlab mesh`: every source to every destination on every port, as one batch.

    python -m nwlab mesh --sources MultiTierApp0 WebVM0 --dests Database0 10.1.4.4 \\
        --ports 80 443 -g ContosoRG --emulate --out results.jsonl

Prints a summary table; exit status 0 when every check ran (reachable or not), 1 when any
ended in an error, 2 for bad input, 130 when interrupted (what finished is still written).
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Callable
from typing import Any

EXIT_OK = 0
EXIT_ERRORS = 1
EXIT_INTERRUPTED = 130

SUMMARY_COLUMNS = ["source", "destination", "port", "verdict", "status", "avg_latency_ms",
                   "probe_loss", "cause", "error"]


def _write_rate(text: str) -> float:
    if text.strip().lower() in ("none", "inf", "unlimited"):
        return math.inf
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of writes per second; e.g. "
                                         "--write-rate 3.3 (or 'none' for no client budget)") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{text!r}: the write rate must be positive; e.g. 3.3")
    return value


def add_mesh_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register `mesh` on the top-level parser's subparsers."""
    from nwlab.cli import _backend_args

    mesh = subparsers.add_parser(
        "mesh", help="run every source to every destination on every port",
        description="Run a mesh of checks concurrently within the write budget and save them "
                    "as JSON lines.")
    mesh.add_argument("--sources", nargs="+", required=True, metavar="VM",
                      help="source VM names (with -g) or VM resource ids")
    mesh.add_argument("--dests", nargs="+", required=True, metavar="DEST",
                      help="destinations: VM names or ids, IP addresses, host names or URLs")
    mesh.add_argument("--ports", nargs="+", type=int, metavar="PORT",
                      help="destination ports (omit for URL destinations or Icmp)")
    mesh.add_argument("-g", "--resource-group", help="resource group of VM names")
    mesh.add_argument("--protocol", help="Tcp, Http, Https or Icmp")
    mesh.add_argument("--timeout", type=float, default=600.0, help="seconds per check (default 600)")
    mesh.add_argument("--concurrency", type=int, default=None,
                      help="checks in flight at once (default 256)")
    mesh.add_argument("--write-rate", type=_write_rate, default=None, metavar="R",
                      help="client write budget in writes per second (default: Azure Network's "
                           "1,000 per 5 minutes; 'none' for no client budget)")
    mesh.add_argument("--out", metavar="FILE", help="write the results as JSON lines")
    mesh.add_argument("--no-progress", action="store_true", help="no progress bar")
    _backend_args(mesh)
    return mesh


def build_checks(args: argparse.Namespace) -> list[dict[str, Any]]:
    from nwlab.batch import mesh

    common: dict[str, Any] = {"timeout": args.timeout}
    if args.resource_group:
        common["resource_group"] = args.resource_group
    if args.protocol:
        common["protocol"] = args.protocol
    return mesh(args.sources, args.dests, args.ports, **common)


def summary_table(batch: Any) -> str:
    """The frame's key columns as text, blanks for missing values."""
    import pandas as pd

    frame = batch.frame()[SUMMARY_COLUMNS].copy()
    frame["probe_loss"] = [("" if pd.isna(v) else f"{v:.0%}") for v in frame["probe_loss"]]
    text: str = frame.to_string(index=False, na_rep="", max_colwidth=70)
    return text


def run_mesh(args: argparse.Namespace, make_client: Callable[[argparse.Namespace], Any]) -> int:
    """Build the mesh, run it, print the table, write --out; return the exit status."""
    checks = build_checks(args)
    if not checks:
        raise ValueError("mesh: no checks to run (every source is also the only destination)")
    nw = make_client(args)
    try:
        progress: Any = False
        if not args.no_progress:
            from nwlab.progress import TqdmProgress

            progress = TqdmProgress(len(checks), desc="mesh")
        try:
            batch = nw.check_many(checks, concurrency=args.concurrency,
                                  write_rate=args.write_rate, on_progress=progress)
        finally:
            if progress is not False:
                progress.close()
    finally:
        nw.close()
    print(summary_table(batch))
    print()
    stats = batch.stats
    print(f"{batch.summary()} in {stats.get('wall_s', 0):.1f} s "
          f"({stats.get('distinct', len(batch))} distinct, "
          f"{stats.get('throttled_responses', 0)} throttled responses)")
    if args.out:
        path = batch.save(args.out)
        print(f"wrote {len(batch)} results to {path}")
    if stats.get("interrupted"):
        print("nwlab: stopped; unfinished checks are recorded as cancelled", file=sys.stderr)
        return EXIT_INTERRUPTED
    return EXIT_OK if batch.ok else EXIT_ERRORS


__all__ = ["add_mesh_parser", "build_checks", "run_mesh", "summary_table"]
