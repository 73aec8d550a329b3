"""Score an OCR system under test on labelled data; the system is passed in as plain callables."""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Sequence

from ocrserve.progress import track
from service.tooling.evaluation.datasets import GtWord
from service.tooling.evaluation.metrics import (DEFAULT_SCORE_THRS, DetSample, E2ESample, character_error_rate, hmean_iou,
                             recognition_metrics,
                             word_spotting)

OcrFn = Callable[[bytes], dict]
RecognizeFn = Callable[[list[bytes]], list[dict]]
# The service already dropped boxes below its own threshold: keep everything it returns.
NO_SCORE_FILTER: tuple[float, ...] = (0.0,)


def _page_result(response: dict) -> list[dict]:
    """The `result` list of the only page of a gateway response (evaluation images are single)."""
    pages = response.get("pages") or []
    if len(pages) > 1:
        raise ValueError(f"expected a single-page response, got {len(pages)} pages")
    return pages[0].get("result", []) if pages else []


def _samples_for_image(gt: list[GtWord], lines: list[dict]) -> tuple[DetSample, DetSample, E2ESample]:
    """Line-level and word-level detection samples plus the end-to-end sample of one image."""
    gt_polys = [w.polygon for w in gt]
    gt_ignored = [w.ignored for w in gt]
    # words carry no detection score of their own: they inherit their line's
    words = [(word, line["box_score"]) for line in lines for word in line.get("words", [])]
    line_det = DetSample(gt_polys, gt_ignored, [r["box"] for r in lines], [r["box_score"] for r in lines])
    word_det = DetSample(gt_polys, gt_ignored, [w["box"] for w, _ in words], [s for _, s in words])
    e2e = E2ESample(gt_polys, [w.text for w in gt], gt_ignored,
                    [w["box"] for w, _ in words], [w["text"] for w, _ in words])
    return line_det, word_det, e2e


def _image_data(image: str | Path | bytes) -> bytes:
    """Crops and pages are files, or bytes already (images stored inside an LMDB)."""
    return image if isinstance(image, bytes) else Path(image).read_bytes()


def evaluate_detection(
    samples: Sequence[tuple[str | Path, list[GtWord]]], ocr: OcrFn,
    score_thrs: Sequence[float] = DEFAULT_SCORE_THRS, strategy: str = "vanilla",
) -> dict:
    """Detection alone (`ocr` with recognition off): hmean-iou over MMOCR's score-threshold sweep."""
    dets = []
    for image_path, gt in track(samples, "det", unit="img", lines=False):
        lines = _page_result(ocr(_image_data(image_path)))
        dets.append(DetSample([w.polygon for w in gt], [w.ignored for w in gt],
                              [r["box"] for r in lines], [r["box_score"] for r in lines]))
    result = hmean_iou(dets, score_thrs, strategy)
    return {"images": len(samples), "det": _det_summary(result), "per_thr": result["per_thr"]}


def _det_summary(result: dict) -> dict:
    """Headline numbers of a hmean_iou result (drops the per-threshold table)."""
    return {k: result[k] for k in ("precision", "recall", "hmean", "best_thr")}


def evaluate_end_to_end(
    samples: Sequence[tuple[str | Path, list[GtWord]]],
    ocr: OcrFn,
    score_thrs: Sequence[float] = NO_SCORE_FILTER,
    strategy: str = "vanilla",
) -> dict:
    """Run `ocr` on every image; report word- and line-level detection and word spotting."""
    line_dets, word_dets, e2es = [], [], []
    for image_path, gt in track(samples, "e2e", unit="img", lines=False):
        lines = _page_result(ocr(_image_data(image_path)))
        line_det, word_det, e2e = _samples_for_image(gt, lines)
        line_dets.append(line_det)
        word_dets.append(word_det)
        e2es.append(e2e)
    return {
        "images": len(samples),
        "det_word": _det_summary(hmean_iou(word_dets, score_thrs, strategy)),
        "det_line": _det_summary(hmean_iou(line_dets, score_thrs, strategy)),
        "e2e": word_spotting(e2es),
    }


def evaluate_recognition(
    samples: Sequence[tuple[str | Path | bytes, str]], recognize: RecognizeFn, batch_size: int = 32
) -> dict:
    """Recognise every word crop (in batches) and report word accuracy, char P/R and 1-N.E.D."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    preds: list[str] = []
    starts = range(0, len(samples), batch_size)
    for start in track(starts, f"rec (batches of {batch_size})", unit="batch", lines=False):
        crops = [_image_data(image) for image, _ in samples[start:start + batch_size]]
        outputs = recognize(crops)
        if len(outputs) != len(crops):
            raise ValueError(f"recognizer returned {len(outputs)} results for {len(crops)} crops")
        preds.extend(out["text"] for out in outputs)
    return {"words": len(samples), **recognition_metrics(preds, [text for _, text in samples])}


def evaluate_documents(documents: Sequence[tuple[str | Path, str]], ocr: OcrFn) -> dict[str, float]:
    """Character error rate of each page (`cer_<file stem>`): its lines in reading order, joined."""
    report = {}
    for image_path, truth in track(documents, "documents", unit="page", lines=False):
        lines = _page_result(ocr(Path(image_path).read_bytes()))
        text = " ".join(line.get("text", "") for line in lines)
        report[f"cer_{Path(image_path).stem}"] = round(character_error_rate(text, truth), 4)
    return report


def _cell(value: object) -> str:
    """Floats with 4 decimals, everything else as str."""
    return f"{value:.4f}" if isinstance(value, float) else str(value)


def format_report(report: dict) -> str:
    """Render a (possibly one-level nested) report as an aligned section/metric/value table."""
    rows = [("section", "metric", "value")]
    for key, value in report.items():
        if isinstance(value, dict):
            rows += [(key, name, _cell(v)) for name, v in value.items() if not isinstance(v, (list, dict))]
        elif not isinstance(value, list):
            rows.append(("", key, _cell(value)))
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    lines = [f"{a:<{widths[0]}}  {b:<{widths[1]}}  {c:>{widths[2]}}" for a, b, c in rows]
    return "\n".join(lines)
