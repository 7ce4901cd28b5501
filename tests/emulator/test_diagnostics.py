"""The twin serves networkConfigurationDiagnostic and the NIC effective-state operations in
Azure's shapes (reference diagnostics-and-estate-api.md §2, §4.1, §4.2), as long-running
operations, computed by the engine that answers connectivity checks."""

from __future__ import annotations

import pytest

import nwlab
from nwlab.emulator import diagnostics as twin_diagnostics
from nwlab.emulator.errors import ArmError
from nwlab.emulator.topology import load_topology

SUB = "00000000-0000-0000-0000-000000000000"
RG = f"/subscriptions/{SUB}/resourceGroups/ContosoRG/providers"
DB_VM = f"{RG}/Microsoft.Compute/virtualMachines/Database0"
AUDIT_VM = f"{RG}/Microsoft.Compute/virtualMachines/Auditor0"


@pytest.fixture(scope="module")
def topo():
    return load_topology(None)


def test_nsg_diagnostic_names_the_deny_rule_with_per_field_matches(topo):
    body = {"targetResourceId": DB_VM, "profiles": [
        {"direction": "Inbound", "protocol": "TCP", "source": "10.1.5.4",
         "destination": "10.1.4.4", "destinationPort": "3389"}]}
    answer, _ = twin_diagnostics.network_configuration_diagnostic(topo, body)
    (result,) = answer["results"]
    nsg_result = result["networkSecurityGroupResult"]
    assert nsg_result["securityRuleAccessResult"] == "Deny"
    (layer,) = nsg_result["evaluatedNetworkSecurityGroups"]
    assert layer["networkSecurityGroupId"].endswith("/networkSecurityGroups/DbNsg")
    assert layer["appliedTo"].endswith("/subnets/DbSubnet") or "/subnets/" in layer["appliedTo"]
    assert layer["matchedRule"] == {"ruleName": "UserRule_DenyRdpFromWeb", "action": "Deny"}
    first, last = layer["rulesEvaluationResult"][0], layer["rulesEvaluationResult"][-1]
    # AllowSqlFromWeb: every field but the port matches (a near miss)
    assert first["name"] == "UserRule_AllowSqlFromWeb" and first["destinationPortMatched"] is False
    assert first["sourceMatched"] and first["protocolMatched"]
    assert last["name"] == "UserRule_DenyRdpFromWeb"
    assert all(v for k, v in last.items() if k != "name")


def test_nsg_diagnostic_agrees_with_ip_flow_verify(twin):
    d = twin.nsg_diagnostic(DB_VM, direction="Inbound", protocol="TCP", source="10.1.5.4",
                            destination="10.1.4.4", destination_port=1433)
    f = twin.ip_flow_verify("Database0", "Inbound", "TCP", 1433, "10.1.5.4", 50000,
                            resource_group="ContosoRG")
    assert d.to_dict()["results"][0]["networkSecurityGroupResult"][
        "securityRuleAccessResult"] == f.access == "Allow"
    assert f.rule == "AllowSqlFromWeb"


def test_nsg_diagnostic_outbound_deny_on_the_nic_layer_order(topo):
    body = {"targetResourceId": AUDIT_VM, "profiles": [
        {"direction": "Outbound", "protocol": "TCP", "source": "*",
         "destination": "13.107.21.200", "destinationPort": "80"}]}
    answer, notes = twin_diagnostics.network_configuration_diagnostic(topo, body)
    result = answer["results"][0]["networkSecurityGroupResult"]
    assert result["securityRuleAccessResult"] == "Deny"
    assert any(layer.get("matchedRule", {}).get("ruleName") == "UserRule_Port80"
               for layer in result["evaluatedNetworkSecurityGroups"])
    assert notes == []  # '*' on the local side is the NIC's own address: nothing assumed


def test_nsg_diagnostic_tag_profile_is_an_assumption(topo):
    body = {"targetResourceId": DB_VM, "profiles": [
        {"direction": "Inbound", "protocol": "TCP", "source": "Internet",
         "destination": "*", "destinationPort": "3389"}]}
    _, notes = twin_diagnostics.network_configuration_diagnostic(topo, body)
    assert [n.code for n in notes] == ["ASSUME_NSG_DIAGNOSTIC_TAG_PROFILE"]


@pytest.mark.parametrize("profile, field", [
    ({"direction": "Sideways", "protocol": "TCP", "source": "*", "destination": "*",
      "destinationPort": "80"}, "direction"),
    ({"direction": "Inbound", "protocol": "TCP", "source": "*", "destination": "*",
      "destinationPort": "80-90"}, "destinationPort"),
    ({"direction": "Inbound", "protocol": "TCP", "destination": "*",
      "destinationPort": "80"}, "source"),
])
def test_nsg_diagnostic_bad_profiles_are_400_naming_the_field(topo, profile, field):
    with pytest.raises(ArmError) as raised:
        twin_diagnostics.network_configuration_diagnostic(
            topo, {"targetResourceId": DB_VM, "profiles": [profile]})
    assert raised.value.status == 400 and field in raised.value.message


def test_effective_routes_are_the_routes_the_twin_forwards_with(twin):
    routes = twin.effective_routes("MultiTierApp0", resource_group="ContosoRG")
    raw = routes.to_dict()["value"]
    user = [r for r in raw if r["source"] == "User"]
    assert {"name": "ToDbViaFirewall", "nextHopType": "VirtualAppliance",
            "nextHopIpAddress": ["10.1.2.4"]}.items() <= next(
                r for r in user if r["name"] == "ToDbViaFirewall").items()
    hop = twin.next_hop("MultiTierApp0", "10.1.4.4", resource_group="ContosoRG")
    chosen = next(r for r in user if r["name"] == "ToDbViaFirewall")
    assert hop.next_hop_type == chosen["nextHopType"]
    assert [hop.next_hop_ip] == chosen["nextHopIpAddress"]
    assert routes.meta["backend"] == "emulator" and routes.meta["polls"] >= 1  # an LRO


def test_effective_security_rules_list_subnet_nsg_with_default_rules(twin):
    rules = twin.effective_security_rules("Database0", resource_group="ContosoRG")
    (group,) = rules.to_dict()["value"]
    assert group["networkSecurityGroup"]["id"].endswith("/DbNsg")
    assert "subnet" in group["association"]
    names = [r["name"] for r in group["effectiveSecurityRules"]]
    assert "securityRules/DenyRdpFromWeb" in names
    assert "defaultSecurityRules/DenyAllInBound" in names
    deny = next(r for r in group["effectiveSecurityRules"]
                if r["name"] == "securityRules/DenyRdpFromWeb")
    assert deny["destinationPortRange"] == "3389-3389" and deny["priority"] == 110


def test_connection_analyzer_resource_put_get_delete_and_bad_bodies(twin):
    watcher = twin.find_watcher("westcentralus")
    path = f"{watcher}/connectionAnalyzers/a1"
    body = {"location": "westcentralus", "properties": {
        "source": {"type": "VM", "resourceId": DB_VM},
        "destination": {"type": "ExternalAddress", "address": "10.1.5.4", "port": 80},
        "diagnosticOperations": ["NextHop"]}}
    created = twin.arm.request("PUT", path, json=body, api_version="2026-01-01")
    assert created.status_code == 201
    assert created.json()["properties"]["provisioningState"] == "Succeeded"
    assert twin.arm.get_json(path)["name"] == "a1"
    assert twin.arm.request("DELETE", path, api_version="2026-01-01").status_code == 200
    bad = {**body, "properties": {**body["properties"], "diagnosticOperations": ["Ping"]}}
    with pytest.raises(nwlab.ArmError) as raised:
        twin.arm.request("PUT", path, json=bad, api_version="2026-01-01")
    assert raised.value.status == 400 and "diagnosticOperations" in raised.value.message
