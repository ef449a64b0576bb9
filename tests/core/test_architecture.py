"""The core's shape: it imports no adapter, no two of its modules import each other (directly or round
a longer circle, counting imports inside functions and under TYPE_CHECKING too), no file of it is longer
than 450 lines and no public constructor takes more than 12 arguments."""

from __future__ import annotations

import importlib
import importlib.util
import inspect
from pathlib import Path
from types import ModuleType
from typing import Dict, Set

import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import connected_components

ROOT = Path(__file__).resolve().parents[2]
CORE = ROOT / "plugins" / "slf"


def _architecture() -> ModuleType:
    """``docs/architecture.py``: the import analysis behind the docs' picture, shared with these tests."""
    spec = importlib.util.spec_from_file_location("architecture", ROOT / "docs" / "architecture.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


ARCHITECTURE = _architecture()


def _module_files() -> Dict[str, Path]:
    return ARCHITECTURE.module_files(CORE, "slf")


def _imports(module: str, path: Path, known: Set[str]) -> Set[str]:
    return ARCHITECTURE.imported_modules(module, path, known)


def test_the_core_imports_no_adapter():
    files = _module_files()
    offenders = {
        module: sorted(name for name in _imports(module, path, set(files)) if name.startswith("slf_"))
        for module, path in files.items()
    }
    assert {module: names for module, names in offenders.items() if names} == {}


def test_no_circle_of_imports_in_the_core():
    files = _module_files()
    names = sorted(files)
    index = {name: i for i, name in enumerate(names)}
    edges = [
        (index[module], index[target])
        for module in names
        for target in _imports(module, files[module], set(files))
        # a package and its own submodules load one another by design
        if target in index and not (module + ".").startswith(target + ".") and not target.startswith(module + ".")
    ]
    rows, cols = zip(*edges)
    graph = csr_matrix((np.ones(len(edges)), (rows, cols)), shape=(len(names), len(names)))
    _, labels = connected_components(graph, directed=True, connection="strong")
    circles = [
        sorted(name for name, label in zip(names, labels) if label == group)
        for group in set(labels.tolist())
        if (labels == group).sum() > 1
    ]
    assert circles == []


def _explicit_parameters(callable_: object) -> int:
    parameters = inspect.signature(callable_).parameters.values()
    return sum(1 for p in parameters if p.name != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD))


def test_no_file_of_the_core_is_longer_than_450_lines():
    lengths = {
        path.relative_to(ROOT).as_posix(): len(path.read_text().splitlines()) for path in _module_files().values()
    }
    assert lengths and max(lengths.values()) <= 450, sorted(lengths.items(), key=lambda item: -item[1])[:3]


def test_no_public_constructor_of_the_core_takes_more_than_twelve_arguments():
    """Parts take their own options; configuration records (``*Config`` dataclasses) are tables, not constructors."""
    too_many = {}
    for module_name in _module_files():
        if module_name.endswith("__main__"):
            continue
        module = importlib.import_module(module_name)
        for name, cls in vars(module).items():
            if (
                inspect.isclass(cls)
                and cls.__module__ == module_name
                and not name.startswith("_")
                and not name.endswith("Config")
                and _explicit_parameters(cls.__init__) > 12
            ):
                too_many[f"{module_name}.{name}"] = _explicit_parameters(cls.__init__)
    assert "slf.stochastic_loss" in _module_files()
    assert not too_many, f"constructors with more than 12 arguments: {too_many}"


def test_the_readme_picture_of_the_imports_is_current(tmp_path):
    graph = ARCHITECTURE.import_graph()
    assert ("stochastic_loss", "align_mode") in graph.edges and ("slf_mmdet", "slf (package)") in graph.edges
    assert not any(target.startswith("slf_") for _, target in graph.edges)  # nothing imports an adapter
    written = ARCHITECTURE.EDGES_FILE.read_text(encoding="utf-8")
    assert written == ARCHITECTURE.edge_lines(graph), "imports changed: run python docs/architecture.py"
    picture = ARCHITECTURE.draw(graph, tmp_path / "architecture.png")
    assert picture.read_bytes().startswith(b"\x89PNG") and ARCHITECTURE.PICTURE.is_file()
