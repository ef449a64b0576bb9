"""The picture of the docs' "Architecture" page: the core's modules and every import between
them, with the adapters above (they import the core; the core imports none of them).

Read from the source with :mod:`ast` (imports inside functions and under ``TYPE_CHECKING``
count too); the core's subpackages (``losses/``, ``data/``, ``models/``, ``train/``) are one box
each. Each module stands one row above everything it imports, so every arrow points down.

    python docs/architecture.py     # writes docs/architecture.png and docs/architecture.txt

``docs/architecture.txt`` lists the same edges, one ``importer -> imported`` a line;
``tests/core/test_architecture.py`` checks that it is current.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path
from typing import Dict, List, Set, Tuple

import networkx as nx

ROOT = Path(__file__).resolve().parents[1]
CORE = ROOT / "plugins" / "slf"
ADAPTERS = ROOT / "adapters"
SUBPACKAGES = ("losses", "data", "models", "train")
EDGES_FILE = Path(__file__).with_name("architecture.txt")
PICTURE = Path(__file__).with_name("architecture.png")


def module_files(root: Path, package: str) -> Dict[str, Path]:
    """``{'slf.stochastic_loss': path, 'slf.losses': path of its __init__, ...}`` for a package folder."""
    files = {}
    for path in sorted(root.rglob("*.py")):
        parts = (package, *path.relative_to(root).with_suffix("").parts)
        files[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return files


def imported_modules(module: str, path: Path, known: Set[str]) -> Set[str]:
    """Every module ``module`` imports: ``from .a import b`` names ``slf.a.b`` where that is a module."""
    package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            source = ".".join(base + ([node.module] if node.module else []))
            for alias in node.names:
                found.add(f"{source}.{alias.name}" if f"{source}.{alias.name}" in known else source)
    return found


def _box(module: str) -> str:
    """The box a module is drawn in: ``slf.losses.binary.mae`` -> ``losses/``, ``slf.mils`` -> ``mils``."""
    parts = module.split(".")
    if parts[0] != "slf":
        return parts[0]
    if len(parts) == 1:
        return "slf (package)"
    return f"{parts[1]}/" if parts[1] in SUBPACKAGES else parts[1]


def import_graph() -> nx.DiGraph:
    """Boxes of the core and the adapters, an edge ``a -> b`` where a module of ``a`` imports one of ``b``."""
    core = module_files(CORE, "slf")
    graph = nx.DiGraph()
    graph.add_nodes_from(_box(module) for module in core if not module.endswith("__main__"))
    sources: List[Tuple[str, Path]] = list(core.items())
    for adapter in sorted(p for p in ADAPTERS.iterdir() if (p / "__init__.py").is_file()):
        graph.add_node(adapter.name)
        sources += [(module, path) for module, path in module_files(adapter, adapter.name).items()]
    for module, path in sources:
        if module.endswith("__main__"):
            continue
        for target in imported_modules(module, path, set(core)):
            if target in core:
                a, b = _box(module), _box(target)
                if a != b:
                    graph.add_edge(a, b)
    return graph


def edge_lines(graph: nx.DiGraph) -> str:
    return "".join(f"{a} -> {b}\n" for a, b in sorted(graph.edges))


def draw(graph: nx.DiGraph, path: Path) -> Path:
    """Layers from the top: what nothing imports, down to what imports nothing of the core."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    depth: Dict[str, int] = {}
    for node in reversed(list(nx.topological_sort(graph))):
        depth[node] = 1 + max((depth[t] for t in graph.successors(node)), default=-1)
    for node, value in depth.items():
        graph.nodes[node]["layer"] = value
    positions = nx.multipartite_layout(graph, subset_key="layer", align="horizontal", scale=10)
    widest = max(sum(1 for v in depth.values() if v == d) for d in set(depth.values()))
    fig, ax = plt.subplots(figsize=(max(14, 1.6 * widest), 2.2 * (max(depth.values()) + 1)))
    adapters = [n for n in graph if n.startswith("slf_")]
    colours = ["#f4c27a" if n in adapters else "#9cc3e6" for n in graph]
    nx.draw_networkx_edges(
        graph,
        positions,
        ax=ax,
        arrows=True,
        arrowsize=10,
        edge_color="#888888",
        width=0.6,
        node_size=2400,
        connectionstyle="arc3,rad=0.04",
    )
    nx.draw_networkx_nodes(graph, positions, ax=ax, node_color=colours, node_size=2400, node_shape="s")
    nx.draw_networkx_labels(graph, positions, ax=ax, font_size=7)
    ax.set_title(
        "stochastic-loss: the core's modules (blue) and the adapters (orange); "
        "an arrow a -> b: a imports b (every arrow points down)",
        fontsize=10,
    )
    ax.axis("off")
    fig.tight_layout()
    fig.savefig(path, dpi=72)
    plt.close(fig)
    return path


def main() -> None:
    graph = import_graph()
    if not nx.is_directed_acyclic_graph(graph):
        sys.exit(f"the core's imports have a circle: {nx.find_cycle(graph)}")
    EDGES_FILE.write_text(edge_lines(graph), encoding="utf-8")
    print(
        f"{draw(graph, PICTURE)} and {EDGES_FILE}: {graph.number_of_nodes()} boxes, {graph.number_of_edges()} imports"
    )


if __name__ == "__main__":
    main()
