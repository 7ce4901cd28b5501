"""The one redactor over JSON (nwlab.redact): what it always hides, what names=True and
addresses=True add, what it keeps, stable pseudonyms, unchanged structure, linear work.

Real-looking identifiers are assembled at run time, so this file holds none (the leak scan reads it).
"""

from __future__ import annotations

import ipaddress
import json
import re
import sys
import uuid
from typing import Any

import pytest

import nwlab
from nwlab.batch import BatchEntry, BatchError, BatchResult
from nwlab.redact import ZERO_GUID, Redactor, cut_tokens, placeholder_guid

GUIDS = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.I)
SUB = str(uuid.UUID(int=0x3F2A1B4C5D6E4F708192A3B4C5D6E7F8))
TENANT = str(uuid.UUID(int=0x9B1C2D3E4F504617A8B9C0D1E2F3A4B5))
PRINCIPAL = str(uuid.UUID(int=0x1234ABCD5678401289ABCDEF01234567))
OP = str(uuid.UUID(int=0x0A1B2C3D4E5F4A6B8C7D8E9FA0B1C2D3))
SUBS = "/subscriptions" + "/"
RG = f"{SUBS}{SUB}/resourceGroups/ContosoRG"
AT = "@"


def rid(kind: str, name: str, *children: str) -> str:
    return f"{RG}/providers/{kind}/{name}" + "".join(f"/{c}" for c in children)


def guids(value: Any) -> set[str]:
    return {g.lower() for g in GUIDS.findall(json.dumps(value))}


def real(value: Any) -> set[str]:
    """GUIDs in `value` that are not the zero GUID, a pseudonym or a hand-made placeholder."""
    return {g for g in guids(value) if not placeholder_guid(g)}


# -- GUIDs, always -------------------------------------------------------------------------------


@pytest.mark.parametrize("text", [
    f"{RG}/providers/Microsoft.Network/networkInterfaces/nic",          # an id
    f"{RG}/providers/Microsoft.Network/networkInterfaces/nic".lstrip("/"),  # without its slash
    f"subscriptions/{SUB.upper()}/resourceGroups/x",                    # upper case, no slash
    f"https://management.azure.com{SUBS}{SUB}/providers/Microsoft.Network/locations/westus/"
    f"operationResults/{OP}?api-version=2024-05-01",                    # a Location
    f"https://management.azure.com{SUBS}{SUB}/resourcegroups?api-version=2021-04-01&%24skiptoken="
    f"%2Fsubscriptions%2F{SUB}%2F{OP}",                                  # a nextLink
    f"operation {OP} for tenant {TENANT} failed",                       # free text
    f"vm-{OP}",                                                          # inside a word
])
def test_every_guid_is_replaced_wherever_it_stands(text: str) -> None:
    for names in (False, True):
        out = Redactor(names=names).redact({"anyField": text, "nested": [{"deep": text}]})
        assert not real(out), out
        assert SUB not in json.dumps(out).lower() and OP not in json.dumps(out)


def test_guid_keys_and_id_fields_and_non_guid_values() -> None:
    data = {"identity": {"type": "SystemAssigned", "principalId": PRINCIPAL, "tenantId": TENANT},
            "objectId": "not-a-guid-but-an-object", "clientId": PRINCIPAL.upper(),
            "listeners": {rid("Microsoft.Compute/virtualMachines", "vm7"): [80]},
            "subscriptionId": SUB, "homeTenantId": "contoso.onmicrosoft.com"}
    out = Redactor().redact(data)
    text = json.dumps(out)
    assert not real(out)
    assert "not-a-guid-but-an-object" not in text and "contoso.onmicrosoft" not in text
    assert out["identity"]["principalId"] == out["clientId"]  # one pseudonym per GUID, any case
    assert out["identity"]["type"] == "SystemAssigned"


def test_guid_pseudonyms_are_stable_distinct_and_keep_the_hop_graph(seeds: dict[str, Any]) -> None:
    result = nwlab.ConnectivityResult.from_dict(seeds["vm-to-vm-nsg-blocked"]["result"])
    shared = result.redact()
    assert not real(shared.to_dict())
    assert len({h.id for h in shared.hops}) == len(result.hops)
    # each nextHopIds entry still names the hop it named
    position = {h.id: n for n, h in enumerate(result.hops)}
    shared_position = {h.id: n for n, h in enumerate(shared.hops)}
    assert [[position[i] for i in h.next_hop_ids] for h in result.hops] == \
        [[shared_position[i] for i in h.next_hop_ids] for h in shared.hops]
    assert shared.edges() and len(shared.edges()) == len(result.edges())
    redactor = Redactor()
    assert redactor.redact(OP) == redactor.redact(OP.upper()) == redactor.redact(f"{OP}")
    assert redactor.redact(OP) != redactor.redact(TENANT)


def test_the_zero_guid_and_hand_made_placeholders_are_kept() -> None:
    made = "99999999-0000-0000-0000-000000000000"
    out = Redactor(names=True).redact({"id": f"{SUBS}{ZERO_GUID}/resourceGroups/rg", "x": made})
    assert ZERO_GUID in out["id"] and out["x"] == made


# -- ARM ids of any type: every name segment with names=True ---------------------------------------


@pytest.mark.parametrize("resource_id,secrets", [
    (rid("Microsoft.Network/azureFirewalls", "hub-fw-prod"), ["hub-fw-prod"]),
    (rid("Microsoft.Network/virtualNetworkGateways", "vpn-gw-paris"), ["vpn-gw-paris"]),
    (rid("Microsoft.Network/loadBalancers", "payroll-lb", "frontendIPConfigurations", "fe-secret",
         "inboundNatRules", "ssh-admin"), ["payroll-lb", "fe-secret", "ssh-admin"]),
    (rid("Microsoft.Network/privateEndpoints", "pe-hr-db"), ["pe-hr-db"]),
    (rid("Microsoft.Network/privateDnsZones", "privatelink.hr.contoso.example", "A", "hrdb"),
     ["privatelink.hr.contoso.example", "hrdb"]),
    (rid("Contoso.Made/upThings", "thing-one", "subThings", "thing-two"), ["thing-one", "thing-two"]),
    (rid("Microsoft.Network/networkManagers", "avnm", "securityAdminConfigurations", "cfg",
         "ruleCollections", "deny-hr", "rules", "block-3389"), ["deny-hr", "block-3389", "cfg"]),
    (f"{SUBS}{SUB}/resourceGroups/Payroll-RG", ["Payroll-RG"]),
    ("/providers/Microsoft.Management/managementGroups/finance-mg", ["finance-mg"]),
    (rid("Microsoft.Compute/virtualMachines", "db01") + "/providers/Microsoft.Insights/"
     "diagnosticSettings/send-to-la", ["db01", "send-to-la"]),
])
def test_every_name_segment_of_any_id_is_replaced(resource_id: str, secrets: list[str]) -> None:
    variants = [resource_id, resource_id.lstrip("/"),
                f"https://management.azure.com{resource_id}?api-version=2024-05-01",
                f"see {resource_id}.", resource_id.replace("/", "%2F")]
    redactor = Redactor(names=True)
    out = redactor.redact({"v": variants, "name": secrets[0], "id": resource_id})
    text = json.dumps(out)
    for secret in [*secrets, "ContosoRG"]:
        assert secret.lower() not in text.lower(), (secret, text)
    # the types and the provider namespace stay, so the id still says what it is
    for piece in re.findall(r"providers/([\w.]+)/(\w+)", resource_id):
        assert piece[0] in text and piece[1] in text
    # one pseudonym per name, whichever form of the id it came in
    first = out["v"][0]
    assert out["v"][1] == first.lstrip("/") and first in out["v"][2] and first in out["v"][3]


def test_names_stay_without_names_true_and_azure_names_always_stay() -> None:
    nic = rid("Microsoft.Network/networkInterfaces", "appNic0", "ipConfigurations", "ipconfig1")
    watcher = (f"{SUBS}{SUB}/resourceGroups/NetworkWatcherRG/providers/Microsoft.Network/"
               "networkWatchers/NetworkWatcher_westcentralus")
    location = f"{SUBS}{SUB}/providers/Microsoft.Network/locations/westcentralus/operations/x"
    plain = Redactor().redact([nic, watcher])
    assert "appNic0" in plain[0] and "ContosoRG" in plain[0]
    named = Redactor(names=True).redact([nic, watcher, location,
                                         "GatewaySubnet", {"subnet": {"id": nic, "name": "default"}}])
    assert "appNic0" not in named[0] and named[0].endswith("/ipConfigurations/ipconfig1")
    assert named[1].endswith("resourceGroups/NetworkWatcherRG/providers/Microsoft.Network/"
                             "networkWatchers/NetworkWatcher_westcentralus")
    assert "/locations/westcentralus/operations/x" in named[2]
    assert named[4]["subnet"]["name"] == "default"


def test_a_resource_name_beside_its_id_and_in_free_text_gets_the_ids_pseudonym() -> None:
    vm = rid("Microsoft.Compute/virtualMachines", "HR-Payroll-01")
    data = [{"message": "HR-Payroll-01 has no agent; install it on HR-Payroll-01."},  # before the id
            {"id": vm, "name": "HR-Payroll-01", "type": "Microsoft.Compute/virtualMachines"},
            {"source": "hr-payroll-01", "resource_group": "ContosoRG"}]
    out = Redactor(names=True).redact(data)
    pseudonym = out[1]["id"].rsplit("/", 1)[1]
    assert out[1]["name"] == pseudonym and out[2]["source"] == pseudonym  # names ignore case
    assert out[0]["message"] == f"{pseudonym} has no agent; install it on {pseudonym}."
    assert out[2]["resource_group"] in out[1]["id"]
    assert "payroll" not in json.dumps(out).lower()


# -- addresses ------------------------------------------------------------------------------------


def test_ipv4_and_ipv6_in_every_spelling() -> None:
    data = {"address": "10.1.1.4", "text": "from 10.1.1.4:443 to 13.107.21.200 via 10.1.0.0/16.",
            "v6": ["2001:db8:0:0:0:0:0:5", "2001:db8::5", "[2001:db8::5]:443", "fe80::1%eth0",
                   "fd12:3456:789a:1::4", "::ffff:10.1.1.4", "::ffff:13.107.21.200"],
            "kept": ["168.63.129.16", "127.0.0.1", "::1", "0.0.0.0", "::", "169.254.169.254"],
            "typeHandlerVersion": "1.4.0.1", "time": "10:31:05"}
    out = Redactor(addresses=True).redact(data)
    text = json.dumps(out)
    for address in ("10.1.1.4", "13.107.21.200", "10.1.0.0", "2001:db8::5", "fe80::1",
                    "fd12:3456:789a:1::4"):
        assert address not in text.replace(out["address"], ""), address
    v6 = out["v6"]
    assert v6[0] == v6[1] and v6[2] == f"[{v6[1]}]:443"          # one address, one pseudonym
    assert v6[5] == "::ffff:" + out["address"]                   # the mapped form maps the IPv4
    assert out["text"].startswith(f"from {out['address']}:443 to ")
    assert out["text"].endswith("/16.") and v6[3].endswith("%eth0")
    assert out["kept"] == data["kept"]
    assert out["typeHandlerVersion"] == "1.4.0.1" and out["time"] == "10:31:05"
    assert Redactor().redact(data)["address"] == "10.1.1.4"  # only with addresses=True


def test_ip_pseudonyms_stay_private_or_public_and_never_repeat() -> None:
    addresses = [f"10.{i // 256}.{i % 256}.7" for i in range(600)] + \
                [f"20.{i // 256}.{i % 256}.7" for i in range(600)]
    out = Redactor(addresses=True).redact(addresses)
    assert len(set(out)) == len(addresses)
    # private ones in 10/8; public ones in ranges never routed on the Internet (RFC 5737, 2544)
    private, public = ipaddress.ip_network("10.0.0.0/8"), [
        ipaddress.ip_network(n) for n in ("203.0.113.0/24", "198.18.0.0/15")]
    assert all(ipaddress.ip_address(a) in private for a in out[:600])
    assert all(any(ipaddress.ip_address(a) in n for n in public) for a in out[600:])


# -- people, tags, secrets, tokens: always ---------------------------------------------------------


def test_people_tags_secrets_and_tokens_are_always_hidden() -> None:
    upn = "alice_contoso.com#EXT#" + AT + "fabrikam.onmicrosoft.com"
    mail = "bob.smith" + AT + "contoso.com"
    jwt = "eyJ" + "x" * 20 + "." + "y" * 20 + "." + "z" * 10
    data = {"osProfile": {"adminUsername": "carol-admin", "adminPassword": "Hunter2!"},
            "systemData": {"createdBy": mail, "createdByType": "User"},
            "tags": {"owner": upn, "costCenter": "HR-4411"},
            "note": f"ask {mail} or {upn}; token Bearer {jwt}",
            "headers": [{"name": "Authorization", "value": "Basic dXNlcjpwYXNz"}],
            "protectedSettings": {"storageAccountKey": "k"}}
    out = Redactor().redact(data)
    text = json.dumps(out)
    for secret in ("carol-admin", "Hunter2", "bob.smith", "contoso.com", "alice", "fabrikam",
                   "HR-4411", jwt, "dXNlcjpwYXNz", "storageAccountKey"):
        assert secret not in text, secret
    assert out["systemData"]["createdBy"] == out["note"].split()[1]  # the same person, one name
    assert out["systemData"]["createdByType"] == "User"
    assert list(out["tags"]) == ["owner", "costCenter"]  # tag names are not names of the user
    assert list(Redactor(names=True).redact(data)["tags"]) != ["owner", "costCenter"]
    assert cut_tokens(data)["note"].endswith("Bearer <redacted>")
    assert cut_tokens(data)["osProfile"] == {"adminUsername": "carol-admin",
                                             "adminPassword": "<redacted>"}


# -- rule names -------------------------------------------------------------------------------------


def _blocked(seeds: dict[str, Any]) -> nwlab.ConnectivityResult:
    data = json.loads(json.dumps(seeds["vm-to-vm-nsg-blocked"]["result"])
                      .replace("UserRule_Port80", "UserRule_Block-HR-Payroll"))
    nsg = rid("Microsoft.Network/networkSecurityGroups", "hr-nsg", "securityRules",
              "Block-HR-Payroll")
    data["hops"][2]["issues"].append({"origin": "Inbound", "severity": "Error",
                                      "type": "NetworkSecurityRule",
                                      "context": {"RuleName": "DefaultRule_DenyAllInBound"}})
    return nwlab.ConnectivityResult.from_dict(data, meta={"rule": nsg,
                                                           "note": "Block-HR-Payroll denies it"})


def test_rule_names_are_names(seeds: dict[str, Any]) -> None:
    result = _blocked(seeds)
    hidden = result.redact(names=True)
    text = json.dumps(hidden.to_dict()) + json.dumps(hidden.meta)
    assert "Payroll" not in text
    rules = [i.rule_name for i in hidden.issues]
    assert rules[0].startswith("UserRule_") and rules[1] == "DefaultRule_DenyAllInBound"
    pseudonym = rules[0][len("UserRule_"):]
    assert hidden.meta["rule"].endswith(f"/securityRules/{pseudonym}")  # one name, one pseudonym
    assert hidden.meta["note"] == f"{pseudonym} denies it"
    kept = result.redact(names=True, keep_rule_names=True)
    assert kept.issues[0].rule_name == "UserRule_Block-HR-Payroll"
    assert kept.meta["rule"].endswith("/securityRules/Block-HR-Payroll")
    assert "hr-nsg" not in kept.meta["rule"] and "ContosoRG" not in kept.meta["rule"]


# -- what must not change ----------------------------------------------------------------------------


def test_verdict_hop_types_and_structure_are_unchanged_even_for_unlucky_names(
        seeds: dict[str, Any]) -> None:
    data = json.loads(json.dumps(seeds["vm-to-vm-nsg-blocked"]["result"])
                      .replace("appNic0", "Internet").replace("dbNic0", "Unreachable")
                      .replace("fwNic", "VirtualAppliance"))
    result = nwlab.ConnectivityResult.from_dict(data, meta={"source": "Source"})
    shared = result.redact(names=True, addresses=True)
    assert shared.status == result.status and shared.reachable == result.reachable
    assert [h.type for h in shared.hops] == [h.type for h in result.hops]
    assert [len(h.next_hop_ids) for h in shared.hops] == [len(h.next_hop_ids) for h in result.hops]
    assert [(i.origin, i.severity, i.type) for i in shared.issues] == \
        [(i.origin, i.severity, i.type) for i in result.issues]
    assert (shared.probes_sent, shared.probes_failed) == (result.probes_sent, result.probes_failed)
    assert set(shared.to_dict()) == set(result.to_dict())
    assert "/Internet/" not in json.dumps(shared.to_dict())  # in an id it is a name
    rule = {"destinationAddressPrefix": "Internet", "note": "to Internet via VirtualNetwork"}
    assert Redactor(names=True).redact([data, rule])[1] == rule  # in text, the service's word


def test_redacting_twice_with_one_redactor_gives_the_same_pseudonyms(seeds: dict[str, Any]) -> None:
    result = _blocked(seeds)
    redactor = Redactor(names=True, addresses=True)
    assert result.redact(redactor=redactor) == result.redact(redactor=redactor)
    assert result.redact(redactor=redactor).meta == result.redact(redactor=redactor).meta
    other = Redactor(names=True, addresses=True)
    assert other.redact(["vm-a", rid("Microsoft.Compute/virtualMachines", "vm-a")])[1] \
        .endswith("/vm1")


def test_a_batch_shares_one_redactor_and_names_met_late_are_hidden_early() -> None:
    vm = rid("Microsoft.Compute/virtualMachines", "ledger-vm")
    entries = [BatchEntry(0, {"source": "jump", "destination": "10.0.0.1"},
                          error=BatchError("PreflightError", "ledger-vm is stopped; start ledger-vm.")),
               BatchEntry(1, {"source": vm, "destination": "10.0.0.1"}, error=BatchError("X", "y"))]
    shared = BatchResult(entries).redact(names=True)
    text = json.dumps([e.to_dict() for e in shared])
    assert "ledger" not in text and "jump" not in text
    assert shared[0].error is not None and shared[0].error.message.startswith(
        shared[1].inputs["source"].rsplit("/", 1)[1] + " is stopped")
    assert [e.verdict for e in shared] == ["error", "error"]


# -- linear ---------------------------------------------------------------------------------------


def _batch(checks: int) -> BatchResult:
    entries = []
    for i in range(checks):
        nic = rid("Microsoft.Network/networkInterfaces", f"nic{i}x", "ipConfigurations", "ipconfig1")
        hops = [{"type": "Source", "id": str(uuid.UUID(int=i * 2 + 1)), "address": f"10.0.{i % 250}.4",
                 "resourceId": nic, "nextHopIds": [str(uuid.UUID(int=i * 2 + 2))], "issues": []},
                {"type": "VnetLocal", "id": str(uuid.UUID(int=i * 2 + 2)), "resourceId": nic,
                 "nextHopIds": [], "issues": [{"type": "NetworkSecurityRule", "origin": "Outbound",
                                               "severity": "Error",
                                               "context": [{"key": "RuleName",
                                                            "value": f"UserRule_r{i}x"}]}]}]
        result = nwlab.ConnectivityResult.from_dict({"hops": hops, "connectionStatus": "Unreachable"},
                                                    meta={"source": f"vm{i}x"})
        entries.append(BatchEntry(i, {"source": f"vm{i}x", "destination": f"db{i}x"}, result))
    return BatchResult(entries)


def _calls(batch: BatchResult) -> int:
    """Python and C function calls made while redacting: a measure of work, not of time."""
    count = 0

    def profile(frame: Any, event: str, arg: Any) -> None:
        nonlocal count
        if event in ("call", "c_call"):
            count += 1

    sys.setprofile(profile)
    try:
        batch.redact(names=True, addresses=True)
    finally:
        sys.setprofile(None)
    return count


def test_redaction_work_is_linear_in_the_batch() -> None:
    """Four times the checks (and four times the distinct names) is four times the work, not
    sixteen: no step looks at every known name for every string."""
    small, large = _batch(100), _batch(400)
    ratio = _calls(large) / _calls(small)
    assert ratio < 4.6, ratio
