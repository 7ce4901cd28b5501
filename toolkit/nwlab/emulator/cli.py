"""Standalone emulator: ``python -m nwlab.emulator --topology FILE --port N``.

Prints the endpoint, the subscription id, the bearer token a client must present and how many
assumptions the topology loaded with, then serves until Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from types import FrameType

from .facade import EXTENSION_NAMESPACE
from .server import EmulatorServer
from .topology import DEFAULT_TOPOLOGY_PATH, TopologyError, load_topology


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="nwlab emulator",
                                description="Serve a local Network Watcher over ARM HTTP.")
    p.add_argument("--topology", default=None,
                   help=f"topology JSON file (default: bundled {DEFAULT_TOPOLOGY_PATH.name})")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=0, help="port (default 0: a free port)")
    p.add_argument("--token", default=None, help="bearer token (default: random)")
    p.add_argument("--check-seconds", type=float, default=2.0,
                   help="seconds until a check's result is ready (default 2)")
    p.add_argument("--retry-after", type=float, default=1.0,
                   help="Retry-After seconds sent on 202s (default 1)")
    p.add_argument("--probes", type=int, default=None, help="probes per check (1-100)")
    p.add_argument("--write-rate", type=float, default=None,
                   help="writes per second before 429 (default: unlimited)")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        topology = load_topology(args.topology)
        server = EmulatorServer(topology, host=args.host, port=args.port, token=args.token,
                                check_seconds=args.check_seconds, retry_after=args.retry_after,
                                probes=args.probes, write_rate=args.write_rate)
        server.start()
    except (TopologyError, ValueError, OSError) as exc:
        print(f"nwlab emulator: {exc}", file=sys.stderr)
        return 2
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        print(f"endpoint: {server.endpoint}")
        print(f"subscription: {server.subscription_id}")
        print(f"token: {server.token}")
        # What the twin does not model loads anyway; say how much, and where the list is.
        print(f"assumptions: {len(server.topology.assumptions)} (GET /subscriptions/"
              f"{server.subscription_id}/providers/{EXTENSION_NAMESPACE}/assumptions)",
              flush=True)
        while not stop.wait(0.5):
            pass
    finally:
        server.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
