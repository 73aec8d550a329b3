"""The MMOCR 0.6.3 NER oracle (../shared/oracle/mmocr0x), through the one oracle helper."""
from __future__ import annotations

import json

import torch

from tests.unit.mmocr_rec._oracle import oracle_subdir, outputs, state_dict

NAME = "bert_softmax_cluener_18e"
SUB = "mmocr0x"


def root():
    return oracle_subdir(SUB)


def vocab_path():
    return root() / "dicts" / "ner_vocab_oracle.txt"


def ner_state_dict() -> dict[str, torch.Tensor]:
    return state_dict(NAME, SUB)


def ner_outputs() -> dict:
    return outputs(NAME, SUB)


def convertor_cases() -> dict:
    return json.loads((root() / "cases" / "ner_convertor_cases.json").read_text(encoding="utf-8"))
