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

SECTIONS: Dict[str, str] = {
    "CLASSIFICATION_FUNCTION": f"""Args:
    logits: unnormalised class scores.
    target: class indices in ``[0, C)``.
    {_REDUCTION}

Shape:
    - logits: :math:`(N, C)`, floating point.
    - target: :math:`(N,)`, integer.
    {_OUTPUT}""",
    "CLASSIFICATION_MODULE": f"""Args:
    {_REDUCTION}

Shape:
    - input: :math:`(N, C)` logits; target: :math:`(N,)` class indices.
    {_OUTPUT}""",
    "BINARY_FUNCTION": f"""Args:
    input: logits (``from_logits=True``) or probabilities in ``[0, 1]``.
    target: labels in ``[0, 1]``, same shape.
    from_logits: whether ``input`` holds logits (apply a sigmoid) or probabilities.
    {_REDUCTION}

Shape:
    - input: :math:`(N)` or :math:`(N, *)`, floating point.
    - target: same shape as input, floating point.
    {_OUTPUT}""",
    "BINARY_MODULE": f"""Args:
    from_logits: ``True`` (default): the input holds logits; ``False``: probabilities in ``[0, 1]``.
    {_REDUCTION}

Shape:
    - input: :math:`(N)` or :math:`(N, *)`; target: same shape, values in ``[0, 1]``.
    {_OUTPUT}""",
    "REGRESSION_FUNCTION": f"""Args:
    pred: predictions.
    target: targets, same shape.
    {_REDUCTION}

Shape:
    - pred: :math:`(N)` or :math:`(N, *)`, floating point.
    - target: same shape as pred, floating point.
    {_OUTPUT}""",
    "REGRESSION_MODULE": f"""Args:
    {_REDUCTION}

Shape:
    - input: :math:`(N)` or :math:`(N, *)`; target: same shape.
    {_OUTPUT}""",
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
