"""Read WildReceipt-format annotation files (MMOCR 0.x ``data.txt`` / our ``annotations.txt``)."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

RECORD_KEYS = {"file_name", "height", "width", "annotations"}
BOX_KEYS = {"box", "text", "label"}


@dataclass
class ReceiptRecord:
    """One image's annotation: boxes (N, 4, 2) float32, texts and int labels."""
    file_name: str
    height: int
    width: int
    boxes: np.ndarray
    texts: list[str]
    labels: list[int]


def parse_line(line: str) -> ReceiptRecord:
    """Parse and check one JSON line; raises ValueError naming what is wrong."""
    d = json.loads(line)
    if set(d) != RECORD_KEYS:
        raise ValueError(f"record keys must be {sorted(RECORD_KEYS)}, got {sorted(d)}")
    boxes, texts, labels = [], [], []
    for ann in d["annotations"]:
        if set(ann) != BOX_KEYS:
            raise ValueError(f"annotation keys must be {sorted(BOX_KEYS)}, got {sorted(ann)}")
        if len(ann["box"]) != 8:
            raise ValueError(f"a box has 8 coordinates, got {len(ann['box'])}")
        boxes.append(ann["box"])
        texts.append(str(ann["text"]))
        labels.append(int(ann["label"]))
    arr = np.asarray(boxes, dtype=np.float32).reshape(-1, 4, 2)
    return ReceiptRecord(d["file_name"], int(d["height"]), int(d["width"]), arr, texts, labels)


def read_annotations(path: str | Path) -> list[ReceiptRecord]:
    """All records of a WildReceipt-format annotation file (blank lines skipped)."""
    text = Path(path).read_text(encoding="utf-8")
    return [parse_line(line) for line in text.splitlines() if line.strip()]
