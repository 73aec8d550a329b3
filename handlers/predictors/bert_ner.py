"""Bert-Softmax named entity recognition served from an MMOCR 0.x checkpoint (torch runtime),
family "bert_ner": texts in, entities (type, character span, text, score) out.

The network's size is read from the checkpoint itself (vocabulary, hidden size, layers, labels),
so the full ``bert_softmax_cluener_18e`` and the small models ``ocrserve train ner`` makes load
with the same code; the number of attention heads and the category list come from the
checkpoint's ``meta`` when it has them (ours do), else from the config (12 heads, CLUENER's ten
categories). A batch is padded to its longest text, not to ``max_len``: masked positions add
exp(-10000) = 0 to every attention sum, so the tags are MMOCR's (tests compare with the oracle).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

from handlers.api.results import Entity
from handlers.api.spec import UnknownName
from handlers.families.ner.convertor import (NerLabels, NerTextError, max_chars, read_vocab,
                                             tags_to_entities, text_to_ids, to_spans)
from handlers.runtime import Device, TorchRunner

#: the issue's short name and MMOCR's config name serve the same network
ARCH_ALIASES = {"bert_softmax_cluener": "bert_softmax_cluener_18e"}
MAX_TEXTS = 256
BATCH = 64  # texts per forward pass (activations stay < 0.5 GB for the 12-layer model)


@dataclass(frozen=True)
class NERConfig:
    """The MMOCR config name and the serving limit on texts per request."""

    arch: str
    max_texts: int = MAX_TEXTS

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> "NERConfig":
        from handlers.families.ner.bert import DEFAULT_CFGS

        arch = ARCH_ALIASES.get(raw.get("arch"), raw.get("arch"))
        if arch not in DEFAULT_CFGS:
            raise UnknownName("NER config", raw.get("arch"), [*DEFAULT_CFGS, *ARCH_ALIASES])
        max_texts = int(raw.get("max_texts", MAX_TEXTS))
        if not 1 <= max_texts <= 4096:
            raise ValueError(f"max_texts must be in 1..4096, got {max_texts}")
        return cls(arch, max_texts)


def network_config(arch: str, state: dict, meta: dict | None) -> dict[str, Any]:
    """The NerClassifier config that fits a checkpoint's tensors (and its ``meta['ner']``)."""
    from handlers.families.ner.bert import DEFAULT_CFGS

    base = DEFAULT_CFGS[arch]
    saved = (meta or {}).get("ner", {})
    prefix = "encoder.bert."
    layers = {int(k[len(prefix) + 14:].split(".")[0]) for k in state
              if k.startswith(prefix + "encoder.layer.")}
    words = state.get(prefix + "embeddings.word_embeddings.weight")
    if words is None or not layers:
        raise ValueError("not an MMOCR NER checkpoint: no encoder.bert.* keys")
    bert = {**base["bert"], "vocab_size": words.shape[0], "hidden_size": words.shape[1],
            "num_hidden_layers": max(layers) + 1,
            "intermediate_size": state[prefix + "encoder.layer.0.intermediate.dense.weight"].shape[0],
            "max_position_embeddings": state[prefix + "embeddings.position_embeddings.weight"].shape[0],
            "type_vocab_size": state[prefix + "embeddings.token_type_embeddings.weight"].shape[0],
            **{k: v for k, v in saved.get("bert", {}).items() if k == "num_attention_heads"}}
    return {**base, "bert": bert, "categories": tuple(saved.get("categories", base["categories"])),
            "max_len": int(saved.get("max_len", base["max_len"]))}


def load_torch_runner(spec: Any, device: Device = Device(), threads: int = 1) -> TorchRunner:
    """Build the network the checkpoint describes and load it strictly."""
    import torch

    from handlers.families.ner.bert import NerClassifier

    if "vocab" not in spec.files:
        raise ValueError(f"{spec.name}: an NER archive needs its vocab file (vocab.txt)")
    loaded = torch.load(spec.weights, map_location="cpu", weights_only=True)
    state = loaded.get("state_dict", loaded)
    cfg = network_config(NERConfig.from_dict(spec.config).arch, state, loaded.get("meta"))
    network = NerClassifier(cfg)
    try:
        network.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise ValueError(f"{spec.name}: the checkpoint does not fit {cfg['categories']!r}: {exc}") from None
    return TorchRunner(network, device, threads)


class NERTagger:
    """Tags texts with a loaded NerClassifier; MMOCR 0.6.3's conversions around it."""

    def __init__(self, runner: TorchRunner, cfg: NERConfig, vocab: dict[str, int]):
        self.runner = runner
        self.cfg = cfg
        self.vocab = vocab
        net = runner.module.cfg
        self.labels = NerLabels(tuple(net["categories"]))
        self.max_len = int(net["max_len"])

    @property
    def max_chars(self) -> int:
        return max_chars(self.max_len)

    def encode(self, texts: Sequence[str]) -> list[tuple[list[int], list[int]]]:
        """ids and masks of every text; NerTextError names the first text MMOCR would refuse
        (empty texts are allowed here: they have no entities and skip the network)."""
        out = []
        for index, text in enumerate(texts):
            try:
                out.append(text_to_ids(text, self.vocab, self.max_len) if text else ([], []))
            except NerTextError as exc:
                raise NerTextError(f"text {index}: {exc}") from None
        return out

    def __call__(self, texts: Sequence[str]) -> list[list[Entity]]:
        encoded = self.encode(texts)
        todo = [i for i, text in enumerate(texts) if text]
        results: list[list[Entity]] = [[] for _ in texts]
        if not todo:
            return results
        for start in range(0, len(todo), BATCH):
            chunk = todo[start:start + BATCH]
            for i, found in zip(chunk, self._tag([texts[i] for i in chunk], [encoded[i] for i in chunk])):
                results[i] = found
        return results

    def _tag(self, texts: list[str], encoded: list[tuple[list[int], list[int]]]) -> list[list[Entity]]:
        width = max(len(text) for text in texts) + 2
        torch = self.runner.torch
        ids = torch.tensor([e[0][:width] for e in encoded])
        mask = torch.tensor([e[1][:width] for e in encoded])
        with torch.inference_mode():
            device = str(self.runner.device)
            probs = self.runner.module(ids.to(device), mask.to(device)).float().softmax(-1).cpu()
        best, tags = probs.max(-1)
        return [to_spans(text, tags_to_entities(tags[row].tolist(), mask[row].tolist(), self.labels),
                         best[row, 1:].tolist()) for row, text in enumerate(texts)]


def build_tagger(spec: Any, runner: TorchRunner) -> NERTagger:
    return NERTagger(runner, NERConfig.from_dict(spec.config), read_vocab(spec.files["vocab"]))
