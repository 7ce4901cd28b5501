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
