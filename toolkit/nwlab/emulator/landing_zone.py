"""The bundled enterprise estate, ``nwlab.emulate("landing-zone")`` (docs/twin.md).

A hub-and-spoke landing zone in ARM GET shapes: the hub holds Azure Firewall (the spokes' default
route, with DNAT rules publishing the web tier on its public IP), a VPN gateway with an
on-premises site, and a jump box; spoke ``web`` has an internal load balancer before two web VMs;
spoke ``app`` has a private endpoint for a storage account, a private subnet without outbound
access and NSG rules with service tags; spoke ``data`` is dual stack, with a Uniform scale set
behind a NAT gateway and a public load balancer. ASGs name the web and app tiers.

Built in code rather than stored as JSON so that the benchmark can scale the same estate
(``build(extra_spokes=N)`` adds spokes of plain VMs); ``build()`` is the bundled estate. The
service tag prefixes are illustrative, as Contoso's are.
"""

from __future__ import annotations

from typing import Any

SUB = "00000000-0000-0000-0000-000000000000"
RG = "landing-zone"
REGION = "westeurope"
P = f"/subscriptions/{SUB}/resourceGroups/{RG}/providers"
NET = f"{P}/Microsoft.Network"
COMPUTE = f"{P}/Microsoft.Compute"
FIREWALL_IP = "10.0.1.4"
ILB_IP = "10.1.2.100"
FIREWALL_PUBLIC_IP = "20.50.0.4"
API_PUBLIC_IP = "20.50.0.10"  # the public load balancer's frontend
ADMIN_RANGE = "203.0.113.0/24"  # the on-premises site's public range: the only DNAT SSH source
ONPREM = "192.168.0.0/16"
STORAGE_HOST = "stlzdata.blob.core.windows.net"
AGENT = {"publisher": "Microsoft.Azure.NetworkWatcher", "type": "NetworkWatcherAgentLinux",
         "typeHandlerVersion": "1.4", "provisioningState": "Succeeded"}

JSON = dict[str, Any]


def _ref(rid: str) -> JSON:
    return {"id": rid}


def _res(kind: str, name: str, props: JSON, **extra: Any) -> JSON:
    provider = COMPUTE if kind.startswith("virtualMachine") else NET
    rtype = ("Microsoft.Compute/" if provider == COMPUTE else "Microsoft.Network/") + kind
    return {"id": f"{provider}/{kind}/{name}", "name": name, "type": rtype,
            "location": REGION, **extra, "properties": props}


def _rule(name: str, priority: int, direction: str, access: str, *, protocol: str = "Tcp",
          src: str | None = "*", dst: str | None = "*", dport: str = "*",
          src_asg: str | None = None, dst_asg: str | None = None) -> JSON:
    props: JSON = {"priority": priority, "direction": direction, "access": access,
                   "protocol": protocol, "sourcePortRange": "*", "destinationPortRange": dport}
    if src_asg:
        props["sourceApplicationSecurityGroups"] = [_ref(f"{NET}/applicationSecurityGroups/"
                                                         f"{src_asg}")]
    else:
        props["sourceAddressPrefix"] = src
    if dst_asg:
        props["destinationApplicationSecurityGroups"] = [_ref(f"{NET}/applicationSecurityGroups/"
                                                              f"{dst_asg}")]
    else:
        props["destinationAddressPrefix"] = dst
    return {"name": name, "properties": props}


class _Estate:
    def __init__(self) -> None:
        self.resources: list[JSON] = []
        self.listeners: dict[str, list[int]] = {}

    def add(self, res: JSON) -> JSON:
        self.resources.append(res)
        return res

    def vm(self, name: str, vnet: str, subnet: str, ip: str, *, ports: list[int] | None = None,
           asgs: tuple[str, ...] = (), pools: tuple[str, ...] = (), ipv6: str | None = None,
           public_ip: str | None = None, forwarding: bool = False) -> str:
        vm_id = f"{COMPUTE}/virtualMachines/{name}"
        nic_id = f"{NET}/networkInterfaces/{name}-nic"
        subnet_id = f"{NET}/virtualNetworks/{vnet}/subnets/{subnet}"
        cfg: JSON = {"privateIPAddress": ip, "privateIPAllocationMethod": "Static",
                     "privateIPAddressVersion": "IPv4", "primary": True,
                     "subnet": _ref(subnet_id)}
        if asgs:
            cfg["applicationSecurityGroups"] = [_ref(f"{NET}/applicationSecurityGroups/{a}")
                                                for a in asgs]
        if pools:
            cfg["loadBalancerBackendAddressPools"] = [_ref(p) for p in pools]
        if public_ip:
            pip = self.add(_res("publicIPAddresses", f"{name}-pip", {
                "ipAddress": public_ip, "publicIPAllocationMethod": "Static",
                "publicIPAddressVersion": "IPv4"}, sku={"name": "Standard"}))
            cfg["publicIPAddress"] = _ref(pip["id"])
        configs = [{"name": "ipconfig1", "properties": cfg}]
        if ipv6:
            configs.append({"name": "ipconfig-v6", "properties": {
                "privateIPAddress": ipv6, "privateIPAddressVersion": "IPv6",
                "privateIPAllocationMethod": "Static", "primary": False,
                "subnet": _ref(subnet_id)}})
        self.add(_res("networkInterfaces", f"{name}-nic", {
            "ipConfigurations": configs, "enableIPForwarding": forwarding,
            "virtualMachine": _ref(vm_id)}))
        self.add({"id": vm_id, "name": name, "type": "Microsoft.Compute/virtualMachines",
                  "location": REGION, "properties": {
                      "networkProfile": {"networkInterfaces": [_ref(nic_id)]},
                      "storageProfile": {"osDisk": {"osType": "Linux"}},
                      "instanceView": {"statuses": [{"code": "PowerState/running"}]}}})
        self.add({"id": f"{vm_id}/extensions/AzureNetworkWatcherExtension",
                  "name": "AzureNetworkWatcherExtension", "location": REGION,
                  "type": "Microsoft.Compute/virtualMachines/extensions",
                  "properties": dict(AGENT)})
        if ports is not None:
            self.listeners[vm_id] = ports
        return vm_id


def _subnet(name: str, *prefixes: str, nsg: str | None = None, rt: str | None = None,
            **props: Any) -> JSON:
    out: JSON = {"addressPrefixes": list(prefixes)} if len(prefixes) > 1 else \
        {"addressPrefix": prefixes[0]}
    if nsg:
        out["networkSecurityGroup"] = _ref(f"{NET}/networkSecurityGroups/{nsg}")
    if rt:
        out["routeTable"] = _ref(f"{NET}/routeTables/{rt}")
    out.update(props)
    return {"name": name, "properties": out}


def _peer(local: str, remote: str, **flags: Any) -> JSON:
    return {"name": f"{local}-to-{remote}", "properties": {
        "remoteVirtualNetwork": _ref(f"{NET}/virtualNetworks/{remote}"),
        "peeringState": "Connected", "peeringSyncLevel": "FullyInSync",
        "allowVirtualNetworkAccess": True, "allowForwardedTraffic": True, **flags}}


def _vnet(name: str, spaces: list[str], subnets: list[JSON], peerings: list[JSON]) -> JSON:
    return _res("virtualNetworks", name, {"addressSpace": {"addressPrefixes": spaces},
                                          "subnets": subnets,
                                          "virtualNetworkPeerings": peerings})


def _hub(e: _Estate, spokes: list[str]) -> None:
    e.add(_vnet("hub", ["10.0.0.0/16"], [
        _subnet("AzureFirewallSubnet", "10.0.1.0/26"),
        _subnet("GatewaySubnet", "10.0.2.0/27"),
        _subnet("mgmt", "10.0.3.0/24", nsg="mgmt-nsg"),
    ], [_peer("hub", s, allowGatewayTransit=True) for s in spokes]))
    e.add(_res("networkSecurityGroups", "mgmt-nsg", {"securityRules": [
        _rule("allow-ssh-from-onprem", 100, "Inbound", "Allow", src=ONPREM, dport="22")]}))
    e.vm("jump", "hub", "mgmt", "10.0.3.4", ports=[22])
    fw_pip = e.add(_res("publicIPAddresses", "fw-pip", {
        "ipAddress": FIREWALL_PUBLIC_IP, "publicIPAllocationMethod": "Static"},
        sku={"name": "Standard"}))
    policy = f"{NET}/firewallPolicies/fw-policy"
    e.add(_res("firewallPolicies", "fw-policy", {"sku": {"tier": "Standard"},
                                                 "threatIntelMode": "Alert"}))
    e.add({"id": f"{policy}/ruleCollectionGroups/spokes", "name": "spokes",
           "type": "Microsoft.Network/firewallPolicies/ruleCollectionGroups",
           "location": REGION, "properties": {"priority": 200, "ruleCollections": [
               {"ruleCollectionType": "FirewallPolicyFilterRuleCollection", "name": "net-allow",
                "priority": 200, "action": {"type": "Allow"}, "rules": [
                    {"ruleType": "NetworkRule", "name": "web-to-app-8080",
                     "ipProtocols": ["TCP"], "sourceAddresses": ["10.1.0.0/16"],
                     "destinationAddresses": ["10.2.0.0/16"], "destinationPorts": ["8080"]},
                    {"ruleType": "NetworkRule", "name": "spokes-to-onprem",
                     "ipProtocols": ["TCP"], "sourceAddresses": ["10.0.0.0/8"],
                     "destinationAddresses": [ONPREM], "destinationPorts": ["*"]},
                    {"ruleType": "NetworkRule", "name": "web-to-api-public",
                     "ipProtocols": ["TCP"], "sourceAddresses": ["10.1.0.0/16"],
                     "destinationAddresses": [API_PUBLIC_IP], "destinationPorts": ["443"]}]},
               {"ruleCollectionType": "FirewallPolicyFilterRuleCollection", "name": "web-out",
                "priority": 300, "action": {"type": "Allow"}, "rules": [
                    {"ruleType": "ApplicationRule", "name": "microsoft",
                     "sourceAddresses": ["10.0.0.0/8"], "targetFqdns": ["*.microsoft.com"],
                     "protocols": [{"protocolType": "Https", "port": 443}]}]}]}})
    e.add({"id": f"{policy}/ruleCollectionGroups/inbound", "name": "inbound",
           "type": "Microsoft.Network/firewallPolicies/ruleCollectionGroups",
           "location": REGION, "properties": {"priority": 100, "ruleCollections": [
               {"ruleCollectionType": "FirewallPolicyNatRuleCollection", "name": "publish",
                "priority": 100, "action": {"type": "DNAT"}, "rules": [
                    {"ruleType": "NatRule", "name": "web-https", "ipProtocols": ["TCP"],
                     "sourceAddresses": ["*"], "destinationAddresses": [FIREWALL_PUBLIC_IP],
                     "destinationPorts": ["443"], "translatedAddress": ILB_IP,
                     "translatedPort": "443"},
                    {"ruleType": "NatRule", "name": "jump-ssh", "ipProtocols": ["TCP"],
                     "sourceAddresses": [ADMIN_RANGE],
                     "destinationAddresses": [FIREWALL_PUBLIC_IP],
                     "destinationPorts": ["2222"], "translatedAddress": "10.0.3.4",
                     "translatedPort": "22"}]}]}})
    e.add(_res("azureFirewalls", "hub-fw", {
        "sku": {"name": "AZFW_VNet", "tier": "Standard"},
        "firewallPolicy": _ref(policy),
        "ipConfigurations": [{"name": "fw-ipconfig", "properties": {
            "privateIPAddress": FIREWALL_IP,
            "subnet": _ref(f"{NET}/virtualNetworks/hub/subnets/AzureFirewallSubnet"),
            "publicIPAddress": _ref(fw_pip["id"])}}]}))
    gw_pip = e.add(_res("publicIPAddresses", "vpngw-pip", {
        "ipAddress": "20.50.0.5", "publicIPAllocationMethod": "Static"}, sku={"name": "Standard"}))
    e.add(_res("virtualNetworkGateways", "hub-vpngw", {
        "gatewayType": "Vpn", "vpnType": "RouteBased", "enableBgp": False,
        "activeActive": False, "sku": {"name": "VpnGw1", "tier": "VpnGw1"},
        "ipConfigurations": [{"name": "gw-ipconfig", "properties": {
            "privateIPAllocationMethod": "Dynamic",
            "subnet": _ref(f"{NET}/virtualNetworks/hub/subnets/GatewaySubnet"),
            "publicIPAddress": _ref(gw_pip["id"])}}]}))
    e.add(_res("localNetworkGateways", "onprem-site", {
        "gatewayIpAddress": "203.0.113.10",
        "localNetworkAddressSpace": {"addressPrefixes": [ONPREM]}}))
    e.add(_res("connections", "hub-to-onprem", {
        "connectionType": "IPsec", "connectionStatus": "Connected", "routingWeight": 0,
        "virtualNetworkGateway1": _ref(f"{NET}/virtualNetworkGateways/hub-vpngw"),
        "localNetworkGateway2": _ref(f"{NET}/localNetworkGateways/onprem-site")}))


def _spoke_route_table(e: _Estate) -> None:
    e.add(_res("routeTables", "spokes-via-fw", {
        "disableBgpRoutePropagation": False, "routes": [
            {"name": "default-via-fw", "properties": {
                "addressPrefix": "0.0.0.0/0", "nextHopType": "VirtualAppliance",
                "nextHopIpAddress": FIREWALL_IP}},
            {"name": "spokes-via-fw", "properties": {
                "addressPrefix": "10.0.0.0/8", "nextHopType": "VirtualAppliance",
                "nextHopIpAddress": FIREWALL_IP}}]}))


def _web(e: _Estate) -> None:
    lb = f"{NET}/loadBalancers/web-ilb"
    pool = f"{lb}/backendAddressPools/web-pool"
    e.add(_vnet("spoke-web", ["10.1.0.0/16"], [
        _subnet("web", "10.1.1.0/24", nsg="web-nsg", rt="spokes-via-fw"),
        _subnet("lb", "10.1.2.0/24", rt="spokes-via-fw"),
    ], [_peer("spoke-web", "hub", useRemoteGateways=True)]))
    e.add(_res("applicationSecurityGroups", "asg-web", {}))
    e.add(_res("networkSecurityGroups", "web-nsg", {"securityRules": [
        _rule("allow-https-to-web", 100, "Inbound", "Allow", src="VirtualNetwork",
              dst_asg="asg-web", dport="443"),
        _rule("deny-rest-inbound", 4000, "Inbound", "Deny", protocol="*", src="VirtualNetwork",
              dst="*")]}))
    for i, ip in ((1, "10.1.1.4"), (2, "10.1.1.5")):
        e.vm(f"web{i}", "spoke-web", "web", ip, ports=[443], asgs=("asg-web",), pools=(pool,))
    e.add(_res("loadBalancers", "web-ilb", {
        "frontendIPConfigurations": [{"name": "web-fe", "properties": {
            "privateIPAddress": ILB_IP, "privateIPAllocationMethod": "Static",
            "privateIPAddressVersion": "IPv4",
            "subnet": _ref(f"{NET}/virtualNetworks/spoke-web/subnets/lb")}}],
        "backendAddressPools": [{"name": "web-pool", "properties": {}}],
        "probes": [{"name": "https-probe", "properties": {
            "protocol": "Tcp", "port": 443, "intervalInSeconds": 5, "probeThreshold": 2}}],
        "loadBalancingRules": [{"name": "https", "properties": {
            "frontendIPConfiguration": _ref(f"{lb}/frontendIPConfigurations/web-fe"),
            "backendAddressPool": _ref(pool), "probe": _ref(f"{lb}/probes/https-probe"),
            "protocol": "Tcp", "frontendPort": 443, "backendPort": 443,
            "loadDistribution": "Default", "enableFloatingIP": False}}],
        "inboundNatRules": [], "outboundRules": []}, sku={"name": "Standard",
                                                          "tier": "Regional"}))


def _app(e: _Estate) -> None:
    e.add(_vnet("spoke-app", ["10.2.0.0/16"], [
        _subnet("app", "10.2.1.0/24", nsg="app-nsg", rt="spokes-via-fw"),
        _subnet("pe", "10.2.2.0/24", privateEndpointNetworkPolicies="Disabled"),
        _subnet("private", "10.2.3.0/24", nsg="app-nsg", defaultOutboundAccess=False),
    ], [_peer("spoke-app", "hub", useRemoteGateways=True)]))
    e.add(_res("applicationSecurityGroups", "asg-app", {}))
    e.add(_res("networkSecurityGroups", "app-nsg", {"securityRules": [
        _rule("allow-8080-from-web", 100, "Inbound", "Allow", src="10.1.0.0/16",
              dst_asg="asg-app", dport="8080"),
        _rule("allow-storage-out", 100, "Outbound", "Allow", src="*", dst="Storage",
              dport="443"),
        _rule("deny-sql-out", 110, "Outbound", "Deny", src="*", dst="Sql.WestEurope",
              dport="1433")]}))
    e.vm("app1", "spoke-app", "app", "10.2.1.4", ports=[8080], asgs=("asg-app",))
    e.vm("worker1", "spoke-app", "private", "10.2.3.4", ports=[22])
    pe = f"{NET}/privateEndpoints/pe-stlzdata"
    nic = f"{NET}/networkInterfaces/pe-stlzdata-nic"
    e.add(_res("privateEndpoints", "pe-stlzdata", {
        "subnet": _ref(f"{NET}/virtualNetworks/spoke-app/subnets/pe"),
        "networkInterfaces": [_ref(nic)],
        "privateLinkServiceConnections": [{"name": "blob", "properties": {
            "privateLinkServiceId": f"{P}/Microsoft.Storage/storageAccounts/stlzdata",
            "groupIds": ["blob"], "privateLinkServiceConnectionState": {
                "status": "Approved", "description": "Auto-approved"}}}],
        "customDnsConfigs": [{"fqdn": STORAGE_HOST, "ipAddresses": ["10.2.2.5"]}]}))
    e.add(_res("networkInterfaces", "pe-stlzdata-nic", {
        "privateEndpoint": _ref(pe), "ipConfigurations": [{
            "name": "privateEndpointIpConfig.blob", "properties": {
                "privateIPAddress": "10.2.2.5", "privateIPAllocationMethod": "Dynamic",
                "privateIPAddressVersion": "IPv4", "primary": True,
                "subnet": _ref(f"{NET}/virtualNetworks/spoke-app/subnets/pe"),
                "privateLinkConnectionProperties": {"groupId": "blob",
                                                    "requiredMemberName": "blob",
                                                    "fqdns": [STORAGE_HOST]}}}]}))
    zone = f"{NET}/privateDnsZones/privatelink.blob.core.windows.net"
    e.add({"id": zone, "name": "privatelink.blob.core.windows.net",
           "type": "Microsoft.Network/privateDnsZones", "location": "global",
           "properties": {"numberOfRecordSets": 1}})
    e.add({"id": f"{zone}/A/stlzdata", "name": "stlzdata",
           "type": "Microsoft.Network/privateDnsZones/A", "properties": {
               "ttl": 10, "fqdn": "stlzdata.privatelink.blob.core.windows.net.",
               "aRecords": [{"ipv4Address": "10.2.2.5"}]}})
    for vnet in ("hub", "spoke-web", "spoke-app", "spoke-data"):
        e.add({"id": f"{zone}/virtualNetworkLinks/{vnet}-link", "name": f"{vnet}-link",
               "type": "Microsoft.Network/privateDnsZones/virtualNetworkLinks",
               "location": "global", "properties": {
                   "virtualNetwork": _ref(f"{NET}/virtualNetworks/{vnet}"),
                   "registrationEnabled": False}})


def _data(e: _Estate) -> None:
    e.add(_vnet("spoke-data", ["10.3.0.0/16", "fd00:db8:3::/48"], [
        _subnet("scale", "10.3.1.0/24", "fd00:db8:3:1::/64", nsg="data-nsg",
                natGateway=_ref(f"{NET}/natGateways/data-natgw")),
        _subnet("dual", "10.3.2.0/24", "fd00:db8:3:2::/64", nsg="data-nsg"),
    ], [_peer("spoke-data", "hub", useRemoteGateways=True)]))
    e.add(_res("networkSecurityGroups", "data-nsg", {"securityRules": [
        _rule("allow-api-from-spokes", 100, "Inbound", "Allow", src="10.0.0.0/8",
              dport="8443"),
        _rule("allow-api-v6", 110, "Inbound", "Allow", src="fd00:db8::/32", dport="8443"),
        _rule("allow-api-from-internet", 120, "Inbound", "Allow", src="Internet",
              dport="8443")]}))
    plb = f"{NET}/loadBalancers/api-plb"
    plb_pip = e.add(_res("publicIPAddresses", "api-plb-pip", {
        "ipAddress": API_PUBLIC_IP, "publicIPAllocationMethod": "Static",
        "publicIPAddressVersion": "IPv4"}, sku={"name": "Standard"}))
    e.add(_res("loadBalancers", "api-plb", {
        "frontendIPConfigurations": [{"name": "api-fe", "properties": {
            "publicIPAddress": _ref(plb_pip["id"])}}],
        "backendAddressPools": [{"name": "api-pool", "properties": {}}],
        "probes": [{"name": "api-probe", "properties": {
            "protocol": "Tcp", "port": 8443, "intervalInSeconds": 5, "probeThreshold": 2}}],
        "loadBalancingRules": [{"name": "api-https", "properties": {
            "frontendIPConfiguration": _ref(f"{plb}/frontendIPConfigurations/api-fe"),
            "backendAddressPool": _ref(f"{plb}/backendAddressPools/api-pool"),
            "probe": _ref(f"{plb}/probes/api-probe"), "protocol": "Tcp", "frontendPort": 443,
            "backendPort": 8443, "loadDistribution": "Default", "enableFloatingIP": False,
            # the NAT gateway carries the instances' outbound traffic
            "disableOutboundSnat": True}}],
        "inboundNatRules": [], "outboundRules": []}, sku={"name": "Standard",
                                                          "tier": "Regional"}))
    pip = e.add(_res("publicIPAddresses", "data-natgw-pip", {
        "ipAddress": "20.50.0.9", "publicIPAllocationMethod": "Static",
        "publicIPAddressVersion": "IPv4"}, sku={"name": "Standard"}))
    e.add(_res("natGateways", "data-natgw", {"publicIpAddresses": [_ref(pip["id"])],
                                            "idleTimeoutInMinutes": 4},
               sku={"name": "Standard"}))
    e.vm("dual1", "spoke-data", "dual", "10.3.2.4", ports=[8443], ipv6="fd00:db8:3:2::4")
    vmss = f"{COMPUTE}/virtualMachineScaleSets/api"
    subnet = f"{NET}/virtualNetworks/spoke-data/subnets/scale"
    pool = f"{plb}/backendAddressPools/api-pool"
    e.add({"id": vmss, "name": "api", "type": "Microsoft.Compute/virtualMachineScaleSets",
           "location": REGION, "sku": {"name": "Standard_D2s_v5", "capacity": 2},
           "properties": {"orchestrationMode": "Uniform", "virtualMachineProfile": {
               "networkProfile": {"networkInterfaceConfigurations": [{
                   "name": "api-nic", "properties": {"primary": True, "ipConfigurations": [
                       {"name": "ipconfig1", "properties": {
                           "subnet": _ref(subnet), "primary": True,
                           "loadBalancerBackendAddressPools": [_ref(pool)]}},
                       {"name": "ipconfig-v6", "properties": {
                           "subnet": _ref(subnet), "privateIPAddressVersion": "IPv6"}}]}}]},
               "extensionProfile": {"extensions": [{"name": "AzureNetworkWatcherExtension",
                                                    "properties": dict(AGENT)}]}}}})
    for i in range(2):
        inst = f"{vmss}/virtualMachines/{i}"
        nic = f"{inst}/networkInterfaces/api-nic"
        e.add({"id": nic, "name": "api-nic", "type": "Microsoft.Network/networkInterfaces",
               "location": REGION, "properties": {"virtualMachine": _ref(inst),
                                                  "ipConfigurations": [
                   {"name": "ipconfig1", "properties": {
                       "privateIPAddress": f"10.3.1.{4 + i}", "primary": True,
                       "privateIPAddressVersion": "IPv4", "subnet": _ref(subnet),
                       "loadBalancerBackendAddressPools": [_ref(pool)]}},
                   {"name": "ipconfig-v6", "properties": {
                       "privateIPAddress": f"fd00:db8:3:1::{4 + i}", "primary": False,
                       "privateIPAddressVersion": "IPv6", "subnet": _ref(subnet)}}]}})
        e.add({"id": inst, "name": f"api_{i}", "instanceId": str(i),
               "type": "Microsoft.Compute/virtualMachineScaleSets/virtualMachines",
               "location": REGION, "properties": {
                   "networkProfile": {"networkInterfaces": [_ref(nic)]},
                   "instanceView": {"statuses": [{"code": "PowerState/running"}]}},
               "resources": [{"id": f"{inst}/extensions/AzureNetworkWatcherExtension",
                              "name": "AzureNetworkWatcherExtension",
                              "properties": dict(AGENT)}]})
        e.listeners[inst] = [8443]


def _extra_spoke(e: _Estate, n: int, vms: int) -> None:
    """A plain spoke of ``vms`` VMs in 10.(10+n).0.0/16, routed through the firewall like the
    others: what the benchmark scales."""
    name = f"spoke-x{n}"
    space = f"10.{10 + n}.0.0/16"
    e.add(_vnet(name, [space], [_subnet("app", space.replace(".0.0/16", ".0.0/20"),
                                        nsg="app-nsg", rt="spokes-via-fw")],
                [_peer(name, "hub", useRemoteGateways=True)]))
    base = space.split(".0.0/16")[0]
    for i in range(vms):
        e.vm(f"x{n}-vm{i}", name, "app", f"{base}.{i // 250}.{4 + i % 250}")


def build(*, extra_spokes: int = 0, vms_per_extra_spoke: int = 0) -> JSON:
    """The landing-zone topology (ARM GET shapes plus the emulation section)."""
    if not 0 <= extra_spokes <= 240 or not 0 <= vms_per_extra_spoke <= 4000:
        raise ValueError("extra_spokes: 0-240 (each is a 10.x.0.0/16 of its own); "
                         "vms_per_extra_spoke: 0-4000 (one /20 subnet)")
    e = _Estate()
    spokes = ["spoke-web", "spoke-app", "spoke-data"] + [f"spoke-x{n}"
                                                          for n in range(extra_spokes)]
    _hub(e, spokes)
    _spoke_route_table(e)
    _web(e)
    _app(e)
    _data(e)
    for n in range(extra_spokes):
        _extra_spoke(e, n, vms_per_extra_spoke)
    e.add({"id": f"{NET}/networkWatchers/NetworkWatcher_{REGION}",
           "name": f"NetworkWatcher_{REGION}", "type": "Microsoft.Network/networkWatchers",
           "location": REGION, "properties": {}})
    e.add({"id": f"/subscriptions/{SUB}/providers/Microsoft.Network/locations/{REGION}/"
                 "serviceTags", "name": "public", "type": "Microsoft.Network/serviceTags",
           "location": REGION, "cloud": "Public", "changeNumber": "1", "illustrative": True,
           "note": "Illustrative prefixes for teaching, not Azure's published ranges.",
           "values": [
               {"name": "Storage", "id": "Storage", "properties": {
                   "changeNumber": "1", "region": "", "systemService": "AzureStorage",
                   "addressPrefixes": ["20.60.0.0/16", "2603:1000::/40"]}},
               {"name": "Sql.WestEurope", "id": "Sql.WestEurope", "properties": {
                   "changeNumber": "1", "region": REGION, "systemService": "AzureSQL",
                   "addressPrefixes": ["40.68.0.0/16"]}}]})
    return {"subscriptionId": SUB, "resources": e.resources, "emulation": {
        "dns": {STORAGE_HOST: "20.60.40.4", "www.microsoft.com": "23.45.67.89",
                "web.lz.internal": ILB_IP},
        "listeners": e.listeners, "probes": 100}}
