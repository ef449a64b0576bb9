"""Docstring sections that many losses of the registry share, written once.

A loss's docstring holds a line ``{NAME}`` where a shared section goes; :func:`shared_sections`
(a decorator for a loss function or class) puts :data:`SECTIONS` ``[NAME]`` there, indented like
the line, so ``help()``, the docs and the doctests see the whole text.

Example:
    >>> @shared_sections
    ... def loss(pred, target, reduction="mean"):
    ...     '''Some loss.
    ...
    ...     {REGRESSION_FUNCTION}
    ...     '''
    >>> "- pred: :math:`(N)` or :math:`(N, *)`, floating point." in loss.__doc__
    True
"""

from __future__ import annotations

import re
from typing import Dict, TypeVar

_REDUCTION = "reduction: ``'none'`` | ``'mean'`` | ``'sum'``."
_OUTPUT = "- output: :math:`(N,)` for ``'none'``, else a scalar."


def _shape(*lines: str) -> str:
    return "\n".join(("Shape:", *(f"    {line}" for line in lines), f"    {_OUTPUT}"))


def _args(*lines: str) -> str:
    return "\n".join(("Args:", *(f"    {line}" for line in lines), f"    {_REDUCTION}"))


# "Shape:" sections by what the loss reads; *_MODULE: the nn.Module's shorter form.
SHAPES: Dict[str, str] = {
    "CLASSIFICATION_SHAPE": _shape("- logits: :math:`(N, C)`, floating point.", "- target: :math:`(N,)`, integer."),
    "CLASSIFICATION_MODULE_SHAPE": _shape("- input: :math:`(N, C)` logits; target: :math:`(N,)` class indices."),
    "TWO_CLASS_SHAPE": _shape(
        "- logits: :math:`(N, C)` with :math:`C \\geq 2`, floating point.", "- target: :math:`(N,)`, integer."
    ),
    "TWO_CLASS_MODULE_SHAPE": _shape(
        "- input: :math:`(N, C)` logits, :math:`C \\geq 2`; target: :math:`(N,)` class indices."
    ),
    "FEATURES_MODULE_SHAPE": _shape("- input: :math:`(N, D)` features; target: :math:`(N,)` class indices."),
    "BINARY_SHAPE": _shape(
        "- input: :math:`(N)` or :math:`(N, *)`, floating point.", "- target: same shape as input, floating point."
    ),
    "BINARY_MODULE_SHAPE": _shape("- input: :math:`(N)` or :math:`(N, *)`; target: same shape, values in ``[0, 1]``."),
    "REGRESSION_SHAPE": _shape(
        "- pred: :math:`(N)` or :math:`(N, *)`, floating point.", "- target: same shape as pred, floating point."
    ),
    "REGRESSION_MODULE_SHAPE": _shape("- input: :math:`(N)` or :math:`(N, *)`; target: same shape."),
    "GAN_SHAPE": _shape(
        "- fake_scores: :math:`(N)` or :math:`(N, 1)`, floating point.",
        "- real_scores: same number of samples :math:`N`, :math:`(N)` or :math:`(N, 1)`.",
    ),
    "GAN_LOGITS_MODULE_SHAPE": _shape("- fake_scores, real_scores: :math:`(N)` or :math:`(N, 1)` logits."),
    "GAN_SCORES_MODULE_SHAPE": _shape("- fake_scores, real_scores: :math:`(N)` or :math:`(N, 1)` raw scores."),
    "SEGMENTATION_SHAPE": _shape(
        "- input: :math:`(N, C, *spatial)` with :math:`C \\ge 2`; target: :math:`(N, *spatial)`."
    ),
    "SEGMENTATION_MODULE_SHAPE": _shape(
        "- input: :math:`(N, C, *spatial)` scores; target: :math:`(N, *spatial)` labels."
    ),
}
_BINARY_INPUT = "input: logits (``from_logits=True``) or probabilities in ``[0, 1]``."
SECTIONS: Dict[str, str] = {
    **SHAPES,
    "CLASSIFICATION_FUNCTION": _args("logits: unnormalised class scores.", "target: class indices in ``[0, C)``.")
    + "\n\n"
    + SHAPES["CLASSIFICATION_SHAPE"],
    "CLASSIFICATION_MODULE": _args() + "\n\n" + SHAPES["CLASSIFICATION_MODULE_SHAPE"],
    "BINARY_FUNCTION": _args(
        _BINARY_INPUT,
        "target: labels in ``[0, 1]``, same shape.",
        "from_logits: whether ``input`` holds logits (apply a sigmoid) or probabilities.",
    )
    + "\n\n"
    + SHAPES["BINARY_SHAPE"],
    "BINARY_MODULE": _args(
        "from_logits: ``True`` (default): the input holds logits; ``False``: probabilities in ``[0, 1]``."
    )
    + "\n\n"
    + SHAPES["BINARY_MODULE_SHAPE"],
    "REGRESSION_FUNCTION": _args("pred: predictions.", "target: targets, same shape.")
    + "\n\n"
    + SHAPES["REGRESSION_SHAPE"],
    "REGRESSION_MODULE": _args() + "\n\n" + SHAPES["REGRESSION_MODULE_SHAPE"],
}

Documented = TypeVar("Documented")
_PLACEHOLDER = re.compile(r"^( *)\{([A-Z_]+)\}$", re.MULTILINE)


def shared_sections(documented: Documented) -> Documented:
    """Fill the ``{NAME}`` lines of ``documented.__doc__`` from :data:`SECTIONS`."""

    def fill(match: "re.Match[str]") -> str:
        indent, name = match.groups()
        if name not in SECTIONS:
            raise KeyError(f"no shared docstring section {name!r}; known: {', '.join(SECTIONS)}")
        return "\n".join(indent + line if line else "" for line in SECTIONS[name].split("\n"))

    if documented.__doc__:
        documented.__doc__ = _PLACEHOLDER.sub(fill, documented.__doc__)
    return documented
