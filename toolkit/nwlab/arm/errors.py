"""Typed failures: every way a check can fail has a class, a readable message and, where known, a fix."""

from __future__ import annotations

import json
from typing import Any

from nwlab.arm.headers import parse_retry_after


class NwlabError(Exception):
    """Base of nwlab's own errors; `fix` says what to do about it, in words a user can act on."""

    fix: str | None = None

    def __init__(self, message: str, *, fix: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if fix is not None:
            self.fix = fix

    def __str__(self) -> str:
        return self.message if not self.fix else f"{self.message} Fix: {self.fix}"


class ArmError(NwlabError):
    """ARM answered with an error: HTTP status, ARM code and message, and the ids support asks for."""

    def __init__(self, message: str, *, status: int | None = None, code: str | None = None,
                 request_id: str | None = None, correlation_id: str | None = None,
                 method: str | None = None, url: str | None = None, fix: str | None = None,
                 body: Any = None, retry_after: float | None = None) -> None:
        super().__init__(message, fix=fix)
        self.retry_after = retry_after
        self.status = status
        self.code = code
        self.request_id = request_id
        self.correlation_id = correlation_id
        self.method = method
        self.url = url
        self.body = body
        # The answer's headers (lower-cased names): a 429 from Resource Graph says in
        # x-ms-user-quota-resets-after when its quota comes back.
        self.headers: dict[str, str] = {}

    def __str__(self) -> str:
        head = f"HTTP {self.status}" if self.status is not None else "ARM error"
        if self.code:
            head += f" {self.code}"
        text = f"{head}: {self.message}"
        ids = [f"{name} {value}" for name, value in (("request id", self.request_id),
                                                     ("correlation id", self.correlation_id)) if value]
        if ids:
            text += f" ({', '.join(ids)})"
        if self.fix:
            text += f" Fix: {self.fix}"
        return text

    @classmethod
    def from_response(cls, status: int, headers: Any, text: str, *, method: str | None = None,
                      url: str | None = None, fix: str | None = None) -> ArmError:
        """Read the ARM error envelope ({"error": {"code", "message"}}), tolerating any body."""
        code: str | None = None
        message = ""
        body: Any = None
        try:
            body = json.loads(text) if text else None
        except (ValueError, RecursionError):  # not JSON, or nested thousands deep
            body = None
        err = body.get("error") if isinstance(body, dict) else None
        if isinstance(err, dict):
            code = _text(err.get("code"))
            message = _text(err.get("message")) or ""
        elif isinstance(body, dict) and "code" in body:  # a bare ErrorDetails object
            code = _text(body.get("code"))
            message = _text(body.get("message")) or ""
        elif isinstance(err, str):  # {"error": "..."}: some proxies and old services
            message = err
        if not message:
            message = (text or "").strip()[:300] or _REASONS.get(status, "request failed")
        message = " ".join(message.split())[:1000]  # one line, whatever the service sent
        get = headers.get if hasattr(headers, "get") else (lambda _k, _d=None: None)
        klass = ThrottledError if status == 429 else cls
        error = klass(message, status=status, code=code,
                      request_id=get("x-ms-request-id"),
                      correlation_id=get("x-ms-correlation-request-id"),
                      method=method, url=url, fix=fix or _FIXES.get(status), body=body,
                      retry_after=parse_retry_after(get("Retry-After")))
        if hasattr(headers, "items"):
            error.headers = {str(k).lower(): str(v) for k, v in headers.items()}
        return error


def _text(value: Any) -> str | None:
    """A code or message as text: strings as they are, numbers spelled, anything else (a list, an
    object) dropped rather than shown as Python's repr."""
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value) if isinstance(value, int) and abs(value) < 10**30 else None
    return None


class ThrottledError(ArmError):
    """HTTP 429: ARM or the Network resource provider refused the request for now."""


class OperationFailed(ArmError):
    """The long-running operation ended in failure (an error status or body while polling)."""


class OperationTimeout(NwlabError, TimeoutError):
    """The check did not finish within the overall timeout; the service may still be running it."""

    fix = "Pass a larger timeout= (checks take 30 s to 3 min on Azure), or try again later."


class CheckCancelled(NwlabError):
    """The user stopped the check; the service may finish it but nobody is listening."""


class PreflightError(NwlabError):
    """Something that would make the check fail was found before sending it."""


class BackendUnavailable(NwlabError):
    """The endpoint could not be reached or stopped answering (connection refused, reset, stalled)."""


class ReplayMismatch(NwlabError):
    """Replay was asked for a request no cassette holds."""


class ForeignOriginError(NwlabError):
    """A URL the service handed us (Location, Azure-AsyncOperation, nextLink, a redirect, an id read
    from a body) names an origin other than the ARM endpoint's: it is never requested, so the
    bearer token stays with the endpoint it was issued for."""

    fix = ("If cloud= / arm_endpoint= is right, report the request id to Azure support; if not, "
           "pass the right one.")

    def __init__(self, message: str, *, origin: str, fix: str | None = None) -> None:
        super().__init__(message, fix=fix)
        self.origin = origin


class MalformedResponse(ArmError):
    """The service answered with a body nwlab cannot read as the answer it asked for (a list or a
    string where an object belongs, a page without a list, a URL that cannot be requested)."""


class PagingError(ArmError):
    """A paged list did not end: its nextLink repeated (a cycle) or it ran past the page budget."""


class CredentialError(NwlabError):
    """No usable token: not signed in to Azure, a credential that failed, or a token an HTTP
    header cannot carry. The message never contains the token."""

    fix = ("Run `az login`, or set AZURE_CLIENT_ID / AZURE_TENANT_ID / AZURE_CLIENT_SECRET, or "
           "pass credential=... (any object with get_token(scope)).")


class ClientClosed(NwlabError):
    """A call on a client after close(): its connections (and the emulator it started) are gone."""

    fix = "Re-run the first cell (the one that calls nwlab.connect / replay / emulate)."


_REASONS = {400: "bad request", 401: "unauthorized", 403: "forbidden", 404: "not found",
            408: "request timeout", 409: "conflict", 429: "too many requests",
            500: "internal server error", 502: "bad gateway", 503: "service unavailable",
            504: "gateway timeout"}

_FIXES = {
    401: "Sign in again (az login), or check the credential or token given to nwlab.connect / "
         "--token (the emulator prints the token it accepts).",
    403: "Ask for a role that includes Microsoft.Network/networkWatchers/connectivityCheck/action "
         "(Network Contributor, or a custom role); Reader alone cannot run checks.",
    404: "Check the subscription, resource group and resource names.",
    429: "Wait and retry, or lower concurrency / write_rate in check_many().",
}
