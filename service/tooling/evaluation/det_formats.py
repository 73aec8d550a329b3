"""Detection / end-to-end ground truth in MMOCR's formats -> (image path, [GtWord]) samples.

Every reader returns the same thing: a list of `DetImage` in a stable order (natural order of
the image names), polygons as flat float lists in image pixels, `ignored` for MMOCR's don't-care
regions (ICDAR `###`, COCO `iscrowd=1`, 1.x `ignore: true`) and the text where the format has one
(None where it has none: COCO json, line-json and 1.x textdet json carry no transcriptions).
Formats, by the name `ocrserve eval --format` takes:
  icdar     a folder: gt_<stem>.txt files (x1,y1,...,x4,y4,text) and <stem>.jpg/png images anywhere under it
  coco      MMOCR 0.x instances_*.json (COCO: images + annotations with segmentation, iscrowd)
  lines     MMOCR 0.x line-json instances_*.txt (one image per line, with its annotations)
  textdet   MMOCR 1.x textdet_*.json / textspotting_*.json (metainfo + data_list)
  labelme   a folder of LabelMe .json files (shape label = text, `###` = ignored)
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from service.tooling.evaluation.datasets import IGNORED_TEXT, GtWord, read_icdar2015_gt

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")


@dataclass(frozen=True)
class DetImage:
    """One annotated image: where it is, and its ground-truth words (text None when unknown)."""

    image: Path
    words: list[GtWord]

    @property
    def has_text(self) -> bool:
        return all(w.text is not None for w in self.words)


def natural_key(path: Path | str) -> list:
    """img_2 before img_10."""
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", Path(path).name)]


def _find_image(name: str, roots: list[Path]) -> Path:
    """`name` under the first root that has it, else its basename searched below the roots."""
    for root in roots:
        if (root / name).is_file():
            return root / name
    base = Path(name).name
    for root in roots:
        found = sorted(root.rglob(base)) if root.is_dir() else []
        if found:
            return found[0]
    raise FileNotFoundError(f"image {name!r} not found under {', '.join(str(r) for r in roots)}")


def _flat(points) -> list[float]:
    """[[x, y], ...] or [x, y, ...] -> [x, y, ...] floats."""
    flat = [float(v) for p in points for v in (p if isinstance(p, (list, tuple)) else [p])]
    if len(flat) < 6 or len(flat) % 2:
        raise ValueError(f"a polygon needs >= 3 points, got {len(flat)} numbers")
    return flat


def read_icdar_dir(root: Path) -> list[DetImage]:
    """gt_<stem>.txt + <stem>.<image suffix>, both anywhere under root (ICDAR 2015 layouts)."""
    images = {p.stem: p for p in root.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES}
    samples = []
    for gt in sorted(root.rglob("gt_*.txt"), key=natural_key):
        stem = gt.stem[3:]
        if stem not in images:
            raise FileNotFoundError(f"{gt}: no image {stem}.* under {root}")
        samples.append(DetImage(images[stem], read_icdar2015_gt(gt)))
    if not samples:
        raise FileNotFoundError(f"no gt_*.txt ground truth under {root}")
    return samples


def _coco_words(annotations: list[dict]) -> list[GtWord]:
    words = []
    for ann in annotations:
        polygon = ann["segmentation"][0] if ann.get("segmentation") else _bbox_polygon(ann["bbox"])
        words.append(GtWord(_flat(polygon), ann.get("text"), bool(ann.get("iscrowd", 0))))
    return words


def _bbox_polygon(xywh: list[float]) -> list[float]:
    x, y, w, h = (float(v) for v in xywh)
    return [x, y, x + w, y, x + w, y + h, x, y + h]


def _image_roots(path: Path) -> list[Path]:
    """Where a json's relative image names may be rooted (MMOCR 0.x: img_prefix = <root>/imgs)."""
    return [path.parent / "imgs", path.parent, path.parent.parent]


def read_coco_json(path: Path) -> list[DetImage]:
    """MMOCR 0.x COCO-style instances json."""
    raw = json.loads(path.read_text(encoding="utf-8"))
    by_image: dict[int, list[dict]] = {img["id"]: [] for img in raw["images"]}
    for ann in raw["annotations"]:
        by_image[ann["image_id"]].append(ann)
    roots = _image_roots(path)
    samples = [DetImage(_find_image(img["file_name"], roots), _coco_words(by_image[img["id"]]))
               for img in raw["images"]]
    return sorted(samples, key=lambda s: natural_key(s.image))


def read_line_json(path: Path) -> list[DetImage]:
    """MMOCR 0.x line-json: one {"file_name", "annotations": [COCO-like]} per line."""
    roots = _image_roots(path)
    samples = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if line.strip():
            try:
                record = json.loads(line)
                samples.append(DetImage(_find_image(record["file_name"], roots), _coco_words(record["annotations"])))
            except (ValueError, KeyError, TypeError) as exc:
                raise ValueError(f"{path}:{number}: {exc}") from exc
    return sorted(samples, key=lambda s: natural_key(s.image))


def read_textdet_json(path: Path) -> list[DetImage]:
    """MMOCR 1.x textdet / textspotting json (img_path relative to the json's folder)."""
    raw = json.loads(path.read_text(encoding="utf-8"))
    roots = [path.parent, path.parent / "imgs"]
    samples = []
    for item in raw["data_list"]:
        words = [GtWord(_flat(inst["polygon"]), inst.get("text"), bool(inst.get("ignore", False)))
                 for inst in item.get("instances", [])]
        samples.append(DetImage(_find_image(item["img_path"], roots), words))
    return sorted(samples, key=lambda s: natural_key(s.image))


def read_labelme_dir(root: Path) -> list[DetImage]:
    """LabelMe jsons; imagePath is tried beside the json, then by name under the dataset folder."""
    samples = []
    for path in sorted(root.glob("*.json"), key=natural_key):
        raw = json.loads(path.read_text(encoding="utf-8"))
        words = [GtWord(_labelme_polygon(s), s.get("label", ""), s.get("label") == IGNORED_TEXT)
                 for s in raw["shapes"] if s.get("shape_type", "polygon") in ("polygon", "rectangle")]
        samples.append(DetImage(_find_image(raw["imagePath"], [root, root.parent]), words))
    return samples


def _labelme_polygon(shape: dict) -> list[float]:
    """A polygon's points, or a rectangle's two corners as four clockwise points."""
    if shape.get("shape_type") == "rectangle":
        (x0, y0), (x1, y1) = shape["points"]
        x0, x1, y0, y1 = min(x0, x1), max(x0, x1), min(y0, y1), max(y0, y1)
        return [float(v) for v in (x0, y0, x1, y0, x1, y1, x0, y1)]
    return _flat(shape["points"])


DET_READERS: dict[str, Callable[[Path], list[DetImage]]] = {
    "icdar": read_icdar_dir,
    "coco": read_coco_json,
    "lines": read_line_json,
    "textdet": read_textdet_json,
    "labelme": read_labelme_dir,
}
