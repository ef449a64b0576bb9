"""One command: Ding German-English data -> fairseq-train -> fairseq-generate -> sacrebleu BLEU.

    python -m slf_fairseq.ding_translate runs/ding_slf --criterion slf --max-epoch 10 \\
        -- --slf-candidates label_smoothed_nll,focal,poly1,mse --slf-samples 3

1. :func:`slf_fairseq.ding_prepare.prepare_ding` (once; ``--data``);
2. ``fairseq-train`` with ``--user-dir`` set to this package, a CPU-sized
   ``transformer_iwslt_de_en`` (2+2 layers, width 128; ``--arch-args`` replaces it), Adam
   with inverse-sqrt warm-up, label smoothing 0.1, JSON logs and ``--tensorboard-logdir``;
   arguments after ``--`` go to ``fairseq-train`` as they are;
3. ``fairseq-generate`` on the test split (beam 5, BPE removed) with the best checkpoint,
   chosen by validation ``nll_loss`` (``slf``'s ``loss`` mixes candidates whose weights
   move, so its values are not comparable from epoch to epoch);
4. sacrebleu on the Moses-detokenised hypotheses against the raw references, lowercased
   (the data is lowercased, as in fairseq's IWSLT recipe).

Writes ``<out>/results.json`` (BLEU, validation loss, words per second, the last logged
candidate weights) next to ``train.log``, ``generate.txt`` and ``checkpoints/``.
"""

import argparse
import json
import os
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

from .ding_prepare import prepare_ding

PACKAGE_DIR = Path(__file__).resolve().parent
SMALL_TRANSFORMER = (
    "--arch transformer_iwslt_de_en --encoder-layers 2 --decoder-layers 2 --encoder-embed-dim 128 "
    "--decoder-embed-dim 128 --encoder-ffn-embed-dim 256 --decoder-ffn-embed-dim 256 "
    "--encoder-attention-heads 4 --decoder-attention-heads 4 --share-decoder-input-output-embed --dropout 0.1"
)


def train_command(
    data_bin: Path, out: Path, criterion: str, max_epoch: int, seed: int, arch_args: str, extra: Sequence[str]
) -> List[str]:
    """The ``fairseq-train`` command line (CPU, JSON logs, TensorBoard, best/last checkpoints)."""
    return [
        sys.executable,
        "-m",
        "fairseq_cli.train",
        str(data_bin),
        "--user-dir",
        str(PACKAGE_DIR),
        *shlex.split(arch_args),
        "--criterion",
        criterion,
        "--label-smoothing",
        "0.1",
        "--optimizer",
        "adam",
        "--adam-betas",
        "(0.9,0.98)",
        "--lr",
        "1e-3",
        "--lr-scheduler",
        "inverse_sqrt",
        "--warmup-updates",
        "200",
        "--max-tokens",
        "4096",
        "--max-epoch",
        str(max_epoch),
        "--seed",
        str(seed),
        "--cpu",
        "--num-workers",
        "0",
        "--save-dir",
        str(out / "checkpoints"),
        "--no-epoch-checkpoints",
        "--best-checkpoint-metric",
        "nll_loss",
        "--log-format",
        "json",
        "--log-interval",
        "20",
        "--tensorboard-logdir",
        str(out / "tensorboard"),
        *extra,
    ]


def last_json(lines: Sequence[str], tag: str) -> Dict[str, Any]:
    """The last JSON record fairseq logged under ``| tag |`` (``train``, ``valid``, ``train_inner``).

    Example:
        >>> last_json(['x | INFO | valid | {"valid_loss": "7.1"}'], "valid")
        {'valid_loss': '7.1'}
    """
    for line in reversed(lines):
        if f"| {tag} |" in line and "{" in line:
            return json.loads(line[line.index("{") :])
    return {}


def bleu(hypotheses: Sequence[str], references: Sequence[str]) -> float:
    """sacrebleu corpus BLEU of Moses-detokenised hypotheses, lowercased.

    Example:
        >>> round(bleu(["das ist gut ."], ["Das ist gut."]), 1)
        100.0
    """
    import sacrebleu
    from sacremoses import MosesDetokenizer

    detokenizer = MosesDetokenizer(lang="en")
    detokenized = [detokenizer.detokenize(line.split()) for line in hypotheses]
    return float(sacrebleu.corpus_bleu(detokenized, [list(references)], lowercase=True).score)


def run(
    out: Path,
    criterion: str,
    max_epoch: int,
    seed: int,
    data: Optional[Path] = None,
    arch_args: str = SMALL_TRANSFORMER,
    extra: Sequence[str] = (),
    beam: int = 5,
    threads: Optional[int] = None,
) -> Dict[str, Any]:
    """Prepare (once), train, generate and score; returns and writes ``results.json``.

    ``threads`` sets ``OMP_NUM_THREADS`` of the fairseq processes (default: torch's own choice,
    every core); runs side by side on one machine each need a share, or they slow each other
    down several-fold.
    """
    if threads is not None and threads < 1:
        raise ValueError(f"threads must be at least 1 (or None for torch's default), got {threads}")
    out.mkdir(parents=True, exist_ok=True)
    data_dir = data or out.parent / "ding-data"
    data_bin = prepare_ding(data_dir)
    command = train_command(data_bin, out, criterion, max_epoch, seed, arch_args, extra)
    thread_vars = {} if threads is None else {"OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}
    env = {**os.environ, **thread_vars} if thread_vars else None
    with open(out / "train.log", "w") as log:
        log.write(" ".join([*(f"{name}={value}" for name, value in thread_vars.items()), shlex.join(command)]) + "\n")
        log.flush()
        train = subprocess.run(command, stdout=log, stderr=subprocess.STDOUT, env=env)
    lines = (out / "train.log").read_text().splitlines()
    if train.returncode != 0:
        raise RuntimeError(f"fairseq-train failed; the end of {out / 'train.log'}:\n" + "\n".join(lines[-20:]))
    generate = [
        sys.executable,
        "-m",
        "fairseq_cli.generate",
        str(data_bin),
        "--user-dir",
        str(PACKAGE_DIR),
        "--path",
        str(out / "checkpoints" / "checkpoint_best.pt"),
        "--gen-subset",
        "test",
        "--beam",
        str(beam),
        "--remove-bpe",
        "--batch-size",
        "128",
        "--cpu",
    ]
    generated = subprocess.run(generate, capture_output=True, text=True, env=env)
    (out / "generate.txt").write_text(generated.stdout)
    if generated.returncode != 0:
        raise RuntimeError(f"fairseq-generate failed:\n{generated.stderr[-2000:]}")
    hypotheses = {
        int(line.split("\t")[0][2:]): line.split("\t")[2]
        for line in generated.stdout.splitlines()
        if line.startswith("H-")
    }
    references = (data_dir / "raw" / "test.en").read_text(encoding="utf-8").splitlines()
    order = sorted(hypotheses)
    train_log, valid_log = last_json(lines, "train"), last_json(lines, "valid")
    results = {
        "criterion": criterion,
        "seed": seed,
        "max_epoch": max_epoch,
        "extra": list(extra),
        "arch_args": arch_args,
        "bleu": bleu([hypotheses[i] for i in order], [references[i] for i in order]),
        "test_sentences": len(order),
        "valid_loss": float(valid_log.get("valid_loss", "nan")),
        "valid_nll_loss": float(valid_log.get("valid_nll_loss", "nan")),
        "train_wps": float(train_log.get("train_wps", "nan")),
        "train_wall_s": float(train_log.get("train_wall", "nan")),
        "weights": {
            key[len("train_w_") :]: float(value) for key, value in train_log.items() if key.startswith("train_w_")
        },
    }
    (out / "results.json").write_text(json.dumps(results, indent=2))
    return results


def main(argv: Optional[Sequence[str]] = None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    extra: List[str] = []
    if "--" in argv:
        extra = argv[argv.index("--") + 1 :]
        argv = argv[: argv.index("--")]
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", type=Path, help="run folder")
    parser.add_argument("--criterion", default="slf", help="slf, label_smoothed_cross_entropy, ...")
    parser.add_argument("--max-epoch", type=int, default=10)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--data", type=Path, default=None, help="prepared data folder (default: OUT/../ding-data)")
    parser.add_argument("--arch-args", default=SMALL_TRANSFORMER, help="model options for fairseq-train")
    parser.add_argument("--beam", type=int, default=5)
    parser.add_argument("--threads", type=int, default=None, help="OMP_NUM_THREADS of fairseq (default: every core)")
    args = parser.parse_args(argv)
    results = run(
        args.out, args.criterion, args.max_epoch, args.seed, args.data, args.arch_args, extra, args.beam, args.threads
    )
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
