"""The hop graph as geometry: longest-path layers, vertical slots, forward edges (no Plotly)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from nwlab.model import ConnectivityResult


def forward_edges(result: ConnectivityResult) -> list[tuple[str, str]]:
    """Edges between known hops, each once, in hop order; self-loops dropped."""
    seen: set[tuple[str, str]] = set()
    edges: list[tuple[str, str]] = []
    for a, b in result.edges():
        if a != b and (a, b) not in seen:
            seen.add((a, b))
            edges.append((a, b))
    return edges


def layers(result: ConnectivityResult) -> dict[str, int]:
    """Column of each hop: the longest path from a root (cycles capped); unlinked hops go last.

    With no edges at all (a shape without nextHopIds) the hops are laid out in list order.
    """
    ids = [hop.id for hop in result.hops]
    edges = forward_edges(result)
    if not edges:
        return {hop_id: i for i, hop_id in enumerate(ids)}
    layer = dict.fromkeys(ids, 0)
    cap = len(ids) - 1
    for _ in range(len(ids)):  # Bellman-Ford style relaxation; the cap stops cycles
        changed = False
        for a, b in edges:
            if layer[b] < layer[a] + 1 <= cap:
                layer[b] = layer[a] + 1
                changed = True
        if not changed:
            break
    linked = {a for a, _ in edges} | {b for _, b in edges}
    last = max((layer[i] for i in linked), default=-1)
    for hop_id in ids:
        if hop_id not in linked:
            layer[hop_id] = last + 1
    return layer


def positions(result: ConnectivityResult) -> dict[str, tuple[float, float]]:
    """(x, y) per hop: x = layer; hops sharing a layer spread on y, centred, ordered by parents."""
    layer = layers(result)
    order = {hop.id: i for i, hop in enumerate(result.hops)}
    parents: dict[str, list[str]] = {}
    for a, b in forward_edges(result):
        parents.setdefault(b, []).append(a)
    pos: dict[str, tuple[float, float]] = {}
    for column in sorted(set(layer.values())):
        members = [h for h in layer if layer[h] == column]

        def key(hop_id: str) -> tuple[float, int]:
            ys = [pos[p][1] for p in parents.get(hop_id, []) if p in pos]
            # Higher parents first (larger y is drawn higher), then the service's order.
            return (-(sum(ys) / len(ys)) if ys else 0.0, order[hop_id])

        members.sort(key=key)
        n = len(members)
        for k, hop_id in enumerate(members):
            pos[hop_id] = (float(column), (n - 1) / 2 - k)
    return pos
