"""WildReceipt-format KIE data -> model inputs.

An annotation file holds one JSON object per line: ``file_name``, ``height``, ``width`` and
``annotations``: ``[{box: 8 numbers (4 corners), text, label[, edge]}]``. As MMOCR's
``WildReceiptDataset`` does, a box becomes the int32 (x1, y1, x2, y2) of its corners' min / max,
a missing label is 0 and a missing edge id is 0. ``LoadKIEAnnotations`` then makes the edge
target of boxes i, j 1 when their edge ids are equal, else 0, and -1 (ignored) on the diagonal;
in close-set data (no edge ids) every off-diagonal pair is therefore 1, as in MMOCR.
Training and testing resize keep-ratio to (1024, 512) and scale the boxes with the image.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from handlers.families.kie.preprocess import normalize_and_pad, resize_image, scale_boxes

UNLABELLED = -100  # the node loss's ignore index


@dataclass
class KIEDocument:
    """One receipt: boxes in its own pixels, texts, node labels and edge ids."""

    image_path: Path
    height: int
    width: int
    boxes: np.ndarray  # (N, 4) int32 x1y1x2y2
    texts: list[str]
    labels: np.ndarray  # (N,) int64
    edge_ids: np.ndarray  # (N,) int64


def quad_to_box(quad: Sequence[float]) -> list[int]:
    """8 corner coordinates -> int32 [x1, y1, x2, y2] (MMOCR truncates the float corners)."""
    if len(quad) != 8:
        raise ValueError(f"a box needs 8 numbers (4 corners), got {len(quad)}")
    q = np.asarray(quad, dtype=np.float64).astype(np.int32)
    return [int(q[0::2].min()), int(q[1::2].min()), int(q[0::2].max()), int(q[1::2].max())]


def parse_record(record: dict, data_dir: Path) -> KIEDocument:
    """One JSON line -> KIEDocument (image path resolved under ``data_dir``)."""
    missing = [k for k in ("file_name", "height", "width", "annotations") if k not in record]
    if missing:
        raise ValueError(f"annotation record lacks {missing}")
    anns = record["annotations"]
    boxes = np.array([quad_to_box(a["box"]) for a in anns], dtype=np.int32).reshape(-1, 4)
    return KIEDocument(
        image_path=resolve_image(data_dir, record["file_name"]),
        height=int(record["height"]), width=int(record["width"]), boxes=boxes,
        texts=[str(a.get("text", "")) for a in anns],
        labels=np.array([int(a.get("label", 0)) for a in anns], dtype=np.int64),
        edge_ids=np.array([int(a.get("edge", 0)) for a in anns], dtype=np.int64))


def resolve_image(data_dir: Path, file_name: str) -> Path:
    """``data_dir/file_name`` if it exists, else the bare name in ``data_dir`` or ``data_dir/images``
    (WildReceipt lines carry MMOCR repository paths such as ``tests/data/.../1.jpeg``)."""
    for cand in (data_dir / file_name, data_dir / Path(file_name).name,
                 data_dir / "images" / Path(file_name).name):
        if cand.exists():
            return cand
    return data_dir / file_name


def read_annotations(ann_file: str | Path, data_dir: str | Path | None = None,
                     num_classes: int | None = None) -> list[KIEDocument]:
    """Every receipt of an annotation file; receipts without boxes are skipped (nothing to learn).
    A label of ``UNLABELLED`` (-100) marks a box with no known class: it still feeds the graph but
    is left out of the loss and of the scores (partially labelled data such as mapped SROIE).

    Labels outside ``range(num_classes)`` raise a ValueError naming the line."""
    ann_file = Path(ann_file)
    data_dir = Path(data_dir) if data_dir is not None else ann_file.parent
    docs = []
    for n, line in enumerate(ann_file.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            doc = parse_record(json.loads(line), data_dir)
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"{ann_file}:{n}: {exc}") from exc
        known = doc.labels[doc.labels != UNLABELLED]
        if num_classes is not None and len(known) and (known.min() < 0 or known.max() >= num_classes):
            raise ValueError(f"{ann_file}:{n}: labels must lie in 0..{num_classes - 1} "
                             f"(or {UNLABELLED}: unlabelled), got {sorted(set(doc.labels.tolist()))}")
        if len(doc.texts):
            docs.append(doc)
    return docs


def edge_targets(edge_ids: np.ndarray) -> np.ndarray:
    """(N, N) int64: 1 where edge ids are equal, 0 elsewhere, -1 on the diagonal."""
    ids = np.asarray(edge_ids)
    out = (ids[:, None] == ids[None, :]).astype(np.int64)
    np.fill_diagonal(out, -1)
    return out


@dataclass
class Batch:
    """Model inputs and targets of a few receipts."""

    img: torch.Tensor | None  # (B, 3, H, W) normalised and padded, or None (novisual)
    boxes: list[torch.Tensor]  # per receipt (N_i, 4) float32 in resized pixels
    texts: list[list[str]]
    node_targets: torch.Tensor  # (sum N_i,)
    edge_targets: torch.Tensor  # (sum N_i^2,)


def load_image(doc: KIEDocument) -> np.ndarray:
    import cv2

    img = cv2.imread(str(doc.image_path), cv2.IMREAD_COLOR)
    if img is None:
        raise ValueError(f"cannot read image {doc.image_path}")
    return img


def make_batch(docs: Sequence[KIEDocument], with_image: bool = False,
               scale: Sequence[int] = (1024, 512)) -> Batch:
    """Resize (keep ratio) and stack receipts; images are padded to the batch's largest size."""
    boxes, images = [], []
    for doc in docs:
        img = load_image(doc) if with_image else None
        h, w = img.shape[:2] if img is not None else (doc.height, doc.width)
        boxes.append(scale_boxes(doc.boxes, w, h, scale)[0])
        if img is not None:
            images.append(normalize_and_pad(resize_image(img, scale)))
    return Batch(
        img=_pad_stack(images) if with_image else None, boxes=boxes,
        texts=[list(d.texts) for d in docs],
        node_targets=torch.from_numpy(np.concatenate([d.labels for d in docs])),
        edge_targets=torch.from_numpy(np.concatenate([edge_targets(d.edge_ids).ravel() for d in docs])))


def _pad_stack(images: list[torch.Tensor]) -> torch.Tensor:
    h = max(t.shape[-2] for t in images)
    w = max(t.shape[-1] for t in images)
    return torch.cat([torch.nn.functional.pad(t, (0, w - t.shape[-1], 0, h - t.shape[-2]))
                      for t in images])
