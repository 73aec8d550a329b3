"""MMOCR dataset formats: every reader on the shared files (the toy sets carry the same data in several
formats, so the readers must agree), the real sets, the converters' round trips, the NER metric."""
from __future__ import annotations

import json

import pytest

from service.tooling.evaluation.dataset_convert import convert, textdet_json
from service.tooling.evaluation.det_formats import DET_READERS
from service.tooling.training.ner.data import parse_cluener, read_cluener
from service.tooling.evaluation.rec_formats import REC_READERS, read_lmdb
from service.tooling.evaluation.text_formats import class_list_for, ner_prf, read_wildreceipt
from tests.conftest import data_path

DET_SOURCES = {
    "icdar": ("mmocr", "0.x", "toy_dataset"),
    "coco": ("mmocr", "0.x", "toy_dataset", "instances_test.json"),
    "lines": ("mmocr", "0.x", "toy_dataset", "instances_test.txt"),
    "textdet": ("mmocr", "main", "det_toy_dataset", "textdet_test.json"),
    "labelme": ("mmocr", "0.x", "toy_dataset", "labelme"),
}
REC_SOURCES = {
    "label-txt": ("mmocr", "0.x", "ocr_toy_dataset", "label.txt"),
    "label-jsonl": ("mmocr", "0.x", "ocr_toy_dataset", "label.jsonl"),
    "textrecog": ("mmocr", "main", "rec_toy_dataset", "labels.json"),
    "lmdb": ("mmocr", "main", "rec_toy_dataset", "imgs.lmdb"),
    "lmdb-0.x-labels": ("mmocr", "0.x", "ocr_toy_dataset", "label.lmdb"),
}


def _det(fmt):
    return DET_READERS[fmt](data_path(*DET_SOURCES[fmt]))


def _geometry(images):
    return [(im.image.name, [(w.polygon, w.ignored) for w in im.words]) for im in images]


def test_every_detection_reader_agrees_with_the_icdar_ground_truth():
    reference = _det("icdar")
    assert len(reference) == 10 and sum(len(im.words) for im in reference) > 50
    assert any(w.ignored for im in reference for w in im.words)
    for fmt in ("coco", "lines", "textdet", "labelme"):
        images = _det(fmt)
        assert _geometry(images) == _geometry(reference), fmt
        assert all(im.image.is_file() for im in images)
    # the formats with transcriptions agree on them too; the others say they have none
    assert [[w.text for w in im.words] for im in _det("labelme")] == [[w.text for w in im.words] for im in reference]
    assert all(im.has_text for im in reference) and not any(im.has_text for im in _det("coco"))


def test_labelme_rectangles_become_clockwise_quads(tmp_path):
    image = data_path("mmocr", "0.x", "toy_dataset", "imgs", "test", "img_1.jpg")
    shapes = [{"label": "HELLO", "points": [[30, 40], [10, 20]], "shape_type": "rectangle"},
              {"label": "###", "points": [[0, 0], [5, 0], [5, 5]], "shape_type": "polygon"},
              {"label": "x", "points": [[1, 1]], "shape_type": "point"}]
    (tmp_path / "a.json").write_text(json.dumps({"shapes": shapes, "imagePath": str(image)}))
    [sample] = DET_READERS["labelme"](tmp_path)
    assert sample.image == image and [w.text for w in sample.words] == ["HELLO", "###"]
    assert sample.words[0].polygon == [10, 20, 30, 20, 30, 40, 10, 40] and sample.words[1].ignored


def test_icdar_reader_on_the_real_training_set():
    images = DET_READERS["icdar"](data_path("icdar2015_train"))
    words = [w for im in images for w in im.words]
    # the figures of ../shared/data/README.md
    assert len(images) == 1000 and len(words) == 11886 and sum(not w.ignored for w in words) == 4468
    assert images[9].image.name == "img_10.jpg"  # natural order


def test_every_recognition_reader_agrees():
    read = {fmt: REC_READERS["lmdb" if fmt.startswith("lmdb") else fmt](data_path(*src))
            for fmt, src in REC_SOURCES.items()}
    reference = [(s.text, s.data()) for s in read["label-txt"]]
    assert len(reference) == 10 and reference[0][0] == "GRAND"
    for fmt, samples in read.items():
        assert [(s.text, s.data()) for s in samples] == reference, fmt
    assert isinstance(read["lmdb"][0].image, bytes)  # the 1.x LMDB holds the crops themselves


def test_readers_name_the_bad_line(tmp_path):
    bad = tmp_path / "label.txt"
    bad.write_text("only-a-name\n")
    with pytest.raises(ValueError, match="label.txt:1"):
        REC_READERS["label-txt"](bad)
    missing = tmp_path / "l.jsonl"
    missing.write_text('{"filename": "nope.jpg", "text": "x"}\n')
    with pytest.raises(FileNotFoundError, match="nope.jpg"):
        REC_READERS["label-jsonl"](missing)
    with pytest.raises(FileNotFoundError, match="data.mdb"):
        read_lmdb(tmp_path)


def test_crops_to_lmdb_round_trip(tmp_path):
    source = data_path(*REC_SOURCES["label-txt"])
    summary = convert(source, "label-txt", tmp_path / "out.lmdb", "lmdb")
    assert summary.startswith("10 crops")
    back = read_lmdb(tmp_path / "out.lmdb")
    assert [(s.text, s.data()) for s in back] == [(s.text, s.data()) for s in REC_READERS["label-txt"](source)]
    with pytest.raises(ValueError, match="not empty"):
        convert(source, "label-txt", tmp_path / "out.lmdb", "lmdb")


def test_icdar_to_textdet_json_round_trip(tmp_path):
    out = tmp_path / "textspotting_test.json"
    convert(data_path(*DET_SOURCES["icdar"]), "icdar", out, "textspotting")
    back = DET_READERS["textdet"](out)
    reference = _det("icdar")
    assert _geometry(back) == _geometry(reference)
    assert [[w.text for w in im.words] for im in back] == [[w.text for w in im.words] for im in reference]
    # the same fields as MMOCR's own textdet_test.json
    ours = textdet_json(reference, tmp_path / "x.json")["data_list"][0]
    theirs = json.loads(data_path(*DET_SOURCES["textdet"]).read_text())["data_list"]
    theirs = next(d for d in theirs if d["img_path"].endswith("/img_1.jpg"))
    assert (ours["height"], ours["width"]) == (theirs["height"], theirs["width"])
    assert [{k: i[k] for k in ("polygon", "bbox", "bbox_label", "ignore")} for i in ours["instances"]] == \
        [{k: i[k] for k in ("polygon", "bbox", "bbox_label", "ignore")} for i in theirs["instances"]]
    with pytest.raises(ValueError, match="no texts"):
        convert(data_path(*DET_SOURCES["coco"]), "coco", tmp_path / "y.json", "textspotting")


def test_icdar_words_to_a_recognition_set(tmp_path):
    summary = convert(data_path(*DET_SOURCES["icdar"]), "icdar", tmp_path / "crops", "crops")
    legible = [w.text for im in _det("icdar") for w in im.words if not w.ignored]
    assert summary.startswith(f"{len(legible)} word crops")
    txt, js = REC_READERS["label-txt"](tmp_path / "crops" / "label.txt"), \
        REC_READERS["textrecog"](tmp_path / "crops" / "textrecog.json")
    assert [s.text for s in txt] == [s.text for s in js] == legible
    import cv2
    first = cv2.imread(str(txt[0].image))
    assert first.shape[0] > 5 and first.shape[1] > first.shape[0]  # a word: wider than tall


def test_wildreceipt_readers_on_the_toy_and_the_real_subset():
    toy = data_path("mmocr", "main", "kie_toy_dataset", "wildreceipt", "data.txt")
    docs = read_wildreceipt(toy)
    assert len(docs) == 2 and all(d.image_path.is_file() for d in docs)
    assert class_list_for(toy)[:2] == ["Ignore", "Store_name_value"] and len(class_list_for(toy)) == 26
    subset = data_path("wildreceipt_subset", "annotations.txt")
    real = read_wildreceipt(subset)
    assert len(real) == 372 and class_list_for(subset) == class_list_for(toy)
    assert sum(d.image_path.is_file() for d in real) == 120
    assert all(len(d.boxes) == len(d.texts) == len(d.labels) for d in real)


def test_wildreceipt_openset_conversion_reads_back(tmp_path):
    toy = data_path("mmocr", "main", "kie_toy_dataset", "wildreceipt", "data.txt")
    out = tmp_path / "openset.txt"
    convert(toy, "wildreceipt", out, "wildreceipt-openset")
    closed, opened = read_wildreceipt(toy), read_wildreceipt(out, openset=True)
    assert [d.texts for d in opened] == [d.texts for d in closed]
    assert set(opened[0].labels.tolist()) <= {0, 1, 2, 3} and opened[0].edge_ids.any()


CLUENER_LINES = [
    {"text": "浙商银行企业信贷部叶老桂博士则从另一个角度对五道门槛进行了解读。",
     "label": {"name": {"叶老桂": [[9, 11]]}, "company": {"浙商银行": [[0, 3]]}}},
    {"text": "生生不息CSOL生化狂潮让你填弹狂扫", "label": {"game": {"CSOL": [[4, 7]]}}},
    {"text": "没有实体的一句话。", "label": {}},
]


def test_cluener_reader_and_entity_metric(tmp_path):
    path = tmp_path / "dev.json"
    path.write_text("\n".join(json.dumps(x, ensure_ascii=False) for x in CLUENER_LINES) + "\n", encoding="utf-8")
    samples = read_cluener(path)
    assert [len(s.entities) for s in samples] == [2, 1, 0]
    assert ("name", 9, 11) in samples[0].entities
    with pytest.raises(ValueError, match="not '叶老'"):
        parse_cluener({"text": "叶老桂", "label": {"name": {"叶老": [[0, 2]]}}})
    # evaluation reads the spans training reads: one parser, entities are its spans as a set
    assert samples[0].entities == frozenset(samples[0].spans()) == {("name", 9, 11), ("company", 0, 3)}
    assert samples[0].label == CLUENER_LINES[0]["label"]
    gts = [s.entities for s in samples]
    assert ner_prf(gts, gts)["f1"] == 1.0
    # one right, one with the wrong type, one missed, one invented
    preds = [{("name", 9, 11), ("government", 0, 3)}, set(), {("scene", 0, 1)}]
    result = ner_prf(preds, gts)
    assert result["precision"] == pytest.approx(1 / 3) and result["recall"] == pytest.approx(1 / 3)
    assert result["per_type"]["name"]["f1"] == 1.0 and result["per_type"]["company"]["recall"] == 0.0
    assert result["per_type"]["scene"]["precision"] == 0.0 and result["entities"] == 3
    # a span off by one character is a miss, not a near hit
    assert ner_prf([{("name", 9, 10)}], [{("name", 9, 11)}])["f1"] == 0.0
