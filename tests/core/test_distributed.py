"""SLF under torch.distributed (2 CPU processes, gloo): the decision network stays identical on every rank."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from slf import HeldOut, StochasticLoss, distributed
from slf.data import load_dataset

WORLD = 2
STEPS = 12


def _train_rank(rank: int, store: str, out: str, mode: str, synchronize: bool) -> None:
    dist.init_process_group("gloo", init_method=f"file://{store}", rank=rank, world_size=WORLD)
    try:
        torch.set_num_threads(1)
        torch.manual_seed(rank)  # different starting points: only broadcasting makes them equal
        if not synchronize:
            distributed.average_gradients = lambda parameters: None  # the control: v learns alone
            distributed.broadcast_parameters = lambda module, source=0: None
        splits = load_dataset("digits", seed=0)
        (x, y), (vx, vy) = splits.train.tensors, splits.val.tensors
        x, vx = x.flatten(1), vx.flatten(1)
        model = DistributedDataParallel(nn.Sequential(nn.Linear(x.shape[1], 32), nn.ReLU(), nn.Linear(32, 10)))
        crit = StochasticLoss(["ce", "mse", "mae", "hinge"], mode=mode, normalize="mean", seed=rank)
        params = list(model.parameters()) + (list(crit.parameters_for_model_optimizer()) if mode == "joint" else [])
        optimizer = torch.optim.Adam(params, lr=1e-2)
        for step in range(STEPS):
            # Each rank its own shard of the batch, as a DistributedSampler would give.
            index = torch.arange(step * 64, (step + 1) * 64)[rank::WORLD] % len(y)
            optimizer.zero_grad()
            crit(model(x[index]), y[index]).backward()
            if mode == "joint":
                distributed.average_gradients(crit.decision.parameters())
            optimizer.step()
            if mode == "validation":
                held = torch.arange(step * 32, (step + 1) * 32)[rank::WORLD] % len(vy)
                crit.validation_step(model.module, x[index], y[index], vx[held], vy[held])
        record = {
            "decision": {k: v.tolist() for k, v in crit.decision.state_dict().items()},
            "loss_scale": crit.loss_scale.tolist(),
            "weight_sum": crit.record.weight_sum.tolist(),
            "selection_counts": crit.record.selection_counts.tolist(),
            "history": crit.history,
        }
        Path(out, f"rank{rank}.json").write_text(json.dumps(record))
    finally:
        dist.destroy_process_group()


def _run(tmp_path: Path, mode: str, synchronize: bool):
    out = tmp_path / f"{mode}-{synchronize}"
    out.mkdir()
    mp.spawn(
        _train_rank,
        args=(str(tmp_path / f"store-{mode}-{synchronize}"), str(out), mode, synchronize),
        nprocs=WORLD,
        join=True,
    )
    return [json.loads((out / f"rank{r}.json").read_text()) for r in range(WORLD)]


@pytest.mark.parametrize("mode", ["joint", "validation"])
def test_decision_network_and_statistics_are_identical_on_every_rank(tmp_path, mode):
    first, second = _run(tmp_path, mode, synchronize=True)
    assert first["decision"] == second["decision"]
    assert first["loss_scale"] == second["loss_scale"] and first["weight_sum"] == second["weight_sum"]
    assert first["history"] == second["history"]
    assert sum(first["selection_counts"]) == WORLD * STEPS  # both ranks' batch decisions are counted
    alone, other = _run(tmp_path, mode, synchronize=False)
    assert alone["decision"] != other["decision"]  # without the collectives the ranks drift apart
    assert sum(alone["selection_counts"]) == WORLD * STEPS  # statistics are still summed over ranks


def _gap_rank(rank: int, store: str, out: str) -> None:
    dist.init_process_group("gloo", init_method=f"file://{store}", rank=rank, world_size=WORLD)
    try:
        torch.set_num_threads(1)
        torch.manual_seed(0)
        splits = load_dataset("digits", seed=0)
        (x, y), (vx, vy) = splits.train.tensors, splits.val.tensors
        x, vx = x.flatten(1), vx.flatten(1)
        model = DistributedDataParallel(nn.Sequential(nn.Linear(x.shape[1], 32), nn.ReLU(), nn.Linear(32, 10)))
        # Each rank its own held-out shard and training shard: their losses differ, the gate must not.
        crit = StochasticLoss(
            ["ce", "mse", "mae", "hinge"],
            held_out=HeldOut(model.module, [(vx[rank::WORLD][:32], vy[rank::WORLD][:32])]),
            alignment=dict(gap_patience=3),
        )
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
        gates = []
        for step in range(STEPS):
            index = torch.arange(step * 64, (step + 1) * 64)[rank::WORLD] % len(y)
            optimizer.zero_grad()
            crit(model(x[index]), y[index]).backward()
            optimizer.step()
            gates.append(
                [
                    float(crit.decision.train_loss),
                    float(crit.decision.held_out_loss),
                    crit.decision.keeps_preferred,
                    crit.decision.noise_seen,
                    crit.weights.tolist(),
                ]
            )
        Path(out, f"rank{rank}.json").write_text(json.dumps(gates))
    finally:
        dist.destroy_process_group()


def test_the_default_recipes_gap_takes_the_same_gate_on_every_rank(tmp_path):
    first, second = _spawn_ranks(_gap_rank, tmp_path)
    assert first == second


def _spawn_ranks(target, tmp_path: Path) -> list:
    """Runs ``target(rank, store, out)`` on every rank; returns each rank's JSON record."""
    mp.spawn(target, args=(str(tmp_path / "store"), str(tmp_path)), nprocs=WORLD, join=True)
    return [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in range(WORLD)]


def _mils_rank(rank: int, store: str, out: str) -> None:
    from slf.mils import MILS
    from slf.models import build_model

    dist.init_process_group("gloo", init_method=f"file://{store}", rank=rank, world_size=WORLD)
    try:
        torch.set_num_threads(1)
        torch.manual_seed(rank)
        splits = load_dataset("digits", seed=0)
        x, y = splits.train.tensors
        model = DistributedDataParallel(build_model("mlp", splits.input_shape, splits.num_classes))
        optimizer = torch.optim.SGD(model.parameters(), lr=0.5)
        # Each rank observes its own half of a 128-sample observation set; no seed: each draws its own.
        mils = MILS(
            model,
            optimizer,
            "ce",
            ["multi_margin", "mse"],
            rate=0.6,
            observation=(x[rank:128:WORLD], y[rank:128:WORLD]),
            num_classes=splits.num_classes,
        )
        local = []
        count_local = mils.observation_correct
        mils.observation_correct = lambda: local.append(count_local()) or local[-1]
        kinds = []
        for step in range(STEPS):
            index = torch.arange(step * 64, (step + 1) * 64)[rank::WORLD] % len(y)
            kinds.append(mils.step(x[index], y[index])["kind"])
        record = {
            "kinds": kinds,
            "local": local,
            "accepted": mils.stats()["accepted"],
            "params": [p.detach().flatten().tolist() for p in model.parameters()],
        }
        Path(out, f"rank{rank}.json").write_text(json.dumps(record))
    finally:
        dist.destroy_process_group()


def test_mils_takes_one_decision_from_the_whole_observation_set_on_every_rank(tmp_path):
    first, second = _spawn_ranks(_mils_rank, tmp_path)
    assert first["kinds"] == second["kinds"] and first["accepted"] == second["accepted"]
    assert {"accepted", "rejected"} & set(first["kinds"]), first["kinds"]  # auxiliary steps were tried
    assert first["local"] != second["local"]  # the ranks' own counts differ: the sum decides
    assert first["params"] == second["params"]  # no rank diverged


def test_helpers_are_identities_in_one_process():
    assert not dist.is_initialized() and distributed.world_size() == 1 and distributed.rank() == 0
    value = torch.tensor([1.0, 2.0])
    assert torch.equal(distributed.all_reduce_mean(value), value)
    assert distributed.all_reduce_sum(value) is not value
    assert os.environ.get("WORLD_SIZE") in (None, "1")


# --------------------------------------------------------------------------- slf classify under torchrun
@pytest.mark.parametrize(
    "arguments",
    [
        ("--loss", "slf", "--epochs", "2"),
        ("--loss", "slf", "--slf-mode", "validation", "--epochs", "2"),
        ("--loss", "slf", "--slf-mode", "joint", "--slf-normalize", "mean", "--epochs", "2"),
        ("--loss", "mils", "--mils-rate", "0.5", "--mils-aux", "multi_margin,center", "--epochs", "2"),
    ],
    ids=["slf-default-recipe", "slf-validation", "slf-joint-normalize", "mils-with-a-feature-loss"],
)
def test_cli_classify_under_torchrun_keeps_every_rank_identical(slf_torchrun, arguments):
    run = slf_torchrun("classify", "--data", "digits", "--seeds", "1", *arguments)
    record = run["distributed"]
    assert (record["world_size"], record["backend"]) == (WORLD, "gloo")
    assert record["model_max_rank_difference"] == 0.0
    if "slf" in arguments:
        assert record["decision_max_rank_difference"] == 0.0  # align: the scores, from cosines averaged over ranks
        assert len(run["weights_history"]) > 0 and abs(sum(run["final_weights"]) - 1) < 1e-5
        if "--slf-mode" not in arguments:
            assert run["method"] == "slf-align" and run["slf_stats"]["held_out_reference"] == 1.0
    else:
        assert run["mils_stats"]["attempted_total"] > 0
    # It learned (10 classes, chance 0.1); the center loss slows MILS down early (0.28 in one process).
    assert run["test_acc"][-1] > (0.15 if "mils" in arguments else 0.5)


def test_cli_classify_on_two_ranks_trains_like_one_process_on_the_whole_batch(slf_torchrun):
    """Each rank takes half of every batch and DDP averages: cross-entropy follows the 1-process run."""
    from slf.train import ClassifyConfig, train_classifier

    ranks = slf_torchrun("classify", "--data", "digits", "--seeds", "1", "--loss", "ce", "--epochs", "3")
    alone = train_classifier(ClassifyConfig(data="digits", loss="ce", epochs=3, num_threads=1), progress=False)
    # Only the last, odd-sized batch of an epoch splits unevenly (15 / 14), so the curves differ by a hair.
    assert np.allclose(ranks["train_loss"], alone["train_loss"], atol=2e-3), (ranks["train_loss"], alone["train_loss"])
    assert np.allclose(ranks["test_acc"], alone["test_acc"], atol=0.01)
