"""What every plain trainer's configuration holds besides its data, model and loss: the
model's optimiser and the process the run is in (seed, device, CPU threads)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Optional, Tuple


@dataclass
class TrainingSettings:
    """The fields that ``slf classify``, ``slf graph`` and ``slf cluster`` configurations share;
    each configuration is a subclass and checks them with :meth:`check_training_settings`.

    Attributes:
        optimizer: the model's optimiser, one of ``optimizers`` (case is ignored).
        lr: its learning rate, > 0.
        momentum: SGD momentum.
        weight_decay: its L2 penalty, >= 0.
        seed: seeds torch, numpy and random for the run (and what the trainer draws with them:
            its batch order, a random split, an imbalanced subset, the loss's noise).
        device: torch device, e.g. ``'cpu'`` or ``'cuda'``.
        num_threads: CPU threads for torch (``None``: torch's default).

    Example:
        >>> settings = TrainingSettings(optimizer="SGD", lr=0.1)
        >>> settings.check_training_settings(); settings.optimizer
        'sgd'
        >>> TrainingSettings(optimizer="lbfgs").check_training_settings()
        Traceback (most recent call last):
        ...
        ValueError: optimizer must be one of ['adam', 'sgd'], got 'lbfgs'
    """

    optimizers: ClassVar[Tuple[str, ...]] = ("adam", "sgd")

    optimizer: str = "adam"
    lr: float = 1e-3
    momentum: float = 0.9
    weight_decay: float = 0.0
    seed: int = 0
    device: str = "cpu"
    num_threads: Optional[int] = None

    def check_training_settings(self) -> None:
        """Refuse an optimiser outside ``optimizers``, a learning rate <= 0, a negative weight decay
        or fewer than one thread; store the optimiser's name in lower case."""
        if not isinstance(self.optimizer, str) or self.optimizer.lower() not in self.optimizers:
            raise ValueError(f"optimizer must be one of {list(self.optimizers)}, got {self.optimizer!r}")
        self.optimizer = self.optimizer.lower()
        if not self.lr > 0:
            raise ValueError(f"lr must be > 0, got {self.lr}")
        if not self.weight_decay >= 0:
            raise ValueError(f"weight_decay must be >= 0, got {self.weight_decay}")
        if self.num_threads is not None and self.num_threads < 1:
            raise ValueError(f"num_threads must be >= 1 or None (torch's default), got {self.num_threads}")
