"""Training loop for the Bert-Softmax tagger (MMOCR 0.x's recipe: masked cross-entropy over the
used positions, AdamW) and entity-level evaluation; checkpoints in the MMOCR 0.x key layout plus
``meta['ner']`` (network size and categories) so ``ocrserve archive --arch bert_softmax_cluener``
serves them."""
from __future__ import annotations

import random
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Sequence

import torch

from handlers.families.ner.bert import CLUENER_CATEGORIES, DEFAULT_CFGS, NerClassifier
from handlers.families.ner.convertor import (NerLabels, entities_to_labels, tags_to_entities,
                                             text_to_ids)
from service.tooling.evaluation.ner_metrics import PRF, entity_prf
from service.tooling.training.ner.data import NerSample


@dataclass(frozen=True)
class TrainOptions:
    """Network size (the full model is 12 x 768, 12 heads) and optimisation settings."""

    layers: int = 12
    hidden: int = 768
    heads: int = 12
    intermediate: int = 3072
    epochs: int = 3
    batch_size: int = 16
    lr: float = 5e-5
    seed: int = 0
    max_len: int = 128
    categories: tuple[str, ...] = CLUENER_CATEGORIES


def new_model(opts: TrainOptions, vocab_size: int, init: Path | None = None) -> torch.nn.Module:
    """A fresh tagger of that size, or one whose encoder starts from ``init`` (an MMOCR-layout
    checkpoint, e.g. a converted Hugging Face BERT: encoder keys must all fit; the decoder may be
    missing)."""
    base = DEFAULT_CFGS["bert_softmax_cluener_18e"]
    model = NerClassifier({**base, "categories": tuple(opts.categories), "max_len": opts.max_len,
                           "bert": {**base["bert"], "vocab_size": vocab_size, "hidden_size": opts.hidden,
                                    "num_hidden_layers": opts.layers, "num_attention_heads": opts.heads,
                                    "intermediate_size": opts.intermediate}})
    if init is not None:
        loaded = torch.load(init, map_location="cpu", weights_only=True)
        state = {k: v for k, v in loaded.get("state_dict", loaded).items() if k.startswith("encoder.")}
        missing, unexpected = model.load_state_dict(state, strict=False)
        encoder_missing = [k for k in missing if k.startswith("encoder.")]
        if encoder_missing or unexpected:
            raise ValueError(f"{init} does not fit the encoder: missing {encoder_missing[:3]}, "
                             f"unexpected {unexpected[:3]}")
    return model


def encode(samples: Sequence[NerSample], vocab: dict[str, int], labels: NerLabels, max_len: int):
    """(ids, masks, tags) tensors; texts over the limit are cut (their spans past it dropped)."""
    ids, masks, tags = [], [], []
    for s in samples:
        text = s.text[:max_len - 2]
        i, m = text_to_ids(text, vocab, max_len)
        ids.append(i)
        masks.append(m)
        tags.append(entities_to_labels(s.label, len(text), labels, max_len))
    return torch.tensor(ids), torch.tensor(masks), torch.tensor(tags)


def masked_loss(logits: torch.Tensor, tags: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
    """Cross-entropy over the attended positions (MMOCR's MaskedCrossEntropyLoss)."""
    active = masks.reshape(-1) == 1
    return torch.nn.functional.cross_entropy(logits.reshape(-1, logits.size(-1))[active],
                                             tags.reshape(-1)[active])


def train(model: torch.nn.Module, samples: Sequence[NerSample], vocab: dict[str, int],
          opts: TrainOptions, log: Callable[[int, float], None] | None = None) -> list[float]:
    """Train in place; returns the mean loss of every epoch."""
    torch.manual_seed(opts.seed)
    rng = random.Random(opts.seed)
    labels = NerLabels(tuple(opts.categories))
    samples = [s for s in samples if s.text]
    optimiser = torch.optim.AdamW(model.parameters(), lr=opts.lr, weight_decay=0.01)
    history = []
    for epoch in range(opts.epochs):
        model.train()
        order = list(range(len(samples)))
        rng.shuffle(order)
        total = 0.0
        for start in range(0, len(order), opts.batch_size):
            batch = [samples[i] for i in order[start:start + opts.batch_size]]
            ids, masks, tags = encode(batch, vocab, labels, opts.max_len)
            width = int(masks.sum(1).max())
            loss = masked_loss(model(ids[:, :width], masks[:, :width]), tags[:, :width], masks[:, :width])
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            total += float(loss.detach()) * len(batch)
        history.append(total / max(len(samples), 1))
        if log:
            log(epoch + 1, history[-1])
    model.eval()
    return history


@torch.no_grad()
def predict(model: torch.nn.Module, texts: Sequence[str], vocab: dict[str, int],
            labels: NerLabels, max_len: int) -> list[list[tuple[str, int, int]]]:
    """MMOCR's (category, start, end inclusive) entities of every text."""
    model.eval()
    out = []
    for start in range(0, len(texts), 64):
        chunk = [t[:max_len - 2] for t in texts[start:start + 64]]
        encoded = [text_to_ids(t, vocab, max_len) if t else ([0] * max_len, [0] * max_len) for t in chunk]
        ids, masks = torch.tensor([e[0] for e in encoded]), torch.tensor([e[1] for e in encoded])
        tags = model(ids, masks).argmax(-1)
        out += [tags_to_entities(t.tolist(), m.tolist(), labels) for t, m in zip(tags, masks)]
    return out


def evaluate(model: torch.nn.Module, samples: Sequence[NerSample], vocab: dict[str, int],
             opts: TrainOptions) -> PRF:
    """Entity-level P/R/F1 of the model on labelled samples."""
    found = predict(model, [s.text for s in samples], vocab, NerLabels(tuple(opts.categories)), opts.max_len)
    return entity_prf([s.spans() for s in samples], found)


def save_checkpoint(model: torch.nn.Module, opts: TrainOptions, path: Path, extra: dict | None = None) -> Path:
    """{'state_dict' (MMOCR 0.x keys), 'meta': {'ner': size, categories, max_len; 'train': opts}}."""
    bert = {"num_attention_heads": opts.heads}
    meta = {"ner": {"bert": bert, "categories": list(opts.categories), "max_len": opts.max_len},
            "train": {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(opts).items()},
            **(extra or {})}
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"state_dict": model.state_dict(), "meta": meta}, path)
    return path
