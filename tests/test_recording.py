"""Recording against a fake ARM server with a real-looking token and subscription: the cassette
holds no token, no Authorization, no subscription or tenant id, replays to the same result, is
written atomically, skips token traffic, and re-recording never reveals more."""

from __future__ import annotations

import base64
import json
import os
import re
from pathlib import Path
from typing import Any

import pytest
import requests

import nwlab
import nwlab.recording as recording_module
from fakearm import FakeArm
from nwlab.recording import (
    Cassette,
    Interaction,
    RecordingAdapter,
    header_kept,
    is_token_request,
    recording,
    scrub_text,
)
from nwlab.redact import PSEUDONYM_GUID_PREFIX

# Real-looking identifiers, assembled at run time so that this file itself holds no id after a
# "/subscriptions/" and no token (the leak scan reads it too).
REAL_SUB = "3f2a1b4c-5d6e-4f70-8192-a3b4c5d6e7f8"
TENANT = "9b1c2d3e-4f50-4617-a8b9-c0d1e2f3a4b5"
ZERO = "00000000-0000-0000-0000-000000000000"
PERSON = "alice" + "@" + "contoso.com"
GUIDS = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.I)


def _segment(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


JWT = ".".join([_segment({"typ": "JWT", "alg": "RS256", "kid": "abc123"}),
                _segment({"aud": "https://management.azure.com", "tid": TENANT, "oid": "x" * 12}),
                "Zm9vYmFyYmF6cXV4" * 8])


class JwtCredential:
    def get_token(self, *scopes: str, **kwargs: Any) -> tuple[str, float]:
        import time

        return JWT, time.time() + 3600


def subs(sub: str) -> str:
    return "/subscriptions" + "/" + sub


def live_result(seeds: dict[str, Any]) -> dict[str, Any]:
    text = json.dumps(seeds["vm-to-vm-nsg-blocked"]["result"])
    return json.loads(text.replace(ZERO, REAL_SUB))


def serve_real_looking(fake: FakeArm, seeds: dict[str, Any], *, extra_headers: bool = True) -> None:
    """A subscription that is not all zeros, answers that echo ids, a tenant and a token."""
    rg = subs(REAL_SUB) + "/resourceGroups/ContosoRG"
    vm = {"id": rg + "/providers/Microsoft.Compute/virtualMachines/MultiTierApp0",
          "name": "MultiTierApp0", "location": "westcentralus",
          "identity": {"type": "SystemAssigned", "tenantId": TENANT},
          "properties": {"osProfile": {"adminUsername": "azureuser",
                                       "adminPassword": "P@ssw0rd-never-kept"},
                         "instanceView": {"statuses": [{"code": "PowerState/running"}]}},
          "resources": [{"properties": {"publisher": "Microsoft.Azure.NetworkWatcher",
                                        "type": "NetworkWatcherAgentWindows",
                                        "protectedSettings": {"key": "secret-value"}}}]}
    watcher = (subs(REAL_SUB) + "/resourceGroups/NetworkWatcherRG/providers/Microsoft.Network"
               "/networkWatchers/NetworkWatcher_westcentralus")
    location = ("{endpoint}" + subs(REAL_SUB) + "/providers/Microsoft.Network/locations/"
                "westcentralus/operationResults/op1?api-version=2024-05-01")
    noisy = {"Set-Cookie": "x-ms-gateway-slice=estsfd; path=/; secure",
             "x-ms-client-tenant-id": TENANT,
             "x-ms-client-principal-name": PERSON,
             "WWW-Authenticate": f'Bearer authorization_uri="https://login.microsoftonline.com/{TENANT}"',
             "X-Debug-Echo": f"Bearer {JWT}",
             "x-ms-ratelimit-remaining-subscription-writes": "1199"} if extra_headers else {}
    fake.on("GET", "/virtualMachines/MultiTierApp0$", (200, noisy, vm))
    fake.on("GET", "/networkWatchers$", (200, {}, {"value": [
        {"id": watcher, "location": "westcentralus", "subscriptionId": REAL_SUB}]}))
    fake.on("POST", "/connectivityCheck$",
            (202, {"Location": location, "Retry-After": "0", "x-ms-request-id": "op1", **noisy}, None))
    fake.on("GET", "/operationResults/op1$", (202, {"Location": location, "Retry-After": "0"}, None),
            (200, {"Location": location}, live_result(seeds)))
    page2 = ("{endpoint}" + subs(REAL_SUB) + "/resourcegroups?api-version=2021-04-01"
             "&%24skiptoken=%2Fsubscriptions%2F" + REAL_SUB + "%2Fpage2")

    def groups(seen: Any) -> tuple[int, dict[str, str], Any]:
        if seen.query.get("$skiptoken"):
            return 200, {}, {"value": [{"id": subs(REAL_SUB) + "/resourceGroups/b", "name": "b"}]}
        return 200, {}, {"value": [{"id": subs(REAL_SUB) + "/resourceGroups/a", "name": "a",
                                    "debug": f"issued to token {JWT}"}],
                         "nextLink": page2.replace("{endpoint}", fake.endpoint)}

    fake.on("GET", "/resourcegroups$", groups)


def record(fake: FakeArm, path: Path, **kwargs: Any) -> Any:
    nw = nwlab.connect(REAL_SUB, credential=JwtCredential(), arm_endpoint=fake.endpoint,
                       poll_interval=0.01)
    with recording(nw.arm.session, path, rewrite_endpoint=(fake.endpoint, "https://management.azure.com"),
                   **kwargs):
        result = nw.check("MultiTierApp0", "Database0", 80, resource_group="ContosoRG")
        assert nw.list_resource_groups() == ["a", "b"]
    return result


# -- what a recorded cassette holds ------------------------------------------------------------


def test_recorded_cassette_holds_no_token_no_authorization_and_no_ids(fake_arm, seeds, tmp_path):
    serve_real_looking(fake_arm, seeds)
    path = tmp_path / "check.json"
    live = record(fake_arm, path)
    assert live.to_dict() == live_result(seeds)
    # The server really saw the token and the subscription.
    assert fake_arm.requests[0].headers["authorization"] == f"Bearer {JWT}"
    assert REAL_SUB in fake_arm.seen("POST")[0].path

    text = path.read_text(encoding="utf-8")
    lowered = text.lower()
    assert JWT not in text and JWT.split(".")[1] not in text and "eyJ" not in text
    assert "authorization" not in lowered
    assert REAL_SUB not in lowered and TENANT not in lowered
    assert "%2fsubscriptions%2f" + ZERO in lowered  # the encoded skip token is zeroed too
    assert PERSON not in text
    assert "P@ssw0rd" not in text and "secret-value" not in text
    assert "127.0.0.1" not in text and fake_arm.endpoint not in text
    hop_ids = set(GUIDS.findall(json.dumps(seeds["vm-to-vm-nsg-blocked"]["result"])))
    assert set(GUIDS.findall(text)) - {ZERO} <= hop_ids  # only the hop ids of the result
    cassette = Cassette.load(path)
    for item in cassette.interactions:
        assert item.url.startswith("https://management.azure.com" + subs(ZERO))
        assert all(header_kept(name) for name in item.headers), item.headers
    post = next(i for i in cassette.interactions if i.method == "POST")
    assert post.headers["Location"].startswith("https://management.azure.com" + subs(ZERO))
    assert post.request_body["source"]["resourceId"].startswith(subs(ZERO) + "/")
    assert post.headers["x-ms-ratelimit-remaining-subscription-writes"] == "1199"


def test_recorded_cassette_replays_to_the_same_result(fake_arm, seeds, tmp_path):
    serve_real_looking(fake_arm, seeds)
    path = tmp_path / "check.json"
    live = record(fake_arm, path)
    replayed = nwlab.replay(str(path)).check("MultiTierApp0", "Database0", 80,
                                             resource_group="ContosoRG")
    assert replayed.to_dict() == json.loads(json.dumps(live.to_dict()).replace(REAL_SUB, ZERO))
    assert replayed.to_dict() == seeds["vm-to-vm-nsg-blocked"]["result"]
    assert replayed.meta["polls"] == live.meta["polls"] == 2
    assert nwlab.replay(str(path)).list_resource_groups() == ["a", "b"]


def test_recorded_cassette_passes_the_leak_scan(fake_arm, seeds, tmp_path):
    from nwlab.leaks import scan_paths

    serve_real_looking(fake_arm, seeds)
    path = tmp_path / "check.json"
    record(fake_arm, path)
    assert scan_paths([path]) == []


# -- every GUID, people and tags: scrubbed, and replay still works -------------------------------

OP = "0a1b2c3d-4e5f-4a6b-8c7d-8e9fa0b1c2d3"
PRINCIPAL = "1234abcd-5678-4012-89ab-cdef01234567"
PAGE = "5e6f7a8b-9c0d-4e1f-8a2b-3c4d5e6f7a8b"
UPN = "carol_fabrikam.com#EXT#" + "@" + "contoso.onmicrosoft.com"


def serve_guid_heavy(fake: FakeArm, seeds: dict[str, Any]) -> None:
    """GUIDs where ARM puts them: an operation id in Location and in the request id, a skip token
    in a nextLink, principal and tenant ids, slashless ids; a person and tags."""
    rg = subs(REAL_SUB) + "/resourceGroups/ContosoRG"
    vm = {"id": rg + "/providers/Microsoft.Compute/virtualMachines/MultiTierApp0",
          "name": "MultiTierApp0", "location": "westcentralus",
          "identity": {"type": "SystemAssigned", "principalId": PRINCIPAL, "tenantId": TENANT},
          "managedBy": (rg + "/providers/Microsoft.Compute/availabilitySets/as1").lstrip("/"),
          "tags": {"owner": UPN, "costCenter": "HR-4411"},
          "systemData": {"createdBy": PERSON, "createdByType": "User"},
          "properties": {"osProfile": {"adminUsername": "carol-admin"},
                         "instanceView": {"statuses": [{"code": "PowerState/running"}]}},
          "resources": [{"properties": {"publisher": "Microsoft.Azure.NetworkWatcher",
                                        "type": "NetworkWatcherAgentWindows"}}]}
    watcher = (subs(REAL_SUB) + "/resourceGroups/NetworkWatcherRG/providers/Microsoft.Network"
               "/networkWatchers/NetworkWatcher_westcentralus")
    location = ("{endpoint}" + subs(REAL_SUB) + "/providers/Microsoft.Network/locations/"
                f"westcentralus/operationResults/{OP}?api-version=2024-05-01")
    result = live_result(seeds)
    for hop in result["hops"]:
        hop["resourceId"] = hop["resourceId"].lstrip("/")  # as the service sends them
    fake.on("GET", "/virtualMachines/MultiTierApp0$", (200, {}, vm))

    def watchers(seen: Any) -> tuple[int, dict[str, str], Any]:
        if seen.query.get("$skiptoken"):
            return 200, {}, {"value": [{"id": watcher, "location": "westcentralus"}]}
        return 200, {}, {"value": [], "nextLink": fake.endpoint + subs(REAL_SUB) +
                         "/providers/Microsoft.Network/networkWatchers?api-version=2024-05-01"
                         f"&$skiptoken={PAGE}"}

    fake.on("GET", "/networkWatchers$", watchers)
    fake.on("POST", "/connectivityCheck$",
            (202, {"Location": location, "Retry-After": "0", "x-ms-request-id": OP,
                   "x-ms-correlation-request-id": PRINCIPAL}, None))
    fake.on("GET", f"/operationResults/{OP}$",
            (202, {"Location": location, "Retry-After": "0", "x-ms-request-id": OP}, None),
            (200, {"x-ms-request-id": OP}, result))


def test_every_guid_person_and_tag_is_scrubbed_and_the_cassette_still_replays(fake_arm, seeds,
                                                                              tmp_path):
    from nwlab.leaks import scan_text

    serve_guid_heavy(fake_arm, seeds)
    path = tmp_path / "check.json"
    nw = nwlab.connect(REAL_SUB, credential=JwtCredential(), arm_endpoint=fake_arm.endpoint,
                       poll_interval=0.01)
    adapter: list[RecordingAdapter] = []
    with recording(nw.arm.session, path,
                   rewrite_endpoint=(fake_arm.endpoint, "https://management.azure.com")):
        adapter.append(nw.arm.session.adapters["https://"])
        live = nw.check("MultiTierApp0", "Database0", 80, resource_group="ContosoRG")
    # What went over the wire holds all of it, and the leak scan sees it there...
    raw = json.dumps([i.to_dict() for i in adapter[0].raw()], indent=1)
    for secret in (OP, PAGE, PRINCIPAL, TENANT, UPN, PERSON, "carol-admin", "HR-4411"):
        assert secret in raw, secret
    assert {"subscription-id", "directory-id", "email"} <= {leak.kind for leak in scan_text(raw)}
    # ...the cassette holds none of it, and the scan finds nothing.
    text = path.read_text(encoding="utf-8")
    for secret in (OP, PAGE, PRINCIPAL, TENANT, REAL_SUB, UPN, PERSON, "carol-admin", "HR-4411",
                   "fabrikam", "contoso.onmicrosoft"):
        assert secret.lower() not in text.lower(), secret
    assert scan_text(text) == []
    hop_ids = set(GUIDS.findall(json.dumps(seeds["vm-to-vm-nsg-blocked"]["result"])))
    assert {g for g in GUIDS.findall(text) if not g.startswith(PSEUDONYM_GUID_PREFIX)} <= hop_ids
    # The operation's Location, its polls and the request id share one pseudonym.
    cassette = Cassette.load(path)
    post = next(i for i in cassette.interactions if i.method == "POST")
    op = post.headers["Location"].split("?")[0].rsplit("/", 1)[1]
    assert op.startswith(PSEUDONYM_GUID_PREFIX) and post.headers["x-ms-request-id"] == op
    assert [i.method for i in cassette.interactions if op in i.url] == ["GET", "GET"]
    # Replay follows the same Location and the same nextLink, and gives the same answer.
    replayed = nwlab.replay(str(path)).check("MultiTierApp0", "Database0", 80,
                                             resource_group="ContosoRG")
    expected = json.loads(json.dumps(live.to_dict()).replace(REAL_SUB, ZERO))
    assert replayed.to_dict() == expected and replayed.meta["polls"] == live.meta["polls"]
    assert replayed.meta["request_id"] == op


def test_cassettes_recorded_apart_replay_together(fake_arm, seeds, tmp_path):
    """Pseudonyms are drawn per recording, so two cassettes never share an operation URL."""
    serve_guid_heavy(fake_arm, seeds)
    paths = [tmp_path / "a.json", tmp_path / "b.json"]
    nw = nwlab.connect(REAL_SUB, credential=JwtCredential(), arm_endpoint=fake_arm.endpoint,
                       poll_interval=0.01)
    for path in paths:
        nw._watchers = None  # each cassette carries its own discovery reads
        with recording(nw.arm.session, path,
                       rewrite_endpoint=(fake_arm.endpoint, "https://management.azure.com")):
            nw.check("MultiTierApp0", "Database0", 80, resource_group="ContosoRG")
    urls = [{i.url for i in Cassette.load(p).interactions if "operationResults" in i.url}
            for p in paths]
    assert urls[0] and urls[1] and not urls[0] & urls[1]
    both = nwlab.replay([str(p) for p in paths])
    assert both.check("MultiTierApp0", "Database0", 80, resource_group="ContosoRG").status == \
        "Unreachable"


# -- the scrubber ------------------------------------------------------------------------------


def test_scrub_text_zeroes_ids_and_cuts_tokens():
    raw = (f"GET {subs(REAL_SUB)}/x %2Fsubscriptions%2F{REAL_SUB.upper()} "
           f'"subscriptionId": "{REAL_SUB}", "tenantId":"{TENANT}" Authorization: Bearer {JWT}')
    out = scrub_text(raw)
    assert REAL_SUB not in out.lower() and TENANT not in out and "eyJ" not in out
    # The subscription, wherever it stands once it is known as one, becomes the zero GUID; in
    # plain text the tenant id is a GUID like any other and gets a pseudonym.
    assert out.count(ZERO) == 3 and out.count(PSEUDONYM_GUID_PREFIX) == 4
    assert "Bearer <redacted" in out
    assert scrub_text(out) == out  # nothing left to scrub


def test_learnt_ids_are_zeroed_wherever_they_appear():
    """A subscription id met in one exchange's URL is zeroed in another's free text."""
    cassette = Cassette("c", [
        Interaction("GET", "https://management.azure.com" + subs(REAL_SUB) + "/x", None, 200, {},
                    {}),
        Interaction("GET", "https://management.azure.com/tenants", None, 200, {},
                    {"displayName": f"sub {REAL_SUB.upper()}", "tenantId": TENANT})])
    out = cassette.scrubbed()
    assert out.interactions[1].body == {"displayName": f"sub {ZERO}", "tenantId": ZERO}
    assert out.interactions[0].url == "https://management.azure.com" + subs(ZERO) + "/x"


def test_secret_valued_keys_are_redacted_in_bodies():
    item = Interaction("PUT", "https://management.azure.com/x", {"properties": {
        "protectedSettings": {"a": "b"}, "settings": {"port": 1}}}, 200, {},
        {"access_token": "abc", "refresh_token": "def", "expires_in": 3599,
         "properties": {"adminPassword": "pw", "connectionString": None}})
    out = item.scrubbed()
    assert out.request_body == {"properties": {"protectedSettings": "<redacted>", "settings": {"port": 1}}}
    assert out.body == {"access_token": "<redacted>", "refresh_token": "<redacted>", "expires_in": 3599,
                        "properties": {"adminPassword": "<redacted>", "connectionString": None}}


# -- token traffic is never recorded ------------------------------------------------------------


@pytest.mark.parametrize("url,is_token", [
    ("https://login.microsoftonline.com/tenant/oauth2/v2.0/token", True),
    ("https://login.microsoftonline.us/tenant/oauth2/v2.0/token", True),
    ("https://login.chinacloudapi.cn/tenant/oauth2/token", True),
    ("https://login.partner.microsoftonline.cn/tenant/oauth2/token", True),
    ("http://169.254.169.254/metadata/identity/oauth2/token?resource=x", True),
    ("http://127.0.0.1:41234/msi/token?api-version=2019-08-01", True),
    ("https://management.azure.com" + "/subscriptions", False),
    ("https://login.microsoftonline.com.evil.example/x", False),
])
def test_token_requests_are_recognised(url, is_token):
    assert is_token_request(url) is is_token


def test_token_traffic_is_not_recorded(monkeypatch, tmp_path):
    def canned(self, request, **kwargs):
        response = requests.Response()
        response.status_code = 200
        response._content = json.dumps({"access_token": JWT, "token_type": "Bearer"}).encode()
        response.headers["Content-Type"] = "application/json"
        response.request = request
        response.url = request.url
        return response

    monkeypatch.setattr(requests.adapters.HTTPAdapter, "send", canned)
    session = requests.Session()
    path = tmp_path / "c.json"
    with recording(session, path):
        session.post(f"https://login.microsoftonline.com/{TENANT}/oauth2/v2.0/token",
                     data={"client_id": "x", "client_secret": "y", "grant_type": "client_credentials"})
        session.get("http://169.254.169.254/metadata/identity/oauth2/token?api-version=2018-02-01")
        session.get("https://management.azure.com" + subs(REAL_SUB) + "/resourcegroups?api-version=1")
    cassette = Cassette.load(path)
    assert [i.url for i in cassette.interactions] == [
        "https://management.azure.com" + subs(ZERO) + "/resourcegroups?api-version=1"]
    text = path.read_text()
    assert "login.microsoftonline" not in text and "client_secret" not in text and "eyJ" not in text


def test_recording_adapter_counts_skipped_token_requests(monkeypatch):
    monkeypatch.setattr(requests.adapters.HTTPAdapter, "send",
                        lambda self, request, **kw: requests.Response())
    adapter = RecordingAdapter()
    request = requests.Request("POST", "https://login.microsoftonline.com/t/oauth2/v2.0/token").prepare()
    adapter.send(request)
    assert adapter.skipped == 1 and adapter.interactions == []


# -- atomic writes ------------------------------------------------------------------------------


@pytest.fixture
def existing(tmp_path: Path) -> Path:
    bundled = Path(nwlab.__file__).parent / "cassettes" / "vm-to-ip-udr-blocked.json"
    path = tmp_path / "cassettes" / "check.json"
    path.parent.mkdir()
    path.write_bytes(bundled.read_bytes())
    return path


def assert_untouched(path: Path) -> None:
    bundled = Path(nwlab.__file__).parent / "cassettes" / "vm-to-ip-udr-blocked.json"
    assert path.read_bytes() == bundled.read_bytes()
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name]  # no temp file left


@pytest.mark.parametrize("target", ["os.replace", "os.fsync", "json.dumps"])
def test_a_crash_while_writing_leaves_the_old_cassette_and_no_temp_file(existing, monkeypatch, target):
    module, name = target.split(".")

    def crash(*args: Any, **kwargs: Any) -> Any:
        raise OSError(f"simulated crash in {target}")

    monkeypatch.setattr(getattr(recording_module, module), name, crash)
    cassette = Cassette("new", [Interaction("GET", "https://management.azure.com/x", None, 200, {}, {})])
    with pytest.raises(OSError, match="simulated crash"):
        cassette.save(existing)
    monkeypatch.undo()
    assert_untouched(existing)


def test_a_crash_in_the_middle_of_writing_the_file(existing, monkeypatch):
    real_fdopen = os.fdopen

    class HalfWriter:
        def __init__(self, handle: Any) -> None:
            self.handle = handle

        def __enter__(self) -> HalfWriter:
            return self

        def __exit__(self, *exc: Any) -> None:
            self.handle.close()

        def write(self, text: str) -> None:
            self.handle.write(text[: len(text) // 2])
            raise OSError("disk full")

    monkeypatch.setattr(recording_module.os, "fdopen", lambda *a, **k: HalfWriter(real_fdopen(*a, **k)))
    with pytest.raises(OSError, match="disk full"):
        Cassette("new", []).save(existing)
    monkeypatch.undo()
    assert_untouched(existing)


def test_a_failing_recording_block_leaves_the_old_cassette(fake_arm, seeds, existing):
    serve_real_looking(fake_arm, seeds)
    nw = nwlab.connect(REAL_SUB, credential=JwtCredential(), arm_endpoint=fake_arm.endpoint,
                       poll_interval=0.01)
    with pytest.raises(RuntimeError), recording(nw.arm.session, existing):
        nw.list_resource_groups()
        raise RuntimeError("the notebook cell failed half way")
    assert_untouched(existing)
    # The session got its own transport back.
    assert not isinstance(nw.arm.session.adapters["https://"], RecordingAdapter)


def test_a_save_writes_a_whole_loadable_file(tmp_path):
    path = tmp_path / "deep" / "new.json"
    Cassette("new", [Interaction("GET", "https://management.azure.com/x", None, 204, {}, None, "")]
             ).save(path)
    loaded = Cassette.load(path)
    assert loaded.name == "new" and loaded.interactions[0].text == ""
    assert [p.name for p in path.parent.iterdir()] == ["new.json"]


# -- re-recording never widens what a cassette reveals ------------------------------------------


def hand_edited(path: Path) -> None:
    """An older cassette somebody edited: extra headers, a person, a subscription id."""
    data = json.loads(path.read_text())
    first = data["interactions"][0]["response"]
    first["headers"].update({"X-Debug-Host": "build-agent-7.corp.contoso.com",
                             "x-ms-client-principal-name": PERSON,
                             "Set-Cookie": "session=abc"})
    first["body"]["id"] = first["body"]["id"].replace(ZERO, REAL_SUB)
    path.write_text(json.dumps(data))


def revealed(path: Path) -> tuple[set[str], set[str]]:
    """Header names and GUIDs a cassette shows."""
    cassette = Cassette.load(path)
    names = {k.lower() for i in cassette.interactions for k in i.headers}
    return names, {g.lower() for g in GUIDS.findall(path.read_text())}


def test_rerecording_over_a_cassette_never_widens_it(fake_arm, seeds, existing):
    hand_edited(existing)
    serve_real_looking(fake_arm, seeds, extra_headers=False)
    record(fake_arm, existing)
    names_plain, guids_plain = revealed(existing)
    # Now the service (or a proxy) sends more headers, ids and tokens than before.
    fake_arm.stop()
    noisy = FakeArm()
    try:
        serve_real_looking(noisy, seeds, extra_headers=True)
        record(noisy, existing)
    finally:
        noisy.stop()
    names, guids = revealed(existing)
    assert all(header_kept(n) for n in names)
    assert names <= names_plain | {"x-ms-ratelimit-remaining-subscription-writes"}
    assert guids <= guids_plain
    text = existing.read_text()
    for word in ("alice", "build-agent", "Set-Cookie", "x-ms-client", "WWW-Authenticate", "X-Debug",
                 REAL_SUB, TENANT, "eyJ"):
        assert word.lower() not in text.lower(), word


def test_resaving_an_edited_cassette_drops_what_the_scrubber_would_remove(existing, tmp_path):
    hand_edited(existing)
    out = tmp_path / "resaved.json"
    Cassette.load(existing).save(out)
    text = out.read_text()
    assert "alice" not in text and "build-agent" not in text and "Set-Cookie" not in text
    assert REAL_SUB not in text
    cassette = Cassette.load(out)
    assert all(i.scrubbed() == i for i in cassette.interactions)  # nothing left to remove
    # And the replay still works from the re-saved file.
    nw = nwlab.replay(str(out))
    assert nw.check("MultiTierApp0", "13.107.21.200", 80, resource_group="ContosoRG").status == "Unreachable"


def test_bundled_cassettes_are_already_scrubbed():
    folder = Path(nwlab.__file__).parent / "cassettes"
    for path in folder.glob("*.json"):
        cassette = Cassette.load(path)
        assert all(i.scrubbed() == i for i in cassette.interactions), path.name
        assert cassette.scrubbed().interactions == cassette.interactions, path.name
