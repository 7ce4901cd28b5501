"""A compact builder for small emulator topologies, so each rule's test is a few lines."""

from __future__ import annotations

import copy
from typing import Any

from nwlab.emulator import engine
from nwlab.emulator.topology import Topology, key

SUB = "11111111-2222-3333-4444-555555555555"
REGION = "westus"


def rule(name: str, priority: int, direction: str, access: str, *, protocol: str = "*",
         src: str | list[str] = "*", dst: str | list[str] = "*",
         dport: str | list[str] = "*", sport: str | list[str] = "*") -> dict[str, Any]:
    """An ARM securityRules entry; a list value becomes the plural (…Prefixes/…Ranges) field."""
    props: dict[str, Any] = {"priority": priority, "direction": direction, "access": access,
                             "protocol": protocol}
    for single, plural, value in (
            ("sourceAddressPrefix", "sourceAddressPrefixes", src),
            ("destinationAddressPrefix", "destinationAddressPrefixes", dst),
            ("sourcePortRange", "sourcePortRanges", sport),
            ("destinationPortRange", "destinationPortRanges", dport)):
        if isinstance(value, list):
            props[plural] = value
        else:
            props[single] = value
    return {"name": name, "properties": props}


def route(name: str, prefix: str, hop: str, ip: str | None = None) -> dict[str, Any]:
    props: dict[str, Any] = {"addressPrefix": prefix, "nextHopType": hop}
    if ip:
        props["nextHopIpAddress"] = ip
    return {"name": name, "properties": props}


class Net:
    """Declare VNets, subnets, NSGs, route tables and VMs; ``topology()`` validates them."""

    def __init__(self, rg: str = "rg") -> None:
        self.rg = rg
        self.resources: list[dict[str, Any]] = []
        self.emulation: dict[str, Any] = {}
        self._vnets: dict[str, dict[str, Any]] = {}

    def rid(self, provider: str, kind: str, name: str) -> str:
        return f"/subscriptions/{SUB}/resourceGroups/{self.rg}/providers/{provider}/{kind}/{name}"

    def vnet(self, name: str, *spaces: str) -> str:
        res = {"id": self.rid("Microsoft.Network", "virtualNetworks", name), "name": name,
               "type": "Microsoft.Network/virtualNetworks", "location": REGION,
               "properties": {"addressSpace": {"addressPrefixes": list(spaces)},
                              "subnets": [], "virtualNetworkPeerings": []}}
        self.resources.append(res)
        self._vnets[name] = res
        return str(res["id"])

    def subnet(self, vnet: str, name: str, prefix: str, *, nsg: str | None = None,
               rt: str | None = None) -> str:
        props: dict[str, Any] = {"addressPrefix": prefix}
        if nsg:
            props["networkSecurityGroup"] = {"id": self.rid("Microsoft.Network",
                                                            "networkSecurityGroups", nsg)}
        if rt:
            props["routeTable"] = {"id": self.rid("Microsoft.Network", "routeTables", rt)}
        self._vnets[vnet]["properties"]["subnets"].append({"name": name, "properties": props})
        return f"{self._vnets[vnet]['id']}/subnets/{name}"

    def peer(self, a: str, b: str, *, both: bool = True, state: str | None = None) -> None:
        pairs = [(a, b), (b, a)] if both else [(a, b)]
        for x, y in pairs:
            props: dict[str, Any] = {"remoteVirtualNetwork": {"id": self._vnets[y]["id"]}}
            if state:
                props["peeringState"] = state
            self._vnets[x]["properties"]["virtualNetworkPeerings"].append(
                {"name": f"{x}-to-{y}", "properties": props})

    def nsg(self, name: str, *rules: dict[str, Any]) -> str:
        res = {"id": self.rid("Microsoft.Network", "networkSecurityGroups", name), "name": name,
               "type": "Microsoft.Network/networkSecurityGroups", "location": REGION,
               "properties": {"securityRules": list(rules)}}
        self.resources.append(res)
        return str(res["id"])

    def rt(self, name: str, *routes: dict[str, Any]) -> str:
        res = {"id": self.rid("Microsoft.Network", "routeTables", name), "name": name,
               "type": "Microsoft.Network/routeTables", "location": REGION,
               "properties": {"routes": list(routes)}}
        self.resources.append(res)
        return str(res["id"])

    def vm(self, name: str, vnet: str, subnet: str, ip: str, *, nsg: str | None = None,
           forwarding: bool = False, agent: bool = True, power: str = "running",
           location: str = REGION) -> str:
        nic_id = self.rid("Microsoft.Network", "networkInterfaces", f"{name}-nic")
        vm_id = self.rid("Microsoft.Compute", "virtualMachines", name)
        subnet_id = f"{self._vnets[vnet]['id']}/subnets/{subnet}"
        nic_props: dict[str, Any] = {
            "ipConfigurations": [{"name": "ipconfig1", "properties": {
                "privateIPAddress": ip, "subnet": {"id": subnet_id}, "primary": True}}],
            "enableIPForwarding": forwarding, "virtualMachine": {"id": vm_id}}
        if nsg:
            nic_props["networkSecurityGroup"] = {
                "id": self.rid("Microsoft.Network", "networkSecurityGroups", nsg)}
        self.resources.append({"id": nic_id, "name": f"{name}-nic", "location": location,
                               "type": "Microsoft.Network/networkInterfaces",
                               "properties": nic_props})
        self.resources.append({
            "id": vm_id, "name": name, "type": "Microsoft.Compute/virtualMachines",
            "location": location,
            "properties": {"networkProfile": {"networkInterfaces": [{"id": nic_id}]},
                           "instanceView": {"statuses": [{"code": f"PowerState/{power}"}]}}})
        if agent:
            self.resources.append({
                "id": f"{vm_id}/extensions/nwagent", "name": "nwagent", "location": location,
                "type": "Microsoft.Compute/virtualMachines/extensions",
                "properties": {"publisher": "Microsoft.Azure.NetworkWatcher",
                               "type": "NetworkWatcherAgentLinux", "typeHandlerVersion": "1.4",
                               "provisioningState": "Succeeded"}})
        return vm_id

    def vm_id(self, name: str) -> str:
        return self.rid("Microsoft.Compute", "virtualMachines", name)

    def document(self) -> dict[str, Any]:
        watcher = {"id": f"/subscriptions/{SUB}/resourceGroups/NetworkWatcherRG/providers/"
                         f"Microsoft.Network/networkWatchers/NetworkWatcher_{REGION}",
                   "name": f"NetworkWatcher_{REGION}", "location": REGION,
                   "type": "Microsoft.Network/networkWatchers", "properties": {}}
        return copy.deepcopy({"subscriptionId": SUB, "resources": [*self.resources, watcher],
                              "emulation": self.emulation})

    def topology(self) -> Topology:
        return Topology(self.document())


def check(net: Net | Topology, source: str, destination: str, port: int = 80, *,
          protocol: str | None = None, probes: int | None = None,
          source_port: int | None = None) -> dict[str, Any]:
    """Run a connectivity check through the engine: source is a VM name; destination a VM
    name (when the topology has one), an IP, a host name or a URL."""
    topo = net.topology() if isinstance(net, Net) else net
    sub_rg = f"/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.Compute/" \
        "virtualMachines/"
    dest: dict[str, Any] = {"port": port}
    if key(sub_rg + destination) in topo.vms:
        dest["resourceId"] = sub_rg + destination
    else:
        dest["address"] = destination
    body: dict[str, Any] = {"source": {"resourceId": sub_rg + source}, "destination": dest}
    if source_port is not None:
        body["source"]["port"] = source_port
    if protocol:
        body["protocol"] = protocol
    watcher = next(iter(topo.watchers.values()))
    spec = engine.parse_check(topo, watcher, body)
    return engine.run_check(topo, spec, probes)


def summary(result: dict[str, Any]) -> list[tuple[str, str, list[str]]]:
    """(type, address, ["Type:value", ...]) per hop: what the rule tables assert on."""
    out = []
    for hop in result["hops"]:
        tags = [f"{i['type']}:{i['origin']}:" + ",".join(c["value"] for c in i["context"])
                for i in hop["issues"]]
        out.append((hop["type"], hop["address"], tags))
    return out


def two_subnets(nsg_a: str | None = None, nsg_b: str | None = None, *,
                nic_nsg_a: str | None = None, nic_nsg_b: str | None = None) -> Net:
    """One VNet 10.0.0.0/16; vm a 10.0.1.4 in subnet a, vm b 10.0.2.4 in subnet b."""
    net = Net()
    net.vnet("v", "10.0.0.0/16")
    net.subnet("v", "a", "10.0.1.0/24", nsg=nsg_a)
    net.subnet("v", "b", "10.0.2.0/24", nsg=nsg_b)
    net.vm("a", "v", "a", "10.0.1.4", nsg=nic_nsg_a)
    net.vm("b", "v", "b", "10.0.2.4", nsg=nic_nsg_b)
    return net


def flow(net: Net | Topology, vm: str, direction: str, remote: str, *, local_port: str = "80",
         remote_port: str = "50000", protocol: str = "TCP") -> tuple[str, str]:
    """ipFlowVerify through the engine: (access, ruleName) for the VM's primary address."""
    topo = net.topology() if isinstance(net, Net) else net
    vm_id = f"/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.Compute/" \
        f"virtualMachines/{vm}"
    nic = topo.nics[key(topo.vms[key(vm_id)].nic_ids[0])]
    out = engine.ip_flow_verify(topo, {
        "targetResourceId": vm_id, "direction": direction, "protocol": protocol,
        "localPort": local_port, "remotePort": remote_port,
        "localIPAddress": str(nic.primary.address), "remoteIPAddress": remote})
    return out["access"], out["ruleName"]
