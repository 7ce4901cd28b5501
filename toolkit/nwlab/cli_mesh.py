"""`python -m nwlab mesh`: every source to every destination on every port, as one batch.
(Its flags are declared with the rest of the command line, in cli.py.)

    python -m nwlab mesh --sources MultiTierApp0 WebVM0 --dests Database0 10.1.4.4 \\
        --ports 80 443 -g ContosoRG --emulate --out results.jsonl

Prints a summary table; exit status 0 when every check ran (reachable or not), 1 when any
ended in an error or --out could not be written (the results are then saved elsewhere, and the
message says where), 2 for bad input, 130 when interrupted (what finished is still written).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

EXIT_OK = 0
EXIT_ERRORS = 1
EXIT_INTERRUPTED = 130

SUMMARY_COLUMNS = ["source", "destination", "port", "verdict", "status", "avg_latency_ms",
                   "probe_loss", "cause", "error"]


def add_mesh_arguments(parser: argparse.ArgumentParser,
                       port_type: Callable[[str], Any]) -> None:
    """What a mesh is made of, as flags: `mesh` runs it, `monitor create` promotes it (one
    home, so both commands spell and explain them alike)."""
    parser.add_argument("--sources", nargs="+", required=True, metavar="VM",
                        help="source VM names (with -g) or VM resource ids")
    parser.add_argument("--dests", nargs="+", required=True, metavar="DEST",
                        help="destinations: VM names or ids, IP addresses, host names or URLs")
    parser.add_argument("--ports", nargs="+", type=port_type, metavar="PORT",
                        help="destination ports (omit for URL destinations or Icmp)")
    parser.add_argument("-g", "--resource-group", help="resource group of VM names")
    parser.add_argument("--protocol", help="Tcp, Http, Https or Icmp")


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
        if args.no_progress:
            # Said up front all the same, as the first line of the report on stdout (stderr
            # stays for errors, one line each); with progress on, the display's first line on
            # stderr says it.
            from nwlab.batch import estimate_checks

            estimate = estimate_checks(nw, checks, concurrency=args.concurrency,
                                       write_rate=args.write_rate)
            print(estimate, flush=True)
        # None: check_many's own display (tqdm on a terminal, plain lines in a log).
        batch = nw.check_many(checks, concurrency=args.concurrency, write_rate=args.write_rate,
                              on_progress=False if args.no_progress else None)
    finally:
        nw.close()
    print(summary_table(batch))
    print()
    stats = batch.stats
    print(f"{batch.summary()} in {stats.get('wall_s', 0):.1f} s "
          f"({stats.get('distinct', len(batch))} distinct, "
          f"{stats.get('throttled_responses', 0)} throttled responses)")
    saved = save_results(batch, args.out) if args.out else True
    if stats.get("interrupted"):
        print("nwlab: stopped; unfinished checks are recorded as cancelled", file=sys.stderr)
        return EXIT_INTERRUPTED
    return EXIT_OK if batch.ok and saved else EXIT_ERRORS


def save_results(batch: Any, out: str) -> bool:
    """Write the batch to `out`; when that fails (a full disk, a folder removed meanwhile), keep
    the results anyway: in a temporary file, or else on stdout. True when `out` was written."""
    try:
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        path = batch.save(out)
    except OSError as exc:
        reason = exc.strerror or str(exc)
    else:
        print(f"wrote {len(batch)} results to {path}")
        return True
    try:
        fd, spare = tempfile.mkstemp(prefix="nwlab-mesh-", suffix=".jsonl")
        os.close(fd)
        batch.save(spare)
    except OSError:
        print(f"nwlab: error: --out: cannot write {out!r} ({reason}), nor a temporary file; the "
              "results follow as JSON lines", file=sys.stderr)
        for entry in batch.entries:
            print(json.dumps(entry.to_dict(), sort_keys=True, default=str))
        return False
    print(f"nwlab: error: --out: cannot write {out!r} ({reason}); saved the {len(batch)} results "
          f"to {spare} instead", file=sys.stderr)
    return False


__all__ = ["build_checks", "run_mesh", "save_results", "summary_table"]
