"""Where ARM lives in each Azure cloud, and which token scope it accepts (reference §6.6)."""

from __future__ import annotations

from dataclasses import dataclass

from nwlab.arm.origin import check_endpoint


@dataclass(frozen=True)
class Cloud:
    name: str
    endpoint: str
    scope: str


CLOUDS: dict[str, Cloud] = {
    "AzureCloud": Cloud("AzureCloud", "https://management.azure.com",
                        "https://management.azure.com/.default"),
    # The sovereign scopes follow the public cloud's pattern; the reference marks them "verify".
    "AzureUSGovernment": Cloud("AzureUSGovernment", "https://management.usgovcloudapi.net",
                               "https://management.usgovcloudapi.net/.default"),
    "AzureChinaCloud": Cloud("AzureChinaCloud", "https://management.chinacloudapi.cn",
                             "https://management.chinacloudapi.cn/.default"),
}


def resolve_cloud(name: str, arm_endpoint: str | None = None) -> Cloud:
    """The cloud by name (case-insensitive), with `arm_endpoint` overriding its endpoint."""
    if not isinstance(name, str):
        raise TypeError(f"cloud: expected a cloud name, got {type(name).__name__}; "
                        f"e.g. cloud='AzureCloud' (or one of {', '.join(CLOUDS)})")
    by_lower = {key.lower(): cloud for key, cloud in CLOUDS.items()}
    cloud = by_lower.get(name.replace(" ", "").lower())
    if cloud is None:
        raise ValueError(f"cloud: unknown cloud {name!r}; use one of {', '.join(CLOUDS)}, "
                         "e.g. cloud='AzureCloud', or pass arm_endpoint='https://...'")
    if arm_endpoint is not None and not isinstance(arm_endpoint, str):
        raise TypeError(f"arm_endpoint: expected a URL, got {type(arm_endpoint).__name__}; "
                        "e.g. arm_endpoint='https://management.azure.com'")
    if arm_endpoint:
        return Cloud(cloud.name, check_endpoint(arm_endpoint), cloud.scope)
    return cloud
