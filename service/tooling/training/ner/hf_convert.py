"""A Hugging Face BERT checkpoint (``pytorch_model.bin`` of ``BertModel`` / ``BertFor*``) -> the
MMOCR 0.x NER key layout (``encoder.bert.*``), so ``ocrserve train ner --init`` can start from a
pretrained Chinese BERT. The module names inside BERT are the same in both (MMOCR's copy follows
the original), so only the prefix changes; pre-training heads (``cls.*``) and task heads are
dropped, and so is the ``position_ids`` buffer of newer transformers versions."""
from __future__ import annotations

from pathlib import Path

_PARTS = ("embeddings.", "encoder.layer.", "pooler.")


def hf_to_mmocr(state: dict) -> dict:
    """Renamed encoder tensors; ValueError when the file holds no BERT encoder."""
    out = {}
    for key, value in state.items():
        bare = key[len("bert."):] if key.startswith("bert.") else key
        if bare.endswith("position_ids") or not bare.startswith(_PARTS):
            continue
        bare = bare.replace(".gamma", ".weight").replace(".beta", ".bias")  # old TF-converted names
        out["encoder.bert." + bare] = value
    if "encoder.bert.embeddings.word_embeddings.weight" not in out:
        raise ValueError("no BERT encoder in this checkpoint (no [bert.]embeddings.word_embeddings.weight)")
    return out


def convert_file(source: Path, target: Path) -> int:
    """Convert a ``pytorch_model.bin``; returns the number of tensors written."""
    import torch

    state = hf_to_mmocr(torch.load(source, map_location="cpu", weights_only=True))
    torch.save({"state_dict": state, "meta": {"converted_from": str(source)}}, target)
    return len(state)
