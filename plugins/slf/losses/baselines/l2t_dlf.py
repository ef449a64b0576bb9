"""L2T-DLF, learning to teach with dynamic loss functions (Wu et al., NeurIPS 2018): ``l2t_dlf``, for
classification and regression.

A teacher sets the coefficients of a parametric loss from the student's state, and learns them
by reverse-mode differentiation through the student's updates, towards a smooth measure of the
student's error on held-out (development) data. What follows the authors and what is ours (their
paper's method section could not be read here; their public MNIST demo, which they say differs a
little from the paper, could):

- **The loss** (the demo's): :math:`\\ell(z, y) = -\\sigma\\big([\\log \\operatorname{softmax}(z)^\\top
  (W + h\\,W_2)]_y + b_y\\big)`, W a :math:`C \\times C` matrix starting at the identity, b, W_2 at zero.
- **The teacher** (the demo's dynamic form): :math:`h = 2 \\sigma(\\theta_1 t + \\theta_2 e + b_2) - 1`,
  from the student's state: its step t (divided by ``step_scale``) and its error e on the training
  batch. Its parameters :math:`\\phi = (W, b, W_2, \\theta, b_2)` are the teacher's; :math:`\\theta` starts
  from N(0, 1) (ours: at zero, with W_2 at zero, neither would ever move), b_2 at zero.
- **A large vocabulary** (ours): with ``coefficients='diagonal'`` W is its diagonal plus one value
  shared off it, :math:`W = \\operatorname{diag}(w) + \\tfrac{u}{C} \\mathbf{1}\\mathbf{1}^\\top` (and W_2
  alike), so the score is :math:`(w_y + h w_{2,y}) \\log p_y + (u + h u_2) \\overline{\\log p} + b_y`:
  3C + 2 parameters instead of :math:`2C^2 + C`, for a translation model's vocabulary
  (``--criterion l2t_dlf`` in fairseq), where a :math:`C \\times C` matrix would outweigh the model.
- **The teacher's objective** (the demo's): the held-out batch's smoothed error
  :math:`\\frac{1}{N} \\sum_n 2 \\sigma(k (\\max_c p_{nc} - p_{n y_n})) - 1`, k = 50.
- **The teacher's training** (ours): the authors train the teacher over whole episodes of student
  training, restarted from a student pretrained with cross-entropy, by reverse mode through every
  update of an episode. With one run's budget, as every method here has, the teacher learns
  online instead: before each student step, one Adam step (lr ``meta_lr``) on the objective after
  a one-step look-ahead :math:`w' = w - \\alpha \\nabla_w \\ell_\\phi` (:mod:`slf.unrolled_step`,
  :math:`\\alpha` = ``lookahead_lr``), reverse mode truncated to one update. As in the demo, the
  student first trains with cross-entropy (``pretrain_steps`` steps), the teacher waiting. With
  ``interval`` k the teacher updates on every k-th step only (a look-ahead costs about two steps).
- **Regression** (ours; the paper and the demo classify): the same form over the log-likelihoods of
  the residual r under Gaussian and Laplace noise, :math:`\\phi(r) = (r^2, |r|)`,
  :math:`\\ell(r) = \\sigma(b) - \\sigma\\big(b - (w + h\\,w_2)^\\top \\phi(r)\\big)`, averaged over the
  outputs, w starting at (1, 0) and b, :math:`w_2` at zero: a bounded loss, :math:`r^2/4` near zero and
  saturating where the residual is large (the constant :math:`\\sigma(b)` puts the minimum at 0 and
  changes no gradient of the student's). The teacher's state error is the training batch's MSE, its
  objective the held-out batch's MSE (smooth already, and R² is affine in it), and the student
  pretrains with MSE.
"""

from __future__ import annotations

from typing import Any, ClassVar, Dict, Optional

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ...unrolled_step import OnlineLookahead
from .._utils import check_positive, gather_target
from ..base import (
    BaseLoss,
    check_classification_inputs,
    check_reduction,
    check_same_shape_inputs,
    per_sample_mean,
    reduce_loss,
)
from ..registry import register

# The classification form's W: C x C, or its diagonal and one value shared off it.
COEFFICIENTS = ("full", "diagonal")


def smoothed_error(logits: Tensor, target: Tensor, sharpness: float = 50.0) -> Tensor:
    r"""A differentiable error rate: the mean of :math:`2 \sigma(k (\max_c p_c - p_y)) - 1` over the batch.

    0 where the target class has the largest probability by a wide margin, near 1 where
    another class leads it by one.

    Example:
        >>> smoothed_error(torch.tensor([[5.0, 0.0], [0.0, 5.0]]), torch.tensor([0, 0]))
        tensor(0.5000)
    """
    p = F.softmax(logits, dim=1)
    return (2 * torch.sigmoid(sharpness * (p.max(dim=1).values - gather_target(p, target))) - 1).mean()


class L2TDLFTeacher(BaseLoss):
    """What both tasks' L2T-DLF losses share: the teacher's state signal h, the student's pretraining
    steps and the teacher's online update (:meth:`meta_step`); see the module.

    Before each student step the trainer calls ``meta_step(model, x, y, held_x, held_y)`` with a
    held-out batch (``slf classify --loss l2t_dlf`` and ``slf graph --loss l2t_dlf`` do, from the
    validation split). The teacher's parameters are not the model's: leave them out of the model's
    optimiser.
    """

    minimum: ClassVar[Optional[float]] = None  # the teacher's coefficients may move below zero
    learns_online: ClassVar[bool] = True
    needs_held_out: ClassVar[bool] = True

    def __init__(
        self,
        meta_lr: float = 1e-3,
        lookahead_lr: float = 1e-3,
        pretrain_steps: int = 100,
        step_scale: float = 1000.0,
        reduction: str = "mean",
        interval: int = 1,
    ) -> None:
        super().__init__(reduction)
        for value, what, least in ((pretrain_steps, "pretrain_steps", 0), (interval, "interval", 1)):
            if not isinstance(value, int) or value < least:
                raise ValueError(f"{self.name}: {what} must be an integer >= {least}, got {value!r}")
        for value, what in ((meta_lr, "meta_lr"), (lookahead_lr, "lookahead_lr"), (step_scale, "step_scale")):
            check_positive(value, what, self.name)
        self.pretrain_steps, self.interval = pretrain_steps, interval
        self.meta_lr, self.lookahead_lr, self.step_scale = float(meta_lr), float(lookahead_lr), float(step_scale)
        # theta from N(0, 1) (torch's generator, which the trainers seed): at zero, with W_2 at zero, h would
        # stay 0 and neither would ever move (each one's gradient is proportional to the other).
        self.state_weight = nn.Parameter(torch.randn(2))
        self.state_bias = nn.Parameter(torch.zeros(()))
        self.steps = 0
        self.last_signal: Optional[Tensor] = None  # h of the last call of the teacher's loss
        self.online = OnlineLookahead(self.meta_lr)
        self.build_coefficients()

    def build_coefficients(self) -> None:
        """Make the student loss's coefficients, the teacher's parameters beside the state's (a task's own)."""

    @property
    def teaching(self) -> bool:
        """Whether the teacher's loss is on (after ``pretrain_steps`` student steps)."""
        return self.steps >= self.pretrain_steps

    def student_error(self, input: Tensor, target: Tensor) -> Tensor:  # pragma: no cover - abstract
        """The student's error on the training batch, the second entry of the teacher's state."""
        raise NotImplementedError

    def pretrain_loss(self, input: Tensor, target: Tensor) -> Tensor:  # pragma: no cover - abstract
        """The per-sample loss while the student pretrains (cross-entropy, MSE)."""
        raise NotImplementedError

    def taught_loss(self, input: Tensor, target: Tensor, signal: Tensor) -> Tensor:  # pragma: no cover
        """The per-sample loss the teacher sets, for its signal h."""
        raise NotImplementedError

    def held_out_objective(self, output: Tensor, target: Tensor) -> Tensor:  # pragma: no cover - abstract
        """The teacher's objective on the held-out batch, a scalar to lower."""
        raise NotImplementedError

    def teacher_signal(self, input: Tensor, target: Tensor) -> Tensor:
        """h in (-1, 1), from the student's step and its error on this batch."""
        error = self.student_error(input.detach(), target) if len(target) else input.new_zeros(())
        state = torch.stack((input.new_tensor(self.steps / self.step_scale), error.to(input.dtype)))
        return 2 * torch.sigmoid(state @ self.state_weight + self.state_bias) - 1

    def per_sample(self, input: Tensor, target: Tensor) -> Tensor:
        if not self.teaching:
            return self.pretrain_loss(input, target)
        signal = self.teacher_signal(input, target)
        self.last_signal = signal.detach()  # for the host's log, without a second pass over the batch
        return self.taught_loss(input, target, signal)

    def meta_step(
        self,
        model: nn.Module,
        inputs: Any,
        target: Tensor,
        held_inputs: Optional[Any] = None,
        held_target: Optional[Tensor] = None,
    ) -> Dict[str, float]:
        """The teacher's update from a one-step look-ahead of ``model`` on the training batch, judged on
        the held-out batch, once the teacher's loss is on and on every ``interval``-th step from then; then the
        student's step count advances. Returns ``{'meta_loss': ...}`` (the held-out objective after the
        look-ahead) where the teacher updated, else ``{}``.

        Example:
            >>> _ = torch.manual_seed(0)
            >>> model, loss = nn.Linear(4, 3), L2TDLFLoss(num_classes=3, pretrain_steps=0)
            >>> x, y = torch.randn(16, 4), torch.randint(0, 3, (16,))
            >>> info = loss.meta_step(model, x, y, torch.randn(8, 4), torch.randint(0, 3, (8,)))
            >>> bool((loss.weight != torch.eye(3)).any()), loss.online.steps
            (True, 1)
        """
        if held_inputs is None or held_target is None:
            raise ValueError(f"{self.name}: the teacher learns on held-out data; pass held_inputs and held_target")
        info: Dict[str, float] = {}
        if self.teaching and (self.steps - self.pretrain_steps) % self.interval == 0:
            info["meta_loss"] = self.online.step(
                self.parameters,
                model,
                lambda output: self(output, target, reduction="mean"),
                inputs,
                self.lookahead_lr,
                lambda output: self.held_out_objective(output, held_target),
                held_inputs,
            )
        self.steps += 1
        return info

    def extra_repr(self) -> str:
        return (
            f"meta_lr={self.meta_lr}, lookahead_lr={self.lookahead_lr}, "
            f"pretrain_steps={self.pretrain_steps}, interval={self.interval}, reduction={self.reduction!r}"
        )


@register("l2t_dlf", "classification")
class L2TDLFLoss(L2TDLFTeacher):
    """The L2T-DLF student loss for classification, :func:`l2t_dlf_loss`, and its teacher (:class:`L2TDLFTeacher`).

    Args:
        num_classes: C, the size of W (``slf classify`` passes it).
        meta_lr: Adam's learning rate for the teacher, > 0.
        lookahead_lr: the look-ahead SGD step's size, > 0.
        pretrain_steps: the teacher's loss takes over once :meth:`meta_step` has run this many times;
            the trainer calls it before each student step, so the first ``pretrain_steps - 1`` steps
            use cross-entropy.
        sharpness: k of the teacher's smoothed error, > 0.
        step_scale: the state's step is ``step / step_scale``, > 0.
        coefficients: ``'full'`` (W and W_2 are :math:`C \\times C`) or ``'diagonal'`` (each its
            diagonal plus one shared value off it; the module says why).
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``.
        interval: the teacher updates on every ``interval``-th step only (1: every step).

    Example:
        >>> loss = L2TDLFLoss(num_classes=3, pretrain_steps=0)  # W = I: -sigmoid(log p_y)
        >>> loss(torch.tensor([[0.0, 0.0, 0.0]]), torch.tensor([0]))
        tensor(-0.2500, grad_fn=<DivBackward0>)
        >>> L2TDLFLoss(num_classes=3, pretrain_steps=0, coefficients="diagonal")(  # the same start
        ...     torch.tensor([[0.0, 0.0, 0.0]]), torch.tensor([0]))
        tensor(-0.2500, grad_fn=<DivBackward0>)
    """

    task = "classification"
    sized_by_classes: ClassVar[bool] = True

    def __init__(
        self,
        num_classes: int,
        meta_lr: float = 1e-3,
        lookahead_lr: float = 1e-3,
        pretrain_steps: int = 100,
        sharpness: float = 50.0,
        step_scale: float = 1000.0,
        coefficients: str = "full",
        reduction: str = "mean",
        interval: int = 1,
    ) -> None:
        super().__init__(meta_lr, lookahead_lr, pretrain_steps, step_scale, reduction, interval)
        if not isinstance(num_classes, int) or num_classes < 2:
            raise ValueError(f"{self.name}: num_classes must be an integer >= 2, got {num_classes!r}")
        if coefficients not in COEFFICIENTS:
            raise ValueError(f"{self.name}: coefficients must be one of {list(COEFFICIENTS)}, got {coefficients!r}")
        check_positive(sharpness, "sharpness", self.name)
        self.num_classes, self.sharpness, self.coefficients = num_classes, float(sharpness), coefficients
        full = coefficients == "full"
        self.weight = nn.Parameter(torch.eye(num_classes) if full else torch.ones(num_classes))
        self.bias = nn.Parameter(torch.zeros(num_classes))
        self.dynamic_weight = nn.Parameter(torch.zeros((num_classes,) * (2 if full else 1)))
        if not full:
            self.shared_weight = nn.Parameter(torch.zeros(2))  # u and u_2, off the diagonal

    def validate(self, input: Tensor, target: Tensor) -> None:
        super().validate(input, target)
        if input.shape[1] != self.num_classes:
            raise ValueError(
                f"{self.name}: built for num_classes={self.num_classes}, got logits of shape {tuple(input.shape)}"
            )

    def student_error(self, input: Tensor, target: Tensor) -> Tensor:
        return (input.argmax(dim=1) != target).to(input.dtype).mean()

    def pretrain_loss(self, input: Tensor, target: Tensor) -> Tensor:
        return F.cross_entropy(input, target, reduction="none")

    def taught_loss(self, input: Tensor, target: Tensor, signal: Tensor) -> Tensor:
        log_p = F.log_softmax(input, dim=1)
        if self.coefficients == "full":
            scores = gather_target(log_p @ (self.weight + signal * self.dynamic_weight) + self.bias, target)
        else:
            diagonal = self.weight[target] + signal * self.dynamic_weight[target]
            shared = self.shared_weight[0] + signal * self.shared_weight[1]
            scores = diagonal * gather_target(log_p, target) + shared * log_p.mean(dim=1) + self.bias[target]
        return -torch.sigmoid(scores)

    def held_out_objective(self, output: Tensor, target: Tensor) -> Tensor:
        return smoothed_error(output, target, self.sharpness)

    def extra_repr(self) -> str:
        return f"num_classes={self.num_classes}, coefficients={self.coefficients!r}, " + super().extra_repr()


def residual_features(input: Tensor, target: Tensor) -> Tensor:
    r"""The regression form's features of each residual :math:`r`, :math:`\phi(r) = (r^2, |r|)`: shape ``(*, 2)``.

    Example:
        >>> residual_features(torch.tensor([2.0]), torch.tensor([0.5]))
        tensor([[2.2500, 1.5000]])
    """
    residual = input - target
    return torch.stack((residual.pow(2), residual.abs()), dim=-1)


@register("l2t_dlf", "regression")
class L2TDLFRegressionLoss(L2TDLFTeacher):
    """The L2T-DLF student loss for regression, :func:`l2t_dlf_regression_loss`, and its teacher
    (:class:`L2TDLFTeacher`); the module says which parts are ours.

    Args:
        meta_lr: Adam's learning rate for the teacher, > 0.
        lookahead_lr: the look-ahead SGD step's size, > 0.
        pretrain_steps: the teacher's loss takes over once :meth:`meta_step` has run this many times (the
            first ``pretrain_steps - 1`` student steps use MSE).
        step_scale: the state's step is ``step / step_scale``, > 0.
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``.

    Example:
        >>> loss = L2TDLFRegressionLoss(pretrain_steps=0)  # w = (1, 0): 1/2 - sigmoid(-r^2)
        >>> loss(torch.tensor([1.0, 0.0]), torch.tensor([0.0, 0.0]), reduction="none")
        tensor([0.2311, 0.0000], grad_fn=<SubBackward0>)
    """

    task = "regression"

    def build_coefficients(self) -> None:
        self.weight = nn.Parameter(torch.tensor([1.0, 0.0]))
        self.bias = nn.Parameter(torch.zeros(()))
        self.dynamic_weight = nn.Parameter(torch.zeros(2))

    def student_error(self, input: Tensor, target: Tensor) -> Tensor:
        return (input - target).pow(2).mean()

    def pretrain_loss(self, input: Tensor, target: Tensor) -> Tensor:
        return per_sample_mean((input - target).pow(2))

    def taught_loss(self, input: Tensor, target: Tensor, signal: Tensor) -> Tensor:
        return _bounded_residual_loss(input, target, self.weight + signal * self.dynamic_weight, self.bias)

    def held_out_objective(self, output: Tensor, target: Tensor) -> Tensor:
        return (output - target).pow(2).mean()


def _bounded_residual_loss(input: Tensor, target: Tensor, coefficients: Tensor, bias: Tensor) -> Tensor:
    r"""Per sample, the mean over the outputs of :math:`\sigma(b) - \sigma(b - c^\top \phi(r))`."""
    scores = residual_features(input, target) @ coefficients
    return per_sample_mean(torch.sigmoid(bias) - torch.sigmoid(bias - scores))


def l2t_dlf_regression_loss(
    input: Tensor,
    target: Tensor,
    weight: Tensor,
    bias: Tensor,
    signal: float = 0.0,
    dynamic_weight: Optional[Tensor] = None,
    reduction: str = "mean",
) -> Tensor:
    r"""The L2T-DLF regression loss with given coefficients:
    :math:`\sigma(b) - \sigma\big(b - (w + h w_2)^\top (r^2, |r|)\big)`, averaged over each sample's outputs.

    Args:
        input, target: predictions and targets of one shape :math:`(N, *)`.
        weight: w, shape (2,); bias: b, a scalar.
        signal: the teacher's h in (-1, 1); dynamic_weight: :math:`w_2`, shape (2,) (``None``: zero).
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``.

    Example:
        >>> l2t_dlf_regression_loss(torch.tensor([0.0, 3.0]), torch.zeros(2), torch.tensor([0.0, 1.0]),
        ...                         torch.tensor(0.0), reduction="none")  # w = (0, 1): 1/2 - sigmoid(-|r|)
        tensor([0.0000, 0.4526])
    """
    check_same_shape_inputs(input, target, "l2t_dlf")
    coefficients = weight if dynamic_weight is None else weight + signal * dynamic_weight
    return reduce_loss(_bounded_residual_loss(input, target, coefficients, bias), check_reduction(reduction))


def l2t_dlf_loss(
    logits: Tensor,
    target: Tensor,
    weight: Tensor,
    bias: Tensor,
    signal: float = 0.0,
    dynamic_weight: Optional[Tensor] = None,
    reduction: str = "mean",
) -> Tensor:
    r"""The L2T-DLF student loss with given coefficients: :math:`-\sigma([\log p^\top (W + h W_2)]_y + b_y)`.

    Args:
        logits: :math:`(N, C)`; target: class indices :math:`(N,)`.
        weight: W, :math:`(C, C)`; bias: b, :math:`(C,)`.
        signal: the teacher's h in (-1, 1); dynamic_weight: :math:`W_2` (``None``: zero).
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``.

    Example:
        >>> l2t_dlf_loss(torch.tensor([[0.0, 0.0]]), torch.tensor([1]), torch.eye(2), torch.zeros(2))
        tensor(-0.3333)
    """
    check_classification_inputs(logits, target, "l2t_dlf")
    coefficients = weight if dynamic_weight is None else weight + signal * dynamic_weight
    scores = F.log_softmax(logits, dim=1) @ coefficients + bias
    return reduce_loss(-torch.sigmoid(gather_target(scores, target)), check_reduction(reduction))
