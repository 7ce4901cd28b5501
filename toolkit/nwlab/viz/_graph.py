"""The hop graph as geometry: columns by longest path, vertical slots, edges (no Plotly).

Everything is keyed by a hop's position in `result.hops`, not its id: the service's ids may
repeat, dangle or form cycles, and a hop is drawn once whatever its id says. Every step is linear
in hops + edges (plus a sort within each column), so a 1,000-hop path lays out at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from nwlab.model import ConnectivityResult

__all__ = ["Layout", "layers", "layout", "positions"]


@dataclass(frozen=True)
class Layout:
    """Where each hop goes: edges (i, j) by hop position, a column and a height per hop."""

    edges: list[tuple[int, int]]  # each once, in hop order; self-loops and dangling ids dropped
    column: list[int]
    y: list[float]

    def point(self, i: int) -> tuple[float, float]:
        return float(self.column[i]), self.y[i]


def _edges(result: ConnectivityResult) -> list[tuple[int, int]]:
    """nextHopIds resolved to positions; an id that several hops carry names the first of them."""
    first: dict[str, int] = {}
    for i, hop in enumerate(result.hops):
        first.setdefault(hop.id, i)
    seen: set[tuple[int, int]] = set()
    edges = []
    for i, hop in enumerate(result.hops):
        for next_id in hop.next_hop_ids:
            j = first.get(next_id)
            if j is not None and j != i and (i, j) not in seen:
                seen.add((i, j))
                edges.append((i, j))
    return edges


def _acyclic(n: int, edges: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """The edges minus those closing a cycle (back edges of a depth-first walk in hop order)."""
    out: list[list[int]] = [[] for _ in range(n)]
    for a, b in edges:
        out[a].append(b)
    state = [0] * n  # 0 unseen, 1 on the walk's stack, 2 done
    back: set[tuple[int, int]] = set()
    for root in range(n):
        if state[root]:
            continue
        state[root] = 1
        stack = [(root, 0)]
        while stack:  # iterative: a long chain must not hit Python's recursion limit
            node, k = stack[-1]
            if k == len(out[node]):
                state[node] = 2
                stack.pop()
                continue
            stack[-1] = (node, k + 1)
            child = out[node][k]
            if state[child] == 1:
                back.add((node, child))
            elif state[child] == 0:
                state[child] = 1
                stack.append((child, 0))
    return [e for e in edges if e not in back]


def _columns(n: int, dag: list[tuple[int, int]]) -> list[int]:
    """Longest path from a root, in topological order (Kahn); hops on no edge go last."""
    out: list[list[int]] = [[] for _ in range(n)]
    indegree = [0] * n
    for a, b in dag:
        out[a].append(b)
        indegree[b] += 1
    column = [0] * n
    ready = [i for i in range(n) if indegree[i] == 0]
    while ready:
        node = ready.pop()
        for child in out[node]:
            column[child] = max(column[child], column[node] + 1)
            indegree[child] -= 1
            if indegree[child] == 0:
                ready.append(child)
    linked = {a for a, _ in dag} | {b for _, b in dag}
    last = max((column[i] for i in linked), default=-1)
    for i in range(n):
        if i not in linked:
            column[i] = last + 1
    return column


def layout(result: ConnectivityResult) -> Layout:
    """Columns left to right; hops sharing a column spread on y, centred, ordered by the mean
    height of their parents (fewer crossings), then by the service's order.

    With no edges at all (a shape without nextHopIds) the hops are laid out in list order.
    """
    n = len(result.hops)
    edges = _edges(result)
    if not edges:
        return Layout(edges, list(range(n)), [0.0] * n)
    dag = _acyclic(n, edges)
    column = _columns(n, dag)
    parents: list[list[int]] = [[] for _ in range(n)]
    for a, b in dag:
        parents[b].append(a)
    members: dict[int, list[int]] = {}
    for i in range(n):
        members.setdefault(column[i], []).append(i)
    y = [0.0] * n
    for c in sorted(members):  # parents sit in earlier columns, so their heights are known
        def key(i: int) -> tuple[float, int]:
            ys = [y[p] for p in parents[i]]
            # Higher parents first (larger y is drawn higher), then the service's order.
            return (-(sum(ys) / len(ys)) if ys else 0.0, i)

        group = sorted(members[c], key=key)
        for k, i in enumerate(group):
            y[i] = (len(group) - 1) / 2 - k
    return Layout(edges, column, y)


def layers(result: ConnectivityResult) -> dict[str, int]:
    """Column per hop id (for results whose ids are unique; the figures use `layout`)."""
    lay = layout(result)
    return {hop.id: lay.column[i] for i, hop in enumerate(result.hops)}


def positions(result: ConnectivityResult) -> dict[str, tuple[float, float]]:
    """(x, y) per hop id (for results whose ids are unique; the figures use `layout`)."""
    lay = layout(result)
    return {hop.id: lay.point(i) for i, hop in enumerate(result.hops)}
