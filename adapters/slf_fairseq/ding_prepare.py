"""Ding example sentences -> Moses-tokenised, BPE-segmented, fairseq-binarised German-English data.

The steps of fairseq's IWSLT-14 example (``examples/translation/prepare-iwslt14.sh``), on
the small corpus of :mod:`slf_fairseq.ding_corpus`:

1. shuffle the pairs (seeded) and split off ``valid`` and ``test`` pairs;
2. normalise punctuation, tokenise with sacremoses and lowercase, as the IWSLT recipe does;
3. learn one joint BPE (subword-nmt, ``merges`` operations) on the training text of
   both languages and apply it;
4. ``fairseq-preprocess --source-lang de --target-lang en`` into ``<out>/data-bin``.

``<out>/raw/test.{de,en}`` keep the untokenised test sentences for sacrebleu. A
``done.json`` stamp with the parameters makes a second call return at once.

    python -m slf_fairseq.ding_prepare data/ding
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple, Union

from tqdm import tqdm

from .ding_corpus import example_sentence_pairs, fetch_ding

LANGS = ("de", "en")
STAMP = "done.json"


def split_pairs(pairs: Sequence[Tuple[str, str]], valid: int, test: int, seed: int) -> Dict[str, List[Tuple[str, str]]]:
    """Shuffle with ``seed`` and split into train / valid / test.

    Example:
        >>> parts = split_pairs([(str(i), str(i)) for i in range(10)], valid=2, test=3, seed=0)
        >>> {k: len(v) for k, v in parts.items()}
        {'train': 5, 'valid': 2, 'test': 3}
    """
    if valid + test >= len(pairs):
        raise ValueError(f"valid + test ({valid} + {test}) must leave training pairs out of {len(pairs)}")
    order = list(pairs)
    random.Random(seed).shuffle(order)
    return {"train": order[valid + test :], "valid": order[:valid], "test": order[valid : valid + test]}


def moses_tokenize(lines: Sequence[str], lang: str) -> List[str]:
    """sacremoses punctuation normalisation and tokenisation, lowercased.

    Example:
        >>> moses_tokenize(["Wie ist deine Adresse?"], "de")
        ['wie ist deine adresse ?']
    """
    from sacremoses import MosesPunctNormalizer, MosesTokenizer

    normalizer, tokenizer = MosesPunctNormalizer(lang=lang), MosesTokenizer(lang=lang)
    return [tokenizer.tokenize(normalizer.normalize(line), return_str=True, escape=False).lower() for line in lines]


def prepare_ding(
    out: Union[str, Path],
    merges: int = 4000,
    valid: int = 600,
    test: int = 600,
    seed: int = 1,
    cache_dir: Optional[Union[str, Path]] = None,
    workers: int = 2,
) -> Path:
    """Build ``<out>/data-bin`` (fairseq binarised de->en) from the Ding example sentences.

    Args:
        out: output folder.
        merges: BPE merge operations (joint German-English codes).
        valid, test: pairs held out for validation and test.
        seed: shuffling seed of the split.
        cache_dir: where the Debian package is kept (see :func:`slf_fairseq.ding_corpus.fetch_ding`).
        workers: ``fairseq-preprocess --workers``.

    Returns:
        The ``data-bin`` folder, for ``fairseq-train``.
    """
    from subword_nmt.apply_bpe import BPE
    from subword_nmt.learn_bpe import learn_bpe

    out = Path(out)
    params = {"merges": merges, "valid": valid, "test": test, "seed": seed}
    stamp = out / STAMP
    if stamp.is_file() and json.loads(stamp.read_text()).get("params") == params:
        return out / "data-bin"
    splits = split_pairs(example_sentence_pairs(fetch_ding(cache_dir)), valid, test, seed)
    raw, tok, bpe_dir = out / "raw", out / "tok", out / "bpe"
    for folder in (raw, tok, bpe_dir):
        folder.mkdir(parents=True, exist_ok=True)
    tokenized: Dict[Tuple[str, str], List[str]] = {}
    for split, pairs in tqdm(splits.items(), desc="moses tokenisation"):
        for index, lang in enumerate(LANGS):
            lines = [pair[index] for pair in pairs]
            (raw / f"{split}.{lang}").write_text("\n".join(lines) + "\n", encoding="utf-8")
            tokenized[split, lang] = moses_tokenize(lines, lang)
            (tok / f"{split}.{lang}").write_text("\n".join(tokenized[split, lang]) + "\n", encoding="utf-8")
    codes = out / "bpe.codes"
    joint = tokenized["train", "de"] + tokenized["train", "en"]
    with open(codes, "w", encoding="utf-8") as handle:
        learn_bpe(joint, handle, merges)
    with open(codes, encoding="utf-8") as handle:
        bpe = BPE(handle)
    for (split, lang), lines in tqdm(tokenized.items(), desc="applying BPE"):
        (bpe_dir / f"{split}.{lang}").write_text(
            "\n".join(bpe.process_line(line) for line in lines) + "\n", encoding="utf-8"
        )
    command = [
        sys.executable,
        "-m",
        "fairseq_cli.preprocess",
        "--source-lang",
        "de",
        "--target-lang",
        "en",
        "--trainpref",
        str(bpe_dir / "train"),
        "--validpref",
        str(bpe_dir / "valid"),
        "--testpref",
        str(bpe_dir / "test"),
        "--destdir",
        str(out / "data-bin"),
        "--workers",
        str(workers),
    ]
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"fairseq-preprocess failed:\n{result.stderr[-2000:]}")
    counts = {split: len(pairs) for split, pairs in splits.items()}
    stamp.write_text(json.dumps({"params": params, "pairs": counts}, indent=2))
    return out / "data-bin"


def main(argv: Optional[Sequence[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out")
    parser.add_argument("--merges", type=int, default=4000)
    parser.add_argument("--valid", type=int, default=600)
    parser.add_argument("--test", type=int, default=600)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    data_bin = prepare_ding(args.out, args.merges, args.valid, args.test, args.seed)
    print(f"{data_bin}: {json.loads((Path(args.out) / STAMP).read_text())['pairs']}")


if __name__ == "__main__":
    main()
