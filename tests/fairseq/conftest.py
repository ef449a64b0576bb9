"""Shared fixtures of the fairseq tests: real German-English pairs and a tiny transformer over them."""

from __future__ import annotations

from typing import List, Tuple

import pytest


@pytest.fixture(scope="session")
def ding_pairs() -> List[Tuple[str, str]]:
    """The Ding dictionary's example sentence pairs (downloads the Debian package once)."""
    from slf_fairseq.ding_corpus import example_sentence_pairs, fetch_ding

    return example_sentence_pairs(fetch_ding())


@pytest.fixture(scope="session")
def tiny_translation(ding_pairs):
    """(task, model factory, batch) for 64 real pairs, whitespace tokens, a 1-layer transformer."""
    import torch
    from fairseq import options
    from fairseq.data import Dictionary, LanguagePairDataset
    from fairseq.tasks.translation import TranslationTask

    pairs = ding_pairs[:64]
    src_dict, tgt_dict = Dictionary(), Dictionary()
    for de, en in pairs:
        for word in de.split():
            src_dict.add_symbol(word)
        for word in en.split():
            tgt_dict.add_symbol(word)
    parser = options.get_training_parser()
    args = options.parse_args_and_arch(
        parser,
        [
            "unused",
            "--task",
            "translation",
            "--arch",
            "transformer_iwslt_de_en",
            "--encoder-layers",
            "1",
            "--decoder-layers",
            "1",
            "--encoder-embed-dim",
            "32",
            "--decoder-embed-dim",
            "32",
            "--encoder-ffn-embed-dim",
            "64",
            "--decoder-ffn-embed-dim",
            "64",
            "--encoder-attention-heads",
            "2",
            "--decoder-attention-heads",
            "2",
            "--dropout",
            "0.0",
            "--cpu",
        ],
    )
    task = TranslationTask(args, src_dict, tgt_dict)

    def encode(dictionary, text):
        return dictionary.encode_line(text, add_if_not_exist=False, append_eos=True).long()

    src = [encode(src_dict, de) for de, _ in pairs]
    tgt = [encode(tgt_dict, en) for _, en in pairs]
    dataset = LanguagePairDataset(src, [len(s) for s in src], src_dict, tgt, [len(t) for t in tgt], tgt_dict)
    batch = dataset.collater([dataset[i] for i in range(16)])

    def build_model(seed: int = 0):
        torch.manual_seed(seed)
        return task.build_model(args)

    return task, build_model, batch


@pytest.fixture(scope="session")
def held_out_pairs(tiny_translation, ding_pairs):
    """Real pairs that ``tiny_translation``'s batch (pairs 0..15) does not hold, pairs 16..63, as a dataset
    of its task, for a criterion's held-out batches."""
    from fairseq.data import LanguagePairDataset

    task = tiny_translation[0]

    def encode(dictionary, text):
        return dictionary.encode_line(text, add_if_not_exist=False, append_eos=True).long()

    src = [encode(task.src_dict, de) for de, _ in ding_pairs[16:64]]
    tgt = [encode(task.tgt_dict, en) for _, en in ding_pairs[16:64]]
    return LanguagePairDataset(src, [len(s) for s in src], task.src_dict, tgt, [len(t) for t in tgt], task.tgt_dict)


@pytest.fixture(scope="session")
def ding_data(tmp_path_factory):
    """The Ding corpus tokenised, BPE-segmented and binarised (about 30 s)."""
    from slf_fairseq.ding_prepare import prepare_ding

    folder = tmp_path_factory.mktemp("ding-data")
    prepare_ding(folder)
    return folder
