"""Synthetic receipts in WildReceipt format, to train the SDMG-R receipt model.

``generate(out_dir, count, seed)`` writes ``images/NNNNN.jpg``, ``annotations.txt`` (one JSON per
image, WildReceipt's keys) and ``class_list.txt`` (the 26 WildReceipt classes). See README.md.
"""
from __future__ import annotations

import json
import multiprocessing
from contextlib import ExitStack
from pathlib import Path

import cv2
import numpy as np

from .content import make_receipt
from .labels import CLASS_NAMES, class_list_text
from .io import read_annotations
from .layout import layout_receipt
from .photo import photograph
from .render import TextBox, render_paper

__all__ = ["CLASS_NAMES", "generate", "read_annotations", "synth_receipt"]


def synth_receipt(seed: int, index: int) -> tuple[np.ndarray, list[TextBox]]:
    """Receipt ``index`` of the stream ``seed``: (BGR image, boxes). Deterministic."""
    rng = np.random.default_rng(np.random.SeedSequence([seed, index]))
    receipt = make_receipt(rng)
    paper, boxes = render_paper(layout_receipt(receipt, rng), rng)
    image, boxes, _ = photograph(paper, boxes, rng)
    return image, boxes


def annotation_line(file_name: str, image: np.ndarray, boxes: list[TextBox]) -> str:
    """One WildReceipt-style JSON line (box: 8 coordinates, clockwise from top-left)."""
    anns = [{"box": [round(float(v), 1) for v in b.quad.reshape(-1)], "text": b.text, "label": int(b.label)}
            for b in boxes]
    record = {"file_name": file_name, "height": int(image.shape[0]), "width": int(image.shape[1]),
              "annotations": anns}
    return json.dumps(record, ensure_ascii=False)


def _encode(job: tuple[int, int, int]) -> tuple[bytes, str]:
    """(JPEG bytes, annotation line) of receipt ``index`` (a process-pool task)."""
    seed, index, quality = job
    image, boxes = synth_receipt(seed, index)
    ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise RuntimeError(f"JPEG encoding failed for receipt {index}")
    return buf.tobytes(), annotation_line(f"images/{index:05d}.jpg", image, boxes)


def generate(out_dir: Path, count: int, seed: int, jpeg_quality: tuple[int, int] = (55, 95),
             workers: int = 1) -> Path:
    """Write ``count`` receipts under ``out_dir``; returns the path of ``annotations.txt``.

    The same ``seed`` (on a machine with the same fonts) gives byte-identical files, whatever
    the number of ``workers`` (processes).
    """
    if count < 0:
        raise ValueError(f"count must be >= 0, got {count}")
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    out_dir = Path(out_dir)
    (out_dir / "images").mkdir(parents=True, exist_ok=True)
    (out_dir / "class_list.txt").write_text(class_list_text(), encoding="utf-8")
    q_rng = np.random.default_rng(np.random.SeedSequence([seed, 2**31]))
    jobs = [(seed, i, int(q_rng.integers(jpeg_quality[0], jpeg_quality[1] + 1))) for i in range(count)]
    ann_path = out_dir / "annotations.txt"
    with ann_path.open("w", encoding="utf-8") as f, ExitStack() as stack:
        results = map(_encode, jobs)
        if workers > 1:
            pool = stack.enter_context(multiprocessing.get_context("spawn").Pool(workers))
            results = pool.imap(_encode, jobs, chunksize=8)
        for i, (jpeg, line) in enumerate(results):
            (out_dir / f"images/{i:05d}.jpg").write_bytes(jpeg)
            f.write(line + "\n")
    return ann_path
