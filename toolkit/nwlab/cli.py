"""`python -m nwlab ...`: run a check, serve the emulator. Errors print one line, never a traceback."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from typing import Any

from nwlab.arm.errors import NwlabError

EXIT_BAD_INPUT = 2
EXIT_FAILED = 1


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> Any:  # argparse's own usage errors: one line, exit 2
        words = self.prog.split()
        command = f"{words[-1]} " if len(words) > 1 else ""
        hint = f"see `python -m nwlab {command}--help`"
        self.exit(EXIT_BAD_INPUT, f"nwlab: error: {message} ({hint})\n")


def _int_or_text(value: str) -> int | str:
    """Whole numbers become ints; anything else goes on to check(), whose refusal names the field
    and shows an example, so the CLI says exactly what the Python API says."""
    text = value.strip()
    return int(text) if text.lstrip("+-").isdigit() else value


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

    try:
        from nwlab.cli_mesh import add_mesh_parser
    except ImportError:  # the mesh command lands with the batch module; until then it is absent
        pass
    else:
        add_mesh_parser(sub)

    snapshot = sub.add_parser("snapshot", help="write the network in scope as an emulator "
                                               "topology (for offline what-if)")
    snapshot.add_argument("-g", "--resource-group", help="limit to one resource group")
    snapshot.add_argument("--out", required=True, help="topology file to write")
    snapshot.add_argument("--keep-subscription", action="store_true",
                          help="keep the real subscription id (default: zeros)")
    _backend_args(snapshot)

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


def run_snapshot(args: argparse.Namespace) -> int:
    nw = make_client(args)
    try:
        topology = nw.snapshot(args.resource_group, path=args.out,
                               keep_subscription=args.keep_subscription)
    finally:
        nw.close()
    kinds: dict[str, int] = {}
    for resource in topology["resources"]:
        kind = str(resource.get("type", "")).split("/")[-1]
        kinds[kind] = kinds.get(kind, 0) + 1
    print(f"wrote {args.out}: " + ", ".join(f"{n} {k}" for k, n in sorted(kinds.items())))
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
    if words[:1] == ["emulator"]:
        from nwlab.emulator.cli import main as emulator_main

        return emulator_main(words[1:])
    args = build_parser().parse_args(words)
    try:
        if args.command == "snapshot":
            return run_snapshot(args)
        if args.command == "mesh":
            from nwlab.cli_mesh import run_mesh

            return run_mesh(args, make_client)
        return run_check(args)
    except (ValueError, TypeError) as exc:
        print(f"nwlab: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except NwlabError as exc:
        print(f"nwlab: {type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        print("nwlab: stopped", file=sys.stderr)
        return 130
