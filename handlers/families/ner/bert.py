"""BERT + FC tagger with MMOCR 0.x ``NerClassifier`` key names, so 0.x NER checkpoints load with
``strict=True``: ``encoder.bert.{embeddings, encoder.layer.N, pooler}`` (the original BERT's
layout, as in Hugging Face's ``BertModel``) and ``decoder.classifier``.

Numbers MMOCR 0.x uses (kept because a checkpoint expects them): LayerNorm eps 1e-12, the tanh
("gelu_new") GELU, the attention mask added as ``(1 - mask) * -10000`` to the scores, absolute
position embeddings. The pooler is unused by the tagger but is part of the checkpoint."""
from __future__ import annotations

import math
from typing import Any, Dict

import torch
import torch.nn.functional as F
from torch import nn

from handlers.api.spec import UnknownName

CLUENER_CATEGORIES = ("address", "book", "company", "game", "government", "movie", "name",
                      "organization", "position", "scene")

DEFAULT_CFGS: Dict[str, Dict[str, Any]] = {
    # configs/ner/bert_softmax/bert_softmax_cluener_18e.py (max_position_embeddings 512 there)
    "bert_softmax_cluener_18e": {
        "bert": {"vocab_size": 21128, "hidden_size": 768, "num_hidden_layers": 12,
                 "num_attention_heads": 12, "intermediate_size": 3072,
                 "max_position_embeddings": 512, "type_vocab_size": 2, "layer_norm_eps": 1e-12},
        "categories": CLUENER_CATEGORIES,
        "max_len": 128,
    },
}


class BertEmbeddings(nn.Module):
    def __init__(self, vocab_size: int, hidden_size: int, max_position_embeddings: int,
                 type_vocab_size: int, layer_norm_eps: float) -> None:
        super().__init__()
        self.word_embeddings = nn.Embedding(vocab_size, hidden_size, padding_idx=0)
        self.position_embeddings = nn.Embedding(max_position_embeddings, hidden_size)
        self.token_type_embeddings = nn.Embedding(type_vocab_size, hidden_size)
        self.LayerNorm = nn.LayerNorm(hidden_size, eps=layer_norm_eps)
        self.dropout = nn.Dropout(0.1)

    def forward(self, input_ids: torch.Tensor, token_type_ids: torch.Tensor) -> torch.Tensor:
        positions = torch.arange(input_ids.size(1), device=input_ids.device)[None]
        x = (self.word_embeddings(input_ids) + self.position_embeddings(positions)
             + self.token_type_embeddings(token_type_ids))
        return self.dropout(self.LayerNorm(x))


class BertSelfAttention(nn.Module):
    def __init__(self, hidden_size: int, num_heads: int) -> None:
        super().__init__()
        if hidden_size % num_heads:
            raise ValueError(f"hidden size {hidden_size} is not a multiple of {num_heads} heads")
        self.num_heads = num_heads
        self.query = nn.Linear(hidden_size, hidden_size)
        self.key = nn.Linear(hidden_size, hidden_size)
        self.value = nn.Linear(hidden_size, hidden_size)
        self.dropout = nn.Dropout(0.1)

    def _heads(self, x: torch.Tensor) -> torch.Tensor:
        n, t, c = x.shape
        return x.view(n, t, self.num_heads, c // self.num_heads).transpose(1, 2)

    def forward(self, x: torch.Tensor, additive_mask: torch.Tensor) -> torch.Tensor:
        q, k, v = self._heads(self.query(x)), self._heads(self.key(x)), self._heads(self.value(x))
        scores = q @ k.transpose(-1, -2) / math.sqrt(q.size(-1)) + additive_mask
        context = self.dropout(scores.softmax(-1)) @ v
        return context.transpose(1, 2).reshape(x.shape)


class BertDenseOut(nn.Module):
    """dense -> dropout -> LayerNorm(+ residual): BERT's ``attention.output`` and ``output``."""

    def __init__(self, in_size: int, hidden_size: int, eps: float) -> None:
        super().__init__()
        self.dense = nn.Linear(in_size, hidden_size)
        self.LayerNorm = nn.LayerNorm(hidden_size, eps=eps)
        self.dropout = nn.Dropout(0.1)

    def forward(self, x: torch.Tensor, residual: torch.Tensor) -> torch.Tensor:
        return self.LayerNorm(self.dropout(self.dense(x)) + residual)


class BertAttention(nn.Module):
    def __init__(self, hidden_size: int, num_heads: int, eps: float) -> None:
        super().__init__()
        self.self = BertSelfAttention(hidden_size, num_heads)
        self.output = BertDenseOut(hidden_size, hidden_size, eps)

    def forward(self, x: torch.Tensor, additive_mask: torch.Tensor) -> torch.Tensor:
        return self.output(self.self(x, additive_mask), x)


class BertIntermediate(nn.Module):
    def __init__(self, hidden_size: int, intermediate_size: int) -> None:
        super().__init__()
        self.dense = nn.Linear(hidden_size, intermediate_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.gelu(self.dense(x), approximate="tanh")  # MMOCR's GeluNew


class BertLayer(nn.Module):
    def __init__(self, hidden_size: int, num_heads: int, intermediate_size: int, eps: float) -> None:
        super().__init__()
        self.attention = BertAttention(hidden_size, num_heads, eps)
        self.intermediate = BertIntermediate(hidden_size, intermediate_size)
        self.output = BertDenseOut(intermediate_size, hidden_size, eps)

    def forward(self, x: torch.Tensor, additive_mask: torch.Tensor) -> torch.Tensor:
        x = self.attention(x, additive_mask)
        return self.output(self.intermediate(x), x)


class BertStack(nn.Module):
    """``bert.encoder``: the transformer layers (``layer.N``)."""

    def __init__(self, cfg: Dict[str, Any]) -> None:
        super().__init__()
        self.layer = nn.ModuleList([
            BertLayer(cfg["hidden_size"], cfg["num_attention_heads"], cfg["intermediate_size"],
                      cfg["layer_norm_eps"]) for _ in range(cfg["num_hidden_layers"])])

    def forward(self, x: torch.Tensor, additive_mask: torch.Tensor) -> torch.Tensor:
        for layer in self.layer:
            x = layer(x, additive_mask)
        return x


class BertPooler(nn.Module):
    def __init__(self, hidden_size: int) -> None:
        super().__init__()
        self.dense = nn.Linear(hidden_size, hidden_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.dense(x[:, 0]))


class BertModel(nn.Module):
    def __init__(self, cfg: Dict[str, Any]) -> None:
        super().__init__()
        self.embeddings = BertEmbeddings(cfg["vocab_size"], cfg["hidden_size"],
                                         cfg["max_position_embeddings"], cfg["type_vocab_size"],
                                         cfg["layer_norm_eps"])
        self.encoder = BertStack(cfg)
        self.pooler = BertPooler(cfg["hidden_size"])

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                token_type_ids: torch.Tensor) -> torch.Tensor:
        """-> the last layer's hidden states (N, T, hidden)."""
        additive = (1.0 - attention_mask[:, None, None, :].to(self.pooler.dense.weight.dtype)) * -10000.0
        return self.encoder(self.embeddings(input_ids, token_type_ids), additive)


class BertEncoder(nn.Module):
    """MMOCR's ``BertEncoder`` wrapper (hence the ``encoder.bert.`` key prefix)."""

    def __init__(self, cfg: Dict[str, Any]) -> None:
        super().__init__()
        self.bert = BertModel(cfg)


class FCDecoder(nn.Module):
    def __init__(self, hidden_size: int, num_labels: int) -> None:
        super().__init__()
        self.dropout = nn.Dropout(0.1)
        self.classifier = nn.Linear(hidden_size, num_labels)

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.dropout(hidden))


class NerClassifier(nn.Module):
    """(input_ids, attention_mask, token_type_ids) (N, T) -> tag logits (N, T, num_labels)."""

    def __init__(self, cfg: Dict[str, Any]) -> None:
        super().__init__()
        self.cfg = cfg
        self.num_labels = 2 * len(cfg["categories"]) + 4  # X, B-*, I-*, O, [START], [END]
        self.encoder = BertEncoder(cfg["bert"])
        self.decoder = FCDecoder(cfg["bert"]["hidden_size"], self.num_labels)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                token_type_ids: torch.Tensor | None = None) -> torch.Tensor:
        if token_type_ids is None:
            token_type_ids = torch.zeros_like(input_ids)
        return self.decoder(self.encoder.bert(input_ids, attention_mask, token_type_ids))


def build_ner(name: str = "bert_softmax_cluener_18e", **bert_overrides: Any) -> NerClassifier:
    """The named config's network; ``bert_overrides`` shrink it (e.g. the tiny test model)."""
    if name not in DEFAULT_CFGS:
        raise UnknownName("NER config", name, DEFAULT_CFGS)
    cfg = DEFAULT_CFGS[name]
    return NerClassifier({**cfg, "bert": {**cfg["bert"], **bert_overrides}})
