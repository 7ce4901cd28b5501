"""Bearer tokens: from any azure-identity style credential, cached and refreshed before expiry."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any, Protocol

# azure-identity's own clients refresh tokens five minutes before they expire (reference §6.5).
REFRESH_MARGIN_S = 300.0


class TokenCredential(Protocol):
    def get_token(self, *scopes: str, **kwargs: Any) -> Any: ...


@dataclass(frozen=True)
class AccessToken:
    token: str
    expires_on: float


class StaticTokenCredential:
    """A fixed token (the emulator's, or one a user already holds); never expires unless told."""

    def __init__(self, token: str, expires_on: float | None = None) -> None:
        self._token = token
        self._expires_on = expires_on if expires_on is not None else time.time() + 10 * 365 * 86400

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        return AccessToken(self._token, self._expires_on)


class TokenCache:
    """One token per client, fetched lazily, refreshed ahead of expiry or when ARM says 401."""

    def __init__(self, credential: TokenCredential, scope: str) -> None:
        self.credential = credential
        self.scope = scope
        self._lock = threading.Lock()
        self._token: str | None = None
        self._expires_on = 0.0
        self.fetches = 0

    def get(self) -> str:
        with self._lock:
            if self._token is None or time.time() > self._expires_on - REFRESH_MARGIN_S:
                self._fetch()
            assert self._token is not None
            return self._token

    def invalidate(self, token: str) -> None:
        """Forget `token` after ARM refused it, unless another thread already replaced it."""
        with self._lock:
            if self._token == token:
                self._token = None

    def _fetch(self) -> None:
        result = self.credential.get_token(self.scope)
        token = getattr(result, "token", None)
        if token is None and isinstance(result, tuple | list) and result:
            token = result[0]
        if not token:
            raise TypeError("credential: get_token() returned no token; pass an azure-identity "
                            "credential such as DefaultAzureCredential()")
        self._token = str(token)
        expires = getattr(result, "expires_on", None)
        if expires is None and isinstance(result, tuple | list) and len(result) > 1:
            expires = result[1]
        self._expires_on = float(expires) if expires else time.time() + 3600
        self.fetches += 1


def default_credential() -> TokenCredential:
    """DefaultAzureCredential, imported only when a live client needs it."""
    from azure.identity import DefaultAzureCredential

    credential: TokenCredential = DefaultAzureCredential()
    return credential
