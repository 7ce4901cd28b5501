"""Standalone emulator: ``python -m nwlab.emulator --topology FILE --port N``.

Prints the endpoint, the subscription id, the bearer token a client must present and how many
assumptions the topology loaded with, then serves until Ctrl-C or SIGTERM. Every refusal is one
line naming the flag, never a traceback.
"""

from __future__ import annotations

import argparse
import errno
import math
import os
import signal
import sys
import threading
from collections.abc import Callable
from types import FrameType
from typing import Any

from .facade import EXTENSION_NAMESPACE
from .server import EmulatorServer, is_loopback_host
from .topology import DEFAULT_TOPOLOGY_PATH, TopologyError, load_topology

EXIT_BAD_INPUT = 2
EXIT_FAILED = 1
REMOTE_WARNING = ("nwlab emulator: warning: serving on {host}, beyond this machine; anyone who "
                  "can reach it and holds the token can change the twin (PUT/DELETE rules and "
                  "routes), and the token travels in plain http: share it only on a trusted "
                  "network")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> Any:  # one line, exit 2, like `python -m nwlab`'s own
        self.exit(EXIT_BAD_INPUT, f"nwlab emulator: error: {message} "
                                  "(see `python -m nwlab emulator --help`)\n")


def _number(flag: str, example: str, convert: Callable[[str], float], low: float,
            high: float = math.inf, *, positive: bool = False) -> Callable[[str], Any]:
    """An argparse type: a finite number in [low, high] (above 0 when `positive`), refused with
    the flag and an example."""
    def parse(text: str) -> Any:
        try:
            value = convert(text)
        except ValueError:
            value = math.nan
        if not (math.isfinite(value) and low <= value <= high and (value > 0 or not positive)):
            bounds = ("a positive number" if positive else f"{low:g}-{high:g}"
                      if math.isfinite(high) else f"a number >= {low:g}")
            raise argparse.ArgumentTypeError(f"{text!r} is not {bounds}; e.g. {flag} {example}")
        return value

    parse.__name__ = flag  # argparse names the type in its messages
    return parse


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="nwlab emulator", description="Serve a local Network Watcher over ARM HTTP.")
    p.add_argument("--topology", default=None,
                   help=f"topology JSON file (default: bundled {DEFAULT_TOPOLOGY_PATH.name})")
    p.add_argument("--host", default="127.0.0.1",
                   help="loopback address to bind (default 127.0.0.1; others need --allow-remote)")
    p.add_argument("--allow-remote", action="store_true",
                   help="allow a --host other machines can reach (the token grants write access)")
    p.add_argument("--port", type=_number("--port", "8080", int, 0, 65535), default=0,
                   help="port (default 0: a free port)")
    p.add_argument("--token", default=None, help="bearer token (default: random)")
    p.add_argument("--check-seconds", type=_number("--check-seconds", "2", float, 0), default=2.0,
                   help="seconds until a check's result is ready (default 2)")
    p.add_argument("--retry-after", type=_number("--retry-after", "1", float, 0), default=1.0,
                   help="Retry-After seconds sent on 202s (default 1)")
    p.add_argument("--probes", type=_number("--probes", "100", int, 1, 100), default=None,
                   help="probes per check (1-100)")
    p.add_argument("--write-rate", type=_number("--write-rate", "3.3", float, 0, positive=True), default=None,
                   help="writes per second before 429 (default: unlimited)")
    p.add_argument("--write-burst", type=_number("--write-burst", "200", float, 1), default=None,
                   help="writes saved up for --write-rate (default: one second's worth)")
    p.add_argument("--time-scale", type=_number("--time-scale", "60", float, 0, positive=True),
                   default=1.0, help="twin seconds per real second: the clock Connection "
                                     "Monitor tests run on (default 1)")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if not args.allow_remote and not is_loopback_host(args.host.strip("[]")):
        print(f"nwlab emulator: error: --host {args.host!r} is not a loopback address, so other "
              "machines could reach the twin, and its token grants write access to it; e.g. "
              "--host 127.0.0.1, or add --allow-remote to serve beyond this machine",
              file=sys.stderr)
        return EXIT_BAD_INPUT
    if args.allow_remote and not is_loopback_host(args.host.strip("[]")):
        print(REMOTE_WARNING.format(host=args.host), file=sys.stderr, flush=True)
    try:
        topology = load_topology(args.topology)
        server = EmulatorServer(topology, host=args.host, port=args.port, token=args.token,
                                check_seconds=args.check_seconds, retry_after=args.retry_after,
                                probes=args.probes, write_rate=args.write_rate,
                                write_burst=args.write_burst, allow_remote=args.allow_remote,
                                time_scale=args.time_scale)
        server.start()
    except (TopologyError, ValueError) as exc:
        print(f"nwlab emulator: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except (OSError, OverflowError) as exc:  # the port is taken, the host is not this machine's
        taken = isinstance(exc, OSError) and exc.errno == errno.EADDRINUSE
        print(f"nwlab emulator: error: cannot serve on {args.host}:{args.port}: {exc}; e.g. "
              + ("--port 0 (a free port)" if taken else "--host 127.0.0.1"), file=sys.stderr)
        return EXIT_FAILED
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
              f"{server.subscription_id}/providers/{EXTENSION_NAMESPACE}/assumptions)")
        # Log Analytics is its own origin with its own token (scope api.loganalytics.io).
        print(f"log analytics: {server.log_analytics_endpoint}")
        print(f"log analytics token: {server.log_analytics.token}")
        print(f"time scale: {args.time_scale:g}", flush=True)
        while not stop.wait(0.5):
            pass
    except BrokenPipeError:
        # Whoever read our output is gone (`... | head -1`): nobody can learn the token now.
        _silence_stdout()
        print("nwlab emulator: stdout was closed before the token was printed; stopping",
              file=sys.stderr)
        return EXIT_FAILED
    finally:
        server.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 0


def _silence_stdout() -> None:
    """Point stdout at /dev/null, so the interpreter's final flush does not fail again."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)


if __name__ == "__main__":
    raise SystemExit(main())
