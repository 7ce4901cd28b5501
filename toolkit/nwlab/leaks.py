"""Find what must never be shared in a file: tokens, client secrets, real subscription, tenant and
object ids (in ids with or without their slash, or in id fields), e-mail addresses and UPNs, and
paths that name a machine or a person: what recording scrubs (nwlab.redact) is what this finds.

Used by the test suite on every git-tracked file (cassettes, notebooks, fixtures, docs), and from
the command line: `python -m nwlab.leaks [FILE ...]` (default: `git ls-files`), exit 1 on a leak.
Patterns are written so that this file does not match itself.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from nwlab.redact import GUID as _GUID
from nwlab.redact import placeholder_guid

# Domains reserved for documentation and tests (RFC 2606, RFC 6761): an address there is no one's.
_RESERVED_DOMAIN = re.compile(r"(?i)(?:^|\.)(?:example\.(?:com|net|org)|[^.]+\.(?:example|test|invalid|"
                              r"localhost))$|^(?:example|test|invalid|localhost)$")


@dataclass(frozen=True)
class Leak:
    file: str
    line: int
    kind: str
    excerpt: str  # the match with its secret part masked, safe to print

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.kind}: {self.excerpt}"


def _mask(text: str, keep: int = 6) -> str:
    return text if len(text) <= keep else text[:keep] + "…"


def _placeholder(value: str) -> bool:
    """Documentation placeholders and code references, not secrets."""
    v = value.strip("\"'")
    lowered = v.lower()
    return (len(v) < 8 or v[0] in "<{$%([*" or "..." in v or "…" in v
            or lowered.startswith(("os.", "env", "getenv", "your", "xxx", "example", "redacted",
                                   "dummy", "fake", "test", "none", "null", "changeme"))
            or set(v) <= set("x*-_."))


_Rule = tuple[str, re.Pattern[str], Callable[[re.Match[str], str], bool]]


def _always(match: re.Match[str], path: str) -> bool:
    return True


def _nonzero(match: re.Match[str], path: str) -> bool:
    """GUIDs allowed anywhere (nwlab.redact.placeholder_guid): Azure's documentation placeholder
    (all zeros), nwlab's pseudonyms (first four groups zero) and hand-made ids such as
    99999999-0000-...: none can name a real subscription, tenant or object, whose ids are random
    (version 4) GUIDs. Nothing else is allow-listed: no file, no line."""
    return not placeholder_guid(match.group("guid"))


def _personal(match: re.Match[str], path: str) -> bool:
    """An e-mail address or UPN, unless its domain is reserved for examples. `user:pw@host` in a
    URL is userinfo, not an address (the input checks refuse it; tests spell it on purpose)."""
    token = re.split(r"[\s\"'`(<\[]", match.string[:match.start()])[-1]
    if re.search(r"://[^/]*$", token):  # https://[user[:pw]]@host: still in the authority
        return False
    return not _RESERVED_DOMAIN.search(match.group("domain"))


def _secret(match: re.Match[str], path: str) -> bool:
    value = match.group("value")
    if _placeholder(value):
        return False
    # In code an unquoted value is a variable name; elsewhere (.env, shell, yaml, docs) it is the
    # secret itself, and so is anything after the environment variable's name.
    quoted = bool(match.group("quote"))
    env_style = match.group("name").upper() == "AZURE_CLIENT_SECRET"
    code = path.endswith((".py", ".ipynb"))
    return quoted or env_style or not code


def _bearer(match: re.Match[str], path: str) -> bool:
    value = match.group("value")
    return not _placeholder(value) and any(c.isdigit() or c in "._-~+/" for c in value)


RULES: list[_Rule] = [
    ("jwt", re.compile(r"\beyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]*"), _always),
    ("bearer-token", re.compile(r"(?i)\bbearer\s+(?P<value>[A-Za-z0-9._~+/-]{20,}=*)"), _bearer),
    ("client-secret", re.compile(
        r"(?i)\b(?P<name>AZURE_CLIENT_SECRET|client_?secret)\b[\"']?\s*[:=]\s*"
        r"(?P<quote>[\"']?)(?P<value>[^\s\"',;)}\]]+)"), _secret),
    # In an id with or without its slash (the service sends hop ids without it), also encoded.
    ("subscription-id", re.compile(
        rf"(?i)(?:%2F|(?<![A-Za-z0-9_.-]))subscriptions(?:/|%2F)(?P<guid>{_GUID})"), _nonzero),
    ("tenant-id", re.compile(rf"(?i)(?:%2F|(?<![A-Za-z0-9_.-]))tenants(?:/|%2F)(?P<guid>{_GUID})"),
     _nonzero),
    ("directory-id", re.compile(
        rf"(?i)[\"']?\b(?:tenantId|homeTenantId|principalId|objectId|clientId|appId|applicationId|"
        rf"oid|tid)[\"']?\s*[:=]\s*[\"'](?P<guid>{_GUID})[\"']"), _nonzero),
    ("email", re.compile(r"(?<![\w.%+#-])[\w.%+#-]+@(?P<domain>[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
                         r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*\.[A-Za-z]{2,})(?![\w-])"),
     _personal),
    ("subscription-id", re.compile(rf"(?i)\"subscriptionId\"\s*:\s*\"(?P<guid>{_GUID})\""), _nonzero),
    ("subscription-id", re.compile(rf"(?i)\bAZURE_SUBSCRIPTION_ID\s*[:=]\s*[\"']?(?P<guid>{_GUID})"),
     _nonzero),
    # A home or working directory names a machine or a person. The look-behind keeps URL paths
    # and relative paths out; the look-ahead keeps out regular expressions that look for such
    # paths (an alternation of them): a real path goes on after its "/", never into "|" or ")".
    ("machine-path", re.compile(
        r"(?<![\w.~%-])/(?:root|home/[A-Za-z0-9._-]+|Users/[A-Za-z0-9._-]+|work)/(?![|)])"
        r"|\b[A-Za-z]:(?:\\\\|\\)+Users(?:\\\\|\\)+"), _always),
]


def scan_text(text: str, file: str = "<text>") -> list[Leak]:
    """Every leak in `text`, with its line number."""
    found: list[Leak] = []
    for number, line in enumerate(text.splitlines(), start=1):
        for kind, pattern, applies in RULES:
            for match in pattern.finditer(line):
                if applies(match, file):
                    found.append(Leak(file, number, kind,
                                      _mask(match.group(0), 2 if kind == "email" else 24)))
    return found


def scan_paths(paths: Iterable[str | Path]) -> list[Leak]:
    """Scan files (binary files, recognised by a NUL byte, are skipped)."""
    found: list[Leak] = []
    for path in paths:
        p = Path(path)
        if not p.is_file():
            continue
        raw = p.read_bytes()
        if b"\x00" in raw[:8192]:
            continue
        found.extend(scan_text(raw.decode("utf-8", errors="replace"), str(path)))
    return found


def tracked_files(root: str | Path = ".") -> list[Path]:
    """The files git tracks under `root` (what a clone or a shared repository contains)."""
    out = subprocess.run(["git", "ls-files", "-z"], cwd=root, check=True, capture_output=True).stdout
    return [Path(root) / name for name in out.decode("utf-8").split("\0") if name]


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    leaks = scan_paths(args) if args else scan_paths(tracked_files())
    for leak in leaks:
        print(leak)
    return 1 if leaks else 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
