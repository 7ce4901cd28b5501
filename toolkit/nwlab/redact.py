"""One redactor over JSON: results, batches, reports and cassettes are all redacted by this pass.

Keys decide what a value is where they can (tenantId, principalId, adminUsername, tags, RuleName,
a resource's name, a secret's key); string patterns catch the rest (GUIDs, ARM ids of any type with
or without the leading slash and inside URLs, IPv4 and IPv6 addresses, e-mail addresses and UPNs,
bearer tokens). A Redactor hands out one pseudonym per real value, so the same VM reads the same
wherever that redactor met it, and the structure, verdict and hop types are left as they were.

Two linear passes: the first learns every name and value of the tree, the second rewrites, so a
name first met late (in an id) is also hidden where it appeared earlier as a bare word. Rewritten
strings are remembered per pass, so repeated strings (types, ids shared by many checks) cost one
lookup. This module works on plain JSON and imports nothing from nwlab.
"""

from __future__ import annotations

import contextlib
import gc
import hashlib
import ipaddress
import re
import secrets
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

GUID = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
ZERO_GUID = "00000000-0000-0000-0000-000000000000"
# nwlab's GUID pseudonyms keep the first four groups zero. A real subscription, tenant or object
# id is a random (version 4) GUID, whose third group starts with 4, so no real id looks like one.
PSEUDONYM_GUID_PREFIX = "00000000-0000-0000-0000-"
REDACTED = "<redacted>"


def placeholder_guid(value: str) -> bool:
    """The all-zero GUID, nwlab's pseudonyms, and hand-made ids whose every group repeats one
    character (99999999-0000-...): none of them can name anything real."""
    lowered = value.lower()
    if lowered.startswith(PSEUDONYM_GUID_PREFIX):
        return bool(_GUID_FULL.match(lowered))
    return lowered[:1] * 8 == lowered[:8] and bool(_GUID_FULL.match(lowered)) and all(
        len(set(group)) == 1 for group in lowered.split("-"))


_GUID_FULL = re.compile(rf"^{GUID}$")
_JWT = r"eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*"
_BEARER = r"(?i:bearer)\s+(?!<redacted)[A-Za-z0-9._~+/=-]+"
_TOKENS = re.compile(rf"(?P<jwt>{_JWT})|(?P<bearer>{_BEARER})")
# An ARM id begins at `subscriptions/`, `providers/`, `resourceGroups/` or `tenants/`, after a slash
# (also URL-encoded, as in skip tokens) or at the start of a word (the service sends hop ids
# without their slash), and runs to what cannot be in a path.
_ID = (r"(?:/|%2[fF]|(?<![\w.%-]))(?i:subscriptions|providers|resourceGroups|tenants)(?:/|%2[fF])"
       r"[^\s\"'<>?#&,;|\\\[\]{}`]*")
_SEP = re.compile(r"(/|%2[fF])")
_EMAIL = r"[\w.%+#-]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+"
_IPV6 = r"(?<![\w:.%])(?:[0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f.]*(?:%[\w.-]+)?"
_IPV4 = r"(?<![\d.])(?:\d{1,3}\.){3}\d{1,3}(?!\.?\d)"
_WORD = r"\w[\w-]*(?:\.[\w-]+)*"

# Keys whose values are secrets wherever they appear (token answers, extension settings, headers).
_SECRET_KEYS = re.compile(r"(?i)^(password|adminPassword|secret|clientSecret|client_secret|"
                          r"access_?token|refresh_?token|id_?token|protectedSettings|"
                          r"connectionString|primaryKey|secondaryKey|sasToken|sig|authorization|"
                          r"proxy-authorization|cookie|set-cookie|x-api-key|api-key|apiKey)$")

# What a value is, decided by its key.
_TEXT, _KEY, _VOCAB, _VERSION, _PERSON, _DIRECTORY, _TENANT, _SUBSCRIPTION, _TAGS, _TAG, _TAG_KEY, \
    _RULE, _NAME, _VM, _GROUP, _HOP, _SECRET = range(17)
_BY_KEY = {
    # Words of the service's own vocabulary: never a user's name, so bare names are not looked for
    # (a VM called "Internet" leaves the hop type alone); ids, GUIDs and addresses still are.
    **dict.fromkeys(("type", "connectionstatus", "linktype", "origin", "severity", "provisioningstate",
                     "direction", "access", "protocol", "routetype", "nexthoptype", "destination_kind",
                     "backend", "method", "location", "key", "code", "level", "displaystatus",
                     "publisher", "checked_at", "format", "kind", "status", "verdict"), _VOCAB),
    **dict.fromkeys(("adminusername", "username", "user", "userprincipalname", "upn", "email", "mail",
                     "signinname", "createdby", "lastmodifiedby", "principalname"), _PERSON),
    **dict.fromkeys(("principalid", "objectid", "clientid", "appid", "applicationid", "oid"),
                    _DIRECTORY),
    **dict.fromkeys(("tenantid", "hometenantid", "tid", "managedbytenantid"), _TENANT),
    "subscriptionid": _SUBSCRIPTION,
    "tags": _TAGS,
    **dict.fromkeys(("rulename", "rule_name"), _RULE),
    # A check's inputs: a bare word there is a VM or a resource group name.
    **dict.fromkeys(("source", "destination", "vm"), _VM),
    **dict.fromkeys(("resource_group", "resourcegroup", "resourcegroupname"), _GROUP),
    **dict.fromkeys(("nexthopids", "previoushopids", "nexthopid"), _HOP),
}

# Names Azure gives, which say nothing about the user: kept as they are.
_AZURE_NAMES = frozenset({
    "networkwatcherrg", "ipconfig1", "default", "gatewaysubnet", "azurefirewallsubnet",
    "azurefirewallmanagementsubnet", "azurebastionsubnet", "routeserversubnet",
    "azurenetworkwatcherextension", "networkwatcheragentwindows", "networkwatcheragentlinux",
    "allowvnetinbound", "allowazureloadbalancerinbound", "denyallinbound", "allowvnetoutbound",
    "allowinternetoutbound", "denyalloutbound"})
# Words the service writes in free text and address fields (service tags, hop placeholders): in
# text they keep their meaning even if someone named a resource so (its id still hides it).
_SERVICE_WORDS = frozenset({"internet", "virtualnetwork", "azureloadbalancer", "azurecloud",
                            "unknown", "none", "any"})
_AZURE_NAME = re.compile(r"^networkwatcher_[a-z0-9]+$")
# Types whose names are Azure's own (regions, operation ids are GUIDs and handled as such).
_AZURE_NAMED_TYPES = frozenset({"locations", "operationresults", "operationstatuses", "operations",
                                "asyncoperations", "defaultsecurityrules"})
_RULE_PREFIXES = ("UserRule_", "securityRules/")
_DEFAULT_RULE_PREFIXES = ("DefaultRule_", "defaultSecurityRules/")
# Pseudonym prefixes of frequent types, so a path reads as a path; any other type gets its own
# name made singular (azureFirewalls -> azurefirewall1).
_LABELS = {"resourcegroups": "rg", "virtualmachines": "vm", "networkinterfaces": "nic",
           "ipconfigurations": "ipconfig", "virtualnetworks": "vnet", "subnets": "subnet",
           "networksecuritygroups": "nsg", "securityrules": "rule", "routetables": "rt",
           "routes": "route", "publicipaddresses": "pip", "networkwatchers": "watcher",
           "extensions": "ext", "virtualnetworkpeerings": "peering"}
_KEPT_IPS = frozenset({"168.63.129.16", "169.254.169.254", "0.0.0.0", "255.255.255.255"})


def _label(kind: str | None) -> str:
    lowered = (kind or "").lower()
    if lowered in _LABELS:
        return _LABELS[lowered]
    if not lowered.isalpha() or lowered == "value":
        return "res"
    if lowered.endswith("ies"):
        return lowered[:-3] + "y"
    if lowered.endswith(("sses", "xes")):
        return lowered[:-2]
    return lowered[:-1] if lowered.endswith("s") else lowered


def _is_rule_kind(kind: str | None) -> bool:
    lowered = (kind or "").lower()
    return lowered.endswith(("rules", "rulecollections", "rulecollectiongroups"))


def _azure_name(lowered: str) -> bool:
    return lowered in _AZURE_NAMES or bool(_AZURE_NAME.match(lowered))


@lru_cache(maxsize=8)
def _pattern(*, ids: bool, addresses: bool, words: bool) -> re.Pattern[str]:
    """One alternation per kind of redactor, so each string is scanned once, left to right."""
    parts = [rf"(?P<jwt>{_JWT})", rf"(?P<bearer>{_BEARER})"]
    if ids:
        parts.append(rf"(?P<id>{_ID})")
    parts += [rf"(?P<email>{_EMAIL})", rf"(?P<guid>{GUID})"]
    if addresses:
        parts += [rf"(?P<ip6>{_IPV6})", rf"(?P<ip4>{_IPV4})"]
    if words:
        parts.append(rf"(?P<word>{_WORD})")
    return re.compile("|".join(parts))


@dataclass
class _Name:
    label: str
    rule: bool = False   # met where a rule name stands (a rule id, RuleName)
    other: bool = False  # met anywhere else
    pseudonym: str | None = None


class Redactor:
    """Maps real identifiers to pseudonyms, the same pseudonym every time within one redactor.

    Always replaced: GUIDs (subscription, tenant, principal and object ids, operation and request
    ids), e-mail addresses and UPNs, user names, tag values, secrets and tokens. `names=True`: every
    resource-name segment of an ARM id of any type, resource names wherever they appear, and rule
    names unless `keep_rule_names=True`. `addresses=True`: IPv4 and IPv6 addresses. Well-known
    public values (168.63.129.16, the all-zero GUID, service tags, Azure's own names) are kept.

    `for_replay=True` is how cassettes are scrubbed: subscription and tenant ids become the
    all-zero GUID replay connects with, hop ids that appear only in a result's hop graph are kept
    (they are minted by the service for that one answer, and replay then gives back exactly what
    the service answered), and GUID pseudonyms are drawn at random, so cassettes recorded apart do
    not share an operation URL when they are replayed together.
    """

    def __init__(self, *, names: bool = False, addresses: bool = False,
                 keep_rule_names: bool = False, for_replay: bool = False) -> None:
        self.names = names
        self.addresses = addresses
        self.keep_rule_names = keep_rule_names
        self.for_replay = for_replay
        self._salt = secrets.token_bytes(16) if for_replay else b""
        self._zeroed: set[str] = set()  # GUIDs that become the all-zero GUID (for_replay)
        self._guids: dict[str, str] = {}
        self._guids_taken: set[str] = set()  # pseudonym-looking GUIDs the data already holds
        self._outside_hops: set[str] = set()  # GUIDs met anywhere but a hop graph
        self._names: dict[str, _Name] = {}
        self._counts: dict[str, int] = {}
        self._people: dict[str, str] = {}
        self._tags: dict[str, str] = {}
        self._ips: dict[str, str] = {}
        self._ip_pseudonyms: set[str] = set()
        self._learning = False
        self._memo: dict[Any, str] = {}
        self._unsure: set[Any] = set()  # strings with words that may yet turn out to be names
        self._last_unsure = False
        self._word_unknown = False
        # Where such strings were written in the copy: (container, key or index, how, text).
        self._fixups: list[tuple[Any, Any, int, str | None, str]] = []
        self._scan = _pattern(ids=True, addresses=addresses, words=False)
        self._scan_inner = _pattern(ids=False, addresses=addresses, words=False)
        self._scan_plain = _pattern(ids=True, addresses=False, words=False)
        self._scan_words = _pattern(ids=True, addresses=addresses, words=names)
        # Learning needs ids (names, subscriptions) and GUIDs only; addresses need no learning.
        self._scan_learn = _pattern(ids=True, addresses=False, words=False)

    # -- the public face ----------------------------------------------------------------------

    def learn(self, data: Any) -> None:
        """Meet every name and GUID in `data` without rewriting it, so that whatever this
        redactor rewrites later also hides the names that only `data` revealed."""
        self._learning = True
        self._memo = {}
        try:
            with collector_paused():
                self._visit(data, _TEXT, None)
        finally:
            self._learning = False
            self._memo = {}

    def redact(self, data: Any) -> Any:
        """A redacted copy of a JSON value (dicts, lists, strings, numbers; tuples become lists).

        One walk over the tree; free text whose words were not all known names when it was met is
        done again at the end, when every name of the tree is known. Cassettes learn first (their
        hop-id rule needs to know every GUID of the tree).
        """
        if self.for_replay:
            self.learn(data)
        self._fixups = []
        try:
            with collector_paused():
                out = self._visit(data, _TEXT, None)
                if isinstance(data, str) and self._last_unsure:
                    out = self._rewrite(data, _TEXT, None)
                self._memo = {}
                for container, slot, ctx, hint, text in self._fixups:
                    container[slot] = self._string(text, ctx, hint)
            return out
        finally:
            self._memo = {}
            self._fixups = []

    # -- walking the tree -----------------------------------------------------------------------

    def _visit(self, value: Any, ctx: int, hint: str | None) -> Any:
        if ctx == _SECRET:
            return None if value is None else REDACTED
        kind = type(value)  # exact types first: isinstance against Mapping is slow
        if kind is str or (kind is not dict and isinstance(value, str)):
            return self._string(value, ctx, hint)
        if kind is dict or isinstance(value, Mapping):
            return self._mapping(value, ctx, hint)
        if kind is list or isinstance(value, list | tuple):
            if self._learning:
                for item in value:
                    self._visit(item, ctx, hint)
                return None
            out = []
            for index, item in enumerate(value):
                out.append(self._visit(item, ctx, hint))
                if self._last_unsure and type(item) is str:
                    self._fixups.append((out, index, ctx, hint, item))
            return out
        return value

    def _mapping(self, data: Mapping[Any, Any], ctx: int, hint: str | None) -> Any:
        name_kind = None
        if "name" in data and ("id" in data or "properties" in data or "type" in data):
            name_kind = _name_kind(data, hint)
        paired_ctx = None
        if "value" in data:  # {"key": "RuleName", "value": ...}, {"name": "Authorization", ...}
            paired = data.get("key", data.get("name"))
            if isinstance(paired, str):
                paired_ctx = _child_context(paired)
        hop = "nextHopIds" in data
        out: dict[Any, Any] | None = None if self._learning else {}
        for key, value in data.items():
            if not isinstance(key, str):
                child, child_hint, new_key = _TEXT, None, key
            elif ctx == _TAGS:
                child, child_hint = _TAG, None
                new_key = self._string(key, _TAG_KEY, None)
            else:
                child, child_hint = _child_context(key), key
                if child == _TEXT:
                    if name_kind is not None and key == "name":
                        child, child_hint = _NAME, name_kind
                    elif hop and key == "id":
                        child = _HOP
                    elif paired_ctx is not None and key == "value":
                        child = paired_ctx
                elif child == _TAGS and not isinstance(value, Mapping):
                    child = _TAG
                new_key = self._string(key, _KEY, None)
            if type(value) is str and child != _SECRET:
                result = self._string(value, child, child_hint)
            else:
                result = self._visit(value, child, child_hint)
            if out is not None:
                out[new_key] = result
                if self._last_unsure and type(value) is str:
                    self._fixups.append((out, new_key, child, child_hint, value))
        return out

    def _string(self, text: str, ctx: int, hint: str | None) -> str:
        memo_key: Any = text if ctx == _TEXT else (ctx, hint, text)
        done = self._memo.get(memo_key)
        if done is not None:
            self._last_unsure = memo_key in self._unsure
            return done
        self._last_unsure = False
        if self._learning:
            self._learn_string(text, ctx, hint)
            out = text
        else:
            self._word_unknown = False
            out = self._rewrite(text, ctx, hint)
            if self._word_unknown:
                self._unsure.add(memo_key)
                self._last_unsure = True
        self._memo[memo_key] = out
        return out

    def _learn_string(self, text: str, ctx: int, hint: str | None) -> None:
        if ctx in (_TEXT, _KEY, _VOCAB, _VERSION, _TAG_KEY) or (
                ctx in (_VM, _GROUP) and not self._bare_name(text)):
            if "/" in text or "-" in text or "%" in text:  # no id, no GUID otherwise
                self._scan_learn.sub(self._match, text)
        else:
            self._rewrite(text, ctx, hint)

    def _rewrite(self, text: str, ctx: int, hint: str | None) -> str:
        if not text:
            return text
        if ctx in (_VM, _GROUP) and self._bare_name(text):
            return self._name(text, "vm" if ctx == _VM else "resourcegroups", rule=False)
        if ctx in (_TEXT, _VM, _GROUP):
            return (self._scan_words if self.names else self._scan).sub(self._match, text)
        if ctx == _PERSON:
            return self._person(text)
        if ctx in (_DIRECTORY, _TENANT, _SUBSCRIPTION):
            if _GUID_FULL.match(text):
                if ctx != _DIRECTORY and self.for_replay and self._learning \
                        and not placeholder_guid(text):
                    self._zeroed.add(text.lower())
                return self._guid(text)
            return self._person(text, prefix="id")
        if ctx == _TAG:
            return self._tag(text, "tag")
        if ctx == _RULE:
            return self._rule(text)
        if ctx == _NAME and self.names:
            return self._name(text, hint, rule=_is_rule_kind(hint))
        if ctx == _TAG_KEY and self.names:
            return self._tag(text, "tagkey")
        if ctx == _HOP and _GUID_FULL.match(text):
            if self._learning or (self.for_replay and text.lower() not in self._outside_hops):
                return text
            return self._guid(text)
        if ctx == _VERSION:
            return self._scan_plain.sub(self._match, text)
        return self._scan.sub(self._match, text)

    @staticmethod
    def _bare_name(text: str) -> bool:
        return not any(c in text for c in "/.:@ ") and not _GUID_FULL.match(text)

    # -- what the patterns found -----------------------------------------------------------------

    def _match(self, match: re.Match[str]) -> str:
        kind = match.lastgroup
        text = match.group(0)
        if kind == "jwt":
            return "<redacted-token>"
        if kind == "bearer":
            return "Bearer <redacted>"
        if kind == "id":
            return self._arm_id(text)
        if kind == "email":
            return self._person(text)
        if kind == "guid":
            return self._guid(text)
        if kind == "ip6":
            return self._ipv6(text)
        if kind == "ip4":
            return self._ipv4(text)
        return self._word(text)

    def _inner(self, text: str) -> str:
        """GUIDs, e-mail addresses and IPs inside a piece that is not redacted as a whole."""
        if self._learning:
            return self._scan_learn.sub(self._match, text) if "-" in text else text
        return self._scan_inner.sub(self._match, text)

    def _arm_id(self, text: str) -> str:
        """Walk the id's type/name pairs, whatever the provider and type."""
        parts = _SEP.split(text)  # segment, separator, segment, ...
        segments = parts[0::2]
        out = list(segments)
        i = 0
        while i < len(segments):
            word = segments[i].lower()
            if not word:
                i += 1
                continue
            if i + 1 >= len(segments):  # a collection or an action: .../virtualMachines
                out[i] = self._inner(segments[i])
                break
            value = segments[i + 1]
            if word in ("subscriptions", "tenants"):
                if self.for_replay and self._learning and _GUID_FULL.match(value) \
                        and not placeholder_guid(value):
                    self._zeroed.add(value.lower())
                out[i + 1] = self._inner(value)
            elif word == "providers":
                pass  # a resource provider's namespace, e.g. Microsoft.Network
            elif word in _AZURE_NAMED_TYPES:
                out[i + 1] = self._inner(value)
            else:
                out[i + 1] = self._segment_name(value, segments[i])
            i += 2
        parts[0::2] = out
        return "".join(parts)

    def _segment_name(self, value: str, kind: str) -> str:
        # Text around an id may end it with a full stop or a closing bracket; names cannot end so.
        core = value.rstrip(".")
        if core.endswith(")") and "(" not in core:
            core = core.rstrip(")")
        tail = value[len(core):]
        if not core or _GUID_FULL.match(core) or not self.names:
            return self._inner(value)
        return self._name(core, kind, rule=_is_rule_kind(kind)) + tail

    def _word(self, text: str) -> str:
        """A bare word of free text: hidden if it is a name this redactor has met (a word not met
        yet marks its string to be done again once the whole tree is known)."""
        lowered = text.lower()
        if lowered in _SERVICE_WORDS:
            return text
        entry = self._names.get(lowered)
        if entry is not None:
            if self.keep_rule_names and entry.rule:
                self._word_unknown = True  # kept or not depends on where else it is met
            return self._pseudonym(text, entry, rule_context=False)
        for prefix in _RULE_PREFIXES:
            if text.startswith(prefix) and text[len(prefix):].lower() in self._names:
                core = text[len(prefix):]
                return prefix + self._pseudonym(core, self._names[core.lower()], rule_context=True)
        if "." in text:
            pieces = text.split(".")
            if any(p.lower() in self._names for p in pieces):
                return ".".join(self._word(p) for p in pieces)
        self._word_unknown = True
        return self._inner(text) if "-" in text or "." in text else text

    # -- pseudonyms -------------------------------------------------------------------------------

    def _name(self, value: str, kind: str | None, *, rule: bool) -> str:
        lowered = value.lower()
        if not self.names or _azure_name(lowered):
            return self._inner(value)
        entry = self._names.get(lowered)
        if entry is None:
            entry = self._names[lowered] = _Name(_label(kind))
        elif entry.label == "res" and entry.pseudonym is None:
            entry.label = _label(kind)
        if rule:
            entry.rule = True
        else:
            entry.other = True
        if self._learning:
            return value
        return self._pseudonym(value, entry, rule_context=rule)

    def _pseudonym(self, value: str, entry: _Name, *, rule_context: bool) -> str:
        if self.keep_rule_names and entry.rule and (rule_context or not entry.other):
            return value
        if entry.pseudonym is None:
            entry.pseudonym = self._next(entry.label, avoid=self._names)
        return entry.pseudonym

    def _next(self, prefix: str, avoid: Mapping[str, Any] | None = None) -> str:
        """vm1, vm2, ..., user1, ..., tag1: counted per prefix, never the real name of another."""
        n = self._counts.get(prefix, 0)
        while True:
            n += 1
            candidate = f"{prefix}{n}"
            if avoid is None or candidate not in avoid:
                break
        self._counts[prefix] = n
        return candidate

    def _rule(self, text: str) -> str:
        """A rule name as the service reports it: UserRule_<name>, DefaultRule_<name> or bare."""
        if text.startswith(_DEFAULT_RULE_PREFIXES):
            return self._inner(text)
        prefix = next((p for p in _RULE_PREFIXES if text.startswith(p)), "")
        core = text[len(prefix):]
        if not core or not self.names:
            return self._inner(text)
        return prefix + self._name(core, "securityRules", rule=True)

    def _guid(self, value: str) -> str:
        key = value.lower()
        if placeholder_guid(key):
            if self._learning:
                self._guids_taken.add(key)
            return value
        if self._learning:
            self._outside_hops.add(key)
            return value
        if key in self._zeroed:
            return ZERO_GUID
        found = self._guids.get(key)
        if found is None:
            n = len(self._guids)
            while True:
                n += 1
                tail = hashlib.blake2b(self._salt + f"{key}{n}".encode(), digest_size=6).hexdigest() \
                    if self.for_replay else f"{n:012d}"
                found = PSEUDONYM_GUID_PREFIX + tail
                if found not in self._guids_taken:
                    break
            self._guids_taken.add(found)
            self._guids[key] = found
        return found

    def _person(self, value: str, prefix: str = "user") -> str:
        if self._learning:
            return self._guid(value) if _GUID_FULL.match(value) else value
        if value == REDACTED or placeholder_guid(value):
            return value
        if _GUID_FULL.match(value):
            return self._guid(value)
        key = value.lower()
        found = self._people.get(key)
        if found is None:
            found = self._next(f"~{prefix}")[1:] + ("@example.com" if "@" in value else "")
            self._people[key] = found
        return found

    def _tag(self, value: str, prefix: str) -> str:
        if self._learning:
            return value
        key = f"{prefix}:{value}"
        found = self._tags.get(key)
        if found is None:
            found = self._tags[key] = self._next(f"~{prefix}")[1:]
        return found

    def _ipv4(self, text: str) -> str:
        try:
            address = ipaddress.IPv4Address(text)
        except ValueError:
            return text
        return self._ip(text, address)

    def _ipv6(self, text: str) -> str:
        candidate = text.rstrip(".")
        tail = text[len(candidate):]
        candidate, percent, zone = candidate.partition("%")
        try:
            address = ipaddress.IPv6Address(candidate)
        except ValueError:
            return text
        mapped = address.ipv4_mapped
        if mapped is not None:  # ::ffff:10.1.1.4 is 10.1.1.4 and gets its pseudonym
            return "::ffff:" + self._ip(str(mapped), mapped) + tail
        return self._ip(candidate, address) + percent + zone + tail

    def _ip(self, original: str, address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str:
        key = str(address)  # one spelling per address: 2001:db8:0::1 and 2001:db8::1 are one
        if key in _KEPT_IPS or address.is_loopback or address.is_unspecified:
            return original
        found = self._ips.get(key)
        if found is None:
            n = len(self._ips)
            while True:  # a pseudonym is never handed out twice
                n += 1
                found = _ip_pseudonym(address, n)
                if found not in self._ip_pseudonyms:
                    break
            self._ip_pseudonyms.add(found)
            self._ips[key] = found
        return found


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """What a pass allocates is a tree and a memo (no cycles to collect), while every full
    collection would walk all of the caller's data too: paused, a pass stays linear in its size."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def redactor_for(redactor: Redactor | None, *, names: bool, addresses: bool,
                 keep_rule_names: bool) -> Redactor:
    """The redactor a `redact()` method uses: the caller's (shared across results), or a new one."""
    if redactor is None:
        return Redactor(names=names, addresses=addresses, keep_rule_names=keep_rule_names)
    if not isinstance(redactor, Redactor):
        raise TypeError(f"redactor: expected a nwlab.redact.Redactor, got {type(redactor).__name__}; "
                        "e.g. r = Redactor(names=True); a.redact(redactor=r); b.redact(redactor=r)")
    if names or addresses or keep_rule_names:
        raise TypeError("redact: pass either redactor=... or names/addresses/keep_rule_names, not "
                        "both (a redactor keeps the settings it was made with); e.g. "
                        "result.redact(redactor=Redactor(names=True))")
    return redactor


def _ip_pseudonym(address: ipaddress.IPv4Address | ipaddress.IPv6Address, n: int) -> str:
    """Private stays private-looking; public becomes a documentation or benchmark address that
    is never routed on the Internet (RFC 5737, RFC 2544, RFC 3849)."""
    if isinstance(address, ipaddress.IPv6Address):
        base = "fd00::" if address.is_private or address.is_link_local else "2001:db8::"
        return str(ipaddress.IPv6Address(int(ipaddress.IPv6Address(base)) + n))
    if address.is_private:
        first = int(ipaddress.IPv4Address("10.255.0.0"))
        if n >= 65536:  # past 10.255/16, carry on downwards from 10.128/9
            first = int(ipaddress.IPv4Address("10.128.0.0")) - 65536
        return str(ipaddress.IPv4Address(first + n))
    if n < 255:
        return f"203.0.113.{n}"
    return str(ipaddress.IPv4Address(int(ipaddress.IPv4Address("198.18.0.0")) + n))


@lru_cache(maxsize=4096)
def _child_context(key: str) -> int:
    lowered = key.lower()
    found = _BY_KEY.get(lowered)
    if found is not None:
        return found
    if _SECRET_KEYS.match(key):
        return _SECRET
    if lowered.endswith("version"):
        return _VERSION
    return _TEXT


def _name_kind(data: Mapping[Any, Any], parent_key: str | None) -> str | None:
    """What kind of resource a dict with a `name` is: from its id, its type or where it sits."""
    rid = data.get("id")
    if isinstance(rid, str) and "/" in rid:
        pieces = [p for p in rid.split("/") if p]
        if len(pieces) >= 2:
            return pieces[-2]
    kind = data.get("type")
    if isinstance(kind, str) and "/" in kind:
        return kind.rsplit("/", 1)[-1]
    return parent_key


def cut_tokens(data: Any) -> Any:
    """Only what must never be written anywhere: bearer tokens and the values of secret keys.

    For files that are not redacted (a saved batch, an unredacted report): nothing else changes.
    """
    if isinstance(data, str):
        return _TOKENS.sub(_token_match, data) if ("eyJ" in data or "earer" in data) else data
    if isinstance(data, Mapping):
        return {k: (REDACTED if isinstance(k, str) and _SECRET_KEYS.match(k) and v is not None
                    else cut_tokens(v)) for k, v in data.items()}
    if isinstance(data, list | tuple):
        return [cut_tokens(v) for v in data]
    return data


def _token_match(match: re.Match[str]) -> str:
    return "<redacted-token>" if match.lastgroup == "jwt" else "Bearer <redacted>"

