"""What the monitor package needs of the ARM client and of the NetworkWatcher, as Protocols.

The monitor talks to ARM through the same client as every check, but names only these methods,
so it imports nothing from the session or the watcher (which call into it): one direction only.
"""

from __future__ import annotations

from typing import Any, Protocol

import requests

from nwlab.arm.auth import TokenCache
from nwlab.arm.clouds import Cloud


class ArmLike(Protocol):
    """The parts of nwlab.arm.session.ArmClient the monitor uses."""

    @property
    def subscription_id(self) -> str: ...

    @property
    def endpoint(self) -> str: ...

    @property
    def cloud(self) -> Cloud: ...

    @property
    def api_versions(self) -> dict[str, str]: ...

    @property
    def session(self) -> requests.Session: ...

    @property
    def tokens(self) -> TokenCache: ...

    @property
    def sleeps(self) -> bool: ...

    def wait(self, seconds: float, cancel: Any = None) -> None: ...

    def request(self, method: str, path: str, *, json: Any = None,
                params: dict[str, str] | None = None, api_version: str | None = None,
                cancel: Any = None, deadline: float | None = None,
                retry_statuses: bool = True) -> requests.Response: ...

    def get_json(self, path: str, *, params: dict[str, str] | None = None,
                 api_version: str | None = None) -> Any: ...

    def list(self, path: str, *, params: dict[str, str] | None = None,
             api_version: str | None = None) -> Any: ...


class VmStatusLike(Protocol):
    """What pre-flight learns about a source VM (nwlab.watcher.VmStatus)."""

    @property
    def id(self) -> str: ...

    @property
    def name(self) -> str: ...

    @property
    def location(self) -> str: ...

    @property
    def agent(self) -> bool: ...

    @property
    def power_state(self) -> str | None: ...

    @property
    def running(self) -> bool: ...

    @property
    def resource_group(self) -> str: ...

    @property
    def os_type(self) -> str | None: ...


class WatcherLike(Protocol):
    """The parts of nwlab.watcher.NetworkWatcher the monitor uses."""

    @property
    def arm(self) -> ArmLike: ...

    @property
    def subscription_id(self) -> str: ...

    @property
    def poll_interval(self) -> float: ...

    @property
    def log_analytics_endpoint(self) -> str | None: ...

    def vm_status(self, vm_id: str) -> VmStatusLike: ...

    def find_watcher(self, region: str) -> str: ...

    def list_watchers(self) -> dict[str, str]: ...
