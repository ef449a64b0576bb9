"""fairseq on the real Ding German-English corpus: ``--criterion slf`` against ``label_smoothed_cross_entropy``.

1. Words per second: one training step (forward, criterion, backward, Adam step) of
   copies of the same transformer, one per criterion (``CRITERIA``: label smoothing, SLF's
   default recipe ``--criterion slf``, the same once its gate has settled on label smoothing
   (forced: clean data after 50 steps), and the literal ``--slf-mode joint``), on the same
   real batches, in interleaved rounds; the median per-round ratio of the default recipe
   to label_smoothed_cross_entropy (``ratio``: its first steps, every candidate weighed;
   ``ratio_held``: settled; goal >= 0.95) and of the literal one (``ratio_joint``).
2. BLEU after a fixed CPU budget: ``python -m slf_fairseq.ding_translate`` for each
   method of ``--methods`` (same model, data, epochs; seeds 1..N), sacrebleu on the 600
   test pairs; mean +- std and a paired t-test against label smoothing. Writes JSON, a
   PNG per method and ``fairseq_default_weights.png`` (the default recipe's weights over
   training, read from fairseq's training log) to ``--out``.

    python benchmarks/fairseq_slf.py --seeds 3 --epochs 10
    python benchmarks/fairseq_slf.py --seeds 3 --epochs 10 --skip-timing --methods slf_validation \
        --reuse runs/fairseq_slf/fairseq_slf.json                        # add a method to earlier runs
    python benchmarks/fairseq_slf.py --seeds 3 --epochs 10 --keep-finished  # finish an interrupted one
    python benchmarks/fairseq_slf.py --seeds 1 --epochs 1 --rounds 5     # a smoke run
    python benchmarks/fairseq_slf.py --seeds 5 --epochs 10 --workers 2   # two runs at a time, one thread each
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import shlex
import shutil
import statistics
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import torch
from tqdm import tqdm

from slf.stochastic_loss import DEFAULT_MODE
from slf_fairseq.ding_translate import SMALL_TRANSFORMER

from _comparison import current_recipe, paired_t_tests, recipe_signature, runs_to_fill, summary
from _timing import interleaved_times, median_ratio

ROOT = Path(__file__).resolve().parents[1]
CANDIDATES = "label_smoothed_nll,focal,poly1,mae"
# The criteria timed against each other: name -> (criterion, extra arguments). "slf" is the default recipe.
CRITERIA = {
    "label_smoothed_cross_entropy": ("label_smoothed_cross_entropy", []),
    "slf": ("slf", ["--slf-candidates", CANDIDATES]),
    "slf_held": ("slf", ["--slf-candidates", CANDIDATES]),
    "slf_joint": ("slf", ["--slf-candidates", CANDIDATES, "--slf-mode", "joint"]),
}
# --slf-mode of the runs saved before align became the criterion's default (their extra has no --slf-mode).
ARCHIVED_DEFAULT_MODE = "joint"
# Method name -> (criterion, extra fairseq-train arguments).
METHODS = {
    "label_smoothed": ("label_smoothed_cross_entropy", []),
    "slf_align": ("slf", ["--slf-candidates", CANDIDATES]),  # the default recipe: no --slf-mode
    "slf_joint": ("slf", ["--slf-candidates", CANDIDATES, "--slf-mode", "joint"]),
    "slf_softmax_mean": ("slf", ["--slf-candidates", CANDIDATES, "--slf-mode", "softmax", "--slf-normalize", "mean"]),
    # The look-ahead costs about a training step; every 4th step keeps it near a quarter of one.
    "slf_validation": (
        "slf",
        ["--slf-candidates", CANDIDATES, "--slf-mode", "validation", "--slf-validation-interval", "4"],
    ),
}
# SLF's peer in the paper's Table 4 (``--criterion l2t_dlf``: its teacher learns on the valid split's batches).
# Its update costs about two steps; every 4th step, as SLF's validation mode in this table.
METHODS["l2t_dlf"] = ("l2t_dlf", ["--l2t-interval", "4"])
DEFAULT_METHOD = "slf_align"
LABELS = {
    "label_smoothed": "label smoothed CE",
    "slf_align": "SLF default\n(align)",
    "slf_joint": "SLF joint",
    "slf_softmax_mean": "SLF softmax+mean",
    "slf_validation": "SLF validation",
    "l2t_dlf": "L2T-DLF\n(online)",
}
# The SLF paper's Table 4 LSTM rows: fairseq's Wiseman-Rush LSTM with attention at the transformer's width
# (128), one or two layers; each trained with label smoothing and with SLF's default recipe.
LSTM_ARCH = (
    "--arch lstm_wiseman_iwslt_de_en --encoder-embed-dim 128 --encoder-hidden-size 128 --decoder-embed-dim 128 "
    "--decoder-hidden-size 128 --decoder-out-embed-dim 128 --share-decoder-input-output-embed --dropout 0.1"
)
# Method name -> fairseq-train model options, where not the transformer (``ding_translate.SMALL_TRANSFORMER``).
METHOD_ARCH: Dict[str, str] = {}
# Method name -> the method its paired test is against, where not the transformer's label smoothing.
BASELINES: Dict[str, str] = {}
for _layers in (1, 2):
    _smoothed, _default = f"lstm{_layers}_label_smoothed", f"lstm{_layers}_slf_align"
    METHODS[_smoothed], METHODS[_default] = METHODS["label_smoothed"], METHODS["slf_align"]
    LABELS[_smoothed], LABELS[_default] = f"LSTM-{_layers}\nlabel smoothed CE", f"LSTM-{_layers}\nSLF default"
    METHOD_ARCH[_smoothed] = METHOD_ARCH[_default] = (
        f"{LSTM_ARCH} --encoder-layers {_layers} --decoder-layers {_layers}"
    )
    BASELINES[_default] = _smoothed
LSTM_METHODS = tuple(METHOD_ARCH)


def training_step(model, criterion, optimizer, batch) -> float:
    """One step; returns its seconds per target word (a block's mean of these is its time over its
    words, where a mean of words per second would favour the fast steps)."""
    start = time.perf_counter()
    loss, _, _ = criterion(model, batch)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    return (time.perf_counter() - start) / batch["ntokens"]


def _timed_steps(
    data_bin: Path, criteria: Dict[str, Tuple[str, List[str]]], rounds: int, warmup: int
) -> Dict[str, Callable[[], float]]:
    """One training step per criterion of ``criteria`` (name -> (criterion, extra arguments)), each on its
    own copy of one transformer, cycling through the same ``rounds + warmup`` training batches; each step
    returns its seconds per target word."""
    from fairseq import options, tasks

    import slf_fairseq

    base = [
        str(data_bin),
        "--user-dir",
        str(Path(slf_fairseq.__file__).parent),
        *shlex.split(SMALL_TRANSFORMER),
        "--label-smoothing",
        "0.1",
        "--cpu",
        "--max-tokens",
        "4096",
    ]
    steps, batches = {}, None
    model = None
    for name, (criterion_name, extra) in criteria.items():
        args = options.parse_args_and_arch(
            options.get_training_parser(), [*base, "--criterion", criterion_name, *extra]
        )
        task = tasks.setup_task(args)
        if batches is None:
            task.load_dataset("train")
            iterator = task.get_batch_iterator(dataset=task.dataset("train"), max_tokens=4096, seed=1)
            batches = [batch for _, batch in zip(range(rounds + warmup), iterator.next_epoch_itr(shuffle=True))]
            torch.manual_seed(1)
            model = task.build_model(args)
        copy_of_model = copy.deepcopy(model).train()
        criterion = task.build_criterion(args).train()
        if name == "slf_held":  # the default recipe once its gate has settled on label smoothing (clean data)
            criterion.slf.decision.gap, criterion.slf.decision.gap_patience = 1e9, 1
        optimizer = torch.optim.Adam(list(copy_of_model.parameters()) + list(criterion.parameters()), lr=1e-4)
        # The same batch in every variant's round r; cycling keeps each round's tokens equal.
        position = {"i": 0}

        def step(model=copy_of_model, criterion=criterion, optimizer=optimizer, position=position) -> float:
            batch = batches[position["i"] % len(batches)]
            position["i"] += 1
            return training_step(model, criterion, optimizer, batch)

        steps[name] = step
    return steps


def words_per_second(data_bin: Path, rounds: int, warmup: int, block: int = 1) -> Dict[str, Any]:
    steps = _timed_steps(data_bin, CRITERIA, rounds, warmup)
    # Each step returns seconds per word; a variant's words per second over label smoothing's is
    # the inverse ratio of those.
    per_word = interleaved_times(steps, rounds, warmup, block, shuffle=True)
    base = per_word["label_smoothed_cross_entropy"]
    # "slf" (ratio) is the default recipe; "slf_joint" (ratio_joint) the literal update.
    return {
        "label_smoothed_wps": 1 / statistics.median(base),
        "slf_wps": 1 / statistics.median(per_word["slf"]),
        "slf_joint_wps": 1 / statistics.median(per_word["slf_joint"]),
        "ratio": median_ratio(base, per_word["slf"]),
        "ratio_joint": median_ratio(base, per_word["slf_joint"]),
        "slf_held_wps": 1 / statistics.median(per_word["slf_held"]),
        "ratio_held": median_ratio(base, per_word["slf_held"]),
        "slf_mode": DEFAULT_MODE,
        "rounds": rounds,
    }


# The peers timed against label smoothing (``--methods`` that name them): method -> the arguments added to
# its run's so that its teacher works from the first timed step (its pretraining is label smoothing's step).
TIMED_PEERS = {"l2t_dlf": ["--l2t-pretrain-steps", "1"]}


def peer_words_per_second(data_bin: Path, method: str, rounds: int, warmup: int, block: int = 5) -> Dict[str, Any]:
    """The peer ``method``'s words per second against label smoothing's, interleaved in turns of ``block``
    steps, each turn's figure the mean of its steps after the first: with ``block - 1`` a multiple of the
    peer's ``--l2t-interval`` (4), every figure holds its teacher's update in proportion.

    ``ratio`` is the median over turns of the peer's seconds per word over label smoothing's: its step's cost
    in label smoothing's steps.
    """
    criterion, extra = METHODS[method]
    criteria = {
        "label_smoothed_cross_entropy": CRITERIA["label_smoothed_cross_entropy"],
        method: (criterion, [*extra, *TIMED_PEERS[method]]),
    }
    per_word = interleaved_times(_timed_steps(data_bin, criteria, rounds, warmup), rounds, warmup, block, shuffle=True)
    base = per_word["label_smoothed_cross_entropy"]
    return {
        "label_smoothed_wps": 1 / statistics.median(base),
        "wps": 1 / statistics.median(per_word[method]),
        "ratio": median_ratio(per_word[method], base),
        "rounds": rounds,
        "block": block,
    }


def settled(criterion: str, extra: Sequence[str], default_mode: str) -> Tuple[str, List[str]]:
    """``criterion`` and ``extra`` with the SLF mode written out: ``default_mode`` where ``extra`` names none.

    Example:
        >>> settled("slf", ["--slf-candidates", "a,b"], "joint")
        ('slf', ['--slf-candidates', 'a,b', '--slf-mode', 'joint'])
    """
    extra = list(extra)
    if criterion == "slf" and "--slf-mode" not in extra:
        extra += ["--slf-mode", default_mode]
    return criterion, extra


def finished_run(
    folder: Path, criterion: str, extra: List[str], epochs: int, seed: int, arch_args: Optional[str] = None
) -> Optional[Dict[str, Any]]:
    """The results.json of an earlier run with these settings (``arch_args``: the model options, by default
    the transformer's, as every run saved before the LSTM rows had), if there is one.

    A run without ``--slf-mode`` ran the criterion's default of its day: the one it saved as
    ``slf_default_mode``, or ``ARCHIVED_DEFAULT_MODE`` (joint) for runs made before align was the default.
    """
    path = folder / "results.json"
    if not path.is_file():
        return None
    results = json.loads(path.read_text())
    saved = settled(results["criterion"], results["extra"], results.get("slf_default_mode", ARCHIVED_DEFAULT_MODE))
    same = (*saved, results["max_epoch"], results["seed"]) == (*settled(criterion, extra, DEFAULT_MODE), epochs, seed)
    same = same and results.get("arch_args", SMALL_TRANSFORMER) == (arch_args or SMALL_TRANSFORMER)
    # A default-recipe run made under other recipe constants is stale; no other run depends on them.
    criterion_now, extra_now = settled(criterion, extra, DEFAULT_MODE)
    mode = extra_now[extra_now.index("--slf-mode") + 1] if "--slf-mode" in extra_now else None
    current = current_recipe({"loss": criterion_now, "slf_mode": mode}, results)
    return results if same and current else None


def weights_history(train_log: Path) -> List[Dict[str, Any]]:
    """The candidate weights fairseq logged during training (``train_inner`` records, every
    ``--log-interval`` updates), as ``{'step', 'weights': {candidate: weight}}`` rows."""
    if not train_log.is_file():
        return []
    rows = []
    for line in train_log.read_text().splitlines():
        if "| train_inner |" not in line or "{" not in line:
            continue
        record = json.loads(line[line.index("{") :])
        record = {
            key[len("train_inner_") :] if key.startswith("train_inner_") else key: value
            for key, value in record.items()
        }
        weights = {key[len("w_") :]: float(value) for key, value in record.items() if key.startswith("w_")}
        if weights:
            rows.append({"step": int(float(record.get("num_updates", len(rows)))), "weights": weights})
    return rows


def record_history(folder: Path, results: Dict[str, Any]) -> Dict[str, Any]:
    """Adds to a new run's ``results.json`` the mode its default stood for, and (SLF) its weights over
    training with their mean (``weights_history``, ``candidates``, ``mean_weights``)."""
    results = {**results, "slf_default_mode": DEFAULT_MODE, "recipe": recipe_signature()}
    history = weights_history(folder / "train.log")
    if history:
        names = list(history[0]["weights"])
        results["candidates"] = names
        results["weights_history"] = [
            {"step": row["step"], "weights": [row["weights"].get(n, 0.0) for n in names]} for row in history
        ]
        results["mean_weights"] = {n: statistics.fmean(row["weights"].get(n, 0.0) for row in history) for n in names}
    (folder / "results.json").write_text(json.dumps(results, indent=2))
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=40)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--data", type=Path, default=ROOT / "data/ding")
    parser.add_argument("--out", type=Path, default=ROOT / "runs/fairseq_slf")
    parser.add_argument("--skip-timing", action="store_true")
    parser.add_argument("--skip-training", action="store_true")
    parser.add_argument("--methods", nargs="+", choices=list(METHODS), default=list(METHODS))
    parser.add_argument(
        "--keep-finished",
        action="store_true",
        help="reuse a run folder's results.json when its settings match (an interrupted benchmark)",
    )
    parser.add_argument(
        "--reuse", type=Path, help="a previous fairseq_slf.json whose runs of the other methods are kept"
    )
    parser.add_argument("--keep-checkpoints", action="store_true", help="keep each run's checkpoints")
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        help="runs side by side, the cores shared between them (a second 2-thread run on 2 cores "
        "slows both several-fold)",
    )
    args = parser.parse_args()
    if args.workers < 1:
        parser.error(f"--workers must be at least 1, got {args.workers}")
    from slf_fairseq.ding_prepare import prepare_ding
    from slf_fairseq.ding_translate import run

    data_bin = prepare_ding(args.data)
    args.out.mkdir(parents=True, exist_ok=True)
    report: Dict[str, Any] = {
        "epochs": args.epochs,
        "seeds": args.seeds,
        "candidates": CANDIDATES,
        "methods": {m: METHODS[m] for m in args.methods},
    }
    if not args.skip_timing:
        timing = words_per_second(data_bin, args.rounds, args.warmup)
        report["timing"] = timing
        print(
            f"words/s (median of {timing['rounds']} interleaved training steps): label_smoothed_cross_entropy "
            f"{timing['label_smoothed_wps']:.0f}, slf (default recipe, {DEFAULT_MODE}) {timing['slf_wps']:.0f}, "
            f"slf joint {timing['slf_joint_wps']:.0f}; ratio slf / label_smoothed {timing['ratio']:.3f} "
            f"(goal >= 0.95), settled on label smoothing {timing['ratio_held']:.3f}, "
            f"joint / label_smoothed {timing['ratio_joint']:.3f}"
        )
        for method in (m for m in TIMED_PEERS if m in args.methods):
            peer = peer_words_per_second(data_bin, method, max(1, args.rounds // 2), args.warmup)
            timing.setdefault("peers", {})[method] = peer
            print(
                f"{method}: {peer['wps']:.0f} words/s against label smoothing's {peer['label_smoothed_wps']:.0f} "
                f"(turns of {peer['block']} steps, median of {peer['rounds']}): its step {peer['ratio']:.2f}x"
            )
    if not args.skip_training:
        runs = runs_to_fill(args.reuse and Path(args.reuse), args.epochs, args.seeds, args.methods, report)
        jobs = [(method, seed) for seed in range(1, args.seeds + 1) for method in args.methods]
        threads = None if args.workers == 1 else max(1, (os.cpu_count() or 1) // args.workers)

        def train_and_score(job) -> Dict[str, Any]:
            method, seed = job
            criterion, extra = METHODS[method]
            folder = args.out / f"{method}_seed{seed}"
            arch_args = METHOD_ARCH.get(method, SMALL_TRANSFORMER)
            finished = (
                finished_run(folder, criterion, extra, args.epochs, seed, arch_args) if args.keep_finished else None
            )
            if finished is None:
                finished = run(folder, criterion, args.epochs, seed, args.data, arch_args, extra=extra, threads=threads)
                finished = record_history(folder, finished)
                if not args.keep_checkpoints:  # about 30 MB a run; BLEU and the weights are in results.json
                    shutil.rmtree(folder / "checkpoints", ignore_errors=True)
            return finished

        # Each run is its own fairseq-train process, so threads are enough to run them side by side.
        with ThreadPoolExecutor(max_workers=args.workers) as pool:
            results = list(tqdm(pool.map(train_and_score, jobs), total=len(jobs), desc="train + generate"))
        for (method, _), finished in zip(jobs, results):
            runs[method].append(finished)
        runs = {method: runs[method] for method in METHODS if method in runs}
        report["runs"] = runs
        scores = {method: [r["bleu"] for r in rs] for method, rs in runs.items()}
        print(f"\ntest BLEU (sacrebleu, 600 pairs) after {args.epochs} epochs, seeds 1..{args.seeds}:")
        for method, values in scores.items():
            wps = statistics.fmean(r["train_wps"] for r in runs[method])
            nll = statistics.fmean(r["valid_nll_loss"] for r in runs[method])
            print(
                f"  {method:18s} {summary(values)}   per seed {[round(v, 2) for v in values]}   "
                f"valid nll {nll:.2f}   fairseq train wps {wps:.0f}"
            )
        transformer = {method: values for method, values in scores.items() if method not in METHOD_ARCH}
        report["paired_t_p"] = paired_t_tests(transformer, "label_smoothed", "BLEU")
        for method, baseline in BASELINES.items():
            if method in scores:
                pair = {name: scores[name] for name in (baseline, method) if name in scores}
                report["paired_t_p"].update(paired_t_tests(pair, baseline, "BLEU"))
        for method, method_runs in runs.items():
            for candidate in method_runs[0].get("weights") or {}:
                print(
                    f"  {method} w_{candidate:20s} {summary([r['weights'][candidate] for r in method_runs])} "
                    "(last epoch)"
                )
        from slf.plots import plot_method_comparison

        png = plot_method_comparison(
            {LABELS[m]: v for m, v in scores.items()},
            args.out / "fairseq_bleu.png",
            ylabel="test BLEU",
            title=f"Ding de-en, small transformer, {args.epochs} epochs, CPU",
        )
        print(f"plot: {png}")
        default_runs = [r for r in runs.get(DEFAULT_METHOD, []) if r.get("weights_history")]
        if default_runs:
            from slf.plots import plot_selection_weights

            png = plot_selection_weights(
                {"runs": default_runs},
                None,
                args.out / "fairseq_default_weights.png",
                title=f"fairseq Ding de-en: SLF default recipe (align), weights over "
                f"training, {len(default_runs)} seeds",
            )
            print(f"plot: {png}")
    (args.out / "fairseq_slf.json").write_text(json.dumps(report, indent=2))
    print(f"results: {args.out / 'fairseq_slf.json'}")


if __name__ == "__main__":
    main()
