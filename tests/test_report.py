"""The self-contained HTML report and the redaction of results and batches (the redactor's own
rules are in test_redact.py)."""

from __future__ import annotations

import re
import uuid

import pytest

import nwlab
from nwlab.redact import Redactor
from nwlab.report import export_html

ZERO = "00000000-0000-0000-0000-000000000000"


@pytest.fixture(scope="module")
def results():
    nw = nwlab.replay()
    return [nw.check("MultiTierApp0", d, p, resource_group="ContosoRG")
            for d, p in (("Database0", 80), ("13.107.21.200", 80), ("https://bing.com", None))]


def _private(result, subscription):
    """The same result as if it came from a real subscription."""
    text = str(result.to_dict()).replace(ZERO, subscription)
    data = eval(text)  # the repr of a JSON-shaped dict
    return nwlab.ConnectivityResult.from_dict(data, meta={"source": f"/subscriptions/{subscription}"
                                                          "/resourceGroups/ContosoRG/providers/"
                                                          "Microsoft.Compute/virtualMachines/"
                                                          "MultiTierApp0"})


def test_redact_replaces_subscription_ids_and_keeps_the_verdict(results):
    subscription = str(uuid.uuid4())
    private = _private(results[0], subscription)
    shared = private.redact()
    text = str(shared.to_dict()) + str(shared.meta)
    assert subscription not in text
    assert shared.status == private.status
    assert [h.type for h in shared.hops] == [h.type for h in private.hops]
    assert [h.address for h in shared.hops] == [h.address for h in private.hops]
    assert [i.to_dict() for i in shared.issues] == [i.to_dict() for i in private.issues]


def test_pseudonyms_are_stable_within_a_redactor(results):
    subscription = str(uuid.uuid4())
    redactor = Redactor(names=True, addresses=True, keep_rule_names=True)
    first = _private(results[0], subscription).redact(redactor=redactor)
    second = _private(results[1], subscription).redact(redactor=redactor)
    assert first.hops[0].address == second.hops[0].address  # the same source NIC
    assert first.hops[0].resource_id == second.hops[0].resource_id
    assert first.hops[0].address != "10.1.1.4"
    assert "appNic0" not in str(first.to_dict())
    assert "MultiTierApp0" not in str(first.meta)
    # the issue context keeps its meaning (the caller kept rule names)
    assert first.issues[0].rule_name == "UserRule_Port80"


def test_rule_names_are_redacted_with_names_unless_kept(results):
    hidden = results[0].redact(names=True)
    (issue,) = hidden.issues
    assert issue.rule_name != "UserRule_Port80" and issue.rule_name.startswith("UserRule_")
    assert "Port80" not in str(hidden.to_dict()) + str(hidden.meta)
    assert "Port80" not in "".join(f.title + f.cause + f.fix for f in hidden.explain())
    assert results[0].redact(names=True, keep_rule_names=True).issues[0].rule_name == \
        "UserRule_Port80"
    assert results[0].redact().issues[0].rule_name == "UserRule_Port80"  # names kept: rules too


def test_a_redactor_and_settings_are_not_mixed(results):
    with pytest.raises(TypeError, match="either redactor"):
        results[0].redact(names=True, redactor=Redactor())
    with pytest.raises(TypeError, match=r"expected a nwlab\.redact\.Redactor"):
        results[0].redact(redactor="names")


def test_redacted_result_still_parses_and_renders(results):
    shared = results[0].redact(names=True, addresses=True)
    again = nwlab.ConnectivityResult.from_dict(shared.to_dict())
    assert again == shared
    assert "Unreachable" in shared._repr_html_()


def test_export_html_is_self_contained_and_redacted(results, tmp_path):
    subscription = str(uuid.uuid4())
    private = [_private(r, subscription) for r in results]
    path = export_html(private, tmp_path / "report.html", redact=True, names=True,
                       keep_rule_names=True)
    page = path.read_text(encoding="utf-8")
    assert subscription not in page
    assert "appNic0" not in page
    assert not re.search(r"<script[^>]+src=", page), "no script may load from the network"
    assert "Plotly.newPlot" in page or "Plotly.react" in page
    assert page.count("<section>") == 3
    assert "UserRule_Port80" in page
    hidden = export_html(private, tmp_path / "hidden.html", names=True).read_text(encoding="utf-8")
    assert "Port80" not in hidden and "appNic0" not in hidden and subscription not in hidden


def test_report_headings_name_what_was_checked_and_say_when(results, tmp_path):
    page = export_html(results, tmp_path / "r.html", redact=False).read_text(encoding="utf-8")
    headings = re.findall(r"<h2>(.*?)</h2>", page)
    assert headings == ["MultiTierApp0 → Database0, port 80", "MultiTierApp0 → 13.107.21.200, port 80",
                        "MultiTierApp0 → https://bing.com"]
    assert re.search(r"Written \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC\. Checks ran ", page)
    assert page.count("<p class='when'>Checked 20") == 3
    shared = export_html(results, tmp_path / "s.html", names=True).read_text(encoding="utf-8")
    named = re.findall(r"<h2>(.*?)</h2>", shared)
    assert named[0] == "vm1 → vm2, port 80" and named[1].startswith("vm1 → ")
    assert not any("/" in h and "://" not in h for h in named)  # names, never resource ids


def test_a_result_without_inputs_or_time_says_so(tmp_path, seeds):
    bare = nwlab.ConnectivityResult.from_dict(seeds["vm-to-vm-nsg-blocked"]["result"])
    page = export_html(bare, tmp_path / "b.html").read_text(encoding="utf-8")
    assert "<h2>Check 1</h2>" in page and "When this check ran was not recorded." in page
    assert "Check times were not recorded." in page


def test_an_unredacted_report_still_cuts_tokens(results, tmp_path):
    token = "eyJ" + "a" * 20 + "." + "b" * 20 + "." + "c" * 10
    leaky = results[0].with_meta(source="x", destination=f"Bearer {token}")
    page = export_html(leaky, tmp_path / "t.html", redact=False).read_text(encoding="utf-8")
    assert token not in page and "Bearer &lt;redacted&gt;" in page and "appNic0" in page


def test_export_html_writes_atomically(results, tmp_path, monkeypatch):
    target = tmp_path / "r.html"
    target.write_text("old report", encoding="utf-8")

    def crash(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr("os.replace", crash)
    with pytest.raises(OSError, match="disk full"):
        export_html(results[0], target)
    monkeypatch.undo()
    assert target.read_text(encoding="utf-8") == "old report"
    assert [p.name for p in tmp_path.iterdir()] == ["r.html"]


def test_export_html_refuses_other_things(tmp_path):
    with pytest.raises(TypeError, match="results"):
        export_html(42, tmp_path / "x.html")


def test_batch_redact_hides_names_in_inputs_results_and_errors(tmp_path):
    nw = nwlab.emulate(check_seconds=0, retry_after=0)
    try:
        batch = nw.check_many([
            {"source": "MultiTierApp0", "destination": "Database0", "port": 80,
             "resource_group": "ContosoRG"},
            {"source": "Jumpbox0", "destination": "Database0", "port": 80,
             "resource_group": "ContosoRG"},  # no agent: an error naming the VM
        ], on_progress=False)
    finally:
        nw.close()
    assert batch[1].error is not None and "Jumpbox0" in batch[1].error.message
    shared = batch.redact(names=True, addresses=True)
    text = "\n".join(str(e.to_dict()) for e in shared)
    for secret in ("MultiTierApp0", "Database0", "Jumpbox0", "ContosoRG", "10.1.1.4", "appNic0"):
        assert secret not in text, secret
    assert [e.verdict for e in shared] == [e.verdict for e in batch]
    assert shared[0].cause is not None and "UserRule_" in shared[0].cause
    assert "Port80" not in text  # a rule name can say what it protects
    kept = batch.redact(names=True, addresses=True, keep_rule_names=True)
    assert kept[0].cause is not None and "UserRule_Port80" in kept[0].cause
    # the same VM gets the same pseudonym in inputs and in the result's ids
    source = shared[0].inputs["source"]
    assert source in shared[0].result.meta["source"]
    page = export_html(batch, tmp_path / "batch.html", names=True).read_text(encoding="utf-8")
    assert "MultiTierApp0" not in page and page.count("<section>") == 1
    assert re.findall(r"<h2>(.*?)</h2>", page) == [
        f"{source} → {shared[0].inputs['destination']}, port 80"]
