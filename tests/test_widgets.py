"""CheckForm without a kernel: fields -> runner kwargs, rendering into out.outputs, Stop, errors."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pandas as pd
import pytest

from nwlab.arm.errors import CheckCancelled, PreflightError
from nwlab.model import ConnectivityResult
from nwlab.widgets import CheckForm
from nwlab.widgets import check_form as module

DATA = Path(__file__).parent / "data" / "results"


def load(name: str) -> ConnectivityResult:
    return ConnectivityResult.from_dict(json.loads((DATA / f"{name}.json").read_text()))


VMS = [
    {"name": "MultiTierApp0", "resource_group": "ContosoRG", "location": "westcentralus",
     "power_state": "running", "agent": True, "id": "/subscriptions/0/vm/MultiTierApp0"},
    {"name": "Database0", "resource_group": "ContosoRG", "location": "westcentralus",
     "power_state": "deallocated", "agent": False, "id": "/subscriptions/0/vm/Database0"},
    {"name": "Web1", "resource_group": "WebRG", "location": "westeurope",
     "power_state": "running", "agent": True, "id": "/subscriptions/0/vm/Web1"},
]


class FakeWatcher:
    """The NetworkWatcher surface the form uses, with a recorded inventory."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    def list_resource_groups(self) -> list[str]:
        return ["ContosoRG", "WebRG"]

    def list_vms(self, resource_group: str | None = None) -> pd.DataFrame:
        rows = [r for r in VMS if resource_group in (None, r["resource_group"])]
        return pd.DataFrame(rows, columns=["name", "resource_group", "location", "power_state",
                                           "agent", "id"])

    def check(self, source: Any, destination: Any, port: Any = None, **kwargs: Any
              ) -> ConnectivityResult:
        self.calls.append({"source": source, "destination": destination, "port": port, **kwargs})
        return load("vm-to-vm-nsg-blocked")


@pytest.fixture(autouse=True)
def clean_registry() -> None:
    module._REGISTRY.clear()


def recorder(result: Any = None, error: BaseException | None = None
             ) -> tuple[list[dict[str, Any]], Any]:
    calls: list[dict[str, Any]] = []

    def run(**kwargs: Any) -> Any:
        calls.append(kwargs)
        if error is not None:
            raise error
        return result if result is not None else load("vm-to-vm-nsg-blocked")
    return calls, run


def test_inventory_fills_pickers() -> None:
    form = CheckForm(FakeWatcher())
    assert form.resource_group.options == ("ContosoRG", "WebRG")
    assert form.vm.value == "MultiTierApp0"
    labels = [label for label, _ in form.vm.options]
    assert labels == ["MultiTierApp0 · running · agent ✓", "Database0 · deallocated · no agent"]
    assert form.destination.options == ("MultiTierApp0", "Database0")
    form.vm.value = "Database0"
    assert "deallocated" in form.source_info.value and "agent" in form.source_info.value
    form.resource_group.value = "WebRG"
    assert form.vm.value == "Web1"
    form.dest_kind.value = "URL"
    assert form.destination.options == () and "https://" in form.destination.placeholder


def test_run_calls_runner_with_kwargs_and_renders() -> None:
    calls, run = recorder()
    form = CheckForm(FakeWatcher(), runner=run)
    form.dest_kind.value = "IP"
    form.destination.value = "10.1.4.4"
    form.port.value = "80"
    form.protocol.value = "Tcp"
    form.source_port.value = "50000"
    form.ip_version.value = "IPv4"
    form.run.click()
    result = form.wait(5)
    assert result is not None and form.result is result and form.error is None
    (call,) = calls
    assert callable(call.pop("on_progress"))
    assert isinstance(call.pop("cancel"), threading.Event)
    assert call == {"source": "MultiTierApp0", "destination": "10.1.4.4", "port": 80,
                    "protocol": "Tcp", "resource_group": "ContosoRG", "source_port": 50000,
                    "http": None, "ip_version": "IPv4", "timeout": 600}
    html_out, path_out, sankey_out = form.out.outputs
    assert "Unreachable" in html_out["data"]["text/html"]
    assert "UserRule_Port80" in html_out["data"]["text/html"]
    assert path_out["data"]["application/vnd.plotly.v1+json"]["data"][0]["type"] == "scatter"
    assert sankey_out["data"]["application/vnd.plotly.v1+json"]["data"][0]["type"] == "sankey"
    for bundle in form.out.outputs:
        assert bundle["output_type"] == "display_data" and "text/plain" in bundle["data"]
        json.dumps(bundle)  # JSON-safe
    assert not form.run.disabled and form.stop.disabled
    assert "Done" in form.progress.value


def test_http_options_for_url() -> None:
    calls, run = recorder(load("vm-to-website-reachable"))
    form = CheckForm(FakeWatcher(), runner=run)
    form.dest_kind.value = "URL"
    form.destination.value = "https://bing.com"
    form.headers.value = "accept: application/json\n\nx-test:  1 "
    form.valid_status_codes.value = "200, 204"
    form.run.click()
    form.wait(5)
    assert calls[0]["port"] is None and calls[0]["protocol"] is None
    assert calls[0]["http"] == {"method": "Get", "valid_status_codes": [200, 204],
                                "headers": {"accept": "application/json", "x-test": "1"}}
    assert "Reachable" in form.out.outputs[0]["data"]["text/html"]


def test_default_runner_is_nw_check() -> None:
    nw = FakeWatcher()
    form = CheckForm(nw)
    form.destination.value = "Database0"
    form.port.value = "1433"
    form.run.click()
    form.wait(5)
    assert nw.calls[0]["destination"] == "Database0" and nw.calls[0]["port"] == 1433
    assert len(form.out.outputs) == 3


@pytest.mark.parametrize("error", [
    PreflightError("Database0 is deallocated.", fix="Start Database0 and run the check again."),
    ValueError("port: 70000 is out of range; e.g. port=443"),
    RuntimeError("boom <b>"),
])
def test_errors_are_shown_inline_with_fix(error: BaseException) -> None:
    calls, run = recorder(error=error)
    form = CheckForm(FakeWatcher(), runner=run)
    form.destination.value = "Database0"
    form.port.value = "80"
    form.run.click()  # must not raise
    assert form.wait(5) is None
    assert form.error is error and len(calls) == 1
    assert "Traceback" not in form.status.value and form.out.outputs == ()
    assert 'role="alert"' in form.status.value
    if isinstance(error, PreflightError):
        assert "Fix:" in form.status.value and "Start Database0" in form.status.value
    if isinstance(error, RuntimeError):
        assert "&lt;b&gt;" in form.status.value
    assert not form.run.disabled


def test_bad_field_is_refused_before_running() -> None:
    calls, run = recorder()
    form = CheckForm(FakeWatcher(), runner=run)
    form.destination.value = "10.1.4.4"
    form.port.value = "eighty"
    form.run.click()
    assert calls == [] and "Port: " in form.status.value and "e.g. 443" in form.status.value
    form.port.value = "80"
    form.protocol.value = "Http"
    form.headers.value = "no colon here"
    form.run.click()
    assert calls == [] and "Headers: " in form.status.value
    form.destination.value = ""
    form.run.click()
    assert calls == [] and "Destination: " in form.status.value


def test_stop_sets_cancel_and_shows_stopped() -> None:
    started = threading.Event()

    def slow(**kwargs: Any) -> Any:
        started.set()
        if kwargs["cancel"].wait(5):
            raise CheckCancelled("Check stopped by the user.")
        return load("vm-to-vm-nsg-blocked")

    form = CheckForm(FakeWatcher(), runner=slow)
    form.destination.value = "Database0"
    form.port.value = "80"
    form.run.click()
    assert started.wait(5)
    assert form.running and form.run.disabled and not form.stop.disabled
    form.run.click()  # a second click while running is ignored
    form.stop.click()
    assert form._cancel is not None and form._cancel.is_set()
    assert form.wait(5) is None
    assert isinstance(form.error, CheckCancelled)
    assert "Check stopped" in form.status.value


def test_progress_text_updates() -> None:
    seen: list[str] = []

    def runner(**kwargs: Any) -> Any:
        kwargs["on_progress"](SimpleNamespace(elapsed_s=12.4, polls=2, last_status=202,
                                              next_poll_s=10.0, state="running"))
        seen.append(form.progress.value)
        return load("vm-to-website-reachable")

    form = CheckForm(FakeWatcher(), runner=runner)
    form.destination.value = "Database0"
    form.port.value = "80"
    form.run.click()
    form.wait(5)
    assert "12 s elapsed" in seen[0] and "2 polls" in seen[0]
    assert "next poll in 10 s" in seen[0] and "last HTTP 202" in seen[0]


def test_recreated_form_keeps_values() -> None:
    nw = FakeWatcher()
    form = CheckForm(nw)
    form.vm.value = "Database0"
    form.dest_kind.value = "Host"
    form.destination.value = "bing.com"
    form.port.value = "443"
    form.protocol.value = "Tcp"
    form.valid_status_codes.value = "200"
    again = CheckForm(nw)
    assert (again.vm.value, again.dest_kind.value, again.destination.value) == (
        "Database0", "Host", "bing.com")
    assert (again.port.value, again.protocol.value, again.valid_status_codes.value) == (
        "443", "Tcp", "200")
    other = CheckForm(FakeWatcher())  # another client starts fresh
    assert other.destination.value == "" and other.vm.value == "MultiTierApp0"


def test_inventory_failure_is_shown_not_raised() -> None:
    class Broken(FakeWatcher):
        def list_resource_groups(self) -> list[str]:
            raise PreflightError("Cannot list resource groups.", fix="Sign in again.")

    form = CheckForm(Broken())
    assert "Sign in again." in form.status.value and form.vm.options == ()


def test_form_displays_itself() -> None:
    form = CheckForm(FakeWatcher())
    bundle = form._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle


# -- replay: the form offers what the recordings hold (issue 12, face 3) ----------------------


class CountingReplay:
    """nwlab.replay() with every request counted, so a refusal is seen to send none."""

    def __init__(self) -> None:
        import nwlab

        self.nw = nwlab.replay()
        self.sent = 0
        adapter = self.nw.arm.session.get_adapter(self.nw.arm.endpoint)
        send = adapter.send

        def counted(*args: Any, **kwargs: Any) -> Any:
            self.sent += 1
            return send(*args, **kwargs)

        adapter.send = counted  # type: ignore[method-assign]


def test_replay_form_offers_only_recorded_choices() -> None:
    nw = CountingReplay().nw
    recorded = nw.recorded_checks()
    assert recorded is not None and len(recorded) == 5
    form = CheckForm(nw)
    assert form.resource_group.options == ("ContosoRG",)  # groups without recorded sources go
    assert [value for _, value in form.vm.options] == ["MultiTierApp0"]
    assert form.dest_kind.options == ("VM", "IP", "URL")  # no recorded host-name check
    assert form.destination.options == ("Database0",)
    form.destination.value = "Database0"
    assert form.port.options == ("80",)
    form.dest_kind.value = "IP"
    assert form.destination.options == ("13.107.21.200",)
    form.dest_kind.value = "URL"
    assert set(form.destination.options) == {"https://bing.com",
                                             "https://build2017nwdiag360.blob.core.windows.net/"}


def test_other_backends_offer_everything() -> None:
    form = CheckForm(FakeWatcher())  # no recorded_checks(): answers anything
    assert form.scope is None and form.dest_kind.options == ("VM", "IP", "Host", "URL")
    import nwlab

    with nwlab.emulate(check_seconds=0.05, retry_after=0.01) as nw:
        assert nw.recorded_checks() is None
        assert CheckForm(nw).scope is None


@pytest.mark.parametrize("fill", [
    {"destination": "13.107.21.200", "port": 443},            # a recorded address, another port
    {"destination": "10.1.4.4", "port": 80},                  # an address nothing recorded
    {"destination": "Database0", "port": 1433},               # a recorded VM, another port
    {"destination": "https://bing.com", "port": 8443},        # a recorded URL with a port
    {"destination": "13.107.21.200", "port": 80, "protocol": "Tcp"},  # options the body lacks
    {"destination": "https://bing.com", "source_port": "50000"},
])
def test_replay_refuses_unrecorded_checks_in_one_line_before_any_request(fill: dict[str, Any]
                                                                          ) -> None:
    replay = CountingReplay()
    form = CheckForm(replay.nw)
    before = replay.sent
    form.fill(**fill)
    form.run.click()
    assert form.wait(5) is None and replay.sent == before
    text = form.status_text
    assert "nwlab.emulate()" in text and "four documented" in text
    assert "\n" not in text and "{" not in text and "/subscriptions/" not in text


@pytest.mark.parametrize("fill, status", [
    ({"destination": "13.107.21.200", "port": 80}, "Unreachable"),
    ({"destination": "https://bing.com", "port": ""}, "Reachable"),
    ({"destination": "Database0", "port": 80}, "Unreachable"),
])
def test_replay_runs_what_was_recorded(fill: dict[str, Any], status: str) -> None:
    form = CheckForm(CountingReplay().nw)
    form.fill(**fill)
    form.run.click()
    result = form.wait(10)
    assert result is not None and result.status == status, form.status_text


def test_a_replay_mismatch_is_one_line_not_the_request() -> None:
    from nwlab.arm.errors import ReplayMismatch

    body = "{" + ", ".join(f'"k{i}": "{"x" * 40}"' for i in range(30)) + "}"
    calls, run = recorder(error=ReplayMismatch(f"Replay has no recorded answer for POST /x with "
                                               f"body {body}. Cassettes searched: a, b."))
    form = CheckForm(FakeWatcher(), runner=run)
    form.fill(destination="Database0", port=80)
    form.run.click()
    form.wait(5)
    assert len(calls) == 1 and "nwlab.emulate()" in form.status_text
    assert body not in form.status.value and "xxxx" not in form.status.value


# -- stale state and field names (issue 12, face 6) -------------------------------------------


def test_a_refusal_clears_the_previous_result() -> None:
    calls, run = recorder()
    form = CheckForm(FakeWatcher(), runner=run)
    form.fill(destination="Database0", port=80)
    form.run.click()
    assert form.wait(5) is not None and len(form.out.outputs) == 3 and form.progress.value
    form.fill(port="eighty")
    form.run.click()
    assert len(calls) == 1 and form.result is None
    assert form.out.outputs == () and form.progress.value == "" and "Port: " in form.status.value


@pytest.mark.parametrize("fill, label", [
    ({"destination": "10.1.1.300", "port": 80}, "Destination: "),       # checkspec's message
    ({"destination": "10.1.4.4", "port": "70000"}, "Port: "),
    ({"destination": "10.1.4.4", "port": 80, "source_port": "99999"}, "Source port: "),
    ({"destination": "10.1.4.4", "port": "x"}, "Port: "),
    ({"destination": "bing.com", "port": 80, "ip_version": "IPv6", "dest_kind": "IP"}, None),
])
def test_input_errors_name_the_field_as_labelled(fill: dict[str, Any], label: str | None
                                                 ) -> None:
    calls, run = recorder()
    form = CheckForm(FakeWatcher(), runner=run)
    form.fill(**fill)
    form.run.click()
    form.wait(5)
    text = form.status_text
    for argument in ("destination:", "port:", "source_port:", "resource_group:", "checks["):
        assert not text.startswith(f"Invalid input: {argument}"), text
    if label is not None:
        assert text.startswith(f"Invalid input: {label}"), text
        assert calls == []


def test_field_error_wording_maps_api_arguments_to_labels() -> None:
    from nwlab.widgets._base import as_field_error

    labels = CheckForm.labels
    assert str(as_field_error(ValueError("checks[12]: resource_group: needed"), labels)) == \
        "Resource group: needed"
    assert str(as_field_error(ValueError("http.headers: bad"), labels)) == \
        "Headers / Valid codes: bad"
    worded = as_field_error(TypeError("ip_version: expected a string"), labels)
    assert isinstance(worded, TypeError) and str(worded) == "IP version: expected a string"
    untouched = RuntimeError("port: boom")
    assert as_field_error(untouched, labels) is untouched


# -- what a page without widgets shows (issue 12, face 7) -------------------------------------


def test_the_form_displays_as_html_where_widgets_cannot_render() -> None:
    form = CheckForm(FakeWatcher()).fill(destination="10.1.4.4", port=443)
    bundle = form._repr_mimebundle_()
    assert "VBox" not in bundle["text/plain"] and "Connection troubleshoot" in bundle["text/plain"]
    page = bundle["text/html"]
    assert "Connection troubleshoot" in page and "10.1.4.4" in page and "443" in page
    assert "Run check" in page and "<script" not in page


def test_verify_fix_on_the_twin_button() -> None:
    import nwlab

    with nwlab.emulate(check_seconds=0.0, retry_after=0.0) as nw:
        form = CheckForm(nw)  # an emulator client is its own twin
        assert form.twin is nw and not form.verify.disabled
        form.fill(resource_group="ContosoRG", vm="WebVM0", destination="Database0",
                  port=3389)
        form.verify.click()
        d = form.wait(10)
        assert form.error is None and d is form.diagnosis
        assert [f.proven for f in d.fixes] == [False, False, False]  # nothing listens on 3389
        (bundle,) = form.out.outputs
        assert "DenyRdpFromWeb" in bundle["data"]["text/html"]
        assert "on the twin's fork: Unreachable (NoListenerOnDestination)" in \
            bundle["data"]["text/plain"]
        assert "0 of 3 fixes proven" in form.progress.value
        json.dumps(bundle)


def test_verify_fix_needs_a_twin() -> None:
    form = CheckForm(FakeWatcher())
    assert form.twin is None and form.verify.disabled
