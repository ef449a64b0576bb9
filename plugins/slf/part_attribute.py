"""Read-only properties through which :class:`slf.StochasticLoss` shows what its parts hold."""

from __future__ import annotations

import operator
from typing import Any, Optional


def part_attribute(path: str, doc: str, *, when: Optional[type] = None, otherwise: Any = None) -> property:
    """A read-only property whose value is ``self.<path>``, a dotted path into one of the object's parts.

    With ``when``, the part (the path's first name) must be an instance of that type, else the
    property is ``otherwise``: a setting of one mode's learner reads ``None`` in the other modes.

    Args:
        path: e.g. ``'record.history'``.
        doc: the property's docstring.
        when: the type the part must have for the path to be read.
        otherwise: the value where it has another type.

    Example:
        >>> class Counter:
        ...     def __init__(self): self.steps = 3
        >>> class Loss:
        ...     def __init__(self, part): self.learner = part
        ...     steps = part_attribute("learner.steps", "Steps so far.", when=Counter)
        >>> Loss(Counter()).steps, Loss(object()).steps
        (3, None)
    """
    read = operator.attrgetter(path)
    part = operator.attrgetter(path.split(".")[0])

    def get(self: Any) -> Any:
        if when is not None and not isinstance(part(self), when):
            return otherwise
        return read(self)

    return property(get, doc=doc)
