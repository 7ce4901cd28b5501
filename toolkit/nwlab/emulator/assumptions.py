"""What the twin assumed where it does not model Azure, or Azure does not say (twin-semantics §15).

An assumption is never a refusal and never an invented issue type: it travels beside the
connectivityCheck result in the ``nwlab`` extension field, and the whole list of a loaded
topology is served at ``GET /subscriptions/{id}/providers/nwlab.emulator/assumptions``.
Codes are stable strings; clients match on them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# code -> what it means (the README's table is generated from the same words by a test).
CODES: dict[str, str] = {
    "UNMODELLED_RESOURCE_TYPE": "a resource type the twin does not model; it is kept for GET, "
                                "and a trace meeting it (its address, or routes it gives a "
                                "VNet) stops there or carries it, verdict undetermined",
    "UNMODELLED_FIELD": "a field the twin does not model; it is ignored",
    "UNMODELLED_VALUE": "a value Azure accepts that the twin does not model (e.g. a gateway "
                        "next hop with no gateway in reach); the item is skipped",
    "EXTERNAL_VNET": "a peering to a VNet the topology does not hold: its peered space is "
                     "routed, a packet sent there stops (verdict undetermined)",
    "UNRESOLVED_SERVICE_TAG": "a service tag with no prefixes in the topology; the rule or "
                              "route naming it is treated as matching nothing",
    "ASSUME_SERVICE_TAG_OTHER_REGION": "a tag read from another region's Service Tags list "
                                       "because the resource's region has none stored",
    "ASSUME_TAG_ROUTE_NOT_IN_VIRTUALNETWORK": "service-tag routes do not widen the "
                                              "VirtualNetwork tag (only CIDR user routes do)",
    "ASSUME_ASG_MATCH_BY_IP": "an application security group matched a packet by its source "
                              "IP after the packet passed an appliance",
    "ASSUME_ASG_OTHER_VNET_NO_MATCH": "an application security group whose members are in "
                                      "another virtual network does not match here",
    "ASSUME_ADMIN_RULE_ISSUE": "an admin-rule block is reported as NetworkSecurityRule with "
                               "the admin rule's name (undocumented)",
    "ASSUME_ADMIN_RULES_STATEFUL": "admin rules are stateful like NSGs: replies are not "
                                   "filtered",
    "ASSUME_ADMIN_PRIORITY_TIE": "two effective admin rules share a priority and direction; "
                                 "the first listed wins",
    "ASSUME_ADMIN_DEFAULT_RULE": "a kind:Default admin rule is evaluated from its explicit "
                                 "fields",
    "ASSUME_ADMIN_COMMIT_SCOPE": "a committed admin rule is deployed to the VNets its rule "
                                 "collection already applies to (network groups are not in "
                                 "the twin)",
    "ASSUME_PEERING_FORWARDED_RECEIVER_SIDE": "forwarded traffic crossing a peering is "
                                              "governed by the receiving side's "
                                              "allowForwardedTraffic (portal reading)",
    "ASSUME_PEERING_ACCESS_EITHER_SIDE": "a peering whose allowVirtualNetworkAccess is false "
                                         "on either side drops traffic in both directions "
                                         "(its route stays)",
    "ASSUME_PEERING_REMOTE_ADDRESS_SPACE": "a peering not FullyInSync routes to its "
                                           "remoteAddressSpace (what was peered)",
    "ASSUME_PUBLIC_IP_CLOSED": "a Standard public IP without any NSG is closed to inbound "
                               "traffic",
    "ASSUME_EGRESS_ADDRESS_UNKNOWN": "the source's public egress address is unknown; inbound "
                                     "rules see an Internet address that no CIDR, tag or ASG "
                                     "names",
    "ASSUME_NSG_DIAGNOSTIC_TAG_PROFILE": "an NSG-diagnostic profile side that is '*' or a "
                                         "service tag matches only rules naming '*' or the "
                                         "same tag (a CIDR is taken at its first address)",
    "ASSUME_ANALYZER_RESULT_SHAPE": "a connectionAnalyzers operation's result string is the "
                                    "JSON of the separate operation's answer (undocumented)",
    "ASSUME_PUBLIC_IP_PATH": "the path to a VM's public IP is drawn Source, Internet, VM "
                             "(the service's drawing is undocumented)",
    # Load balancers (loadbalancer.py, twin-semantics §10).
    "ASSUME_LB_HEALTH_FROM_PROBE": "a backend is healthy iff its probe port listens and its "
                                   "NSGs admit 168.63.129.16 there; none healthy: no flow",
    "ASSUME_LB_BACKEND_FIRST_HEALTHY": "several healthy backends could take the flow; the "
                                       "twin follows the first in pool order",
    "ASSUME_LB_NO_RULE_DROPS": "a frontend with no rule for the flow's protocol and port "
                               "drops it",
    "ASSUME_LB_IP_POOL_BY_NIC": "an IP-based backend pool's members are the NICs holding "
                                "its addresses",
    "ASSUME_ILB_NEXT_HOP_KEEPS_DESTINATION": "a route to an internal frontend hands the "
                                             "packet to a backend without rewriting it",
    # Outbound (outbound.py, twin-semantics §11).
    "ASSUME_NO_OUTBOUND_UNREACHABLE": "a private subnet without an outbound method cannot "
                                      "reach the Internet; drawn as a Destination hop with "
                                      "no issue",
    "ASSUME_LB_RULE_OUTBOUND_SNAT": "a public LB rule without disableOutboundSnat (or a "
                                    "Basic LB) gives its backends outbound SNAT",
    "ASSUME_NAT_PREFIX_ADDRESS_UNKNOWN": "a NAT gateway's public IP prefix: its egress "
                                         "address is unknown",
    # Scale sets (scalesets.py, twin-semantics §12).
    "ASSUME_VMSS_INSTANCE_SOURCE": "a Uniform scale set instance is named as a check's source "
                                   "by its instance id",
    "ASSUME_VMSS_WITHOUT_INSTANCES": "a scale set whose instances the topology does not hold "
                                     "makes no NICs",
    "ASSUME_MONITOR_FIRST_RUN_AT_START": "a connection monitor's first tests run at its start "
                                         "time (Azure shows data after about 5 minutes)",
    "ASSUME_MONITOR_WORKSPACE": "a Log Analytics workspace a connection monitor's outputs name "
                                "exists and receives its rows at once (no ingestion delay)",
    "ASSUME_MONITOR_INDETERMINATE_SOURCE": "a test whose source cannot probe (stopped, gone, no "
                                           "agent) is Indeterminate with no checks",
    "ASSUME_MONITOR_ERROR_CODES": "the codes of refusals Azure documents no code for "
                                  "(limits, a source in another region, unknown names) are "
                                  "the twin's own",
    "ASSUME_FIREWALL_HOP": "an Azure Firewall is drawn as a VirtualAppliance hop at its "
                           "private IP (undocumented)",
    "ASSUME_FIREWALL_DENY": "a flow the firewall's rules drop: the hop carries no issue (no "
                            "documented issue type names a firewall rule); the real service "
                            "may report Reachable because the firewall can answer a TCP "
                            "handshake itself",
    "ASSUME_FIREWALL_L4_ONLY": "an application rule that decides by FQDN met a check to an "
                               "address: it is not applied",
    "ASSUME_FIREWALL_SNAT_ADDRESS": "the firewall SNATs the flow to its first private IP",
    "ASSUME_FIREWALL_DNAT_PATH": "a check to a firewall's public IP leaves by the source's "
                                 "outbound path and comes back in over the Internet (hairpin)",
    "ASSUME_FIREWALL_DNAT_FQDN": "a DNAT rule's translatedFqdn is resolved by the private DNS "
                                 "zones linked to the firewall's VNet, then emulation.dns",
    "ASSUME_FIREWALL_DNAT_SKIPS_NETWORK_RULES": "a DNAT-translated flow is allowed without "
                                                "network rules; a matching network deny is not "
                                                "applied",
    "ASSUME_PUBLIC_FRONTEND_PATH": "a public load balancer frontend is reached over the "
                                   "Internet from the source's outbound path",
    "ASSUME_GATEWAY_USER_ROUTE_EXPRESSROUTE": "a user route to VirtualNetworkGateway taken "
                                              "towards an ExpressRoute gateway (documented "
                                              "for VPN gateways only): handed to the gateway",
    "ASSUME_GATEWAY_BEYOND": "a packet handed to a VPN or ExpressRoute gateway: what lies "
                             "beyond is outside the twin, the check ends at the gateway",
    "ASSUME_GATEWAY_CONNECTION_UP": "a gateway connection without connectionStatus is taken "
                                    "as Connected",
    "ASSUME_SERVICE_ENDPOINT_HOP": "a flow through a service endpoint is drawn as one "
                                   "Internet hop and the service answers",
    "ASSUME_SERVICE_ENDPOINT_BEATS_EQUAL_UDR": "a service endpoint route wins an exact-prefix "
                                               "tie with a user route",
    "ASSUME_PRIVATE_ENDPOINT_HOP": "a private endpoint is drawn as a VnetLocal hop at its NIC",
    "ASSUME_PRIVATE_ENDPOINT_PORTS": "a private endpoint answers on its service's documented "
                                     "ports only (none for ICMP)",
    "ASSUME_ECMP_FLOW_HASH": "an ECMP route's flow is drawn through its first member; every "
                             "member is evaluated and a disagreement leaves the verdict "
                             "undetermined",
    "ASSUME_IPV6_SYSTEM_ROUTES": "IPv6 system routes (undocumented): the VNet's IPv6 spaces "
                                 "VnetLocal, peered IPv6 spaces VNetPeering, ::/0 Internet, no "
                                 "IPv6 None routes",
    "ASSUME_IPV6_HOPS": "an IPv6 check is drawn like an IPv4 one, hops at the IPv6 "
                        "configurations (the service's IPv6 drawing is undocumented)",
    "ASSUME_IPV6_EGRESS": "an IPv6 configuration reaches the IPv6 Internet only with an IPv6 "
                          "public IP of its own (default outbound access and NAT gateways are "
                          "IPv4)",
    "ASSUME_IPV6_TAG_ROUTE": "a service-tag route without a next-hop address routes the tag's "
                             "IPv6 prefixes too (the routing article does not say which "
                             "family a tag route covers)",
    "ASSUME_IPV6_FIREWALL_FAMILY": "an IPv6 flow routed into an Azure Firewall's subnet "
                                   "stops at the firewall, verdict undetermined (its IPv6 "
                                   "support is preview; its rules are evaluated for IPv4)",
    "ASSUME_LB_IPV6_PROBE_SOURCE": "IPv6 health probes come from fe80::1234:5678:9abc "
                                   "(observed in the field, not documented), which the "
                                   "AzureLoadBalancer tag admits",
    "ASSUME_IPV6_VPN_GATEWAY_STOPS": "an IPv6 packet routed to a VPN gateway stops at the "
                                     "gateway hop (VPN gateways carry IPv4 only); the hop "
                                     "carries no issue",
    "ASSUME_IPV6_NO_AAAA": "a host name with no AAAA record in the topology does not resolve "
                           "for an IPv6 check",
}


@dataclass(frozen=True)
class Assumption:
    """One choice the twin made: where (resource, field), what it assumed, what else it could be.

    ``verdict_sensitive`` is True when the alternative could change this check's verdict.
    """

    code: str
    resource_id: str
    assumed: str
    field: str | None = None
    alternatives: tuple[str, ...] = ()
    verdict_sensitive: bool = False

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"code": self.code, "resourceId": self.resource_id,
                               "assumed": self.assumed,
                               "verdictSensitive": self.verdict_sensitive}
        if self.field:
            out["field"] = self.field
        if self.alternatives:
            out["alternatives"] = list(self.alternatives)
        return out

    def sensitive(self, value: bool = True) -> Assumption:
        return Assumption(self.code, self.resource_id, self.assumed, self.field,
                          self.alternatives, value)


def unique(items: list[Assumption]) -> list[Assumption]:
    """Each assumption once, in first-seen order (a walk may touch a resource twice)."""
    seen: dict[tuple[str, str, str | None, str], Assumption] = {}
    for item in items:
        k = (item.code, item.resource_id.lower(), item.field, item.assumed)
        if k not in seen or (item.verdict_sensitive and not seen[k].verdict_sensitive):
            seen[k] = item
    return list(seen.values())
