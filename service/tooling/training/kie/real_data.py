"""Real receipt data for SDMG-R: a fixed, seeded split of WildReceipt-format receipts and the
SROIE 2019 key-field receipts mapped onto the WildReceipt classes.

SROIE gives text lines and four key strings (company, address, date, total), no per-line class.
A line takes a WildReceipt value class when its text (upper-cased, whitespace dropped, as
WildReceipt transcripts have no spaces) equals the key, or when a run of consecutive lines joins
to the key (multi-line names and addresses); a lone address line that is a long substring of the
address also counts, a total printed with its currency (``RM 33.90``) is a total, and a line that
holds the date is a date (SROIE prints dates with the time or a ``DATE:`` key on one line: 449 of
563 receipts have no line that is the date alone). Every other line is left *unlabelled*
(``UNLABELLED``: out of the loss and of every score): SROIE says nothing about keys, items or
prices, and calling them all ``Others`` would contradict WildReceipt's key / item / price classes.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Sequence

from service.tooling.training.kie.dataset import UNLABELLED

SROIE_CLASSES = {"company": 1, "address": 3, "date": 7, "total": 23}  # WildReceipt value ids
_MAX_RUN = 4  # longest run of lines joined to match a multi-line key


def split_of(name: str, seed: int, fractions: Sequence[tuple[str, float]]) -> str:
    """Deterministic split of one item by the sha1 of ``seed:name`` (independent of order and of
    the other items, so adding receipts never moves old ones)."""
    u = int(hashlib.sha1(f"{seed}:{name}".encode()).hexdigest()[:12], 16) / float(16 ** 12)
    edge = 0.0
    for part, share in fractions:
        edge += share
        if u < edge:
            return part
    return fractions[-1][0]


def norm(text: str) -> str:
    """Upper case, whitespace dropped (how keys and line texts are compared)."""
    return "".join(text.upper().split())


def read_sroie_lines(csv_text: str) -> list[tuple[list[float], str]]:
    """``x1,y1,...,y4,TEXT`` rows -> (8 corners, text); the text may hold commas."""
    rows = []
    for line in csv_text.lstrip("\ufeff").splitlines():
        parts = line.strip().split(",", 8)
        if len(parts) == 9 and parts[8].strip():
            rows.append(([float(v) for v in parts[:8]], parts[8].strip()))
    return rows


def sroie_labels(texts: Sequence[str], keys: dict[str, str]) -> list[int]:
    """WildReceipt class of each SROIE line (``UNLABELLED`` where no key matches)."""
    lines = [norm(t) for t in texts]
    labels = [UNLABELLED] * len(lines)
    for field, cls in SROIE_CLASSES.items():
        key = norm(keys.get(field, ""))
        if not key:
            continue
        for i, j in _runs_matching(lines, key):
            labels[i:j] = [cls] * (j - i)
        if field == "total":
            _label_where(labels, cls, [line in (key, "RM" + key) for line in lines])
        if field == "date":
            _label_where(labels, cls, [key in line for line in lines])
        if field == "address" and cls not in labels:
            for i, line in enumerate(lines):
                if len(line) >= 8 and line in key and labels[i] == UNLABELLED:
                    labels[i] = cls
    return labels


def _label_where(labels: list[int], cls: int, hits: Sequence[bool]) -> None:
    for i, hit in enumerate(hits):
        if hit and labels[i] == UNLABELLED:
            labels[i] = cls


def _runs_matching(lines: Sequence[str], key: str) -> list[tuple[int, int]]:
    runs = []
    for i in range(len(lines)):
        joined = ""
        for j in range(i, min(i + _MAX_RUN, len(lines))):
            joined += lines[j]
            if joined == key:
                runs.append((i, j + 1))
            if not key.startswith(joined):
                break
    return runs


def sroie_record(csv_path: Path, key_path: Path, image_path: Path) -> dict | None:
    """One SROIE receipt as a WildReceipt closeset record (None when no line carries a label).

    Height and width are those of the line boxes' extent (the images are mostly absent); the
    model only uses them to scale the boxes keep-ratio into 1024x512."""
    rows = read_sroie_lines(csv_path.read_text(encoding="utf-8", errors="replace"))
    keys = json.loads(key_path.read_text(encoding="utf-8"))
    labels = sroie_labels([t for _, t in rows], keys)
    if not rows or all(lab == UNLABELLED for lab in labels):
        return None
    width = int(max(max(q[0::2]) for q, _ in rows)) + 1
    height = int(max(max(q[1::2]) for q, _ in rows)) + 1
    anns = [{"box": q, "text": t, "label": lab} for (q, t), lab in zip(rows, labels)]
    return {"file_name": str(image_path), "height": height, "width": width, "annotations": anns}


def sroie_images(root: Path, part: str) -> list[Path]:
    """SROIE receipts with an image under `root/img`: all, or the `tune` / `test` half (ranked by sha1
    of `13:<stem>`, the first half tunes, the second is reported)."""
    images = sorted((root / "img").glob("*.jpg"))
    if part == "all":
        return images
    ranked = sorted(images, key=lambda p: hashlib.sha1(f"13:{p.stem}".encode()).hexdigest())
    half = ranked[:len(ranked) // 2] if part == "tune" else ranked[len(ranked) // 2:]
    return sorted(half)
