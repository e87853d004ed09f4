"""A coupling map as a drawn graph: node positions from rustworkx's spring layout (seeded, so a map
always looks the same) scaled into an SVG box, drawn by ``templates/backends/_coupling_map.html``.

A layout depends only on the map, so each is computed once per process.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

WIDTH, HEIGHT, MARGIN = 640, 420, 24
# Past this many qubits a drawn map is a hairball; the page lists the edges instead.
MAX_DRAWN_QUBITS = 500


def coupling_graph(edges: list[list[int]] | None) -> dict[str, Any] | None:
    """Nodes (qubits) and edges of a coupling map with their positions; None when there is no map
    (all-to-all) or it is too large to draw. A pair coupled both ways is one edge, ``both`` true."""
    if not edges:
        return None
    pairs = tuple(sorted({(int(a), int(b)) for a, b in edges}))
    if max(max(pair) for pair in pairs) >= MAX_DRAWN_QUBITS:
        return None
    return _layout(pairs)


@lru_cache(maxsize=64)
def _layout(pairs: tuple[tuple[int, int], ...]) -> dict[str, Any]:
    import rustworkx

    size = max(max(pair) for pair in pairs) + 1
    graph = rustworkx.PyGraph()
    graph.add_nodes_from(range(size))
    directed = set(pairs)
    undirected = {(min(a, b), max(a, b)): (b, a) in directed for a, b in pairs if a != b}
    graph.add_edges_from_no_data(list(undirected))
    positions = rustworkx.spring_layout(graph, seed=1, num_iter=200)
    xs = [positions[n][0] for n in range(size)]
    ys = [positions[n][1] for n in range(size)]
    span_x, span_y = (max(xs) - min(xs)) or 1, (max(ys) - min(ys)) or 1

    def place(n: int) -> tuple[float, float]:
        return (
            round(MARGIN + (positions[n][0] - min(xs)) / span_x * (WIDTH - 2 * MARGIN), 1),
            round(MARGIN + (positions[n][1] - min(ys)) / span_y * (HEIGHT - 2 * MARGIN), 1),
        )

    nodes = [{"qubit": n, "x": place(n)[0], "y": place(n)[1]} for n in range(size)]
    lines = [
        {"a": a, "b": b, "x1": place(a)[0], "y1": place(a)[1], "x2": place(b)[0], "y2": place(b)[1], "both": both}
        for (a, b), both in sorted(undirected.items())
    ]
    return {"nodes": nodes, "edges": lines, "width": WIDTH, "height": HEIGHT, "num_qubits": size}
