"""Training crops for the recogniser: (BGR crop, text) pairs from MMOCR's recognition formats or
cut from ICDAR detection ground truth with the pipeline's own crop (`handlers/ops/crop.py`), so
a training crop looks like a served one.

Readers are `ocrserve eval`'s (service/tooling/evaluation, docs/datasets.md): `label-txt`,
`label-jsonl`, `textrecog`, `lmdb` crops, and the detection formats with texts (`icdar` folders,
`textdet`, `labelme`: every legible quad; `###` skipped).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np



@dataclass(frozen=True)
class Crop:
    """One training crop: a BGR uint8 image and its transcription."""

    image: np.ndarray
    text: str


def formats() -> list[str]:
    """Every format `read_crops` takes: `ocrserve eval`'s recognition and detection formats."""
    from service.tooling.evaluation.det_formats import DET_READERS
    from service.tooling.evaluation.rec_formats import REC_READERS

    return sorted(REC_READERS) + sorted(DET_READERS)


def read_crops(path: Path, fmt: str) -> list[Crop]:
    """Every crop of a dataset: crops with labels, or the legible words of detection ground
    truth (a detection format without texts is refused)."""
    from handlers.ops.image_io import decode_image
    from service.tooling.evaluation.dataset_convert import gt_word_crops
    from service.tooling.evaluation.det_formats import DET_READERS
    from service.tooling.evaluation.rec_formats import REC_READERS

    if fmt in REC_READERS:
        return [Crop(decode_image(sample.data()), sample.text) for sample in REC_READERS[fmt](path)]
    if fmt not in DET_READERS:
        raise ValueError(f"unknown format {fmt!r}; known: {', '.join(formats())}")
    images = DET_READERS[fmt](path)
    if not all(image.has_text for image in images):
        raise ValueError(f"{path}: format {fmt} carries no transcriptions: nothing to train on")
    return [Crop(image, text) for det in images for image, text in gt_word_crops(det)]


def readable(crops: Iterable[Crop], classes: Sequence[str]) -> tuple[list[Crop], int]:
    """The crops whose text is non-empty and written only in `classes`; and how many were not."""
    known = set(classes)
    kept, dropped = [], 0
    for crop in crops:
        if crop.text and set(crop.text) <= known:
            kept.append(crop)
        else:
            dropped += 1
    return kept, dropped


def relabel(crops: Sequence[Crop], recognizer, min_score: float = 0.8) -> list[Crop]:
    """The crops with `recognizer`'s reading as their text (the replay of the original model's
    behaviour), keeping only confident non-empty reads."""
    reads = recognizer([crop.image for crop in crops])
    return [Crop(crop.image, read.text) for crop, read in zip(crops, reads)
            if read.text.strip() and read.score >= min_score]
