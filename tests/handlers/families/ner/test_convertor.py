"""The NER convertor against MMOCR 0.6.3's NerConvertor cases (oracle) and pinned edge cases."""
from __future__ import annotations

import json

import pytest

from handlers.families.ner.bert import CLUENER_CATEGORIES
from handlers.families.ner.convertor import (NerLabels, NerTextError, entities_to_labels, read_vocab,
                                             tags_to_entities, text_to_ids, to_spans)

from tests.oracle import oracle_file, oracle_subdir

SUB = "mmocr0x"

LABELS = NerLabels(CLUENER_CATEGORIES)


@pytest.fixture(scope="module")
def cases():
    return json.loads(oracle_file("cases", "ner_convertor_cases.json", sub=SUB).read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def vocab():
    return read_vocab(oracle_file("dicts", "ner_vocab_oracle.txt", sub=SUB))


def test_label_map(cases):
    assert {str(k): v for k, v in LABELS.id2label().items()} == cases["id2label"]
    assert (LABELS.ignore_id, LABELS.num_labels) == (21, 24)


def test_text_to_ids_cases(cases, vocab):
    assert len(cases["text2id"]) == 7
    for case in cases["text2id"]:
        if "error_type" in case:  # MMOCR raises (IndexError / UnboundLocalError): so do we, clearly
            with pytest.raises(NerTextError):
                text_to_ids(case["text"], vocab, 128)
            continue
        ids, mask = text_to_ids(case["text"], vocab, 128)
        assert ids == case["input_ids"], case["text"]
        assert mask == [1] * (len(case["text"]) + 2) + [0] * (126 - len(case["text"]))


def test_length_limit_is_126_characters(vocab):
    assert text_to_ids("x" * 126, vocab, 128)[0][127] == 102
    with pytest.raises(NerTextError, match="127 characters is over the model's limit of 126"):
        text_to_ids("x" * 127, vocab, 128)
    with pytest.raises(NerTextError, match="empty"):
        text_to_ids("", vocab, 128)


def test_entity_to_labels_cases(cases):
    assert len(cases["entity2label"]) == 3
    for case in cases["entity2label"]:
        assert entities_to_labels(case["label"], len(case["text"]), LABELS, 128) == case["labels"]


def test_tags_to_entities_cases(cases):
    assert len(cases["pred2entities"]) == 10
    for case in cases["pred2entities"]:
        got = tags_to_entities(case["pred"], case["mask"], LABELS)
        assert [list(e) for e in got] == case["entities"], case["description"]


def test_spans_clip_the_sep_slot_and_average_scores():
    text = "abcdef"
    # MMOCR's [SEP]-slot quirk: an entity may end at index len(text)
    spans = to_spans(text, [("position", 4, 6), ("name", 0, 1)], [0.5, 0.7, 0, 0, 0.9, 0.8, 0.1])
    assert [(e.type, e.start, e.end, e.text) for e in spans] == [("position", 4, 6, "ef"),
                                                                 ("name", 0, 2, "ab")]
    assert spans[0].score == pytest.approx(0.6) and spans[1].score == pytest.approx(0.6)


def test_read_vocab_numbers_lines(tmp_path):
    path = tmp_path / "v.txt"
    path.write_text("[PAD]\na\nb \nc\n", encoding="utf-8")
    assert read_vocab(path) == {"[PAD]": 0, "a": 1, "b": 2, "c": 3}


def test_uppercase_is_lowered_and_unknown_is_100(tmp_path):
    path = tmp_path / "v.txt"
    path.write_text("\n".join(["[PAD]"] + [f"[unused{i}]" for i in range(1, 100)]
                              + ["[UNK]", "[CLS]", "[SEP]", "[MASK]", "a"]) + "\n", encoding="utf-8")
    ids, _ = text_to_ids("AaB\u0130", read_vocab(path), 16)
    assert ids[:6] == [101, 104, 104, 100, 100, 102]


def test_test_pipeline_case(vocab):
    """MMOCR 0.6.3's NER test pipeline (NerTransform + ToTensorNER) on a labelled CLUENER sample."""
    import torch

    case = json.loads((oracle_subdir(SUB) / "preproc" / "preproc_cases.json").read_text(encoding="utf-8"))
    sample = case["bert_softmax_cluener_18e"]["input"]
    tensors = torch.load(oracle_subdir(SUB) / "preproc" / "preproc.pt")["bert_softmax_cluener_18e"]
    ids, mask = text_to_ids(sample["text"], vocab, 128)
    assert ids == tensors["input_ids"].tolist() and mask == tensors["attention_masks"].tolist()
    assert entities_to_labels(sample["label"], len(sample["text"]), LABELS, 128) == tensors["labels"].tolist()
    assert tensors["token_type_ids"].tolist() == [0] * 128
