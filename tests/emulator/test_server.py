"""The ARM HTTP facade: auth, inventory GETs, paging, LRO, errors, throttling, what-if."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Callable
from typing import Any

import pytest
import requests

from nwlab.emulator import EmulatorServer

from .conftest import Client

SUB = "00000000-0000-0000-0000-000000000000"
RG = f"/subscriptions/{SUB}/resourceGroups/ContosoRG"
NET = f"{RG}/providers/Microsoft.Network"
VMS = f"{RG}/providers/Microsoft.Compute/virtualMachines"
WATCHER = (f"/subscriptions/{SUB}/resourceGroups/NetworkWatcherRG/providers/Microsoft.Network/"
           "networkWatchers/NetworkWatcher_westcentralus")
API = "?api-version=2024-05-01"


def _check_body(source: str, **dest: Any) -> dict[str, Any]:
    return {"source": {"resourceId": f"{VMS}/{source}"}, "destination": dest}


def _error(resp: requests.Response, status: int, code: str | None = None) -> str:
    assert resp.status_code == status, resp.text
    body = resp.json()
    assert set(body) == {"error"} and {"code", "message"} <= set(body["error"])
    if code:
        assert body["error"]["code"] == code
    assert resp.headers["x-ms-request-id"]
    return str(body["error"]["message"])


# --- auth ----------------------------------------------------------------------------------

@pytest.mark.parametrize("header", [None, "Bearer wrong", "Basic abc", "Bearer"])
def test_401_without_the_token(contoso: Client, header: str | None) -> None:
    headers = {} if header is None else {"Authorization": header}
    resp = requests.get(f"{contoso.server.endpoint}/subscriptions{API}", headers=headers,
                        timeout=5)
    _error(resp, 401, "AuthenticationFailed")
    assert contoso.server.stats["unauthorized"] == 1


def test_token_random_per_start_unless_given() -> None:
    with EmulatorServer() as one, EmulatorServer() as two:
        assert one.token and one.token != two.token
        assert one.endpoint.startswith("http://127.0.0.1:") and one.port != 0
    with EmulatorServer(token="fixed") as three:
        assert three.token == "fixed"
        assert three.subscription_id == SUB


# --- inventory -----------------------------------------------------------------------------

@pytest.mark.parametrize(("path", "names"), [
    ("/subscriptions", None),
    (f"/subscriptions/{SUB}/resourcegroups", {"ContosoRG", "NetworkWatcherRG"}),
    (f"{RG}/providers/Microsoft.Compute/virtualMachines",
     {"MultiTierApp0", "Firewall0", "Auditor0", "Database0", "WebVM0", "Reporting0",
      "Jumpbox0"}),
    (f"/subscriptions/{SUB}/providers/Microsoft.Compute/virtualMachines",
     {"MultiTierApp0", "Firewall0", "Auditor0", "Database0", "WebVM0", "Reporting0",
      "Jumpbox0"}),
    (f"{VMS}/MultiTierApp0/extensions", {"AzureNetworkWatcherExtension"}),
    (f"{VMS}/Jumpbox0/extensions", set()),
    (f"{NET}/networkInterfaces",
     {"appNic0", "fwNic", "auNic", "dbNic0", "webNic0", "reportNic0", "jumpNic0"}),
    (f"/subscriptions/{SUB}/providers/Microsoft.Network/virtualNetworks", {"ContosoVNet"}),
    (f"{NET}/virtualNetworks/ContosoVNet/subnets",
     {"AppSubnet", "FirewallSubnet", "AuditSubnet", "DbSubnet", "WebSubnet", "MgmtSubnet"}),
    (f"{NET}/networkSecurityGroups", {"AuditNsg", "DbNsg", "WebNsg"}),
    (f"/subscriptions/{SUB}/providers/Microsoft.Network/networkSecurityGroups",
     {"AuditNsg", "DbNsg", "WebNsg"}),
    (f"{NET}/networkSecurityGroups/DbNsg/securityRules", {"AllowSqlFromWeb", "DenyRdpFromWeb"}),
    (f"{NET}/routeTables",
     {"AppRouteTable", "FirewallRouteTable", "AuditRouteTable", "DbRouteTable"}),
    (f"/subscriptions/{SUB}/providers/Microsoft.Network/routeTables",
     {"AppRouteTable", "FirewallRouteTable", "AuditRouteTable", "DbRouteTable"}),
    (f"{NET}/routeTables/AppRouteTable/routes", {"ToDbViaFirewall", "BlockBing"}),
    (f"{NET}/publicIPAddresses", {"WebPip", "JumpboxPip"}),
    (f"/subscriptions/{SUB}/providers/Microsoft.Network/publicIPAddresses",
     {"WebPip", "JumpboxPip"}),
    (f"/subscriptions/{SUB}/providers/Microsoft.Network/networkWatchers",
     {"NetworkWatcher_westcentralus"}),
    (f"/subscriptions/{SUB}/resourceGroups/NetworkWatcherRG/providers/Microsoft.Network/"
     "networkWatchers", {"NetworkWatcher_westcentralus"}),
    (f"{NET}/networkWatchers", set()),
])
def test_list_endpoints(contoso: Client, path: str, names: set[str] | None) -> None:
    resp = contoso.request("GET", path + API)
    assert resp.status_code == 200, resp.text
    value = resp.json()["value"]
    if names is None:
        assert [s["subscriptionId"] for s in value] == [SUB]
    else:
        assert {item["name"] for item in value} == names
    assert "nextLink" not in resp.json()


@pytest.mark.parametrize(("path", "check"), [
    (f"{VMS}/MultiTierApp0", lambda b: "instanceView" not in b["properties"]),
    (f"{VMS}/Reporting0?$expand=instanceView",
     lambda b: "PowerState/deallocated" in json.dumps(b["properties"]["instanceView"])),
    (f"{VMS}/Reporting0/instanceView",
     lambda b: [s["code"] for s in b["statuses"]][-1] == "PowerState/deallocated"),
    (f"{VMS}/MultiTierApp0/extensions/AzureNetworkWatcherExtension",
     lambda b: b["properties"]["publisher"] == "Microsoft.Azure.NetworkWatcher"),
    (f"{NET}/networkInterfaces/fwNic", lambda b: b["properties"]["enableIPForwarding"] is True),
    (f"{NET}/networkInterfaces/appNic0/ipConfigurations/ipconfig1",
     lambda b: b["properties"]["privateIPAddress"] == "10.1.1.4"),
    (f"{NET}/virtualNetworks/ContosoVNet",
     lambda b: b["properties"]["addressSpace"]["addressPrefixes"] == ["10.1.0.0/16"]),
    (f"{NET}/virtualNetworks/ContosoVNet/subnets/DbSubnet",
     lambda b: b["properties"]["networkSecurityGroup"]["id"].endswith("/DbNsg")),
    (f"{NET}/networkSecurityGroups/AuditNsg",
     lambda b: {r["name"]: r["properties"]["priority"]
                for r in b["properties"]["defaultSecurityRules"]} == {
         "AllowVnetInBound": 65000, "AllowAzureLoadBalancerInBound": 65001,
         "DenyAllInBound": 65500, "AllowVnetOutBound": 65000, "AllowInternetOutBound": 65001,
         "DenyAllOutBound": 65500}),
    (f"{NET}/networkSecurityGroups/AuditNsg/securityRules/Port80",
     lambda b: b["properties"]["access"] == "Deny"),
    (f"{NET}/networkSecurityGroups/AuditNsg/defaultSecurityRules/DenyAllInBound",
     lambda b: b["properties"]["priority"] == 65500),
    (f"{NET}/routeTables/AppRouteTable/routes/BlockBing",
     lambda b: b["properties"]["nextHopType"] == "None"),
    (f"{NET}/publicIPAddresses/WebPip", lambda b: b["properties"]["ipAddress"]),
    (WATCHER, lambda b: b["location"] == "westcentralus"),
    (f"/subscriptions/{SUB}/resourceGroups/ContosoRG", lambda b: b["name"] == "ContosoRG"),
    (f"{VMS.upper()}/multitierapp0", lambda b: b["name"] == "MultiTierApp0"),  # any case
])
def test_get_endpoints(contoso: Client, path: str, check: Callable[[Any], bool]) -> None:
    sep = "&" if "?" in path else "?"
    resp = contoso.request("GET", f"{path}{sep}api-version=2024-07-01")
    assert resp.status_code == 200, resp.text
    assert check(resp.json())


@pytest.mark.parametrize(("path", "code", "words"), [
    (f"{VMS}/Nope", "ResourceNotFound",
     "The Resource 'Microsoft.Compute/virtualMachines/Nope' under resource group 'ContosoRG' "
     "was not found."),
    (f"{NET}/networkSecurityGroups/AuditNsg/securityRules/Nope", "ResourceNotFound", "Nope"),
    (f"/subscriptions/{SUB}/resourceGroups/NoRG/providers/Microsoft.Compute/virtualMachines",
     "ResourceGroupNotFound", "NoRG"),
    ("/subscriptions/99999999-0000-0000-0000-000000000000/resourcegroups",
     "SubscriptionNotFound", "99999999"),
    (f"/subscriptions/{SUB}/providers/Microsoft.Network/locations/westcentralus/"
     "operationResults/00000000-1111-2222-3333-444444444444", "NotFound", "00000000-1111"),
])
def test_unknown_things_are_arm_404s(contoso: Client, path: str, code: str,
                                     words: str) -> None:
    assert words in _error(contoso.request("GET", path + API), 404, code)


def test_paging_follows_nextlink(serve: Callable[..., Client]) -> None:
    client = serve(page_size=2)
    url: str | None = f"{RG}/providers/Microsoft.Compute/virtualMachines{API}"
    names: list[str] = []
    pages = 0
    while url:
        body = client.request("GET", url).json()
        names += [v["name"] for v in body["value"]]
        url = body.get("nextLink")
        if url:
            assert "api-version=2024-05-01" in url
        pages += 1
    assert pages == 4 and len(names) == len(set(names)) == 7


def test_top_sets_page_size(contoso: Client) -> None:
    body = contoso.request("GET", f"{NET}/networkInterfaces{API}&$top=3").json()
    assert len(body["value"]) == 3 and "nextLink" in body


# --- LRO -----------------------------------------------------------------------------------

def test_check_seconds_delays_the_result(serve: Callable[..., Client]) -> None:
    client = serve(check_seconds=0.3, retry_after=0.25)
    resp = client.request("POST", f"{WATCHER}/connectivityCheck{API}",
                          json=_check_body("MultiTierApp0", address="8.8.8.8", port=443))
    assert resp.status_code == 202 and resp.headers["Retry-After"] == "0.25"
    first = client.session.get(resp.headers["Location"], timeout=5)
    assert first.status_code == 202 and first.text == "null"
    assert first.headers["Location"] == resp.headers["Location"]
    assert first.headers["Retry-After"] == "0.25"
    time.sleep(0.35)
    done = client.session.get(resp.headers["Location"], timeout=5)
    assert done.status_code == 200 and done.json()["connectionStatus"] == "Reachable"
    assert "Retry-After" not in done.headers


@pytest.mark.parametrize(("body", "status", "code", "words"), [
    (_check_body("Jumpbox0", address="8.8.8.8"), 400, "NetworkWatcherAgentNotInstalled",
     "agent is not installed"),
    (_check_body("Reporting0", address="8.8.8.8"), 400, "VmNotRunning", "not running"),
    (_check_body("Ghost", address="8.8.8.8"), 404, "ResourceNotFound", "Ghost"),
    ({"source": {"resourceId": f"{VMS}/MultiTierApp0"}}, 400, "InvalidRequestFormat",
     "destination"),
    (_check_body("MultiTierApp0", address="8.8.8.8", port=65536), 400, "InvalidRequestFormat",
     "0 to 65535"),
])
def test_check_request_errors(contoso: Client, body: Any, status: int, code: str,
                              words: str) -> None:
    resp = contoso.request("POST", f"{WATCHER}/connectivityCheck{API}", json=body)
    assert words in _error(resp, status, code)


def test_unknown_watcher_404(contoso: Client) -> None:
    path = WATCHER.replace("NetworkWatcher_westcentralus", "NetworkWatcher_eastus")
    resp = contoso.request("POST", f"{path}/connectivityCheck{API}",
                           json=_check_body("MultiTierApp0", address="8.8.8.8"))
    assert "NetworkWatcher_eastus" in _error(resp, 404, "ResourceNotFound")


def test_malformed_json_is_400(contoso: Client) -> None:
    resp = contoso.request("POST", f"{WATCHER}/connectivityCheck{API}", data=b"{oops",
                           headers={"Content-Type": "application/json"})
    _error(resp, 400, "InvalidRequestContent")


def test_oversized_body_is_400_and_server_survives(contoso: Client) -> None:
    resp = contoso.request("POST", f"{WATCHER}/connectivityCheck{API}",
                           data=b" " * (1024 * 1024 + 1))
    assert "limit" in _error(resp, 400, "RequestBodyTooLarge")
    assert contoso.request("GET", f"/subscriptions{API}").status_code == 200


def test_handler_exception_becomes_arm_500(contoso: Client,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("kaboom")

    monkeypatch.setattr(contoso.server.app, "handle", boom)
    assert "kaboom" in _error(contoso.request("GET", f"/subscriptions{API}"), 500,
                              "InternalServerError")


def test_wrong_method_is_405(contoso: Client) -> None:
    _error(contoso.request("DELETE", f"{VMS}/MultiTierApp0{API}"), 405, "MethodNotAllowed")


def test_ip_flow_verify_and_next_hop_over_http(contoso: Client) -> None:
    flow = contoso.lro(f"{WATCHER}/ipFlowVerify{API}", {
        "targetResourceId": f"{VMS}/Auditor0", "direction": "Outbound", "protocol": "TCP",
        "localPort": "50000", "remotePort": "80", "localIPAddress": "10.1.3.4",
        "remoteIPAddress": "10.1.4.4"})
    assert flow.json() == {"access": "Deny", "ruleName": "securityRules/Port80"}
    hop = contoso.lro(f"{WATCHER}/nextHop{API}", {
        "targetResourceId": f"{VMS}/MultiTierApp0", "sourceIPAddress": "10.1.1.4",
        "destinationIPAddress": "10.1.4.4"})
    assert hop.json() == {"nextHopType": "VirtualAppliance", "nextHopIpAddress": "10.1.2.4",
                          "routeTableId": f"{NET}/routeTables/AppRouteTable"}


def test_raw_socket_garbage_does_not_hang(contoso: Client) -> None:
    with socket.create_connection(("127.0.0.1", contoso.server.port), timeout=5) as sock:
        sock.sendall(b"NONSENSE / HTTP/1.1\r\n\r\n")
        reply = b""
        while chunk := sock.recv(4096):  # the server closes after a protocol error
            reply += chunk
    assert reply.startswith(b"HTTP/1.1 501")
    assert b'{"error": {"code": "NotImplemented"' in reply


# --- throttling ----------------------------------------------------------------------------

def test_write_rate_answers_429_with_retry_after(serve: Callable[..., Client]) -> None:
    client = serve(write_rate=2)
    body = _check_body("MultiTierApp0", address="8.8.8.8", port=443)
    statuses = [client.request("POST", f"{WATCHER}/connectivityCheck{API}", json=body)
                for _ in range(5)]
    codes = [r.status_code for r in statuses]
    assert codes[:2] == [202, 202] and 429 in codes
    throttled = next(r for r in statuses if r.status_code == 429)
    assert int(throttled.headers["Retry-After"]) >= 1
    _error(throttled, 429, "TooManyRequests")
    assert client.server.stats["throttled"] == codes.count(429)
    # Reads are not writes: they are never throttled.
    assert client.request("GET", f"/subscriptions{API}").status_code == 200


def test_stats_count_requests(contoso: Client) -> None:
    contoso.lro(f"{WATCHER}/connectivityCheck{API}",
                _check_body("MultiTierApp0", address="8.8.8.8", port=443))
    stats = contoso.server.stats
    assert stats["POST"] == 1 and stats["GET"] >= 1 and stats["checks"] == 1
    assert contoso.server.requests_count == stats["POST"] + stats["GET"]


# --- what-if through PUT / DELETE -----------------------------------------------------------

def _status(client: Client, port: int) -> str:
    result = client.lro(f"{WATCHER}/connectivityCheck{API}",
                        _check_body("WebVM0", resourceId=f"{VMS}/Database0", port=port))
    return str(result.json()["connectionStatus"])


def test_what_if_put_rule_changes_verdict_and_delete_restores(contoso: Client) -> None:
    rule_path = f"{NET}/networkSecurityGroups/DbNsg/securityRules/DenyHttpFromWeb{API}"
    assert _status(contoso, 80) == "Reachable"
    put = contoso.request("PUT", rule_path, json={"properties": {
        "priority": 120, "direction": "Inbound", "access": "Deny", "protocol": "Tcp",
        "sourceAddressPrefix": "10.1.5.0/24", "sourcePortRange": "*",
        "destinationAddressPrefix": "*", "destinationPortRange": "80"}})
    assert put.status_code == 201, put.text
    assert put.json()["properties"]["provisioningState"] == "Succeeded"
    assert _status(contoso, 80) == "Unreachable"
    assert contoso.request("GET", rule_path).status_code == 200
    assert contoso.request("DELETE", rule_path).status_code == 200
    assert _status(contoso, 80) == "Reachable"
    assert contoso.request("DELETE", rule_path).status_code == 204


def test_what_if_delete_port80_unblocks_seed_one(contoso: Client) -> None:
    body = _check_body("MultiTierApp0", resourceId=f"{VMS}/Database0", port=0)
    before = contoso.lro(f"{WATCHER}/connectivityCheck{API}", body).json()
    assert before["connectionStatus"] == "Unreachable"
    rule = f"{NET}/networkSecurityGroups/AuditNsg/securityRules/Port80{API}"
    assert contoso.request("DELETE", rule).status_code == 200
    after = contoso.lro(f"{WATCHER}/connectivityCheck{API}", body).json()
    assert after["connectionStatus"] == "Reachable"  # the reply routes back via both appliances
    assert [h["type"] for h in after["hops"]] == ["Source", "VirtualAppliance",
                                                  "VirtualAppliance", "VnetLocal"]


def test_put_existing_rule_is_200_update(contoso: Client) -> None:
    path = f"{NET}/networkSecurityGroups/AuditNsg/securityRules/Port80{API}"
    rule = contoso.request("GET", path).json()
    rule["properties"]["destinationPortRange"] = "8080"
    resp = contoso.request("PUT", path, json=rule)
    assert resp.status_code == 200 and resp.json()["properties"]["destinationPortRange"] == "8080"


def test_what_if_route_put_and_delete(contoso: Client) -> None:
    body = _check_body("MultiTierApp0", address="https://bing.com", port=0)
    route = f"{NET}/routeTables/AppRouteTable/routes/BlockAll{API}"
    put = contoso.request("PUT", route, json={"properties": {
        "addressPrefix": "204.79.197.0/24", "nextHopType": "None"}})
    assert put.status_code == 201, put.text
    blocked = contoso.lro(f"{WATCHER}/connectivityCheck{API}", body).json()
    assert blocked["hops"][0]["issues"][0]["type"] == "UserDefinedRoute"
    assert contoso.request("DELETE", route).status_code == 200
    ok = contoso.lro(f"{WATCHER}/connectivityCheck{API}", body).json()
    assert ok["connectionStatus"] == "Reachable"


@pytest.mark.parametrize(("props", "field"), [
    ({"priority": 50}, "priority"),
    ({"destinationPortRange": "0-70000"}, "destinationPortRange"),
    ({"direction": "Up"}, "direction"),
    ({"access": "Perhaps"}, "access"),
    ({"protocol": "Gre"}, "protocol"),
    ({"priority": 110}, "priority"),  # DbNsg already has an inbound rule at 110
    ({"sourceAddressPrefix": "10.1.5.0/33"}, "sourceAddressPrefix"),
])
def test_put_rule_validation_names_the_field(contoso: Client, props: dict[str, Any],
                                             field: str) -> None:
    good = {"priority": 150, "direction": "Inbound", "access": "Deny", "protocol": "Tcp",
            "sourceAddressPrefix": "*", "sourcePortRange": "*",
            "destinationAddressPrefix": "*", "destinationPortRange": "80"}
    resp = contoso.request("PUT", f"{NET}/networkSecurityGroups/DbNsg/securityRules/X{API}",
                           json={"properties": {**good, **props}})
    assert field in _error(resp, 400)
    # Nothing was written.
    assert contoso.request("GET", f"{NET}/networkSecurityGroups/DbNsg/securityRules/X{API}"
                           ).status_code == 404


@pytest.mark.parametrize(("props", "field"), [
    ({"addressPrefix": "1.2.3.4/40", "nextHopType": "None"}, "addressPrefix"),
    ({"addressPrefix": "1.2.3.0/24", "nextHopType": "Teleport"}, "nextHopType"),
    ({"addressPrefix": "1.2.3.0/24", "nextHopType": "VirtualAppliance"}, "nextHopIpAddress"),
])
def test_put_route_validation_names_the_field(contoso: Client, props: dict[str, Any],
                                              field: str) -> None:
    resp = contoso.request("PUT", f"{NET}/routeTables/AppRouteTable/routes/X{API}",
                           json={"properties": props})
    assert field in _error(resp, 400)


def test_writes_count_against_write_rate(serve: Callable[..., Client]) -> None:
    client = serve(write_rate=1)
    path = f"{NET}/routeTables/AppRouteTable/routes/X{API}"
    body = {"properties": {"addressPrefix": "1.2.3.0/24", "nextHopType": "None"}}
    assert client.request("PUT", path, json=body).status_code == 201
    assert client.request("DELETE", path).status_code == 429


def test_write_burst_saves_up_writes_and_reports_them_left(serve: Callable[..., Client]) -> None:
    client = serve(write_rate=0.01, write_burst=3)  # ARM's own bucket: 200 saved up, 10/s
    path = f"{NET}/routeTables/AppRouteTable/routes/X{API}"
    body = {"properties": {"addressPrefix": "1.2.3.0/24", "nextHopType": "None"}}
    left = [client.request("PUT", path, json=body).headers.get(
        "x-ms-ratelimit-remaining-subscription-writes") for _ in range(3)]
    assert left == ["2", "1", "0"]
    assert client.request("PUT", path, json=body).status_code == 429


def test_a_write_burst_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="write_burst"):
        EmulatorServer(write_rate=1, write_burst=0.5)


def test_a_server_does_not_leak_writes_into_another() -> None:
    from nwlab.emulator import load_topology
    topo = load_topology()
    with EmulatorServer(topo, check_seconds=0) as srv:
        session = requests.Session()
        session.headers["Authorization"] = f"Bearer {srv.token}"
        rule = f"{srv.endpoint}{NET}/networkSecurityGroups/AuditNsg/securityRules/Port80{API}"
        assert session.delete(rule, timeout=5).status_code == 200
    assert any(r.name == "Port80" for n in topo.nsgs.values() for r in n.rules)


# -- writes without api-version (issue 9, item 19) ----------------------------------------------

MISSING_API_VERSION = "The api-version query parameter (?api-version=) is required for all requests."


@pytest.mark.parametrize("query", ["", "?api-version=", "?api-version=%20", "?$top=1"])
def test_put_and_delete_without_api_version_are_arm_400s(contoso: Client, query: str) -> None:
    rule = f"{NET}/networkSecurityGroups/AuditNsg/securityRules/Port80"
    before = contoso.request("GET", f"{rule}{API}").json()
    body = {"properties": {"protocol": "Tcp", "access": "Allow", "direction": "Inbound",
                           "priority": 4000, "sourceAddressPrefix": "*", "sourcePortRange": "*",
                           "destinationAddressPrefix": "*", "destinationPortRange": "22"}}
    for method, path, payload in (("PUT", f"{NET}/networkSecurityGroups/DbNsg/securityRules/New",
                                   body), ("DELETE", rule, None)):
        resp = contoso.request(method, path + query, json=payload)
        assert resp.status_code == 400, resp.text
        assert resp.json() == {"error": {"code": "MissingApiVersionParameter",
                                         "message": MISSING_API_VERSION}}
    # nothing was written: the rule is still there, the new one was never created
    assert contoso.request("GET", f"{rule}{API}").json() == before
    missing = contoso.request("GET", f"{NET}/networkSecurityGroups/DbNsg/securityRules/New{API}")
    assert missing.status_code == 404


def test_writes_with_api_version_in_any_case_are_served(contoso: Client) -> None:
    rule = f"{NET}/networkSecurityGroups/AuditNsg/securityRules/Port80"
    assert contoso.request("DELETE", f"{rule}?API-Version=2024-05-01").status_code == 200


def test_a_generated_token_can_be_passed_as_a_flag_value() -> None:
    # token_urlsafe begins with '-' one time in 64; `--token -abc` would read as another option.
    from nwlab.emulator.server import new_token

    assert all(new_token()[0].isalnum() for _ in range(2000))
