"""Hugging Face BERT keys -> MMOCR NER keys, then `--init` loads them into a tagger."""
from __future__ import annotations

import pytest
import torch

from service.tooling.training.ner.hf_convert import convert_file, hf_to_mmocr
from service.tooling.training.ner.train import TrainOptions, new_model


def hf_state(opts: TrainOptions, vocab: int) -> dict:
    """What BertForMaskedLM.state_dict() holds for a BERT of that size (names as transformers)."""
    ours = new_model(opts, vocab).state_dict()
    state = {"bert." + k[len("encoder.bert."):]: torch.randn_like(v.float())
             for k, v in ours.items() if k.startswith("encoder.bert.")}
    state["bert.embeddings.position_ids"] = torch.arange(512)[None]
    state["cls.predictions.bias"] = torch.zeros(vocab)
    state["cls.predictions.transform.dense.weight"] = torch.zeros(opts.hidden, opts.hidden)
    return state


def test_converted_checkpoint_initialises_the_encoder(tmp_path):
    opts = TrainOptions(layers=2, hidden=32, heads=2, intermediate=64)
    hf = hf_state(opts, 150)
    torch.save(hf, tmp_path / "pytorch_model.bin")
    assert convert_file(tmp_path / "pytorch_model.bin", tmp_path / "init.pth") == len(hf) - 3
    model = new_model(opts, 150, tmp_path / "init.pth")
    got = model.state_dict()
    for key, value in hf.items():
        if key.startswith("bert.") and not key.endswith("position_ids"):
            assert torch.equal(got["encoder.bert." + key[5:]], value), key


def test_bare_bert_model_keys_and_refusals():
    state = {"embeddings.word_embeddings.weight": torch.zeros(3, 2), "pooler.dense.bias": torch.zeros(2)}
    assert sorted(hf_to_mmocr(state)) == ["encoder.bert.embeddings.word_embeddings.weight",
                                          "encoder.bert.pooler.dense.bias"]
    with pytest.raises(ValueError, match="no BERT encoder"):
        hf_to_mmocr({"classifier.weight": torch.zeros(2, 2)})


def test_init_of_the_wrong_size_is_refused(tmp_path):
    opts = TrainOptions(layers=2, hidden=32, heads=2, intermediate=64)
    torch.save(hf_to_mmocr(hf_state(opts, 150)), tmp_path / "init.pth")
    with pytest.raises((ValueError, RuntimeError)):
        new_model(TrainOptions(layers=3, hidden=32, heads=2, intermediate=64), 150, tmp_path / "init.pth")
