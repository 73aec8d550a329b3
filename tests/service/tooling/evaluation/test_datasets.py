"""Dataset readers on the real toy data in ../shared/data and on pinned edge cases."""

from pathlib import Path

import pytest

from service.tooling.evaluation.datasets import load_icdar2015_dir, load_word_crops, read_icdar2015_gt

DATA = Path(__file__).resolve().parents[5] / "shared" / "data" / "mmocr" / "0.x"
ICDAR = DATA / "toy_dataset"
CROPS = DATA / "ocr_toy_dataset"
needs_icdar = pytest.mark.skipif(not ICDAR.is_dir(), reason=f"toy ICDAR 2015 data not found at {ICDAR}")
needs_crops = pytest.mark.skipif(not CROPS.is_dir(), reason=f"toy word crops not found at {CROPS}")


@needs_icdar
def test_toy_icdar2015_has_ten_images_in_numeric_order():
    samples = load_icdar2015_dir(ICDAR)
    assert [image.name for image, _ in samples] == [f"img_{n}.jpg" for n in range(1, 11)]
    assert all(image.is_file() for image, _ in samples)


@needs_icdar
def test_toy_icdar2015_bom_is_stripped():
    first = read_icdar2015_gt(ICDAR / "annotations" / "test" / "gt_img_1.txt")[0]
    assert first.polygon == [377.0, 117.0, 463.0, 117.0, 465.0, 130.0, 378.0, 130.0]
    assert first.text == "Genaxis Theatre" and not first.ignored


@needs_icdar
def test_toy_icdar2015_texts_are_everything_after_the_eighth_comma():
    for image, gt in load_icdar2015_dir(ICDAR):
        path = ICDAR / "annotations" / "test" / f"gt_{image.stem}.txt"
        lines = [line for line in path.read_text(encoding="utf-8-sig").splitlines() if line.strip()]
        # the set may hold texts with commas: they must survive whole
        assert [w.text for w in gt] == [line.split(",", 8)[8] for line in lines]
        assert all(len(w.polygon) == 8 and "\ufeff" not in w.text for w in gt)


@needs_icdar
def test_toy_icdar2015_flags_dont_care_regions():
    samples = dict((image.name, gt) for image, gt in load_icdar2015_dir(ICDAR))
    assert [w.ignored for w in samples["img_5.jpg"]] == [True, True]
    words = [w for gt in samples.values() for w in gt]
    assert all(w.ignored == (w.text == "###") for w in words)
    assert sum(w.ignored for w in words) == 61


def test_text_with_commas_is_split_after_eighth_comma(tmp_path):
    path = tmp_path / "gt_img_1.txt"
    path.write_bytes("\ufeff1,2,3,4,5,6,7,8,1,000\r\n\r\n9,9,9,9,9,9,9,9,###\n".encode())
    first, second = read_icdar2015_gt(path)
    assert first.text == "1,000" and first.polygon == [float(v) for v in range(1, 9)]
    assert second.ignored and second.text == "###"


def test_malformed_gt_line_reports_its_location(tmp_path):
    path = tmp_path / "gt_img_1.txt"
    path.write_text("1,2,3,4,Hello\n", encoding="utf-8")
    with pytest.raises(ValueError, match="gt_img_1.txt:1"):
        read_icdar2015_gt(path)


def test_missing_gt_file_is_an_error(tmp_path):
    (tmp_path / "imgs" / "test").mkdir(parents=True)
    (tmp_path / "imgs" / "test" / "img_1.jpg").write_bytes(b"")
    with pytest.raises(FileNotFoundError, match="img_1.jpg"):
        load_icdar2015_dir(tmp_path)


@needs_crops
def test_toy_word_crops():
    samples = load_word_crops(CROPS)
    assert len(samples) == 10
    assert (samples[0][0].name, samples[0][1]) == ("1223731.jpg", "GRAND")
    assert ("1036169.jpg", "03/09/2009") in [(p.name, t) for p, t in samples]
    assert all(path.is_file() for path, _ in samples)


def test_word_crop_text_keeps_inner_spaces(tmp_path):
    (tmp_path / "imgs").mkdir()
    (tmp_path / "imgs" / "a.jpg").write_bytes(b"")
    (tmp_path / "label.txt").write_text("a.jpg New York\n", encoding="utf-8")
    assert load_word_crops(tmp_path) == [(tmp_path / "imgs" / "a.jpg", "New York")]
