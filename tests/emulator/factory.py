"""A compact builder for small emulator topologies, so each rule's test is a few lines."""

from __future__ import annotations

import copy
from typing import Any

from nwlab.emulator import engine
from nwlab.emulator.topology import Topology, key

SUB = "11111111-2222-3333-4444-555555555555"
REGION = "westus"


def rule(name: str, priority: int, direction: str, access: str, *, protocol: str = "*",
         src: str | list[str] | None = "*", dst: str | list[str] | None = "*",
         dport: str | list[str] = "*", sport: str | list[str] = "*",
         src_asgs: list[str] | None = None, dst_asgs: list[str] | None = None,
         ) -> dict[str, Any]:
    """An ARM securityRules entry; a list value becomes the plural (…Prefixes/…Ranges) field.
    An ASG side (ids) drops that side's address prefix, as ARM GET shows such rules."""
    props: dict[str, Any] = {"priority": priority, "direction": direction, "access": access,
                             "protocol": protocol}
    if src_asgs is not None:
        props["sourceApplicationSecurityGroups"] = [{"id": a} for a in src_asgs]
        src = None if src == "*" else src
    if dst_asgs is not None:
        props["destinationApplicationSecurityGroups"] = [{"id": a} for a in dst_asgs]
        dst = None if dst == "*" else dst
    for single, plural, value in (
            ("sourceAddressPrefix", "sourceAddressPrefixes", src),
            ("destinationAddressPrefix", "destinationAddressPrefixes", dst),
            ("sourcePortRange", "sourcePortRanges", sport),
            ("destinationPortRange", "destinationPortRanges", dport)):
        if value is None:
            continue
        if isinstance(value, list):
            props[plural] = value
        else:
            props[single] = value
    return {"name": name, "properties": props}


def admin_rule(name: str, priority: int, direction: str, access: str, *,
               protocol: str = "Any", src: str = "*", dst: str = "*", dport: str = "0-65535",
               kind: str = "Custom") -> dict[str, Any]:
    """One entry of listNetworkManagerEffectiveSecurityAdminRules (twin-semantics §3.1)."""
    def side(text: str) -> list[dict[str, str]]:
        tag = not (text == "*" or text[:1].isdigit())
        return [{"addressPrefix": text, "addressPrefixType": "ServiceTag" if tag else "IPPrefix"}]

    return {"id": f"/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.Network/"
                  f"networkManagers/nm/securityAdminConfigurations/cfg/ruleCollections/rc/"
                  f"rules/{name}",
            "kind": kind,
            "properties": {"access": access, "priority": priority, "direction": direction,
                           "protocol": protocol, "sources": side(src),
                           "destinations": side(dst), "sourcePortRanges": ["0-65535"],
                           "destinationPortRanges": [dport]}}


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

    def peer(self, a: str, b: str, *, both: bool = True, state: str | None = None,
             ab: dict[str, Any] | None = None, ba: dict[str, Any] | None = None) -> None:
        """Peer a and b; ``ab``/``ba`` are extra properties of a's link to b / b's to a."""
        pairs = [(a, b, ab), (b, a, ba)] if both else [(a, b, ab)]
        for x, y, extra in pairs:
            props: dict[str, Any] = {"remoteVirtualNetwork": {"id": self._vnets[y]["id"]}}
            if state:
                props["peeringState"] = state
            props.update(extra or {})
            self._vnets[x]["properties"]["virtualNetworkPeerings"].append(
                {"name": f"{x}-to-{y}", "properties": props})

    def asg(self, name: str) -> str:
        res = {"id": self.rid("Microsoft.Network", "applicationSecurityGroups", name),
               "name": name, "type": "Microsoft.Network/applicationSecurityGroups",
               "location": REGION, "properties": {}}
        self.resources.append(res)
        return str(res["id"])

    def service_tags(self, tags: dict[str, list[str]], *, region: str = REGION) -> None:
        """A stored Service Tags discovery answer; a name with a dot is a regional entry."""
        values = [{"name": name, "id": name,
                   "properties": {"changeNumber": "1", "region": region if "." in name else "",
                                  "systemService": name.split(".")[0],
                                  "addressPrefixes": prefixes}}
                  for name, prefixes in tags.items()]
        self.resources.append({
            "id": f"/subscriptions/{SUB}/providers/Microsoft.Network/locations/{region}/"
                  "serviceTags", "name": "public", "type": "Microsoft.Network/serviceTags",
            "location": region, "cloud": "Public", "changeNumber": "1", "values": values})

    def admin(self, vnet: str, *rules: dict[str, Any]) -> None:
        """The VNet's effective security admin rules, stored as a snapshot stores them."""
        vnet_id = self._vnets[vnet]["id"]
        self.resources.append({
            "id": f"{vnet_id}/effectiveSecurityAdminRules", "name": "effectiveSecurityAdminRules",
            "type": "Microsoft.Network/virtualNetworks/effectiveSecurityAdminRules",
            "vnetId": vnet_id, "value": list(rules)})

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
           location: str = REGION, asgs: list[str] | None = None,
           public_ip: str | None = None, pip_sku: str = "Standard") -> str:
        nic_id = self.rid("Microsoft.Network", "networkInterfaces", f"{name}-nic")
        vm_id = self.rid("Microsoft.Compute", "virtualMachines", name)
        subnet_id = f"{self._vnets[vnet]['id']}/subnets/{subnet}"
        cfg: dict[str, Any] = {"privateIPAddress": ip, "subnet": {"id": subnet_id},
                               "primary": True}
        if asgs:
            cfg["applicationSecurityGroups"] = [{"id": a} for a in asgs]
        if public_ip:
            pip_id = self.rid("Microsoft.Network", "publicIPAddresses", f"{name}-pip")
            cfg["publicIPAddress"] = {"id": pip_id}
            self.resources.append({
                "id": pip_id, "name": f"{name}-pip", "location": location,
                "type": "Microsoft.Network/publicIPAddresses", "sku": {"name": pip_sku},
                "properties": {"ipAddress": public_ip, "publicIPAllocationMethod": "Static",
                               "ipConfiguration": {"id": f"{nic_id}/ipConfigurations/ipconfig1"}}})
        nic_props: dict[str, Any] = {
            "ipConfigurations": [{"name": "ipconfig1", "properties": cfg}],
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

    def subnet_id(self, vnet: str, subnet: str) -> str:
        return f"{self._vnets[vnet]['id']}/subnets/{subnet}"

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
          source_port: int | None = None, ip_version: str | None = None) -> dict[str, Any]:
    """Run a connectivity check through the engine: source is a VM name; destination a VM
    name (when the topology has one), an IP, a host name or a URL; `ip_version` is the body's
    preferredIPVersion (IPv4 or IPv6; omitted when None)."""
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
    if ip_version is not None:
        body["preferredIPVersion"] = ip_version
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


def assumed(result: dict[str, Any]) -> list[tuple[str, bool]]:
    """(code, verdictSensitive) of each assumption a check's path touched."""
    return [(a["code"], a["verdictSensitive"])
            for a in result.get("nwlab", {}).get("assumptions", [])]


def outcome(result: dict[str, Any]) -> str:
    """The twin's own outcome: reached / notReached / undetermined (from the extension when
    present, else from connectionStatus)."""
    if "nwlab" in result:
        return str(result["nwlab"]["outcome"])
    return "reached" if result["connectionStatus"] == "Reachable" else "notReached"
