"""Outbound to the Internet (twin-semantics §11): which method a NIC's Internet traffic leaves
by, and the public address it leaves with.

Precedence (doc virtual-network/nat-gateway/nat-overview): NAT gateway on the subnet, then an
instance public IP, then a Standard LB outbound rule (or a public LB rule that keeps outbound
SNAT, assumed), then default outbound access, which a subnet with
``defaultOutboundAccess: false`` (a private subnet) does not have. A 0/0 route to an appliance
is decided before we are asked: the route says Internet only when the NIC sends it itself.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass, field

from . import loadbalancer
from .assumptions import Assumption
from .topology import IpConfig, Topology, TopologyError, key, register_part

T_NAT = "microsoft.network/natgateways"


@dataclass(frozen=True)
class Egress:
    """How a NIC reaches the Internet; ``method`` None means it cannot."""

    method: str | None  # NatGateway | InstancePublicIp | LoadBalancerOutbound | DefaultOutbound
    resource_id: str | None  # the NAT gateway, public IP or load balancer used
    address: ipaddress.IPv4Address | None  # the public source address, when known
    assumptions: tuple[Assumption, ...] = field(default=())


def public_address(topo: Topology, pip_id: str | None) -> ipaddress.IPv4Address | None:
    """The IPv4 address a public IP resource holds (None: unknown, absent or IPv6)."""
    if pip_id is None or key(pip_id) not in topo.public_ips:
        return None
    text = (topo.public_ips[key(pip_id)].get("properties") or {}).get("ipAddress")
    try:
        addr = ipaddress.ip_address(str(text)) if text else None
    except ValueError:
        return None
    return addr if isinstance(addr, ipaddress.IPv4Address) else None


def nat_gateways(topo: Topology) -> dict[str, tuple[str, ...]]:
    """NAT gateway key -> its public IP ids; validated once (dangling ids are refused)."""
    found: dict[str, tuple[str, ...]] | None = topo.cache.get("nat")
    if found is not None:
        return found
    out: dict[str, tuple[str, ...]] = {}
    for res in topo.resources_of_type(T_NAT):
        refs = (res.get("properties") or {}).get("publicIpAddresses") or []
        ids = []
        for ref in refs:
            pip = ref.get("id") if isinstance(ref, Mapping) else None
            if not isinstance(pip, str) or key(pip) not in topo.public_ips:
                raise TopologyError(res["id"], f"public IP {pip!r} is not in the topology",
                                    field="publicIpAddresses", code="InvalidResourceReference")
            ids.append(pip)
        if (res.get("properties") or {}).get("publicIpPrefixes"):
            topo.note(Assumption("ASSUME_NAT_PREFIX_ADDRESS_UNKNOWN", res["id"], "traffic "
                                 "leaving by a public IP prefix has an address the twin does "
                                 "not know", field="publicIpPrefixes"))
        out[key(res["id"])] = tuple(ids)
    for subnet in topo.subnets.values():
        ref = (topo.raw[key(subnet.id)].get("properties") or {}).get("natGateway")
        nat = ref.get("id") if isinstance(ref, Mapping) else None
        if nat is not None and key(str(nat)) not in out:
            raise TopologyError(subnet.id, f"natGateway {nat!r} is not a NAT gateway in the "
                                "topology", field="natGateway.id",
                                code="InvalidResourceReference")
    topo.cache["nat"] = out
    return out


def egress(topo: Topology, cfg: IpConfig) -> Egress:
    """The method and address this ip configuration's Internet traffic leaves with (cached per
    ip configuration: only a rebuilt topology changes subnets, NICs or load balancers, and NSG
    or route writes keep this cache)."""
    known: dict[str, Egress] = topo.cache.setdefault("egress", {})
    found = known.get(cfg.id)
    if found is None:
        found = known[cfg.id] = _egress(topo, cfg)
    return found


def _flexible_member(topo: Topology, cfg: IpConfig) -> bool:
    nic_key = key(cfg.id).rsplit("/ipconfigurations/", 1)[0]
    nic = topo.nics.get(nic_key)
    vm = topo.raw.get(key(nic.vm_id)) if nic is not None and nic.vm_id else None
    ref = ((vm or {}).get("properties") or {}).get("virtualMachineScaleSet")
    vmss = topo.raw.get(key(str(ref.get("id")))) if isinstance(ref, Mapping) and \
        ref.get("id") else None
    mode = str(((vmss or {}).get("properties") or {}).get("orchestrationMode") or "")
    return mode.lower() == "flexible"


def _egress(topo: Topology, cfg: IpConfig) -> Egress:
    props = topo.raw[key(cfg.subnet_id)].get("properties") or {}
    nat_ref = props.get("natGateway")
    nat = nat_ref.get("id") if isinstance(nat_ref, Mapping) else None
    if isinstance(nat, str):
        pips = nat_gateways(topo).get(key(nat), ())
        addr = next((a for a in (public_address(topo, p) for p in pips) if a), None)
        return Egress("NatGateway", nat, addr)
    if cfg.public_ip_id is not None:
        return Egress("InstancePublicIp", cfg.public_ip_id, public_address(topo, cfg.public_ip_id))
    index = loadbalancer.index_of(topo)
    for pool in sorted(index.pools_of.get(key(cfg.id), ())):
        lb = index.lbs[index.lb_of_pool[pool]]
        public = [fe for fe in lb.frontends if fe.public_ip_id]
        if not public:
            continue
        if pool in lb.outbound_pools:
            return Egress("LoadBalancerOutbound", lb.id, public_address(topo, public[0].public_ip_id))
        snat = [r for r in lb.rules if pool in r.pool_ids and not r.disable_outbound_snat]
        if snat or lb.sku.lower() == "basic":
            note = Assumption("ASSUME_LB_RULE_OUTBOUND_SNAT", snat[0].id if snat else lb.id,
                              "a public load balancer rule without disableOutboundSnat (or a "
                              "Basic LB) gives its backends outbound SNAT through the frontend",
                              alternatives=("no outbound through the load balancer",),
                              verdict_sensitive=True)
            return Egress("LoadBalancerOutbound", lb.id,
                          public_address(topo, public[0].public_ip_id), (note,))
    if _flexible_member(topo, cfg):
        # doc ip-services/default-outbound-access: VMs in Flexible scale sets never get default
        # outbound access, whatever the subnet says.
        return Egress(None, None, None, (Assumption(
            "ASSUME_NO_OUTBOUND_UNREACHABLE", cfg.id, "a Flexible scale set member has no "
            "default outbound access; without NAT gateway, instance public IP or load balancer "
            "outbound it cannot reach the Internet; drawn ending at a Destination hop with no "
            "issue (the service's answer is undocumented)"),))
    if props.get("defaultOutboundAccess") is False:
        return Egress(None, None, None, (Assumption(
            "ASSUME_NO_OUTBOUND_UNREACHABLE", cfg.subnet_id, "a private subnet "
            "(defaultOutboundAccess false) without NAT gateway, instance public IP or load "
            "balancer outbound cannot reach the Internet; the check is drawn ending at a "
            "Destination hop with no issue (the service's answer is undocumented)",
            field="defaultOutboundAccess"),))
    # Absent (older VNets, older api-versions): default outbound access, as Azure gives
    # every subnet not created private (docs/twin.md states the assumption).
    return Egress("DefaultOutbound", None, None)


register_part("outbound", 30, nat_gateways)
