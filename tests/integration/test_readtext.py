"""MMOCR 0.x's documented `readtext` calls, answered by the session's real gateway."""
from __future__ import annotations

import ast
import json
import shutil

import numpy as np
import pytest
from PIL import Image

from ocrserve.mmocr_compat import MMOCR
from ocrserve.mmocr_names import UnknownModel
from tests.conftest import data_path


@pytest.fixture(scope="module")
def url(gateway) -> str:
    return str(gateway.base_url).rstrip("/")


def test_documented_end_to_end_call_prints_mmocr_dicts(url, capsys):
    img = data_path("mmocr", "demo", "demo_text_ocr.jpg")
    results = MMOCR(url=url).readtext(str(img), print_result=True)
    assert len(results) == 1 and set(results[0]) == {"filename", "text"}
    assert results[0]["filename"] == "demo_text_ocr"
    assert any("SALE" in t.upper() for t in results[0]["text"]), results
    printed = capsys.readouterr().out
    assert printed.endswith("\n\n") and ast.literal_eval(printed.strip()) == results[0]


def test_details_export_and_merge(url, tmp_path):
    img = data_path("mmocr", "demo", "demo_text_det.jpg")
    ocr = MMOCR(det="dbnet", recog="ppocrv6-small-rec", url=url)
    detailed = ocr.readtext(str(img), details=True, export=str(tmp_path), export_format="json")[0]
    lines = detailed["result"]
    assert lines and set(lines[0]) == {"box", "box_score", "text", "text_score"}
    assert all(isinstance(v, int) for v in lines[0]["box"]) and 0 < lines[0]["box_score"] <= 1
    assert json.loads((tmp_path / "out_demo_text_det.json").read_text()) == detailed
    merged = ocr.readtext(str(img), details=True, merge=True, merge_xdist=1000)[0]["result"]
    assert 0 < len(merged) < len(lines)  # words of one line joined with a generous distance
    words = sorted(w for r in lines for w in r["text"].split())
    assert sorted(w for r in merged for w in r["text"].split()) == words  # nothing lost or invented
    assert all(len(r["box"]) == 8 for r in merged)


def test_kie_demo_labels_every_line(url):
    img = data_path("mmocr", "demo", "demo_kie.jpeg")
    ocr = MMOCR(det="dbnet", recog="ppocrv6-small-rec", kie="SDMGR", url=url)  # SDMGR -> the zoo's sdmgr
    assert ocr.kie == "sdmgr"
    detailed = ocr.readtext(str(img), details=True)[0]["result"]
    assert detailed and all("label" in r and 0 <= r["label_score"] <= 1 for r in detailed)
    short = ocr.readtext(str(img))[0]
    assert short["labels"] == [r["label"] for r in detailed]
    assert {r["label"] for r in detailed} - {"Others", "Ignore"}, "every line labelled as background"


def test_batch_mode_on_a_folder_and_arrays(url, tmp_path):
    folder = tmp_path / "imgs"
    folder.mkdir()
    for name in ("demo_text_recog.jpg", "demo_text_ocr.jpg"):
        shutil.copy(data_path("mmocr", "demo", name), folder / name)
    ocr = MMOCR(url=url)
    batch = ocr.readtext(str(folder), batch_mode=True, batch_size=2)
    one_by_one = [ocr.readtext(str(folder / n))[0] for n in ("demo_text_ocr.jpg", "demo_text_recog.jpg")]
    assert batch == one_by_one  # sorted folder order, same answers
    # recognition only on a BGR array (as mmcv.imread gives it): MMOCR's {'text', 'score'}
    bgr = np.asarray(Image.open(folder / "demo_text_recog.jpg").convert("RGB"))[..., ::-1].copy()
    read = MMOCR(det=None, url=url).readtext(bgr)[0]
    assert read["text"].upper() == "STAR" and 0.5 < read["score"] <= 1
    boxes = MMOCR(recog=None, url=url).readtext([bgr])[0]
    assert set(boxes) == {"boundary_result"} and len(boxes["boundary_result"][0]) % 2 == 1


def test_mmocr_names_without_a_zoo_model_explain_how_to_serve_them(url):
    with pytest.raises(UnknownModel) as err:
        MMOCR(det="DB_r18", recog="CRNN", url=url)
    message = str(err.value)
    assert "dbnet" in message and "--arch dbnet_resnet18_fpnc_1200e_icdar2015" in message
    with pytest.raises(UnknownModel, match="no MMOCR 1.x config"):
        MMOCR(recog="SEG", url=url)
    with pytest.raises(ValueError, match="detection and recognition"):
        MMOCR(det=None, kie="SDMGR", url=url)
