"""OCR evaluation metrics, numerically identical to MMOCR 1.0.1 (pure numpy/shapely/rapidfuzz)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from difflib import SequenceMatcher
from typing import Sequence

import numpy as np
from rapidfuzz.distance import Levenshtein
from shapely.geometry import Polygon

# np.arange(0.3, 0.9, 0.1) yields 7 values (0.3 ... 0.9000000000000001) through float
# rounding; MMOCR's default search space is exactly that, artefacts included.
DEFAULT_SCORE_THRS: tuple[float, ...] = tuple(float(t) for t in np.arange(0.3, 0.9, 0.1))
VALID_SYMBOL = "[^A-Z^a-z^0-9^\u4e00-\u9fa5]"
STRATEGIES = ("vanilla", "max_matching")

Flat = Sequence[float]


@dataclass(frozen=True)
class DetSample:
    """One image for detection scoring: GT polygons with ignore flags, predictions with scores."""

    gt_polygons: Sequence[Flat]
    gt_ignored: Sequence[bool]
    pred_polygons: Sequence[Flat]
    pred_scores: Sequence[float]


@dataclass(frozen=True)
class E2ESample:
    """One image for end-to-end scoring: GT words (polygon, text, ignored) and predicted words."""

    gt_polygons: Sequence[Flat]
    gt_texts: Sequence[str]
    gt_ignored: Sequence[bool]
    pred_polygons: Sequence[Flat]
    pred_texts: Sequence[str]


# ---------------------------------------------------------------- polygon geometry


def _polygon(flat: Flat) -> Polygon:
    """Flat [x1, y1, ...] -> shapely Polygon, cast to float32 first as MMOCR does."""
    points = np.asarray(flat, dtype=np.float32)
    if points.size % 2 or points.size < 6:
        raise ValueError(f"polygon needs >= 3 (x, y) points, got {points.size} values")
    return Polygon(points.reshape(-1, 2))


def _valid(poly: Polygon) -> Polygon:
    """Repair self-crossing polygons the way MMOCR does (buffer(0))."""
    return poly if poly.is_valid else poly.buffer(0)


def _intersection_area(a: Polygon, b: Polygon) -> float:
    """Intersection area after repairing both polygons."""
    return _valid(a).intersection(_valid(b)).area


def _iou(a: Polygon, b: Polygon) -> float:
    """Polygon IoU; 0 when the union is empty."""
    union = _valid(a).union(_valid(b)).area
    return _intersection_area(a, b) / union if union != 0 else 0.0


def _iou_matrix(gts: list[Polygon], preds: list[Polygon]) -> np.ndarray:
    """IoU of every (gt, pred) pair, shape (len(gts), len(preds))."""
    out = np.zeros((len(gts), len(preds)))
    for i, gt in enumerate(gts):
        for j, pred in enumerate(preds):
            out[i, j] = _iou(gt, pred)
    return out


def _mostly_inside(pred: Polygon, ignored_gts: list[Polygon], thr: float) -> bool:
    """True if more than `thr` of the prediction's area lies inside one ignored GT region."""
    # MMOCR divides by the raw (unrepaired) prediction area, plus 1e-5
    area = pred.area + 1e-5
    return any(_intersection_area(gt, pred) / area > thr for gt in ignored_gts)


def _cared_iou(
    gt_polygons: Sequence[Flat], gt_ignored: Sequence[bool], pred_polygons: Sequence[Flat],
    candidates: np.ndarray, ignore_thr: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """IoU of cared GTs x kept predictions, with both index arrays.

    A prediction is kept if it is a candidate and not mostly inside an ignored GT.
    """
    gts = [_polygon(p) for p in gt_polygons]
    preds = [_polygon(p) for p in pred_polygons]
    ignored = np.asarray(gt_ignored, dtype=bool).reshape(len(gts))
    ignored_gts = [g for g, ign in zip(gts, ignored) if ign]
    kept = np.array([j for j in np.flatnonzero(candidates)
                     if not _mostly_inside(preds[j], ignored_gts, ignore_thr)], dtype=int)
    cared = np.flatnonzero(~ignored)
    return _iou_matrix([gts[i] for i in cared], [preds[j] for j in kept]), cared, kept


# ---------------------------------------------------------------- matching


def _greedy_pairs(matched: np.ndarray) -> list[tuple[int, int]]:
    """MMOCR 'vanilla' one-to-one matching: first come (gt-major order) first matched."""
    used_gt: set[int] = set()
    used_pred: set[int] = set()
    pairs = []
    for g, p in zip(*np.nonzero(matched)):
        if g in used_gt or p in used_pred:
            continue
        used_gt.add(int(g))
        used_pred.add(int(p))
        pairs.append((int(g), int(p)))
    return pairs


def _max_matching_size(matched: np.ndarray) -> int:
    """Size of a maximum bipartite matching (Kuhn's augmenting paths)."""
    owner = [-1] * matched.shape[1]

    def augment(g: int, seen: set[int]) -> bool:
        for p in np.flatnonzero(matched[g]):
            if p in seen:
                continue
            seen.add(p)
            if owner[p] < 0 or augment(owner[p], seen):
                owner[p] = g
                return True
        return False

    return sum(augment(g, set()) for g in range(matched.shape[0]))


def prf(hits: int, gt_num: int, pred_num: int) -> dict[str, float]:
    """Precision, recall and hmean from counts, with MMOCR's conventions for empty sets."""
    if gt_num == 0:
        recall, precision = 1.0, (0.0 if pred_num > 0 else 1.0)
    else:
        recall = hits / gt_num
        precision = hits / pred_num if pred_num else 0.0
    denom = precision + recall
    hmean = 2.0 * precision * recall / denom if denom else 0.0
    return {"precision": precision, "recall": recall, "hmean": hmean}


# ---------------------------------------------------------------- detection hmean-iou


def _prepare(sample: DetSample, min_thr: np.float32, ignore_thr: float) -> tuple[np.ndarray, np.ndarray]:
    """IoU matrix of cared GTs x kept predictions, and the kept predictions' scores."""
    scores = np.asarray(sample.pred_scores, dtype=np.float32).reshape(len(sample.pred_polygons))
    iou, _, kept = _cared_iou(sample.gt_polygons, sample.gt_ignored, sample.pred_polygons,
                              ~(scores < min_thr), ignore_thr)
    return iou, scores[kept]


def _count_hits(matched: np.ndarray, strategy: str) -> int:
    """Number of one-to-one matches under the given strategy."""
    if strategy == "max_matching":
        return _max_matching_size(matched)
    return len(_greedy_pairs(matched))


def hmean_iou(
    images: Sequence[DetSample],
    score_thrs: Sequence[float] = DEFAULT_SCORE_THRS,
    strategy: str = "vanilla",
    match_iou_thr: float = 0.5,
    ignore_precision_thr: float = 0.5,
) -> dict:
    """Dataset precision/recall/hmean at the score threshold with the best hmean (HmeanIOUMetric)."""
    if strategy not in STRATEGIES:
        raise ValueError(f"strategy must be one of {STRATEGIES}, got {strategy!r}")
    # MMOCR ran on numpy 1.x, where float32 scores meet a float64 threshold in float32
    # (value-based casting): a 0.9 score passes the 0.9000000000000001 threshold.
    thrs = np.asarray(score_thrs, dtype=np.float32)
    hits, pred_num, gt_num = np.zeros(len(thrs), int), np.zeros(len(thrs), int), 0
    for sample in images:
        iou, scores = _prepare(sample, thrs.min(), ignore_precision_thr)
        gt_num += iou.shape[0]
        for i, thr in enumerate(thrs):
            kept = ~(scores < thr)
            # MMOCR matches on IoU strictly greater than the threshold
            hits[i] += _count_hits(iou[:, kept] > match_iou_thr, strategy)
            pred_num[i] += int(kept.sum())
    per_thr = [dict(prf(int(h), gt_num, int(n)), thr=float(t))
               for h, n, t in zip(hits, pred_num, score_thrs)]
    best = max(per_thr, key=lambda r: r["hmean"])  # max() keeps the first of equals, like MMOCR
    return {"precision": best["precision"], "recall": best["recall"], "hmean": best["hmean"],
            "best_thr": best["thr"], "per_thr": per_thr}


# ---------------------------------------------------------------- recognition


def _lower_strip(text: str, valid_symbol: re.Pattern[str]) -> str:
    """Lower-case and drop every character matched by the symbol pattern."""
    return valid_symbol.sub("", text.lower())


def _rounded(values: dict[str, float], ndigits: int | None) -> dict[str, float]:
    """Round like MMOCR (float(f'{v:.4f}')) unless ndigits is None."""
    if ndigits is None:
        return values
    return {k: float(f"{v:.{ndigits}f}") for k, v in values.items()}


def word_accuracy(
    preds: Sequence[str], gts: Sequence[str], valid_symbol: str = VALID_SYMBOL, ndigits: int | None = 4
) -> dict[str, float]:
    """Word accuracy in MMOCR's three modes: exact, ignore_case, ignore_case_symbol."""
    pattern = re.compile(valid_symbol)
    pairs = list(zip(preds, gts, strict=True))
    n = len(pairs) + 1e-8  # MMOCR's eps
    exact = sum(p == g for p, g in pairs)
    nocase = sum(p.lower() == g.lower() for p, g in pairs)
    nosym = sum(_lower_strip(p, pattern) == _lower_strip(g, pattern) for p, g in pairs)
    return _rounded({"word_acc": exact / n, "word_acc_ignore_case": nocase / n,
                     "word_acc_ignore_case_symbol": nosym / n}, ndigits)


def _true_positive_chars(pred: str, gt: str) -> int:
    """Characters in difflib's matching blocks (MMOCR uses SequenceMatcher, not a true LCS)."""
    return sum(size for _, _, size in SequenceMatcher(None, pred, gt).get_matching_blocks())


def char_metrics(
    preds: Sequence[str], gts: Sequence[str], valid_symbol: str = VALID_SYMBOL, ndigits: int | None = 4
) -> dict[str, float]:
    """Character precision/recall on lower-cased, symbol-stripped texts (CharMetric)."""
    pattern = re.compile(valid_symbol)
    tp = gt_chars = pred_chars = 0
    for pred, gt in zip(preds, gts, strict=True):
        pred, gt = _lower_strip(pred, pattern), _lower_strip(gt, pattern)
        tp += _true_positive_chars(pred, gt)
        gt_chars += len(gt)
        pred_chars += len(pred)
    return _rounded({"char_recall": tp / (gt_chars + 1e-8),
                     "char_precision": tp / (pred_chars + 1e-8)}, ndigits)


def one_minus_ned(
    preds: Sequence[str], gts: Sequence[str], valid_symbol: str = VALID_SYMBOL, ndigits: int | None = 4
) -> dict[str, float]:
    """1 - mean normalised edit distance on lower-cased, symbol-stripped texts (OneMinusNEDMetric)."""
    pattern = re.compile(valid_symbol)
    pairs = list(zip(preds, gts, strict=True))
    total = sum(Levenshtein.normalized_distance(_lower_strip(p, pattern), _lower_strip(g, pattern))
                for p, g in pairs)
    return _rounded({"1-N.E.D": 1.0 - total / max(1, len(pairs))}, ndigits)


def recognition_metrics(
    preds: Sequence[str], gts: Sequence[str], ndigits: int | None = 4
) -> dict[str, float]:
    """All recognition metrics (word accuracy x3, char P/R, 1-N.E.D) in one dict."""
    return {**word_accuracy(preds, gts, ndigits=ndigits), **char_metrics(preds, gts, ndigits=ndigits),
            **one_minus_ned(preds, gts, ndigits=ndigits)}


# ---------------------------------------------------------------- end-to-end word spotting


def _spotting_hits(
    sample: E2ESample, iou_thr: float, ignore_thr: float, pattern: re.Pattern[str]
) -> tuple[int, int, int, int]:
    """(exact-ignoring-case hits, ignoring-case-and-symbol hits, cared GTs, kept predictions)."""
    everything = np.ones(len(sample.pred_polygons), dtype=bool)
    iou, cared, kept = _cared_iou(sample.gt_polygons, sample.gt_ignored, sample.pred_polygons,
                                  everything, ignore_thr)
    hits = hits_nosym = 0
    # ICDAR 2015: pair by geometry first (one-to-one, IoU > thr), then check the text
    for g, p in _greedy_pairs(iou > iou_thr):
        gt_text, pred_text = sample.gt_texts[cared[g]], sample.pred_texts[kept[p]]
        hits += gt_text.upper() == pred_text.upper()
        hits_nosym += _lower_strip(gt_text, pattern) == _lower_strip(pred_text, pattern)
    return hits, hits_nosym, len(cared), len(kept)


def word_spotting(
    images: Sequence[E2ESample],
    match_iou_thr: float = 0.5,
    ignore_precision_thr: float = 0.5,
    valid_symbol: str = VALID_SYMBOL,
) -> dict:
    """ICDAR 2015 end-to-end (generic, case-insensitive) precision/recall/hmean, plus a no-symbol variant."""
    pattern = re.compile(valid_symbol)
    hits = hits_nosym = gt_num = pred_num = 0
    for sample in images:
        h, hn, g, p = _spotting_hits(sample, match_iou_thr, ignore_precision_thr, pattern)
        hits, hits_nosym, gt_num, pred_num = hits + h, hits_nosym + hn, gt_num + g, pred_num + p
    nosym = {f"{k}_ignore_symbol": v for k, v in prf(hits_nosym, gt_num, pred_num).items()}
    return {**prf(hits, gt_num, pred_num), **nosym, "gt_num": gt_num, "pred_num": pred_num}


def character_error_rate(pred: str, truth: str) -> float:
    """Edit distance over the truth's length, both with every whitespace run made one space."""
    pred, truth = " ".join(pred.split()), " ".join(truth.split())
    return Levenshtein.distance(pred, truth) / max(1, len(truth))
