"""Bert-Softmax NER (MMOCR 0.x bert_softmax_cluener_18e) against the 0.6.3 oracle: strict load of
its 201 keys, logits within 1e-4 of their magnitude for every oracle sentence one by one and
batched, intermediates, tags and entities; a swapped weight or a wrong constant fails."""
from __future__ import annotations

import pytest
import torch

from handlers.families.ner.bert import build_ner
from handlers.families.ner.convertor import NerLabels, NerTextError, read_vocab, tags_to_entities, text_to_ids
from tests.conftest import one_torch_thread
from tests.oracle import FLOOR as RTOL
from tests.oracle import assert_parity, compare, oracle_file, outputs, rel_err, state_dict

NAME, SUB = "bert_softmax_cluener_18e", "mmocr0x"

LABELS = NerLabels(("address", "book", "company", "game", "government", "movie", "name",
                    "organization", "position", "scene"))


@pytest.fixture(scope="module")
def sd():
    return state_dict(NAME, SUB)


@pytest.fixture(scope="module")
def model(sd):
    m = build_ner().eval()
    m.load_state_dict(sd, strict=True)
    return m


@pytest.fixture(scope="module")
def scratch():
    """A second network for the deliberately broken weights."""
    return build_ner().eval()


@pytest.fixture(scope="module")
def out():
    return outputs(NAME, SUB)


@pytest.fixture(scope="module")
def vocab():
    return read_vocab(oracle_file("dicts", "ner_vocab_oracle.txt", sub=SUB))


def run(model, ids, masks):
    with one_torch_thread(), torch.no_grad():
        return model(torch.tensor(ids), torch.tensor(masks))


def test_keys_are_the_0x_checkpoint_keys(sd):
    assert len(sd) == 201
    assert sorted(build_ner().state_dict()) == sorted(sd)


def test_every_sentence_one_by_one(model, out, vocab):
    """Pipeline ids and mask equal MMOCR's; logits, tags and entities too; failures fail alike."""
    checked = 0
    for s in out["per_sentence"]:
        if not s["ok"]:
            with pytest.raises(NerTextError):
                text_to_ids(s["text"], vocab, 128)
            continue
        ids, mask = text_to_ids(s["text"], vocab, 128)
        assert ids == s["input_ids"][0].tolist() and mask == s["attention_masks"][0].tolist()
        logits = run(model, [ids], [mask])
        check = compare(f"{len(s['text'])} chars: logits", logits, s["logits"])
        print(check)
        assert_parity(check)
        tags = logits.argmax(-1)[0].tolist()
        assert tags == s["pred_ids"][0]
        assert [list(e) for e in tags_to_entities(tags, mask, LABELS)] == s["entities"]
        checked += 1
    assert checked == 5


def test_batched(model, out, vocab):
    batched = out["batched"]
    encoded = [text_to_ids(t, vocab, 128) for t in batched["texts"]]
    logits = run(model, [e[0] for e in encoded], [e[1] for e in encoded])
    assert logits.shape == batched["logits"].shape == (5, 128, 24)
    assert_parity(compare("batched logits", logits, batched["logits"]))
    for row, s in zip(logits, [s for s in out["per_sentence"] if s["ok"]]):
        assert_parity(compare("one row", row[None], s["logits"]))


def test_intermediates_of_sentence_0(model, out, vocab):
    s = out["per_sentence"][0]
    inter = s["intermediate"]
    ids, mask = text_to_ids(s["text"], vocab, 128)
    got = {}
    bert = model.encoder.bert
    hooks = [bert.embeddings.register_forward_hook(lambda m, i, o: got.__setitem__("emb", o)),
             bert.encoder.layer[0].register_forward_hook(lambda m, i, o: got.__setitem__("l0", o)),
             bert.encoder.layer[11].register_forward_hook(lambda m, i, o: got.__setitem__("l11", o))]
    try:
        run(model, [ids], [mask])
    finally:
        for h in hooks:
            h.remove()
    with torch.no_grad():
        pooled = bert.pooler(got["l11"])
    assert_parity(compare("embeddings", got["emb"], inter["encoder.bert.embeddings"]),
                  compare("layer 0", got["l0"], inter["encoder.bert.encoder.layer.0"][0]),
                  compare("layer 11", got["l11"], inter["encoder.bert.encoder.layer.11"][0]),
                  compare("pooler", pooled, inter["encoder.bert.pooler"]))


def _logit_parity(model, out, vocab):
    s = out["per_sentence"][0]
    ids, mask = text_to_ids(s["text"], vocab, 128)
    return compare("logits", run(model, [ids], [mask]), s["logits"])


@pytest.mark.parametrize("key", ["decoder.classifier.weight",
                                 "encoder.bert.encoder.layer.0.attention.self.query.weight",
                                 "encoder.bert.encoder.layer.5.attention.self.value.weight",
                                 "encoder.bert.embeddings.position_embeddings.weight"])
def test_a_swapped_weight_fails(sd, out, vocab, scratch, key):
    """Measured: 1.2e-2 (layer-0 query) to 0.5. Not caught, and said so in the README: query /
    key swaps past layer 1 (5e-6..8e-5), because with the oracle's random weights attention in
    the deeper layers is almost uniform, whatever the scores."""
    bad = dict(sd)
    w = bad[key].clone()
    w[[3, 7]] = w[[7, 3]]
    bad[key] = w
    scratch.load_state_dict(bad, strict=True)
    check = _logit_parity(scratch, out, vocab)
    assert not check.ok and check.error > 10 * RTOL


def test_ignoring_the_attention_mask_fails(model, out, vocab):
    s = out["per_sentence"][0]
    ids, _ = text_to_ids(s["text"], vocab, 128)
    assert rel_err(run(model, [ids], [[1] * 128]), s["logits"]) > 0.1


def test_the_served_tagger_pads_to_the_longest_text_only(model, out, vocab):
    """NERTagger runs a batch at its longest text + 2, not 128: the attended positions' logits
    stay within 1e-4 of the oracle's, tags and (no) entities equal."""
    from handlers.predictors.bert_ner import NERConfig, NERTagger
    from handlers.runtime import TorchRunner

    valid = [s for s in out["per_sentence"] if s["ok"]]
    short = valid[:2] + valid[3:]  # without the 126-character one: width 43
    texts = [s["text"] for s in short]
    width = max(map(len, texts)) + 2
    encoded = [text_to_ids(t, vocab, 128) for t in texts]
    logits = run(model, [e[0][:width] for e in encoded], [e[1][:width] for e in encoded])
    for row, s in zip(logits, short):
        n = len(s["text"]) + 2
        assert_parity(compare("attended logits", row[:n], s["logits"][0, :n]))
        assert row[:n].argmax(-1).tolist() == s["pred_ids"][0][:n]
    tagger = NERTagger(TorchRunner(model), NERConfig("bert_softmax_cluener_18e"), vocab)
    assert tagger(texts + [""]) == [[] for _ in range(len(texts) + 1)]
