"""RESULTS.md, rendered from the JSON and PNGs that ``run_all.py``'s sections wrote.

Every cell is ``mean +- h`` over seeds, where h is the half-width of the 95% Student-t
confidence interval, ``t_{0.975, n-1} s / sqrt(n)``; p is a paired t-test over the same seeds.
A section that has not run at this budget is listed with the command that runs it. The
headline table compares, per task, SLF's best variant with the best baseline, and says where
SLF loses.
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

import numpy as np

from _comparison import ci_cell, paired_p
from _paper_figures import (MILS_TABLE1_SVHN_ERROR, SLF_FIG2A_BEST_K, SLF_TABLE1_MNIST, SLF_TABLE2_CIFAR10,
                            SLF_TABLE3_DPP4, SLF_TABLE4_IWSLT14, SLF_TABLE5_VOC)

ROOT = Path(__file__).resolve().parents[1]
SIGNIFICANCE = 0.05


def verdict(ours: Sequence[float], theirs: Sequence[float], subject: str = "SLF") -> str:
    """'SLF ahead' / 'SLF loses' where a paired t-test over seeds says p < 0.05, else 'level'."""
    p = paired_p(ours, theirs)
    if p == p and p < SIGNIFICANCE:
        return f"**{subject} ahead**" if _mean(ours) > _mean(theirs) else f"**{subject} loses**"
    return "level"


@dataclass
class Headline:
    """One task's comparison for the headline table: SLF's best variant, and the literal
    Algorithm 1 where it ran, against the best baseline."""

    task: str
    baseline: str
    baseline_scores: List[float]
    slf: str
    slf_scores: List[float]
    literal_scores: Optional[List[float]] = None
    digits: int = 3
    subject: str = "SLF"

    def versus(self, ours: Sequence[float]) -> str:
        difference = _mean(ours) - _mean(self.baseline_scores)
        p = paired_p(ours, self.baseline_scores)
        return (f"{ci_cell(ours, self.digits)}: {difference:+.{self.digits}f}, p {_p(p)}, "
                f"{verdict(ours, self.baseline_scores, self.subject)}")

    def row(self) -> str:
        literal = self.versus(self.literal_scores) if self.literal_scores else "-"
        return (f"| {self.task} | {self.baseline} {ci_cell(self.baseline_scores, self.digits)} | {self.slf} "
                f"{self.versus(self.slf_scores)} | {literal} | {len(self.slf_scores)} |")


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
        return (f"Command: `python benchmarks/run_all.py{flag} --only {self.name}`, which runs\n"
                f"`{shlex.join(self.command)}`.")

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


def _host_headline(task: str, runs: Dict[str, List[Dict[str, Any]]], score: str, baseline: Tuple[str, str],
                   literal: str, labels: Dict[str, str], digits: int) -> List[Headline]:
    """The headline row of a host benchmark whose ``runs`` map each method to its seeds' records."""
    scores = {method: [row[score] for row in rows] for method, rows in runs.items()}
    slf = [method for method in scores if method != baseline[0]]
    if not slf:
        return []
    top = max(slf, key=lambda method: _mean(scores[method]))
    return [Headline(task, baseline[1], scores[baseline[0]], labels.get(top, top), scores[top], scores.get(literal),
                     digits=digits)]


# --- the SLF paper's Table 1 -------------------------------------------------------------------

CLASSIFY_CANDIDATES = ("ce", "mse", "mae", "hinge", "cosine", "bce")
CLASSIFY_SLF = {"slf-joint": "SLF joint (literal)", "slf-softmax": "SLF-Softmax", "slf-validation": "SLF validation",
                "slf-joint+normalize": "SLF joint + normalize", "slf-validation+every4": "SLF validation, every 4th"}


def classification(ctx: Context) -> Rendered:
    data = ctx.json("classify_seeds.json")
    if data is None:
        return ctx.missing()
    results = data["results"]
    slf = [m for m in CLASSIFY_SLF if any(m in by_method for by_method in results.values())]
    lines = ["| model | paper C-E | paper SLF | CE | best single | " + " | ".join(CLASSIFY_SLF[m] for m in slf)
             + " | best SLF - CE (p); paper SLF - C-E |", "|---|---|---|---|---|" + "---|" * (len(slf) + 1)]
    alone = ["| model | " + " | ".join(CLASSIFY_CANDIDATES) + " |", "|---|" + "---|" * len(CLASSIFY_CANDIDATES)]
    weights = []
    headlines = []
    for model, by_method in results.items():
        scores = {m: _by_seed(rows, "final_test_acc") for m, rows in by_method.items()}
        singles = [m for m in CLASSIFY_CANDIDATES if m in scores]
        best = max(singles, key=lambda m: _mean(scores[m]))
        paper = SLF_TABLE1_MNIST.get(model, {})
        cells = []
        for method in slf:
            if method not in scores:
                cells.append("-")
                continue
            cells.append(f"{ci_cell(scores[method], 4)} (p {_p(paired_p(scores[method], scores[best]))})")
            rows = by_method[method]
            if "mean_weights" in rows[0]:
                mean = [statistics.fmean(r["mean_weights"][i] for r in rows) for i in range(len(rows[0]["candidates"]))]
                weights.append(f"{model} {CLASSIFY_SLF[method]}: {_top_weights(rows[0]['candidates'], mean)}")
        present = [m for m in slf if m in scores]
        top = max(present, key=lambda m: _mean(scores[m])) if present else None
        versus_ce = (f"{_mean(scores[top]) - _mean(scores['ce']):+.4f} ({_p(paired_p(scores[top], scores['ce']))})"
                     if top else "-")
        if paper:
            versus_ce += f"; {paper['SLF'] - paper['C-E']:+.4f}"
        lines.append(f"| {model} | {paper.get('C-E', '-')} | {paper.get('SLF', '-')} | {ci_cell(scores['ce'], 4)} | "
                     f"{best} {ci_cell(scores[best], 4)} | " + " | ".join(cells) + f" | {versus_ce} |")
        alone.append(f"| {model} | " + " | ".join(ci_cell(scores[m], 4) for m in singles) + " |")
        if top:
            headlines.append(Headline(f"MNIST-5k classification, {model}", best, scores[best], CLASSIFY_SLF[top],
                                      scores[top], scores.get("slf-joint"), digits=4))
    seeds = max(len(rows) for by_method in results.values() for rows in by_method.values())
    text = [f"MNIST-5k (3,500 train / 500 validation / 1,000 test), {data['args']['epochs']} epochs, Adam lr 1e-3, "
            f"batch 128, {seeds} seeds; test accuracy at the last epoch. SLF over the paper's six candidates, K = 3, "
            "tau = 1. *best single* is the candidate with the best mean test accuracy (an oracle choice, so a "
            "demanding baseline); p is against it. The paper's figures are on all 70,000 MNIST digits with its own "
            "training, so only the differences compare.", "", *lines, "", "Every candidate alone:", "", *alone,
            "", "SLF's mean selection weights (largest two): " + "; ".join(weights) + ".", ""]
    for model in results:
        text.append(ctx.figure(f"classify_seeds_{model}.png", f"MNIST-5k {model}: accuracy per method"))
    return Rendered("\n".join(text) + "\n" + ctx.how() + "\n", headlines)


# --- the SLF paper's Table 2 and Fig. 2b ------------------------------------------------------

DAC_METRICS = ("nmi", "ari", "acc")


DAC_LABELS = {**CLASSIFY_SLF, "slf-joint-norm": CLASSIFY_SLF["slf-joint+normalize"]}


def clustering(ctx: Context) -> Rendered:
    data = ctx.json("dac_seeds.json")
    if data is None:
        return ctx.missing()
    scores = data["scores"]
    everything = scores["all"]
    lines = ["| pairwise loss | NMI | ARI | ACC | p (ACC vs bce) | paper, CIFAR-10 (NMI / ARI / ACC) |",
             "|---|---|---|---|---|---|"]
    for method, metrics in everything.items():
        paper = SLF_TABLE2_CIFAR10.get(method)
        paper_cell = (f"{paper['row']}: {paper['nmi']:.3f} / {paper['ari']:.3f} / {paper['acc']:.3f}" if paper else "")
        p = "-" if method == "bce" else _p(paired_p(metrics["acc"], everything["bce"]["acc"]))
        lines.append(f"| {DAC_LABELS.get(method, method)} | " + " | ".join(ci_cell(metrics[m]) for m in DAC_METRICS)
                     + f" | {p} | {paper_cell} |")
    slf = [m for m in everything if m.startswith("slf")]
    singles = [m for m in everything if not m.startswith("slf")]
    best = max(singles, key=lambda m: _mean(everything[m]["acc"]))
    headlines = []
    if slf:
        top = max(slf, key=lambda m: _mean(everything[m]["acc"]))
        headlines.append(Headline("DAC clustering on MNIST-5k (ACC)", best, everything[best]["acc"],
                                  DAC_LABELS.get(top, top),
                                  everything[top]["acc"], everything.get("slf-joint", {}).get("acc")))
    imbalanced = sorted((folder for folder in scores if folder != "all"), key=lambda f: float(f[1:]))
    text = [f"DAC on all 5,000 MNIST-5k digits (k = 10), width {data['settings']['width']}, "
            f"{data['settings']['rounds']} rounds x {data['settings']['epochs_per_round']} epochs, "
            f"{len(everything['bce']['acc'])} seeds. The paper has no MNIST column; its CIFAR-10 figures are "
            "beside ours for the direction of each difference only.", "", *lines]
    if imbalanced:
        methods = list(scores[imbalanced[0]])
        text += ["", "**Imbalanced subsets (the paper's Fig. 2b):** class 0 kept with probability r, class 9 with 1, "
                 "linear between; ACC. The paper reports DAC+SLF more than 5 points ahead on such subsets "
                 "(the figure's values are not printed).", "",
                 "| r | " + " | ".join(f"ACC {DAC_LABELS.get(m, m)}" for m in methods)
                 + f" | p ({DAC_LABELS.get(methods[-1], methods[-1])} vs {methods[0]}) |",
                 "|---|" + "---|" * (len(methods) + 1)]
        for folder in imbalanced:
            by_method = scores[folder]
            text.append(f"| {folder[1:]} | " + " | ".join(ci_cell(by_method[m]["acc"]) for m in methods)
                        + f" | {_p(paired_p(by_method[methods[-1]]['acc'], by_method[methods[0]]['acc']))} |")
        text.append(ctx.figure("dac_imbalanced.png", "DAC ACC on imbalanced MNIST subsets"))
    return Rendered("\n".join(text) + "\n\n" + ctx.how() + "\n", headlines)


# --- the SLF paper's Table 3 -------------------------------------------------------------------

def graph_regression(ctx: Context) -> Rendered:
    data = ctx.json("pyg_seeds.json")
    if data is None:
        return ctx.missing()
    lines = ["| model | paper DPP4 C-E / SLF | MSE | best single (by val R²) | SLF joint (literal) | SLF validation | "
             "p validation vs best | SLF validation weights |", "|---|---|---|---|---|---|---|---|"]
    headlines = []
    for model, row in data["table"].items():
        paper, weights = SLF_TABLE3_DPP4.get(model, {}), row["slf_validation_weights"]
        paper_cell = f"{paper['C-E']:.3f} / {paper['SLF']:.3f}" if paper else "-"
        lines.append(f"| {model} | {paper_cell} | {ci_cell(row['mse']) if row['mse'] else '-'} | "
                     f"{row['best_single']} {ci_cell(row['best_single_r2'])} | {ci_cell(row['slf_joint'])} | "
                     f"{ci_cell(row['slf_validation'])} | {_p(row['p_slf_vs_best'])} | "
                     f"{_top_weights(list(weights), list(weights.values()))} |")
        top = max(("slf_joint", "slf_validation"), key=lambda k: _mean(row[k]))
        headlines.append(Headline(f"graph regression, {model} (test R²)", row["best_single"], row["best_single_r2"],
                                  {"slf_joint": "SLF joint", "slf_validation": "SLF validation"}[top], row[top],
                                  row["slf_joint"]))
    text = [f"rdkit's CHEMBL2321810 (1,017 molecules, pIC50), scaffold split {data['sizes']}, width 32, 3 layers, "
            f"{data['epochs']} epochs, {data['seeds']} seeds; test R² at the epoch of best validation R². "
            "The paper's "
            "DPP4 set (8,193 molecules) does not install offline, so its figures are another data set.", "", *lines,
            ctx.figure("pyg_seeds.png", "graph regression R² per model")]
    return Rendered("\n".join(text) + "\n\n" + ctx.how() + "\n", headlines)


# --- the SLF paper's Table 4 -------------------------------------------------------------------

FAIRSEQ_LABELS = {"label_smoothed": "label_smoothed_cross_entropy", "slf_joint": "SLF joint (literal)",
                  "slf_softmax_mean": "SLF softmax + normalize", "slf_validation": "SLF validation, every 4th step"}


def translation(ctx: Context) -> Rendered:
    data = ctx.json("fairseq_slf.json")
    if data is None or "runs" not in data:
        return ctx.missing()
    runs = data["runs"]
    base = [r["bleu"] for r in runs["label_smoothed"]]
    lines = ["| criterion | test BLEU | p vs label smoothing | valid nll | weights at the end |",
             "|---|---|---|---|---|"]
    for method, rows in runs.items():
        bleu = [r["bleu"] for r in rows]
        weights = rows[0].get("weights") or {}
        mean = [statistics.fmean(r["weights"][c] for r in rows) for c in weights]
        lines.append(f"| {FAIRSEQ_LABELS.get(method, method)} | {ci_cell(bleu, 2)} | "
                     f"{'-' if method == 'label_smoothed' else _p(paired_p(bleu, base))} | "
                     f"{statistics.fmean(r['valid_nll_loss'] for r in rows):.2f} | "
                     f"{_top_weights(list(weights), mean) if weights else ''} |")
    headlines = _host_headline("fairseq translation, Ding de-en (BLEU)", runs, "bleu", ("label_smoothed",
                               "label smoothing"), "slf_joint", FAIRSEQ_LABELS, digits=2)
    paper = SLF_TABLE4_IWSLT14["Transformer"]
    text = [f"fairseq transformer (2+2 layers, width 128) on the Ding German-English corpus, {data['epochs']} epochs, "
            f"{data['seeds']} seeds; sacrebleu on the 600 test pairs, beam 5. The paper's IWSLT-14 Transformer: "
            f"C-E {paper['C-E']}, SLF {paper['SLF']} BLEU (+{paper['SLF'] - paper['C-E']:.2f}); IWSLT-14 does not "
            "install offline.", "", *lines]
    if "timing" in data:
        text += ["", f"Words per second, one training step, slf / label smoothing: **{data['timing']['ratio']:.3f}**."]
    text.append(ctx.figure("fairseq_bleu.png", "fairseq BLEU per criterion"))
    return Rendered("\n".join(text) + "\n\n" + ctx.how() + "\n", headlines)


# --- the SLF paper's Table 5 -------------------------------------------------------------------

MMDET_LABELS = {"stock": "stock YOLOV3Head", "slf": "SLF joint (literal, the shipped config)",
                "slf_normalized": "SLF joint + normalize", "slf_softmax_normalized": "SLF softmax + normalize"}


def detection(ctx: Context) -> Rendered:
    data = ctx.json("mmdet_yolo.json")
    if data is None or "runs" not in data:
        return ctx.missing()
    runs = data["runs"]
    stock = [r["mAP"] for r in runs["stock"]]
    lines = ["| head | val mAP@0.5 | p vs stock | lambdas, mean over training (cls, obj, noobj, xy, wh) |",
             "|---|---|---|---|"]
    for method, rows in runs.items():
        maps = [r["mAP"] for r in rows]
        lambdas = ""
        if "mean_lambdas" in rows[0]:
            lambdas = ", ".join(f"{statistics.fmean(r['mean_lambdas'][part] for r in rows):.2f}"
                                for part in rows[0]["mean_lambdas"])
        lines.append(f"| {MMDET_LABELS.get(method, method)} | {ci_cell(maps, 4)} | "
                     f"{'-' if method == 'stock' else _p(paired_p(maps, stock))} | {lambdas} |")
    headlines = _host_headline("mmdet YOLOv3 tree crowns (mAP@0.5)", runs, "mAP", ("stock", "stock head"), "slf",
                               MMDET_LABELS, digits=4)
    paper = SLF_TABLE5_VOC
    text = [f"YOLOv3-MobileNetV2 at 320 px from scratch on the DeepForest tree-crown tiles, {data['epochs']} epochs, "
            f"{data['seeds']} seeds; mmdet's VOCMetric on the held-out image. The paper (PASCAL VOC 2007, not "
            f"offline): YOLO {paper['YOLO']['stock']} -> {paper['YOLO']['SLF']}, Fast YOLO "
            f"{paper['Fast YOLO']['stock']} -> {paper['Fast YOLO']['SLF']}, YOLO VGG-16 {paper['YOLO VGG-16']['stock']}"
            f" -> {paper['YOLO VGG-16']['SLF']} mAP.", "", *lines]
    if "timing" in data:
        text += ["", f"Iteration time SLF head / stock head: **{data['timing']['ratio']:.4f}**."]
    text.append(ctx.figure("mmdet_yolo_map.png", "mmdet mAP per head"))
    return Rendered("\n".join(text) + "\n\n" + ctx.how() + "\n", headlines)


# --- ablations ------------------------------------------------------------------------------

def k_sweep(ctx: Context) -> Rendered:
    data = ctx.json("k_sweep.json")
    if data is None:
        return ctx.missing()
    samples = data["settings"]["samples"]
    lines = ["| model | method | " + " | ".join(f"K = {k}" for k in samples)
             + f" | best K | largest weight at K = {samples[0]} / {samples[-1]} |",
             "|---|---|" + "---|" * (len(samples) + 2)]
    names = data["candidates"]
    for model, by_method in data["scores"].items():
        lines.append(f"| {model} | SLF-Softmax (no K) | {ci_cell(by_method['slf-softmax']['-'], 4)} |"
                     + " |" * (len(samples) + 1))
        for method, by_k in by_method.items():
            if method == "slf-softmax":
                continue
            best = max(samples, key=lambda k: _mean(by_k[str(k)]))
            weights = data["mean_weights"][model][method]
            largest = " / ".join(_top_weights(names, weights[str(k)], 1) for k in (samples[0], samples[-1]))
            lines.append(f"| {model} | {method} | " + " | ".join(ci_cell(by_k[str(k)], 4) for k in samples)
                         + f" | {best} | {largest} |")
    text = [f"SLF over the paper's six candidates on MNIST-5k, {data['settings']['epochs']} epochs, "
            f"{data['settings']['seeds']} seeds; test accuracy. The paper's Fig. 2a finds "
            f"K = {SLF_FIG2A_BEST_K['MNIST']}"
            f" best on MNIST and K = {SLF_FIG2A_BEST_K['CIFAR-10']} on CIFAR-10, both above SLF-Softmax.", "", *lines,
            ctx.figure("k_sweep.png", "accuracy against K")]
    return Rendered("\n".join(text) + "\n\n" + ctx.how() + "\n", [])


def gumbel_vs_softmax(contexts: Dict[str, Context]) -> str:
    """The paper's 'Contribution of Gumbel-Softmax' ablation, gathered from the sections that ran both."""
    rows = []
    classify = contexts["classify"].json("classify_seeds.json")
    if classify:
        for model, by_method in classify["results"].items():
            if "slf-joint" in by_method and "slf-softmax" in by_method:
                rows.append((f"MNIST-5k {model}, accuracy", _by_seed(by_method["slf-joint"], "final_test_acc"),
                             _by_seed(by_method["slf-softmax"], "final_test_acc"), 4))
    dac = contexts["dac"].json("dac_seeds.json")
    if dac and {"slf-joint", "slf-softmax"} <= set(dac["scores"]["all"]):
        rows.append(("DAC MNIST-5k, ACC", dac["scores"]["all"]["slf-joint"]["acc"],
                     dac["scores"]["all"]["slf-softmax"]["acc"], 3))
    mmdet = contexts["mmdet"].json("mmdet_yolo.json")
    if mmdet and {"slf_normalized", "slf_softmax_normalized"} <= set(mmdet.get("runs", {})):
        rows.append(("YOLOv3 tree crowns, mAP (both normalised)", [r["mAP"] for r in mmdet["runs"]["slf_normalized"]],
                     [r["mAP"] for r in mmdet["runs"]["slf_softmax_normalized"]], 4))
    if not rows:
        return "Not run yet: it reads the classify, dac and mmdet sections.\n"
    lines = ["| task | SLF (Gumbel-Softmax, K = 3) | SLF-Softmax | Gumbel - softmax | p |", "|---|---|---|---|---|"]
    for task, gumbel, softmax, digits in rows:
        lines.append(f"| {task} | {ci_cell(gumbel, digits)} | {ci_cell(softmax, digits)} | "
                     f"{_mean(gumbel) - _mean(softmax):+.{digits}f} | {_p(paired_p(gumbel, softmax))} |")
    return ("The paper reports SLF with Gumbel-Softmax above SLF-Softmax (softmax weights, every candidate always "
            "on). Both with the literal joint update:\n\n" + "\n".join(lines) + "\n")


# --- MILS ----------------------------------------------------------------------------------

def mils(ctx: Context, overhead: Context) -> Rendered:
    data = ctx.json("mils_seeds.json")
    if data is None:
        return ctx.missing()
    results = data["results"]
    base = _by_seed(results["ce"], "final_test_acc")
    lines = ["| method | test accuracy | p vs ce | accepted / attempted | paper, SVHN ResNet-20 accuracy |",
             "|---|---|---|---|---|"]
    for method, rows in results.items():
        accuracy = _by_seed(rows, "final_test_acc")
        accepted = ""
        if "mils_stats" in rows[0]:
            attempted = sum(r["mils_stats"]["attempted_total"] for r in rows)
            taken = sum(r["mils_stats"]["accepted_total"] for r in rows)
            accepted = f"{taken} / {attempted}"
        paper = MILS_TABLE1_SVHN_ERROR.get(method)
        lines.append(f"| {method} | {ci_cell(accuracy, 4)} | {'-' if method == 'ce' else _p(paired_p(accuracy, base))}"
                     f" | {accepted} | {'' if paper is None else f'{1 - paper / 100:.4f}'} |")
    mils_methods = [m for m in results if m.startswith("mils")]
    headlines = []
    if mils_methods:
        top = max(mils_methods, key=lambda m: _mean(_by_seed(results[m], "final_test_acc")))
        best = max((m for m in results if not m.startswith("mils") and "random" not in m),
                   key=lambda m: _mean(_by_seed(results[m], "final_test_acc")))
        headlines.append(Headline(f"MILS, {data['args']['model']} on MNIST-5k (accuracy)", best,
                                  _by_seed(results[best], "final_test_acc"), top,
                                  _by_seed(results[top], "final_test_acc"), digits=4, subject="MILS"))
    args = data["args"]
    text = [f"{args['model']} on MNIST-5k, {args['epochs']} epochs, {args['seeds']} seeds, MILS participation rate "
            f"r = {args['rate']}, observation set {args['obs_size']} training samples, rule 'not worse'. The paper's "
            "SVHN figures (test accuracy = 1 - error) are another data set and network.", "", *lines, "", ctx.how()]
    timing = overhead.json("mils_overhead.json")
    if timing:
        text += ["", "Step time against a primary-only step (LeNet, batch 128; `mils_overhead` section):", "",
                 "| variant | median step (ms) | median ratio | mean ratio |", "|---|---|---|---|"]
        for label, row in timing["variants"].items():
            text.append(f"| {label} | {row['median_ms']:.2f} | {row['median_ratio']:.3f} | {row['mean_ratio']:.3f} |")
        text += ["", overhead.how()]
    return Rendered("\n".join(text) + "\n", headlines)


# --- label noise ----------------------------------------------------------------------------

NOISY_SLF = {"slf-joint": "SLF joint (literal)", "slf-validation": "SLF validation",
             "slf-validation-cosine": "SLF validation, cosine",
             "slf-validation-sample-losses-cosine": "SLF validation, per-sample"}
NOISY_SINGLES = ("ce", "mse", "mae", "hinge", "cosine", "bce", "gce", "sce", "bi_tempered")


def label_noise(ctx: Context) -> Rendered:
    data = ctx.json("noisy_labels.json")
    if data is None or "val_acc" not in data:
        return ctx.missing()
    test, val = data["test_acc"], data["val_acc"]
    first = next(iter(next(iter(test.values())).values()))
    slf = [m for m in NOISY_SLF if m in first]
    lines = ["| model | noise | CE | best single (by val) | " + " | ".join(NOISY_SLF[m] for m in slf) + " |",
             "|---|---|---|---|" + "---|" * len(slf)]
    headlines = []
    for model, by_setting in test.items():
        for setting, scores in by_setting.items():
            singles = [m for m in NOISY_SINGLES if m in scores]
            best = max(singles, key=lambda m: _mean(val[model][setting][m]))
            cells = [f"{ci_cell(scores[m])} (p {_p(paired_p(scores[m], scores[best]))})" for m in slf]
            lines.append(f"| {model} | {setting} | {ci_cell(scores['ce'])} | {best} {ci_cell(scores[best])} | "
                         + " | ".join(cells) + " |")
            if slf:
                top = max(slf, key=lambda m: _mean(scores[m]))
                headlines.append(Headline(f"label noise {setting}, {model} (accuracy)", best, scores[best],
                                          NOISY_SLF[top], scores[top], scores.get("slf-joint")))
    settings = data["settings"]
    text = [f"MNIST-5k with corrupted training labels (validation and test clean), {settings['epochs']} epochs, "
            f"{settings['seeds']} seeds; clean test accuracy. SLF over nine candidates (the paper's six, gce, sce, "
            "bi_tempered). *best single* is picked by clean validation accuracy; p is against it. Neither paper "
            "has a label-noise table.", "", *lines]
    # The noisiest settings only: each grid is a few hundred kB; the others are under the section's folder.
    for setting in [s for s in next(iter(test.values())) if s.endswith("0.4")]:
        text.append(ctx.figure(f"selection_weights_{setting}.png", f"SLF selection weights, {setting}"))
    text.append(f"The selection weights of every setting: `{ctx.where()}/selection_weights_<setting>.png`.")
    return Rendered("\n".join(text) + "\n\n" + ctx.how() + "\n", headlines)


def literal_vs_validation(contexts: Dict[str, Context]) -> str:
    """Algorithm 1's joint update against the validation-driven update, wherever both ran."""
    rows: List[Tuple[str, List[float], List[float], int]] = []
    classify = contexts["classify"].json("classify_seeds.json")
    if classify:
        for model, by_method in classify["results"].items():
            if {"slf-joint", "slf-validation"} <= set(by_method):
                rows.append((f"MNIST-5k {model}", _by_seed(by_method["slf-joint"], "final_test_acc"),
                             _by_seed(by_method["slf-validation"], "final_test_acc"), 4))
    noisy = contexts["noisy_labels"].json("noisy_labels.json")
    if noisy:
        for model, by_setting in noisy["test_acc"].items():
            for setting, scores in by_setting.items():
                if {"slf-joint", "slf-validation"} <= set(scores):
                    rows.append((f"label noise {setting}, {model}", scores["slf-joint"], scores["slf-validation"], 3))
    pyg = contexts["pyg"].json("pyg_seeds.json")
    if pyg:
        for model, row in pyg["table"].items():
            rows.append((f"graph regression {model} (R²)", row["slf_joint"], row["slf_validation"], 3))
    fairseq = contexts["fairseq"].json("fairseq_slf.json")
    if fairseq and {"slf_joint", "slf_validation"} <= set(fairseq.get("runs", {})):
        rows.append(("fairseq Ding de-en (BLEU)", [r["bleu"] for r in fairseq["runs"]["slf_joint"]],
                     [r["bleu"] for r in fairseq["runs"]["slf_validation"]], 2))
    if not rows:
        return "Not run yet: it reads the classify, noisy_labels, pyg and fairseq sections.\n"
    lines = ["| task | literal (Algorithm 1) | validation-driven | validation - literal | p |", "|---|---|---|---|---|"]
    ahead = behind = 0
    for task, literal, validation, digits in rows:
        p = paired_p(validation, literal)
        ahead += int(p == p and p < SIGNIFICANCE and _mean(validation) > _mean(literal))
        behind += int(p == p and p < SIGNIFICANCE and _mean(validation) < _mean(literal))
        lines.append(f"| {task} | {ci_cell(literal, digits)} | {ci_cell(validation, digits)} | "
                     f"{_mean(validation) - _mean(literal):+.{digits}f} | {_p(p)} |")
    return ("The literal update minimises the weighted loss over the decision network too, so it drifts to the "
            "numerically smallest candidate (DESIGN.md); the validation-driven update follows the held-out loss's "
            "gradient instead. DAC has no labelled held-out data and mmdet's loop no held-out step, so they only "
            f"run the literal form. Validation-driven is significantly ahead in {ahead} and behind in {behind} of "
            f"{len(rows)} rows (p < {SIGNIFICANCE}).\n\n"
            + "\n".join(lines) + "\n")


# --- cost ---------------------------------------------------------------------------------

def cost(scaling: Context, step: Context) -> str:
    text = []
    data = step.json("step_overhead.json")
    if data:
        text += ["Step time of SLF joint against cross-entropy (LeNet, batch 128, six candidates, K = 3):", "",
                 "| variant | median step (ms) | ratio to cross-entropy |", "|---|---|---|"]
        text += [f"| {label} | {row['median_ms']:.2f} | {row['ratio']:.3f} |"
                 for label, row in data["variants"].items()]
        text += ["", step.how(), ""]
    else:
        text += [step.missing().markdown]
    data = scaling.json("slf_scaling.json")
    if data:
        by_batch, by_count = data["by_batch"], data["by_count"]
        text += ["SLF / cross-entropy step time as the batch and the number of candidates grow (the MNIST MLP, SGD, "
                 f"{data['threads']} threads, median of {data['rounds']} interleaved rounds):", "",
                 "| batch (6 candidates) | CE step (ms) | SLF joint / CE | SLF validation / CE |", "|---|---|---|---|"]
        text += [f"| {b} | {r['ce_ms']:.2f} | {r['joint']:.2f} | {r['validation']:.2f} |" for b, r in by_batch.items()]
        text += ["", "| candidates (batch 128) | " + " | ".join(by_count) + " |", "|---|" + "---|" * len(by_count),
                 "| SLF joint / CE | " + " | ".join(f"{r['joint']:.2f}" for r in by_count.values()) + " |"]
        batches, counts = list(by_batch), list(by_count)
        joint = [by_batch[b]["joint"] for b in batches]
        validation = [r["validation"] for r in by_batch.values()]
        per_candidate = (float(np.polyfit([int(n) for n in counts], [by_count[n]["joint"] for n in counts], 1)[0])
                         if len(counts) > 1 else float("nan"))
        text += ["", f"How it grows: joint SLF costs {joint[0]:.2f}x a cross-entropy step at batch {batches[0]} and "
                 f"{joint[-1]:.2f}x at batch {batches[-1]} ("
                 + ("falling with the batch: most of it is a fixed cost per step" if joint[-1] < joint[0]
                    else "not falling with the batch") + "); the validation mode costs "
                 f"{min(validation):.2f}x-{max(validation):.2f}x, since its look-ahead repeats work that grows with "
                 f"the model. Each added candidate adds about {per_candidate:.2f}x (least-squares slope over "
                 f"{counts[0]}-{counts[-1]} candidates at batch 128).",
                 scaling.figure("slf_scaling.png", "SLF overhead against batch size and candidates"), scaling.how()]
    else:
        text += [scaling.missing().markdown]
    return "\n".join(text) + "\n"


# --- the report -----------------------------------------------------------------------------

def git_commit() -> str:
    """The checkout's short commit hash ('unknown' outside git)."""
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                                text=True).stdout.strip()
    except OSError:
        commit = ""
    return commit or "unknown"


def _machine() -> str:
    import torch

    return (f"{platform.machine()} CPU, {torch.get_num_threads()} torch threads available, Python "
            f"{platform.python_version()}, torch {torch.__version__}, commit {git_commit()}")


def _stamps(contexts: Dict[str, Context]) -> str:
    lines = ["| section | minutes | finished | exit | machine | commit |", "|---|---|---|---|---|---|"]
    for name, ctx in contexts.items():
        stamp = ctx.folder / "run_all.stamp.json"
        if stamp.is_file():
            saved = json.loads(stamp.read_text())
            lines.append(f"| {name} | {saved['minutes']} | {saved['finished']} | {saved['returncode']} "
                         f"| {saved.get('machine', '-')} | {saved.get('commit', '-')} |")
        else:
            lines.append(f"| {name} | - | not run | - | - | - |")
    return "\n".join(lines)


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
        ("MILS against its losses (the MILS paper's comparisons)",
         lambda: mils(contexts["mils"], contexts["mils_overhead"])),
        ("Label noise", lambda: label_noise(contexts["noisy_labels"])),
        ("Literal against validation-driven SLF", lambda: literal_vs_validation(contexts)),
        ("Cost: step overhead and how it scales", lambda: cost(contexts["scaling"], contexts["step_overhead"])),
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
        "# Reproduction report", "",
        f"Produced by `{command}` on {time.strftime('%Y-%m-%d', time.gmtime())} ({_machine()}).",
        "Every benchmark's own command is named under its table. Each run is saved; at the full budget the results "
        "are kept in `benchmarks/results/` (committed), so the command continues an interrupted report, also in a "
        "fresh checkout, and redraws a finished one. Sections may come from different sittings: the table at the "
        "end names each one's machine and commit.", "",
        "Each cell is `mean +- h` over seeds, h the half-width of the 95% Student-t confidence interval "
        "(`t_{0.975, n-1} s / sqrt(n)`); p is a paired t-test over the same seeds. Paper figures are copied from "
        "the seed papers (`benchmarks/_paper_figures.py`), on their data sets; ours are on the real data that "
        "installs offline (README, ENVIRONMENT.md), at CPU scale.", "",
    ]
    if budget != "full":
        head += ["**This is the `--quick` smoke budget: 1-2 epochs and 2 seeds. Its figures mean nothing.**", ""]
    head += ["## Headline: where SLF wins and where it loses", "",
             "Per task, SLF's best variant (by mean, so an optimistic pick) against the best baseline of that table.",
             "", "| task | best baseline | best SLF variant: difference, p, verdict | literal SLF (Algorithm 1) "
             "| seeds |",
             "|---|---|---|---|---|", *[h.row() for h in headlines]]
    if headlines:
        head += [""]
        picks = (("SLF's best variant", lambda h: h.slf_scores), ("The literal SLF", lambda h: h.literal_scores))
        for label, pick in picks:
            verdicts = [verdict(pick(h), h.baseline_scores) for h in headlines if pick(h) and h.subject == "SLF"]
            wins, losses = sum("ahead" in v for v in verdicts), sum("loses" in v for v in verdicts)
            head.append(f"{label} is significantly ahead of the best baseline in {wins}, level in "
                        f"{len(verdicts) - wins - losses} and significantly behind in {losses} of {len(verdicts)} "
                        f"comparisons (paired t-test, p < {SIGNIFICANCE}).")
    head += ["", "## Sections run", "", _stamps(contexts), ""]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(head + body).rstrip() + "\n")
    return path
