"""The twin at estate scale: load time, engine checks per second, and one rule write.

    .venv/bin/python benchmarks/twin.py                  # 5,000 NICs, tags, ASGs, admin rules
    .venv/bin/python benchmarks/twin.py --plain          # the same estate with CIDRs only
    .venv/bin/python benchmarks/twin.py --nics 20000     # the next issue's scale
    .venv/bin/python benchmarks/twin.py --estate landing-zone   # issue 11's estate, 5,000 NICs

The estate is hub and spoke: a hub with a forwarding appliance, spokes peered to it (forwarded
traffic allowed), each spoke's subnets behind an NSG of about 50 rules (a third name application
security groups or service tags: Storage, Sql.<region>, AzureCloud, AzureMonitor with hundreds to
thousands of prefixes), a route table sending 0/0 to the appliance plus a Storage tag route, and
effective security admin rules per spoke. --plain writes the same rules with CIDRs instead of
tags and ASGs, no tag route and no admin rules: the shape the engine handled before issue 10, so
its figures compare with older commits.

Figures: load = JSON file to a validated Topology (load_topology(path)); checks/s = engine
parse_check + run_check over a fixed mix (same VNet, spoke to spoke through the appliance, to
Storage and to the Internet), no HTTP; write = one NSG rule PUT as the facade applies it
(Topology.with_child), then the first check after it (the derived indexes rebuilt on use).
Issue 10's baseline (before tags/ASGs): about 3,500 checks/s, load 1.2-1.7 s.

--estate landing-zone: the bundled landing zone (nwlab.emulate("landing-zone"): firewall hub,
ILB web tier, private subnet, NAT gateway, scale set, dual stack) with plain spokes added until it
holds --nics NICs; the mix is the internal load balancer's frontend, VM to VM across spokes (the
firewall hop), the Internet (NAT gateway, default outbound, private subnet) and scale set
instances by address.
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import random
import tempfile
import time
from pathlib import Path
from typing import Any

from nwlab.emulator import engine, landing_zone
from nwlab.emulator.topology import Topology, load_topology

SUB = "00000000-0000-0000-0000-000000000000"
REGION = "westus"
RG = f"/subscriptions/{SUB}/resourceGroups/estate/providers"
NVA_IP = "10.0.1.4"
SUBNETS_PER_SPOKE = 4
NICS_PER_SUBNET = 25


def _rid(kind: str, name: str, provider: str = "Microsoft.Network") -> str:
    return f"{RG}/{provider}/{kind}/{name}"


def _tag_prefixes(rng: random.Random, count: int, first_octet: int) -> list[str]:
    return sorted({f"{first_octet}.{rng.randrange(256)}.{rng.randrange(256)}.0/24"
                   for _ in range(count)})


def service_tags(rng: random.Random) -> dict[str, Any]:
    tags = {"Storage": _tag_prefixes(rng, 400, 20), "Sql.WestUS": _tag_prefixes(rng, 80, 40),
            "AzureCloud": _tag_prefixes(rng, 3000, 52),
            "AzureMonitor": _tag_prefixes(rng, 150, 13)}
    return {"id": f"/subscriptions/{SUB}/providers/Microsoft.Network/locations/{REGION}/"
                  "serviceTags", "name": "public", "type": "Microsoft.Network/serviceTags",
            "location": REGION, "values": [
                {"name": n, "id": n, "properties": {"region": REGION if "." in n else "",
                                                    "changeNumber": "1", "addressPrefixes": p}}
                for n, p in tags.items()]}


def _rule(name: str, priority: int, direction: str, access: str, dport: str,
          src: Any, dst: Any) -> dict[str, Any]:
    props: dict[str, Any] = {"priority": priority, "direction": direction, "access": access,
                             "protocol": "Tcp", "sourcePortRange": "*",
                             "destinationPortRange": dport}
    for side, value in (("source", src), ("destination", dst)):
        if isinstance(value, dict):
            props[f"{side}ApplicationSecurityGroups"] = [value]
        else:
            props[f"{side}AddressPrefix"] = value
    return {"name": name, "properties": props}


def nsg_rules(spoke: int, plain: bool) -> list[dict[str, Any]]:
    """About 50 rules: ASG rules, tag rules and CIDR rules, none of which blocks the mix's
    ports (so every check walks the whole list)."""
    space = f"10.{spoke}.0.0/16"
    asg = {n: {"id": _rid("applicationSecurityGroups", f"s{spoke}-{n}")}
           for n in ("web", "app", "db")}
    web, app, db = ((f"10.{spoke}.{i}.0/24" if plain else asg[n])
                    for i, n in ((1, "web"), (2, "app"), (3, "db")))

    def tag(name: str, cidr: str) -> str:
        return cidr if plain else name

    rules = []
    for i in range(6):
        rules.append(_rule(f"asg-in-{i}", 100 + i, "Inbound", "Allow", str(1400 + i), web, app))
        rules.append(_rule(f"asg-db-{i}", 200 + i, "Inbound", "Deny", str(1500 + i), web, db))
    for i in range(5):
        rules.append(_rule(f"tag-out-{i}", 300 + i, "Outbound", "Deny", str(2500 + i), "*",
                           tag(("Storage", "Sql.WestUS", "AzureMonitor")[i % 3],
                               "20.0.0.0/8")))
        rules.append(_rule(f"tag-in-{i}", 400 + i, "Inbound", "Deny", str(2600 + i),
                           tag("AzureCloud", "52.0.0.0/8"), "*"))
    for i in range(28):
        rules.append(_rule(f"cidr-{i}", 500 + i, ("Inbound", "Outbound")[i % 2], "Deny",
                           f"{3000 + 10 * i}-{3005 + 10 * i}", f"10.{(spoke + i) % 250}.0.0/16",
                           space))
    return rules


def admin_rules(spoke_vnet: str) -> dict[str, Any]:
    def entry(name: str, priority: int, access: str, port: str, src: str) -> dict[str, Any]:
        kind = "ServiceTag" if src[0].isalpha() else "IPPrefix"
        return {"id": f"{RG}/Microsoft.Network/networkManagers/nm/securityAdminConfigurations/"
                      f"c/ruleCollections/rc/rules/{name}", "kind": "Custom",
                "properties": {"access": access, "priority": priority, "direction": "Inbound",
                               "protocol": "Tcp", "sources": [{"addressPrefix": src,
                                                               "addressPrefixType": kind}],
                               "destinations": [{"addressPrefix": "*",
                                                 "addressPrefixType": "IPPrefix"}],
                               "sourcePortRanges": ["0-65535"], "destinationPortRanges": [port]}}

    return {"id": f"{spoke_vnet}/effectiveSecurityAdminRules", "name": "eff",
            "type": "Microsoft.Network/virtualNetworks/effectiveSecurityAdminRules",
            "vnetId": spoke_vnet, "value": [entry("deny-rdp", 10, "Deny", "3389", "Internet"),
                                            entry("deny-ssh", 11, "Deny", "22", "Internet"),
                                            entry("allow-mon", 20, "AlwaysAllow", "9100",
                                                  "AzureMonitor")]}


def _vm(name: str, subnet_id: str, ip: str, *, forwarding: bool = False,
        asg: str | None = None) -> list[dict[str, Any]]:
    nic_id, vm_id = _rid("networkInterfaces", f"{name}-nic"), _rid(
        "virtualMachines", name, "Microsoft.Compute")
    cfg: dict[str, Any] = {"privateIPAddress": ip, "subnet": {"id": subnet_id}, "primary": True}
    if asg:
        cfg["applicationSecurityGroups"] = [{"id": asg}]
    return [{"id": nic_id, "name": f"{name}-nic", "type": "Microsoft.Network/networkInterfaces",
             "location": REGION, "properties": {"ipConfigurations": [
                 {"name": "ipconfig1", "properties": cfg}], "enableIPForwarding": forwarding,
                 "virtualMachine": {"id": vm_id}}},
            {"id": vm_id, "name": name, "type": "Microsoft.Compute/virtualMachines",
             "location": REGION, "properties": {"networkProfile": {"networkInterfaces": [
                 {"id": nic_id}]}},
             "resources": [{"id": f"{vm_id}/extensions/nw", "properties": {
                 "publisher": "Microsoft.Azure.NetworkWatcher",
                 "type": "NetworkWatcherAgentLinux"}}]}]


def estate(nics: int, plain: bool, seed: int = 7) -> dict[str, Any]:
    rng = random.Random(seed)
    per_spoke = SUBNETS_PER_SPOKE * NICS_PER_SUBNET
    spokes = max(1, -(-nics // per_spoke))
    if spokes > 250:
        raise SystemExit("--nics: at most 25,000 (250 spokes of 100 NICs)")
    hub = _rid("virtualNetworks", "hub")
    res: list[dict[str, Any]] = [{
        "id": hub, "name": "hub", "type": "Microsoft.Network/virtualNetworks",
        "location": REGION, "properties": {
            "addressSpace": {"addressPrefixes": ["10.0.0.0/16"]},
            "subnets": [{"name": "nva", "properties": {"addressPrefix": "10.0.1.0/24"}}],
            "virtualNetworkPeerings": []}}]
    res += _vm("nva", f"{hub}/subnets/nva", NVA_IP, forwarding=True)
    if not plain:
        res.append(service_tags(rng))
    made = 0
    for s in range(1, spokes + 1):
        vnet = _rid("virtualNetworks", f"spoke{s}")
        rt = _rid("routeTables", f"rt{s}")
        routes = [{"name": "default", "properties": {"addressPrefix": "0.0.0.0/0",
                                                       "nextHopType": "VirtualAppliance",
                                                       "nextHopIpAddress": NVA_IP}}]
        if not plain:
            routes.append({"name": "storage", "properties": {"addressPrefix": "Storage",
                                                               "nextHopType": "Internet"}})
        res.append({"id": rt, "name": f"rt{s}", "type": "Microsoft.Network/routeTables",
                    "location": REGION, "properties": {"routes": routes}})
        subnets = []
        for k in range(SUBNETS_PER_SPOKE):
            nsg = _rid("networkSecurityGroups", f"nsg{s}-{k}")
            res.append({"id": nsg, "name": f"nsg{s}-{k}", "location": REGION,
                        "type": "Microsoft.Network/networkSecurityGroups",
                        "properties": {"securityRules": nsg_rules(s, plain)}})
            subnets.append({"name": f"sn{k}", "properties": {
                "addressPrefix": f"10.{s}.{k + 1}.0/24", "networkSecurityGroup": {"id": nsg},
                "routeTable": {"id": rt}}})
        res.append({"id": vnet, "name": f"spoke{s}", "type": "Microsoft.Network/virtualNetworks",
                    "location": REGION, "properties": {
                        "addressSpace": {"addressPrefixes": [f"10.{s}.0.0/16"]},
                        "subnets": subnets, "virtualNetworkPeerings": [
                            {"name": "to-hub", "properties": {
                                "remoteVirtualNetwork": {"id": hub},
                                "allowForwardedTraffic": True}}]}})
        res[0]["properties"]["virtualNetworkPeerings"].append(
            {"name": f"to-spoke{s}", "properties": {"remoteVirtualNetwork": {"id": vnet},
                                                    "allowForwardedTraffic": True}})
        if not plain:
            res += [{"id": _rid("applicationSecurityGroups", f"s{s}-{n}"), "name": f"s{s}-{n}",
                     "type": "Microsoft.Network/applicationSecurityGroups",
                     "location": REGION, "properties": {}} for n in ("web", "app", "db")]
            res.append(admin_rules(vnet))
        for k in range(SUBNETS_PER_SPOKE):
            for h in range(NICS_PER_SUBNET):
                if made == nics:
                    break
                asg = None if plain or k == 3 else _rid(
                    "applicationSecurityGroups", f"s{s}-{('web', 'app', 'db')[k]}")
                res += _vm(f"vm{s}-{k}-{h}", f"{vnet}/subnets/sn{k}", f"10.{s}.{k + 1}.{h + 4}",
                           asg=asg)
                made += 1
    res.append({"id": f"/subscriptions/{SUB}/resourceGroups/NetworkWatcherRG/providers/"
                      f"Microsoft.Network/networkWatchers/NetworkWatcher_{REGION}",
                "name": f"NetworkWatcher_{REGION}", "type": "Microsoft.Network/networkWatchers",
                "location": REGION, "properties": {}})
    return {"subscriptionId": SUB, "resources": res, "emulation": {}}


def check_mix(topo: Topology, count: int, seed: int = 11) -> list[dict[str, Any]]:
    """Same-VNet, spoke-to-spoke (through the appliance), Storage and Internet destinations."""
    rng = random.Random(seed)
    vms = sorted(v.id for v in topo.vms.values() if not v.id.endswith("/nva"))
    bodies = []
    for i in range(count):
        source = rng.choice(vms)
        kind = i % 4
        if kind in (0, 1):
            dest: dict[str, Any] = {"resourceId": rng.choice(vms), "port": 1400 + i % 6}
            if dest["resourceId"] == source:
                dest["resourceId"] = vms[(vms.index(source) + 1) % len(vms)]
        elif kind == 2:
            dest = {"address": f"20.{rng.randrange(256)}.{rng.randrange(256)}.9", "port": 443}
        else:
            dest = {"address": str(ipaddress.IPv4Address(0x68000000 + i)), "port": 80}
        bodies.append({"source": {"resourceId": source}, "destination": dest})
    return bodies


LZ_SPOKES = 50  # plain spokes the landing zone grows by; their VMs make up the NIC count


def landing_zone_estate(nics: int) -> dict[str, Any]:
    base = len(landing_zone.build()["emulation"]["listeners"]) + 1  # + the endpoint's NIC
    per_spoke = max(0, -(-(nics - base) // LZ_SPOKES))
    return landing_zone.build(extra_spokes=LZ_SPOKES if per_spoke else 0,
                              vms_per_extra_spoke=per_spoke)


def landing_zone_mix(topo: Topology, count: int, seed: int = 11) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    vms = sorted(v.id for v in topo.vms.values())
    instances = [v for v in vms if "/virtualMachineScaleSets/" in v]
    bodies = []
    for i in range(count):
        source = rng.choice(vms)
        kind = i % 4
        if kind == 0:
            dest: dict[str, Any] = {"address": landing_zone.ILB_IP, "port": 443}
        elif kind == 1:
            target = rng.choice([v for v in vms[:64] if v != source] or vms)
            dest = {"resourceId": target, "port": 8080} if target not in instances else \
                {"address": "10.3.1.4", "port": 8443}
        elif kind == 2:
            dest = {"address": str(ipaddress.IPv4Address(0x68000000 + i)), "port": 443}
        else:
            dest = {"address": f"10.3.1.{4 + i % 2}", "port": 8443}
            if source in instances:
                source = vms[0] if vms[0] not in instances else vms[-1]
        bodies.append({"source": {"resourceId": source}, "destination": dest})
    return bodies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--nics", type=int, default=5000)
    parser.add_argument("--checks", type=int, default=4000)
    parser.add_argument("--plain", action="store_true", help="CIDRs only (no tags/ASGs/admin)")
    parser.add_argument("--estate", choices=("hub-spoke", "landing-zone"), default="hub-spoke")
    args = parser.parse_args()
    lz = args.estate == "landing-zone"
    doc = landing_zone_estate(args.nics) if lz else estate(args.nics, args.plain)
    mode = "landing-zone" if lz else "plain" if args.plain else "tags+ASGs+admin"
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "estate.json"
        path.write_text(json.dumps(doc), encoding="utf-8")
        size = path.stat().st_size
        started, cpu = time.perf_counter(), time.process_time()
        topo = load_topology(path)
        load_s, load_cpu = time.perf_counter() - started, time.process_time() - cpu
    watcher = next(iter(topo.watchers.values()))
    bodies = landing_zone_mix(topo, args.checks) if lz else check_mix(topo, args.checks)
    reachable = 0
    started, cpu = time.perf_counter(), time.process_time()
    for body in bodies:
        spec = engine.parse_check(topo, watcher, body)
        reachable += engine.run_check(topo, spec)["connectionStatus"] == "Reachable"
    check_s, check_cpu = time.perf_counter() - started, time.process_time() - cpu
    nsg_id = next(iter(topo.nsgs.values())).id
    rule = {"name": "bench-write", "id": f"{nsg_id}/securityRules/bench-write", "properties": {
        "priority": 4000, "direction": "Inbound", "access": "Deny", "protocol": "Tcp",
        "sourceAddressPrefix": "*", "sourcePortRange": "*", "destinationAddressPrefix": "*",
        "destinationPortRange": "4444"}}
    started, cpu = time.perf_counter(), time.process_time()
    written, _ = topo.with_child(nsg_id, "securityRules", rule)
    write_s, write_cpu = time.perf_counter() - started, time.process_time() - cpu
    started = time.perf_counter()
    engine.run_check(written, engine.parse_check(written, watcher, bodies[0]))
    first_s = time.perf_counter() - started
    print(f"twin estate [{mode}]: {len(topo.nics)} NICs, {len(topo.nsgs)} NSGs x "
          f"{len(next(iter(topo.nsgs.values())).rules)} rules, {len(topo.vnets)} VNets, "
          f"{len(doc['resources'])} resources, {size / 1e6:.1f} MB")
    # Wall time on a shared machine moves with its load; CPU time of this process less so.
    print(f"load: {load_s:.2f} s wall, {load_cpu:.2f} s CPU")
    print(f"engine: {args.checks / check_s:,.0f} checks/s wall, {args.checks / check_cpu:,.0f} "
          f"checks/s CPU ({args.checks} checks, {reachable} reachable)")
    print(f"rule write (with_child): {write_s * 1000:.0f} ms wall, {write_cpu * 1000:.0f} ms "
          f"CPU; first check after it: {first_s * 1000:.1f} ms")


if __name__ == "__main__":
    main()
