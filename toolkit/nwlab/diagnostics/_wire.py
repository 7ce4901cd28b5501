"""Lenient parsing with an exact way back: the one mechanism every diagnostic result uses.

A result class lists its JSON fields (`FIELDS`). Parsing keeps each known field whose value has the
expected JSON type, and keeps everything else (unknown keys, and known keys whose value has some
other type) untouched in `extra`; `to_dict()` writes the known fields that were received (or set in
code) and then `extra`. So `from_dict(d).to_dict() == d` for any JSON object `d`, and a field the
service adds tomorrow survives a round trip today.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Self

__all__ = ["Field", "Ref", "Wire", "flag", "integer", "listed", "nested", "nested_list", "text", "texts"]


def _same(value: Any) -> Any:
    return value


@dataclass(frozen=True)
class Field:
    """One JSON field: its wire name, the attribute holding it, how to read it and write it back.

    `parse` raises TypeError or ValueError for a value of the wrong shape; the value is then kept
    as it came, in `extra`.
    """

    key: str
    attr: str
    parse: Callable[[Any], Any]
    dump: Callable[[Any], Any] = _same


class Wire:
    """Mixin for frozen dataclasses with `extra: dict` and `_present: frozenset[str]` fields."""

    FIELDS: ClassVar[tuple[Field, ...]] = ()

    @classmethod
    def parse_fields(cls, data: Any) -> dict[str, Any]:
        """Constructor arguments read from `data`; ValueError when `data` is not a JSON object."""
        if not isinstance(data, Mapping):
            raise ValueError(f"{cls.__name__}.from_dict: expected a JSON object (dict), got "
                             f"{type(data).__name__}; pass the service's answer, e.g. "
                             f"{cls.__name__}.from_dict(response.json())")
        by_key = {f.key: f for f in cls.FIELDS}
        values: dict[str, Any] = {}
        extra: dict[str, Any] = {}
        present: set[str] = set()
        for key, value in data.items():
            spec = by_key.get(key)
            if spec is not None:
                try:
                    values[spec.attr] = spec.parse(value)
                    present.add(key)
                    continue
                except (TypeError, ValueError):
                    pass  # a shape we do not model: kept as it came
            extra[str(key)] = copy.deepcopy(value)
        return {**values, "extra": extra, "_present": frozenset(present)}

    @classmethod
    def from_dict(cls, data: Any) -> Self:
        return cls(**cls.parse_fields(data))

    def to_dict(self) -> dict[str, Any]:
        """The REST shape: the fields received (or set in code), then the ones not modelled."""
        present: frozenset[str] = getattr(self, "_present", frozenset())
        defaults = _defaults(type(self))
        out: dict[str, Any] = {}
        for spec in self.FIELDS:
            value = getattr(self, spec.attr)
            # Received fields go back; of the others, those set in code (not left at default).
            if spec.key in present or value != defaults.get(spec.attr):
                out[spec.key] = spec.dump(value)
        out.update(copy.deepcopy(getattr(self, "extra", {})))
        return out


_DEFAULTS: dict[type, dict[str, Any]] = {}


def _defaults(cls: type) -> dict[str, Any]:
    """Each dataclass field's default value (cached per class)."""
    if cls not in _DEFAULTS:
        out: dict[str, Any] = {}
        for f in dataclasses.fields(cls):
            if f.default is not dataclasses.MISSING:
                out[f.name] = f.default
            elif f.default_factory is not dataclasses.MISSING:
                out[f.name] = f.default_factory()
        _DEFAULTS[cls] = out
    return _DEFAULTS[cls]


def text(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError("not a string")
    return value


def flag(value: Any) -> bool:
    if not isinstance(value, bool):
        raise TypeError("not a boolean")
    return value


def integer(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError("not an integer")
    return value


def texts(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise TypeError("not a list of strings")
    return tuple(value)


def obj(kind: type[Wire]) -> Callable[[Any], Any]:
    """A parser for a nested object of class `kind`."""
    def parse(value: Any) -> Any:
        if not isinstance(value, Mapping):
            raise TypeError("not an object")
        return kind.from_dict(value)

    return parse


def objs(kind: type[Wire]) -> Callable[[Any], tuple[Any, ...]]:
    """A parser for a list of objects of class `kind`; a list holding anything else stays raw."""
    def parse(value: Any) -> tuple[Any, ...]:
        if not isinstance(value, list) or not all(isinstance(v, Mapping) for v in value):
            raise TypeError("not a list of objects")
        return tuple(kind.from_dict(v) for v in value)

    return parse


def listed(key: str, attr: str) -> Field:
    """A list of strings, held as a tuple."""
    return Field(key, attr, texts, list)


def nested(key: str, attr: str, kind: type[Wire]) -> Field:
    return Field(key, attr, obj(kind), lambda v: v.to_dict())


def nested_list(key: str, attr: str, kind: type[Wire]) -> Field:
    return Field(key, attr, objs(kind), lambda v: [x.to_dict() for x in v])


@dataclass(frozen=True)
class Ref(Wire):
    """A sub-resource reference, `{"id": ...}` (other keys kept)."""

    id: str = ""
    extra: dict[str, Any] = field(default_factory=dict)
    _present: frozenset[str] = field(default=frozenset(), compare=False, repr=False)

    FIELDS: ClassVar[tuple[Field, ...]] = (Field("id", "id", text),)
