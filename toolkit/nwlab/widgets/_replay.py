"""What a replay client can answer, as a form's choices.

`nw.recorded_checks()` lists the checks a replay client holds (None for a backend that answers
anything); `RecordedScope` turns them into the resource groups, sources, destinations and ports
a form offers, and says whether a filled-in check is one of them, so that the form refuses the
others before any request instead of showing the replay's mismatch.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Any

from nwlab.arm.ids import parse_resource_id

DEST_KINDS = ("VM", "IP", "Host", "URL")


def destination_kind(text: str) -> str:
    """VM for a resource id or a bare name, URL for a scheme, IP for an address, else Host."""
    text = text.strip()
    if "://" in text:
        return "URL"
    if text.lower().startswith("/subscriptions/"):
        return "VM"
    try:
        ipaddress.ip_address(text)
        return "IP"
    except ValueError:
        pass
    return "Host" if "." in text else "VM"


def _vm_name(text: Any) -> str:
    value = str(text or "").strip()
    rid = parse_resource_id(value) if value.startswith("/") else None
    return rid.name if rid is not None else value


def _group(text: Any) -> str:
    rid = parse_resource_id(str(text or "")) if str(text or "").startswith("/") else None
    return (rid.resource_group or "").lower() if rid is not None else ""


@dataclass(frozen=True)
class Recorded:
    """One recorded check as the form sees it (names compared without case)."""

    group: str
    source: str
    kind: str
    destination: str  # the VM's name for a VM, else the address as recorded
    port: int | None
    options: tuple[Any, ...]  # protocol, source port, IP version, HTTP options

    def destination_key(self) -> str:
        return self.destination.strip().lower()


def _recorded(check: dict[str, Any]) -> Recorded:
    destination = str(check.get("destination") or "")
    kind = destination_kind(destination)
    return Recorded(group=_group(check.get("source")), source=_vm_name(check.get("source")),
                    kind=kind,
                    destination=_vm_name(destination) if kind == "VM" else destination,
                    port=check.get("port") or None,
                    options=(check.get("protocol"), check.get("source_port"),
                             check.get("ip_version"), bool(check.get("http"))))


class RecordedScope:
    """The recorded checks, queried by what the form has chosen so far."""

    def __init__(self, checks: list[dict[str, Any]]) -> None:
        self.checks = [_recorded(c) for c in checks if c.get("source")]

    @classmethod
    def of(cls, nw: Any) -> RecordedScope | None:
        """The scope of a replay client; None when the client answers any check."""
        recorded = getattr(nw, "recorded_checks", None)
        if not callable(recorded):
            return None
        try:
            checks = recorded()
        except Exception:  # a client that cannot say is treated as answering anything
            return None
        return None if checks is None else cls(list(checks))

    def groups(self) -> set[str]:
        return {c.group for c in self.checks}

    def sources(self, group: str | None) -> set[str]:
        return {c.source.lower() for c in self.checks
                if group is None or c.group == group.lower()}

    def kinds(self, source: str | None) -> list[str]:
        found = {c.kind for c in self._of(source)}
        return [k for k in DEST_KINDS if k in found]

    def destinations(self, source: str | None, kind: str) -> list[str]:
        seen: dict[str, str] = {}
        for c in self._of(source):
            if c.kind == kind:
                seen.setdefault(c.destination_key(), c.destination)
        return list(seen.values())

    def ports(self, source: str | None, destination: str) -> list[str]:
        key = destination.strip().lower()
        ports = {c.port for c in self._of(source)
                 if c.destination_key() in (key, _vm_name(key).lower())}
        return [str(p) for p in sorted(p for p in ports if p is not None)]

    def covers(self, kwargs: dict[str, Any]) -> bool:
        """Whether `check(**kwargs)` is one of the recorded checks."""
        destination = str(kwargs.get("destination") or "")
        kind = destination_kind(destination)
        wanted = ((_vm_name(destination) if kind == "VM" else destination).strip().lower(),
                  kwargs.get("port") or None,
                  (kwargs.get("protocol"), kwargs.get("source_port"), kwargs.get("ip_version"),
                   bool(kwargs.get("http"))))
        group = str(kwargs.get("resource_group") or "").lower()
        return any((c.destination_key(), c.port, c.options) == wanted
                   and (not group or c.group == group)
                   for c in self._of(str(kwargs.get("source") or "")))

    def _of(self, source: str | None) -> list[Recorded]:
        name = _vm_name(source).lower() if source else None
        return [c for c in self.checks if name is None or c.source.lower() == name]
