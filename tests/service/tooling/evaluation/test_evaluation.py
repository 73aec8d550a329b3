"""evaluate_end_to_end / evaluate_recognition with fake model callables."""

from pathlib import Path

import pytest

from service.tooling.evaluation.datasets import GtWord, load_icdar2015_dir
from service.tooling.evaluation.evaluation import evaluate_end_to_end, evaluate_recognition, format_report

ICDAR = Path(__file__).resolve().parents[5] / "shared" / "data" / "mmocr" / "0.x" / "toy_dataset"


def _response(words: list[GtWord]) -> dict:
    """A gateway-shaped response with one line per word, the word itself inside."""
    lines = [{"box": w.polygon, "box_score": 0.9, "text": w.text, "text_score": 0.99,
              "words": [{"box": w.polygon, "text": w.text, "text_score": 0.99}]} for w in words]
    return {"pages": [{"page": 1, "width": 1280, "height": 720, "result": lines}]}


def _synthetic_samples(tmp_path: Path) -> list[tuple[Path, list[GtWord]]]:
    gts = [[GtWord([0, 0, 100, 0, 100, 20, 0, 20], "Hello", False),
            GtWord([0, 50, 40, 50, 40, 70, 0, 70], "###", True)],
           [GtWord([10, 10, 90, 10, 90, 30, 10, 30], "World,", False)]]
    samples = []
    for n, gt in enumerate(gts, 1):
        path = tmp_path / f"img_{n}.jpg"
        path.write_bytes(f"image {n}".encode())
        samples.append((path, gt))
    return samples


def _data_sets(tmp_path: Path) -> list:
    sets = [_synthetic_samples(tmp_path)]
    if ICDAR.is_dir():
        sets.append(load_icdar2015_dir(ICDAR))
    return sets


def test_perfect_ocr_scores_one(tmp_path):
    for samples in _data_sets(tmp_path):
        by_bytes = {path.read_bytes(): gt for path, gt in samples}
        report = evaluate_end_to_end(samples, lambda image: _response(by_bytes[image]))
        for section in ("det_word", "det_line", "e2e"):
            assert (report[section]["precision"], report[section]["recall"], report[section]["hmean"]) \
                == (1.0, 1.0, 1.0), section
        assert report["e2e"]["hmean_ignore_symbol"] == 1.0


def test_empty_ocr_scores_zero(tmp_path):
    for samples in _data_sets(tmp_path):
        report = evaluate_end_to_end(samples, lambda image: {"pages": [{"page": 1, "result": []}]})
        for section in ("det_word", "det_line", "e2e"):
            assert report[section]["hmean"] == 0.0 and report[section]["recall"] == 0.0


def test_words_inherit_line_score_for_thresholding(tmp_path):
    samples = _synthetic_samples(tmp_path)[:1]
    report = evaluate_end_to_end(samples, lambda image: _response(samples[0][1]), score_thrs=(0.95,))
    assert report["det_word"]["recall"] == 0.0  # line score 0.9 < 0.95 drops its words too


def test_multi_page_response_is_rejected(tmp_path):
    samples = _synthetic_samples(tmp_path)[:1]
    two_pages = {"pages": [{"page": 1, "result": []}, {"page": 2, "result": []}]}
    with pytest.raises(ValueError, match="single-page"):
        evaluate_end_to_end(samples, lambda image: two_pages)


def _crops(tmp_path: Path) -> list[tuple[Path, str]]:
    texts = ["GRAND", "Hotel", "it's", "03/09/2009", "Virgin"]
    samples = []
    for n, text in enumerate(texts):
        path = tmp_path / f"crop{n}.jpg"
        path.write_bytes(f"crop {n}".encode())
        samples.append((path, text))
    return samples


def test_evaluate_recognition_with_fake_recognizer(tmp_path):
    samples = _crops(tmp_path)
    answers = {path.read_bytes(): text for path, text in samples}
    answers[samples[1][0].read_bytes()] = "HOTEL"  # case error
    answers[samples[2][0].read_bytes()] = "its"  # symbol error
    batches = []

    def recognize(crops: list[bytes]) -> list[dict]:
        batches.append(len(crops))
        return [{"text": answers[crop], "score": 0.9} for crop in crops]

    report = evaluate_recognition(samples, recognize, batch_size=2)
    assert batches == [2, 2, 1]
    assert report["words"] == 5
    assert (report["word_acc"], report["word_acc_ignore_case"], report["word_acc_ignore_case_symbol"]) \
        == (0.6, 0.8, 1.0)
    assert report["char_precision"] == report["char_recall"] == report["1-N.E.D"] == 1.0


def test_evaluate_recognition_rejects_short_answers(tmp_path):
    with pytest.raises(ValueError, match="returned 0 results"):
        evaluate_recognition(_crops(tmp_path), lambda crops: [])


def test_format_report_is_aligned(tmp_path):
    samples = _synthetic_samples(tmp_path)
    by_bytes = {path.read_bytes(): gt for path, gt in samples}
    text = format_report(evaluate_end_to_end(samples, lambda image: _response(by_bytes[image])))
    lines = text.splitlines()
    assert lines[0].split() == ["section", "metric", "value"]
    assert len({len(line) for line in lines}) == 1  # every row padded to the same width
    assert any(line.split() == ["e2e", "hmean", "1.0000"] for line in lines)
    assert any(line.split() == ["images", "2"] for line in lines)


def test_character_error_rate_and_document_report(tmp_path):
    from service.tooling.evaluation.evaluation import evaluate_documents
    from service.tooling.evaluation.metrics import character_error_rate

    assert character_error_rate("The  quick\nbrown", "The quick brown") == 0
    assert character_error_rate("The quack brown", "The quick brown") == 1 / 15
    assert character_error_rate("", "abcd") == 1
    page = tmp_path / "page1.tif"
    page.write_bytes(b"not read by the scorer")
    lines = [{"box": [0] * 8, "box_score": 1, "text": t} for t in ("This is a lot of", "12 point text")]
    report = evaluate_documents([(page, "This is a lot of 12 point text\n")],
                                lambda data: {"pages": [{"result": lines}]})
    assert report == {"cer_page1": 0.0}
    report = evaluate_documents([(page, "This is a lot of 12 point text to test")],
                                lambda data: {"pages": [{"result": lines}]})
    assert report == {"cer_page1": round(8 / 38, 4)}
