"""Pause Python's cyclic garbage collector while a topology is built.

Loading 20,000 NICs allocates millions of small objects (decoded JSON, parsed records) and
frees almost none: each allocation burst triggers a collection that walks the whole growing
heap and finds nothing, about a quarter of the load. Reference counting still frees as usual;
only the cycle search waits until the outermost load ends. Nested and concurrent loads share
one pause, and a collector the caller had disabled stays disabled.
"""

from __future__ import annotations

import functools
import gc
import threading
from collections.abc import Callable
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
R = TypeVar("R")

_lock = threading.Lock()
_state = {"depth": 0, "resume": False}


def _enter() -> None:
    with _lock:
        if _state["depth"] == 0:
            _state["resume"] = gc.isenabled()
            gc.disable()
        _state["depth"] += 1


def _leave() -> None:
    with _lock:
        _state["depth"] -= 1
        if _state["depth"] == 0 and _state["resume"]:
            gc.enable()


def collector_paused(fn: Callable[P, R]) -> Callable[P, R]:
    """Run ``fn`` with the cyclic collector paused (restored even when ``fn`` raises)."""
    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        _enter()
        try:
            return fn(*args, **kwargs)
        finally:
            _leave()
    return wrapper


# Addressable resources (Topology.raw) from which a loaded topology is frozen: about 3,000
# NICs, where the collector's later walks start to cost more than a check.
LONG_LIVED_RESOURCES = 20_000


def settle_long_lived() -> None:
    """Move every object the collector tracks now to its permanent generation (gc.freeze).

    A large topology is built to live as long as the twin. Left young, its hundreds of
    thousands of objects are walked twice more once the pause ends (the next generation-1
    collection, then the full one their arrival triggers): about 0.6 s of CPU at 20,000 NICs,
    paid by the twin's first requests, to find nothing, since a topology holds no reference
    cycle (tests/emulator/test_gcpause.py). Frozen objects are still freed by reference
    counting; only a cycle among the objects frozen with them (the caller's, alive at that
    moment) waits for gc.unfreeze().
    """
    gc.freeze()
