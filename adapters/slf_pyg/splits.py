r"""Train / validation / test splits of a molecule set: random, or by Bemis-Murcko scaffold.

A **random** split permutes the molecules with a seed. A **scaffold** split (Bemis &
Murcko 1996, as in DeepChem and MoleculeNet) groups molecules by the SMILES of their
Murcko scaffold, the ring systems and the linkers between them, and puts whole groups
into one split: the groups are taken largest first (ties by first appearance) and each
goes to train while train stays within :math:`f_{train} N`, else to validation while that
stays within :math:`(f_{train} + f_{val}) N`, else to test. The test set then holds
chemotypes the model never saw, which is harder than a random split and closer to how a
QSAR model is used. Molecules without rings share the empty scaffold. A scaffold split
is deterministic; a seed changes only the model.

Example:
    >>> smiles = ["c1ccccc1O", "c1ccccc1N", "C1CCCCC1O", "CCO", "CCN", "c1ccncc1C"]
    >>> train, val, test = scaffold_split(smiles, (0.5, 0.25, 0.25))
    >>> train, val, test
    ([0, 1, 2], [3, 4], [5])
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["SPLITS", "murcko_scaffold", "random_split", "scaffold_split", "split_indices"]

SPLITS = ("scaffold", "random")


def _check_fractions(fractions: Sequence[float]) -> tuple[float, float, float]:
    if len(fractions) != 3 or any(not (isinstance(f, (int, float)) and f >= 0) for f in fractions):
        raise ValueError(f"split fractions must be three numbers >= 0 (train, val, test), got {tuple(fractions)}")
    total = float(sum(fractions))
    if not abs(total - 1.0) < 1e-6:
        raise ValueError(f"split fractions must sum to 1, got {tuple(fractions)} (sum {total:g})")
    if fractions[0] <= 0:
        raise ValueError(f"the training fraction must be > 0, got {fractions[0]}")
    return float(fractions[0]), float(fractions[1]), float(fractions[2])


def murcko_scaffold(smiles: str) -> str:
    """The canonical SMILES of the molecule's Bemis-Murcko scaffold ('' for acyclic molecules).

    Raises:
        ValueError: rdkit cannot parse ``smiles``.

    Example:
        >>> murcko_scaffold("Cc1ccccc1CCN"), murcko_scaffold("CCO")
        ('c1ccccc1', '')
    """
    from rdkit import Chem
    from rdkit.Chem.Scaffolds import MurckoScaffold

    mol = Chem.MolFromSmiles(smiles)
    if mol is None:
        raise ValueError(f"rdkit cannot parse SMILES {smiles!r}")
    return MurckoScaffold.MurckoScaffoldSmiles(mol=mol, includeChirality=False)


def scaffold_split(
    smiles: Sequence[str], fractions: Sequence[float] = (0.8, 0.1, 0.1)
) -> tuple[list[int], list[int], list[int]]:
    """Indices of the train, validation and test molecules, whole scaffold groups per split.

    Args:
        smiles: one SMILES per molecule.
        fractions: ``(train, val, test)``, summing to 1.

    Returns:
        three sorted index lists that partition ``range(len(smiles))``.

    Raises:
        ValueError: bad fractions, or a SMILES that rdkit cannot parse (the message names its row).
    """
    train_frac, val_frac, _ = _check_fractions(fractions)
    groups: dict[str, list[int]] = {}
    for row, smi in enumerate(smiles):
        try:
            groups.setdefault(murcko_scaffold(smi), []).append(row)
        except ValueError as error:
            raise ValueError(f"row {row}: {error}") from None
    ordered = sorted(groups.values(), key=lambda group: (-len(group), group[0]))
    n = len(smiles)
    train_cut, val_cut = train_frac * n, (train_frac + val_frac) * n
    train: list[int] = []
    val: list[int] = []
    test: list[int] = []
    for group in ordered:
        if len(train) + len(group) <= train_cut:
            train.extend(group)
        elif len(train) + len(val) + len(group) <= val_cut:
            val.extend(group)
        else:
            test.extend(group)
    return sorted(train), sorted(val), sorted(test)


def random_split(
    num: int, fractions: Sequence[float] = (0.8, 0.1, 0.1), seed: int = 0
) -> tuple[list[int], list[int], list[int]]:
    """A seeded random partition of ``range(num)`` into train, validation and test.

    Sizes are ``round(f_val * num)`` and ``round(f_test * num)``; train takes the rest.

    Example:
        >>> [len(part) for part in random_split(10, (0.6, 0.2, 0.2), seed=1)]
        [6, 2, 2]
    """
    _, val_frac, test_frac = _check_fractions(fractions)
    if num < 1:
        raise ValueError(f"cannot split {num} molecules")
    order = np.random.default_rng(seed).permutation(num).tolist()
    n_val, n_test = round(val_frac * num), round(test_frac * num)
    n_train = num - n_val - n_test
    return sorted(order[:n_train]), sorted(order[n_train : n_train + n_val]), sorted(order[n_train + n_val :])


def split_indices(
    kind: str, smiles: Sequence[str] | None, num: int, fractions: Sequence[float] = (0.8, 0.1, 0.1), seed: int = 0
) -> tuple[list[int], list[int], list[int]]:
    """:func:`scaffold_split` or :func:`random_split` by name.

    Raises:
        ValueError: unknown ``kind`` (the message lists the valid ones), or a scaffold split
            of data without SMILES (descriptor signals).

    Example:
        >>> split_indices("stratified", None, 10)
        Traceback (most recent call last):
        ...
        ValueError: unknown split 'stratified'; valid choices: ['scaffold', 'random']
    """
    if kind not in SPLITS:
        raise ValueError(f"unknown split {kind!r}; valid choices: {list(SPLITS)}")
    if kind == "random":
        return random_split(num, fractions, seed)
    if smiles is None:
        raise ValueError("a scaffold split needs SMILES; this data set has none (use split='random')")
    return scaffold_split(smiles, fractions)
