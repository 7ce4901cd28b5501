"""The twin's assumptions and new reads over HTTP: the connectivityCheck extension field, the
assumptions endpoint, Service Tags and effective admin rules, writes that name tags and ASGs."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import nwlab

from .conftest import Client
from .factory import Net, admin_rule, rule
from .test_server import API, NET, SUB, WATCHER, _check_body, _error

AZURE_KEYS = {"hops", "connectionStatus", "avgLatencyInMs", "minLatencyInMs", "maxLatencyInMs",
              "probesSent", "probesFailed"}
ASSUMPTIONS = f"/subscriptions/{SUB}/providers/nwlab.emulator/assumptions{API}"
WEB_NSG_RULE = f"{NET}/networkSecurityGroups/WebNsg/securityRules/X{API}"


def _put_rule(client: Client, **props: Any) -> Any:
    body = {"priority": 150, "direction": "Outbound", "access": "Deny", "protocol": "*",
            "sourceAddressPrefix": "*", "sourcePortRange": "*", "destinationAddressPrefix": "*",
            "destinationPortRange": "*", **props}
    return client.request("PUT", WEB_NSG_RULE, json={"properties": body})


def _check(client: Client, address: str, port: int = 443) -> dict[str, Any]:
    body = _check_body("WebVM0", address=address, port=port)
    return dict(client.lro(f"{WATCHER}/connectivityCheck{API}", body).json())


def test_a_fully_modelled_path_answers_in_azure_shape_only(contoso: Client) -> None:
    result = _check(contoso, "20.150.1.1")
    assert set(result) <= AZURE_KEYS
    assert contoso.request("GET", ASSUMPTIONS).json() == {"value": []}


def test_an_assumption_travels_in_the_extension_field_not_as_an_issue(contoso: Client) -> None:
    assert _put_rule(contoso, destinationAddressPrefix="AzureKeyVault").status_code == 201
    result = _check(contoso, "20.150.1.1")
    assert set(result) - AZURE_KEYS == {"nwlab"}
    assert result["connectionStatus"] == "Reachable"
    assert all(i["type"] in ("NetworkSecurityRule", "UserDefinedRoute")
               for h in result["hops"] for i in h["issues"])
    ext = result["nwlab"]
    assert ext["outcome"] == "undetermined"
    (item,) = ext["assumptions"]
    assert item["code"] == "UNRESOLVED_SERVICE_TAG"
    assert item["resourceId"].endswith("/networkSecurityGroups/WebNsg/securityRules/X")
    assert item["field"] == "destinationAddressPrefix" and item["verdictSensitive"] is True
    listed = contoso.request("GET", ASSUMPTIONS).json()["value"]
    assert [a["code"] for a in listed] == ["UNRESOLVED_SERVICE_TAG"]


def test_a_written_rule_with_a_stored_tag_filters_its_prefixes(contoso: Client) -> None:
    # Contoso's illustrative Storage prefixes include 20.150.0.0/17.
    assert _put_rule(contoso, destinationAddressPrefix="Storage").status_code == 201
    blocked = _check(contoso, "20.150.1.1")
    assert blocked["hops"][0]["issues"][0]["context"][0]["value"] == "UserRule_X"
    assert _check(contoso, "20.250.1.1")["connectionStatus"] == "Reachable"


def test_a_written_rule_naming_a_missing_asg_is_refused(contoso: Client) -> None:
    resp = _put_rule(contoso, destinationAddressPrefix=None, destinationApplicationSecurityGroups=[
        {"id": f"{NET}/applicationSecurityGroups/ghost"}])
    assert "applicationSecurityGroups/ghost" in _error(resp, 400, "InvalidResourceReference")


def test_assumptions_endpoint_pages_like_an_arm_list(serve: Callable[..., Client]) -> None:
    net = Net()
    net.vnet("v", "10.0.0.0/16")
    net.subnet("v", "a", "10.0.1.0/24")
    # Two rules naming tags without stored prefixes: two assumptions to page through (IPv6
    # spaces, which gave the second one before, are modelled now).
    net.nsg("n", rule("kv", 100, "Outbound", "Allow", dst="AzureKeyVault"),
            rule("mon", 110, "Outbound", "Allow", dst="AzureMonitor"))
    client = serve(net.document())
    url = f"/subscriptions/{net.document()['subscriptionId']}/providers/nwlab.emulator/" \
          f"assumptions?api-version=2021-04-01&$top=1"
    first = client.request("GET", url).json()
    assert len(first["value"]) == 1 and "nextLink" in first
    second = client.session.get(first["nextLink"], timeout=10).json()
    assert [a["code"] for a in first["value"] + second["value"]] == [
        "UNRESOLVED_SERVICE_TAG", "UNRESOLVED_SERVICE_TAG"]


def test_service_tags_answer_from_the_stored_region(contoso: Client) -> None:
    body = contoso.request("GET", f"/subscriptions/{SUB}/providers/Microsoft.Network/locations/"
                                  f"westcentralus/serviceTags{API}").json()
    assert body["type"] == "Microsoft.Network/serviceTags"
    assert {"Storage", "Sql.WestCentralUS", "AzureCloud"} <= {v["name"] for v in body["values"]}
    other = contoso.request("GET", f"/subscriptions/{SUB}/providers/Microsoft.Network/locations/"
                                   f"northeurope/serviceTags{API}").json()
    assert other["values"] == []  # nothing stored: the twin invents no prefixes


def test_effective_admin_rules_page_with_skip_token(serve: Callable[..., Client]) -> None:
    net = Net()
    vnet = net.vnet("v", "10.0.0.0/16")
    net.admin("v", admin_rule("a", 10, "Inbound", "Deny"), admin_rule("b", 20, "Inbound", "Allow"))
    client = serve(net.document(), page_size=1)
    path = f"{vnet}/listNetworkManagerEffectiveSecurityAdminRules{API}"
    first = client.request("POST", path, json={}).json()
    assert [r["id"].rsplit("/", 1)[-1] for r in first["value"]] == ["a"]
    second = client.request("POST", path, json={"skipToken": first["skipToken"]}).json()
    assert [r["id"].rsplit("/", 1)[-1] for r in second["value"]] == ["b"]
    assert second["skipToken"] is None
    assert "skipToken" in _error(client.request("POST", path, json={"skipToken": "x"}), 400)


def test_twin_assumptions_on_the_client() -> None:
    net = Net()
    net.vnet("v", "10.0.0.0/16")
    net.resources.append({"id": net.rid("Microsoft.Network", "applicationGateways", "fw"),
                          "name": "fw", "type": "Microsoft.Network/applicationGateways",
                          "location": "westus", "properties": {}})
    twin = nwlab.emulate(net.document(), check_seconds=0, retry_after=0)
    try:
        (only,) = twin.assumptions
        assert (only.code, only.resource_id.rsplit("/", 1)[-1]) == (
            "UNMODELLED_RESOURCE_TYPE", "fw")
    finally:
        twin.close()
    assert nwlab.replay().assumptions == []
