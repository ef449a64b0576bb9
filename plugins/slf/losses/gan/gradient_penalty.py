"""The WGAN-GP gradient penalty of Gulrajani et al. (2017) (registry: ``gradient_penalty``, task ``gan``)."""

from __future__ import annotations

from typing import Callable, Optional

import torch
from torch import Tensor

from .._utils import check_positive
from ..base import BaseLoss, _describe, check_reduction, reduce_loss
from ..registry import register
from ._base import _flat_scores

Critic = Callable[[Tensor], Tensor]


def _check_inputs(critic: object, real: object, fake: object, generator: object, name: str) -> None:
    if not callable(critic):
        raise TypeError(
            f"{name}: critic must be callable (a module mapping samples (N, *) to scores (N,)), "
            f"got {type(critic).__name__}"
        )
    for what, value in (("real", real), ("fake", fake)):
        if not torch.is_tensor(value) or not value.is_floating_point():
            raise TypeError(f"{name}: {what} must be a floating point tensor of samples (N, *), got {_describe(value)}")
    if real.dim() < 1 or real.shape != fake.shape:  # type: ignore[union-attr]
        raise ValueError(
            f"{name}: real and fake must be batches of the same shape (N, *), "
            f"got {tuple(real.shape)} and {tuple(fake.shape)}"  # type: ignore[union-attr]
        )
    if generator is not None and not isinstance(generator, torch.Generator):
        raise TypeError(f"{name}: generator must be None or a torch.Generator, got {type(generator).__name__}")


def _gradient_penalty(
    critic: Critic, real: Tensor, fake: Tensor, weight: float, generator: Optional[torch.Generator], name: str
) -> Tensor:
    n = real.shape[0]
    device = generator.device if generator is not None else real.device
    eps = torch.rand(n, generator=generator, device=device, dtype=real.dtype).to(real.device)
    eps = eps.view(n, *([1] * (real.dim() - 1)))
    # The penalty trains the critic only: no gradient flows back into the generator's samples.
    x_hat = (eps * real.detach() + (1.0 - eps) * fake.detach()).requires_grad_(True)
    create_graph = torch.is_grad_enabled()  # double backprop into the critic, unless evaluated under no_grad
    with torch.enable_grad():
        scores = _flat_scores(critic(x_hat), "critic(x_hat)", name)
        if scores.shape[0] != n:
            raise ValueError(f"{name}: the critic returned {scores.shape[0]} scores for {n} samples")
        if not scores.requires_grad:
            raise ValueError(f"{name}: the critic's scores do not depend on its input (no autograd graph)")
        # Summing the scores gives each sample's own gradient as long as the critic scores
        # samples independently (no batch normalisation, as the paper advises).
        (grad,) = torch.autograd.grad(scores.sum(), x_hat, create_graph=create_graph, allow_unused=True)
    if grad is None:
        raise ValueError(f"{name}: the critic's scores do not depend on its input")
    return weight * (grad.flatten(1).norm(dim=1) - 1.0).square()


def gradient_penalty(
    critic: Critic,
    real: Tensor,
    fake: Tensor,
    weight: float = 10.0,
    generator: Optional[torch.Generator] = None,
    reduction: str = "mean",
) -> Tensor:
    r"""WGAN-GP gradient penalty (Gulrajani et al. 2017): keeps the critic near 1-Lipschitz.

    .. math::

        \ell_{GP} = \lambda \bigl(\lVert \nabla_{\hat x} D(\hat x) \rVert_2 - 1\bigr)^2,
        \qquad \hat x = \epsilon x + (1 - \epsilon)\,\tilde x,
        \quad \epsilon \sim U[0, 1] \text{ per sample}

    with :math:`x` a real and :math:`\tilde x = G(z)` a generated sample. Add it to the
    critic loss of :func:`gan_wasserstein_loss`. The gradient is taken with
    ``create_graph=True`` so that the penalty trains the critic's parameters (double
    backpropagation); ``real`` and ``fake`` are detached, the penalty does not reach the
    generator. Under ``torch.no_grad()`` the value is computed without that graph. The
    critic must score samples independently (no batch normalisation).

    Args:
        critic: maps samples :math:`(N, *)` to scores :math:`(N)` or :math:`(N, 1)`.
        real: a batch of real samples.
        fake: a batch of generated samples of the same shape.
        weight: :math:`\lambda > 0` (default 10, the paper's value).
        generator: random generator for :math:`\epsilon`, for reproducible penalties.
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``.

    Shape:
        - real, fake: :math:`(N, *)`, floating point.
        - output: :math:`(N,)` for ``'none'``, else a scalar.

    Example:
        >>> real, fake = torch.randn(4, 2), torch.randn(4, 2)
        >>> gradient_penalty(lambda x: x @ torch.tensor([0.6, 0.8]), real, fake)  # 1-Lipschitz: no penalty
        tensor(0.)
        >>> gradient_penalty(lambda x: x @ torch.tensor([3.0, 4.0]), real, fake, reduction="none")  # 10 (5 - 1)^2
        tensor([160., 160., 160., 160.])
    """
    check_reduction(reduction)
    weight = check_positive(weight, "weight", "gradient_penalty")
    _check_inputs(critic, real, fake, generator, "gradient_penalty")
    return reduce_loss(_gradient_penalty(critic, real, fake, weight, generator, "gradient_penalty"), reduction)


@register("gradient_penalty", "gan")
class GradientPenalty(BaseLoss):
    r"""WGAN-GP gradient penalty with its weight :math:`\lambda`; see :func:`gradient_penalty`.

    Unlike the score losses its ``forward`` reads the critic and both batches of samples.

    Args:
        weight: :math:`\lambda > 0` (default 10).
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``.

    Shape:
        - real, fake: :math:`(N, *)`; the critic maps them to :math:`(N)` or :math:`(N, 1)`.
        - output: :math:`(N,)` for ``'none'``, else a scalar.

    Example:
        >>> critic = torch.nn.Linear(3, 1)
        >>> penalty = GradientPenalty(weight=10.0)
        >>> loss = penalty(critic, torch.randn(8, 3), torch.randn(8, 3))
        >>> loss.backward()  # reaches the critic's weights through the input gradient
        >>> critic.weight.grad.shape
        torch.Size([1, 3])
    """

    task = "gan"
    minimum = 0.0

    def __init__(self, weight: float = 10.0, reduction: str = "mean") -> None:
        super().__init__(reduction)
        self.weight = check_positive(weight, "weight", self.name)

    def validate(  # type: ignore[override]
        self, critic: Critic, real: Tensor, fake: Tensor, generator: Optional[torch.Generator] = None
    ) -> None:
        _check_inputs(critic, real, fake, generator, self.name)

    def per_sample(  # type: ignore[override]
        self, critic: Critic, real: Tensor, fake: Tensor, generator: Optional[torch.Generator] = None
    ) -> Tensor:
        return _gradient_penalty(critic, real, fake, self.weight, generator, self.name)

    def forward(  # type: ignore[override]
        self,
        critic: Critic,
        real: Tensor,
        fake: Tensor,
        generator: Optional[torch.Generator] = None,
        reduction: Optional[str] = None,
    ) -> Tensor:
        """Penalty on ``critic``'s input gradient at random interpolates of ``real`` and ``fake``."""
        self.validate(critic, real, fake, generator)
        values = self.per_sample(critic, real, fake, generator)
        return reduce_loss(values, check_reduction(reduction) if reduction else self.reduction)

    def extra_repr(self) -> str:
        return f"weight={self.weight}, " + super().extra_repr()
