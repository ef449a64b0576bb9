"""Sphinx configuration of the documentation site: ``make docs`` builds it into ``docs/_build/html``."""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "plugins"), str(ROOT / "adapters")]

project = "stochastic-loss"
author = "the stochastic-loss developers"
copyright = "2026, the stochastic-loss developers"

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "sphinx.ext.napoleon",
    "sphinx.ext.viewcode",
]
source_suffix = {".md": "markdown", ".rst": "restructuredtext"}
exclude_patterns = ["_build", "architecture.txt"]
html_theme = "furo"
html_title = "stochastic-loss"

myst_heading_anchors = 4
myst_enable_extensions = ["dollarmath"]

autosummary_generate = True
# Each object is documented where it is defined, not again where a package re-exports it.
autodoc_default_options = {"members": True, "show-inheritance": True, "ignore-module-all": True}
autodoc_typehints = "description"
autodoc_member_order = "bysource"
napoleon_google_docstring = True
napoleon_numpy_docstring = False

# The docstrings' examples run under pytest's --doctest-modules (they use their modules' globals,
# which Sphinx's doctest builder does not give them); tests/test_docs.py runs the pages' Python.
