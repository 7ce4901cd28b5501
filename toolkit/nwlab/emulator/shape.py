"""The JSON shape of a loaded resource, checked once before any parser reads it.

A real snapshot carries partial values: ``null`` where a field is unset, arrays that are
``null`` rather than empty, a field of another kind than the spec says (a hand edit, an older
api-version). The parsers (topology.py and the part modules) read fields by name; rather than
each guarding every read, the loader runs this pass first, so every parser meets one shape:

- ``null`` is the field being absent (ARM omits unset fields or sends null, both mean unset);
  the key is removed, so ``props.get(name) or []`` and ``setdefault`` read it as unset.
- a field whose name the twin reads (``KINDS``) holds the JSON kind the REST specs give it, at
  any depth; another kind is refused naming the resource, the field's path and what to write.

Names not in ``KINDS`` are left alone, and the loader runs the pass on the types it models
only: unknown fields and types (whose fields may share a name but not its kind: a virtual
hub's ``properties.sku`` is a string) load as they are.

Estates repeat rule bodies: a 20,000-NIC estate holds 40,000 security rules and a few thousand
distinct ``properties`` among them. ``Bodies``, kept by the loader for one load, holds the
repr of each entry body of a ``REPEATED`` list already walked and found clean, so a copy of it
is not walked again: the repr (computed in C) names a JSON value exactly, and equal values
meet the same checks. A body with a null is walked every time (the walk edits it in place).
The repr of each clean body is kept by the body's identity for the parser, which memoises
rule bodies on the same text (Topology._rule_of).

Whole lists repeat too (one NSG per subnet, written from one template): a list whose entries
have the names and bodies of an earlier clean list is a copy of it, found with one comparison
(computed in C) instead of a repr per body, and the parser copies that list's parsed rules.
Equality (``==``) conflates 1, 1.0 and True, so a list is a template only when every leaf of
its bodies is a string but the top-level ``priority``, whose type is compared on its own.
"""

from __future__ import annotations

from typing import Any, NoReturn

# Field name -> its JSON kind wherever it appears in Microsoft.Network / Microsoft.Compute
# resources (azure-rest-api-specs: network/*.json, compute virtualMachine*.json). Only names
# whose kind is the same in every resource the twin reads are listed ("nextHop" is an object in
# a route and a string in a learned route, so it is not).
OBJECT, TEXT = "an object", "a string"
LIST = "a list"  # of strings or numbers (prefixes, ports, ids)
OBJECTS = "a list of objects"  # of sub-resources or references, every entry {...}
KINDS: dict[str, str] = {
    "properties": OBJECT, "id": TEXT, "name": TEXT, "type": TEXT, "location": TEXT,
    "addressSpace": OBJECT, "remoteAddressSpace": OBJECT, "localNetworkAddressSpace": OBJECT,
    "remoteVirtualNetwork": OBJECT, "subnet": OBJECT, "networkSecurityGroup": OBJECT,
    "routeTable": OBJECT, "natGateway": OBJECT, "publicIPAddress": OBJECT,
    "virtualMachine": OBJECT, "virtualMachineScaleSet": OBJECT, "privateEndpoint": OBJECT,
    "networkProfile": OBJECT, "instanceView": OBJECT, "virtualMachineProfile": OBJECT,
    "extensionProfile": OBJECT, "sku": OBJECT, "dhcpOptions": OBJECT, "dnsSettings": OBJECT,
    "firewallPolicy": OBJECT, "basePolicy": OBJECT, "snat": OBJECT,
    "frontendIPConfiguration": OBJECT, "backendAddressPool": OBJECT, "probe": OBJECT,
    "virtualNetwork": OBJECT, "privateLinkServiceConnectionState": OBJECT,
    "bgpSettings": OBJECT, "virtualNetworkGateway1": OBJECT, "virtualNetworkGateway2": OBJECT,
    "localNetworkGateway2": OBJECT, "additionalProperties": OBJECT, "action": OBJECT,
    "addressPrefixes": LIST, "sourceAddressPrefixes": LIST, "destinationAddressPrefixes": LIST,
    "sourcePortRanges": LIST, "destinationPortRanges": LIST, "ipAddresses": LIST,
    "groupIds": LIST, "sourceAddresses": LIST, "destinationAddresses": LIST,
    "destinationPorts": LIST, "sourceIpGroups": LIST, "destinationIpGroups": LIST,
    "ipProtocols": LIST, "protocols": LIST, "targetFqdns": LIST, "fqdnTags": LIST,
    "destinationFqdns": LIST, "privateRanges": LIST, "nextHopIpAddresses": LIST,
    "locations": LIST,
    "subnets": OBJECTS, "virtualNetworkPeerings": OBJECTS, "securityRules": OBJECTS,
    "routes": OBJECTS, "ipConfigurations": OBJECTS, "networkInterfaces": OBJECTS,
    "statuses": OBJECTS, "serviceEndpoints": OBJECTS, "serviceEndpointPolicies": OBJECTS,
    "delegations": OBJECTS, "applicationSecurityGroups": OBJECTS,
    "sourceApplicationSecurityGroups": OBJECTS, "destinationApplicationSecurityGroups": OBJECTS,
    "loadBalancerBackendAddressPools": OBJECTS, "loadBalancerInboundNatRules": OBJECTS,
    "backendIPConfigurations": OBJECTS, "loadBalancerBackendAddresses": OBJECTS,
    "frontendIPConfigurations": OBJECTS, "backendAddressPools": OBJECTS, "probes": OBJECTS,
    "loadBalancingRules": OBJECTS, "inboundNatRules": OBJECTS, "outboundRules": OBJECTS,
    "publicIpAddresses": OBJECTS, "publicIpPrefixes": OBJECTS,
    "privateLinkServiceConnections": OBJECTS, "manualPrivateLinkServiceConnections": OBJECTS,
    "customDnsConfigs": OBJECTS, "privateDnsZoneConfigs": OBJECTS, "aRecords": OBJECTS,
    "aaaaRecords": OBJECTS, "ruleCollections": OBJECTS, "rules": OBJECTS,
    "networkRuleCollections": OBJECTS, "applicationRuleCollections": OBJECTS,
    "natRuleCollections": OBJECTS, "networkInterfaceConfigurations": OBJECTS,
    "extensions": OBJECTS, "bgpPeeringAddresses": OBJECTS, "values": OBJECTS,
    "sources": OBJECTS, "destinations": OBJECTS, "resources": OBJECTS,
}
PYTHON_KIND = {OBJECT: dict, TEXT: str, LIST: list, OBJECTS: list}
EXAMPLE = {OBJECT: '{"id": "..."}', TEXT: '"..."', LIST: '["..."]', OBJECTS: '[{...}]'}
# Looked up once per field of every loaded resource (a 20,000-NIC estate has millions): the
# Python type each name wants, and the names whose lists hold objects only.
_WANT: dict[str, type] = {name: PYTHON_KIND[kind] for name, kind in KINDS.items()}
_OBJECT_LISTS = frozenset(name for name, kind in KINDS.items() if kind == OBJECTS)
# Lists whose entries' properties repeat across an estate (see the module's doc).
REPEATED = frozenset({"securityRules", "routes"})


class Bodies:
    """The clean entry bodies of one load: their reprs, and each body's repr by its id()
    (valid while the loaded document lives: the loader drops this when it is done)."""

    __slots__ = ("clean", "copy_of", "kept", "templates", "text_of", "worthy")

    def __init__(self) -> None:
        self.clean: set[str] = set()
        self.text_of: dict[int, str] = {}
        # Entry names and first body -> clean lists so; a list's id() -> the list it copies.
        self.templates: dict[tuple[str, ...], list[list[dict[str, Any]]]] = {}
        self.copy_of: dict[int, list[dict[str, Any]]] = {}
        self.worthy: dict[int, bool] = {}  # a template's id() -> whether _template_worthy
        # What the loader drops from the document during the load, held so that no id() above
        # is freed and given to a new object while this lives.
        self.kept: list[Any] = []


def _same_bodies(items: list[dict[str, Any]], template: list[dict[str, Any]]) -> bool:
    if [e.get("properties") for e in items] != [e.get("properties") for e in template]:
        return False
    return all(type(a["properties"].get("priority")) is type(b["properties"].get("priority"))
               for a, b in zip(items, template, strict=True))


def _text_leaves(value: Any) -> bool:
    """Every leaf a string (what makes ``==`` exact: a string equals only a string)."""
    kind = type(value)
    if kind is str:
        return True
    if kind is dict:
        value = value.values()
    elif kind is not list:
        return False
    return all(type(item) is str or _text_leaves(item) for item in value)


def _template_worthy(items: list[dict[str, Any]], seen: Bodies) -> bool:
    """Whether ``==`` with this clean list is exact (asked when a list matches it, once)."""
    found = seen.worthy.get(id(items))
    if found is None:
        found = seen.worthy[id(items)] = all(
            name == "priority" or type(value) is str or _text_leaves(value)
            for entry in items for name, value in entry["properties"].items())
    return found


# Where the walk is: (parent, name or index), spelled only when a problem is raised.
Trail = tuple[Any, str | int] | None


class ShapeProblem(Exception):
    """A field of the wrong kind: ``field`` is its path in the resource, ``text`` what to
    write instead (the loader raises its own error naming the resource)."""

    def __init__(self, field: str, text: str) -> None:
        super().__init__(f"{field}: {text}")
        self.field, self.text = field, text


def check_shape(resource: dict[str, Any], seen: Bodies | None = None) -> None:
    """Drop nulls and refuse a known field of the wrong kind, anywhere in ``resource``
    (ShapeProblem). ``seen``: the clean entry bodies of this load so far (read and added to)."""
    _walk(resource, None, seen)


def _spell(trail: Trail) -> str:
    parts: list[str | int] = []
    while trail is not None:
        trail, step = trail
        parts.append(step)
    text = ""
    for step in reversed(parts):
        text += f"[{step}]" if isinstance(step, int) else (f".{step}" if text else step)
    return text


_LEAVES = (str, int, float, bool)  # what json.loads gives besides dict, list and None


def _walk(obj: dict[str, Any], trail: Trail, seen: Bodies | None = None) -> None:
    nulls: list[str] = []
    for name, value in obj.items():
        kind = type(value)
        # Most fields are leaves no parser checks the kind of: one look-up each (the loop runs
        # over every field of every resource: millions in a 20,000-NIC estate).
        want = _WANT.get(name)
        if kind in _LEAVES:
            if want is not None and kind is not want and not isinstance(value, want):
                _wrong_kind(trail, name, value)
            continue
        if value is None:
            nulls.append(name)
            continue
        if want is not None and kind is not want and not isinstance(value, want):
            _wrong_kind(trail, name, value)
        if kind is dict:
            # A reference ({"id": "..."}) holds nothing to drop or refuse; most nested objects
            # of an estate are these (a NIC's subnet and VM, a VM's NICs, rules' ASGs).
            if len(value) != 1 or type(value.get("id")) is not str:
                _walk(value, (trail, name), seen)
        elif isinstance(value, dict):
            _walk(value, (trail, name), seen)
        elif seen is not None and name in REPEATED and isinstance(value, list):
            _entries(value, (trail, name), seen)
        elif isinstance(value, list):
            _items(value, (trail, name), name in _OBJECT_LISTS)
    for name in nulls:
        del obj[name]


def _wrong_kind(trail: Trail, name: str, value: Any) -> NoReturn:
    raise ShapeProblem(_spell((trail, name)), f"expected {KINDS[name]}, got {value!r}: write "
                       f"it as the REST spec does (e.g. {EXAMPLE[KINDS[name]]}) or leave it out")


def _entries(items: list[Any], trail: Trail, seen: Bodies) -> None:
    """A REPEATED list: each entry walked as _items does, its properties only when new."""
    if any(type(entry) is not dict for entry in items):
        _items(items, trail, True)  # nulls dropped, any other entry refused
        return
    names = tuple(entry.get("name") for entry in items)
    # The names and the first body's repr tell templates apart (spokes name their rules alike).
    # An empty name is read from the rule's id, which a copy does not share: no template.
    like = (*names, repr(items[0].get("properties"))) \
        if names and all(type(name) is str and name for name in names) else ()
    for template in seen.templates.get(like, ()) if like else ():
        if _same_bodies(items, template) and _template_worthy(template, seen) and all(
                _leaves_only(entry, (trail, i)) for i, entry in enumerate(items)):
            seen.copy_of[id(items)] = template
            return
    clean = True
    for i, entry in enumerate(items):
        body = entry.get("properties")
        if type(body) is not dict:
            _walk(entry, (trail, i))
            clean = False
            continue
        text = repr(body)
        if text in seen.clean and _leaves_only(entry, (trail, i)):
            seen.text_of[id(body)] = text  # a copy of a clean body, its entry's fields checked
            continue
        _walk(entry, (trail, i))
        if "None" not in text:  # no null was dropped: the body is as its repr says
            seen.clean.add(text)
            seen.text_of[id(body)] = text
        else:
            clean = False
    if clean and like:
        seen.templates.setdefault(like, []).append(items)


def _leaves_only(entry: dict[str, Any], trail: Trail) -> bool:
    """Check an entry's fields besides ``properties`` when all are leaves (name, id, type,
    etag: the usual case); False when one is not, for the caller to walk the whole entry."""
    for name, value in entry.items():
        if name == "properties":
            continue
        if type(value) not in _LEAVES:
            return False
        if name in _WANT and not isinstance(value, _WANT[name]):
            _wrong_kind(trail, name, value)
    return True


def _items(items: list[Any], trail: Trail, objects: bool) -> None:
    # ARM returns no null entry in any array: one is read as absent, like a null field.
    if None in items:
        items[:] = [v for v in items if v is not None]
    for i, value in enumerate(items):
        kind = type(value)
        if kind is dict:
            if len(value) != 1 or type(value.get("id")) is not str:  # not a reference
                _walk(value, (trail, i))
        elif kind not in _LEAVES and isinstance(value, dict):
            _walk(value, (trail, i))
        elif objects:
            raise ShapeProblem(_spell((trail, i)), "expected an object (e.g. {\"id\": \"...\"}"
                               " or {\"name\": \"...\", \"properties\": {...}}), got "
                               f"{value!r}")
        elif kind is list or (kind not in _LEAVES and isinstance(value, list)):
            _items(value, (trail, i), False)
