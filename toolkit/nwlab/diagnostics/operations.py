"""The diagnostics' client calls: validate, resolve the VM to its NIC and watcher (the reads
check()'s pre-flight makes), build the request, run it as the long-running operation Azure runs
(nwlab.arm.lro), and return the typed result.

NetworkWatcher's methods are thin wrappers over these functions, which take anything shaped like
a NetworkWatcher (`Client`), so this module never imports the watcher.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from nwlab.arm.errors import ArmError, OperationFailed, OperationTimeout, PreflightError
from nwlab.arm.ids import parse_resource_id
from nwlab.arm.lro import Operation, run_operation
from nwlab.arm.session import ArmClient, deadline_scope
from nwlab.diagnostics import inputs
from nwlab.diagnostics.flow import IpFlowResult, NextHopResult
from nwlab.diagnostics.nsg import NsgDiagnosticResult
from nwlab.diagnostics.routes import EffectiveRoutes
from nwlab.diagnostics.rules import EffectiveSecurityRules
from nwlab.inventory import power_state

__all__ = ["Client", "VmFacts", "effective_routes", "effective_security_rules", "ip_flow_verify",
           "next_hop", "nsg_diagnostic", "read_vm", "run_diagnostic"]

# The overall bound of one diagnostic, reads included; Azure answers these in seconds to minutes.
DEFAULT_TIMEOUT = 600.0


class Client(Protocol):
    """What the operations need of a NetworkWatcher."""

    arm: ArmClient
    poll_interval: float
    backend: str

    @property
    def subscription_id(self) -> str: ...

    def find_watcher(self, region: str) -> str: ...


@dataclass(frozen=True)
class VmFacts:
    """What a diagnostic needs of a VM: its region, whether it runs, and its NICs (primary first)."""

    id: str
    name: str
    location: str
    power_state: str | None
    nic_ids: tuple[str, ...]

    @property
    def running(self) -> bool:
        return self.power_state in (None, "running")


def read_vm(client: Client, vm_id: str) -> VmFacts:
    """GET the VM with its instance view (the same read check()'s pre-flight makes)."""
    try:
        vm = client.arm.get_json(vm_id, params={"$expand": "instanceView"})
    except ArmError as exc:
        if exc.status == 404:
            rid = parse_resource_id(vm_id)
            where = f" in resource group {rid.resource_group}" if rid else ""
            raise PreflightError(f"VM {rid.name if rid else vm_id} was not found{where}.",
                                 fix="Check the VM name and resource_group (nw.list_vms() lists "
                                     "them).") from exc
        raise
    vm = vm if isinstance(vm, Mapping) else {}
    props = vm.get("properties") or {}
    nics = [n for n in (props.get("networkProfile") or {}).get("networkInterfaces") or []
            if isinstance(n, Mapping) and n.get("id")]
    # The primary NIC first: Azure marks it (properties.primary); a single NIC is primary.
    nics.sort(key=lambda n: not (n.get("properties") or {}).get("primary", len(nics) == 1))
    state = power_state((props.get("instanceView") or {}).get("statuses"))  # nwlab.inventory
    rid = parse_resource_id(vm_id)
    return VmFacts(id=vm_id, name=str(vm.get("name") or (rid.name if rid else vm_id)),
                   location=str(vm.get("location") or ""), power_state=state,
                   nic_ids=tuple(str(n["id"]) for n in nics))


def _nic_addresses(client: Client, nic_id: str, family: str = "IPv4") -> list[str]:
    """The NIC's private addresses of one family ("IPv4" or "IPv6"), primary configuration
    first."""
    nic = client.arm.get_json(nic_id)
    configs = [c for c in ((nic or {}).get("properties") or {}).get("ipConfigurations") or []
               if isinstance(c, Mapping)]
    configs.sort(key=lambda c: not (c.get("properties") or {}).get("primary", len(configs) == 1))
    addresses = []
    for cfg in configs:
        props = cfg.get("properties") or {}
        address = props.get("privateIPAddress")
        if address and str(props.get("privateIPAddressVersion") or "IPv4").lower() == \
                family.lower():
            addresses.append(str(address))
    return addresses


@dataclass(frozen=True)
class _OnVm:
    """Where a VM's diagnostic runs: its region's watcher, its NIC, and its own address there."""

    watcher: str
    nic: str
    address: str
    name_nic: bool  # whether targetNicResourceId goes into the request

    def nic_field(self) -> dict[str, str]:
        return {"targetNicResourceId": self.nic} if self.name_nic else {}


def _on_vm(client: Client, vm_id: str, nic: str | None, address: str | None, field_name: str,
           deadline: float, family: str = "IPv4") -> _OnVm:
    """Read the VM (region, NICs) and the NIC (addresses), and find the watcher; `address` given
    must be on the NIC, else the NIC's primary address of `family` is used."""
    with deadline_scope(deadline):
        vm = read_vm(client, vm_id)
        chosen = nic or (vm.nic_ids[0] if vm.nic_ids else None)
        if chosen is None:
            raise PreflightError(f"VM {vm.name} has no network interface in its network profile.",
                                 fix="Attach a NIC to the VM, or check the VM id.")
        if nic is not None and nic.lower() not in (n.lower() for n in vm.nic_ids):
            raise PreflightError(f"nic: {nic} is not a network interface of VM {vm.name}.",
                                 fix=f"Use one of: {', '.join(vm.nic_ids)}.")
        addresses = _nic_addresses(client, chosen, family)
        nic_name = chosen.rsplit("/", 1)[-1]
        if address is not None and address not in addresses:
            raise PreflightError(f"{field_name}: {address} is not an address of network interface "
                                 f"{nic_name} ({', '.join(addresses) or 'none'}).",
                                 fix=f"Pass one of its addresses as {field_name}=, or leave it "
                                     "out to use the primary one.")
        if address is None and not addresses:
            raise PreflightError(f"Network interface {nic_name} has no private {family} "
                                 "address.",
                                 fix=f"Pass {field_name}= explicitly, or an address of the "
                                     "family the NIC has.")
        watcher = client.find_watcher(vm.location)
    # Azure needs targetNicResourceId when a VM has several NICs (reference §3.1); with one it is
    # left out, as the spec example does.
    return _OnVm(watcher=watcher, nic=chosen, address=address or addresses[0],
                 name_nic=nic is not None or len(vm.nic_ids) > 1)


def run_diagnostic(client: Client, path: str, body: Any, *, what: str, deadline: float
                   ) -> tuple[dict[str, Any], Operation]:
    """POST and follow the operation until `deadline` (time.monotonic()); a finished operation
    without a JSON object is a failure."""
    remaining = deadline - time.monotonic()
    if remaining <= 0:  # do not start an operation nobody will wait for
        raise OperationTimeout(f"{what} did not start in time (its reads took the whole "
                               "timeout); nothing was sent.")
    op = run_operation(client.arm, path, body, poll_interval=client.poll_interval,
                       timeout=remaining)
    if not isinstance(op.body, dict):
        empty = op.status == 204 or op.body is None
        raise OperationFailed(
            f"{what} finished without a result ({'empty answer' if empty else 'not a JSON object'} "
            "from the service).", status=op.status, code="EmptyResult" if empty else
            "InvalidResult", request_id=op.request_id, correlation_id=op.correlation_id,
            method="GET" if op.poll_url else "POST", url=op.poll_url or path,
            fix=f"Run it again; report the request id {op.request_id} to Azure support if it "
                "repeats.")
    return op.body, op


def _meta(client: Client, op: Operation, started: float, **inputs_: Any) -> dict[str, Any]:
    return {**inputs_, "request_id": op.request_id, "correlation_id": op.correlation_id,
            "polls": op.polls, "elapsed_s": round(time.monotonic() - started, 3),
            "backend": client.backend}


def ip_flow_verify(client: Client, vm: Any, direction: Any, protocol: Any, local_port: Any,
                   remote_ip: Any, remote_port: Any, *, local_ip: Any = None, nic: Any = None,
                   resource_group: Any = None) -> IpFlowResult:
    """Would the VM's NSGs (and admin rules) allow this one flow, and by which rule?"""
    sub = client.subscription_id
    vm_id = inputs.vm_id(sub, vm, resource_group)
    body = {"targetResourceId": vm_id, "direction": inputs.direction(direction),
            "protocol": inputs.flow_protocol(protocol),
            "localPort": inputs.flow_port("local_port", local_port),
            "remotePort": inputs.flow_port("remote_port", remote_port),
            "remoteIPAddress": inputs.ipv4("remote_ip", remote_ip)}
    local = inputs.ipv4("local_ip", local_ip) if local_ip is not None else None
    nic_id = inputs.nic_id(sub, nic, resource_group)
    started = time.monotonic()
    deadline = started + DEFAULT_TIMEOUT
    on = _on_vm(client, vm_id, nic_id, local, "local_ip", deadline)
    body.update(localIPAddress=on.address, **on.nic_field())
    answer, op = run_diagnostic(client, f"{on.watcher}/ipFlowVerify", body,
                                what="IP flow verify", deadline=deadline)
    flow = (f"{body['direction']} {body['protocol']} {on.address}:{body['localPort']}"
            f" {'->' if body['direction'] == 'Outbound' else '<-'} "
            f"{body['remoteIPAddress']}:{body['remotePort']}")
    return IpFlowResult.from_dict(answer, meta=_meta(
        client, op, started, vm=vm_id, nic=on.nic, watcher=on.watcher,
        direction=body["direction"], protocol=body["protocol"], local_ip=on.address,
        local_port=body["localPort"], remote_ip=body["remoteIPAddress"],
        remote_port=body["remotePort"], flow=flow))


def next_hop(client: Client, vm: Any, destination_ip: Any, *, source_ip: Any = None,
             nic: Any = None, resource_group: Any = None) -> NextHopResult:
    """Where the VM's routes send a packet for `destination_ip`, and which route table decided."""
    sub = client.subscription_id
    vm_id = inputs.vm_id(sub, vm, resource_group)
    # The spec's next hop names no family (unlike IP flow verify): IPv6 goes too, from an
    # address of the destination's family.
    destination = inputs.ip_address("destination_ip", destination_ip)
    source = inputs.ip_address("source_ip", source_ip) if source_ip is not None else None
    family = inputs.same_family(("destination_ip", destination), ("source_ip", source))
    nic_id = inputs.nic_id(sub, nic, resource_group)
    started = time.monotonic()
    deadline = started + DEFAULT_TIMEOUT
    on = _on_vm(client, vm_id, nic_id, source, "source_ip", deadline, family)
    body = {"targetResourceId": vm_id, "sourceIPAddress": on.address,
            "destinationIPAddress": destination, **on.nic_field()}
    answer, op = run_diagnostic(client, f"{on.watcher}/nextHop", body, what="Next hop",
                                deadline=deadline)
    return NextHopResult.from_dict(answer, meta=_meta(
        client, op, started, vm=vm_id, nic=on.nic, watcher=on.watcher, source_ip=on.address,
        destination_ip=destination))


def nsg_diagnostic(client: Client, target: Any, *, direction: Any, protocol: Any, source: Any,
                   destination: Any, destination_port: Any) -> NsgDiagnosticResult:
    """Every NSG layer (admin rules included) evaluated for one traffic profile at `target`."""
    target_id = inputs.nsg_target(target)
    profile = {"direction": inputs.direction(direction), "protocol": inputs.nsg_protocol(protocol),
               "source": inputs.nsg_endpoint("source", source),
               "destination": inputs.nsg_endpoint("destination", destination),
               "destinationPort": inputs.nsg_port(destination_port)}
    inputs.nsg_sides_one_family(profile["source"], profile["destination"])
    started = time.monotonic()
    deadline = started + DEFAULT_TIMEOUT
    with deadline_scope(deadline):
        watcher = client.find_watcher(_location(client, target_id))
    # One target and one profile per call (no documented cap; reference §2 suggests small batches).
    body = {"targetResourceId": target_id, "profiles": [profile]}
    answer, op = run_diagnostic(client, f"{watcher}/networkConfigurationDiagnostic", body,
                                what="NSG diagnostic", deadline=deadline)
    return NsgDiagnosticResult.from_dict(answer, meta=_meta(
        client, op, started, target=target_id, watcher=watcher, profile=profile))


def _location(client: Client, target_id: str) -> str:
    """The region of a diagnostic's target: read from its top-level resource (a scale-set NIC's
    region is the scale set's)."""
    rid = parse_resource_id(target_id)
    assert rid is not None  # validated by inputs.nsg_target
    top = (f"/subscriptions/{rid.subscription}/resourceGroups/{rid.resource_group}/providers/"
           f"{rid.namespace}/{rid.types[0]}/{rid.names[0]}")
    if rid.type.lower() == "microsoft.compute/virtualmachines":
        return read_vm(client, top).location
    try:
        resource = client.arm.get_json(top)
    except ArmError as exc:
        if exc.status == 404:
            raise PreflightError(f"target: {rid.names[0]} was not found in resource group "
                                 f"{rid.resource_group}.",
                                 fix="Check the resource id (az resource show --ids ...).") from exc
        raise
    return str((resource or {}).get("location") or "")


def _nic_of(client: Client, vm_or_nic: Any, resource_group: Any, what: str) -> tuple[str, str | None]:
    """The NIC of a VM (its primary) or the NIC given; the VM must run (Azure answers these NIC
    operations only for a NIC attached to a running VM, reference §4.1)."""
    kind, rid = inputs.vm_or_nic(resource_group=resource_group, subscription_id=client.subscription_id,
                                 value=vm_or_nic)
    if kind == "nic":
        return rid, None
    facts = read_vm(client, rid)
    if not facts.running:
        raise PreflightError(f"VM {facts.name} is {facts.power_state}; Azure computes {what} only "
                             "for a NIC of a running VM.",
                             fix=f"Start it: az vm start --ids {facts.id}")
    if not facts.nic_ids:
        raise PreflightError(f"VM {facts.name} has no network interface in its network profile.",
                             fix="Attach a NIC to the VM, or check the VM id.")
    return facts.nic_ids[0], rid


def _nic_operation(client: Client, vm_or_nic: Any, resource_group: Any, action: str,
                   what: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """POST a NIC operation (no body) for a NIC or a VM's primary NIC: the answer and meta."""
    started = time.monotonic()
    deadline = started + DEFAULT_TIMEOUT
    with deadline_scope(deadline):
        nic, vm = _nic_of(client, vm_or_nic, resource_group, what.lower())
    answer, op = run_diagnostic(client, f"{nic}/{action}", None, what=what, deadline=deadline)
    with deadline_scope(deadline):
        answer = _all_pages(client, answer)
    return answer, _meta(client, op, started, nic=nic, vm=vm)


def _all_pages(client: Client, answer: dict[str, Any]) -> dict[str, Any]:
    """Both NIC lists are pageable (`value[]`, `nextLink`): the pages after the first, appended.
    Nothing is merged unless the service sent a nextLink."""
    link = answer.get("nextLink")
    if not isinstance(link, str) or not link:
        return answer
    first = answer.get("value")
    rest = list(client.arm.list(link))  # ARM's list: GET the link, follow nextLink to the end
    return {**answer, "value": [*(first if isinstance(first, list) else []), *rest],
            "nextLink": None}


def effective_routes(client: Client, vm_or_nic: Any, *, resource_group: Any = None
                     ) -> EffectiveRoutes:
    """The routes the NIC's traffic is forwarded with (POST .../effectiveRouteTable)."""
    answer, meta = _nic_operation(client, vm_or_nic, resource_group, "effectiveRouteTable",
                                  "Effective routes")
    return EffectiveRoutes.from_dict(answer, meta=meta)


def effective_security_rules(client: Client, vm_or_nic: Any, *, resource_group: Any = None
                             ) -> EffectiveSecurityRules:
    """Every NSG on the NIC and its subnet (and admin rules), with tags expanded to prefixes."""
    answer, meta = _nic_operation(client, vm_or_nic, resource_group,
                                  "effectiveNetworkSecurityGroups", "Effective security rules")
    return EffectiveSecurityRules.from_dict(answer, meta=meta)
