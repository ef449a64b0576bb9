"""fairseq-train --user-dir --criterion slf on the real Ding corpus, then resume, generate and score."""

from __future__ import annotations

import json
import subprocess

import pytest
import torch

pytestmark = [pytest.mark.fairseq, pytest.mark.slow]

import slf_fairseq  # noqa: E402,F401  (also lets torch's safe loader read fairseq checkpoints)
from slf import StochasticLoss  # noqa: E402
from slf_fairseq.ding_translate import SMALL_TRANSFORMER, run, train_command  # noqa: E402

CANDIDATES = ["--slf-candidates", "label_smoothed_nll,focal,poly1,mse"]
# The literal mode learns a decision network: its parameters and state go through fairseq's checkpoints.
LITERAL = [*CANDIDATES, "--slf-mode", "joint"]


def criterion_state(path):
    checkpoint = torch.load(path, map_location="cpu")  # weights_only: no unsafe unpickling needed
    return checkpoint["criterion"]


def test_train_generate_score_and_resume(ding_data, tmp_path) -> None:
    out = tmp_path / "slf"
    results = run(
        out, "slf", max_epoch=1, seed=1, data=ding_data, extra=[*LITERAL, "--max-update", "30"], beam=1, threads=1
    )
    assert results["test_sentences"] == 600
    assert 0.0 <= results["bleu"] <= 100.0 and results["train_wps"] > 0
    assert set(results["weights"]) == {"label_smoothed_nll", "focal", "poly1", "mse"}
    assert abs(sum(results["weights"].values()) - 1.0) < 0.01
    log = (out / "train.log").read_text()
    assert '"w_focal"' in log and '"ppl"' in log
    assert log.startswith("OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 ")  # the one command line that reruns the run
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(out / "tensorboard" / "train_inner"))
    events.Reload()
    assert {"w_focal", "w_label_smoothed_nll", "loss", "nll_loss"} <= set(events.Tags()["scalars"])

    first = criterion_state(out / "checkpoints" / "checkpoint_last.pt")
    first_state = StochasticLoss.read_extra_state(first["slf._extra_state"])
    assert first_state["step"] == 30
    # Resume: fairseq-train restores checkpoint_last.pt, the criterion's parameters and state included.
    command = train_command(
        ding_data / "data-bin", out, "slf", 1, 1, SMALL_TRANSFORMER, [*LITERAL, "--max-update", "40"]
    )
    resumed = subprocess.run(command, capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stdout[-2000:] + resumed.stderr[-2000:]
    assert "Loaded checkpoint" in resumed.stdout + resumed.stderr
    second = criterion_state(out / "checkpoints" / "checkpoint_last.pt")
    second_state = StochasticLoss.read_extra_state(second["slf._extra_state"])
    assert second_state["step"] == 40  # 30 restored + 10 new steps
    assert second_state["history"][:3] == first_state["history"][:3]
    assert not torch.equal(second["slf.decision.out.weight"], first["slf.decision.out.weight"])
    assert json.loads((out / "results.json").read_text())["criterion"] == "slf"


def test_a_thread_count_below_one_is_refused_before_anything_runs(tmp_path) -> None:
    with pytest.raises(ValueError, match="threads must be at least 1"):
        run(tmp_path / "none", "slf", max_epoch=1, seed=1, data=tmp_path / "no-data", threads=0)
    assert not (tmp_path / "none").exists()


def test_validation_mode_trains_and_resumes_its_decision_optimizer(ding_data, tmp_path) -> None:
    """--slf-mode validation under fairseq-train: held-out NLL logged, v's Adam state saved and restored."""
    extra = [*CANDIDATES, "--slf-mode", "validation", "--slf-validation-max-tokens", "1024", "--log-interval", "2"]

    def train(max_update: int) -> str:
        command = train_command(
            ding_data / "data-bin", tmp_path, "slf", 1, 1, SMALL_TRANSFORMER, [*extra, "--max-update", str(max_update)]
        )
        done = subprocess.run(command, capture_output=True, text=True)
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
        return done.stdout + done.stderr

    log = train(6)
    assert '"slf_val_nll"' in log and '"w_focal"' in log
    state = StochasticLoss.read_extra_state(
        criterion_state(tmp_path / "checkpoints" / "checkpoint_last.pt")["slf._extra_state"]
    )
    adam_steps = {int(s["step"]) for s in state["decision_optimizer"]["state"].values()}
    assert state["step"] == 6 and adam_steps == {6}
    assert "Loaded checkpoint" in train(9)
    state = StochasticLoss.read_extra_state(
        criterion_state(tmp_path / "checkpoints" / "checkpoint_last.pt")["slf._extra_state"]
    )
    assert state["step"] == 9
    assert {int(s["step"]) for s in state["decision_optimizer"]["state"].values()} == {9}


def test_l2t_dlf_teaches_under_fairseq_train_and_its_teacher_resumes(ding_data, tmp_path) -> None:
    """--criterion l2t_dlf: label smoothing for 3 updates, then the teacher's loss and its updates on valid
    batches (logged); its coefficients and step count saved in the checkpoint and restored on resume."""
    extra = ["--l2t-pretrain-steps", "3", "--l2t-validation-max-tokens", "1024", "--log-interval", "1"]

    def train(max_update: int) -> str:
        command = train_command(
            ding_data / "data-bin",
            tmp_path,
            "l2t_dlf",
            1,
            1,
            SMALL_TRANSFORMER,
            [*extra, "--max-update", str(max_update)],
        )
        done = subprocess.run(command, capture_output=True, text=True)
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
        return done.stdout + done.stderr

    log = train(5)
    assert '"l2t_meta_loss"' in log and '"l2t_h"' in log and '"nll_loss"' in log
    first = criterion_state(tmp_path / "checkpoints" / "checkpoint_last.pt")
    assert int(first["teacher_steps"]) == 5
    assert not torch.equal(first["teacher.weight"], torch.ones_like(first["teacher.weight"]))  # two updates
    assert "Loaded checkpoint" in train(7)
    second = criterion_state(tmp_path / "checkpoints" / "checkpoint_last.pt")
    assert int(second["teacher_steps"]) == 7
    assert not torch.equal(second["teacher.weight"], first["teacher.weight"])


@pytest.mark.parametrize("mode", ["align", "validation"])
def test_two_cpu_processes_with_fairseqs_own_distributed_options(ding_data, tmp_path, mode) -> None:
    """fairseq-train twice, ranks 0 and 1 (--distributed-init-method tcp://, gloo, legacy_ddp on CPU): the
    default recipe keeps one set of scores, validation-mode SLF one decision network (slf_rank_gap 0 at every
    log line)."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    extra = [
        *CANDIDATES,
        "--slf-mode",
        mode,
        "--slf-validation-max-tokens",
        "1024",
        "--max-update",
        "6",
        "--log-interval",
        "2",
        "--distributed-world-size",
        "2",
        "--distributed-backend",
        "gloo",
        "--distributed-init-method",
        f"tcp://127.0.0.1:{port}",
        "--distributed-no-spawn",
        "--ddp-backend",
        "legacy_ddp",
    ]
    ranks = [
        subprocess.Popen(
            train_command(
                ding_data / "data-bin",
                tmp_path,
                "slf",
                1,
                1,
                SMALL_TRANSFORMER,
                [*extra, "--distributed-rank", str(rank)],
            ),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for rank in range(2)
    ]
    logs = [rank.communicate(timeout=600)[0] for rank in ranks]
    assert [rank.returncode for rank in ranks] == [0, 0], logs[0][-3000:]
    records = [json.loads(line[line.index("{") :]) for line in logs[0].splitlines() if "| train_inner |" in line]
    assert len(records) == 3 and all(float(r["slf_rank_gap"]) == 0.0 for r in records)
    if mode == "align":
        # fairseq checkpoints a criterion's state only when it has parameters; the recipe has none.
        assert all("w_focal" in r for r in records) and "no held-out data" not in logs[0]
        weights = [float(records[-1][f"w_{name}"]) for name in ("label_smoothed_nll", "focal", "poly1", "mse")]
        assert sum(weights) == pytest.approx(1.0, abs=0.01) and max(weights) > 0.5
        return
    assert all("w_focal" in r and "slf_val_nll" in r for r in records)
    state = StochasticLoss.read_extra_state(
        criterion_state(tmp_path / "checkpoints" / "checkpoint_last.pt")["slf._extra_state"]
    )
    assert state["step"] == 6
