"""Issue 9, the client's side: the token goes only to the ARM endpoint's origin, plain http only
on loopback, tokens a header cannot carry are refused unseen, not being signed in is a typed
error, polls never spin, paging ends, a closed client says so, and every answer (malformed or
not) ends as a result or a typed nwlab error.

The attacker is a second fake ARM server on 127.0.0.1 (another port, so another origin) or the
same server under another name (localhost) or scheme (https): it must never see a request.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from email.utils import formatdate
from typing import Any

import pytest

import nwlab
from fakearm import OP_PATH, RG, SUB, VM_ID, WATCHER_ID, FakeArm, FakeCredential, Seen, Stall
from nwlab.arm.errors import (
    ArmError,
    CheckCancelled,
    ClientClosed,
    CredentialError,
    ForeignOriginError,
    MalformedResponse,
    NwlabError,
    OperationFailed,
    PagingError,
    ThrottledError,
)
from nwlab.arm.lro import Progress

DEST = "13.107.21.200"
VMS_PATH = r"/providers/Microsoft.Compute/virtualMachines$"
WATCHERS_PATH = r"/providers/Microsoft.Network/networkWatchers$"


@pytest.fixture
def attacker() -> Iterator[FakeArm]:
    server = FakeArm()
    try:
        yield server
    finally:
        server.stop()


def check(nw: Any, **kwargs: Any) -> Any:
    return nw.check("MultiTierApp0", DEST, 80, resource_group="ContosoRG", **kwargs)


def foreign_bases(fake_arm: FakeArm, attacker: FakeArm) -> dict[str, str]:
    """Other origins: another port, another host name for the same server, another scheme."""
    port = fake_arm.endpoint.rsplit(":", 1)[1]
    return {"other-port": attacker.endpoint, "other-host": f"http://localhost:{port}",
            "other-scheme": f"https://127.0.0.1:{port}",
            "user-info": f"http://someone@127.0.0.1:{port}"}


def nothing_reached(fake_arm: FakeArm, attacker: FakeArm, marker: str) -> bool:
    return attacker.requests == [] and not [r for r in fake_arm.requests if marker in r.path]


# -- 1. the token goes only to the ARM endpoint's origin ------------------------------------------

FOREIGN = ["other-port", "other-host", "other-scheme", "user-info"]


@pytest.mark.parametrize("kind", FOREIGN)
@pytest.mark.parametrize("header", ["Location", "Azure-AsyncOperation"])
def test_a_poll_url_of_another_origin_is_never_requested(fake_arm, attacker, connect, seeds,
                                                         kind, header):
    base = foreign_bases(fake_arm, attacker)[kind]
    fake_arm.contoso(seeds["vm-to-ip-udr-blocked"]["result"])
    fake_arm.on("POST", "/connectivityCheck$",
                (202, {header: f"{base}/evil/op?api-version=1", "Retry-After": "0"}, None))
    with pytest.raises(ForeignOriginError) as caught:
        check(connect())
    assert nothing_reached(fake_arm, attacker, "/evil/")
    if kind != "user-info":
        assert caught.value.origin in str(caught.value)
        assert caught.value.origin == base.replace("someone@", "")
    assert "someone" not in str(caught.value)


@pytest.mark.parametrize("kind", FOREIGN)
def test_a_next_link_of_another_origin_is_never_requested(fake_arm, attacker, connect, kind):
    base = foreign_bases(fake_arm, attacker)[kind]
    fake_arm.on("GET", VMS_PATH, (200, {}, {"value": [], "nextLink": f"{base}/evil/page2"}))
    with pytest.raises(ForeignOriginError):
        connect().list_vms()
    assert nothing_reached(fake_arm, attacker, "/evil/")


@pytest.mark.parametrize("kind", FOREIGN)
def test_a_watcher_id_naming_another_origin_is_never_requested(fake_arm, attacker, connect, seeds,
                                                               kind):
    base = foreign_bases(fake_arm, attacker)[kind]
    fake_arm.contoso(seeds["vm-to-ip-udr-blocked"]["result"],
                     watchers=[{"id": base + WATCHER_ID, "location": "westcentralus"}])
    with pytest.raises(ForeignOriginError):
        check(connect())
    assert attacker.requests == [] and fake_arm.seen("POST") == []


@pytest.mark.parametrize("kind", FOREIGN)
@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_a_redirect_to_another_origin_is_never_followed(fake_arm, attacker, connect, kind,
                                                        status):
    base = foreign_bases(fake_arm, attacker)[kind]
    fake_arm.on("GET", "/virtualMachines/MultiTierApp0$",
                (status, {"Location": f"{base}/evil{VM_ID}"}, None))
    with pytest.raises(ForeignOriginError):
        connect().get_vm(VM_ID)
    assert nothing_reached(fake_arm, attacker, "/evil/")


def test_a_redirect_within_the_endpoint_is_followed_with_the_token(fake_arm, connect):
    vm = {"id": VM_ID, "name": "MultiTierApp0", "location": "westcentralus"}
    fake_arm.on("GET", "/moved/vm$", (200, {}, vm))
    fake_arm.on("GET", "/virtualMachines/MultiTierApp0$",
                (307, {"Location": "{endpoint}/moved/vm"}, None))
    assert connect().get_vm(VM_ID) == vm
    moved = fake_arm.seen("GET", "/moved/vm$")
    assert [r.headers["authorization"] for r in moved] == ["Bearer tok-1"]


def test_redirect_loops_end_as_a_typed_error(fake_arm, connect):
    fake_arm.on("GET", "/virtualMachines/MultiTierApp0$",
                (302, {"Location": "{endpoint}" + VM_ID}, None))
    with pytest.raises(MalformedResponse, match="redirect"):
        connect().get_vm(VM_ID)
    assert len(fake_arm.requests) == 6  # the request and five redirects


@pytest.mark.parametrize("location", ["http://[::1/op", "http://127.0.0.1:99999/op",
                                      "http://127.0.0.1:port/op", "ftp://127.0.0.1/op",
                                      "javascript:alert(1)", "{endpoint}/op\tx", "{endpoint}/op\x00"])
def test_an_unreadable_poll_url_is_a_typed_error(fake_arm, connect, seeds, location):
    fake_arm.contoso(seeds["vm-to-ip-udr-blocked"]["result"])
    fake_arm.on("POST", "/connectivityCheck$", (202, {"Location": location}, None))
    with pytest.raises(NwlabError):
        check(connect())
    assert fake_arm.seen("GET", "/op") == []


@pytest.mark.parametrize("watcher_id", [
    WATCHER_ID.lstrip("/"),                     # no leading slash: glued on, it changed the host
    "@127.0.0.2" + WATCHER_ID,                  # would read as user info + host
    ":1" + WATCHER_ID,                          # would read as a port
])
def test_ids_without_a_leading_slash_stay_on_the_endpoint(fake_arm, connect, seeds, watcher_id):
    fake_arm.contoso(seeds["vm-to-ip-udr-blocked"]["result"],
                     watchers=[{"id": watcher_id, "location": "westcentralus"}])
    nw = connect()
    with contextlib.suppress(NwlabError):
        check(nw)
    sent = [record.url for record in nw.arm.history]
    assert any(url.endswith("/connectivityCheck") for url in sent), sent
    assert all(url.startswith(fake_arm.endpoint + "/") for url in sent), sent


# -- 2. plain http only on loopback; no user info ----------------------------------------------

@pytest.mark.parametrize("endpoint", [
    "http://127.0.0.1:8080", "http://127.9.8.7", "http://localhost:1234", "http://LOCALHOST",
    "http://[::1]:5000", "https://management.azure.com", "https://management.azure.com/",
    "HTTPS://management.azure.com",
])
def test_endpoints_that_may_carry_a_token(endpoint):
    nw = nwlab.connect(SUB, credential=FakeCredential(), arm_endpoint=endpoint)
    assert nw.arm.endpoint == endpoint.rstrip("/")


@pytest.mark.parametrize("endpoint", [
    "http://management.azure.com", "http://10.0.0.4:8080", "http://192.168.1.1",
    "http://[2001:db8::1]", "http://127.0.0.1.example.com", "http://0.0.0.0:80",
    "http://169.254.169.254", "https://management.azure.com?x=1",
    "https://management.azure.com/#frag", "https://manage ment.azure.com",
    "https://management.azure.com:99999", "https://", "ftp://management.azure.com",
])
def test_endpoints_that_may_not(endpoint):
    with pytest.raises(ValueError, match=r"^arm_endpoint: .*e\.g\. arm_endpoint='https://"):
        nwlab.connect(SUB, credential=FakeCredential(), arm_endpoint=endpoint)


AT = "@"  # spelled apart where the leak scan would read an e-mail address (no scheme, a / before @)


@pytest.mark.parametrize("endpoint", [
    "https://user:s3cretPW@management.azure.com", "https://s3cretPW@management.azure.com",
    "http://user:s3cretPW@127.0.0.1:8080", "https://user:s3c/retPW" + AT + "management.azure.com",
    "https://user:s3c#retPW@management.azure.com", "https://user:s3c?retPW@host",
    "user:s3cretPW" + AT + "management.azure.com",
])
def test_user_info_is_refused_and_never_shown(endpoint):
    with pytest.raises(ValueError) as caught:
        nwlab.connect(SUB, credential=FakeCredential(), arm_endpoint=endpoint)
    text = str(caught.value) + repr(caught.value)
    assert "user info" in text or "not an http(s) URL" in text
    for secret in ("s3cretPW", "retPW", "s3c"):
        assert secret not in text


# -- 3. tokens a header cannot carry ------------------------------------------------------------

BAD_TOKENS = ["abc\r\nX-Injected: 1", "abc\ndef", "abc def", "\tabc", "abc\x00", "tökén",
              "Bearer abc", "abc\x7f", "a=b", "ab\u2028cd"]


class Handing:
    def __init__(self, token: Any) -> None:
        self.token = token

    def get_token(self, *scopes: str, **kwargs: Any) -> Any:
        return (self.token, 4102444800)


@pytest.mark.parametrize("token", [*BAD_TOKENS, b"bytes-token", 12345])
def test_a_token_a_header_cannot_carry_is_refused_unseen(fake_arm, connect, token):
    nw = connect(credential=Handing(token))
    with pytest.raises(CredentialError) as caught:
        nw.get_vm(VM_ID)
    assert fake_arm.requests == []
    text = str(caught.value) + repr(caught.value)
    if isinstance(token, str):
        assert token not in text and token.strip() not in text
    assert "header" in text


@pytest.mark.parametrize("token", BAD_TOKENS[:3])
def test_a_bad_token_never_reaches_a_saved_batch(fake_arm, connect, tmp_path, token):
    nw = connect(credential=Handing(token))
    batch = nw.check_many([{"source": "MultiTierApp0", "destination": DEST, "port": 80,
                            "resource_group": "ContosoRG"}])
    assert batch.entries[0].error is not None
    assert batch.entries[0].error.type == "CredentialError"
    saved = batch.save(tmp_path / "b.jsonl").read_text(encoding="utf-8")
    assert token not in saved and json.dumps(token)[1:-1] not in saved


@pytest.mark.parametrize("token", ["abc\r\nX-Injected: 1", "abc def"])
def test_the_cli_neither_sends_nor_prints_a_bad_token(fake_arm, capsys, token):
    from nwlab.cli import main

    code = main(["check", "--source", "MultiTierApp0", "-g", "ContosoRG", "--dest", DEST,
                 "--port", "80", "--subscription", SUB, "--arm-endpoint", fake_arm.endpoint,
                 "--token", token])
    out = capsys.readouterr()
    assert code == 1 and fake_arm.requests == []
    assert token not in out.out + out.err and "X-Injected" not in out.out + out.err
    assert len(out.err.strip().splitlines()) == 1


def test_an_error_body_that_echoes_the_token_does_not_show_it(fake_arm, connect):
    fake_arm.on("GET", "/virtualMachines/MultiTierApp0$",
                lambda seen: (403, {}, {"error": {"code": "Forbidden", "message":
                                                  f"refused {seen.headers['authorization']}"}}))
    with pytest.raises(ArmError) as caught:
        connect().get_vm(VM_ID)
    assert "tok-1" not in str(caught.value) and "tok-1" not in json.dumps(caught.value.body)


# -- 4. not signed in --------------------------------------------------------------------------

class NotSignedIn:
    def get_token(self, *scopes: str, **kwargs: Any) -> Any:
        from azure.core.exceptions import ClientAuthenticationError

        raise ClientAuthenticationError(
            "DefaultAzureCredential failed to retrieve a token from the included credentials.\n"
            "Attempted credentials:\n\tEnvironmentCredential: unavailable\n\tAzureCliCredential: "
            "Please run 'az login' to set up an account")


def test_not_signed_in_is_a_typed_error_with_the_fix(fake_arm, connect):
    with pytest.raises(CredentialError) as caught:
        check(connect(credential=NotSignedIn()))
    text = str(caught.value)
    assert "\n" not in text
    for fix in ("az login", "AZURE_CLIENT_ID", "AZURE_TENANT_ID", "AZURE_CLIENT_SECRET",
                "credential="):
        assert fix in text
    assert fake_arm.requests == []


def test_not_signed_in_shows_the_fix_in_the_form(fake_arm, connect):
    from nwlab.widgets import CheckForm

    form = CheckForm(connect(credential=NotSignedIn()))  # its inventory read needs a token
    assert "az login" in form.status.value and "AZURE_CLIENT_SECRET" in form.status.value
    assert "Traceback" not in form.status.value and "Attempted credentials" not in form.status.value
    assert fake_arm.requests == []


def test_not_signed_in_is_one_line_from_the_cli_without_azure_identitys_log(fake_arm):
    """A real DefaultAzureCredential (narrowed to the environment credential, so nothing leaves
    the machine) logs its multi-line block at WARNING: none of it may reach stderr."""
    script = (
        "import functools, sys, azure.identity\n"
        "names = ['managed_identity', 'azure_cli', 'azure_powershell', 'azure_developer_cli',\n"
        "         'shared_token_cache', 'visual_studio_code', 'workload_identity',\n"
        "         'interactive_browser']\n"
        "azure.identity.DefaultAzureCredential = functools.partial(\n"
        "    azure.identity.DefaultAzureCredential,\n"
        "    **{f'exclude_{n}_credential': True for n in names})\n"
        "from nwlab.cli import main\n"
        f"sys.exit(main(['check', '--source', 'MultiTierApp0', '-g', 'ContosoRG', '--dest',\n"
        f"               '{DEST}', '--port', '80', '--subscription', '{SUB}',\n"
        f"               '--arm-endpoint', '{fake_arm.endpoint}']))\n")
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("AZURE_", "NWLAB_", "IDENTITY_", "MSI_"))}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          env=env, timeout=120, check=False)
    assert done.returncode == 1, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert "CredentialError" in lines[0] and "az login" in lines[0]
    assert fake_arm.requests == []


# -- 8. polls never spin -----------------------------------------------------------------------

PAST = formatdate(0, usegmt=True)  # 1970: a date in the past


@pytest.mark.parametrize("retry_after", ["0", "-5", "-0.5", PAST, "0.000001"])
def test_retry_after_zero_negative_or_past_waits_the_minimum(fake_arm, connect, seeds,
                                                             retry_after):
    fake_arm.contoso(seeds["vm-to-ip-udr-blocked"]["result"], polls=2, retry_after=retry_after)
    nw = connect(poll_interval=5.0)
    nw.arm.min_poll_interval = 0.2
    waits: list[float] = []
    check(nw, on_progress=lambda p: waits.append(p.next_poll_s) if p.state == "running" else None)
    assert waits and all(w >= 0.2 for w in waits), waits
    post = fake_arm.seen("POST")[0]
    polls = fake_arm.seen("GET", "/operationResults/")
    gaps = [b.at - a.at for a, b in zip([post, *polls], polls, strict=False)]
    assert len(gaps) == 3 and all(g >= 0.19 for g in gaps), gaps


def test_a_live_client_never_polls_sooner_than_a_second(fake_arm, seeds):
    fake_arm.contoso(seeds["vm-to-ip-udr-blocked"]["result"], polls=0, retry_after="0")
    nw = nwlab.connect(SUB, credential=FakeCredential(), arm_endpoint=fake_arm.endpoint,
                       poll_interval=0)
    assert nw.arm.min_poll_interval == 1.0
    waits: list[float] = []

    def note(progress: Progress) -> None:
        if progress.state == "running":
            waits.append(progress.next_poll_s or 0.0)

    check(nw, on_progress=note)
    assert waits == [1.0]


@pytest.mark.parametrize("retry_after", ["0", "-1", PAST])
def test_throttling_with_retry_after_zero_does_not_spin(fake_arm, connect, retry_after):
    vm = {"id": VM_ID, "name": "MultiTierApp0"}
    fake_arm.on("GET", "/virtualMachines/MultiTierApp0$",
                (429, {"Retry-After": retry_after}, {"error": {"code": "TooManyRequests"}}),
                (429, {"Retry-After": retry_after}, {"error": {"code": "TooManyRequests"}}),
                (200, {}, vm))
    nw = connect()
    nw.arm.min_poll_interval = 0.2
    assert nw.get_vm(VM_ID) == vm
    seen = fake_arm.seen("GET")
    gaps = [b.at - a.at for a, b in itertools.pairwise(seen)]
    assert len(gaps) == 2 and all(g >= 0.19 for g in gaps), gaps


@pytest.mark.parametrize("retry_after", ["1e300", "100000000", str(10**400)])
def test_an_enormous_retry_after_is_an_error_not_a_hang(fake_arm, connect, retry_after):
    fake_arm.on("GET", "/virtualMachines/MultiTierApp0$",
                (429, {"Retry-After": retry_after}, {"error": {"code": "TooManyRequests"}}),
                (200, {}, {"id": VM_ID}))
    outcome: list[Any] = []
    worker = threading.Thread(target=lambda: outcome.append(_outcome(connect().get_vm, VM_ID)),
                              daemon=True)
    worker.start()
    worker.join(120)  # a generous bound: the failure mode is an hour (or forever), not seconds
    assert outcome, "get_vm() was still waiting"
    assert isinstance(outcome[0], ThrottledError | dict), outcome


def _outcome(call: Callable[..., Any], *args: Any) -> Any:
    try:
        return call(*args)
    except Exception as exc:  # the test inspects what came out
        return exc


@pytest.mark.parametrize("status", [300, 301, 302, 303, 304, 307, 308])
def test_a_redirect_on_the_post_is_never_the_result(fake_arm, connect, seeds, status):
    fake_arm.contoso(seeds["vm-to-ip-udr-blocked"]["result"])
    fake_arm.on("POST", "/connectivityCheck$",
                (status, {"Location": "{endpoint}" + OP_PATH}, seeds["vm-to-ip-udr-blocked"]["result"]))
    with pytest.raises(ArmError) as caught:
        check(connect())
    assert caught.value.status == status and caught.value.code == "UnexpectedRedirect"
    assert len(fake_arm.seen("POST")) == 1


@pytest.mark.parametrize("status", [300, 304])
def test_a_redirect_while_polling_is_never_the_result(fake_arm, connect, seeds, status):
    fake_arm.contoso(seeds["vm-to-ip-udr-blocked"]["result"], polls=1)
    fake_arm.on("GET", "/operationResults/op1$", (status, {}, {"connectionStatus": "Reachable"}))
    with pytest.raises(OperationFailed):
        check(connect())


def test_a_same_origin_redirect_while_polling_is_followed(fake_arm, connect, seeds):
    result = seeds["vm-to-ip-udr-blocked"]["result"]
    fake_arm.contoso(result, polls=0)
    fake_arm.on("GET", "/operationResults/op1$",
                (302, {"Location": "{endpoint}/elsewhere/op1?api-version=2024-05-01"}, None))
    fake_arm.on("GET", "/elsewhere/op1$", (200, {}, result))
    assert check(connect()).to_dict() == result


def test_a_201_with_location_is_polled(fake_arm, connect, seeds):
    result = seeds["vm-to-ip-udr-blocked"]["result"]
    fake_arm.contoso(result, polls=1)
    fake_arm.on("POST", "/connectivityCheck$",
                (201, {"Location": "{endpoint}" + OP_PATH, "Retry-After": "0"},
                 {"connectionStatus": "Unknown"}))
    assert check(connect()).to_dict() == result
    assert len(fake_arm.seen("GET", "/operationResults/op1$")) == 2


# -- 9. paging ends ----------------------------------------------------------------------------

def _vm(n: int) -> dict[str, Any]:
    return {"id": f"{RG}/providers/Microsoft.Compute/virtualMachines/vm{n}", "name": f"vm{n}",
            "location": "westcentralus",
            "properties": {"instanceView": {"statuses": []}},
            "resources": [{"properties": {"publisher": "Other"}}]}


def test_a_next_link_to_the_same_page_ends(fake_arm, connect):
    again = f"{fake_arm.endpoint}/page?n=1"
    fake_arm.on("GET", VMS_PATH, (200, {}, {"value": [_vm(1)], "nextLink": again}))
    fake_arm.on("GET", "/page$", (200, {}, {"value": [_vm(2)], "nextLink": again}))
    fake_arm.on("GET", "/extensions$", (200, {}, {"value": []}))
    with pytest.raises(PagingError) as caught:
        connect().list_vms()
    assert caught.value.code == "NextLinkCycle"
    assert len(fake_arm.seen("GET", "/page$")) == 1


def test_a_cycle_of_next_links_ends(fake_arm, connect):
    first = (200, {}, {"value": [], "nextLink": f"{fake_arm.endpoint}/a"})
    fake_arm.on("GET", VMS_PATH, first)
    fake_arm.on("GET", "/resourcegroups$", first)
    fake_arm.on("GET", "/a$", (200, {}, {"value": [], "nextLink": f"{fake_arm.endpoint}/b"}))
    fake_arm.on("GET", "/b$", (200, {}, {"value": [], "nextLink": "/a"}))  # relative, same page
    with pytest.raises(PagingError, match="circle"):
        connect().list_resource_groups()  # another list call, same paging
    with pytest.raises(PagingError, match="circle"):
        connect().list_vms()


def test_the_page_budget_ends_an_endless_list(fake_arm, connect):
    def page(seen: Seen) -> Any:
        n = int(seen.query.get("n", "0"))
        return 200, {}, {"value": [], "nextLink": f"{fake_arm.endpoint}/more?n={n + 1}"}

    fake_arm.on("GET", WATCHERS_PATH, page)
    fake_arm.on("GET", "/more$", page)
    nw = connect()
    nw.arm.max_pages = 25
    with pytest.raises(PagingError) as caught:
        nw.list_watchers()
    assert caught.value.code == "TooManyPages" and len(fake_arm.requests) == 25


def test_a_list_honours_the_callers_cancel(fake_arm, connect):
    stop = threading.Event()

    def first(seen: Seen) -> Any:
        stop.set()  # the user presses Stop while page 1 is on its way
        return 200, {}, {"value": [], "nextLink": f"{fake_arm.endpoint}/p2"}

    fake_arm.on("GET", "/subscriptions$", first)
    with pytest.raises(CheckCancelled):
        connect().list_subscriptions(cancel=stop)
    assert fake_arm.seen("GET", "/p2$") == []


def test_a_list_honours_the_clients_cancel(fake_arm, connect):
    nw = connect()

    def first(seen: Seen) -> Any:
        nw.cancel()
        return 200, {}, {"value": [], "nextLink": f"{fake_arm.endpoint}/p2"}

    fake_arm.on("GET", VMS_PATH, first)
    with pytest.raises(CheckCancelled):
        nw.list_vms()
    assert fake_arm.seen("GET", "/p2$") == []


def test_a_list_honours_the_callers_timeout(fake_arm, connect):
    fake_arm.on("GET", VMS_PATH, (200, {}, {"value": [], "nextLink": f"{fake_arm.endpoint}/slow"}))
    fake_arm.on("GET", "/slow$", Stall(60.0))
    nw = connect()
    outcome: list[Any] = []
    worker = threading.Thread(target=lambda: outcome.append(_outcome(
        lambda: nw.list_vms(timeout=1.0))), daemon=True)
    worker.start()
    worker.join(50)  # well short of the stall: the list ended on its own timeout
    assert outcome and isinstance(outcome[0], NwlabError), outcome


@pytest.mark.parametrize("call", ["list_vms", "list_watchers", "list_subscriptions",
                                  "list_resource_groups"])
@pytest.mark.parametrize("timeout", [0, -1, "5", True, float("nan"), 10**400])
def test_a_bad_list_timeout_is_refused_before_any_request(fake_arm, connect, call, timeout):
    with pytest.raises(ValueError, match=r"^timeout: "):
        getattr(connect(), call)(timeout=timeout)
    assert fake_arm.requests == []


# -- item of issue 12: a closed client says so -------------------------------------------------

CALLS: dict[str, Callable[[Any], Any]] = {
    "check": check,
    "check_many": lambda nw: nw.check_many([{"source": "MultiTierApp0", "destination": DEST,
                                              "port": 80, "resource_group": "ContosoRG"}]),
    "list_vms": lambda nw: nw.list_vms(),
    "list_watchers": lambda nw: nw.list_watchers(),
    "list_subscriptions": lambda nw: nw.list_subscriptions(),
    "list_resource_groups": lambda nw: nw.list_resource_groups(),
    "get_vm": lambda nw: nw.get_vm(VM_ID),
    "arm.get_json": lambda nw: nw.arm.get_json(VM_ID),
}


@pytest.mark.parametrize("name", list(CALLS))
def test_a_closed_client_says_so(fake_arm, connect, seeds, name):
    fake_arm.contoso(seeds["vm-to-ip-udr-blocked"]["result"])
    nw = connect()
    nw.list_watchers()  # cached: a closed client must not answer from its cache either
    before = len(fake_arm.requests)
    nw.close()
    with pytest.raises(ClientClosed) as caught:
        CALLS[name](nw)
    assert "re-run the first cell" in str(caught.value).lower()
    assert len(fake_arm.requests) == before


def test_a_closed_emulator_client_says_so():
    nw = nwlab.emulate(check_seconds=0.0, retry_after=0.0)
    nw.close()
    with pytest.raises(ClientClosed, match=r"(?i)re-run the first cell"):
        nw.check("MultiTierApp0", "Database0", 80, resource_group="ContosoRG")


# -- 10. every answer ends as a result or a typed nwlab error ------------------------------------

MALFORMED: list[Any] = [
    [], [1, 2], "text", 42, True, None, 1.5, {},
    {"value": "x"}, {"value": {"a": 1}}, {"value": [1, "a", None, []]},
    {"value": [{"id": 5, "name": [], "location": {}, "properties": []}]},
    {"value": [{"location": "westcentralus"}]},               # a watcher (or VM) without an id
    {"value": [{"id": None, "location": "westcentralus", "properties": "x"}]},
    {"value": [], "nextLink": 5}, {"value": [], "nextLink": {"u": 1}},
    {"value": [], "nextLink": "http://[::1"}, {"value": [], "nextLink": "\r\nX: 1"},
    {"properties": []}, {"properties": {"instanceView": "x", "storageProfile": []}},
    {"properties": {"instanceView": {"statuses": "x"}}},
    {"properties": {"instanceView": {"statuses": [1, {"code": 5}, {"code": []}]}}},
    {"resources": "x"}, {"resources": [{"properties": []}, 7]},
    {"statuses": {"code": "PowerState/running"}},
    {"connectionStatus": [], "hops": "x"}, {"connectionStatus": "Reachable", "hops": [1, None]},
    {"hops": [{"id": [], "nextHopIds": 5, "issues": "x", "links": [1]}]},
    {"connectionStatus": "Reachable", "avgLatencyInMs": 10**400, "probesSent": 1e400},
    {"status": [], "error": "x"}, {"status": "Failed", "error": [1]},
    {"error": "x"}, {"error": {"code": {"a": 1}, "message": [1]}}, {"error": [1]},
    {"code": 5, "message": None},
    b"1e400", b"-1e400", b"10" + b"0" * 400, b"[" * 50000, b'{"a":' * 50000, b"not json",
    b"\xff\xfe", b'{"value": [1e400]}', b'{"id": "' + b"a" * 100000 + b'"}',
]
STAGES = ["vm", "instance-view", "extensions", "watchers", "post", "poll", "vm-error",
          "poll-error"]


def _stage(fake_arm: FakeArm, seeds: dict[str, Any], stage: str, body: Any) -> None:
    result = seeds["vm-to-ip-udr-blocked"]["result"]
    fake_arm.contoso(result, polls=1)
    fake_arm.on("GET", "/subscriptions$", (200, {}, body))
    fake_arm.on("GET", "/resourcegroups$", (200, {}, body))
    if stage == "vm":
        fake_arm.on("GET", "/virtualMachines/MultiTierApp0$", (200, {}, body))
    elif stage == "instance-view":
        fake_arm.on("GET", "/instanceView$", (200, {}, body))
    elif stage == "extensions":
        fake_arm.on("GET", "/extensions$", (200, {}, body))
    elif stage == "watchers":
        fake_arm.on("GET", WATCHERS_PATH, (200, {}, body))
        fake_arm.on("GET", VMS_PATH, (200, {}, body))
    elif stage == "post":
        fake_arm.on("POST", "/connectivityCheck$", (200, {}, body))
    elif stage == "poll":
        fake_arm.on("GET", "/operationResults/op1$", (200, {}, body))
    elif stage == "vm-error":
        fake_arm.on("GET", "/virtualMachines/MultiTierApp0$", (400, {}, body))
        fake_arm.on("GET", VMS_PATH, (500, {}, body))
    else:
        fake_arm.on("GET", "/operationResults/op1$", (409, {}, body))


ENTRY_POINTS: dict[str, Callable[[Any], Any]] = {
    "check": check,
    "check_many": lambda nw: nw.check_many([{"source": "MultiTierApp0", "destination": DEST,
                                              "port": 80, "resource_group": "ContosoRG"}]),
    "list_vms": lambda nw: nw.list_vms(),
    "list_watchers": lambda nw: nw.list_watchers(),
    "list_subscriptions": lambda nw: nw.list_subscriptions(),
    "list_resource_groups": lambda nw: nw.list_resource_groups(),
    "get_vm": lambda nw: nw.get_vm(VM_ID),
}
def _subclasses(cls: type) -> set[str]:
    names = {cls.__name__}
    for sub in cls.__subclasses__():
        names |= _subclasses(sub)
    return names


@pytest.mark.parametrize("stage", STAGES)
@pytest.mark.parametrize("body", MALFORMED, ids=[f"body{i}" for i in range(len(MALFORMED))])
def test_every_answer_ends_as_a_result_or_a_typed_error(fake_arm, connect, seeds, stage, body):
    _stage(fake_arm, seeds, stage, body)
    nw = connect()
    nw.arm.connection_retries = nw.arm.status_retries = 0  # one answer each, no back-off
    typed = _subclasses(NwlabError)
    for name, call in ENTRY_POINTS.items():
        nw._watchers = None  # each entry point reads the watcher list afresh
        try:
            outcome = call(nw)
        except NwlabError:
            continue
        except Exception as exc:
            pytest.fail(f"{name} at {stage}: {type(exc).__name__}: {exc}")
        if name == "check_many":
            for entry in outcome.entries:
                assert entry.result is not None or entry.error.type in typed, \
                    f"check_many at {stage}: {entry.error}"
        if name == "check":
            assert isinstance(outcome, nwlab.ConnectivityResult)


def test_the_malformed_table_reaches_the_cli_as_one_line(fake_arm, seeds, capsys):
    from nwlab.cli import main

    for stage in ("vm", "watchers", "poll"):
        for body in ([], b"1e400"):
            fake_arm.requests.clear()
            _stage(fake_arm, seeds, stage, body)
            code = main(["check", "--source", "MultiTierApp0", "-g", "ContosoRG", "--dest", DEST,
                         "--port", "80", "--subscription", SUB, "--arm-endpoint",
                         fake_arm.endpoint, "--token", "tok", "--timeout", "20"])
            out = capsys.readouterr()
            assert code in (0, 1), out.err
            assert "Traceback" not in out.err and len(out.err.strip().splitlines()) <= 1

