"""`python -m nwlab diagnose`: the connectivity check and every test that explains it, as one
answer (verdict, path, the blocking rule or route with the resource that holds it, fixes).

    python -m nwlab diagnose --source WebVM0 --dest Database0 --port 3389 -g ContosoRG --emulate
    python -m nwlab diagnose ... --twin snapshot.json   # also on a twin, reconciled test by test
    python -m nwlab diagnose ... --emulate --verify     # prove each fix on a fork of the twin

Exit status 0 when the destination is reachable, 3 when it is not (the diagnosis printed),
2 for bad input, 1 when a request failed.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from typing import Any

EXIT_REACHABLE = 0
EXIT_NOT_REACHABLE = 3


def add_parser(sub: Any, backend_args: Callable[[argparse.ArgumentParser], None],
               port_type: Callable[[str], Any]) -> argparse.ArgumentParser:
    """Declare the subcommand on the one parser (cli.build_parser)."""
    diagnose = sub.add_parser(
        "diagnose", help="run every Network Watcher test for one question, with fixes",
        description="Connectivity check plus NSG diagnostic, IP flow verify, next hop and "
                    "effective routes, run concurrently and read as one answer.")
    diagnose.add_argument("--source", required=True, help="source VM name (with -g) or VM id")
    diagnose.add_argument("--dest", required=True,
                          help="destination: VM name or id, IP address, host name or URL")
    diagnose.add_argument("--port", type=port_type, help="destination port")
    diagnose.add_argument("-g", "--resource-group", help="resource group of VM names")
    diagnose.add_argument("--protocol", help="Tcp, Http, Https or Icmp")
    diagnose.add_argument("--timeout", type=float, default=600.0)
    diagnose.add_argument("--twin", nargs="?", const="", metavar="TOPOLOGY",
                          help="also run every test on a twin (an emulator over TOPOLOGY, the "
                               "bundled Contoso network by default) and reconcile")
    diagnose.add_argument("--verify", action="store_true",
                          help="prove each fix on a fork of the twin (--twin, or --emulate)")
    diagnose.add_argument("--json", action="store_true",
                          help="print findings, fixes and tests as JSON")
    backend_args(diagnose)
    return diagnose


def _twin(args: argparse.Namespace, nw: Any) -> Any:
    import nwlab

    if args.twin is not None:
        return nwlab.emulate(args.twin or None, check_seconds=0.0, retry_after=0.0)
    return nw if nw.backend == "emulator" else None


def run_diagnose(args: argparse.Namespace, make_client: Callable[[argparse.Namespace], Any]
                 ) -> int:
    if args.verify and args.twin is None and args.emulate is None:
        raise ValueError("--verify: fixes are proven on a twin; add --twin [TOPOLOGY] or use "
                         "--emulate")
    nw = make_client(args)
    twin = None
    try:
        twin = _twin(args, nw)
        d = nw.diagnose(args.source, args.dest, args.port, protocol=args.protocol,
                        resource_group=args.resource_group,
                        twin=twin if args.twin is not None else None, timeout=args.timeout)
        if args.verify and twin is not None:
            d.verify_fixes(twin)
        print(json.dumps(d.to_dict(), indent=2) if args.json else str(d))
        return EXIT_REACHABLE if d.connectivity.reachable else EXIT_NOT_REACHABLE
    finally:
        if twin is not None and twin is not nw:
            twin.close()
        nw.close()
