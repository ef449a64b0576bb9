"""Perceptual loss of Johnson, Alahi and Fei-Fei (ECCV 2016) (registry: ``perceptual``, task ``image``).

J. Johnson, A. Alahi, L. Fei-Fei, "Perceptual Losses for Real-Time Style Transfer and
Super-Resolution", ECCV 2016, section 3.
"""

from __future__ import annotations

import math
from typing import Callable, Dict, List, Optional, Sequence, Tuple, Union

import torch
from torch import Tensor, nn

from ..base import BaseLoss, _describe, check_reduction, check_same_shape_inputs, per_sample_mean, reduce_loss
from ..registry import register
from .feature_extractor import Layers, _as_name_list, extract_features, layer_modules

Statistics = Tuple[Union[Sequence[float], Tensor], Union[Sequence[float], Tensor]]

#: Johnson et al.'s layers of VGG-16 as ``torchvision.models.vgg16()`` names them:
#: relu1_2, relu2_2, relu3_3 and relu4_3 (style); relu2_2 alone is their feature layer.
VGG16_JOHNSON_LAYERS = ("features.3", "features.8", "features.15", "features.22")
#: ImageNet channel statistics, the ``normalize_input`` of torchvision's pretrained VGG (images in [0, 1]).
IMAGENET_MEAN_STD = ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))

_NO_NETWORK = (
    "{name}: a frozen feature network must be passed as network=..., with the names of its layers as layers=[...]. "
    "The loss compares images through that network's activations, so the network defines the loss; none is "
    "built or downloaded here (no pretrained weights are fetched implicitly). For Johnson et al.'s loss, load "
    "torchvision's vgg16 with its ImageNet weights yourself and pass PerceptualLoss(vgg, "
    f"layers={list(VGG16_JOHNSON_LAYERS)}, normalize_input=IMAGENET_MEAN_STD)"
)


def gram_matrix(features: Tensor) -> Tensor:
    r"""Gram matrices :math:`G = \psi \psi^\top / (C H W)` of features ``(N, C, *spatial)``.

    :math:`\psi` is each sample's feature map reshaped to :math:`C \times HW` (any number of
    spatial dimensions is flattened alike); :math:`G_{cc'}` is the spatial average of the
    product of channels :math:`c` and :math:`c'`, divided by :math:`C`.

    Shape:
        - features: :math:`(N, C, *)` with at least one spatial dimension.
        - output: :math:`(N, C, C)`.

    Example:
        >>> gram_matrix(torch.tensor([[[[1.0, 2.0]], [[0.0, 3.0]]]]))  # C=2, H=1, W=2
        tensor([[[1.2500, 1.5000],
                 [1.5000, 2.2500]]])
    """
    if not torch.is_tensor(features) or not features.is_floating_point() or features.dim() < 3:
        raise ValueError(
            "gram_matrix: features must be a floating point tensor (N, C, *spatial) with at least one spatial "
            f"dimension, got {_describe(features)}"
        )
    psi = features.flatten(2)
    return torch.bmm(psi, psi.transpose(1, 2)) / (psi.shape[1] * psi.shape[2])


def _check_weights(weights: Optional[Sequence[float]], count: int, what: str, name: str) -> List[float]:
    if weights is None:
        return [1.0] * count
    if isinstance(weights, (int, float)) and not isinstance(weights, bool):
        weights = [weights] * count
    if torch.is_tensor(weights):
        weights = weights.detach().flatten().tolist()
    try:
        values = list(weights)
    except TypeError:
        values = [weights]  # fails the checks below
    if len(values) != count or not all(
        isinstance(w, (int, float)) and not isinstance(w, bool) and math.isfinite(w) and w >= 0 for w in values
    ):
        raise ValueError(
            f"{name}: {what} must be None, a number or one finite weight >= 0 per layer ({count}), got {weights!r}"
        )
    return [float(w) for w in values]


def _check_pixel_weight(pixel_weight: float, name: str) -> float:
    if (
        isinstance(pixel_weight, bool)
        or not isinstance(pixel_weight, (int, float))
        or not math.isfinite(pixel_weight)
        or pixel_weight < 0
    ):
        raise ValueError(f"{name}: pixel_weight must be a finite number >= 0, got {pixel_weight!r}")
    return float(pixel_weight)


def _check_layers(layers: Optional[Layers], what: str, name: str) -> List[str]:
    if layers is None:
        return []
    names = _as_name_list(layers, name)
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ValueError(f"{name}: {what} names a layer more than once: {duplicates}; give each layer once")
    return names


def _check_statistics(normalize_input: Optional[Statistics], name: str) -> Optional[Tuple[Tensor, Tensor]]:
    if normalize_input is None:
        return None
    try:
        mean, std = normalize_input
        mean = torch.as_tensor(mean, dtype=torch.float32).flatten()
        std = torch.as_tensor(std, dtype=torch.float32).flatten()
    except (TypeError, ValueError, RuntimeError):
        raise ValueError(
            f"{name}: normalize_input must be None or (mean, std) with one value per channel, got {normalize_input!r}"
        ) from None
    if (
        mean.numel() == 0
        or mean.shape != std.shape
        or not torch.isfinite(mean).all()
        or not torch.isfinite(std).all()
        or (std <= 0).any()
    ):
        raise ValueError(
            f"{name}: normalize_input must be (mean, std) of equal lengths, finite, with std > 0, "
            f"got {normalize_input!r}"
        )
    return mean, std


def _check_images(input: Tensor, target: Tensor, name: str) -> None:
    check_same_shape_inputs(input, target, name)
    if input.dim() != 4:
        raise ValueError(f"{name}: images must have shape (N, C, H, W), got {tuple(input.shape)}")


def _normalize(images: Tensor, statistics: Optional[Tuple[Tensor, Tensor]], name: str) -> Tensor:
    if statistics is None:
        return images
    mean, std = statistics
    if mean.numel() != images.shape[1]:
        raise ValueError(
            f"{name}: normalize_input holds statistics for {mean.numel()} channels but the images have "
            f"C = {images.shape[1]}"
        )
    shape = (1, -1, 1, 1)
    return (images - mean.to(images).view(shape)) / std.to(images).view(shape)


def _perceptual(
    input: Tensor,
    target: Tensor,
    features: Callable[[Tensor], Dict[str, Tensor]],
    layers: Sequence[str],
    weights: Sequence[float],
    style_layers: Sequence[str],
    style_weights: Sequence[float],
    pixel_weight: float,
    statistics: Optional[Tuple[Tensor, Tensor]],
    name: str,
) -> Tensor:
    values = input.new_zeros(input.shape[0])
    if pixel_weight:
        values = values + pixel_weight * per_sample_mean((input - target).square())
    if not layers and not style_layers:
        return values
    pred = features(_normalize(input, statistics, name))
    # the target is a constant of the loss: no graph through the network for it
    with torch.no_grad():
        true = features(_normalize(target.detach(), statistics, name))
    for layer, weight in zip(layers, weights):
        values = values + weight * per_sample_mean((pred[layer] - true[layer]).square())
    for layer, weight in zip(style_layers, style_weights):
        if pred[layer].dim() < 3:
            raise ValueError(
                f"{name}: style layer {layer!r} outputs shape {tuple(pred[layer].shape)}; a Gram matrix needs "
                "feature maps (N, C, H, W); choose a convolutional layer"
            )
        gram_diff = gram_matrix(pred[layer]) - gram_matrix(true[layer])
        values = values + weight * gram_diff.square().flatten(1).sum(dim=1)
    return values


def perceptual_loss(
    input: Tensor,
    target: Tensor,
    network: nn.Module,
    layers: Layers,
    weights: Optional[Sequence[float]] = None,
    style_layers: Optional[Layers] = None,
    style_weights: Optional[Sequence[float]] = None,
    pixel_weight: float = 0.0,
    normalize_input: Optional[Statistics] = None,
    reduction: str = "mean",
) -> Tensor:
    r"""Perceptual loss through ``network`` as it is; see :class:`PerceptualLoss` for the maths.

    Unlike :class:`PerceptualLoss`, this form neither freezes the network nor puts it in
    eval mode: gradients reach its parameters where they require grad, and a network in
    train mode behaves as in training (dropout, batch statistics). The target's features
    are computed without grad either way.

    Args:
        input: predicted images :math:`\hat y`.
        target: target images :math:`y`.
        network: the feature network :math:`\phi`.
        layers: feature reconstruction layers (may be empty if ``style_layers`` is not).
        weights: one weight per layer of ``layers`` (default 1 each).
        style_layers: style reconstruction layers (default none).
        style_weights: one weight per style layer (default 1 each).
        pixel_weight: weight of the pixel MSE term (default 0).
        normalize_input: ``(mean, std)`` per channel applied before the network.
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``.

    Shape:
        - input, target: :math:`(N, C, H, W)`.
        - output: :math:`(N,)` for ``'none'``, else a scalar.

    Example:
        >>> net = nn.Conv2d(1, 1, 1, bias=False).requires_grad_(False)
        >>> _ = net.weight.fill_(2.0)  # phi(x) = 2x: the loss is 4 * MSE
        >>> x, y = torch.zeros(1, 1, 2, 2), torch.ones(1, 1, 2, 2)
        >>> perceptual_loss(x, y, nn.Sequential(net), ["0"])
        tensor(4.)
    """
    check_reduction(reduction)
    name = "perceptual"
    layer_names = _check_layers(layers, "layers", name)
    style_names = _check_layers(style_layers, "style_layers", name)
    if not layer_names and not style_names:
        raise ValueError(f"{name}: layers and style_layers are both empty; name at least one layer of the network")
    all_layers = list(dict.fromkeys(layer_names + style_names))
    layer_modules(network, all_layers, name)
    weight_list = _check_weights(weights, len(layer_names), "weights", name)
    style_weight_list = _check_weights(style_weights, len(style_names), "style_weights", name)
    pixel = _check_pixel_weight(pixel_weight, name)
    statistics = _check_statistics(normalize_input, name)
    _check_images(input, target, name)
    values = _perceptual(
        input,
        target,
        lambda x: extract_features(network, x, all_layers),
        layer_names,
        weight_list,
        style_names,
        style_weight_list,
        pixel,
        statistics,
        name,
    )
    return reduce_loss(values, reduction)


@register("perceptual", "image")
class PerceptualLoss(BaseLoss):
    r"""Perceptual loss (Johnson et al., 2016): images compared through a frozen network's features.

    With :math:`\phi_j(x)` the activation of layer :math:`j` (shape :math:`C_j \times H_j \times W_j`)
    of the feature network for image :math:`x`, each sample's loss is

    .. math::

        \ell(\hat y, y) = \sum_{j \in \text{layers}} \lambda_j
            \frac{\lVert \phi_j(\hat y) - \phi_j(y) \rVert_2^2}{C_j H_j W_j}
        + \sum_{j \in \text{style}} \mu_j \lVert G_j(\hat y) - G_j(y) \rVert_F^2
        + \lambda_p \frac{\lVert \hat y - y \rVert_2^2}{C H W},
        \qquad G_j(x) = \frac{\psi_j \psi_j^\top}{C_j H_j W_j}

    where :math:`\psi_j` is :math:`\phi_j(x)` reshaped to :math:`C_j \times H_j W_j`: the feature
    reconstruction loss, the style reconstruction loss (Gram matrices, squared Frobenius
    norm, as in the paper; ``mse_loss`` between Gram matrices, as some implementations
    write it, is this divided by :math:`C_j^2`) and the pixel loss. Gradients reach
    :math:`\hat y` only; the target's features are computed without grad.

    **The network.** No network is built or downloaded here: pass your own. Johnson et al.
    use VGG-16 pretrained on ImageNet; with ``torchvision.models.vgg16`` (weights loaded by
    you) their layers relu1_2, relu2_2, relu3_3 and relu4_3 are ``'features.3'``,
    ``'features.8'``, ``'features.15'`` and ``'features.22'`` (:data:`VGG16_JOHNSON_LAYERS`),
    their style transfer uses relu2_2 for the feature loss and all four for the style loss,
    with ``normalize_input=IMAGENET_MEAN_STD`` for images in :math:`[0, 1]`::

        vgg = torchvision.models.vgg16(weights=...)          # loaded by you, offline
        loss = PerceptualLoss(vgg, layers=["features.8"], style_layers=VGG16_JOHNSON_LAYERS,
                              style_weights=[5.0] * 4, normalize_input=IMAGENET_MEAN_STD)

    The forward pass stops after the last requested layer (VGG's classifier never runs).
    Layer names are those of ``network.named_modules()``; an output that a later in-place
    operation overwrites is rejected (request the ``ReLU`` rather than the ``Conv2d`` before
    an in-place ``ReLU``).

    **Frozen, and kept out of the module tree.** The constructor sets
    ``requires_grad=False`` on every parameter of ``network`` and puts it in eval mode, in
    place (it is the caller's module, not a copy); ``loss.train()`` leaves it in eval mode.
    The network is *not* a submodule: it appears in neither ``loss.parameters()`` nor
    ``loss.state_dict()``, so checkpoints of a model that owns this loss do not store a
    copy of a large fixed network, and optimizers built from ``model.parameters()`` never
    see it. Save or rebuild it on its own. ``loss.to(device/dtype)``, ``.double()``,
    ``.cuda()`` and the like do move and convert it (and with it the caller's module).

    Args:
        network: the frozen feature network :math:`\phi` (an ``nn.Module``); required.
        layers: feature reconstruction layers, names from ``network.named_modules()``
            (may be empty if ``style_layers`` is not).
        weights: :math:`\lambda_j`, one per layer of ``layers`` or one number (default 1).
        style_layers: style reconstruction layers (default none).
        style_weights: :math:`\mu_j`, one per style layer or one number (default 1).
        pixel_weight: :math:`\lambda_p` of the pixel MSE term (default 0).
        normalize_input: ``(mean, std)`` per channel, applied to both images before the
            network (e.g. :data:`IMAGENET_MEAN_STD` for VGG); the pixel term reads the raw images.
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``.

    Shape:
        - input, target: :math:`(N, C, H, W)`, floating point, of the network's dtype and device.
        - output: :math:`(N,)` for ``'none'``, else a scalar.

    Example:
        >>> _ = torch.manual_seed(0)
        >>> net = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 16, 3, stride=2), nn.ReLU())
        >>> loss = PerceptualLoss(net, layers=["1", "3"], style_layers=["3"], pixel_weight=0.5)
        >>> y = torch.rand(2, 3, 16, 16)
        >>> y_hat = (y + 0.1 * torch.randn_like(y)).requires_grad_()
        >>> values = loss(y_hat, y, reduction="none")
        >>> values.shape, bool((values > 0).all()), float(loss(y, y))
        (torch.Size([2]), True, 0.0)
        >>> values.sum().backward()
        >>> y_hat.grad.shape, net[0].weight.grad is None, len(loss.state_dict())
        (torch.Size([2, 3, 16, 16]), True, 0)
    """

    task = "image"
    minimum = 0.0

    def __init__(
        self,
        network: Optional[nn.Module] = None,
        layers: Optional[Layers] = None,
        weights: Optional[Sequence[float]] = None,
        style_layers: Optional[Layers] = None,
        style_weights: Optional[Sequence[float]] = None,
        pixel_weight: float = 0.0,
        normalize_input: Optional[Statistics] = None,
        reduction: str = "mean",
    ) -> None:
        super().__init__(reduction)
        name = self.name
        if network is None:
            raise TypeError(_NO_NETWORK.format(name=name))
        if not isinstance(network, nn.Module):
            raise TypeError(f"{name}: network must be a torch.nn.Module, got {type(network).__name__}")
        self.layers = _check_layers(layers, "layers", name)
        self.style_layers = _check_layers(style_layers, "style_layers", name)
        if not self.layers and not self.style_layers:
            raise ValueError(
                f"{name}: layers and style_layers are both empty; name at least one layer of the network, "
                f"e.g. {_example_names(network)}"
            )
        self._all_layers = list(dict.fromkeys(self.layers + self.style_layers))
        layer_modules(network, self._all_layers, name)
        self.weights = _check_weights(weights, len(self.layers), "weights", name)
        self.style_weights = _check_weights(style_weights, len(self.style_layers), "style_weights", name)
        self.pixel_weight = _check_pixel_weight(pixel_weight, name)
        statistics = _check_statistics(normalize_input, name)
        # non-persistent buffers: .to() moves them, state_dict stays free of configuration
        self.register_buffer("input_mean", None if statistics is None else statistics[0], persistent=False)
        self.register_buffer("input_std", None if statistics is None else statistics[1], persistent=False)
        network.requires_grad_(False)
        network.eval()
        # a tuple hides the network from nn.Module's registration (no parameters(), no state_dict())
        self._network: Tuple[nn.Module] = (network,)

    @property
    def network(self) -> nn.Module:
        """The frozen feature network (not a registered submodule)."""
        return self._network[0]

    def train(self, mode: bool = True) -> "PerceptualLoss":
        super().train(mode)
        self.network.eval()
        return self

    def _apply(self, fn, recurse: bool = True):
        super()._apply(fn, recurse)
        if recurse:
            self.network._apply(fn)
        return self

    def validate(self, input: Tensor, target: Tensor) -> None:
        _check_images(input, target, self.name)
        reference = next((t for t in self.network.parameters() if t.is_floating_point()), None)
        if reference is None:
            return
        # under autocast the network may legitimately hold another dtype than the images
        dtype_ok = reference.dtype == input.dtype or torch.is_autocast_enabled(input.device.type)
        if reference.device != input.device or not dtype_ok:
            raise TypeError(
                f"{self.name}: the images are {input.dtype} on {input.device} but the feature network is "
                f"{reference.dtype} on {reference.device}; move the loss with loss.to(device, dtype)"
            )

    def per_sample(self, input: Tensor, target: Tensor) -> Tensor:
        statistics = None if self.input_mean is None else (self.input_mean, self.input_std)
        return _perceptual(
            input,
            target,
            lambda x: extract_features(self.network, x, self._all_layers),
            self.layers,
            self.weights,
            self.style_layers,
            self.style_weights,
            self.pixel_weight,
            statistics,
            self.name,
        )

    def extra_repr(self) -> str:
        parts = [f"network={type(self.network).__name__}", f"layers={self.layers}", f"weights={self.weights}"]
        if self.style_layers:
            parts += [f"style_layers={self.style_layers}", f"style_weights={self.style_weights}"]
        if self.pixel_weight:
            parts.append(f"pixel_weight={self.pixel_weight}")
        if self.input_mean is not None:
            mean, std = ([round(v, 6) for v in t.tolist()] for t in (self.input_mean, self.input_std))
            parts.append(f"normalize_input=({mean}, {std})")
        return ", ".join(parts) + ", " + super().extra_repr()


def _example_names(network: nn.Module) -> List[str]:
    return [n for n, _ in network.named_modules() if n][:4]


__all__ = ["IMAGENET_MEAN_STD", "PerceptualLoss", "VGG16_JOHNSON_LAYERS", "gram_matrix", "perceptual_loss"]
