"""The credential a client of the emulator presents: always the server's current token.

Its own module (not chaos.py) because every emulator client uses it, faults or not; chaos's
ExpireToken(rotate=True) is merely the case that shows why it reads the token on every call.
"""

from __future__ import annotations

import time
from typing import Any, NamedTuple


class AccessToken(NamedTuple):
    token: str
    expires_on: int


class EmulatorCredential:
    """A token credential that always hands out the server's current token, so a client that
    refreshes after ExpireToken(rotate=True) gets the new one (azure-identity's get_token shape)."""

    def __init__(self, server: Any) -> None:
        self.server = server
        self.calls = 0

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        self.calls += 1
        token_for = getattr(self.server, "token_for", None)  # Log Analytics has its own token
        token = token_for(*scopes) if callable(token_for) else self.server.token
        return AccessToken(str(token), int(time.time()) + 3600)


__all__ = ["AccessToken", "EmulatorCredential"]
