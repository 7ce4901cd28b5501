"""Bearer tokens: from any azure-identity style credential, cached and refreshed before expiry."""

from __future__ import annotations

import logging
import math
import re
import threading
import time
from dataclasses import dataclass
from typing import Any, Protocol

from nwlab.arm.errors import CredentialError

# azure-identity's own clients refresh tokens five minutes before they expire (reference §6.5).
REFRESH_MARGIN_S = 300.0
# A Bearer token is RFC 6750's b64token: what a JWT (Azure's tokens) and token_urlsafe (the
# emulator's) are made of. Anything else (CR, LF, blanks, non-ASCII) could split or corrupt the
# Authorization header, so it is refused where it enters.
B64TOKEN = re.compile(r"[A-Za-z0-9\-._~+/]+=*")


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
        quiet_azure_identity()  # a user's own azure-identity credential logs the same block
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
        try:
            result = self.credential.get_token(self.scope)
        except Exception as exc:
            # Not signed in is an expected state (azure-identity's CredentialUnavailableError /
            # ClientAuthenticationError): one line and a fix, not a multi-line trace.
            raise CredentialError(f"No Azure token for {self.scope}: {_first_line(exc)}") from None
        token = getattr(result, "token", None)
        if token is None and isinstance(result, tuple | list) and result:
            token = result[0]
        if not token:
            raise TypeError("credential: get_token() returned no token; pass an azure-identity "
                            "credential such as DefaultAzureCredential()")
        if not isinstance(token, str) or not B64TOKEN.fullmatch(token):
            raise CredentialError(
                f"credential: get_token() returned a token with {_flaw(token)}, which an HTTP "
                "Authorization header cannot carry; it was not used (and is not shown).",
                fix="Pass the token exactly as issued (no quotes, spaces or line breaks), e.g. "
                    "--token \"$(az account get-access-token --query accessToken -o tsv)\", or "
                    "use credential=DefaultAzureCredential().")
        self._token = token
        expires = getattr(result, "expires_on", None)
        if expires is None and isinstance(result, tuple | list) and len(result) > 1:
            expires = result[1]
        self._expires_on = _expiry(expires)
        self.fetches += 1


def _expiry(expires: Any) -> float:
    """expires_on as a POSIX time; an hour from now when absent or not a finite number (a value
    such as 10**400 would overflow float(), and nan would never compare as expired)."""
    try:
        value = float(expires) if expires else 0.0
    except (TypeError, ValueError, OverflowError):
        value = 0.0
    return value if value > 0 and math.isfinite(value) else time.time() + 3600


def _flaw(token: Any) -> str:
    """What is wrong with a token, without a character of it."""
    if not isinstance(token, str):
        return f"type {type(token).__name__} (expected str)"
    for index, char in enumerate(token):
        if not B64TOKEN.fullmatch(char) and char != "=":
            kind = {"\r": "a carriage return", "\n": "a line feed", "\t": "a tab",
                    " ": "a space"}.get(char)
            if kind is None:
                kind = "a control character" if ord(char) < 32 or ord(char) == 127 \
                    else f"the character U+{ord(char):04X}"
            return f"{kind} at position {index + 1} of {len(token)}"
    return f"'=' padding before its end (length {len(token)})"


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


def default_credential() -> TokenCredential:
    """DefaultAzureCredential, imported only when a live client needs it."""
    quiet_azure_identity()
    try:
        from azure.identity import DefaultAzureCredential
    except ImportError:
        raise CredentialError("azure-identity is not installed, so nwlab cannot sign in to Azure.",
                              fix="pip install azure-identity, or pass credential=... (any object "
                                  "with get_token(scope)).") from None

    credential: TokenCredential = DefaultAzureCredential()
    return credential


def quiet_azure_identity() -> None:
    """Keep azure-identity's multi-line WARNING block (every credential it tried and why it
    failed) off the terminal: with no handler configured, Python's last-resort handler prints it
    on stderr. A NullHandler on its logger stops that; records still propagate to handlers a user
    configured (logging.basicConfig), so nothing is hidden from someone who asks for logs. The
    failure itself reaches the user once, as a CredentialError with a fix."""
    for name in ("azure.identity", "azure.core.pipeline.policies"):
        logger = logging.getLogger(name)
        if not any(isinstance(h, logging.NullHandler) for h in logger.handlers):
            logger.addHandler(logging.NullHandler())
