"""Model zoo: output shapes, the features/classifier contract, and that one SGD step learns."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from slf.data import load_dataset
from slf.models import MODEL_CHOICES, BasicBlock, CifarResNet, DenseNetBC, LeNet, WideResNet, build_model

SHAPES = [(1, 28, 28), (3, 32, 32), (1, 8, 8)]


pytestmark = pytest.mark.usefixtures("single_thread")


@pytest.fixture(scope="module")
def digits_batch():
    splits = load_dataset("digits", seed=0)
    images, labels = splits.train.tensors
    return images[:64], labels[:64]


def test_choices_are_the_documented_seven():
    assert set(MODEL_CHOICES) == {"mlp", "lenet", "resnet8", "resnet20", "resnet32", "wrn28_10", "densenet_bc100"}


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("name", MODEL_CHOICES)
def test_output_shape_and_features_contract(name, shape):
    torch.manual_seed(0)
    model = build_model(name, shape, num_classes=7).eval()
    x = torch.randn(3, *shape)
    logits = model(x)
    assert logits.shape == (3, 7)
    features = model.features(x)
    assert isinstance(model.feature_dim, int) and features.shape == (3, model.feature_dim)
    assert isinstance(model.classifier, nn.Linear)
    assert (model.classifier.in_features, model.classifier.out_features) == (model.feature_dim, 7)
    torch.testing.assert_close(model.classifier(features), logits)


@pytest.mark.parametrize("name", MODEL_CHOICES)
def test_one_sgd_step_reduces_the_loss_on_a_fixed_real_batch(name, digits_batch):
    torch.manual_seed(0)
    x, y = digits_batch
    model = build_model(name, x.shape[1:], 10).train()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
    before = F.cross_entropy(model(x), y)
    optimizer.zero_grad()
    before.backward()
    optimizer.step()
    with torch.no_grad():
        after = F.cross_entropy(model(x), y)
    assert float(after) < float(before.detach())


def test_gradients_reach_every_parameter(digits_batch):
    x, y = digits_batch
    for name in MODEL_CHOICES:
        model = build_model(name, x.shape[1:], 10)
        F.cross_entropy(model(x), y).backward()
        missing = [n for n, p in model.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]
        assert not missing, f"{name}: no gradient for {missing}"


def test_unknown_model_lists_choices():
    with pytest.raises(ValueError, match="mlp, lenet, resnet8, resnet20, resnet32, wrn28_10, densenet_bc100"):
        build_model("vgg16", (3, 32, 32), 10)


def test_resnet_depths_and_sizes_match_the_paper():
    counts = {
        name: sum(p.numel() for p in build_model(name, (3, 32, 32), 10).parameters())
        for name in ("resnet20", "resnet32")
    }
    # He et al. 2016, table 6: 0.27M and 0.46M parameters.
    assert 0.26e6 < counts["resnet20"] < 0.28e6 and 0.45e6 < counts["resnet32"] < 0.47e6
    convs = sum(isinstance(m, nn.Conv2d) for m in build_model("resnet8", (3, 32, 32), 10).modules())
    assert convs == 7  # 6n+1 convolutions plus the classifier make 6n+2 layers
    with pytest.raises(ValueError, match="6n\\+2"):
        CifarResNet((3, 32, 32), 10, depth=21)


def test_resnet_shortcut_options():
    x = torch.randn(2, 16, 8, 8)
    assert BasicBlock(16, 32, stride=2, shortcut="A")(x).shape == (2, 32, 4, 4)
    projected = BasicBlock(16, 32, stride=2, shortcut="B")
    assert projected(x).shape == (2, 32, 4, 4) and projected.projection is not None
    assert not any(
        isinstance(m, nn.Conv2d) and m.kernel_size == (1, 1)
        for m in CifarResNet((3, 32, 32), 10, depth=20, shortcut="A").modules()
    )
    model_b = CifarResNet((3, 32, 32), 10, depth=20, shortcut="B")
    assert model_b(torch.randn(2, 3, 32, 32)).shape == (2, 10)


def test_lenet_classic_path_on_mnist_and_rejects_tiny_images():
    model = LeNet((1, 28, 28), 10)
    assert model.fc[1].in_features == 16 * 5 * 5
    with pytest.raises(ValueError, match="8x8"):
        LeNet((1, 7, 7), 10)


def test_wide_resnet_and_densenet_bc_have_the_papers_sizes():
    wrn = build_model("wrn28_10", (3, 32, 32), 10)
    dense = build_model("densenet_bc100", (3, 32, 32), 10)
    count = lambda model: sum(p.numel() for p in model.parameters())  # noqa: E731
    # Zagoruyko & Komodakis 2016, table 4: WRN-28-10 has 36.5M parameters; Huang et al. 2017, table 2:
    # DenseNet-BC (L = 100, k = 12) 0.8M.
    assert 36.4e6 < count(wrn) < 36.6e6 and wrn.feature_dim == 640
    assert 0.75e6 < count(dense) < 0.85e6 and dense.feature_dim == 342
    # WRN-28: n = (28 - 4) / 6 = 4 blocks of two 3x3 convolutions per stage and the stem, a 1x1 shortcut where
    # each stage changes the shape; DenseNet-BC-100: 16 bottleneck layers of two convolutions per block, the
    # stem, the two transitions and the classifier make the 100 layers.
    kernels = [m.kernel_size for m in wrn.modules() if isinstance(m, nn.Conv2d)]
    assert kernels.count((3, 3)) == 6 * 4 + 1 and kernels.count((1, 1)) == 3
    dense_convs = [m for m in dense.modules() if isinstance(m, nn.Conv2d)]
    assert len(dense_convs) + 1 == 100
    with pytest.raises(ValueError, match="6n\\+4"):
        WideResNet((3, 32, 32), 10, depth=27)
    with pytest.raises(ValueError, match="widen_factor"):
        WideResNet((3, 32, 32), 10, depth=10, widen_factor=0)
    with pytest.raises(ValueError, match="6n\\+4"):
        DenseNetBC((3, 32, 32), 10, depth=99)
