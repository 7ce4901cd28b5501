"""`python -m nwlab ...`: run a check or a mesh, take a snapshot, serve the emulator.

The one parser of the command line. Errors print one line naming the flag to change, never a
traceback; a closed stdout (`| head -1`) ends the command quietly.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import json
import math
import os
import re
import shlex
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from nwlab._version import __version__
from nwlab.arm.errors import NwlabError
from nwlab.cli_mesh import add_mesh_arguments

EXIT_BAD_INPUT = 2
EXIT_FAILED = 1
EXIT_INTERRUPTED = 130
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE, what a shell reports for a reader that went away

# The library's messages name check()'s keyword arguments (and connect()'s); on the command line
# the same input is a flag. One table, so every message speaks the CLI's language.
FLAGS = {"source": "--source", "destination": "--dest", "port": "--port", "resource_group": "-g",
         "protocol": "--protocol", "source_port": "--source-port", "ip_version": "--ip-version",
         "watcher": "--watcher", "timeout": "--timeout", "subscription_id": "--subscription",
         "cloud": "--cloud", "arm_endpoint": "--arm-endpoint", "credential": "--token",
         "cassettes": "--replay", "topology": "--emulate", "concurrency": "--concurrency",
         "write_rate": "--write-rate"}
MESH_FLAGS = {**FLAGS, "source": "--sources", "destination": "--dests", "port": "--ports"}
# Calls a library message suggests, and the flag that does the same.
CALL_FLAGS = {"nwlab.replay": "--replay", "nwlab.emulate": "--emulate",
              "nwlab.connect": "--subscription"}
_CALL = re.compile(r"(?P<call>nwlab\.(?:replay|emulate|connect))\((?P<arg>'[^']*'|\"[^\"]*\")?\)")
_KEYWORD = re.compile(r"(?<![\w-])(?P<name>[a-z_]+)=(?P<value>'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"|"
                      r"[\w.+-]+)?")
_LEADING_FIELD = re.compile(r"^(?:checks\[\d+\]: )?(?P<name>[a-z_]+): ")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> Any:  # argparse's own usage errors: one line, exit 2
        words = self.prog.split()
        command = f"{words[-1]} " if len(words) > 1 else ""
        hint = f"see `python -m nwlab {command}--help`"
        self.exit(EXIT_BAD_INPUT, f"nwlab: error: {message} ({hint})\n")


def _int_or_text(value: str) -> int | str:
    """Whole numbers become ints; anything else (a word, 5,000 digits int() would refuse) goes
    on to check(), whose refusal names the field and shows an example, so the CLI says what the
    Python API says, in flags (cli_message)."""
    text = value.strip()
    return int(text) if text.lstrip("+-").isdigit() and len(text) <= 20 else value


def cli_message(message: str, flags: dict[str, str] = FLAGS) -> str:
    """A library message in the CLI's words: `port: ... e.g. port=443` becomes
    `--port: ... e.g. --port 443`, `resource_group='ContosoRG'` becomes `-g ContosoRG`."""
    lead = _LEADING_FIELD.match(message)
    if lead and lead.group("name") in flags:
        message = f"{flags[lead.group('name')]}: {message[lead.end():]}"

    def keyword(match: re.Match[str]) -> str:
        name, value = match.group("name"), match.group("value")
        if name not in flags:
            return match.group(0)
        if value is None:
            return flags[name]
        if value[:1] in "'\"":
            with contextlib.suppress(ValueError, SyntaxError):
                value = shlex.quote(str(ast.literal_eval(value)))
        return f"{flags[name]} {value}"

    def call(match: re.Match[str]) -> str:
        flag, arg = CALL_FLAGS[match.group("call")], match.group("arg")
        return f"{flag} {shlex.quote(str(ast.literal_eval(arg)))}" if arg else flag

    message = _CALL.sub(call, _KEYWORD.sub(keyword, message))
    # Bare keyword names in prose ("a VM name with resource_group"); only those with an
    # underscore, since "source" or "port" are also plain words.
    for name, flag in flags.items():
        if "_" in name:
            message = re.sub(rf"(?<![\w-]){name}(?![\w=])", flag, message)
    return message


def _writable_out(text: str) -> str:
    """An argparse type for --out: refuse, before anything runs, a path that cannot be written."""
    path = Path(text)
    if path.is_dir():
        raise argparse.ArgumentTypeError(f"{text!r} is a folder; name a file in it, e.g. --out "
                                         f"{shlex.quote(str(path / 'results.jsonl'))}")
    ancestor = path.parent
    while not ancestor.exists() and ancestor != ancestor.parent:
        ancestor = ancestor.parent  # missing folders are created on write
    if not ancestor.is_dir():
        raise argparse.ArgumentTypeError(f"{text!r} is inside {str(ancestor)!r}, which is a file, "
                                         "not a folder; e.g. --out results.jsonl")
    if not os.access(ancestor, os.W_OK | os.X_OK) or (path.exists() and not os.access(path, os.W_OK)) \
            or not _can_create_in(ancestor):
        raise argparse.ArgumentTypeError(f"{text!r} cannot be written here (permission denied); "
                                         "e.g. --out results.jsonl in a folder of yours")
    return text


def _can_create_in(folder: Path) -> bool:
    """Whether a file can really be created in `folder`: os.access says yes to root on a
    read-only or pseudo file system (/proc), where the write would fail only after the work."""
    try:
        with tempfile.TemporaryFile(dir=folder):
            return True
    except OSError:
        return False


def _write_rate(text: str) -> float:
    if text.strip().lower() in ("none", "inf", "unlimited"):
        return math.inf
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of writes per second; e.g. "
                                         "--write-rate 3.3 (or 'none' for no client budget)") from None
    if not value > 0:  # nan too
        raise argparse.ArgumentTypeError(f"{text!r}: the write rate must be positive; e.g. 3.3")
    return value


def _backend_args(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("backend (default: live Azure)")
    mode = group.add_mutually_exclusive_group()
    mode.add_argument("--replay", nargs="?", const="", metavar="CASSETTES",
                      help="answer from recordings (the bundled documented checks when no folder is given)")
    mode.add_argument("--emulate", nargs="?", const="", metavar="TOPOLOGY",
                      help="answer from the local emulator (the bundled Contoso network by default)")
    group.add_argument("--subscription", default=os.environ.get("AZURE_SUBSCRIPTION_ID"),
                       help="subscription id for live Azure (default: $AZURE_SUBSCRIPTION_ID)")
    group.add_argument("--cloud", default="AzureCloud",
                       help="AzureCloud, AzureUSGovernment or AzureChinaCloud")
    group.add_argument("--arm-endpoint", help="override the ARM endpoint URL")
    group.add_argument("--token", default=os.environ.get("NWLAB_ARM_TOKEN"),
                       help="a bearer token to present instead of azure-identity's (e.g. the one "
                            "`python -m nwlab emulator` prints; default: $NWLAB_ARM_TOKEN)")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="nwlab", description="Azure Network Watcher connection troubleshoot.")
    parser.add_argument("--version", action="version", version=f"nwlab {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    check = sub.add_parser("check", help="run one connectivity check")
    check.add_argument("--source", required=True, help="source VM name (with -g) or VM resource id")
    check.add_argument("--dest", required=True,
                       help="destination: VM name or id, IP address, host name or URL")
    check.add_argument("--port", type=_int_or_text, help="destination port")
    check.add_argument("-g", "--resource-group", help="resource group of VM names")
    check.add_argument("--protocol", help="Tcp, Http, Https or Icmp")
    check.add_argument("--source-port", type=_int_or_text)
    check.add_argument("--ip-version", help="IPv4 or IPv6")
    check.add_argument("--watcher", help="Network Watcher resource id (skips discovery)")
    check.add_argument("--timeout", type=float, default=600.0)
    check.add_argument("--json", action="store_true", help="print the raw result as JSON")
    _backend_args(check)

    mesh = sub.add_parser(
        "mesh", help="run every source to every destination on every port",
        description="Run a mesh of checks concurrently within the write budget and save them "
                    "as JSON lines.")
    add_mesh_arguments(mesh, _int_or_text)
    mesh.add_argument("--timeout", type=float, default=600.0, help="seconds per check (default 600)")
    mesh.add_argument("--concurrency", type=int, default=None,
                      help="checks in flight at once (default 256)")
    mesh.add_argument("--write-rate", type=_write_rate, default=None, metavar="R",
                      help="a fixed client write budget in writes per second (default: Azure "
                           "Network's 1,000 per 5 minutes, adapted to ARM's remaining-writes "
                           "count and 429s; 'none' for no client budget)")
    mesh.add_argument("--out", metavar="FILE", type=_writable_out,
                      help="write the results as JSON lines")
    mesh.add_argument("--no-progress", action="store_true", help="no progress bar")
    _backend_args(mesh)

    snapshot = sub.add_parser("snapshot", help="write the network in scope as an emulator "
                                               "topology (for offline what-if)")
    snapshot.add_argument("-g", "--resource-group", help="limit to one resource group")
    snapshot.add_argument("--out", required=True, type=_writable_out, help="topology file to write")
    snapshot.add_argument("--keep-subscription", action="store_true",
                          help="keep the real subscription id (default: zeros)")
    _graph_snapshot_args(snapshot)
    _backend_args(snapshot)

    from nwlab.cli_monitor import add_parser as add_monitor_parser

    add_monitor_parser(sub, _backend_args, _int_or_text)
    from nwlab.cli_diagnose import add_parser as add_diagnose

    add_diagnose(sub, _backend_args, _int_or_text)

    # Listed for --help only: main() hands `emulator ...` to the emulator's own parser, because
    # argparse's REMAINDER does not take options that come first (`emulator --port 8080`).
    sub.add_parser("emulator", help="serve the local Network Watcher emulator: --topology FILE "
                                    "--port N (see `python -m nwlab emulator --help`)")
    return parser


def make_client(args: argparse.Namespace) -> Any:
    import nwlab

    if args.replay is not None:
        return nwlab.replay(args.replay or None)
    if args.emulate is not None:
        return nwlab.emulate(args.emulate or None)
    if not args.subscription:
        raise ValueError("--subscription: live Azure needs a subscription id, e.g. --subscription "
                         "00000000-0000-0000-0000-000000000000 (or use --replay / --emulate offline)")
    credential = None
    if args.token:
        from nwlab.arm.auth import StaticTokenCredential

        credential = StaticTokenCredential(args.token)
    return nwlab.connect(args.subscription, credential=credential, cloud=args.cloud,
                         arm_endpoint=args.arm_endpoint)


def _graph_snapshot_args(parser: argparse.ArgumentParser) -> None:
    """An estate through Azure Resource Graph: the scope, the path, and resuming."""
    group = parser.add_argument_group("estate (Azure Resource Graph)")
    scope = group.add_mutually_exclusive_group()
    scope.add_argument("--subscriptions", nargs="+", metavar="S",
                       help="subscription ids to read (read through Resource Graph)")
    scope.add_argument("--management-group", metavar="MG",
                       help="a management group to read (e.g. ProductionMG)")
    group.add_argument("--via", choices=("auto", "arm", "resource-graph"), default="auto",
                       help="arm: ARM GETs (one group or subscription); resource-graph: Azure "
                            "Resource Graph; auto (default): Resource Graph for an estate")
    group.add_argument("--resume", action="store_true",
                       help="continue an interrupted Resource Graph snapshot of the same --out "
                            "and scope (its FILE.partial.json)")


SNAPSHOT_FLAGS = {**FLAGS, "subscriptions": "--subscriptions", "path": "--out",
                  "management_group": "--management-group", "via": "--via"}


def _graph_snapshot_scope(args: argparse.Namespace) -> dict[str, Any]:
    """snapshot()'s estate keywords from the flags; a leftover partial state is resumed only
    when asked, so a rerun never silently mixes an old run's rows into a new snapshot."""
    partial = Path(args.out + ".partial.json")
    via_graph = args.via == "resource-graph" or (
        args.via == "auto" and (args.subscriptions or args.management_group))
    if args.resume and not via_graph:
        raise ValueError("--resume continues a Resource Graph snapshot: add --subscriptions S "
                         "or --management-group MG (or --via resource-graph)")
    if via_graph and partial.exists() and not args.resume:
        raise ValueError(f"--out: {str(partial)!r} holds an interrupted snapshot; add --resume "
                         "to continue it, or delete that file to start again")
    if args.resume and not partial.exists():
        print(f"nwlab: nothing to resume ({partial} does not exist); starting afresh",
              file=sys.stderr)
    if not args.subscription and args.subscriptions and args.replay is None \
            and args.emulate is None:
        args.subscription = args.subscriptions[0]  # live Azure: the token's first subscription
    return {"subscriptions": args.subscriptions, "management_group": args.management_group,
            "via": args.via}


def run_snapshot(args: argparse.Namespace) -> int:
    scope = _graph_snapshot_scope(args)
    nw = make_client(args)
    try:
        # Progress goes to stderr (tqdm on a terminal, a line every few seconds otherwise).
        topology = nw.snapshot(args.resource_group, path=args.out,
                               keep_subscription=args.keep_subscription, **scope)
    except OSError as exc:  # written last: the disk filled, the folder went away meanwhile
        raise OSError(f"--out: cannot write {args.out!r} ({exc.strerror or exc})") from None
    finally:
        nw.close()
    kinds: dict[str, int] = {}
    for resource in topology["resources"]:
        kind = str(resource.get("type", "")).split("/")[-1]
        kinds[kind] = kinds.get(kind, 0) + 1
    print(f"wrote {args.out}: " + ", ".join(f"{n} {k}" for k, n in sorted(kinds.items())))
    coverage = (topology.get("snapshot") or {}).get("coverage")
    if coverage:  # never a silently dropped subscription: the ones not read, on stderr
        for part in ("denied", "skipped", "incomplete"):
            for entry in coverage.get(part) or []:
                what = entry.get("subscriptionId") or f"query {entry.get('query')}"
                print(f"nwlab: {part} {what}: {entry['reason']}", file=sys.stderr)
    return 0


def _print_result(result: Any) -> None:
    from nwlab.explain import explain_result

    print(result)
    findings = explain_result(result)
    if findings:
        print()
        for finding in findings:
            print(f"- {finding.title}")
            if finding.fix:
                print(f"  fix: {finding.fix}")


def run_check(args: argparse.Namespace) -> int:
    nw = make_client(args)
    try:
        result = nw.check(args.source, args.dest, args.port, protocol=args.protocol,
                          resource_group=args.resource_group, source_port=args.source_port,
                          ip_version=args.ip_version, watcher=args.watcher, timeout=args.timeout)
    finally:
        nw.close()
    if args.json:
        print(json.dumps(result.to_dict(), indent=2))
    else:
        _print_result(result)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    words = list(sys.argv[1:] if argv is None else argv)
    try:
        if words[:1] == ["emulator"]:
            from nwlab.emulator.cli import main as emulator_main

            return emulator_main(words[1:])
        return _run(words)
    except BrokenPipeError:
        _silence_stdout()
        return EXIT_BROKEN_PIPE
    except KeyboardInterrupt:
        print("nwlab: stopped", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as exc:  # a bug of ours: still one line, the traceback only on request
        if os.environ.get("NWLAB_DEBUG"):
            raise
        print(f"nwlab: internal error: {type(exc).__name__}: {exc} (run again with "
              "NWLAB_DEBUG=1 for the traceback, and please report it)", file=sys.stderr)
        return EXIT_FAILED


def _run(words: list[str]) -> int:
    args = build_parser().parse_args(words)
    flags = MESH_FLAGS if args.command in ("mesh", "monitor") else FLAGS
    if args.command == "monitor":
        from nwlab.cli_monitor import MONITOR_FLAGS

        flags = {**flags, **MONITOR_FLAGS}
    if args.command == "snapshot":
        flags = SNAPSHOT_FLAGS
    try:
        if args.command == "snapshot":
            return run_snapshot(args)
        if args.command == "mesh":
            from nwlab.cli_mesh import run_mesh

            return run_mesh(args, make_client)
        if args.command == "monitor":
            from nwlab.cli_monitor import run_monitor

            return run_monitor(args, make_client)
        if args.command == "diagnose":
            from nwlab.cli_diagnose import run_diagnose

            return run_diagnose(args, make_client)
        return run_check(args)
    except (ValueError, TypeError) as exc:
        print(f"nwlab: error: {cli_message(str(exc), flags)}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except NwlabError as exc:
        print(f"nwlab: {type(exc).__name__}: {cli_message(str(exc), flags)}", file=sys.stderr)
        return EXIT_FAILED
    except OSError as exc:  # a file the command writes or reads (--out, --replay, --emulate)
        if isinstance(exc, BrokenPipeError):
            raise
        print(f"nwlab: error: {exc}", file=sys.stderr)
        return EXIT_FAILED


def _silence_stdout() -> None:
    """After the reader of stdout went away: point stdout at /dev/null, so the interpreter's
    final flush does not raise (and print) the BrokenPipeError again."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # stdout is not a file (tests capture it): nothing to flush
        pass
    finally:
        os.close(devnull)


__all__ = ["FLAGS", "MESH_FLAGS", "build_parser", "cli_message", "main", "make_client"]
