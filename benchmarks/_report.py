"""RESULTS.md, rendered from the JSON and PNGs that ``run_all.py``'s sections wrote.

Every cell is ``mean +- h`` over seeds, where h is the half-width of the 95% Student-t
confidence interval, ``t_{0.975, n-1} s / sqrt(n)``; p is a paired t-test over the same seeds.
A section that has not run at this budget is listed with the command that runs it. The
headline table compares, per task, SLF's default recipe (``mode='align'``, one choice fixed
before the runs) with the best single candidate picked by validation, beside SLF's best
variant picked per table (optimistic) and the literal update, and says where SLF loses.
"""

from __future__ import annotations

import json
import os
import platform
import shlex
import statistics
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

from _comparison import ci_cell, mean_and_half_width, paired_p
from _paper_figures import (
    MILS_TABLE1_SVHN_ERROR,
    SLF_FIG2A_BEST_K,
    SLF_TABLE1_MNIST,
    SLF_TABLE2_CIFAR10,
    SLF_TABLE3_DPP4,
    SLF_TABLE4_IWSLT14,
    SLF_TABLE5_VOC,
)

ROOT = Path(__file__).resolve().parents[1]
SIGNIFICANCE = 0.05
DEFAULT_LABEL = "SLF default (align)"
NOT_RUN = "not run yet"
# The default recipe collapses when one candidate holds more than this mean weight (unless it is the best single).
COLLAPSE = 0.9


def verdict(ours: Sequence[float], theirs: Sequence[float], subject: str = "SLF") -> str:
    """'SLF ahead' / 'SLF loses' where a paired t-test over seeds says p < 0.05, else 'level'."""
    p = paired_p(ours, theirs)
    if p == p and p < SIGNIFICANCE:
        return f"**{subject} ahead**" if _mean(ours) > _mean(theirs) else f"**{subject} loses**"
    return "level"


def _significantly_ahead(ours: Sequence[float], theirs: Sequence[float]) -> bool:
    p = paired_p(ours, theirs)
    return p == p and p < SIGNIFICANCE and _mean(ours) > _mean(theirs)


@dataclass
class Headline:
    """One task's comparison for the headline table: SLF's default recipe, SLF's best variant
    (picked per table by test mean, the default left out) and the literal Algorithm 1 where
    they ran, against the best single candidate (picked by validation where the task has it).

    ``default_weights`` maps each candidate to the default recipe's mean weight (over training,
    then over seeds); ``baseline_candidate`` is the best single's name among those candidates
    (``None`` where it is not one of them, as mmdet's stock head); ``stock_scores`` are
    cross-entropy's or the host's stock loss's and ``singles`` every single candidate's scores
    (the stock among them), for the check "ahead of the stock wherever some single candidate is";
    ``peers`` are the scores of other methods (the paper's baselines, learned losses) by their label,
    each compared with the default recipe in the headline's peer rows.
    """

    task: str
    baseline: str
    baseline_scores: List[float]
    slf: Optional[str]
    slf_scores: Optional[List[float]]
    literal_scores: Optional[List[float]] = None
    digits: int = 3
    subject: str = "SLF"
    default_scores: Optional[List[float]] = None
    default_weights: Optional[Dict[str, float]] = None
    baseline_candidate: Optional[str] = None
    stock_scores: Optional[List[float]] = None
    singles: Optional[Dict[str, List[float]]] = None
    label_noise: bool = False
    peers: Optional[Dict[str, List[float]]] = None

    def versus(self, ours: Sequence[float]) -> str:
        difference = _mean(ours) - _mean(self.baseline_scores)
        p = paired_p(ours, self.baseline_scores)
        return (
            f"{ci_cell(ours, self.digits)}: {difference:+.{self.digits}f}, p {_p(p)}, "
            f"{verdict(ours, self.baseline_scores, self.subject)}"
        )

    @property
    def has_default(self) -> bool:
        return self.subject == "SLF" and bool(self.default_scores)

    def largest_weight(self) -> Optional[Tuple[str, float]]:
        if not self.default_weights:
            return None
        return max(self.default_weights.items(), key=lambda item: item[1])

    def collapsed(self) -> Optional[bool]:
        """Whether the default puts more than ``COLLAPSE`` mean weight on a candidate that is not the best single."""
        largest = self.largest_weight()
        if largest is None:
            return None
        return largest[1] > COLLAPSE and largest[0] != self.baseline_candidate

    def stock_check(self) -> Optional[bool]:
        """Where some single candidate is significantly ahead of the stock loss: is the default too?
        (``None`` where no single candidate is, or the default has not run)."""
        if not self.has_default or not self.stock_scores or not self.singles:
            return None
        if not any(_significantly_ahead(scores, self.stock_scores) for scores in self.singles.values()):
            return None
        return _significantly_ahead(self.default_scores, self.stock_scores)

    def within_interval(self) -> Optional[bool]:
        """Label noise: the default's mean within the best single's 95% interval or above it."""
        if not self.label_noise or not self.has_default:
            return None
        mean, half = mean_and_half_width(self.baseline_scores)
        return _mean(self.default_scores) >= mean - half

    def default_cell(self) -> str:
        if self.subject != "SLF":
            return "-"
        return self.versus(self.default_scores) if self.default_scores else NOT_RUN

    def weight_cell(self) -> str:
        largest = self.largest_weight()
        if largest is None:
            return "-" if self.subject != "SLF" or self.default_scores else NOT_RUN
        return f"{largest[0]} {largest[1]:.2f}" + (" **collapsed**" if self.collapsed() else "")

    def row(self) -> str:
        literal = self.versus(self.literal_scores) if self.literal_scores else "-"
        variant = f"{self.slf} {self.versus(self.slf_scores)}" if self.slf_scores else "-"
        seeds = len(self.default_scores or self.slf_scores or self.baseline_scores)
        return (
            f"| {self.task} | {self.baseline} {ci_cell(self.baseline_scores, self.digits)} | "
            f"{self.default_cell()} | {variant} | {literal} | {self.weight_cell()} | {seeds} |"
        )


@dataclass
class Rendered:
    """A section's markdown and its headline rows."""

    markdown: str
    headlines: List[Headline]


class Context:
    """Where a section's files are, the command that made them, and where the report is written."""

    def __init__(self, name: str, folder: Path, command: Sequence[str], report: Path, budget: str):
        self.name, self.folder, self.command = name, folder, list(command)
        self.report, self.budget = report, budget

    def json(self, relative: str) -> Optional[Dict[str, Any]]:
        path = self.folder / relative
        return json.loads(path.read_text()) if path.is_file() else None

    def figure(self, relative: str, caption: str) -> str:
        """The markdown image line of a PNG the section drew, linked where it lies ('' if it was not drawn)."""
        source = self.folder / relative
        if not source.is_file():
            return ""
        return f"\n![{caption}]({Path(os.path.relpath(source, self.report.parent)).as_posix()})\n"

    def where(self) -> str:
        """The section's folder, relative to the repository when it is inside it."""
        return str(self.folder.relative_to(ROOT)) if ROOT in self.folder.parents else str(self.folder)

    def how(self) -> str:
        flag = "" if self.budget == "full" else " --quick"
        return (
            f"Command: `python benchmarks/run_all.py{flag} --only {self.name}`, which runs\n"
            f"`{shlex.join(self.command)}`."
        )

    def missing(self) -> Rendered:
        return Rendered(f"Not run at this budget yet. {self.how()}\n", [])


def _p(p: float) -> str:
    return "-" if p != p else f"{p:.2f}"


def _mean(values: Sequence[float]) -> float:
    return statistics.fmean(values)


def _top_weights(names: Sequence[str], weights: Sequence[float], count: int = 2) -> str:
    ranked = sorted(zip(names, weights), key=lambda item: -item[1])[:count]
    return ", ".join(f"{name} {weight:.2f}" for name, weight in ranked)


def _by_seed(rows: Sequence[Dict[str, Any]], key: str) -> List[float]:
    return [row[key] for row in sorted(rows, key=lambda row: row.get("seed", 0))]


def _mean_weights(rows: Sequence[Dict[str, Any]]) -> Optional[Dict[str, float]]:
    """Candidate -> mean weight over training, then over seeds, from runs with ``candidates`` and
    ``mean_weights`` (a list in the candidates' order, or a dict)."""
    rows = [row for row in rows if row.get("mean_weights")]
    if not rows:
        return None
    first = rows[0]["mean_weights"]
    if isinstance(first, dict):
        return {name: statistics.fmean(row["mean_weights"][name] for row in rows) for name in first}
    names = rows[0].get("candidates") or [f"loss {i}" for i in range(len(first))]
    return {name: statistics.fmean(row["mean_weights"][i] for row in rows) for i, name in enumerate(names)}


def _default_cell(scores: Optional[Sequence[float]], best: Sequence[float], digits: int = 3) -> str:
    """The default recipe's table cell: ``mean +- h (p vs the best single)``, or 'not run yet'."""
    if not scores:
        return NOT_RUN
    return f"{ci_cell(scores, digits)} (p {_p(paired_p(scores, best))})"


def _host_headline(
    task: str,
    runs: Dict[str, List[Dict[str, Any]]],
    score: str,
    baseline: Tuple[str, str, Optional[str]],
    literal: str,
    default: str,
    labels: Dict[str, str],
    digits: int,
    weights: Optional[Dict[str, float]],
    peers: Optional[Dict[str, str]] = None,
) -> List[Headline]:
    """The headline row of a host benchmark whose ``runs`` map each method to its seeds' records.

    ``baseline`` is (method, label, its candidate's name): the host's stock loss, its only single
    candidate; the best variant is picked among the SLF methods other than the ``default`` recipe;
    ``peers`` maps the methods that are not SLF's to their key in :data:`PEER_LABELS`.
    """
    peers = peers or {}
    scores = {
        method: [row[score] for row in sorted(rows, key=lambda row: row.get("seed", 0))]
        for method, rows in runs.items()
    }
    if baseline[0] not in scores:
        return []
    variants = [method for method in scores if method not in (baseline[0], default, *peers)]
    top = max(variants, key=lambda method: _mean(scores[method])) if variants else None
    stock = scores[baseline[0]]
    return [
        Headline(
            task,
            baseline[1],
            stock,
            labels.get(top, top) if top else None,
            scores.get(top),
            scores.get(literal),
            digits=digits,
            default_scores=scores.get(default),
            default_weights=weights,
            baseline_candidate=baseline[2],
            stock_scores=stock,
            singles={baseline[0]: stock},
            peers={label: scores[method] for method, label in peers.items() if method in scores} or None,
        )
    ]


# --- the SLF paper's Table 1 -------------------------------------------------------------------

CLASSIFY_CANDIDATES = ("ce", "mse", "mae", "hinge", "cosine", "bce")
CLASSIFY_DEFAULT = "slf-align"
CLASSIFY_SLF = {
    CLASSIFY_DEFAULT: DEFAULT_LABEL,
    "slf-joint": "SLF joint (literal)",
    "slf-softmax": "SLF-Softmax",
    "slf-validation": "SLF validation",
    "slf-joint+normalize": "SLF joint + normalize",
    "slf-validation+every4": "SLF validation, every 4th",
}


# The other baselines of the SLF paper's Table 1, each trained alone, by method and by the paper's column.
CLASSIFY_PEERS = {
    "smooth01": "Smooth",
    "large_margin_softmax": "L-M Softmax",
    "adaptive_robust": "ARLF",
    "l2t_dlf": "L2T-DLF",
    "adalfl": "AdaLFL",
}
PEER_LABELS = {
    "Smooth": "Smooth 0-1 (Nguyen & Sanner)",
    "L-M Softmax": "L-M Softmax (Liu et al.)",
    "ARLF": "ARLF (Barron), on the softmax's residuals",
    "L2T-DLF": "L2T-DLF (Wu et al.), online",
    "AdaLFL": "AdaLFL (Raymond et al.)",
    "L4": "DAC + L4",
    "ARLF (pairs)": "ARLF (Barron), on the pairs' residuals",
    "curriculum": "DAC + curriculum learning (self-paced)",
    "UW": "uncertainty weighting (Kendall et al.)",
    "GradNorm": "GradNorm (Chen et al.)",
    "DWA": "DWA (Liu et al.)",
}


def _peer_table(results: Dict[str, Dict[str, List[Dict[str, Any]]]]) -> List[str]:
    """The paper's other Table 1 baselines beside the default recipe: ours, the paper's, and the paired test."""
    lines = [
        "| model | peer | paper (paper C-E) | ours | default recipe - peer: difference, p, verdict | ms/step |",
        "|---|---|---|---|---|---|",
    ]
    for model, by_method in results.items():
        paper = SLF_TABLE1_MNIST.get(model, {})
        default = _by_seed(by_method.get(CLASSIFY_DEFAULT, []), "final_test_acc")
        for method, column in CLASSIFY_PEERS.items():
            rows = by_method.get(method)
            if not rows:
                continue
            scores = _by_seed(rows, "final_test_acc")
            if default:
                p = paired_p(default, scores)
                versus = f"{_mean(default) - _mean(scores):+.4f}, p {_p(p)}, {verdict(default, scores)}"
            else:
                versus = NOT_RUN
            step_ms = 1e3 * _mean([row["time_per_step_s"] for row in rows])
            lines.append(
                f"| {model} | {PEER_LABELS[column]} | {paper.get(column, '-')} ({paper.get('C-E', '-')}) | "
                f"{ci_cell(scores, 4)} | {versus} | {step_ms:.1f} |"
            )
    if len(lines) == 2:
        return []
    steps = [
        f"{model}: cross-entropy {1e3 * _mean([r['time_per_step_s'] for r in by_method['ce']]):.1f}, the default "
        f"recipe {1e3 * _mean([r['time_per_step_s'] for r in by_method[CLASSIFY_DEFAULT]]):.1f}"
        for model, by_method in results.items()
        if "ce" in by_method and CLASSIFY_DEFAULT in by_method
    ]
    return lines + (
        [""] + ["ms/step beside them (the same runs, two at a time on the 2 cores): " + "; ".join(steps) + "."]
        if steps
        else []
    )


def classification(ctx: Context) -> Rendered:
    data = ctx.json("classify_seeds.json")
    if data is None:
        return ctx.missing()
    results = data["results"]
    variants = [
        m for m in CLASSIFY_SLF if m != CLASSIFY_DEFAULT and any(m in by_method for by_method in results.values())
    ]
    slf = [CLASSIFY_DEFAULT, *variants]  # the default's column always, 'not run yet' where it has not run
    lines = [
        "| model | paper C-E | paper SLF | CE | best single (by val) | "
        + " | ".join(CLASSIFY_SLF[m] for m in slf)
        + " | best SLF variant - CE (p); paper SLF - C-E |",
        "|---|---|---|---|---|" + "---|" * (len(slf) + 1),
    ]
    alone = ["| model | " + " | ".join(CLASSIFY_CANDIDATES) + " |", "|---|" + "---|" * len(CLASSIFY_CANDIDATES)]
    weights = []
    headlines = []
    by_test = False
    for model, by_method in results.items():
        scores = {m: _by_seed(rows, "final_test_acc") for m, rows in by_method.items()}
        singles = [m for m in CLASSIFY_CANDIDATES if m in scores]
        # Validation accuracy at the last epoch picks the best single; runs saved before it was kept fall back to test.
        with_val = all("final_val_acc" in row for m in singles for row in by_method[m])
        by_test = by_test or not with_val
        pick = (lambda m: _mean(_by_seed(by_method[m], "final_val_acc"))) if with_val else (lambda m: _mean(scores[m]))
        best = max(singles, key=pick)
        paper = SLF_TABLE1_MNIST.get(model, {})
        cells = []
        for method in slf:
            if method not in scores:
                cells.append(NOT_RUN if method == CLASSIFY_DEFAULT else "-")
                continue
            cells.append(_default_cell(scores[method], scores[best], 4))
            rows = by_method[method]
            mean = _mean_weights(rows)
            if mean:
                weights.append(f"{model} {CLASSIFY_SLF[method]}: {_top_weights(list(mean), list(mean.values()))}")
        present = [m for m in variants if m in scores]
        top = max(present, key=lambda m: _mean(scores[m])) if present else None
        versus_ce = (
            f"{_mean(scores[top]) - _mean(scores['ce']):+.4f} ({_p(paired_p(scores[top], scores['ce']))})"
            if top
            else "-"
        )
        if paper:
            versus_ce += f"; {paper['SLF'] - paper['C-E']:+.4f}"
        lines.append(
            f"| {model} | {paper.get('C-E', '-')} | {paper.get('SLF', '-')} | {ci_cell(scores['ce'], 4)} | "
            f"{best}{'' if with_val else ' (by test)'} {ci_cell(scores[best], 4)} | "
            + " | ".join(cells)
            + f" | {versus_ce} |"
        )
        alone.append(f"| {model} | " + " | ".join(ci_cell(scores[m], 4) for m in singles) + " |")
        headlines.append(
            Headline(
                f"MNIST-5k classification, {model}",
                best + ("" if with_val else " (by test)"),
                scores[best],
                CLASSIFY_SLF[top] if top else None,
                scores.get(top),
                scores.get("slf-joint"),
                digits=4,
                default_scores=scores.get(CLASSIFY_DEFAULT),
                default_weights=_mean_weights(by_method.get(CLASSIFY_DEFAULT, [])),
                baseline_candidate=best,
                stock_scores=scores.get("ce"),
                singles={m: scores[m] for m in singles},
                peers={CLASSIFY_PEERS[m]: scores[m] for m in CLASSIFY_PEERS if m in scores},
            )
        )
    seeds = max(len(rows) for by_method in results.values() for rows in by_method.values())
    peers = _peer_table(results)
    pick_note = (
        "*best single* is the candidate with the best mean validation accuracy at the last epoch (the choice "
        "a user makes without the test set)"
        if not by_test
        else "*best single* is the candidate with the best mean **test** accuracy (an oracle choice, so a "
        "demanding baseline): these runs were saved before the benchmark kept validation accuracy; its next "
        "run picks by validation"
    )
    text = [
        f"MNIST-5k (3,500 train / 500 validation / 1,000 test), {data['args']['epochs']} epochs, Adam lr 1e-3, "
        f"batch 128, {seeds} seeds; test accuracy at the last epoch. SLF over the paper's six candidates; "
        f"{DEFAULT_LABEL} is the default recipe (weights from each candidate's gradient alignment with "
        "cross-entropy's on validation batches), the learned modes use K = 3, tau = 1. "
        f"{pick_note}; p is against it. The paper's figures are on all 70,000 MNIST digits with its own "
        "training, so only the differences compare.",
        "",
        *lines,
        "",
        "Every candidate alone:",
        "",
        *alone,
        "",
        "SLF's mean selection weights (largest two): " + "; ".join(weights) + ".",
        "",
    ]
    if peers:
        text += [
            "The paper's other Table 1 baselines, each trained alone with the same split, seeds and budget (ARLF: "
            "Barron's adaptive loss, shape and scale learnt with the model, on the softmax probabilities' residuals "
            "against the one-hot label, as the paper does not say how it applied it to classification; L2T-DLF: "
            "its teacher learns online on validation batches, reverse mode truncated to one step, after 100 steps "
            "of cross-entropy), and AdaLFL (a learned loss network, updated online by a one-step look-ahead), "
            "against the default recipe (paired t-test over seeds; docs/losses.md says what of each method is ours):",
            "",
            *peers,
            "",
        ]
    for model in results:
        text.append(ctx.figure(f"classify_seeds_{model}.png", f"MNIST-5k {model}: accuracy per method"))
    text.append(ctx.figure("classify_default_weights.png", "MNIST-5k: the default recipe's weights over training"))
    return Rendered("\n".join(text) + "\n" + ctx.how() + "\n", headlines)


# --- the SLF paper's Table 2 and Fig. 2b ------------------------------------------------------

DAC_METRICS = ("nmi", "ari", "acc")
DAC_DEFAULT = "slf-align"


DAC_LABELS = {
    **CLASSIFY_SLF,
    "slf-joint-norm": CLASSIFY_SLF["slf-joint+normalize"],
    "l4": "l4 (the paper's L4)",
    "smooth01": "smooth01 (the paper's Smooth)",
    "adaptive_robust": "adaptive_robust (the paper's ARLF, on the pair's residual)",
    "curriculum": "curriculum: self-paced bce (the paper's DAC + curriculum learning)",
    "adalfl": "adalfl (AdaLFL, learned online on the selected pairs)",
}
# The paper's other Table 2 baselines and SLF's learned-loss peer, not SLF candidates: compared with the
# default recipe as peers.
DAC_PEERS = {
    "l4": "L4",
    "smooth01": "Smooth",
    "adaptive_robust": "ARLF (pairs)",
    "curriculum": "curriculum",
    "adalfl": "AdaLFL",
}


def clustering(ctx: Context) -> Rendered:
    data = ctx.json("dac_seeds.json")
    if data is None:
        return ctx.missing()
    scores = data["scores"]
    everything = scores["all"]
    peers = [m for m in DAC_PEERS if m in everything]
    singles = [m for m in everything if not m.startswith("slf") and m not in DAC_PEERS]
    variants = [m for m in everything if m.startswith("slf") and m != DAC_DEFAULT]
    # No labels in clustering, so no validation score: the best single is picked as before, by mean ACC.
    best = max(singles, key=lambda m: _mean(everything[m]["acc"]))
    weights = data.get("mean_weights", {})
    names = data.get("candidates") or []

    def weights_of(folder: str, method: str) -> Optional[Dict[str, float]]:
        values = weights.get(folder, {}).get(method)
        return dict(zip(names, values)) if values and names else None

    lines = [
        f"| pairwise loss | NMI | ARI | ACC | p (ACC vs bce) | p (ACC vs best single, {best}) | mean weights | "
        "paper, CIFAR-10 (NMI / ARI / ACC) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for method in [*singles, DAC_DEFAULT, *variants, *peers]:
        metrics = everything.get(method)
        if metrics is None:
            lines.append(f"| {DAC_LABELS.get(method, method)} | {NOT_RUN} | | | | | | |")
            continue
        paper = SLF_TABLE2_CIFAR10.get(method)
        paper_cell = f"{paper['row']}: {paper['nmi']:.3f} / {paper['ari']:.3f} / {paper['acc']:.3f}" if paper else ""
        p = "-" if method == "bce" else _p(paired_p(metrics["acc"], everything["bce"]["acc"]))
        p_best = "-" if method == best else _p(paired_p(metrics["acc"], everything[best]["acc"]))
        mean = weights_of("all", method)
        lines.append(
            f"| {DAC_LABELS.get(method, method)} | "
            + " | ".join(ci_cell(metrics[m]) for m in DAC_METRICS)
            + f" | {p} | {p_best} | {_top_weights(list(mean), list(mean.values())) if mean else ''} "
            f"| {paper_cell} |"
        )
    headlines = []
    if variants or DAC_DEFAULT in everything:
        top = max(variants, key=lambda m: _mean(everything[m]["acc"])) if variants else None
        headlines.append(
            Headline(
                "DAC clustering on MNIST-5k (ACC)",
                f"{best} (by ACC)",
                everything[best]["acc"],
                DAC_LABELS.get(top, top) if top else None,
                everything[top]["acc"] if top else None,
                everything.get("slf-joint", {}).get("acc"),
                default_scores=everything.get(DAC_DEFAULT, {}).get("acc"),
                default_weights=weights_of("all", DAC_DEFAULT),
                baseline_candidate=best,
                stock_scores=everything["bce"]["acc"] if "bce" in everything else None,
                singles={m: everything[m]["acc"] for m in singles},
                peers={DAC_PEERS[m]: everything[m]["acc"] for m in peers} or None,
            )
        )
    imbalanced = sorted((folder for folder in scores if folder != "all"), key=lambda f: float(f[1:]))
    text = [
        f"DAC on all 5,000 MNIST-5k digits (k = 10), width {data['settings']['width']}, "
        f"{data['settings']['rounds']} rounds x {data['settings']['epochs_per_round']} epochs, "
        f"{len(everything['bce']['acc'])} seeds. Clustering has no labels, so there is no validation score: "
        "the best single pairwise loss is picked as before, by mean ACC (an oracle pick; bce is DAC's own, the "
        f"stock loss), and {DEFAULT_LABEL} compares each candidate's gradient with bce's on the previous batch. "
        "The paper has no MNIST column; its CIFAR-10 figures are beside ours for the direction of each "
        "difference only.",
        "",
        *lines,
    ]
    if peers:
        text += [
            "",
            "The last rows are the paper's other Table 2 baselines, not SLF candidates, each DAC's only pairwise "
            "loss: l4 (the fourth power of the pair's error), smooth01 (Nguyen & Sanner's smooth 0-1 loss on the "
            "pair's logit, sharpness 5) and adaptive_robust (Barron's loss on the pair's residual, shape and "
            "scale learnt with the network; the paper does not say how it applied ARLF to pairs) and curriculum "
            "(the paper's DAC + curriculum learning, which it does not define: here self-paced learning with "
            "diversity over DAC's bce, each step keeping the easiest half of the selected similar pairs and of the "
            "dissimilar ones at first and every pair from the run's midpoint on; the batch's easiest half alone put "
            "every image in one cluster)"
            + (
                ", and adalfl (AdaLFL: bce plus a small network of each selected pair's (similarity, 0/1 target), "
                "the network learning before each step from a one-step look-ahead on the batch's selected pairs, "
                "judged by bce on them; L2T-DLF's teacher learns on a labelled development set, which clustering "
                "does not have, so it has no row)"
                if "adalfl" in peers
                else ""
            )
            + ". The headline compares the default recipe with each of them; their cost per step against bce's, "
            "timed side by side, is in the cost section.",
        ]
        timed = (data.get("peer_step_ratios") or {}).get("ratios", {})
        step_ms = data.get("ms_per_step", {}).get("all", {})
        if "adalfl" in peers and "adalfl" in timed:
            rounds, threads = data["peer_step_ratios"]["rounds"], data["peer_step_ratios"]["threads"]
            text[-1] += (
                f" AdaLFL's step (its look-ahead and DAC's step) costs {timed['adalfl']:.2f}x bce's, timed side by "
                f"side after the runs ({rounds} interleaved rounds, {threads} thread{'s' if threads != 1 else ''})."
            )
        elif "adalfl" in peers and "adalfl" in step_ms:
            text[-1] += (
                f" AdaLFL's steps took {_mean(step_ms['adalfl']):.1f} ms in its own runs (two side by side, one "
                "thread each)"
                + (f", bce's {_mean(step_ms['bce']):.1f} ms in its runs of another sitting" if "bce" in step_ms else "")
                + "."
            )
    if imbalanced:
        present = list(scores[imbalanced[0]])
        base = present[0]
        methods = [base, DAC_DEFAULT, *[m for m in present[1:] if m != DAC_DEFAULT]]
        text += [
            "",
            "**Imbalanced subsets (the paper's Fig. 2b):** class 0 kept with probability r, class 9 with 1, "
            f"linear between; ACC, p against {base} (DAC's own loss). The paper reports DAC+SLF more than 5 "
            "points ahead on such subsets (the figure's values are not printed).",
            "",
            "| r | " + " | ".join(f"ACC {DAC_LABELS.get(m, m)}" for m in methods) + " |",
            "|---|" + "---|" * len(methods),
        ]
        for folder in imbalanced:
            by_method = scores[folder]
            cells = [ci_cell(by_method[base]["acc"])]
            for method in methods[1:]:
                cells.append(
                    _default_cell(by_method[method]["acc"], by_method[base]["acc"]) if method in by_method else NOT_RUN
                )
            text.append(f"| {folder[1:]} | " + " | ".join(cells) + " |")
        text.append(ctx.figure("dac_imbalanced.png", "DAC ACC on imbalanced MNIST subsets"))
    text.append(ctx.figure("dac_default_weights.png", "DAC: the default recipe's weights over training"))
    return Rendered("\n".join(text) + "\n\n" + ctx.how() + "\n", headlines)


# --- the SLF paper's Table 3 -------------------------------------------------------------------


# SLF's peers in graph regression, each trained alone (benchmarks/pyg_seeds.py, PEERS), by their key in PEER_LABELS.
GRAPH_PEERS = {"adalfl": "AdaLFL", "l2t_dlf": "L2T-DLF"}


def graph_regression(ctx: Context) -> Rendered:
    data = ctx.json("pyg_seeds.json")
    if data is None:
        return ctx.missing()
    lines = [
        "| model | paper DPP4 C-E / SLF | MSE | best single (by val R²) | SLF default (align) (p vs best) | "
        "SLF default weights | SLF joint (literal) | SLF validation | p validation vs best | "
        "SLF validation weights |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    headlines = []
    labels = {"slf_joint": "SLF joint", "slf_validation": "SLF validation"}
    peer_lines = [
        "| model | peer | test R² | default recipe - peer: difference, p, verdict | ms/step |",
        "|---|---|---|---|---|",
    ]
    for model, row in data["table"].items():
        paper = SLF_TABLE3_DPP4.get(model, {})
        paper_cell = f"{paper['C-E']:.3f} / {paper['SLF']:.3f}" if paper else "-"
        default, best = row.get("slf_align"), row["best_single_r2"]
        default_weights = row.get("slf_align_weights")
        validation_weights = row.get("slf_validation_weights")

        def cell(key: str) -> str:
            return ci_cell(row[key]) if row.get(key) else "-"

        def top(weights: Optional[Dict[str, float]]) -> str:
            return _top_weights(list(weights), list(weights.values())) if weights else "-"

        lines.append(
            f"| {model} | {paper_cell} | {cell('mse')} | {row['best_single']} {ci_cell(best)} | "
            f"{_default_cell(default, best)} | {top(default_weights)} | {cell('slf_joint')} | "
            f"{cell('slf_validation')} | {_p(row.get('p_slf_vs_best', float('nan')))} | "
            f"{top(validation_weights)} |"
        )
        variants = [key for key in labels if row.get(key)]
        top = max(variants, key=lambda k: _mean(row[k])) if variants else None
        candidates = row.get("candidate_r2")  # every candidate's scores (saved since the default recipe ran)
        headlines.append(
            Headline(
                f"graph regression, {model} (test R²)",
                row["best_single"],
                best,
                labels.get(top),
                row.get(top),
                row.get("slf_joint"),
                default_scores=default,
                default_weights=default_weights,
                baseline_candidate=row["best_single"],
                stock_scores=row.get("mse"),
                singles=candidates,
                peers={GRAPH_PEERS[m]: row[m] for m in GRAPH_PEERS if row.get(m)} or None,
            )
        )
        for method, label in GRAPH_PEERS.items():
            if not row.get(method):
                continue
            scores = row[method]
            versus = (
                f"{_mean(default) - _mean(scores):+.3f}, p {_p(paired_p(default, scores))}, {verdict(default, scores)}"
                if default
                else NOT_RUN
            )
            peer_lines.append(
                f"| {model} | {PEER_LABELS[label]} | {ci_cell(scores)} | {versus} | "
                f"{row[f'{method}_ms_per_step']:.1f} |"
            )
    if len(peer_lines) > 2:
        lines += [
            "",
            "SLF's peers, each trained alone with the same split, seeds and budget, against the default recipe "
            "(paired t-test over seeds; AdaLFL and L2T-DLF: docs/losses.md says what of each is ours). Their "
            "ms/step is their own runs'; the other methods' runs were read back from earlier sittings, timed under "
            "other loads, so no ratio is drawn from them:",
            "",
            *peer_lines,
        ]
    text = [
        f"rdkit's CHEMBL2321810 (1,017 molecules, pIC50), scaffold split {data['sizes']}, width 32, 3 layers, "
        f"{data['epochs']} epochs, {data['seeds']} seeds; test R² at the epoch of best validation R². "
        f"{DEFAULT_LABEL} weighs the candidates by their gradients' alignment with MSE's on validation batches; "
        "MSE is the stock loss. The paper's "
        "DPP4 set (8,193 molecules) does not install offline, so its figures are another data set.",
        "",
        *lines,
        ctx.figure("pyg_seeds.png", "graph regression R² per model"),
        ctx.figure("pyg_default_weights.png", "graph regression: the default recipe's weights over training"),
    ]
    return Rendered("\n".join(text) + "\n\n" + ctx.how() + "\n", headlines)


# --- the SLF paper's Table 4 -------------------------------------------------------------------

FAIRSEQ_DEFAULT = "slf_align"
FAIRSEQ_LABELS = {
    "label_smoothed": "label_smoothed_cross_entropy",
    FAIRSEQ_DEFAULT: DEFAULT_LABEL,
    "slf_joint": "SLF joint (literal)",
    "slf_softmax_mean": "SLF softmax + normalize",
    "slf_validation": "SLF validation, every 4th step",
    "l2t_dlf": "L2T-DLF (Wu et al.), online",
}
# SLF's peer in translation, trained alone (benchmarks/fairseq_slf.py, ``--criterion l2t_dlf``), by its key in
# PEER_LABELS.
FAIRSEQ_PEERS = {"l2t_dlf": "L2T-DLF"}


def _host_methods(
    runs: Dict[str, List[Dict[str, Any]]], stock: str, default: str
) -> List[Tuple[str, Optional[List[Dict[str, Any]]]]]:
    """A host table's rows in order: the stock loss, the default recipe (``None`` where it has not
    run), then the other methods as they ran."""
    order = [stock, default, *[m for m in runs if m not in (stock, default)]]
    return [(method, runs.get(method)) for method in order]


def _host_rows(
    runs: Dict[str, List[Dict[str, Any]]],
    stock: str,
    default: str,
    labels: Dict[str, str],
    metric: str,
    digits: int,
    cells: Callable[[List[Dict[str, Any]]], List[str]],
    columns: int,
) -> List[str]:
    """A host table's rows (:func:`_host_methods` order): the method, its ``metric`` with its interval, p
    against the stock loss over the same seeds, then ``cells(rows)``; a method not run gets blank cells."""
    base = [r[metric] for r in runs[stock]]
    lines = []
    for method, rows in _host_methods(runs, stock, default):
        label = labels.get(method, method)
        if rows is None:
            lines.append(f"| {label} | {NOT_RUN} |" + " |" * (columns - 2))
            continue
        values = [r[metric] for r in rows]
        p = "-" if method == stock else _p(paired_p(values, base))
        lines.append("| " + " | ".join([label, ci_cell(values, digits), p, *cells(rows)]) + " |")
    return lines


# The SLF paper's Table 4 LSTM rows: fairseq's Wiseman-Rush LSTM at width 128, each trained with label
# smoothing and with the default recipe (benchmarks/fairseq_slf.py, METHOD_ARCH), by the paper's row.
FAIRSEQ_LSTM = {"LSTM-1": "lstm1", "LSTM-2": "lstm2"}


def _lstm_runs(runs: Dict[str, List[Dict[str, Any]]], prefix: str) -> Dict[str, List[Dict[str, Any]]]:
    """One LSTM's runs under the transformer's method names (``label_smoothed``, the default recipe)."""
    return {
        method: runs[f"{prefix}_{method}"]
        for method in ("label_smoothed", FAIRSEQ_DEFAULT)
        if f"{prefix}_{method}" in runs
    }


def _translation_peers(runs: Dict[str, List[Dict[str, Any]]], timing: Dict[str, Any]) -> List[str]:
    """The translation peers beside the default recipe: the paired test over seeds and the peer's step in
    label smoothing's steps, timed side by side in the section's own timing (``timing["peers"]``; without it,
    fairseq's words per second in the peer's runs against label smoothing's, runs of other sittings)."""
    default = _by_seed(runs.get(FAIRSEQ_DEFAULT, []), "bleu")
    versus = []
    for method, key in FAIRSEQ_PEERS.items():
        if method not in runs or not default:
            continue
        scores = _by_seed(runs[method], "bleu")
        difference = _mean(default) - _mean(scores)
        timed = (timing.get("peers") or {}).get(method)
        if timed:
            cost = (
                f"its step {timed['ratio']:.2f}x label smoothing's, timed side by side in turns of "
                f"{timed['block']} steps ({timed['wps']:.0f} against {timed['label_smoothed_wps']:.0f} words/s)"
            )
        else:
            wps = statistics.fmean(r["train_wps"] for r in runs[method])
            stock_wps = statistics.fmean(r["train_wps"] for r in runs.get("label_smoothed", runs[method]))
            cost = f"{wps:.0f} words/s in its runs, label smoothing's {stock_wps:.0f}, runs of other sittings"
        nll = statistics.fmean(r["valid_nll_loss"] for r in runs[method])
        stock_nll = statistics.fmean(r["valid_nll_loss"] for r in runs.get("label_smoothed", runs[method]))
        versus.append(
            f"{PEER_LABELS[key]}: {difference:+.2f} BLEU, p {_p(paired_p(default, scores))}, "
            f"{verdict(default, scores)} ({cost}; its last epoch's validation NLL {nll:.2f} against label "
            f"smoothing's {stock_nll:.2f}, and the scored checkpoint is each run's best by validation NLL, as "
            "for every row)"
        )
    if not versus:
        return []
    return [
        "",
        "SLF's peer, trained alone with the same model, data, seeds and budget (`--criterion l2t_dlf "
        "--l2t-interval 4`: label smoothing until update 100, then the teacher's loss over the vocabulary's "
        "diagonal coefficients, the teacher updating on every 4th update from batches of the valid split; "
        "docs/losses.md says what of it is ours). The default recipe minus the peer: " + "; ".join(versus) + ".",
    ]


def translation(ctx: Context) -> Rendered:
    data = ctx.json("fairseq_slf.json")
    if data is None or "runs" not in data:
        return ctx.missing()
    every_run = data["runs"]
    lstm_prefixes = tuple(f"{prefix}_" for prefix in FAIRSEQ_LSTM.values())
    runs = {method: rows for method, rows in every_run.items() if not method.startswith(lstm_prefixes)}

    def cells(rows: List[Dict[str, Any]]) -> List[str]:
        weights = rows[0].get("weights") or {}
        mean = [statistics.fmean(r["weights"][c] for r in rows) for c in weights]
        return [
            f"{statistics.fmean(r['valid_nll_loss'] for r in rows):.2f}",
            _top_weights(list(weights), mean) if weights else "",
        ]

    lines = [
        "| criterion | test BLEU | p vs label smoothing | valid nll | weights at the end |",
        "|---|---|---|---|---|",
        *_host_rows(runs, "label_smoothed", FAIRSEQ_DEFAULT, FAIRSEQ_LABELS, "bleu", 2, cells, 5),
    ]
    default_rows = runs.get(FAIRSEQ_DEFAULT, [])
    # The weights over training where the run's log gave them, else the last epoch's.
    weights = _mean_weights(default_rows) or _mean_weights(
        [{"mean_weights": r["weights"]} for r in default_rows if r.get("weights")]
    )

    def headline(task: str, rows: Dict[str, List[Dict[str, Any]]], mean_weights: Optional[Dict[str, float]]):
        smoothed = ("label_smoothed", "label smoothing", "label_smoothed_nll")
        return _host_headline(
            task, rows, "bleu", smoothed, "slf_joint", FAIRSEQ_DEFAULT, FAIRSEQ_LABELS, 2, mean_weights, FAIRSEQ_PEERS
        )

    headlines = headline("fairseq translation, Ding de-en (BLEU)", runs, weights)
    paper = SLF_TABLE4_IWSLT14["Transformer"]
    text = [
        f"fairseq transformer (2+2 layers, width 128) on the Ding German-English corpus, {data['epochs']} epochs, "
        f"{data['seeds']} seeds; sacrebleu on the 600 test pairs, beam 5. Label smoothing is the stock loss and "
        f"the only single one; {DEFAULT_LABEL} is `--criterion slf` without `--slf-mode` (gradient alignment "
        "with the held-out NLL). The paper's IWSLT-14 Transformer: "
        f"C-E {paper['C-E']}, SLF {paper['SLF']} BLEU (+{paper['SLF'] - paper['C-E']:.2f}); IWSLT-14 does not "
        "install offline.",
        "",
        *lines,
    ]
    text += _translation_peers(runs, data.get("timing") or {})
    lstm_lines = []
    for row, prefix in FAIRSEQ_LSTM.items():
        lstm = _lstm_runs(every_run, prefix)
        if "label_smoothed" not in lstm:
            continue
        for line in _host_rows(lstm, "label_smoothed", FAIRSEQ_DEFAULT, FAIRSEQ_LABELS, "bleu", 2, cells, 5):
            lstm_lines.append(f"| {row} |" + line[1:])
        headlines += headline(
            f"fairseq translation, Ding de-en, {row} (BLEU)", lstm, _mean_weights(lstm.get(FAIRSEQ_DEFAULT, []))
        )
    if lstm_lines:
        text += [
            "",
            "The paper's LSTM rows: fairseq's `lstm_wiseman_iwslt_de_en` (attention, one or two layers, width 128, "
            "input and output embeddings shared) on the same corpus, budget and seeds, each against its own "
            "label smoothing; at this budget the LSTMs learn far less than the transformer (compare the two "
            "label smoothing rows). The paper's IWSLT-14 rows: "
            + "; ".join(
                f"{row} C-E {SLF_TABLE4_IWSLT14[row]['C-E']}, SLF {SLF_TABLE4_IWSLT14[row]['SLF']}"
                for row in FAIRSEQ_LSTM
            )
            + " BLEU.",
            "",
            "| model | criterion | test BLEU | p vs its label smoothing | valid nll | weights at the end |",
            "|---|---|---|---|---|---|",
            *lstm_lines,
        ]
    timing = data.get("timing")
    if timing:
        if "ratio_held" in timing:
            text += [
                "",
                f"Words per second, one training step, against label smoothing: default recipe "
                f"**{timing['ratio']:.3f}** while it weighs the candidates (its first 50 steps, and under "
                f"noise), **{timing['ratio_held']:.3f}** once its gate has settled on label smoothing "
                f"(clean data), literal joint update {timing['ratio_joint']:.3f}.",
            ]
        elif "ratio_joint" in timing:
            text += [
                "",
                f"Words per second, one training step, against label smoothing: default recipe "
                f"**{timing['ratio']:.3f}**, literal joint update {timing['ratio_joint']:.3f}.",
            ]
        else:  # measured when the criterion's default was still the literal joint update
            text += [
                "",
                f"Words per second, one training step, slf (the literal joint update, measured before the "
                f"default recipe) / label smoothing: **{timing['ratio']:.3f}**.",
            ]
    text.append(ctx.figure("fairseq_bleu.png", "fairseq BLEU per criterion"))
    text.append(ctx.figure("fairseq_default_weights.png", "fairseq: the default recipe's weights over training"))
    return Rendered("\n".join(text) + "\n\n" + ctx.how() + "\n", headlines)


# --- the SLF paper's Table 5 -------------------------------------------------------------------

MMDET_DEFAULT = "slf_align"
MMDET_LABELS = {
    "stock": "stock YOLOV3Head",
    MMDET_DEFAULT: f"{DEFAULT_LABEL}, the shipped config",
    "slf": "SLF joint (literal)",
    "slf_normalized": "SLF joint + normalize",
    "slf_softmax_normalized": "SLF softmax + normalize",
    "uncertainty": "uncertainty weighting (Kendall et al.)",
    "gradnorm": "GradNorm (Chen et al.)",
    "dwa": "DWA (Liu et al.)",
}
# SLF's peers for the five parts (slf.part_weightings), by method and by their key in PEER_LABELS.
MMDET_PEERS = {"uncertainty": "UW", "gradnorm": "GradNorm", "dwa": "DWA"}


def detection(ctx: Context) -> Rendered:
    data = ctx.json("mmdet_yolo.json")
    if data is None or "runs" not in data:
        return ctx.missing()
    runs = data["runs"]

    def cells(rows: List[Dict[str, Any]]) -> List[str]:
        return [
            ", ".join(
                f"{statistics.fmean(r['mean_lambdas'][part] for r in rows):.2f}"
                for part in rows[0].get("mean_lambdas", ())
            )
        ]

    lines = [
        "| head | val mAP@0.5 | p vs stock | lambdas, mean over training (cls, obj, noobj, xy, wh) |",
        "|---|---|---|---|",
        *_host_rows(runs, "stock", MMDET_DEFAULT, MMDET_LABELS, "mAP", 4, cells, 4),
    ]
    # The default's weights as shares of the lambdas' total (no part is a single loss of its own).
    lambdas = _mean_weights(
        [{"mean_weights": r["mean_lambdas"]} for r in runs.get(MMDET_DEFAULT, []) if r.get("mean_lambdas")]
    )
    shares = {part: value / sum(lambdas.values()) for part, value in lambdas.items()} if lambdas else None
    headlines = _host_headline(
        "mmdet YOLOv3 tree crowns (mAP@0.5)",
        runs,
        "mAP",
        ("stock", "stock head", None),
        "slf",
        MMDET_DEFAULT,
        MMDET_LABELS,
        digits=4,
        weights=shares,
        peers=MMDET_PEERS,
    )
    paper = SLF_TABLE5_VOC
    text = [
        f"YOLOv3-MobileNetV2 at 320 px from scratch on the DeepForest tree-crown tiles, {data['epochs']} epochs, "
        f"{data['seeds']} seeds; mmdet's VOCMetric on the held-out image. {DEFAULT_LABEL} is the shipped SLF "
        "config (each part's weight from its gradient alignment with the stock total loss on held-out batches, "
        "SLFHeldOutHook); the literal rows pin the paper's joint update (the shipped config before the default "
        "recipe). In the headline its largest weight is a share of the lambdas' total. The paper (PASCAL VOC "
        f"2007, not offline): YOLO {paper['YOLO']['stock']} -> {paper['YOLO']['SLF']}, Fast YOLO "
        f"{paper['Fast YOLO']['stock']} -> {paper['Fast YOLO']['SLF']}, YOLO VGG-16 {paper['YOLO VGG-16']['stock']}"
        f" -> {paper['YOLO VGG-16']['SLF']} mAP.",
        "",
        *lines,
    ]
    peer_runs = [method for method in MMDET_PEERS if method in runs]
    if peer_runs and MMDET_DEFAULT in runs:
        default = [r["mAP"] for r in runs[MMDET_DEFAULT]]
        versus = []
        for method in peer_runs:
            scores = [r["mAP"] for r in runs[method]]
            label, p = PEER_LABELS[MMDET_PEERS[method]], _p(paired_p(default, scores))
            versus.append(f"{label} {_mean(default) - _mean(scores):+.4f} (p {p}, {verdict(default, scores)})")
        text += [
            "",
            "SLF's peers weigh the same five parts from the same start (the shipped SLF config with "
            "`slf_weighting=dict(type=...)`, no held-out hook; `slf.part_weightings`, checked against LibMTL's "
            "`UW`, `GradNorm` and `DWA` on the same inputs): uncertainty weighting learns a log-variance per part "
            "(weights start at the configured ones), GradNorm (alpha 1.5) balances the parts' gradient sizes at "
            "the head's output convolutions, DWA (T 2) tilts the weights by each part's rate of descent over the "
            "last two epochs. The default recipe minus each peer: " + "; ".join(versus) + ".",
        ]
    timing = data.get("timing")
    if timing:
        if "ratio_literal" in timing:
            peers_timed = timing.get("ratio_peers") or {}
            text += [
                "",
                f"Iteration time against the stock head: default recipe (with its held-out pass) "
                f"**{timing['ratio']:.4f}**, literal joint update {timing['ratio_literal']:.4f}"
                + "".join(f", {MMDET_LABELS[m]} {ratio:.4f}" for m, ratio in peers_timed.items())
                + ".",
            ]
        else:  # measured when the shipped config was the literal joint update
            text += [
                "",
                f"Iteration time SLF head (the literal joint update, measured before the default recipe) / "
                f"stock head: **{timing['ratio']:.4f}**.",
            ]
    text.append(ctx.figure("mmdet_yolo_map.png", "mmdet mAP per head"))
    text.append(ctx.figure("mmdet_default_weights.png", "mmdet: the default recipe's part weights over training"))
    return Rendered("\n".join(text) + "\n\n" + ctx.how() + "\n", headlines)


# --- ablations ------------------------------------------------------------------------------


def k_sweep(ctx: Context) -> Rendered:
    data = ctx.json("k_sweep.json")
    if data is None:
        return ctx.missing()
    samples = data["settings"]["samples"]
    lines = [
        "| model | method | "
        + " | ".join(f"K = {k}" for k in samples)
        + f" | best K | largest weight at K = {samples[0]} / {samples[-1]} |",
        "|---|---|" + "---|" * (len(samples) + 2),
    ]
    names = data["candidates"]
    for model, by_method in data["scores"].items():
        lines.append(
            f"| {model} | SLF-Softmax (no K) | {ci_cell(by_method['slf-softmax']['-'], 4)} |"
            + " |" * (len(samples) + 1)
        )
        for method, by_k in by_method.items():
            if method == "slf-softmax":
                continue
            best = max(samples, key=lambda k: _mean(by_k[str(k)]))
            weights = data["mean_weights"][model][method]
            largest = " / ".join(_top_weights(names, weights[str(k)], 1) for k in (samples[0], samples[-1]))
            lines.append(
                f"| {model} | {method} | "
                + " | ".join(ci_cell(by_k[str(k)], 4) for k in samples)
                + f" | {best} | {largest} |"
            )
    text = [
        f"SLF over the paper's six candidates on MNIST-5k, {data['settings']['epochs']} epochs, "
        f"{data['settings']['seeds']} seeds; test accuracy. The paper's Fig. 2a finds "
        f"K = {SLF_FIG2A_BEST_K['MNIST']}"
        f" best on MNIST and K = {SLF_FIG2A_BEST_K['CIFAR-10']} on CIFAR-10, both above SLF-Softmax.",
        "",
        *lines,
        ctx.figure("k_sweep.png", "accuracy against K"),
    ]
    return Rendered("\n".join(text) + "\n\n" + ctx.how() + "\n", [])


def gumbel_vs_softmax(contexts: Dict[str, Context]) -> str:
    """The paper's 'Contribution of Gumbel-Softmax' ablation, gathered from the sections that ran both."""
    rows = []
    classify = contexts["classify"].json("classify_seeds.json")
    if classify:
        for model, by_method in classify["results"].items():
            if "slf-joint" in by_method and "slf-softmax" in by_method:
                rows.append(
                    (
                        f"MNIST-5k {model}, accuracy",
                        _by_seed(by_method["slf-joint"], "final_test_acc"),
                        _by_seed(by_method["slf-softmax"], "final_test_acc"),
                        4,
                    )
                )
    dac = contexts["dac"].json("dac_seeds.json")
    if dac and {"slf-joint", "slf-softmax"} <= set(dac["scores"]["all"]):
        rows.append(
            (
                "DAC MNIST-5k, ACC",
                dac["scores"]["all"]["slf-joint"]["acc"],
                dac["scores"]["all"]["slf-softmax"]["acc"],
                3,
            )
        )
    mmdet = contexts["mmdet"].json("mmdet_yolo.json")
    if mmdet and {"slf_normalized", "slf_softmax_normalized"} <= set(mmdet.get("runs", {})):
        rows.append(
            (
                "YOLOv3 tree crowns, mAP (both normalised)",
                [r["mAP"] for r in mmdet["runs"]["slf_normalized"]],
                [r["mAP"] for r in mmdet["runs"]["slf_softmax_normalized"]],
                4,
            )
        )
    if not rows:
        return "Not run yet: it reads the classify, dac and mmdet sections.\n"
    lines = ["| task | SLF (Gumbel-Softmax, K = 3) | SLF-Softmax | Gumbel - softmax | p |", "|---|---|---|---|---|"]
    for task, gumbel, softmax, digits in rows:
        lines.append(
            f"| {task} | {ci_cell(gumbel, digits)} | {ci_cell(softmax, digits)} | "
            f"{_mean(gumbel) - _mean(softmax):+.{digits}f} | {_p(paired_p(gumbel, softmax))} |"
        )
    return (
        "The paper reports SLF with Gumbel-Softmax above SLF-Softmax (softmax weights, every candidate always "
        "on). Both with the literal joint update:\n\n" + "\n".join(lines) + "\n"
    )


# --- MILS ----------------------------------------------------------------------------------


def mils(ctx: Context, overhead: Context) -> Rendered:
    data = ctx.json("mils_seeds.json")
    if data is None:
        return ctx.missing()
    results = data["results"]
    base = _by_seed(results["ce"], "final_test_acc")
    lines = [
        "| method | test accuracy | p vs ce | accepted / attempted | paper, SVHN ResNet-20 accuracy |",
        "|---|---|---|---|---|",
    ]
    for method, rows in results.items():
        accuracy = _by_seed(rows, "final_test_acc")
        accepted = ""
        if "mils_stats" in rows[0]:
            attempted = sum(r["mils_stats"]["attempted_total"] for r in rows)
            taken = sum(r["mils_stats"]["accepted_total"] for r in rows)
            accepted = f"{taken} / {attempted}"
        paper = MILS_TABLE1_SVHN_ERROR.get(method)
        lines.append(
            f"| {method} | {ci_cell(accuracy, 4)} | {'-' if method == 'ce' else _p(paired_p(accuracy, base))}"
            f" | {accepted} | {'' if paper is None else f'{1 - paper / 100:.4f}'} |"
        )
    mils_methods = [m for m in results if m.startswith("mils")]
    headlines = []
    if mils_methods:
        top = max(mils_methods, key=lambda m: _mean(_by_seed(results[m], "final_test_acc")))
        best = max(
            (m for m in results if not m.startswith("mils") and "random" not in m),
            key=lambda m: _mean(_by_seed(results[m], "final_test_acc")),
        )
        headlines.append(
            Headline(
                f"MILS, {data['args']['model']} on MNIST-5k (accuracy)",
                best,
                _by_seed(results[best], "final_test_acc"),
                top,
                _by_seed(results[top], "final_test_acc"),
                digits=4,
                subject="MILS",
            )
        )
    args = data["args"]
    text = [
        f"{args['model']} on MNIST-5k, {args['epochs']} epochs, {args['seeds']} seeds, MILS participation rate "
        f"r = {args['rate']}, observation set {args['obs_size']} training samples, rule 'not worse'. The paper's "
        "SVHN figures (test accuracy = 1 - error) are another data set and network.",
        "",
        *lines,
        "",
        ctx.how(),
    ]
    timing = overhead.json("mils_overhead.json")
    if timing:
        text += [
            "",
            "Step time against a primary-only step (LeNet, batch 128; `mils_overhead` section):",
            "",
            "| variant | median step (ms) | median ratio | mean ratio |",
            "|---|---|---|---|",
        ]
        for label, row in timing["variants"].items():
            text.append(f"| {label} | {row['median_ms']:.2f} | {row['median_ratio']:.3f} | {row['mean_ratio']:.3f} |")
        text += ["", overhead.how()]
    return Rendered("\n".join(text) + "\n", headlines)


# --- label noise ----------------------------------------------------------------------------

NOISY_DEFAULT = "slf-align"
NOISY_SLF = {
    NOISY_DEFAULT: DEFAULT_LABEL,
    "slf-joint": "SLF joint (literal)",
    "slf-validation": "SLF validation",
    "slf-validation-cosine": "SLF validation, cosine",
    "slf-validation-sample-losses-cosine": "SLF validation, per-sample",
}
NOISY_SINGLES = ("ce", "mse", "mae", "hinge", "cosine", "bce", "gce", "sce", "bi_tempered")
# SLF's peers under label noise, each trained alone (benchmarks/noisy_labels.py, PEERS), by their key in PEER_LABELS.
NOISY_PEERS = {"adalfl": "AdaLFL", "l2t_dlf": "L2T-DLF"}


def label_noise(ctx: Context) -> Rendered:
    data = ctx.json("noisy_labels.json")
    if data is None or "val_acc" not in data:
        return ctx.missing()
    test, val = data["test_acc"], data["val_acc"]
    first = next(iter(next(iter(test.values())).values()))
    variants = [m for m in NOISY_SLF if m in first and m != NOISY_DEFAULT]
    slf = [NOISY_DEFAULT, *variants]
    names = data.get("candidates") or []
    lines = [
        "| model | noise | CE | best single (by val) | "
        + " | ".join(NOISY_SLF[m] for m in slf)
        + " | default within the best single's 95% interval or ahead |",
        "|---|---|---|---|" + "---|" * (len(slf) + 1),
    ]
    headlines = []
    peer_lines = [
        "| model | noise | peer | clean test accuracy | default recipe - peer: difference, p, verdict | ms/step |",
        "|---|---|---|---|---|---|",
    ]
    for model, by_setting in test.items():
        for setting, scores in by_setting.items():
            singles = [m for m in NOISY_SINGLES if m in scores]
            best = max(singles, key=lambda m: _mean(val[model][setting][m]))
            cells = [
                (f"{ci_cell(scores[m])} (p {_p(paired_p(scores[m], scores[best]))})" if m in scores else NOT_RUN)
                for m in slf
            ]
            weights = data.get("mean_weights", {}).get(model, {}).get(setting, {}).get(NOISY_DEFAULT)
            top = max(variants, key=lambda m: _mean(scores[m])) if variants else None
            headline = Headline(
                f"label noise {setting}, {model} (accuracy)",
                best,
                scores[best],
                NOISY_SLF[top] if top else None,
                scores.get(top),
                scores.get("slf-joint"),
                default_scores=scores.get(NOISY_DEFAULT),
                default_weights=dict(zip(names, weights)) if weights and names else None,
                baseline_candidate=best,
                stock_scores=scores.get("ce"),
                singles={m: scores[m] for m in singles},
                label_noise=True,
                peers={NOISY_PEERS[m]: scores[m] for m in NOISY_PEERS if m in scores} or None,
            )
            default = scores.get(NOISY_DEFAULT)
            for method, label in NOISY_PEERS.items():
                if method not in scores:
                    continue
                versus = (
                    f"{_mean(default) - _mean(scores[method]):+.3f}, p {_p(paired_p(default, scores[method]))}, "
                    f"{verdict(default, scores[method])}"
                    if default
                    else NOT_RUN
                )
                ms = data.get("ms_per_step", {}).get(model, {}).get(setting, {}).get(method)
                peer_lines.append(
                    f"| {model} | {setting} | {PEER_LABELS[label]} | {ci_cell(scores[method])} | {versus} | "
                    f"{'-' if ms is None else f'{ms:.1f}'} |"
                )
            within = headline.within_interval()
            lines.append(
                f"| {model} | {setting} | {ci_cell(scores['ce'])} | {best} {ci_cell(scores[best])} | "
                + " | ".join(cells)
                + f" | {'-' if within is None else 'yes' if within else '**no**'} |"
            )
            headlines.append(headline)
    settings = data["settings"]
    text = [
        f"MNIST-5k with corrupted training labels (validation and test clean), {settings['epochs']} epochs, "
        f"{settings['seeds']} seeds; clean test accuracy. SLF over nine candidates (the paper's six, gce, sce, "
        f"bi_tempered). {DEFAULT_LABEL} is SLF's default recipe: each step, the candidates are weighted by a "
        "sharp softmax of the smoothed cosines between each one's gradient at the last layer and cross-entropy's "
        "on a clean validation batch, so the weights can move back when the noise starts to dominate; the "
        "goal for it is to stay within the best single loss's 95% interval or ahead in every setting, 40% "
        "pairflip included (last column). *best single* is picked by clean validation accuracy; p is against "
        "it. Neither paper has a label-noise table.",
        "",
        *lines,
    ]
    if len(peer_lines) > 2:
        text += [
            "",
            "SLF's peers, each trained alone with the same splits, noise, seeds and budget, their meta step on the "
            "clean validation batches (as the default recipe's reference), against the default recipe (paired "
            "t-test over seeds; docs/losses.md says what of each is ours). ms/step is each peer's own runs', one "
            "torch thread, two runs side by side; the peers may have run in different sittings, on machines of "
            "different speed, so compare ms/step within a peer's rows only:",
            "",
            *peer_lines,
        ]
    text.append(
        ctx.figure(
            "noisy_labels_default_weights.png",
            "label noise: the default recipe's weights over training, every model and setting",
        )
    )
    # The noisiest settings only: each grid is a few hundred kB; the others are under the section's folder.
    for setting in [s for s in next(iter(test.values())) if s.endswith("0.4")]:
        text.append(ctx.figure(f"selection_weights_{setting}.png", f"SLF selection weights, {setting}"))
    text.append(f"The selection weights of every setting: `{ctx.where()}/selection_weights_<setting>.png`.")
    return Rendered("\n".join(text) + "\n\n" + ctx.how() + "\n", headlines)


def _paired_rows(
    contexts: Dict[str, Context], first: Dict[str, str], second: Dict[str, str]
) -> List[Tuple[str, List[float], List[float], int]]:
    """(task, scores of one method, scores of another, digits) wherever both ran; ``first`` and
    ``second`` name the method in each section (keys: classify, noisy_labels, pyg, dac, fairseq, mmdet)."""
    rows: List[Tuple[str, List[float], List[float], int]] = []
    classify = contexts["classify"].json("classify_seeds.json")
    if classify:
        for model, by_method in classify["results"].items():
            if {first["classify"], second["classify"]} <= set(by_method):
                rows.append(
                    (
                        f"MNIST-5k {model}",
                        _by_seed(by_method[first["classify"]], "final_test_acc"),
                        _by_seed(by_method[second["classify"]], "final_test_acc"),
                        4,
                    )
                )
    noisy = contexts["noisy_labels"].json("noisy_labels.json")
    if noisy:
        for model, by_setting in noisy["test_acc"].items():
            for setting, scores in by_setting.items():
                if {first["noisy_labels"], second["noisy_labels"]} <= set(scores):
                    rows.append(
                        (
                            f"label noise {setting}, {model}",
                            scores[first["noisy_labels"]],
                            scores[second["noisy_labels"]],
                            3,
                        )
                    )
    pyg = contexts["pyg"].json("pyg_seeds.json")
    if pyg:
        for model, row in pyg["table"].items():
            if row.get(first["pyg"]) and row.get(second["pyg"]):
                rows.append((f"graph regression {model} (R²)", row[first["pyg"]], row[second["pyg"]], 3))
    dac = contexts["dac"].json("dac_seeds.json") if "dac" in first and "dac" in second else None
    if dac:
        for folder in sorted(dac["scores"], key=lambda f: -1.0 if f == "all" else float(f[1:])):
            by_method = dac["scores"][folder]
            if {first["dac"], second["dac"]} <= set(by_method):
                task = "DAC MNIST-5k (ACC)" if folder == "all" else f"DAC imbalanced r = {folder[1:]} (ACC)"
                rows.append((task, by_method[first["dac"]]["acc"], by_method[second["dac"]]["acc"], 3))
    fairseq = contexts["fairseq"].json("fairseq_slf.json")
    if fairseq and {first["fairseq"], second["fairseq"]} <= set(fairseq.get("runs", {})):
        rows.append(
            (
                "fairseq Ding de-en (BLEU)",
                [r["bleu"] for r in fairseq["runs"][first["fairseq"]]],
                [r["bleu"] for r in fairseq["runs"][second["fairseq"]]],
                2,
            )
        )
    mmdet = contexts["mmdet"].json("mmdet_yolo.json") if "mmdet" in first and "mmdet" in second else None
    if mmdet and {first["mmdet"], second["mmdet"]} <= set(mmdet.get("runs", {})):
        rows.append(
            (
                "YOLOv3 tree crowns (mAP)",
                [r["mAP"] for r in mmdet["runs"][first["mmdet"]]],
                [r["mAP"] for r in mmdet["runs"][second["mmdet"]]],
                4,
            )
        )
    return rows


def _versus_table(
    rows: Sequence[Tuple[str, List[float], List[float], int]], first: str, second: str, difference: str
) -> Tuple[List[str], int, int]:
    """The markdown rows of ``second`` against ``first``, and how often ``second`` is significantly ahead / behind."""
    lines = [f"| task | {first} | {second} | {difference} | p |", "|---|---|---|---|---|"]
    ahead = behind = 0
    for task, ours_first, ours_second, digits in rows:
        p = paired_p(ours_second, ours_first)
        ahead += int(p == p and p < SIGNIFICANCE and _mean(ours_second) > _mean(ours_first))
        behind += int(p == p and p < SIGNIFICANCE and _mean(ours_second) < _mean(ours_first))
        lines.append(
            f"| {task} | {ci_cell(ours_first, digits)} | {ci_cell(ours_second, digits)} | "
            f"{_mean(ours_second) - _mean(ours_first):+.{digits}f} | {_p(p)} |"
        )
    return lines, ahead, behind


LITERAL = {
    "classify": "slf-joint",
    "noisy_labels": "slf-joint",
    "pyg": "slf_joint",
    "dac": "slf-joint",
    "fairseq": "slf_joint",
    "mmdet": "slf",
}
VALIDATION = {
    "classify": "slf-validation",
    "noisy_labels": "slf-validation",
    "pyg": "slf_validation",
    "fairseq": "slf_validation",
}
DEFAULT = {
    "classify": CLASSIFY_DEFAULT,
    "noisy_labels": NOISY_DEFAULT,
    "pyg": "slf_align",
    "dac": DAC_DEFAULT,
    "fairseq": FAIRSEQ_DEFAULT,
    "mmdet": MMDET_DEFAULT,
}


def literal_vs_validation(contexts: Dict[str, Context]) -> str:
    """Algorithm 1's joint update against the validation-driven update and against the default recipe,
    wherever both ran."""
    rows = _paired_rows(contexts, LITERAL, VALIDATION)
    if rows:
        lines, ahead, behind = _versus_table(rows, "literal (Algorithm 1)", "validation-driven", "validation - literal")
        text = (
            "The literal update minimises the weighted loss over the decision network too, so it drifts to the "
            "numerically smallest candidate (DESIGN.md); the validation-driven update follows the held-out "
            "loss's gradient instead. DAC has no labelled held-out data and mmdet's loop takes no look-ahead "
            f"step, so the validation-driven update does not run there. Validation-driven is significantly ahead "
            f"in {ahead} and behind in {behind} of {len(rows)} rows (p < {SIGNIFICANCE}).\n\n" + "\n".join(lines) + "\n"
        )
    else:
        text = "Not run yet: it reads the classify, noisy_labels, pyg and fairseq sections.\n"
    rows = _paired_rows(contexts, LITERAL, DEFAULT)
    text += "\n### Default recipe against the literal update\n\n"
    if not rows:
        return text + "Not run yet: the default recipe has not run beside the literal update in any section.\n"
    lines, ahead, behind = _versus_table(rows, "literal (Algorithm 1)", DEFAULT_LABEL, "default - literal")
    return (
        text + f"The default recipe (gradient alignment with a reference loss on held-out data; DAC's reference "
        f"is the previous batch) against the literal update, wherever both ran: significantly ahead in {ahead} "
        f"and behind in {behind} of {len(rows)} rows (p < {SIGNIFICANCE}).\n\n" + "\n".join(lines) + "\n"
    )


# --- cost ---------------------------------------------------------------------------------

COST_VARIANTS = ("SLF default, settled", "SLF default, weighing", "SLF joint")


def _sweep_table(
    rows: Dict[str, Dict[str, float]], first: str, key: Callable[[str, Dict[str, float]], str]
) -> List[str]:
    variants = [v for v in next(iter(rows.values())) if v not in ("ce_ms", "parameters")]
    lines = [
        f"| {first} | CE step (ms) | " + " | ".join(f"{v} / CE" for v in variants) + " |",
        "|---|---|" + "---|" * len(variants),
    ]
    return lines + [
        f"| {key(x, row)} | {row['ce_ms']:.2f} | " + " | ".join(f"{row[v]:.2f}" for v in variants) + " |"
        for x, row in rows.items()
    ]


def _cost_rounds(settings: Dict[str, Any]) -> str:
    """How ``benchmarks/cost.py`` took its medians: blocks of steps in a shuffled order, or (before
    ``--block``) one step per variant and round in a fixed order."""
    block, host_block = settings.get("block", 1), settings.get("host_block", 1)
    if block == 1:
        return (
            f"the median over {settings['rounds']} interleaved rounds, {settings['host_rounds']} for mmdet and fairseq"
        )
    return (
        f"each round runs every variant for {block} steps in a row, the variants in a new order each round, and "
        f"takes the mean of each run's last {block - 1} steps (its first pays for the switch); a ratio is the "
        f"median over {settings['rounds']} rounds of the round's ratio ({settings['host_rounds']} rounds of "
        f"{host_block} iterations for mmdet and fairseq)"
    )


def cost_table(report: Dict[str, Any]) -> str:
    """The markdown of ``benchmarks/cost.py``'s ``cost.json``: every ratio against its goal, then each part.

    The same text is RESULTS.md's cost section and the docs' performance table.
    """
    parts, settings = report["parts"], report["settings"]
    text = [
        f"Measured by `benchmarks/cost.py` ({settings['threads']} threads, {report['machine']}; "
        + _cost_rounds(settings)
        + "). "
        "*default* is the default recipe (`align`): *settled* once it has held the stock loss for 50 steps "
        "(clean data), *weighing* while it weighs the candidates (label noise, a run's first 50 steps); "
        "*joint* is the literal Algorithm 1 (K = 3).",
        "",
        "| ratio | recipe | measured | goal | met |",
        "|---|---|---|---|---|",
    ]
    for row in report["checks"]:
        met = "-" if row["met"] is None else "yes" if row["met"] else "**no**"
        text.append(f"| {row['name']} | {row['recipe']} | {row['ratio']:.3f} | {row['goal'] or '-'} | {met} |")
    if parts.get("lenet"):
        text += [
            "",
            "LeNet, batch 128, six candidates, where the time goes:",
            "",
            "| variant | median step (ms) | ratio to cross-entropy |",
            "|---|---|---|",
        ]
        text += [f"| {label} | {row['median_ms']:.2f} | {row['ratio']:.3f} |" for label, row in parts["lenet"].items()]
    if parts.get("batch"):
        text += [
            "",
            "The MNIST MLP, six candidates, as the batch grows:",
            "",
            *_sweep_table(parts["batch"], "batch", lambda x, row: x),
        ]
    if parts.get("candidates"):
        pool = report.get("candidate_pool", [])
        text += [
            "",
            "The MLP at batch 128, as candidates are added (the registry's losses that read logits, in the "
            f"order {', '.join(pool)}):",
            "",
            *_sweep_table(parts["candidates"], "candidates", lambda x, row: x),
        ]
        slopes = parts.get("per_candidate", {})
        if slopes:
            text += [
                "",
                "Each added candidate (least-squares slope): "
                + ", ".join(f"{label} {slope:+.3f}x" for label, slope in slopes.items())
                + ".",
            ]
    if parts.get("model"):
        text += [
            "",
            "The MLP at batch 128 with hidden widths (w, w/2), as the model grows:",
            "",
            *_sweep_table(parts["model"], "w (parameters)", lambda x, row: f"{x} ({row['parameters']:,})"),
        ]
    if parts.get("memory"):
        text += [
            "",
            "Peak resident memory (VmHWM) of LeNet's training at batch 128, each variant in a fresh process "
            "(*step* counts only what the steps add above the resident size after the first step):",
            "",
            "| variant | peak (MiB) | / CE | step's share (MiB) | step's / CE |",
            "|---|---|---|---|---|",
        ]
        text += [
            f"| {label} | {row['peak_kib'] / 1024:.1f} | {row['ratio']:.3f} | "
            f"{(row['peak_kib'] - row['before_kib']) / 1024:.1f} | {row['step_ratio']:.2f} |"
            for label, row in parts["memory"].items()
        ]
    hosts = []
    if parts.get("dac"):
        dac_peers = [label for label in parts["dac"] if label.startswith("DAC + ")]
        hosts.append(
            f"a DAC step on real MNIST (BCE {parts['dac']['bce_ms']:.1f} ms): "
            + ", ".join(f"{label} {parts['dac'][label]:.2f}x" for label in COST_VARIANTS)
            + (
                "; the paper's other DAC baselines " + ", ".join(f"{p} {parts['dac'][p]:.2f}x" for p in dac_peers)
                if dac_peers
                else ""
            )
        )
    if parts.get("mmdet"):
        mm = parts["mmdet"]
        hosts.append(
            f"a YOLOv3 iteration at batch {mm['batch_size']} (stock {mm['stock_s'] * 1e3:.0f} ms): default "
            f"{mm['ratio']:.3f}x, joint {mm['ratio_literal']:.3f}x"
        )
    if parts.get("fairseq"):
        fs = parts["fairseq"]
        hosts.append(
            f"fairseq's words per second (label smoothing {fs['label_smoothed_wps']:.0f}): default settled "
            f"{fs['ratio_held']:.3f}x, weighing {fs['ratio']:.3f}x, joint {fs['ratio_joint']:.3f}x"
        )
    if hosts:
        text += ["", "In the hosts: " + "; ".join(hosts) + "."]
    return "\n".join(text)


DOCS_COST_START = "<!-- cost table: rendered from benchmarks/results/cost/cost.json by benchmarks/run_all.py -->"
DOCS_COST_END = "<!-- end of the cost table -->"


def docs_cost_block(report: Dict[str, Any]) -> str:
    """The docs' performance table (``docs/performance.md``): :func:`cost_table` and the plot, between
    the two markers."""
    return "\n".join(
        [
            DOCS_COST_START,
            cost_table(report),
            "",
            "![SLF's overhead against batch, candidates and model size](../benchmarks/results/cost/cost.png)",
            DOCS_COST_END,
        ]
    )


def write_docs_cost(page: Path, cost_json: Path) -> Path:
    """Replace the page's text between the cost markers with :func:`docs_cost_block` of ``cost_json``."""
    text = page.read_text()
    if DOCS_COST_START not in text or DOCS_COST_END not in text:
        raise ValueError(f"{page} lacks the cost table's markers {DOCS_COST_START!r} ... {DOCS_COST_END!r}")
    before, rest = text.split(DOCS_COST_START, 1)
    after = rest.split(DOCS_COST_END, 1)[1]
    page.write_text(before + docs_cost_block(json.loads(cost_json.read_text())) + after)
    return page


def cost(ctx: Context) -> str:
    report = ctx.json("cost.json")
    if not report:
        return ctx.missing().markdown
    return (
        "\n".join(
            [
                cost_table(report),
                ctx.figure("cost.png", "SLF's overhead against batch, candidates and model size"),
                ctx.how(),
            ]
        )
        + "\n"
    )


# --- the report -----------------------------------------------------------------------------


def git_commit() -> str:
    """The checkout's short commit hash ('unknown' outside git)."""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
        ).stdout.strip()
    except OSError:
        commit = ""
    return commit or "unknown"


def _machine() -> str:
    import torch

    return (
        f"{platform.machine()} CPU, {torch.get_num_threads()} torch threads available, Python "
        f"{platform.python_version()}, torch {torch.__version__}, commit {git_commit()}"
    )


def _stamps(contexts: Dict[str, Context]) -> str:
    lines = ["| section | minutes | finished | exit | machine | commit |", "|---|---|---|---|---|---|"]
    for name, ctx in contexts.items():
        stamp = ctx.folder / "run_all.stamp.json"
        if stamp.is_file():
            saved = json.loads(stamp.read_text())
            lines.append(
                f"| {name} | {saved['minutes']} | {saved['finished']} | {saved['returncode']} "
                f"| {saved.get('machine', '-')} | {saved.get('commit', '-')} |"
            )
        else:
            lines.append(f"| {name} | - | not run | - | - | - |")
    return "\n".join(lines)


def headline(headlines: Sequence[Headline]) -> List[str]:
    """The headline table and its counts: the default recipe beside the per-table best variant and the literal."""
    lines = [
        "Per task, **SLF's default recipe** (`mode='align'`, one choice fixed before the runs) against the best "
        "single candidate of that table, picked by validation score where the task has one (DAC: by mean ACC; "
        "fairseq and mmdet: the host's stock loss). Beside it, *SLF's best variant picked per table* (the best "
        "test mean among the other SLF variants: an optimistic pick made after the runs, not a recipe) and the "
        "literal Algorithm 1, against the same baseline. *largest weight*: the default recipe's largest mean "
        f"weight (over training and seeds); **collapsed** where it is above {COLLAPSE} on a candidate that is not "
        "the best single one.",
        "",
        "| task | best single (by validation) | SLF default recipe: difference, p, verdict | SLF best variant "
        "picked per table (optimistic, by test mean) | literal SLF (Algorithm 1) | largest mean weight of the "
        "default | seeds |",
        "|---|---|---|---|---|---|---|",
        *[h.row() for h in headlines],
    ]
    slf = [h for h in headlines if h.subject == "SLF"]
    if not slf:
        return lines
    lines.append("")
    picks = (
        ("The default recipe (one choice, fixed before the runs)", lambda h: h.default_scores),
        ("SLF's best variant picked per table (optimistic)", lambda h: h.slf_scores),
        ("The literal SLF", lambda h: h.literal_scores),
    )
    for label, pick in picks:
        verdicts = [verdict(pick(h), h.baseline_scores) for h in slf if pick(h)]
        wins, losses = sum("ahead" in v for v in verdicts), sum("loses" in v for v in verdicts)
        missing = len(slf) - len(verdicts)
        lines.append(
            f"{label} is significantly ahead of the best single candidate in {wins}, level in "
            f"{len(verdicts) - wins - losses} and significantly behind in {losses} of {len(verdicts)} "
            f"comparisons (paired t-test, p < {SIGNIFICANCE})"
            + (f"; {missing} of the {len(slf)} tasks have no such run yet." if missing else ".")
        )
    for peer in dict.fromkeys(name for h in slf for name in (h.peers or {})):
        verdicts = [verdict(h.default_scores, h.peers[peer]) for h in slf if h.has_default and peer in (h.peers or {})]
        wins, losses = sum("ahead" in v for v in verdicts), sum("loses" in v for v in verdicts)
        lines.append(
            f"Against {PEER_LABELS.get(peer, peer)}, run alone: the default recipe is significantly ahead in {wins}, "
            f"level in {len(verdicts) - wins - losses} and significantly behind in {losses} of {len(verdicts)} "
            f"comparisons (paired t-test, p < {SIGNIFICANCE})."
        )
    stock = [h.stock_check() for h in slf]
    applicable = [s for s in stock if s is not None]
    lines.append(
        f"Against cross-entropy or the host's stock loss, where some single candidate is significantly ahead "
        f"of it: the default recipe is significantly ahead too in {sum(applicable)} of {len(applicable)} "
        "such tasks."
    )
    noisy = [h for h in slf if h.label_noise]
    within = [h.within_interval() for h in noisy if h.within_interval() is not None]
    lines.append(
        f"Label noise: the default recipe's mean is within the best single loss's 95% interval or ahead in "
        f"{sum(within)} of {len(within)} settings"
        + (f" ({len(noisy) - len(within)} not run yet)." if len(within) < len(noisy) else ".")
    )
    collapsed = [h.collapsed() for h in slf if h.collapsed() is not None]
    lines.append(
        f"Collapse: the default recipe puts more than {COLLAPSE} mean weight on a candidate other than the "
        f"best single one in {sum(collapsed)} of {len(collapsed)} tasks"
        + (f" ({len(slf) - len(collapsed)} without the default's weights yet)." if len(collapsed) < len(slf) else ".")
    )
    return lines


def write_report(path: Path, sections: Path, commands: Dict[str, List[str]], budget: str) -> Path:
    """Renders every section from ``sections/<section>`` into the markdown report at ``path``.

    ``sections`` is ``benchmarks/results`` for the full budget (committed, so the PNGs the
    report links are committed with it) and the runs folder otherwise.
    """
    contexts = {name: Context(name, sections / name, command, path, budget) for name, command in commands.items()}
    parts: List[Tuple[str, Callable[[], Any]]] = [
        ("Table 1: classification (the SLF paper's Table 1)", lambda: classification(contexts["classify"])),
        ("Table 2: clustering with DAC (the SLF paper's Table 2 and Fig. 2b)", lambda: clustering(contexts["dac"])),
        ("Table 3: graph regression with PyG (the SLF paper's Table 3)", lambda: graph_regression(contexts["pyg"])),
        ("Table 4: translation with fairseq (the SLF paper's Table 4)", lambda: translation(contexts["fairseq"])),
        ("Table 5: detection with mmdet (the SLF paper's Table 5)", lambda: detection(contexts["mmdet"])),
        ("Ablation: the number of samples K (the SLF paper's Fig. 2a)", lambda: k_sweep(contexts["k_sweep"])),
        ("Ablation: Gumbel-Softmax against softmax", lambda: gumbel_vs_softmax(contexts)),
        (
            "MILS against its losses (the MILS paper's comparisons)",
            lambda: mils(contexts["mils"], contexts["mils_overhead"]),
        ),
        ("Label noise", lambda: label_noise(contexts["noisy_labels"])),
        ("Literal against validation-driven SLF", lambda: literal_vs_validation(contexts)),
        ("Cost: step overhead and how it scales", lambda: cost(contexts["cost"])),
    ]
    body, headlines = [], []
    for title, render in parts:
        rendered = render()
        if isinstance(rendered, Rendered):
            headlines += rendered.headlines
            rendered = rendered.markdown
        body += [f"## {title}", "", rendered]
    command = "python benchmarks/run_all.py" + ("" if budget == "full" else " --quick")
    head = [
        "# Reproduction report",
        "",
        f"Produced by `{command}` on {time.strftime('%Y-%m-%d', time.gmtime())} ({_machine()}).",
        "Every benchmark's own command is named under its table. Each run is saved; at the full budget the results "
        "are kept in `benchmarks/results/` (committed), so the command continues an interrupted report, also in a "
        "fresh checkout, and redraws a finished one. Sections may come from different sittings: the table at the "
        "end names each one's machine and commit.",
        "",
        "Each cell is `mean +- h` over seeds, h the half-width of the 95% Student-t confidence interval "
        "(`t_{0.975, n-1} s / sqrt(n)`); p is a paired t-test over the same seeds. Paper figures are copied from "
        "the seed papers (`benchmarks/_paper_figures.py`), on their data sets; ours are on the real data that "
        "installs offline (the docs name each source on its host page), at CPU scale.",
        "",
    ]
    if budget != "full":
        head += ["**This is the `--quick` smoke budget: 1-2 epochs and 2 seeds. Its figures mean nothing.**", ""]
    head += ["## Headline: where SLF wins and where it loses", "", *headline(headlines)]
    head += ["", "## Sections run", "", _stamps(contexts), ""]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(head + body).rstrip() + "\n")
    return path
