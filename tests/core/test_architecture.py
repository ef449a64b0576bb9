"""The core's shape: it imports no adapter, and no two of its modules import each other (directly or round
a longer circle), counting imports inside functions and under TYPE_CHECKING too."""
from __future__ import annotations

import ast
import importlib
import inspect
from pathlib import Path
from typing import Dict, Set

import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import connected_components

CORE = Path(__file__).resolve().parents[2] / "plugins" / "slf"


def _module_files() -> Dict[str, Path]:
    files = {}
    for path in CORE.rglob("*.py"):
        parts = ("slf", *path.relative_to(CORE).with_suffix("").parts)
        files[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return files


def _imports(module: str, path: Path, known: Set[str]) -> Set[str]:
    """Every module ``module`` imports: ``from .a import b`` names ``slf.a.b`` where that is a module."""
    package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package[:len(package) - node.level + 1] if node.level else []
            source = ".".join(base + ([node.module] if node.module else []))
            for alias in node.names:
                found.add(f"{source}.{alias.name}" if f"{source}.{alias.name}" in known else source)
    return found


def test_the_core_imports_no_adapter():
    files = _module_files()
    offenders = {module: sorted(name for name in _imports(module, path, set(files)) if name.startswith("slf_"))
                 for module, path in files.items()}
    assert {module: names for module, names in offenders.items() if names} == {}


def test_no_circle_of_imports_in_the_core():
    files = _module_files()
    names = sorted(files)
    index = {name: i for i, name in enumerate(names)}
    edges = [(index[module], index[target]) for module in names
             for target in _imports(module, files[module], set(files))
             # a package and its own submodules load one another by design
             if target in index and not (module + ".").startswith(target + ".")
             and not target.startswith(module + ".")]
    rows, cols = zip(*edges)
    graph = csr_matrix((np.ones(len(edges)), (rows, cols)), shape=(len(names), len(names)))
    _, labels = connected_components(graph, directed=True, connection="strong")
    circles = [sorted(name for name, label in zip(names, labels) if label == group)
               for group in set(labels.tolist()) if (labels == group).sum() > 1]
    assert circles == []


def _explicit_parameters(callable_: object) -> int:
    parameters = inspect.signature(callable_).parameters.values()
    return sum(1 for p in parameters if p.name != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD))


def test_no_public_constructor_of_the_core_takes_more_than_twelve_arguments():
    """Parts take their own options; configuration records (``*Config`` dataclasses) are tables, not constructors."""
    too_many = {}
    for module_name in _module_files():
        if module_name.endswith("__main__"):
            continue
        module = importlib.import_module(module_name)
        for name, cls in vars(module).items():
            if (inspect.isclass(cls) and cls.__module__ == module_name and not name.startswith("_")
                    and not name.endswith("Config") and _explicit_parameters(cls.__init__) > 12):
                too_many[f"{module_name}.{name}"] = _explicit_parameters(cls.__init__)
    assert "slf.stochastic_loss" in _module_files()
    assert not too_many, f"constructors with more than 12 arguments: {too_many}"
