"""A tiny Bert-Softmax tagger trained from scratch on the generated corpus (a few seconds on one
thread): what the handler, archive and gateway tests serve."""
from __future__ import annotations

from pathlib import Path

from tests.conftest import one_torch_thread

CATEGORIES = ("address", "company", "name", "position")


def tiny_options():
    from service.tooling.training.ner.train import TrainOptions

    return TrainOptions(layers=2, hidden=64, heads=4, intermediate=128, epochs=4, batch_size=16,
                        lr=3e-3, seed=0, categories=CATEGORIES)


def train_tiny(out: Path, n_train: int = 300) -> tuple[Path, Path, dict]:
    """(checkpoint, vocab file, report {'f1', 'untrained_f1', 'seconds'}) in ``out``."""
    import time

    import torch

    from handlers.families.ner.convertor import read_vocab
    from service.tooling.training.ner.data import build_vocab
    from service.tooling.training.ner.synthetic import corpus
    from service.tooling.training.ner.train import evaluate, new_model, save_checkpoint, train

    with one_torch_thread():
        opts = tiny_options()
        train_set, held_out = corpus(n_train, seed=0), corpus(100, seed=1)
        vocab_file = build_vocab(train_set + held_out, out / "vocab.txt")
        vocab = read_vocab(vocab_file)
        torch.manual_seed(0)
        model = new_model(opts, len(vocab))
        untrained = evaluate(model, held_out, vocab, opts).f1
        start = time.perf_counter()
        train(model, train_set, vocab, opts)
        seconds = time.perf_counter() - start
        report = {"f1": evaluate(model, held_out, vocab, opts).f1, "untrained_f1": untrained,
                  "seconds": seconds}
        return save_checkpoint(model, opts, out / "ner.pth"), vocab_file, report
