"""nw.snapshot() of the landing-zone estate: load balancers, NAT gateways, scale sets and their
instances' NICs are captured (scrubbed: no OS profile, only the agent extension), and the
snapshot answers like the estate."""

from __future__ import annotations

import copy
import json

import nwlab
from nwlab.emulator import landing_zone

RG = landing_zone.RG
INSTANCE = f"{landing_zone.COMPUTE}/virtualMachineScaleSets/api/virtualMachines/0"
CHECKS = [("jump", landing_zone.ILB_IP, 443), ("worker1", "13.107.21.200", 443),
          (INSTANCE, "13.107.21.200", 443), ("jump", "10.3.1.5", 8443),
          ("dual1", "13.107.21.200", 443), ("worker1", "app1", 8080),
          # DNAT on the firewall's public IP (applied, then refused by source) and the public
          # load balancer's frontend.
          (INSTANCE, landing_zone.FIREWALL_PUBLIC_IP, 443),
          (INSTANCE, landing_zone.FIREWALL_PUBLIC_IP, 2222),
          ("web1", landing_zone.API_PUBLIC_IP, 443)]


def _with_secrets() -> dict:
    """The estate as Azure would return it, with what a snapshot must not keep."""
    doc = landing_zone.build()
    for res in doc["resources"]:
        if res["type"] == "Microsoft.Compute/virtualMachineScaleSets":
            profile = res["properties"]["virtualMachineProfile"]
            profile["osProfile"] = {"adminUsername": "azureuser", "customData": "c2VjcmV0"}
            profile["extensionProfile"]["extensions"].append({
                "name": "script", "properties": {
                    "publisher": "Microsoft.Azure.Extensions", "type": "CustomScript",
                    "protectedSettings": {"commandToExecute": "echo hunter2"}}})
    return doc


def _snapshot(path) -> dict:
    """The ARM snapshot of the estate with secrets, written to ``path``."""
    live = nwlab.emulate(_with_secrets(), check_seconds=0, retry_after=0)
    try:
        return live.snapshot(RG, path=path)
    finally:
        live.close()


def _answers_alike(live: nwlab.NetworkWatcher, twin: nwlab.NetworkWatcher, source: str,
                   destination: str, port: int) -> None:
    group = None if source.startswith("/") else RG
    a = live.check(source, destination, port, resource_group=group)
    b = twin.check(source, destination, port, resource_group=group)
    assert (a.status, [h.address for h in a.hops], sorted(x.code for x in a.assumptions)) \
        == (b.status, [h.address for h in b.hops], sorted(x.code for x in b.assumptions)), \
        (source, destination, port)


def test_snapshot_captures_load_balancers_nat_gateways_and_scale_sets(tmp_path):
    topology = _snapshot(tmp_path / "lz.json")
    by_type: dict[str, list] = {}
    for res in topology["resources"]:
        by_type.setdefault(res["type"], []).append(res)
    assert sorted(r["name"] for r in by_type["Microsoft.Network/loadBalancers"]) == [
        "api-plb", "web-ilb"]
    assert [r["name"] for r in by_type["Microsoft.Network/natGateways"]] == ["data-natgw"]
    (vmss,) = by_type["Microsoft.Compute/virtualMachineScaleSets"]
    assert vmss["properties"]["orchestrationMode"] == "Uniform"
    assert [e["name"] for e in vmss["properties"]["virtualMachineProfile"]["extensionProfile"][
        "extensions"]] == ["AzureNetworkWatcherExtension"]
    instances = by_type["Microsoft.Compute/virtualMachineScaleSets/virtualMachines"]
    assert sorted(r["name"] for r in instances) == ["api_0", "api_1"]
    nics = [r["id"] for r in by_type["Microsoft.Network/networkInterfaces"]]
    assert sum("/virtualMachineScaleSets/api/virtualMachines/" in n for n in nics) == 2
    text = (tmp_path / "lz.json").read_text()
    for secret in ("azureuser", "c2VjcmV0", "hunter2", "CustomScript"):
        assert secret not in text, secret


def test_snapshot_captures_dnat_rules_and_the_public_ips_they_and_frontends_use(tmp_path):
    topology = _snapshot(tmp_path / "lz.json")
    by_id = {r["id"].lower(): r for r in topology["resources"]}
    group = by_id[f"{landing_zone.NET}/firewallPolicies/fw-policy/ruleCollectionGroups/"
                  "inbound".lower()]
    (nat,) = group["properties"]["ruleCollections"]
    assert nat["ruleCollectionType"] == "FirewallPolicyNatRuleCollection"
    assert {r["name"]: (r["translatedAddress"], r["translatedPort"]) for r in nat["rules"]} == {
        "web-https": (landing_zone.ILB_IP, "443"), "jump-ssh": ("10.0.3.4", "22")}
    fw = by_id[f"{landing_zone.NET}/azureFirewalls/hub-fw".lower()]
    fw_pip = fw["properties"]["ipConfigurations"][0]["properties"]["publicIPAddress"]["id"]
    assert by_id[fw_pip.lower()]["properties"]["ipAddress"] == landing_zone.FIREWALL_PUBLIC_IP
    plb = by_id[f"{landing_zone.NET}/loadBalancers/api-plb".lower()]
    fe_pip = plb["properties"]["frontendIPConfigurations"][0]["properties"]["publicIPAddress"]
    assert by_id[fe_pip["id"].lower()]["properties"]["ipAddress"] == landing_zone.API_PUBLIC_IP


def test_snapshot_of_the_landing_zone_answers_like_the_estate():
    live = nwlab.emulate(_with_secrets(), check_seconds=0, retry_after=0)
    twin = nwlab.emulate(copy.deepcopy(live.snapshot(RG)), check_seconds=0, retry_after=0)
    try:
        for source, destination, port in CHECKS:
            _answers_alike(live, twin, source, destination, port)
        # Every assumption survives the round trip (the firewall with its policy and DNAT
        # rules, the gateway, private endpoint and DNS resources included).

        def mine(nw: nwlab.NetworkWatcher) -> str:
            return json.dumps(sorted((a.code, a.resource_id.lower()) for a in nw.assumptions))

        assert mine(twin) == mine(live)
    finally:
        twin.close()
        live.close()


def test_resource_graph_snapshot_of_scale_sets_is_scrubbed_and_loads():
    from nwlab.emulator.topology import load_topology

    live = nwlab.emulate(_with_secrets(), check_seconds=0, retry_after=0)
    try:
        topology = live.snapshot(via="resource-graph")
    finally:
        live.close()
    text = json.dumps(topology)
    for secret in ("azureuser", "c2VjcmV0", "hunter2", "CustomScript"):
        assert secret not in text, secret
    topo = load_topology(topology)
    assert INSTANCE.lower() in topo.vms and len(topo.nics) == 9


def test_resource_graph_snapshot_equals_the_arm_snapshot_resource_by_resource():
    """What the Resource Graph capture keeps of each resource is what the ARM capture keeps:
    a scale set instance's agent extension and power state included (Resource Graph has no
    row for an instance's extensions; the capture reads them over ARM, one list per set)."""
    live = nwlab.emulate(_with_secrets(), check_seconds=0, retry_after=0)
    try:
        by_arm = {r["id"].lower(): r for r in live.snapshot(RG)["resources"]}
        by_graph = {r["id"].lower(): r for r in
                    live.snapshot(via="resource-graph", progress=False)["resources"]}
    finally:
        live.close()
    assert sorted(by_graph) == sorted(by_arm)
    for rid, resource in by_arm.items():
        assert by_graph[rid] == resource, rid
    instance = by_graph[INSTANCE.lower()]
    assert [e["name"] for e in instance["resources"]] == ["AzureNetworkWatcherExtension"]
    assert instance["properties"]["instanceView"]["statuses"] == [{"code": "PowerState/running"}]


def test_resource_graph_snapshot_answers_every_check_alike_from_scale_set_instances_too():
    live = nwlab.emulate(landing_zone.build(), check_seconds=0, retry_after=0)
    twin = nwlab.emulate(copy.deepcopy(live.snapshot(via="resource-graph", progress=False)),
                         check_seconds=0, retry_after=0)
    try:
        assert any(source == INSTANCE for source, _, _ in CHECKS)
        for source, destination, port in CHECKS:
            _answers_alike(live, twin, source, destination, port)
    finally:
        twin.close()
        live.close()


def test_resource_graph_snapshot_names_scale_set_instances_it_could_not_read():
    """The instances' extra read failing (403 on the scale set) is a note, never a silent drop
    of the agent: the instance rows Resource Graph gave stay."""
    from nwlab.emulator.chaos import Chaos, Status

    live = nwlab.emulate(landing_zone.build(), check_seconds=0, retry_after=0)
    live.emulator.chaos = Chaos().on("GET", r"/virtualMachineScaleSets/api/virtualMachines$",
                                     Status(403, "AuthorizationFailed"))
    try:
        topology = live.snapshot(via="resource-graph", progress=False)
    finally:
        live.close()
    notes = topology["emulation"]["notes"]
    assert any("instances of" in n and "/virtualMachineScaleSets/api" in n and "403" in n
               for n in notes), notes
    ids = {r["id"].lower() for r in topology["resources"]}
    assert INSTANCE.lower() in ids


def test_the_twin_lists_a_scale_set_instances_extensions():
    """VirtualMachineScaleSetVMExtensions_List: a snapshot that stores an instance's extension
    as a resource of its own still shows the client the agent."""
    doc = landing_zone.build()
    for res in doc["resources"]:
        if res["id"] == INSTANCE:
            doc["resources"].extend({**e, "type": "Microsoft.Compute/virtualMachines/extensions",
                                     "location": res["location"]} for e in res.pop("resources"))
    nw = nwlab.emulate(doc, check_seconds=0, retry_after=0)
    try:
        listed = list(nw.arm.list(f"{INSTANCE}/extensions"))
        assert [e["properties"]["publisher"] for e in listed] == ["Microsoft.Azure.NetworkWatcher"]
        view = nw.arm.get_json(f"{INSTANCE}/instanceView")
        assert {"code": "PowerState/running"} in view["statuses"]
        assert nw.check(INSTANCE, "13.107.21.200", 443).status
    finally:
        nw.close()
