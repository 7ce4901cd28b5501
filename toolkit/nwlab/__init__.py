"""nwlab: Azure Network Watcher connection troubleshoot from Jupyter.

    import nwlab
    nw = nwlab.replay()                 # recorded documented checks, offline
    nw = nwlab.emulate()                # a local Network Watcher over the bundled Contoso network
    nw = nwlab.connect(subscription_id) # live Azure, credentials from azure-identity
    r = nw.check("MultiTierApp0", "Database0", 80, resource_group="ContosoRG")
"""

from __future__ import annotations

import atexit
from typing import TYPE_CHECKING, Any

from nwlab._version import __version__
from nwlab.arm.auth import StaticTokenCredential, TokenCredential, default_credential
from nwlab.arm.clouds import resolve_cloud
from nwlab.arm.errors import (
    ArmError,
    BackendUnavailable,
    CheckCancelled,
    ClientClosed,
    CredentialError,
    ForeignOriginError,
    MalformedResponse,
    NwlabError,
    OperationFailed,
    OperationTimeout,
    PagingError,
    PreflightError,
    ReplayMismatch,
    ThrottledError,
)
from nwlab.arm.ids import GUID_RE, ZERO_SUBSCRIPTION
from nwlab.arm.session import MIN_POLL_INTERVAL_S, ArmClient
from nwlab.model import ConnectivityResult, Hop, HopLink, Issue
from nwlab.watcher import NetworkWatcher

if TYPE_CHECKING:  # pragma: no cover
    from nwlab.batch import BatchResult

__all__ = [
    "ArmError", "BackendUnavailable", "BatchResult", "CheckCancelled", "ClientClosed",
    "ConnectivityResult", "CredentialError", "ForeignOriginError", "Hop", "HopLink", "Issue",
    "MalformedResponse", "NetworkWatcher", "NwlabError", "OperationFailed", "OperationTimeout",
    "PagingError", "PreflightError", "ReplayMismatch", "ThrottledError", "__version__", "connect",
    "emulate", "replay",
]


def connect(subscription_id: str, *, credential: TokenCredential | None = None,
            cloud: str = "AzureCloud", arm_endpoint: str | None = None,
            api_version: str | None = None, poll_interval: float = 10.0) -> NetworkWatcher:
    """A client for live Azure. `credential` defaults to azure-identity's DefaultAzureCredential."""
    if not isinstance(subscription_id, str) or not GUID_RE.match(subscription_id.strip()):
        raise ValueError(f"subscription_id: {subscription_id!r} is not a subscription id (a GUID); "
                         "e.g. nwlab.connect('00000000-0000-0000-0000-000000000000'); "
                         "`az account show --query id -o tsv` prints yours")
    if credential is not None and not callable(getattr(credential, "get_token", None)):
        raise TypeError("credential: expected an object with get_token(scope), e.g. "
                        "azure.identity.DefaultAzureCredential()")
    resolved = resolve_cloud(cloud, arm_endpoint)
    api_versions = None
    if api_version is not None:
        if not isinstance(api_version, str) or len(api_version) < 10:
            raise ValueError(f"api_version: {api_version!r} is not an ARM api-version; "
                             "e.g. api_version='2024-05-01'")
        api_versions = {"Microsoft.Network": api_version}
    arm = ArmClient(subscription_id=subscription_id.strip(),
                    credential=credential or default_credential(), cloud=resolved,
                    api_versions=api_versions)
    return NetworkWatcher(arm, poll_interval=poll_interval, backend="azure")


def replay(cassettes: Any = None) -> NetworkWatcher:
    """A client that answers from recorded exchanges (the bundled documented checks by default).

    Nothing sleeps and nothing leaves the machine; a request no cassette holds raises ReplayMismatch.
    """
    import requests

    from nwlab.recording import ReplayAdapter, load_cassettes

    loaded, origin = load_cassettes(cassettes)
    session = requests.Session()
    adapter = ReplayAdapter(loaded, origin)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    arm = ArmClient(subscription_id=ZERO_SUBSCRIPTION,
                    credential=StaticTokenCredential("replay"),
                    cloud=resolve_cloud("AzureCloud"), session=session, sleep=None,
                    check_origins=False)
    return NetworkWatcher(arm, poll_interval=0.0, backend="replay")


def emulate(topology: Any = None, *, check_seconds: float = 2.0, retry_after: float = 1.0,
            probes: int | None = None, write_rate: float | None = None,
            time_scale: float = 1.0) -> NetworkWatcher:
    """Start a local Network Watcher on 127.0.0.1 over `topology` (bundled Contoso by default).

    The emulator speaks ARM over HTTP, so the returned client runs exactly the code it runs against
    Azure. It stops when the client is closed or the interpreter exits. `time_scale` is the
    twin's clock speed (twin seconds per real second), which Connection Monitor runs on.
    """
    from nwlab.emulator import EmulatorServer
    from nwlab.emulator.credential import EmulatorCredential

    server = EmulatorServer(topology, check_seconds=check_seconds, retry_after=retry_after,
                            probes=probes, write_rate=write_rate, time_scale=time_scale).start()
    atexit.register(server.stop)
    arm = ArmClient(subscription_id=server.subscription_id,
                    # the server's current token, so a rotated token is picked up on refresh
                    credential=EmulatorCredential(server),
                    cloud=resolve_cloud("AzureCloud", server.endpoint),
                    # The twin is local and its Retry-After is the caller's own choice, so polls
                    # may come sooner than Azure's 1 s floor; 10 ms still keeps a twin answering
                    # Retry-After: 0 from spinning a core.
                    min_poll_interval=min(MIN_POLL_INTERVAL_S, max(retry_after, 0.01)))
    nw = NetworkWatcher(arm, poll_interval=retry_after, backend="emulator", on_close=server.stop)
    nw.emulator = server
    nw.min_check_s = check_seconds
    nw.start_emulator = emulate
    nw.log_analytics_endpoint = server.log_analytics_endpoint  # its own origin, its own token
    return nw


def __getattr__(name: str) -> Any:
    # Heavy parts load on first use so that `import nwlab` and the CLI stay light.
    if name == "BatchResult":
        from nwlab.batch import BatchResult

        return BatchResult
    if name == "Diagnosis":
        from nwlab.diagnostics.diagnosis import Diagnosis

        return Diagnosis
    if name in ("widgets", "viz", "explain", "report", "emulator", "diagnostics", "monitor"):
        import importlib

        return importlib.import_module(f"nwlab.{name}")
    raise AttributeError(f"module 'nwlab' has no attribute {name!r}")
