"""Perceptual loss (Johnson et al., 2016) and the hook-based feature extractor it reads."""

from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from slf import losses as L
from slf.data import load_mnist5k
from slf.losses.image import (
    IMAGENET_MEAN_STD,
    PerceptualLoss,
    extract_features,
    gram_matrix,
    layer_modules,
    perceptual_loss,
)

pytestmark = pytest.mark.usefixtures("single_thread")


def small_net(in_channels: int = 3, seed: int = 0) -> nn.Sequential:
    torch.manual_seed(seed)
    return nn.Sequential(
        nn.Conv2d(in_channels, 6, 3, padding=1), nn.ReLU(), nn.Conv2d(6, 8, 3, stride=2, padding=1), nn.ReLU()
    )


def images(n: int = 3, c: int = 3, h: int = 8, w: int = 8, seed: int = 1, dtype=torch.float32):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, c, h, w, generator=g, dtype=dtype), torch.rand(n, c, h, w, generator=g, dtype=dtype)


def no_hooks(network: nn.Module) -> bool:
    return not any(m._forward_hooks or m._forward_pre_hooks for m in network.modules())


# --------------------------------------------------------------------------- values


def test_zero_for_identical_images():
    loss = PerceptualLoss(small_net(), ["1", "3"], style_layers=["1", "3"], pixel_weight=1.0, reduction="none")
    y, _ = images()
    values = loss(y.clone(), y)
    assert values.shape == (3,) and torch.equal(values, torch.zeros(3))


def test_single_conv_with_known_weights_is_scaled_mse():
    conv = nn.Conv2d(1, 1, 1, bias=False)
    with torch.no_grad():
        conv.weight.fill_(2.0)  # phi(x) = 2x
    loss = PerceptualLoss(nn.Sequential(conv), ["0"], reduction="none")
    x = torch.tensor([[[[0.0, 1.0], [2.0, 3.0]]], [[[1.0, 1.0], [1.0, 1.0]]]])
    y = torch.zeros_like(x)
    # ||2x - 0||^2 / (C H W): (0 + 4 + 16 + 36) / 4 = 14 and 4 * 4 / 4 = 4
    assert torch.allclose(loss(x, y), torch.tensor([14.0, 4.0]))
    assert torch.allclose(loss(x, y, reduction="mean"), torch.tensor(9.0))
    assert torch.allclose(loss(x, y, reduction="sum"), torch.tensor(18.0))


def test_feature_term_is_the_mse_of_the_conv_outputs_per_sample_and_weighted():
    net = small_net()
    x, y = images()
    weights = [0.3, 2.0]
    loss = PerceptualLoss(net, ["0", "3"], weights=weights, reduction="none")
    with torch.no_grad():
        a0, b0 = net[0](x), net[0](y)
        a3, b3 = net(x), net(y)
    expected = torch.stack([0.3 * F.mse_loss(a0[i], b0[i]) + 2.0 * F.mse_loss(a3[i], b3[i]) for i in range(3)])
    assert torch.allclose(loss(x, y), expected, rtol=1e-5, atol=1e-7)
    # 'mean' over the batch is torch's mse_loss over the whole feature tensor (equal sizes per sample)
    single = PerceptualLoss(net, ["3"])
    assert torch.allclose(single(x, y), F.mse_loss(a3, b3), rtol=1e-5)


def test_gram_matrix_and_style_term_match_the_formula_by_hand():
    torch.manual_seed(0)
    phi = torch.randn(2, 3, 4, 5, dtype=torch.float64)
    n, c, h, w = phi.shape
    by_hand = torch.zeros(n, c, c, dtype=torch.float64)
    for s in range(n):
        for a in range(c):
            for b in range(c):
                by_hand[s, a, b] = sum(phi[s, a, i, j] * phi[s, b, i, j] for i in range(h) for j in range(w))
    by_hand /= c * h * w
    assert torch.allclose(gram_matrix(phi), by_hand)

    net = small_net().double()
    x, y = images(dtype=torch.float64)
    loss = PerceptualLoss(net, [], style_layers=["1", "3"], style_weights=[1.5, 0.5], reduction="none")
    values = loss(x, y)
    for s in range(3):
        expected = 0.0
        for layer, weight in ((net[:2], 1.5), (net, 0.5)):
            fx, fy = layer(x[s : s + 1])[0].flatten(1), layer(y[s : s + 1])[0].flatten(1)
            size = fx.numel()
            expected += weight * ((fx @ fx.T - fy @ fy.T) / size).pow(2).sum()  # squared Frobenius norm
        assert torch.allclose(values[s], expected)


def test_style_term_ignores_where_pixels_are_but_the_feature_term_does_not():
    # a network of 1x1 convolutions acts on each pixel alone, so shuffling pixel positions
    # shuffles the feature maps' positions the same way, which keeps their Gram matrices
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(3, 8, 1), nn.ReLU(), nn.Conv2d(8, 5, 1), nn.Tanh())
    x, y = images(n=2, dtype=torch.float64)
    net = net.double()
    perm = torch.randperm(64)

    def shuffle(t):
        return t.flatten(2)[:, :, perm].reshape(t.shape)

    style = PerceptualLoss(net, [], style_layers=["1", "3"], reduction="none")
    feature = PerceptualLoss(net, ["1", "3"], reduction="none")
    assert torch.allclose(style(shuffle(y), y), torch.zeros(2, dtype=torch.float64), atol=1e-12)
    assert torch.allclose(style(shuffle(x), y), style(x, y))
    assert (feature(shuffle(y), y) > 1e-3).all()
    assert not torch.allclose(feature(shuffle(x), y), feature(x, y))


def test_pixel_term_and_input_normalisation():
    net = small_net()
    x, y = images()
    base = PerceptualLoss(net, ["3"], reduction="none")
    with_pixel = PerceptualLoss(net, ["3"], pixel_weight=0.7, reduction="none")
    pixel = ((x - y) ** 2).flatten(1).mean(1)
    assert torch.allclose(with_pixel(x, y), base(x, y) + 0.7 * pixel)

    mean, std = IMAGENET_MEAN_STD
    normalised = PerceptualLoss(net, ["3"], pixel_weight=0.7, normalize_input=(mean, std), reduction="none")
    m, s = torch.tensor(mean).view(1, 3, 1, 1), torch.tensor(std).view(1, 3, 1, 1)
    # the network reads normalised images; the pixel term reads the raw ones
    assert torch.allclose(normalised(x, y), base((x - m) / s, (y - m) / s) + 0.7 * pixel, rtol=1e-5)


def test_functional_form_matches_the_module_and_leaves_the_network_alone():
    net = small_net()
    net.train()
    x, y = images()
    kwargs = dict(layers=["1"], style_layers=["3"], style_weights=[3.0], pixel_weight=0.2)
    value = perceptual_loss(x, y, net, reduction="none", **kwargs)
    assert net.training and all(p.requires_grad for p in net.parameters())
    value.sum().backward()
    assert net[0].weight.grad is not None  # not frozen: the caller's choice
    assert torch.allclose(value.detach(), PerceptualLoss(net, reduction="none", **kwargs)(x, y))


def test_empty_batch():
    loss = PerceptualLoss(small_net(), ["1"], style_layers=["3"], pixel_weight=1.0, reduction="none")
    x = torch.zeros(0, 3, 8, 8)
    assert loss(x, x).shape == (0,)
    assert float(loss(x, x, reduction="mean")) == 0.0


# --------------------------------------------------------------------------- gradients and freezing


def test_gradients_reach_the_prediction_and_not_the_network():
    net = small_net()
    loss = PerceptualLoss(net, ["1", "3"], style_layers=["3"])
    x, y = images()
    x.requires_grad_()
    y.requires_grad_()  # even a target that requires grad gets none: its features are constants of the loss
    loss(x, y).backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    assert all(not p.requires_grad and p.grad is None for p in net.parameters())
    assert y.grad is None
    assert list(loss.parameters()) == []


def test_target_features_are_computed_without_a_graph():
    seen = []
    net = small_net()
    net[3].register_forward_hook(lambda m, a, out: seen.append((torch.is_grad_enabled(), out.requires_grad)))
    loss = PerceptualLoss(net, ["3"])
    x, y = images()
    loss(x.requires_grad_(), y.requires_grad_())
    assert seen == [(True, True), (False, False)]  # prediction, then target


def test_network_stays_frozen_and_in_eval_mode_after_train():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.Dropout(0.5), nn.ReLU())
    net.train()
    loss = PerceptualLoss(net, ["3"])
    assert not net.training and not any(m.training for m in net.modules())
    loss.train()
    assert loss.training and not any(m.training for m in net.modules())
    stats = net[1].running_mean.clone()
    x, y = images()
    first, second = loss(x, y), loss(x, y)
    assert torch.equal(first, second)  # no dropout, batch norm on running statistics
    assert torch.equal(net[1].running_mean, stats)
    assert loss.eval() is loss and loss.train() is loss and not net.training
    net.train()  # switched back by hand: the loss's train() puts it in eval mode again
    loss.train()
    assert not any(m.training for m in net.modules())


def test_to_float64_moves_the_network_and_the_statistics():
    net = small_net()
    x, y = images()
    loss = PerceptualLoss(net, ["1"], style_layers=["3"], normalize_input=IMAGENET_MEAN_STD)
    value32 = loss(x, y)
    assert loss.to(torch.float64) is loss
    assert all(p.dtype == torch.float64 for p in net.parameters())
    assert loss.input_mean.dtype == torch.float64 and loss.input_std.dtype == torch.float64
    value64 = loss(x.double(), y.double())
    assert value64.dtype == torch.float64 and torch.allclose(value64.float(), value32, rtol=1e-4)
    with pytest.raises(TypeError, match=r"float32.*float64.*loss\.to"):
        loss(x, y)
    loss.float()
    assert net[0].weight.dtype == torch.float32 and torch.allclose(loss(x, y), value32)

    # inside a bigger model the loss's network follows the model too
    owner = nn.Module()
    owner.head = nn.Linear(2, 2)
    owner.criterion = loss
    owner.double()
    assert net[2].weight.dtype == torch.float64 and owner.head.weight.dtype == torch.float64


def test_state_dict_leaves_the_network_out():
    net = small_net()
    loss = PerceptualLoss(net, ["1"], normalize_input=IMAGENET_MEAN_STD)
    assert loss.state_dict() == {} and list(loss.children()) == []
    owner = nn.Module()
    owner.head = nn.Linear(2, 2)
    owner.criterion = loss
    assert set(owner.state_dict()) == {"head.weight", "head.bias"}
    assert [p for p in owner.parameters()] == [owner.head.weight, owner.head.bias]
    loss.load_state_dict({})  # nothing to restore; the network is saved on its own
    clone = copy.deepcopy(loss)  # the loss (with its network) still copies and pickles as a whole
    x, y = images()
    assert torch.equal(clone(x, y), loss(x, y)) and clone.network is not net
    assert "network=Sequential" in repr(loss) and "layers=['1']" in repr(loss)


def test_gradcheck_float64():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(2, 3, 3, padding=1), nn.Tanh(), nn.Conv2d(3, 4, 3, stride=2), nn.Softplus())
    loss = PerceptualLoss(
        net,
        ["1", "3"],
        weights=[1.0, 0.5],
        style_layers=["1", "3"],
        style_weights=[2.0, 1.0],
        pixel_weight=0.3,
        normalize_input=([0.4, 0.5], [0.2, 0.3]),
        reduction="none",
    ).double()
    x, y = images(n=2, c=2, h=5, w=5, dtype=torch.float64)
    assert torch.autograd.gradcheck(lambda a: loss(a, y), (x.requires_grad_(),))


# --------------------------------------------------------------------------- errors


def test_build_without_a_network_explains_why():
    with pytest.raises(TypeError, match=r"frozen feature network must be passed.*no pretrained weights"):
        L.build("perceptual", task="image")
    loss = L.build("perceptual", task="image", network=small_net(), layers=["3"], reduction="sum")
    assert isinstance(loss, PerceptualLoss) and loss.reduction == "sum" and "perceptual" in L.available("image")
    with pytest.raises(TypeError, match="must be a torch.nn.Module"):
        PerceptualLoss(lambda x: x, ["0"])


def test_bad_layer_names_list_the_valid_ones():
    net = nn.Sequential(*[nn.Sequential(nn.Conv2d(1, 1, 1), nn.ReLU()) for _ in range(5)])
    listing = (
        r"unknown layer name\(s\) \['features\.3'\] for Sequential; "
        r"valid names \(15 in all\): '0', '0\.0', '0\.1', '1', .*, \.\.\.$"
    )
    with pytest.raises(ValueError, match=listing):
        PerceptualLoss(net, ["0.1", "features.3"])
    with pytest.raises(ValueError, match=r"unknown layer name\(s\) \['9'\]"):
        PerceptualLoss(net, ["0.1"], style_layers=["9"])
    with pytest.raises(ValueError, match="unknown layer"):
        PerceptualLoss(net, [""])  # the root is the network, not one of its layers


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(layers=[]), "both empty"),
        (dict(layers=None), "both empty"),
        (dict(layers=["1", "1"]), "more than once"),
        (dict(layers=[1]), "must be strings"),
        (dict(layers=["1", "3"], weights=[1.0]), "one finite weight >= 0 per layer"),
        (dict(layers=["1"], weights=[-1.0]), "weights must be"),
        (dict(layers=["1"], style_layers=["3"], style_weights=[float("nan")]), "style_weights must be"),
        (dict(layers=["1"], pixel_weight=-0.5), "pixel_weight must be"),
        (dict(layers=["1"], normalize_input=([0.5, 0.5], [0.1])), "equal lengths"),
        (dict(layers=["1"], normalize_input=([0.5], [0.0])), "std > 0"),
        (dict(layers=["1"], normalize_input=0.5), "normalize_input must be"),
        (dict(layers=["1"], reduction="avg"), "reduction must be one of"),
    ],
)
def test_bad_constructor_arguments(kwargs, match):
    with pytest.raises((ValueError, TypeError), match=match):
        PerceptualLoss(small_net(), **kwargs)


def test_bad_inputs():
    loss = PerceptualLoss(small_net(), ["3"], style_layers=["3"])
    x, y = images()
    with pytest.raises(ValueError, match="same shape"):
        loss(x, y[:, :, :4])
    with pytest.raises(ValueError, match=r"\(N, C, H, W\)"):
        loss(x[0], y[0])
    with pytest.raises(TypeError, match="floating point"):
        loss(x, (y * 255).long())
    with pytest.raises(ValueError, match="3 channels but the images have C = 1"):
        PerceptualLoss(small_net(1), ["3"], normalize_input=IMAGENET_MEAN_STD)(x[:, :1], y[:, :1])
    flat = nn.Sequential(nn.Conv2d(3, 2, 3), nn.Flatten())
    with pytest.raises(ValueError, match="Gram matrix needs feature maps"):
        PerceptualLoss(flat, [], style_layers=["1"])(x, y)


# --------------------------------------------------------------------------- feature extractor


def test_hooks_are_removed_and_the_network_is_unchanged():
    net = small_net()
    x, y = images()
    before = net(x).detach().clone()
    loss = PerceptualLoss(net, ["1", "3"], style_layers=["1"])
    loss(x, y)
    assert no_hooks(net) and torch.equal(net(x), before)
    with pytest.raises(ValueError):
        loss(x, y[:, :1])
    net.register_forward_hook(lambda m, a, out: (_ for _ in ()).throw(RuntimeError("boom")))
    with pytest.raises(RuntimeError, match="boom"):  # the network's own error...
        extract_features(net, x, ["1", "3"], stop_early=False)
    net._forward_hooks.clear()
    assert no_hooks(net)  # ...leaves none of the extractor's hooks behind


def test_forward_stops_after_the_last_requested_layer():
    calls = []

    class Counter(nn.Module):
        def forward(self, x):
            calls.append(1)
            return x

    net = nn.Sequential(nn.Conv2d(1, 2, 3), Counter(), nn.ReLU(), Counter())
    x = torch.randn(2, 1, 6, 6)
    feats = extract_features(net, x, ["2", "0"])
    assert list(feats) == ["2", "0"] and calls == [1]  # the last Counter never ran
    assert torch.equal(feats["2"], net[:3](x))
    calls.clear()
    extract_features(net, x, ["2"], stop_early=False)
    assert calls == [1, 1]


def test_shared_module_gives_its_first_call_and_non_tensor_outputs_are_rejected():
    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(2, 2, 3, padding=1)
            self.relu = nn.ReLU()

        def forward(self, x):
            return self.relu(self.conv(self.relu(x)) + x)

    block = Block()
    x = torch.randn(1, 2, 5, 5)
    assert torch.equal(extract_features(block, x, "relu")["relu"], x.relu())

    class Pair(nn.Module):
        def __init__(self):
            super().__init__()
            self.split = nn.Identity()
            self.pair = _PairOut()

        def forward(self, x):
            return self.pair(self.split(x))

    with pytest.raises(TypeError, match=r"layer 'pair' \(_PairOut\) returned tuple, not a tensor"):
        extract_features(Pair(), x, ["pair"])


class _PairOut(nn.Module):
    def forward(self, x):
        return x, x


def test_unused_and_overwritten_layers_are_reported():
    class Unused(nn.Module):
        def __init__(self):
            super().__init__()
            self.used, self.spare = nn.Conv2d(1, 1, 1), nn.Conv2d(1, 1, 1)

        def forward(self, x):
            return self.used(x)

    x = torch.randn(1, 1, 4, 4)
    with pytest.raises(RuntimeError, match=r"\['spare'\] .* not called"):
        extract_features(Unused(), x, ["used", "spare"])
    # torchvision's VGG pattern: Conv2d then ReLU(inplace=True) overwrites the conv's output
    vgg_like = nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(inplace=True), nn.Conv2d(2, 2, 3), nn.ReLU(inplace=True))
    with pytest.raises(RuntimeError, match=r"\['0'\] was modified in place"):
        extract_features(vgg_like, torch.randn(1, 1, 6, 6), ["0", "3"])
    feats = extract_features(vgg_like, torch.randn(1, 1, 6, 6), ["1", "3"])  # the ReLUs are fine
    assert (feats["1"] >= 0).all() and no_hooks(vgg_like)


def test_layer_modules_checks_its_arguments():
    net = small_net()
    assert layer_modules(net, ["3", "1", "3"]) == {"3": net[3], "1": net[1]}
    with pytest.raises(ValueError, match="layers is empty"):
        layer_modules(net, [])
    with pytest.raises(TypeError, match="torch.nn.Module"):
        layer_modules("vgg16", ["1"])
    with pytest.raises(ValueError, match="none \\(the network has no submodules\\)"):
        layer_modules(nn.ReLU(), ["0"])
    with pytest.raises(TypeError, match="stop_early must be True or False"):
        extract_features(net, torch.zeros(1, 3, 4, 4), ["1"], stop_early=1)


# --------------------------------------------------------------------------- real data


def test_optimising_an_image_toward_a_real_digit_brings_it_closer():
    target = load_mnist5k(seed=0).test.tensors[0][:4]  # real MNIST digits, (4, 1, 28, 28)
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.Conv2d(16, 32, 3, stride=2, padding=1), nn.ReLU())
    loss = PerceptualLoss(net, ["1", "3"])  # no pixel term: the image moves through the features alone
    image = torch.randn_like(target).requires_grad_()
    opt = torch.optim.Adam([image], lr=0.05)
    with torch.no_grad():
        start_loss, start_mse = float(loss(image, target)), float(F.mse_loss(image, target))
    for _ in range(100):
        opt.zero_grad()
        value = loss(image, target)
        value.backward()
        opt.step()
    with torch.no_grad():
        end_loss, end_mse = float(loss(image, target)), float(F.mse_loss(image, target))
    assert end_loss < 0.01 * start_loss
    assert end_mse < 0.05 * start_mse
    assert all(p.grad is None for p in net.parameters())
