"""The twin with an Azure Firewall hub: engine checks per second through the firewall.

    .venv/bin/python benchmarks/firewall.py               # 100 spokes x 20 VMs, 300 rules
    .venv/bin/python benchmarks/firewall.py --spokes 250  # 5,000 NICs

The estate: a hub with an Azure Firewall (AzureFirewallSubnet, Firewall Policy with a base
policy, rule collection groups of network rules: one allow per spoke pair range and a deny
collection in front), a VPN gateway with a local network gateway, spokes peered with gateway
transit and a 0/0 user route to the firewall, and one blob private endpoint per ten spokes.
Checks mix spoke to spoke (allowed and denied by the firewall), a private endpoint and an
on-premises address. Figures: load = document to Topology; checks/s = engine parse_check +
run_check, no HTTP.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

from nwlab.emulator import engine
from nwlab.emulator.topology import Topology

SUB = "00000000-0000-0000-0000-000000000000"
RG = f"/subscriptions/{SUB}/resourceGroups/estate/providers"
NET = f"{RG}/Microsoft.Network"
FW_IP = "10.0.0.4"


def _vm(name: str, subnet: str, ip: str) -> list[dict[str, Any]]:
    nic, vm = f"{NET}/networkInterfaces/{name}-nic", f"{RG}/Microsoft.Compute/virtualMachines/{name}"
    return [
        {"id": nic, "name": f"{name}-nic", "type": "Microsoft.Network/networkInterfaces",
         "location": "westus", "properties": {
             "virtualMachine": {"id": vm}, "ipConfigurations": [{"name": "c", "properties": {
                 "privateIPAddress": ip, "subnet": {"id": subnet}, "primary": True}}]}},
        {"id": vm, "name": name, "type": "Microsoft.Compute/virtualMachines", "location": "westus",
         "properties": {"networkProfile": {"networkInterfaces": [{"id": nic}]},
                        "instanceView": {"statuses": [{"code": "PowerState/running"}]}},
         "resources": [{"id": f"{vm}/extensions/nw", "name": "nw", "properties": {
             "publisher": "Microsoft.Azure.NetworkWatcher", "type": "NetworkWatcherAgentLinux"}}]}]


def estate(spokes: int, vms: int) -> dict[str, Any]:
    hub = f"{NET}/virtualNetworks/hub"
    res: list[dict[str, Any]] = []
    peerings = []
    for s in range(1, spokes + 1):
        spoke = f"{NET}/virtualNetworks/spoke{s}"
        octet2, octet1 = s % 250, 10 + s // 250
        space = f"{octet1}.{octet2}.0.0/16"
        subnets = [{"name": "app", "properties": {"addressPrefix": f"{octet1}.{octet2}.1.0/24",
                                                  "routeTable": {"id": f"{NET}/routeTables/rt"}}},
                   {"name": "pe", "properties": {"addressPrefix": f"{octet1}.{octet2}.3.0/24"}}]
        res.append({"id": spoke, "name": f"spoke{s}", "type": "Microsoft.Network/virtualNetworks",
                    "location": "westus", "properties": {
                        "addressSpace": {"addressPrefixes": [space]}, "subnets": subnets,
                        "virtualNetworkPeerings": [{"name": "to-hub", "properties": {
                            "remoteVirtualNetwork": {"id": hub}, "useRemoteGateways": True,
                            "allowForwardedTraffic": True}}]}})
        peerings.append({"name": f"to-spoke{s}", "properties": {
            "remoteVirtualNetwork": {"id": spoke}, "allowGatewayTransit": True,
            "allowForwardedTraffic": True}})
        for v in range(vms):
            res += _vm(f"s{s}vm{v}", f"{spoke}/subnets/app", f"{octet1}.{octet2}.1.{4 + v}")
        if s % 10 == 0:
            pe, nic = f"{NET}/privateEndpoints/pe{s}", f"{NET}/networkInterfaces/pe{s}-nic"
            res += [{"id": nic, "name": f"pe{s}-nic", "type": "Microsoft.Network/networkInterfaces",
                     "location": "westus", "properties": {"privateEndpoint": {"id": pe},
                                                          "ipConfigurations": [{
                                                              "name": "c", "properties": {
                                                                  "privateIPAddress":
                                                                      f"{octet1}.{octet2}.3.4",
                                                                  "subnet": {"id":
                                                                             f"{spoke}/subnets/pe"}}}]}},
                    {"id": pe, "name": f"pe{s}", "type": "Microsoft.Network/privateEndpoints",
                     "location": "westus", "properties": {
                         "subnet": {"id": f"{spoke}/subnets/pe"}, "networkInterfaces": [{"id": nic}],
                         "privateLinkServiceConnections": [{"name": "c", "properties": {
                             "groupIds": ["blob"],
                             "privateLinkServiceConnectionState": {"status": "Approved"}}}]}}]
    res.append({"id": hub, "name": "hub", "type": "Microsoft.Network/virtualNetworks",
                "location": "westus", "properties": {
                    "addressSpace": {"addressPrefixes": ["10.0.0.0/16"]},
                    "subnets": [{"name": "AzureFirewallSubnet",
                                 "properties": {"addressPrefix": "10.0.0.0/26"}},
                                {"name": "GatewaySubnet",
                                 "properties": {"addressPrefix": "10.0.255.0/27"}}],
                    "virtualNetworkPeerings": peerings}})
    res.append({"id": f"{NET}/routeTables/rt", "name": "rt", "type": "Microsoft.Network/routeTables",
                "location": "westus", "properties": {"routes": [{"name": "all", "properties": {
                    "addressPrefix": "0.0.0.0/0", "nextHopType": "VirtualAppliance",
                    "nextHopIpAddress": FW_IP}}]}})
    base, child = f"{NET}/firewallPolicies/base", f"{NET}/firewallPolicies/child"

    def rcg(policy: str, name: str, prio: int, colls: list[dict[str, Any]]) -> dict[str, Any]:
        return {"id": f"{policy}/ruleCollectionGroups/{name}", "name": name,
                "type": "Microsoft.Network/firewallPolicies/ruleCollectionGroups",
                "properties": {"priority": prio, "ruleCollections": colls}}

    def coll(name: str, prio: int, action: str, rules: list[dict[str, Any]]) -> dict[str, Any]:
        return {"ruleCollectionType": "FirewallPolicyFilterRuleCollection", "name": name,
                "priority": prio, "action": {"type": action}, "rules": rules}

    allow = [{"ruleType": "NetworkRule", "name": f"r{i}", "ipProtocols": ["TCP"],
              "sourceAddresses": ["10.0.0.0/8"], "destinationAddresses": [f"10.{i % 250}.0.0/16"],
              "destinationPorts": ["443", "1433", "8000-8100"]} for i in range(1, 300)]
    deny = [{"ruleType": "NetworkRule", "name": "no-ssh", "ipProtocols": ["Any"],
             "sourceAddresses": ["*"], "destinationAddresses": ["*"], "destinationPorts": ["22"]}]
    res += [{"id": base, "name": "base", "type": "Microsoft.Network/firewallPolicies",
             "location": "westus", "properties": {}},
            {"id": child, "name": "child", "type": "Microsoft.Network/firewallPolicies",
             "location": "westus", "properties": {"basePolicy": {"id": base}}},
            rcg(base, "platform", 100, [coll("deny", 100, "Deny", deny)]),
            rcg(child, "spokes", 200, [coll("allow", 300, "Allow", allow)]),
            {"id": f"{NET}/azureFirewalls/fw", "name": "fw", "type": "Microsoft.Network/azureFirewalls",
             "location": "westus", "properties": {
                 "firewallPolicy": {"id": child}, "ipConfigurations": [{"name": "c", "properties": {
                     "privateIPAddress": FW_IP,
                     "subnet": {"id": f"{hub}/subnets/AzureFirewallSubnet"}}}]}},
            {"id": f"{NET}/virtualNetworkGateways/gw", "name": "gw",
             "type": "Microsoft.Network/virtualNetworkGateways", "location": "westus",
             "properties": {"ipConfigurations": [{"name": "c", "properties": {
                 "privateIPAddress": "10.0.255.4",
                 "subnet": {"id": f"{hub}/subnets/GatewaySubnet"}}}]}},
            {"id": f"{NET}/localNetworkGateways/onprem", "name": "onprem",
             "type": "Microsoft.Network/localNetworkGateways", "location": "westus",
             "properties": {"localNetworkAddressSpace": {"addressPrefixes": ["192.168.0.0/16"]}}},
            {"id": f"{NET}/connections/s2s", "name": "s2s", "type": "Microsoft.Network/connections",
             "location": "westus", "properties": {
                 "connectionType": "IPsec", "connectionStatus": "Connected",
                 "virtualNetworkGateway1": {"id": f"{NET}/virtualNetworkGateways/gw"},
                 "localNetworkGateway2": {"id": f"{NET}/localNetworkGateways/onprem"}}},
            {"id": f"/subscriptions/{SUB}/resourceGroups/NetworkWatcherRG/providers/"
                   "Microsoft.Network/networkWatchers/NetworkWatcher_westus",
             "name": "NetworkWatcher_westus", "type": "Microsoft.Network/networkWatchers",
             "location": "westus", "properties": {}}]
    return {"subscriptionId": SUB, "resources": res}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--spokes", type=int, default=100)
    parser.add_argument("--vms", type=int, default=20, help="VMs per spoke")
    parser.add_argument("--checks", type=int, default=4000)
    args = parser.parse_args()
    doc = estate(args.spokes, args.vms)
    start = time.perf_counter()
    topo = Topology(doc, owned=True)
    load = time.perf_counter() - start
    watcher = next(iter(topo.watchers.values()))
    vm = f"{RG}/Microsoft.Compute/virtualMachines"
    bodies = []
    for i in range(args.checks):
        s, t = 1 + i % args.spokes, 1 + (i * 7 + 3) % args.spokes
        dest = [f"10.{t % 250}.1.4", f"10.{t % 250}.1.4", "192.168.1.1",
                f"10.{(10 * (1 + i % max(1, args.spokes // 10))) % 250}.3.4"][i % 4]
        port = [443, 22, 443, 443][i % 4]
        bodies.append({"source": {"resourceId": f"{vm}/s{s}vm{i % args.vms}"},
                       "destination": {"address": dest, "port": port}})
    outcomes: dict[str, int] = {}
    start, cpu = time.perf_counter(), time.process_time()
    for body in bodies:
        result = engine.run_check(topo, engine.parse_check(topo, watcher, body))
        status = result["connectionStatus"]
        outcomes[status] = outcomes.get(status, 0) + 1
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    print(f"firewall estate: {len(topo.nics)} NICs, {args.spokes} spokes, {len(doc['resources'])} "
          f"resources; load {load:.2f} s")
    print(f"engine: {len(bodies) / wall:,.0f} checks/s wall, {len(bodies) / cpu:,.0f} checks/s "
          f"CPU ({len(bodies)} checks: {outcomes})")


if __name__ == "__main__":
    main()
