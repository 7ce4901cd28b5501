"""Redaction and the self-contained HTML report."""

from __future__ import annotations

import re
import uuid

import pytest

import nwlab
from nwlab.report import Redactor, export_html

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
    redactor = Redactor(names=True, addresses=True)
    first = redactor.result(_private(results[0], subscription))
    second = redactor.result(_private(results[1], subscription))
    assert first.hops[0].address == second.hops[0].address  # the same source NIC
    assert first.hops[0].resource_id == second.hops[0].resource_id
    assert first.hops[0].address != "10.1.1.4"
    assert "appNic0" not in str(first.to_dict())
    assert "MultiTierApp0" not in str(first.meta)
    # the issue context keeps its meaning
    assert first.issues[0].rule_name == "UserRule_Port80"


def test_redacted_result_still_parses_and_renders(results):
    shared = results[0].redact(names=True, addresses=True)
    again = nwlab.ConnectivityResult.from_dict(shared.to_dict())
    assert again == shared
    assert "Unreachable" in shared._repr_html_()


def test_export_html_is_self_contained_and_redacted(results, tmp_path):
    subscription = str(uuid.uuid4())
    private = [_private(r, subscription) for r in results]
    path = export_html(private, tmp_path / "report.html", redact=True, names=True)
    page = path.read_text(encoding="utf-8")
    assert subscription not in page
    assert "appNic0" not in page
    assert not re.search(r"<script[^>]+src=", page), "no script may load from the network"
    assert "Plotly.newPlot" in page or "Plotly.react" in page
    assert page.count("<section>") == 3
    assert "UserRule_Port80" in page


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
    assert shared[0].cause is not None and "UserRule_Port80" in shared[0].cause
    # the same VM gets the same pseudonym in inputs and in the result's ids
    source = shared[0].inputs["source"]
    assert source in shared[0].result.meta["source"]
    page = export_html(batch, tmp_path / "batch.html", names=True).read_text(encoding="utf-8")
    assert "MultiTierApp0" not in page and page.count("<section>") == 1
