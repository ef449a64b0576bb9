"""What one ``slf classify`` run trains: data, model, loss (registry loss, baseline, SLF or MILS),
optimiser and budget, checked when the configuration is made."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Dict, Optional, Tuple

from ..data import NOISE_TYPES
from ..stochastic_loss import DEFAULT_MODE
from ..stochastic_loss import MODES as SLF_MODES
from .settings import TrainingSettings

PAPER_CANDIDATES: Tuple[str, ...] = ("ce", "mse", "mae", "hinge", "cosine", "bce")
MILS_RULES = ("not_worse", "better", "always")
OPTIMIZERS = TrainingSettings.optimizers


@dataclass
class ClassifyConfig(TrainingSettings):
    """Everything one classification run needs; stored verbatim in ``results.json``.

    The optimiser, seed, device and threads are the fields of :class:`~slf.train.settings.TrainingSettings`.

    Attributes:
        data: ``'mnist5k'``, ``'digits'``, ``'cifar10:PATH'``, ``'cifar100:PATH'`` or ``'csv:PATH'``
            (a table; data built in Python is passed to ``train_classifier(cfg, data=...)`` instead,
            and this names it in the results).
        label_column: a CSV's label column (``None``: its last column).
        feature_columns: a CSV's feature columns (``None``: all but the label).
        model: ``'mlp'``, ``'lenet'``, ``'resnet8'``, ``'resnet20'`` or ``'resnet32'``.
        loss: a registry name (``slf.losses.available('classification')``, baselines
            such as ``large_margin_softmax`` included), ``'slf'`` or ``'mils'``.
        slf_mode: ``'align'`` (the default recipe: gradient alignment with the validation
            split, :mod:`slf.alignment`), ``'joint'`` (Algorithm 1 as written), ``'softmax'``
            (SLF-Softmax) or ``'validation'`` (decision network learned on held-out batches).
        slf_candidates: candidate loss names (default: the paper's six).
        slf_samples: K, the number of Gumbel-Softmax samples averaged.
        slf_tau: Gumbel-Softmax temperature.
        slf_decision_lr: learning rate of the decision network's own optimizer
            (validation mode; ``None`` keeps StochasticLoss's default).
        slf_options: further ``StochasticLoss`` keyword arguments, e.g. ``{'normalize': 'mean'}``.
        loss_options: keyword arguments for a registry loss, e.g. ``{'gamma': 2.0}``.
        extra_losses: further registry losses added to ``loss`` with fixed weights,
            e.g. ``{'center': 0.01}`` trains on ``loss + 0.01 * center``
            (feature losses read ``model.features(x)``; their parameters join the optimizer).
        mils_primary: MILS's primary loss (``loss='mils'``).
        mils_aux: MILS's auxiliary losses.
        mils_rate: MILS's participation rate r in [0, 1].
        mils_obs_size: size of MILS's observation set, drawn from the training split (with its
            noisy labels when ``label_noise > 0``: MILS judges on the labels it trains on).
        mils_rule: ``'not_worse'``, ``'better'`` or ``'always'`` (no accept test: the ablation).
        mils_aux_weights: sampling weights of the auxiliaries (``None``: uniform).
        batch_size: training batch size (also the held-out batch size in validation mode).
        epochs: passes over the training split.
        data_seed: seed of the data split (``None``: the run's seed).
        val_size: validation samples (``None``: the data set's default).
        test_size: test samples (``None``: the data set's default).
        max_train_samples: cap on training samples, a stratified subset (``None``: all).
        eval_batch_size: batch size for accuracy evaluation.
        label_noise: fraction in [0, 1) of the *training* labels flipped, exactly
            ``round(label_noise * N)`` of them (:func:`slf.data.corrupt_labels`); validation and
            test labels stay clean, so model selection and SLF's validation mode see clean data.
        noise_type: ``'symmetric'`` (a flipped label goes to a uniformly random other class) or
            ``'pairflip'`` (class c goes to c + 1 mod C).
        noise_seed: seed of the label flips (``None``: the run's seed).

    Example:
        >>> cfg = ClassifyConfig(loss="slf", slf_mode="joint", epochs=1)
        >>> cfg.method
        'slf-joint'
    """

    data: str = "mnist5k"
    label_column: Optional[str] = None
    feature_columns: Optional[Tuple[str, ...]] = None
    model: str = "mlp"
    loss: str = "ce"
    slf_mode: str = DEFAULT_MODE
    slf_candidates: Tuple[str, ...] = PAPER_CANDIDATES
    slf_samples: int = 3
    slf_tau: float = 1.0
    slf_decision_lr: Optional[float] = None
    slf_options: Dict[str, Any] = field(default_factory=dict)
    loss_options: Dict[str, Any] = field(default_factory=dict)
    extra_losses: Dict[str, float] = field(default_factory=dict)
    mils_primary: str = "ce"
    mils_aux: Tuple[str, ...] = ("multi_margin",)
    mils_rate: float = 0.01
    mils_obs_size: int = 128
    mils_rule: str = "not_worse"
    mils_aux_weights: Optional[Tuple[float, ...]] = None
    batch_size: int = 128
    epochs: int = 10
    data_seed: Optional[int] = None
    val_size: Optional[int] = None
    test_size: Optional[int] = None
    max_train_samples: Optional[int] = None
    eval_batch_size: int = 1000
    label_noise: float = 0.0
    noise_type: str = "symmetric"
    noise_seed: Optional[int] = None

    def __post_init__(self) -> None:
        self.slf_candidates = tuple(self.slf_candidates)
        if self.feature_columns is not None:
            self.feature_columns = (
                (self.feature_columns,) if isinstance(self.feature_columns, str) else tuple(self.feature_columns)
            )
        self.mils_aux = (self.mils_aux,) if isinstance(self.mils_aux, str) else tuple(self.mils_aux)
        if self.mils_aux_weights is not None:
            self.mils_aux_weights = tuple(float(w) for w in self.mils_aux_weights)
        if not 0.0 <= self.mils_rate <= 1.0:
            raise ValueError(f"mils_rate must be a number in [0, 1], got {self.mils_rate}")
        if self.mils_rule not in MILS_RULES:
            raise ValueError(f"mils_rule must be one of {list(MILS_RULES)}, got {self.mils_rule!r}")
        if self.mils_obs_size < 1:
            raise ValueError(f"mils_obs_size must be >= 1, got {self.mils_obs_size}")
        if self.is_mils and not self.mils_aux:
            raise ValueError("mils_aux must name at least one auxiliary loss")
        for name, weight in self.extra_losses.items():
            if not (isinstance(weight, (int, float)) and math.isfinite(weight)):
                raise ValueError(f"extra_losses[{name!r}] must be a finite number, got {weight!r}")
        self.check_training_settings()
        if self.slf_mode not in SLF_MODES:
            raise ValueError(f"slf_mode must be one of {list(SLF_MODES)}, got {self.slf_mode!r}")
        for name, value in (
            ("epochs", self.epochs),
            ("batch_size", self.batch_size),
            ("slf_samples", self.slf_samples),
            ("eval_batch_size", self.eval_batch_size),
        ):
            if value < 1:
                raise ValueError(f"{name} must be >= 1, got {value}")
        if self.noise_type not in NOISE_TYPES:
            raise ValueError(f"noise_type must be one of {list(NOISE_TYPES)}, got {self.noise_type!r}")
        if not 0.0 <= self.label_noise < 1.0:
            raise ValueError(f"label_noise must be a number in [0, 1), got {self.label_noise}")

    @property
    def method(self) -> str:
        """A short label: the loss name, ``slf-<mode>`` (with ``+normalize``, ``+cosine``,
        ``+per-sample``, ``+reads-losses`` for those options) or
        ``mils-<primary>+<aux>...`` (``-<rule>`` unless ``not_worse``)."""
        if self.is_mils:
            label = f"mils-{self.mils_primary}+" + "+".join(self.mils_aux)
            return label + ("" if self.mils_rule == "not_worse" else f"-{self.mils_rule}")
        if not self.is_slf:
            return self.loss + "".join(f"+{weight:g}*{name}" for name, weight in self.extra_losses.items())
        options = self.slf_options
        return (
            f"slf-{self.slf_mode}"
            + ("+normalize" if options.get("normalize") else "")
            + ("+cosine" if options.get("hypergradient") == "cosine" else "")
            + ("+per-sample" if options.get("selection") == "sample" else "")
            + ("+reads-losses" if options.get("decision_reads_losses") else "")
        )

    @property
    def is_slf(self) -> bool:
        return self.loss == "slf"

    @property
    def is_mils(self) -> bool:
        return self.loss == "mils"
