"""Where the bearer token may go: the ARM endpoint's origin (scheme, host, port) and nowhere else.

An origin is compared as browsers compare it (RFC 6454): a change of scheme or port is another
origin, even on the same host. requests strips Authorization on a cross-host redirect but not on
an https -> http or port change, so the client never lets requests decide (it sends every request,
redirects included, through one origin check).
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from urllib.parse import urlsplit

DEFAULT_PORTS = {"http": 80, "https": 443}
# What no request line may carry (a CR or LF would split it); urlsplit silently drops some of
# them, so they are refused before parsing rather than parsed away.
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# An endpoint is typed by a user: a blank in it is a typo, refused with the control characters.
_BLANK_OR_CONTROL = re.compile(r"[\x00-\x20\x7f]")
_EXAMPLE = "e.g. arm_endpoint='https://management.azure.com'"


@dataclass(frozen=True)
class Origin:
    scheme: str
    host: str
    port: int

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        default = DEFAULT_PORTS.get(self.scheme) == self.port
        return f"{self.scheme}://{host}" + ("" if default else f":{self.port}")


def origin_of(url: str) -> Origin | None:
    """The origin of an absolute http(s) URL; None when it has none (not http(s), no host, a port
    that is not a number, user info, characters no request can carry)."""
    if not isinstance(url, str) or has_control(url):
        return None
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:  # "http://[::1", "https://host:99999", "https://host:x"
        return None
    scheme = parts.scheme.lower()
    host = parts.hostname
    # User info would make requests send Basic credentials in place of the bearer token.
    if scheme not in DEFAULT_PORTS or not host or "@" in parts.netloc:
        return None
    return Origin(scheme, host.lower(), port if port is not None else DEFAULT_PORTS[scheme])


def has_control(url: str) -> bool:
    return _CONTROL.search(url) is not None


def is_loopback_host(host: str) -> bool:
    """localhost, 127.0.0.0/8 or ::1: the only hosts plain http may carry a token to."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_endpoint(endpoint: str) -> str:
    """`endpoint` without its trailing slash, or ValueError saying what to type instead.

    https only, but for loopback (the emulator); no user info, query or fragment. No message
    repeats what was typed before the '@', since that is where a password would sit.
    """
    shown = _shown(endpoint)
    if _BLANK_OR_CONTROL.search(endpoint):
        raise ValueError(f"arm_endpoint: {shown!r} contains a blank or a control character; "
                         f"{_EXAMPLE}")
    if "@" in endpoint:
        # Checked before parsing: a password may hold '/', '?' or '#', which end the authority.
        raise ValueError(f"arm_endpoint: {shown!r} carries user info (user:password@); nwlab "
                         "authenticates with a token credential, never with credentials in the "
                         f"URL. Remove the part before '@'; {_EXAMPLE}")
    if not re.match(r"https?://", endpoint, re.IGNORECASE):
        raise ValueError(f"arm_endpoint: {shown!r} is not an http(s) URL; {_EXAMPLE}")
    try:
        parts = urlsplit(endpoint)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number in range
    except ValueError:
        raise ValueError(f"arm_endpoint: {shown!r} is not a valid URL (check the host and "
                         f"port); {_EXAMPLE}") from None
    if not parts.hostname:
        raise ValueError(f"arm_endpoint: {shown!r} has no host; {_EXAMPLE}")
    if parts.query or parts.fragment or endpoint.rstrip("/").endswith(("?", "#")):
        raise ValueError(f"arm_endpoint: {shown!r} has a query or fragment; give the endpoint "
                         f"alone, {_EXAMPLE}")
    if parts.scheme.lower() == "http" and not is_loopback_host(parts.hostname):
        raise ValueError(f"arm_endpoint: {shown!r} is plain http to a host that is not this "
                         "machine; the bearer token would cross the network unencrypted. Use "
                         "https (plain http is for the local emulator on 127.0.0.1, localhost "
                         f"or [::1]); {_EXAMPLE}")
    return endpoint.rstrip("/")


def _shown(url: str) -> str:
    """`url` with everything before its last '@' hidden (user info, wherever a password with '/'
    or '#' in it makes it end), for messages."""
    if "@" not in url:
        return url
    scheme, sep, rest = url.partition("://")
    host = rest.rpartition("@")[2] if sep else url.rpartition("@")[2]
    return f"{scheme}{sep}***@{host}" if sep else f"***@{host}"
