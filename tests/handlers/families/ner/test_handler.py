"""The NER archive: `ocrserve archive --arch bert_softmax_cluener --checkpoint ... --vocab ...`,
unpacked as TorchServe does and driven through the handler with a fake context."""
from __future__ import annotations

import pytest

from service.tooling.packaging.archive import build_checkpoint_archive
from tests.conftest import handle_rows
from tests.handlers.checkpoints import private_zoo, unpacked_handler
from tests.handlers.families.ner._tiny import CATEGORIES


@pytest.fixture(scope="module")
def handler(tiny_ner, tmp_path_factory):
    checkpoint, vocab, _ = tiny_ner
    tmp = tmp_path_factory.mktemp("ner-archive")
    mar = build_checkpoint_archive("myner", "bert_softmax_cluener", checkpoint, store=tmp / "store",
                                   zoo_path=private_zoo(tmp), files={"vocab": vocab})
    entry = unpacked_handler(mar, tmp / "unpacked")
    entry.model_dir = tmp / "unpacked"
    return entry


TEXTS = ["张伟在北京的华为技术担任工程师。", "今年李娜离开上海，加入腾讯公司做记者。", ""]


def call(handler, rows):
    out, ctx = handle_rows(handler, rows, handler.model_dir)
    return out, ctx.status


def test_texts_in_entities_out(handler):
    (out,), status = call(handler, [{"body": {"texts": TEXTS}}])
    assert status == {}
    per_text = out["entities"]
    assert len(per_text) == 3 and per_text[2] == []
    for text, found in zip(TEXTS, per_text):
        for e in found:
            assert set(e) == {"type", "start", "end", "text", "score"}
            assert e["type"] in CATEGORIES and text[e["start"]:e["end"]] == e["text"]
            assert 0 < e["score"] <= 1
    got = {(e["type"], e["text"]) for e in per_text[0]}
    assert ("name", "张伟") in got and ("position", "工程师") in got


def test_batched_rows_equal_single_rows_and_raw_text(handler):
    rows = [{"body": {"texts": [t]}} for t in TEXTS[:2]] + [{"body": TEXTS[0].encode()}]
    together, status = call(handler, rows)
    alone = [call(handler, [r])[0][0] for r in rows]
    assert status == {} and together == alone and together[2] == together[0]


@pytest.mark.parametrize("body,code,words", [
    ({"texts": ["ok", 5]}, 400, "text 1 is a int"),
    ({"texts": "not a list"}, 400, "texts"),
    ({"texts": ["x"] * 257}, 413, "over the limit of 256"),
    ({"texts": ["ok", "长" * 127]}, 422, "text 1: text of 127 characters is over the model's limit of 126"),
    (b"\xff\xfe", 400, "UTF-8"),
    (b"{not json", 400, "not valid JSON"),
])
def test_bad_rows_fail_alone(handler, body, code, words):
    out, status = call(handler, [{"body": {"texts": ["张伟"]}}, {"body": body}])
    assert 0 not in status and status[1][0] == code
    assert words in out[1]["message"]
    assert "entities" in out[0] and len(out[0]["entities"]) == 1


def test_archive_needs_the_vocab(tiny_ner, tmp_path):
    with pytest.raises(ValueError, match="--vocab"):
        build_checkpoint_archive("x", "bert_softmax_cluener", tiny_ner[0], store=tmp_path,
                                 zoo_path=private_zoo(tmp_path))
