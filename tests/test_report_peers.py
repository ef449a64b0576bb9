"""The report's peer rows beyond Table 1: clustering (Table 2), graph regression (Table 3), detection (Table 5),
and translation (Table 4: L2T-DLF and the LSTM rows), rendered from the committed runs.

Each peer's cells and paired tests against the default recipe are recomputed here from the saved
per-seed scores with scipy, so a row that drifted from its runs, or a peer counted as one of SLF's
own variants, fails.
"""

from __future__ import annotations

import json
import re
import statistics
import sys
from pathlib import Path
from typing import Any, Dict, List

import pytest
from scipy import stats

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

import _report  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"


def context(name: str) -> "_report.Context":
    return _report.Context(name, RESULTS / name, ["python", "benchmarks/run_all.py"], ROOT / "RESULTS.md", "full")


def verdict_of(default, peer) -> str:
    p = stats.ttest_rel(default, peer).pvalue
    if p < 0.05:
        return "**SLF ahead**" if statistics.fmean(default) > statistics.fmean(peer) else "**SLF loses**"
    return "level"


def peer_row(
    rendered: "_report.Rendered", headline: Any, key: str, prefix: str, default: List[float], peer: List[float]
) -> str:
    """The row of peer ``key`` under ``prefix``, checked: the headline holds the peer's scores as a peer (not as
    an SLF variant) and its "default recipe - peer" cell has the difference of means, the paired p and the
    verdict."""
    assert headline.peers[key] == peer and headline.slf != key
    line = next(
        text for text in rendered.markdown.splitlines() if text.startswith(f"{prefix} {_report.PEER_LABELS[key]} |")
    )
    difference = re.search(r"\| ([+-]\d\.\d{3}), p (\S+), ([^|]+) \|", line)
    assert float(difference.group(1)) == pytest.approx(statistics.fmean(default) - statistics.fmean(peer), abs=5e-4)
    p = stats.ttest_rel(default, peer).pvalue
    assert difference.group(2) == ("-" if p != p else f"{p:.2f}")
    assert difference.group(3) == ("level" if not p < 0.05 else verdict_of(default, peer))
    return line


def test_clustering_peers_are_compared_with_the_default_recipe_not_picked_as_its_best_single() -> None:
    data = json.loads((RESULTS / "dac" / "dac_seeds.json").read_text())
    everything = data["scores"]["all"]
    peers = [method for method in _report.DAC_PEERS if method in everything]
    assert peers, "the archived DAC section has no peer runs"
    rendered = _report.clustering(context("dac"))
    (headline,) = rendered.headlines
    candidates = {"bce", "mse", "mae", "hinge", "cosine"}
    assert set(headline.singles) <= candidates and headline.baseline.split()[0] in candidates
    for method in peers:
        label = _report.DAC_PEERS[method]
        assert headline.peers[label] == everything[method]["acc"]
        row = next(
            line for line in rendered.markdown.splitlines() if line.startswith(f"| {_report.DAC_LABELS[method]} |")
        )
        nmi, _, acc = (float(mean) for mean, _ in re.findall(r"(\d\.\d{3}) \+- (\d\.\d{3})", row)[:3])
        assert acc == pytest.approx(statistics.fmean(everything[method]["acc"]), abs=5e-4)
        assert nmi == pytest.approx(statistics.fmean(everything[method]["nmi"]), abs=5e-4)
        p_bce = row.split(" | ")[4]
        assert p_bce == f"{stats.ttest_rel(everything[method]['acc'], everything['bce']['acc']).pvalue:.2f}"
    for method, ratio in (data.get("peer_step_ratios") or {}).get("ratios", {}).items():
        assert ratio > 1  # a look-ahead through the network on top of DAC's step
        assert f"{_report.DAC_PEERS[method]}'s step (its look-ahead and DAC's step) costs {ratio:.2f}x bce's" in (
            rendered.markdown
        )


def detection_runs_with_peers(folder: Path) -> Dict[str, List[Dict[str, Any]]]:
    """The archived detection runs and every archived peer run, over the seeds that every method has."""
    data = json.loads((RESULTS / "mmdet" / "mmdet_yolo.json").read_text())
    runs = {method: list(rows) for method, rows in data["runs"].items()}
    for method in _report.MMDET_PEERS:
        rows = [
            json.loads(path.read_text()) for path in sorted((RESULTS / "mmdet").glob(f"{method}_seed*/result.json"))
        ]
        if rows:
            runs[method] = sorted(rows, key=lambda row: row["config"]["seed"])
    seeds = set.intersection(*({row["config"]["seed"] for row in rows} for rows in runs.values()))
    runs = {method: [row for row in rows if row["config"]["seed"] in seeds] for method, rows in runs.items()}
    (folder / "mmdet_yolo.json").write_text(json.dumps({**data, "runs": runs, "seeds": len(seeds)}))
    return runs


def test_detection_peers_carry_the_paired_test_against_the_default_recipe(tmp_path: Path) -> None:
    runs = detection_runs_with_peers(tmp_path)
    peers = [method for method in _report.MMDET_PEERS if method in runs]
    assert peers, "the archive holds no run of SLF's peers for the YOLO parts"
    assert len(runs[_report.MMDET_DEFAULT]) >= 2, "too few seeds shared by every method for a paired test"
    rendered = _report.detection(
        _report.Context("mmdet", tmp_path, ["python", "benchmarks/run_all.py"], ROOT / "RESULTS.md", "full")
    )
    (headline,) = rendered.headlines
    assert headline.slf not in {_report.MMDET_LABELS[m] for m in peers}  # a peer is not an SLF variant
    default = [r["mAP"] for r in runs[_report.MMDET_DEFAULT]]
    sentence = next(line for line in rendered.markdown.splitlines() if "The default recipe minus each peer" in line)
    for method in peers:
        scores = [r["mAP"] for r in runs[method]]
        label = _report.PEER_LABELS[_report.MMDET_PEERS[method]]
        assert headline.peers[_report.MMDET_PEERS[method]] == scores
        found = re.search(re.escape(label) + r" ([+-]\d\.\d{4}) \(p (\S+), ([^)]+)\)", sentence)
        assert found, (label, sentence)
        assert float(found.group(1)) == pytest.approx(statistics.fmean(default) - statistics.fmean(scores), abs=5e-5)
        p = stats.ttest_rel(default, scores).pvalue
        assert found.group(2) == ("-" if p != p else f"{p:.2f}")
        assert found.group(3) == ("level" if not p < 0.05 else verdict_of(default, scores))
        row = next(
            line for line in rendered.markdown.splitlines() if line.startswith(f"| {_report.MMDET_LABELS[method]} |")
        )
        assert float(re.findall(r"(\d\.\d{4}) \+-", row)[0]) == pytest.approx(statistics.fmean(scores), abs=5e-5)


def test_graph_regression_peers_carry_the_paired_test_against_the_default_recipe() -> None:
    table = json.loads((RESULTS / "pyg" / "pyg_seeds.json").read_text())["table"]
    rendered = _report.graph_regression(context("pyg"))
    checked = 0
    for (model, row), headline in zip(table.items(), rendered.headlines):
        for method, key in _report.GRAPH_PEERS.items():
            if not row.get(method):
                continue
            scores, default = row[method], row["slf_align"]
            peer_row(rendered, headline, key, f"| {model} |", default, scores)
            checked += 1
    assert checked == len(table) * len(_report.GRAPH_PEERS), "every graph model has each peer's runs in the archive"


def test_the_lstm_rows_stand_against_their_own_label_smoothing() -> None:
    runs = json.loads((RESULTS / "fairseq" / "fairseq_slf.json").read_text())["runs"]
    rendered = _report.translation(context("fairseq"))
    lstm_headlines = [h for h in rendered.headlines if "LSTM" in h.task]
    assert lstm_headlines, "the archived fairseq section has no LSTM runs"
    for headline in lstm_headlines:
        row = headline.task.split(", ")[-1].split(" ")[0]  # 'LSTM-1'
        prefix = _report.FAIRSEQ_LSTM[row]
        smoothed = [r["bleu"] for r in sorted(runs[f"{prefix}_label_smoothed"], key=lambda r: r["seed"])]
        default = [r["bleu"] for r in sorted(runs[f"{prefix}_slf_align"], key=lambda r: r["seed"])]
        assert headline.stock_scores == smoothed and headline.default_scores == default
        line = next(
            text
            for text in rendered.markdown.splitlines()
            if text.startswith(f"| {row} | {_report.FAIRSEQ_LABELS[_report.FAIRSEQ_DEFAULT]} |")
        )
        bleu, p = line.split(" | ")[2:4]
        assert float(bleu.split(" +- ")[0]) == pytest.approx(statistics.fmean(default), abs=5e-3)
        assert p == f"{stats.ttest_rel(default, smoothed).pvalue:.2f}"
    (transformer,) = [h for h in rendered.headlines if "LSTM" not in h.task]  # the LSTM runs stay out of it
    assert transformer.stock_scores == [r["bleu"] for r in sorted(runs["label_smoothed"], key=lambda r: r["seed"])]


def test_the_translation_peer_carries_the_paired_test_against_the_default_recipe_and_its_timed_cost() -> None:
    data = json.loads((RESULTS / "fairseq" / "fairseq_slf.json").read_text())
    runs = data["runs"]
    peers = [method for method in _report.FAIRSEQ_PEERS if method in runs]
    assert peers, "the archived fairseq section has no peer runs"
    rendered = _report.translation(context("fairseq"))
    (transformer,) = [h for h in rendered.headlines if "LSTM" not in h.task]
    default = [r["bleu"] for r in sorted(runs[_report.FAIRSEQ_DEFAULT], key=lambda r: r["seed"])]
    for method in peers:
        key = _report.FAIRSEQ_PEERS[method]
        scores = [r["bleu"] for r in sorted(runs[method], key=lambda r: r["seed"])]
        assert transformer.peers[key] == scores and transformer.slf != _report.FAIRSEQ_LABELS[method]
        found = re.search(
            re.escape(_report.PEER_LABELS[key])
            + r": ([+-]\d+\.\d\d) BLEU, p (\S+), ([^(]+?) \(its step (\S+)x .*?validation NLL (\S+) against",
            rendered.markdown,
        )
        assert found, f"no paired test and timed cost for {key}"
        assert float(found.group(1)) == pytest.approx(statistics.fmean(default) - statistics.fmean(scores), abs=5e-3)
        p = stats.ttest_rel(default, scores).pvalue
        assert found.group(2) == ("-" if p != p else f"{p:.2f}")
        assert found.group(3) == ("level" if not p < 0.05 else verdict_of(default, scores))
        timed = data["timing"]["peers"][method]
        assert float(found.group(4)) == pytest.approx(timed["ratio"], abs=5e-3) and timed["ratio"] > 1
        nll = statistics.fmean(r["valid_nll_loss"] for r in runs[method])
        assert float(found.group(5)) == pytest.approx(nll, abs=5e-3)
        row = next(
            line for line in rendered.markdown.splitlines() if line.startswith(f"| {_report.FAIRSEQ_LABELS[method]} |")
        )
        assert float(row.split(" | ")[1].split(" +- ")[0]) == pytest.approx(statistics.fmean(scores), abs=5e-3)


def test_label_noise_peers_carry_the_paired_test_against_the_default_recipe() -> None:
    data = json.loads((RESULTS / "noisy_labels" / "noisy_labels.json").read_text())
    rendered = _report.label_noise(context("noisy_labels"))
    settings = [(model, setting) for model, by_setting in data["test_acc"].items() for setting in by_setting]
    checked = 0
    for (model, setting), headline in zip(settings, rendered.headlines):
        scores = data["test_acc"][model][setting]
        default = scores[_report.NOISY_DEFAULT]
        assert headline.baseline not in _report.NOISY_PEERS  # a peer is never the best single loss
        for method, key in _report.NOISY_PEERS.items():
            peer = scores[method]
            line = peer_row(rendered, headline, key, f"| {model} | {setting} |", default, peer)
            ms = float(re.search(r"\| (\d+\.\d) \|$", line).group(1))
            assert ms == pytest.approx(data["ms_per_step"][model][setting][method], abs=0.05)
            checked += 1
    assert checked == 8 * len(_report.NOISY_PEERS), "every model and noise setting has each peer's runs in the archive"
