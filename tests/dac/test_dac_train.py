"""DAC: thresholds and pair selection, metrics, the network, and short runs on real digits."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest
import torch
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

from slf import losses
from slf.cli import main
from slf_dac import (
    AdaptiveThresholds,
    ClusterData,
    DACConfig,
    DACNet,
    assigned_confusion,
    build_pairwise_criterion,
    cluster_to_class,
    clustering_accuracy,
    clustering_metrics,
    dac_pair_loss,
    load_cluster_data,
    pair_similarities,
    predict_clusters,
    random_affine,
    run_cluster,
    select_pairs,
    train_dac,
)

FAST = dict(width=8, rounds=3, num_threads=2)


@pytest.fixture(scope="module")
def digits() -> ClusterData:
    return load_cluster_data("digits")


# ---------------------------------------------------------------------- thresholds
def test_threshold_schedule_follows_dac_constants():
    schedule = AdaptiveThresholds()
    assert schedule.upper(0) == pytest.approx(0.95) and schedule.lower(0) == pytest.approx(0.455)
    lam = 3 * 1.1 * 0.009
    assert schedule.upper(3) == pytest.approx(0.95 - lam) and schedule.lower(3) == pytest.approx(0.455 + 0.1 * lam)
    last = schedule.num_rounds - 1
    assert schedule.upper(last) > schedule.lower(last)
    assert schedule.upper(last + 1) <= schedule.lower(last + 1)
    for rounds in (1, 7, 20):
        custom = AdaptiveThresholds.with_rounds(rounds)
        assert custom.num_rounds == rounds
        assert custom.upper(rounds - 1) > custom.lower(rounds - 1)
        assert custom.upper(rounds) <= custom.lower(rounds) + 1e-9


def test_select_pairs_on_hand_made_label_features():
    # Images 0 and 1 share cluster 0, 2 is in cluster 1, 3 is undecided between both.
    features = torch.tensor([[0.9, 0.1], [0.95, 0.05], [0.02, 0.98], [0.5, 0.5]])
    similarity = pair_similarities(features)
    assert torch.allclose(similarity.diagonal(), torch.ones(4))
    assert similarity[0, 1] > 0.99 and similarity[0, 2] < 0.2 and 0.6 < similarity[0, 3] < 0.8
    targets, selected = select_pairs(similarity, upper=0.95, lower=0.455)
    expected_selected = torch.tensor([[0, 1, 1, 0], [1, 0, 1, 0], [1, 1, 0, 0], [0, 0, 0, 0]], dtype=torch.bool)
    assert torch.equal(selected, expected_selected)
    assert targets[0, 1] == 1 and targets[1, 0] == 1 and targets[0, 2] == 0 and targets[2, 1] == 0
    assert targets.diagonal().sum() == 0
    # Lowering u to 0.6 labels the undecided image similar to both clusters.
    targets, selected = select_pairs(similarity, upper=0.6, lower=0.455)
    assert selected[3, 0] and selected[3, 2] and targets[3, 0] == 1 and targets[3, 2] == 1
    with_self, _ = select_pairs(similarity, upper=0.95, lower=0.455, include_self=True)
    assert with_self.diagonal().sum() == 4


def test_threshold_and_pair_errors():
    with pytest.raises(ValueError, match="lower <= upper"):
        select_pairs(torch.eye(3), upper=0.4, lower=0.5)
    with pytest.raises(ValueError, match="square"):
        select_pairs(torch.ones(2, 3), upper=0.9, lower=0.5)
    with pytest.raises(ValueError, match="lower_start < upper_start"):
        AdaptiveThresholds(upper_start=0.4, lower_start=0.5)
    with pytest.raises(ValueError, match="rounds must be an integer >= 1"):
        AdaptiveThresholds.with_rounds(0)
    with pytest.raises(ValueError, match="N >= 1"):
        pair_similarities(torch.zeros(0, 3))


def test_dac_pair_loss_is_the_mean_bce_over_selected_pairs():
    torch.manual_seed(0)
    features = torch.softmax(torch.randn(12, 3) * 4, dim=1).requires_grad_(True)
    bce = losses.build("bce", task="binary", from_logits=False, reduction="none")
    loss, stats = dac_pair_loss(bce, features, upper=0.9, lower=0.5)
    g = pair_similarities(features.detach())
    total, count, positives = 0.0, 0, 0
    for i, j in itertools.permutations(range(12), 2):
        if g[i, j] >= 0.9:
            total, count, positives = total - float(torch.log(g[i, j])), count + 1, positives + 1
        elif g[i, j] < 0.5:
            total, count = total - float(torch.log(1 - g[i, j])), count + 1
    assert count > 0 and positives > 0
    assert float(loss.detach()) == pytest.approx(total / (12 * 11), rel=1e-4)
    assert stats["selected"] == pytest.approx(count / (12 * 11))
    assert stats["positive"] == pytest.approx(positives / count)
    loss.backward()
    assert features.grad is not None and float(features.grad.abs().sum()) > 0
    # No pair confident enough: nothing to learn from.
    none, stats = dac_pair_loss(bce, torch.full((4, 2), 0.5), upper=1.1, lower=0.0)
    assert none is None and stats["selected"] == 0.0


# ---------------------------------------------------------------------- metrics
def test_metrics_of_perfect_and_permuted_clusterings():
    labels = np.repeat(np.arange(5), 20)
    assert clustering_metrics(labels, labels) == {"nmi": 1.0, "ari": 1.0, "acc": 1.0}
    permuted = np.array([3, 0, 4, 1, 2])[labels]
    assert clustering_metrics(labels, permuted) == pytest.approx({"nmi": 1.0, "ari": 1.0, "acc": 1.0})
    assert cluster_to_class(labels, permuted) == {3: 0, 0: 1, 4: 2, 1: 3, 2: 4}
    assert np.trace(assigned_confusion(labels, permuted, 5)) == 100


def test_accuracy_is_the_best_one_to_one_map():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 4, 60)
    clusters = np.where(rng.random(60) < 0.6, labels, rng.integers(0, 4, 60))
    brute = max(np.mean(np.array(perm)[clusters] == labels) for perm in itertools.permutations(range(4)))
    assert clustering_accuracy(labels, clusters) == pytest.approx(brute)
    metrics = clustering_metrics(labels, clusters)
    assert metrics["nmi"] == pytest.approx(normalized_mutual_info_score(labels, clusters))
    assert metrics["ari"] == pytest.approx(adjusted_rand_score(labels, clusters))
    # All in one cluster: ACC is the largest class's share, NMI and ARI are 0.
    single = clustering_metrics([0, 0, 0, 1], [7, 7, 7, 7])
    assert single == pytest.approx({"nmi": 0.0, "ari": 0.0, "acc": 0.75})
    confusion = assigned_confusion(labels, clusters, 4)
    assert confusion.sum() == 60 and np.trace(confusion) == round(brute * 60)
    with pytest.raises(ValueError, match="at least one sample"):
        clustering_metrics([], [])
    with pytest.raises(ValueError, match="same length"):
        clustering_metrics([0, 1], [0])


# ---------------------------------------------------------------------- network and augmentation
@pytest.mark.parametrize("size,channels", [(8, 1), (28, 1), (32, 3), (96, 3)])
def test_dac_network_gives_label_features(size, channels):
    net = DACNet(channels, num_clusters=7, image_size=size, width=4).eval()
    features = net.label_features(torch.randn(3, channels, size, size))
    assert features.shape == (3, 7)
    assert torch.allclose(features.sum(dim=1), torch.ones(3)) and bool((features >= 0).all())


def test_predict_clusters_refreshes_stale_batch_norm_statistics(digits):
    net = DACNet(1, num_clusters=10, image_size=8, width=4)
    first_conv, first_norm = net.body[0], net.body[1]
    first_norm.running_mean.fill_(5.0)  # stale statistics, as after training on augmented batches
    first_norm.running_var.fill_(9.0)
    images = digits.images[:300]
    stale = predict_clusters(net, images, 64, torch.device("cpu"))
    fresh = predict_clusters(net, images, 64, torch.device("cpu"), statistics_batch_size=100)
    with torch.no_grad():
        activations = first_conv(images)
    expected_mean = activations.mean(dim=(0, 2, 3))
    assert torch.allclose(first_norm.running_mean, expected_mean, atol=1e-5)
    assert net.training and first_norm.momentum == 0.1  # the training setup is left as it was
    assert not np.array_equal(stale, fresh)
    net.eval()
    with torch.no_grad():
        assert np.array_equal(fresh, net(images).argmax(dim=1).numpy())


def test_bad_cluster_counts_and_settings_are_refused():
    with pytest.raises(ValueError, match="num_clusters"):
        DACNet(1, num_clusters=1, image_size=28)
    with pytest.raises(ValueError, match="num_clusters"):
        DACConfig(num_clusters=1)
    with pytest.raises(ValueError, match="unknown pairwise loss 'ce'.*bce.*slf"):
        DACConfig(loss="ce")
    with pytest.raises(ValueError, match="clustering does not have.*joint, softmax"):
        DACConfig(loss="slf", slf_mode="validation")
    with pytest.raises(ValueError, match="not pairwise losses.*cosine"):
        DACConfig(loss="slf", slf_candidates=("bce", "huber"))
    with pytest.raises(ValueError, match="min_retention"):
        DACConfig(min_retention=0.0)
    with pytest.raises(ValueError, match="optimizer"):
        DACConfig(optimizer="lbfgs")


def test_augmentation_moves_pixels_but_keeps_shapes(digits):
    images = digits.images[:16]
    generator = torch.Generator().manual_seed(0)
    warped = random_affine(images, generator=generator)
    assert warped.shape == images.shape and not torch.allclose(warped, images)
    again = random_affine(images, generator=torch.Generator().manual_seed(0))
    assert torch.equal(warped, again)


# ---------------------------------------------------------------------- training on real digits
def test_short_dac_run_on_real_digits_improves_nmi(digits):
    run = train_dac(DACConfig(data="digits", **FAST), progress=False, data=digits)
    assert run["final"]["nmi"] > run["initial"]["nmi"] + 0.15, (run["initial"], run["final"])
    assert len(run["rounds"]) == 3 and run["steps"] > 0
    rounds = run["rounds"]
    assert rounds[0]["upper"] > rounds[-1]["upper"] and rounds[0]["lower"] < rounds[-1]["lower"]
    assert rounds[-1]["selected_pairs"] > rounds[0]["selected_pairs"]
    assert np.asarray(run["confusion"]).sum() == len(digits) == sum(run["cluster_sizes"])


@pytest.mark.parametrize("loss", ["l4", "smooth01", "adaptive_robust"])
def test_the_papers_other_pairwise_baselines_train_dac_on_real_digits(digits, loss):
    """The SLF paper's DAC + L4, Smooth and ARLF: each trains DAC alone; ARLF's shape and scale learn with it."""
    run = train_dac(DACConfig(data="digits", loss=loss, **FAST), progress=False, data=digits)
    assert run["final"]["nmi"] > run["initial"]["nmi"] + 0.1, (loss, run["initial"], run["final"])
    criterion = build_pairwise_criterion(DACConfig(loss=loss))
    similarity = torch.tensor([0.99, 0.6, 0.02, 0.4], requires_grad=True)
    per_pair = criterion(similarity, torch.tensor([1.0, 1.0, 0.0, 0.0]))
    per_pair.sum().backward()
    assert per_pair.shape == (4,) and bool(similarity.grad[1] < 0) and bool(similarity.grad[3] > 0)
    if loss == "adaptive_robust":
        assert criterion.latent_alpha.grad is not None and criterion.latent_scale.grad is not None


def test_adalfl_learns_its_pairwise_loss_online_while_dac_trains_on_real_digits(digits):
    """AdaLFL as DAC's only pairwise loss: BCE at the start; before each step its network takes one update
    from a look-ahead on the batch's selected pairs, judged by BCE on them; it stays out of the network's
    optimiser, and DAC still learns."""
    cfg = DACConfig(data="digits", loss="adalfl", **FAST)
    criterion = build_pairwise_criterion(cfg)
    assert criterion.lookahead_lr == cfg.lr and not criterion.from_logits
    similarity, targets = torch.tensor([0.99, 0.6, 0.02, 0.4]), torch.tensor([1.0, 1.0, 0.0, 0.0])
    bce = losses.build("bce", task="binary", from_logits=False, reduction="none")
    torch.testing.assert_close(criterion(similarity, targets), bce(similarity, targets))
    run = train_dac(cfg, progress=False, data=digits)
    assert run["final"]["nmi"] > run["initial"]["nmi"] + 0.1, (run["initial"], run["final"])
    assert run["loss_learning"]["meta_steps"] == run["steps"] > 0


def test_the_look_ahead_through_dacs_selected_pairs_matches_finite_differences(digits):
    """d/dphi of BCE on the selected pairs after one SGD step of DAC's network on AdaLFL's loss, through
    :class:`SelectedPairSimilarities`, against central differences (float64)."""
    from slf.unrolled_step import call_with_parameters, unrolled_sgd_step
    from slf_dac.train_dac import SelectedPairSimilarities

    torch.manual_seed(0)
    net = DACNet(1, num_clusters=10, image_size=digits.input_shape[-1], width=4).double()
    images = digits.images[:16].double()
    targets, selected = select_pairs(pair_similarities(net.label_features(images)), 0.6, 0.4)
    assert 0 < int(selected.sum()) < 16 * 15
    pairs = SelectedPairSimilarities(net, selected)
    loss = build_pairwise_criterion(DACConfig(loss="adalfl", loss_options={"hidden": 4})).double()
    with torch.no_grad():
        loss.network.layers[-1].weight.normal_(0.0, 1.0)
    chosen = targets[selected].double()

    def meta_loss():
        stepped = unrolled_sgd_step(pairs, lambda out: loss(out, chosen).mean(), images, 0.5)
        return torch.nn.functional.binary_cross_entropy(call_with_parameters(pairs, stepped, images), chosen)

    parameter = loss.network.layers[-1].weight
    (analytic,) = torch.autograd.grad(meta_loss(), [parameter])
    numeric = torch.zeros_like(parameter)
    for index in itertools.product(*map(range, parameter.shape)):
        with torch.no_grad():
            parameter[index] += 1e-6
        up = meta_loss().item()
        with torch.no_grad():
            parameter[index] -= 2e-6
        down = meta_loss().item()
        with torch.no_grad():
            parameter[index] += 1e-6
        numeric[index] = (up - down) / 2e-6
    assert numeric.abs().max() > 1e-8
    torch.testing.assert_close(analytic, numeric, rtol=1e-4, atol=1e-9)


def test_curriculum_keeps_the_easiest_pairs_first_then_all_of_them(digits):
    """DAC + curriculum learning as self-paced bce: the kept share of each kind of pair grows from half to all."""
    cfg = DACConfig(data="digits", loss="self_paced", loss_options={"start_fraction": 0.5, "growth_steps": 2}, **FAST)
    criterion = build_pairwise_criterion(cfg)
    similarity = torch.tensor([0.99, 0.6, 0.02, 0.4], requires_grad=True)
    targets = torch.tensor([1.0, 1.0, 0.0, 0.0])
    first = criterion(similarity, targets)
    expected = losses.build("bce", task="binary", from_logits=False, reduction="none")(similarity, targets)
    # The easiest similar pair and the easiest dissimilar one: half of each kind, not the batch's easiest half.
    assert first.count_nonzero() == 2 and torch.equal(first[[0, 2]], expected[[0, 2]])
    criterion(similarity, targets)
    assert torch.equal(criterion(similarity, targets), expected) and criterion.fraction == 1.0
    with torch.no_grad():
        assert criterion(similarity, targets).count_nonzero() == 4 and criterion.steps == 3  # evaluation: all, no step
    run = train_dac(cfg, progress=False, data=digits)
    assert run["final"]["nmi"] > run["initial"]["nmi"] + 0.1


def test_slf_weights_move_and_the_same_seed_repeats(digits):
    cfg = DACConfig(data="digits", loss="slf", slf_mode="joint", **FAST)
    run = train_dac(cfg, progress=False, data=digits)
    assert run["candidates"] == ["mse", "mae", "hinge", "cosine", "bce"]
    first, last = np.array(run["weights_history"][0]["weights"]), np.array(run["final_weights"])
    assert np.abs(last - first).max() > 0.02, (first, last)
    assert np.isclose(sum(run["mean_weights"]), 1.0)
    again = train_dac(cfg, progress=False, data=digits)
    assert again["final"] == run["final"] and again["final_weights"] == run["final_weights"]


def test_slf_pairwise_criterion_reads_each_pair():
    crit = build_pairwise_criterion(DACConfig(loss="slf", slf_mode="joint", slf_options={"selection": "sample"}))
    similarity = torch.tensor([0.99, 0.97, 0.1, 0.3], requires_grad=True)
    per_pair = crit(similarity, torch.tensor([1.0, 1.0, 0.0, 0.0]))
    per_pair.sum().backward()
    assert per_pair.shape == (4,) and similarity.grad is not None
    assert len(list(crit.decision.parameters())) > 0 and crit.weights.shape == (5,)


def test_the_default_recipe_compares_with_the_previous_batch_without_labels(digits):
    import warnings

    cfg = DACConfig(data="digits", loss="slf", **FAST)
    assert cfg.method == "slf-align"
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)  # no labels by design: no "forgot the held-out data" warning
        run = train_dac(cfg, progress=False, data=digits)
    stats = run["slf_stats"]
    assert stats["held_out_reference"] == 0.0 and stats["step"] == run["steps"]
    scores = dict(zip(run["candidates"], (stats[f"alignment/{name}"] for name in run["candidates"])))
    assert len(set(scores.values())) > 1 and all(-1.0 <= score <= 1.0 for score in scores.values())
    weights = dict(zip(run["candidates"], run["mean_weights"]))
    assert sum(weights.values()) == pytest.approx(1.0, abs=1e-5)
    # BCE, DAC's own loss and the reference, keeps the weight unless another is clearly better aligned.
    best = max(scores, key=scores.get)
    leader = "bce" if scores[best] < scores["bce"] + 0.03 else best
    assert weights[leader] > 0.5, (scores, weights)
    assert run["final"]["acc"] > 0.3


def test_too_few_images_is_a_clear_error(digits):
    empty = digits.subset([])
    with pytest.raises(ValueError, match="at least 2 images, got 0"):
        train_dac(DACConfig(data="digits", **FAST), progress=False, data=empty)


def test_imbalanced_run_uses_a_seeded_subset(digits):
    cfg = DACConfig(data="digits", min_retention=0.1, width=4, rounds=1, num_threads=2)
    run = train_dac(cfg, progress=False, data=digits)
    assert 0.45 * len(digits) < run["num_images"] < 0.65 * len(digits)
    sizes = np.asarray(run["confusion"]).sum(axis=1)
    assert sizes[0] < sizes[9] and sizes[9] == np.bincount(digits.labels.numpy())[9]


def test_run_cluster_writes_results_and_plots(tmp_path, digits):
    summary = run_cluster(
        DACConfig(data="digits", loss="slf", width=4, rounds=2, num_threads=2), 2, tmp_path, progress=False, data=digits
    )
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["trainer"] == "dac" and len(results["runs"]) == 2
    assert {p.split("/")[-1] for p in summary["plots"]} == {"metrics.png", "confusion.png", "selection_weights.png"}
    for name in ("metrics.png", "confusion.png", "selection_weights.png"):
        assert (tmp_path / name).stat().st_size > 1000
    assert 0.0 <= summary["acc_mean"] <= 1.0 and summary["seeds"] == 2


@pytest.mark.slow
def test_cli_cluster_on_mnist5k_then_plot(tmp_path, capsys):
    out = tmp_path / "dac"
    assert (
        main(
            [
                "cluster",
                "--data",
                "mnist5k",
                "--loss",
                "bce",
                "--seeds",
                "1",
                "--rounds",
                "2",
                "--width",
                "4",
                "--threads",
                "2",
                "--no-progress",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    printed = capsys.readouterr().out
    assert "NMI" in printed and "mnist5k" in printed
    run = json.loads((out / "results.json").read_text())["runs"][0]
    assert run["num_images"] == 5000 and run["final"]["nmi"] > run["initial"]["nmi"]
    (out / "metrics.png").unlink()
    assert main(["plot", str(out)]) == 0
    assert (out / "metrics.png").is_file() and (out / "confusion.png").is_file()


@pytest.mark.parametrize(
    "argv,message",
    [
        (["--loss", "ce"], "invalid choice 'ce'; valid choices: adalfl, adaptive_robust, bce"),
        (["--clusters", "1"], "num_clusters"),
        (["--loss", "slf", "--slf-mode", "validation"], "clustering does not have"),
        (["--slf-candidates", "bce,huber"], "unknown loss"),
        (["--data", "imagenet10"], "needs"),
        (["--min-retention", "1.5"], "min_retention"),
    ],
)
def test_cli_cluster_refuses_bad_input(tmp_path, capsys, argv, message):
    with pytest.raises(SystemExit) as exit_info:
        main(["cluster", "--out", str(tmp_path), *argv])
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def test_cli_cluster_reports_a_missing_folder(tmp_path, capsys):
    missing = tmp_path / "nowhere"
    assert main(["cluster", "--data", f"imagenet10:{missing}", "--out", str(tmp_path / "o"), "--no-progress"]) == 2
    assert "nowhere" in capsys.readouterr().err


def test_slf_cluster_under_torchrun_keeps_every_rank_identical(slf_torchrun):
    """Two CPU processes (gloo), each with a batch of its own; ranks step or skip together."""
    run = slf_torchrun("cluster", "--data", "digits", "--loss", "slf", "--seeds", "1", "--rounds", "2", "--width", "4")
    assert run["distributed"] == {
        "world_size": 2,
        "backend": "gloo",
        "model_max_rank_difference": 0.0,
        "decision_max_rank_difference": 0.0,
    }
    assert run["steps"] > 0 and run["final"]["nmi"] > run["initial"]["nmi"]
