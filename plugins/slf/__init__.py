"""stochastic-loss: learned loss selection (SLF, MILS) on one framework-free core.

Example:
    >>> from slf import MILS, StochasticLoss, losses
    >>> "ce" in losses.available("classification")
    True
"""

from . import losses
from .alignment import GradientAlignment
from .decision import DecisionMLP, GlobalDecision
from .held_out import HeldOut
from .mils import MILS
from .part_weighting import LossPartWeighting
from .stochastic_loss import PAPER_CANDIDATES, StochasticLoss

__version__ = "0.2.0"
__all__ = [
    "StochasticLoss",
    "HeldOut",
    "GradientAlignment",
    "MILS",
    "LossPartWeighting",
    "DecisionMLP",
    "GlobalDecision",
    "PAPER_CANDIDATES",
    "losses",
    "__version__",
]
