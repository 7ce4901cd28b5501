"""A snapshot of thousands of VNets through the emulator's Resource Graph: wall time, pages, waits.

    .venv/bin/python benchmarks/snapshot_graph.py                     # 2,000 VNets
    .venv/bin/python benchmarks/snapshot_graph.py --vnets 5000 --quota 15 --window 5

The estate is generated here: VNets of two subnets, each with an NSG of a few rules (one naming
a service tag, so the Service Tags read runs), a route table and two VMs with their NICs; one
VNet in ten has effective security admin rules. The emulator's Resource Graph serves it with
Azure's page size (1,000 rows) and, with --quota, a user quota per window (Azure's example: 15
queries per 5 s) that the client waits out. Figures: wall time of nw.snapshot(via=
"resource-graph"), Resource Graph pages, 429s and quota waits, the ARM reads beside it (admin
rules per VNet, service tags, power state) and the resources written.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Any

import nwlab
from nwlab.arm.resource_graph import ResourceGraph
from nwlab.snapshot_graph import take_graph_snapshot

SUB = "00000000-0000-0000-0000-000000000000"
REGION = "westus"


def _rid(kind: str, name: str, provider: str = "Microsoft.Network") -> str:
    return f"/subscriptions/{SUB}/resourceGroups/rg{name.split('-')[0]}/providers/{provider}/" \
           f"{kind}/{name}"


def estate(vnets: int) -> dict[str, Any]:
    res: list[dict[str, Any]] = [{
        "id": f"/subscriptions/{SUB}/providers/Microsoft.Network/locations/{REGION}/serviceTags",
        "name": "public", "type": "Microsoft.Network/serviceTags", "location": REGION,
        "values": [{"name": "Storage", "id": "Storage", "properties": {
            "region": "", "changeNumber": "1", "addressPrefixes": ["20.60.0.0/16"]}}]}]
    for v in range(vnets):
        a, b = divmod(v, 250)
        name = f"{v}-vnet"
        vnet_id = _rid("virtualNetworks", name)
        rt = _rid("routeTables", f"{v}-rt")
        subnets = []
        for k in range(2):
            nsg = _rid("networkSecurityGroups", f"{v}-nsg{k}")
            res.append({"id": nsg, "name": f"{v}-nsg{k}", "location": REGION,
                        "type": "Microsoft.Network/networkSecurityGroups", "properties": {
                            "securityRules": [
                                {"name": f"r{i}", "properties": {
                                    "priority": 100 + i, "direction": "Outbound",
                                    "access": "Deny", "protocol": "Tcp", "sourcePortRange": "*",
                                    "sourceAddressPrefix": "*", "destinationPortRange": str(
                                        2000 + i), "destinationAddressPrefix":
                                        "Storage" if i == 0 else f"10.{i}.0.0/16"}}
                                for i in range(4)]}})
            subnets.append({"name": f"s{k}", "properties": {
                "addressPrefix": f"10.{a}.{b}.{k * 128}/25",
                "networkSecurityGroup": {"id": nsg}, "routeTable": {"id": rt}}})
        res.append({"id": rt, "name": f"{v}-rt", "type": "Microsoft.Network/routeTables",
                    "location": REGION, "properties": {"routes": [
                        {"name": "d", "properties": {"addressPrefix": "0.0.0.0/0",
                                                     "nextHopType": "Internet"}}]}})
        res.append({"id": vnet_id, "name": name, "type": "Microsoft.Network/virtualNetworks",
                    "location": REGION, "properties": {
                        "addressSpace": {"addressPrefixes": [f"10.{a}.{b}.0/24"]},
                        "subnets": subnets, "virtualNetworkPeerings": []}})
        for k in range(2):
            vm_id = _rid("virtualMachines", f"{v}-vm{k}", "Microsoft.Compute")
            nic_id = _rid("networkInterfaces", f"{v}-nic{k}")
            res.append({"id": nic_id, "name": f"{v}-nic{k}", "location": REGION,
                        "type": "Microsoft.Network/networkInterfaces", "properties": {
                            "ipConfigurations": [{"name": "ipconfig1", "properties": {
                                "privateIPAddress": f"10.{a}.{b}.{k * 128 + 4}",
                                "subnet": {"id": f"{vnet_id}/subnets/s{k}"}}}],
                            "virtualMachine": {"id": vm_id}}})
            res.append({"id": vm_id, "name": f"{v}-vm{k}", "location": REGION,
                        "type": "Microsoft.Compute/virtualMachines", "properties": {
                            "networkProfile": {"networkInterfaces": [{"id": nic_id}]}}})
        if v % 10 == 0:
            res.append({"id": f"{vnet_id}/effectiveSecurityAdminRules", "name": "eff",
                        "type": "Microsoft.Network/virtualNetworks/effectiveSecurityAdminRules",
                        "vnetId": vnet_id, "value": [{
                            "id": f"{vnet_id}/nm/rules/deny-rdp", "kind": "Custom",
                            "properties": {"access": "Deny", "priority": 10,
                                           "direction": "Inbound", "protocol": "Tcp",
                                           "sources": [{"addressPrefix": "Internet",
                                                        "addressPrefixType": "ServiceTag"}],
                                           "destinations": [{"addressPrefix": "*",
                                                             "addressPrefixType": "IPPrefix"}],
                                           "sourcePortRanges": ["0-65535"],
                                           "destinationPortRanges": ["3389"]}}]})
    res.append({"id": f"/subscriptions/{SUB}/resourceGroups/NetworkWatcherRG/providers/"
                      f"Microsoft.Network/networkWatchers/NetworkWatcher_{REGION}",
                "name": f"NetworkWatcher_{REGION}", "type": "Microsoft.Network/networkWatchers",
                "location": REGION, "properties": {}})
    return {"subscriptionId": SUB, "resources": res, "emulation": {}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--vnets", type=int, default=2000)
    parser.add_argument("--quota", type=int, default=15,
                        help="Resource Graph queries per window (0: unlimited)")
    parser.add_argument("--window", type=float, default=5.0, help="quota window in seconds")
    args = parser.parse_args()
    if not 1 <= args.vnets <= 62500:
        raise SystemExit("--vnets: 1 to 62,500 (one /24 each in 10.0.0.0/8)")
    doc = estate(args.vnets)
    started = time.perf_counter()
    nw = nwlab.emulate(doc, check_seconds=0, retry_after=0)
    load_s = time.perf_counter() - started
    try:
        service = nw.emulator.app.resource_graph
        if args.quota:
            service.quota, service.quota_window_s = args.quota, args.window
        before = nw.emulator.requests_count
        # min_wait 0.05: the emulator's quota resets on its own clock; live Azure keeps 1 s.
        graph = ResourceGraph(nw.arm, min_wait=0.05)
        with tempfile.TemporaryDirectory() as tmp:
            ticks: list[float] = []
            started = time.perf_counter()
            topology = take_graph_snapshot(nw, path=Path(tmp) / "estate.json",
                                           subscriptions=[SUB], graph=graph,
                                           progress=lambda p: ticks.append(time.perf_counter()))
            wall = time.perf_counter() - started
            # The last tick ends the Resource Graph queries; then assembly and the ARM reads.
            graph_s = ticks[-1] - started
            size = (Path(tmp) / "estate.json").stat().st_size
        requests = nw.emulator.requests_count - before
    finally:
        nw.close()
    stats = topology["snapshot"]["queries"]
    rg_posts = service.queries + service.throttled
    print(f"estate: {args.vnets} VNets, {len(doc['resources'])} resources "
          f"(emulator loaded in {load_s:.1f} s); quota "
          f"{f'{args.quota} per {args.window:g} s' if args.quota else 'unlimited'}")
    print(f"snapshot via resource-graph: {wall:.1f} s wall ({graph_s:.1f} s of Resource Graph "
          f"queries, {wall - graph_s:.1f} s assembling and reading over ARM), "
          f"{len(topology['resources'])} resources written ({size / 1e6:.1f} MB)")
    print(f"resource graph: {stats['pages']} pages, {stats['throttled']} 429s, "
          f"{stats['quota_waits']} quota waits ({rg_posts} POSTs answered)")
    print(f"ARM beside it (admin rules per VNet, service tags, power state): "
          f"{requests - rg_posts} requests")


if __name__ == "__main__":
    main()
