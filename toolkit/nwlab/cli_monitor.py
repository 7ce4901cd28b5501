"""`python -m nwlab monitor create|list|results|delete`: a mesh as an Azure Connection Monitor,
and what it found. (The subcommand is declared in cli.py's one parser by `add_parser`.)

    python -m nwlab monitor create web-mesh --sources WebVM0 --dests Database0 --ports 80 1433 \\
        -g ContosoRG --workspace /subscriptions/.../workspaces/nwlab-law --subscription ...
    python -m nwlab monitor list
    python -m nwlab monitor results web-mesh --since 1h
    python -m nwlab monitor delete web-mesh

Exit status as the other subcommands: 0 done, 1 the service refused or failed (one line), 2 bad
input (one line naming the flag), 130 interrupted. Against a standalone emulator, pass its
endpoint and token (--arm-endpoint, --token) and its Log Analytics origin and token
(--log-analytics-endpoint, --log-analytics-token): each token goes to its own origin only.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable
from typing import Any

from nwlab.cli_mesh import add_mesh_arguments

RESULT_COLUMNS = ["time", "source", "destination", "configuration", "test_result",
                  "checks_failed_percent", "round_trip_time_ms"]
LIST_COLUMNS = ["name", "region", "provisioning_state", "monitoring_status", "tests",
                "workspace"]
# What the library's messages call the monitor's inputs, as flags.
MONITOR_FLAGS = {"frequency_s": "--frequency", "workspace": "--workspace", "since": "--since",
                 "name": "NAME", "checks_or_batch": "--sources/--dests"}


def add_parser(sub: Any, backend_args: Callable[[argparse.ArgumentParser], None],
               port_type: Callable[[str], Any]) -> None:
    """`monitor` and its four actions, each with the backend flags."""
    monitor = sub.add_parser("monitor", help="promote a mesh to Azure Connection Monitor and "
                                             "read its results back")
    actions = monitor.add_subparsers(dest="monitor_command", required=True,
                                     parser_class=type(monitor))
    create = actions.add_parser("create", help="create (or replace) a monitor from a mesh")
    create.add_argument("name", metavar="NAME", help="the monitor's name, e.g. web-mesh")
    add_mesh_arguments(create, port_type)
    create.add_argument("--workspace", help="Log Analytics workspace resource id for the logs")
    create.add_argument("--frequency", type=_whole("--frequency", "60"), default=60,
                        metavar="SECONDS", help="seconds between tests, 30-1800 (default 60)")
    create.add_argument("--checks-failed-percent", type=_whole("--checks-failed-percent", "10"),
                        metavar="N", help="a test fails above this share of failed checks")
    create.add_argument("--rtt-ms", type=_positive("--rtt-ms", "100"), metavar="MS",
                        help="a test fails above this round-trip time")
    listing = actions.add_parser("list", help="every connection monitor of the subscription")
    results = actions.add_parser("results", help="a monitor's results, one row per test and "
                                                 "minute")
    results.add_argument("name", metavar="NAME")
    results.add_argument("--since", default="1h", help="window back from now: 30m, 1h, 2d "
                                                       "(default 1h)")
    delete = actions.add_parser("delete", help="delete a monitor in every region")
    delete.add_argument("name", metavar="NAME")
    for parser in (create, listing, results, delete):
        backend_args(parser)
        parser.add_argument("--log-analytics-endpoint", metavar="URL",
                            default=os.environ.get("NWLAB_LOG_ANALYTICS_ENDPOINT"),
                            help="Log Analytics query origin when the ARM endpoint is not a "
                                 "cloud's own (the emulator prints it)")
        parser.add_argument("--log-analytics-token", metavar="TOKEN",
                            default=os.environ.get("NWLAB_LOG_ANALYTICS_TOKEN"),
                            help="bearer token for Log Analytics (with --token; the emulator "
                                 "prints it; default: $NWLAB_LOG_ANALYTICS_TOKEN)")


def _whole(flag: str, example: str) -> Callable[[str], int]:
    def parse(text: str) -> int:
        if not text.strip().isdigit():
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number; e.g. {flag} "
                                             f"{example}")
        return int(text)

    parse.__name__ = flag
    return parse


def _positive(flag: str, example: str) -> Callable[[str], float]:
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = float("nan")
        if not value > 0 or value == float("inf"):
            raise argparse.ArgumentTypeError(f"{text!r} is not a positive number; e.g. {flag} "
                                             f"{example}")
        return value

    parse.__name__ = flag
    return parse


class _ScopedTokens:
    """Two static tokens, each for its own scope: the Log Analytics one for its scope only."""

    def __init__(self, arm: str, log_analytics: str) -> None:
        self.arm, self.log_analytics = arm, log_analytics

    def get_token(self, *scopes: str, **kwargs: Any) -> Any:
        from nwlab.arm.auth import StaticTokenCredential

        la = any("loganalytics" in s.lower() for s in scopes)
        return StaticTokenCredential(self.log_analytics if la else self.arm).get_token(*scopes)


def _client(args: argparse.Namespace, make_client: Callable[[argparse.Namespace], Any]) -> Any:
    if args.log_analytics_token and not args.token:
        raise ValueError("--log-analytics-token: give --token too (the ARM token); without "
                         "both, azure-identity asks for each scope")
    if args.log_analytics_token and args.replay is None and args.emulate is None:
        import nwlab

        if not args.subscription:
            raise ValueError("--subscription: needed with --token, e.g. --subscription "
                             "00000000-0000-0000-0000-000000000000")
        nw = nwlab.connect(args.subscription, credential=_ScopedTokens(
            args.token, args.log_analytics_token), cloud=args.cloud,
            arm_endpoint=args.arm_endpoint)
    else:
        nw = make_client(args)
    if args.log_analytics_endpoint:
        nw.log_analytics_endpoint = args.log_analytics_endpoint
    return nw


def run_monitor(args: argparse.Namespace,
                make_client: Callable[[argparse.Namespace], Any]) -> int:
    """One monitor action; returns the exit status (errors propagate to cli._run's handlers)."""
    checks = _checks(args) if args.monitor_command == "create" else None
    thresholds = None
    if args.monitor_command == "create":
        thresholds = {k: v for k, v in (("checks_failed_percent", args.checks_failed_percent),
                                        ("round_trip_time_ms", args.rtt_ms)) if v is not None}
    if args.monitor_command == "results":
        from nwlab.monitor.window import timespan_of

        timespan_of(args.since)  # a bad --since is refused before any request
    nw = _client(args, make_client)
    try:
        if args.monitor_command == "create":
            started = time.monotonic()
            m = nw.monitor(checks, args.name, workspace=args.workspace,
                           frequency_s=args.frequency, thresholds=thresholds or None)
            regions = ", ".join(p.region for p in m.plans)
            print(f"created {m.name}: {len(m.tests)} tests in {regions} "
                  f"({time.monotonic() - started:.1f} s)")
            for warning in m.warnings:
                print(f"warning: {warning}")
            print(m.tests_frame()[["region", "group", "source", "destination",
                                   "configuration"]].to_string(index=False))
        elif args.monitor_command == "list":
            frame = nw.list_monitors()
            print("no connection monitors" if frame.empty else
                  frame[LIST_COLUMNS].to_string(index=False, na_rep=""))
        elif args.monitor_command == "results":
            from nwlab.monitor import Monitor

            res = Monitor.find(nw, args.name).results(since=args.since)
            frame = res.frame()
            for warning in res.warnings:
                print(f"warning: {warning}")
            if frame.empty:
                from nwlab.monitor.results import EMPTY_REASON

                print(EMPTY_REASON)
            else:
                print(frame[RESULT_COLUMNS].to_string(index=False, na_rep=""))
        else:
            from nwlab.monitor import Monitor

            Monitor.find(nw, args.name).delete()
            print(f"deleted {args.name}")
    finally:
        nw.close()
    return 0


def _checks(args: argparse.Namespace) -> list[dict[str, Any]]:
    from nwlab.batch import mesh

    common: dict[str, Any] = {}
    if args.resource_group:
        common["resource_group"] = args.resource_group
    if args.protocol:
        common["protocol"] = args.protocol
    checks = mesh(args.sources, args.dests, args.ports, **common)
    if not checks:
        raise ValueError("--sources/--dests: no checks (every source is also the only "
                         "destination); give another destination")
    return list(checks)
