"""Which part of a :class:`slf.StochasticLoss` each option belongs to.

A StochasticLoss is built from parts, each given as one argument: the ``sampler`` (a
:class:`slf.sampler.GumbelSampler` or a dict of its options), the ``decision`` (``'mlp'``,
``'global'``, a module, or a dict with ``type`` and its options), the ``normalization``
(``None``, ``'mean'`` or a dict) and the ``learner`` (a dict of the mode's options). Each
part option also has a flat keyword of its own (``num_samples=3``, ``normalize='mean'``,
``held_out=...``), the form configs use (an mmdet loss dict, the command line) and code
written before the parts did; :func:`route_options` sends every flat keyword to the part
that owns it, so both forms build the same loss:

.. code-block:: python

    StochasticLoss(names, mode="joint", sampler=dict(num_samples=5, tau=0.5))
    StochasticLoss(names, mode="joint", num_samples=5, tau=0.5)  # the same loss

Example:
    >>> parts, loss_options = route_options({"num_samples": 5, "normalize": "mean", "fused": False},
    ...                                     {"sampler": {"tau": 0.5}})
    >>> parts["sampler"], parts["normalization"], loss_options
    ({'tau': 0.5, 'num_samples': 5}, {'kind': 'mean'}, {'fused': False})
"""

from __future__ import annotations

from typing import Any, Dict, Mapping, Optional, Tuple

# part -> {flat keyword: the part's own option name}
PART_OPTIONS: Dict[str, Dict[str, str]] = {
    "sampler": {name: name for name in ("num_samples", "tau", "tau_schedule", "tau_decay", "tau_min", "hard", "seed")},
    "decision": {
        "decision_hidden": "hidden",
        "decision_reads_losses": "reads_losses",
        "selection": "selection",
        "prior": "prior",
    },
    "normalization": {"normalize": "kind", "normalize_momentum": "momentum"},
    "learner": {
        name: name
        for name in (
            "held_out",
            "alignment",
            "last_layer",
            "decision_lr",
            "lookahead",
            "lookahead_lr",
            "hypergradient",
            "validation_interval",
        )
    },
}
# Options of the loss as a whole (how its candidates run and how often it writes history).
LOSS_OPTIONS = ("fused", "compile", "history_interval")
FLAT_OPTIONS: Tuple[str, ...] = tuple(flat for owned in PART_OPTIONS.values() for flat in owned) + LOSS_OPTIONS


def part_option_names(part: str) -> Tuple[str, ...]:
    """The option names a part's dict accepts, e.g. ``part_option_names('normalization')``."""
    return tuple(PART_OPTIONS[part].values())


def route_options(
    options: Mapping[str, Any], parts: Mapping[str, Optional[Mapping[str, Any]]]
) -> Tuple[Dict[str, Dict[str, Any]], Dict[str, Any]]:
    """Merge the flat keywords ``options`` into the parts' dicts ``parts``.

    Returns ``(part -> its options, the loss's own options)``. A keyword that no part owns,
    a part dict key the part does not take, or one option given both ways is an error that
    names the valid choices.
    """
    routed: Dict[str, Dict[str, Any]] = {}
    for part, owned in PART_OPTIONS.items():
        given = dict(parts.get(part) or {})
        unknown = sorted(set(given) - set(owned.values()))
        if unknown:
            raise TypeError(
                f"{part} options {unknown} are not options of the {part}; valid: {', '.join(owned.values())}"
            )
        routed[part] = given
    loss_options: Dict[str, Any] = {}
    for flat, value in options.items():
        if flat in LOSS_OPTIONS:
            loss_options[flat] = value
            continue
        owner = next((part for part, owned in PART_OPTIONS.items() if flat in owned), None)
        if owner is None:
            raise TypeError(
                f"StochasticLoss got an unexpected option {flat!r}; valid flat options: {', '.join(FLAT_OPTIONS)}"
            )
        name = PART_OPTIONS[owner][flat]
        if name in routed[owner]:
            raise TypeError(f"{flat!r} was given twice: as {flat}= and inside {owner}=; keep one")
        routed[owner][name] = value
    return routed, loss_options
