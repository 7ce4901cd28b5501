"""A batch's input: `mesh` builds entries; `normalize_checks` and `validate_checks` turn a list
of dicts or a DataFrame into validated CheckSpecs, every failure naming its entry.

pandas is never imported here: a DataFrame is recognised by its shape, and NaN by value.
"""

from __future__ import annotations

import itertools
import math
import numbers
from collections.abc import Iterable, Mapping
from typing import Any

from nwlab.batch.result import _label
from nwlab.checkspec import CheckSpec, build_check

CHECK_KEYS = ("source", "destination", "port", "protocol", "resource_group", "source_port", "http",
              "ip_version", "watcher", "timeout")
_INTEGER_KEYS = ("port", "source_port")


class BatchInputError(ValueError, TypeError):
    """A batch entry that cannot be run; the message starts with `checks[i]: `.

    It is both a ValueError and a TypeError, so code that catches either for `check()` catches
    it for `check_many()` too.
    """

    def __init__(self, message: str, index: int | None = None) -> None:
        super().__init__(message)
        self.index = index


def mesh(sources: Any, destinations: Any, ports: Any = None, **common: Any) -> list[dict[str, Any]]:
    """Every source to every destination on every port, as `check_many` entries.

    `common` (e.g. resource_group='ContosoRG', protocol='Tcp') goes into every entry. A source
    paired with itself is skipped, so one list can serve as both sides of an all-to-all mesh.
    """
    src = _as_list("sources", sources)
    dst = _as_list("destinations", destinations)
    port_list = [None] if ports is None else _as_list("ports", ports)
    reserved = sorted(set(common) & {"source", "destination", "port"})
    if reserved:
        raise ValueError(f"mesh: {', '.join(reserved)} come from the sources, destinations and "
                         "ports lists; pass the other options as keywords, e.g. "
                         "mesh(['A'], ['B'], [80], resource_group='RG')")
    unknown = sorted(set(common) - set(CHECK_KEYS))
    if unknown:
        raise ValueError(f"mesh: unknown option(s) {', '.join(map(repr, unknown))}; the options "
                         f"are {', '.join(CHECK_KEYS[3:])}")
    checks = []
    for s, d, p in itertools.product(src, dst, port_list):
        if isinstance(s, str) and isinstance(d, str) and _label(s).lower() == _label(d).lower():
            continue
        entry: dict[str, Any] = {"source": s, "destination": d}
        if p is not None:
            entry["port"] = p
        entry.update(common)
        checks.append(entry)
    return checks


def _as_list(name: str, value: Any) -> list[Any]:
    if isinstance(value, str | bytes | numbers.Number):
        return [value]
    if isinstance(value, Mapping) or not isinstance(value, Iterable):
        raise TypeError(f"mesh: {name}: expected a list, got {type(value).__name__}; e.g. "
                        "mesh(['MultiTierApp0'], ['Database0', '10.1.4.4'], [80, 443])")
    items = list(value)
    if not items:
        raise ValueError(f"mesh: {name} is empty; give at least one")
    return items


def normalize_checks(checks: Any) -> list[dict[str, Any]]:
    """A list of dicts or a DataFrame -> plain dicts of check() keywords (NaN -> None).

    Shape problems (not a list, an unknown key, a missing source) raise BatchInputError.
    """
    if _is_dataframe(checks):
        unknown = [str(c) for c in checks.columns if c not in CHECK_KEYS]
        if unknown:
            raise BatchInputError(f"checks: unknown column(s) {', '.join(map(repr, unknown))}; the "
                                  f"columns are the keywords of check(): {', '.join(CHECK_KEYS)}")
        raw: list[Any] = checks.to_dict("records")
    elif isinstance(checks, Mapping | str | bytes) or not isinstance(checks, Iterable):
        raise BatchInputError(
            f"checks: expected a list of dicts or a DataFrame, got {type(checks).__name__}; e.g. "
            "[{'source': 'MultiTierApp0', 'destination': 'Database0', 'port': 80, "
            "'resource_group': 'ContosoRG'}] (nwlab.batch.mesh builds one)")
    else:
        raw = list(checks)
    out = []
    for index, item in enumerate(raw):
        if not isinstance(item, Mapping):
            raise BatchInputError(f"checks[{index}]: expected a dict of check() keywords, got "
                                  f"{type(item).__name__}; e.g. {{'source': 'MultiTierApp0', "
                                  "'destination': '10.1.4.4', 'port': 80, 'resource_group': "
                                  "'ContosoRG'}", index)
        unknown = sorted(str(k) for k in item if k not in CHECK_KEYS)
        if unknown:
            raise BatchInputError(f"checks[{index}]: unknown key(s) {', '.join(map(repr, unknown))};"
                                  f" the keys are the keywords of check(): {', '.join(CHECK_KEYS)}",
                                  index)
        entry = {str(k): _plain(str(k), v) for k, v in item.items()}
        for required in ("source", "destination"):
            if entry.get(required) is None:
                raise BatchInputError(f"checks[{index}]: {required}: missing; every check needs a "
                                      "source VM and a destination, e.g. {'source': "
                                      "'MultiTierApp0', 'destination': '10.1.4.4', 'port': 80, "
                                      "'resource_group': 'ContosoRG'}", index)
        out.append(entry)
    return out


def _is_dataframe(value: Any) -> bool:
    return type(value).__name__ == "DataFrame" and hasattr(value, "to_dict") \
        and hasattr(value, "columns")


def _plain(key: str, value: Any) -> Any:
    """NaN/NA -> None, numpy scalars -> Python, whole floats -> int for ports."""
    if value is None:
        return None
    if _missing(value):
        return None
    item = getattr(value, "item", None)
    if callable(item) and type(value).__module__ == "numpy":
        value = item()
    if key in _INTEGER_KEYS and isinstance(value, float) and value.is_integer():
        value = int(value)
    return value


# pandas' missing-value scalars, recognised by type name so that plain dicts never import pandas.
_MISSING_TYPES = ("NAType", "NaTType")


def _missing(value: Any) -> bool:
    """NaN (float or numpy), pandas.NA and NaT: what a DataFrame row holds for an empty cell."""
    if type(value).__name__ in _MISSING_TYPES:
        return True
    if isinstance(value, numbers.Real) and not isinstance(value, numbers.Integral):
        return math.isnan(float(value))
    return False


def validate_checks(subscription_id: str, checks: list[dict[str, Any]]) -> list[CheckSpec]:
    """build_check for every entry; the first failure raises, naming it (and any others)."""
    specs: list[CheckSpec] = []
    failures: list[tuple[int, Exception]] = []
    for index, entry in enumerate(checks):
        try:
            specs.append(build_check(subscription_id, **entry))
        except (ValueError, TypeError) as exc:
            failures.append((index, exc))
    if failures:
        index, first = failures[0]
        message = f"checks[{index}]: {first}"
        if len(failures) > 1:
            more = ", ".join(f"checks[{i}]" for i, _ in failures[1:6])
            if len(failures) > 6:
                more += f" and {len(failures) - 6} more"
            message += f" (also invalid: {more})"
        raise BatchInputError(message, index) from first
    return specs


__all__ = ["CHECK_KEYS", "BatchInputError", "mesh", "normalize_checks", "validate_checks"]
