"""Readers for the development data in ../shared/data (ICDAR 2015 GT, MMOCR word-crop labels)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

IGNORED_TEXT = "###"


@dataclass(frozen=True)
class GtWord:
    """One ICDAR 2015 ground-truth word: flat 8-float quadrilateral, text, don't-care flag."""

    polygon: list[float]
    text: str
    ignored: bool


def parse_icdar2015_line(line: str) -> GtWord:
    """Parse `x1,y1,...,x4,y4,text`; the text may itself contain commas."""
    parts = line.rstrip("\r\n").split(",", 8)
    if len(parts) != 9:
        raise ValueError(f"expected 8 coordinates and a text, got {line!r}")
    text = parts[8]
    return GtWord(polygon=[float(v) for v in parts[:8]], text=text, ignored=text == IGNORED_TEXT)


def read_icdar2015_gt(path: str | Path) -> list[GtWord]:
    """Read one ICDAR 2015 GT file (UTF-8, with or without BOM); blank lines are skipped."""
    lines = Path(path).read_text(encoding="utf-8-sig").splitlines()
    words = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            words.append(parse_icdar2015_line(line))
        except ValueError as exc:
            raise ValueError(f"{path}:{number}: {exc}") from exc
    return words


def _image_number(path: Path) -> int:
    """N of img_N.ext, so img_2 sorts before img_10."""
    match = re.fullmatch(r"img_(\d+)", path.stem)
    return int(match.group(1)) if match else -1


def load_icdar2015_dir(root: str | Path, split: str = "test") -> list[tuple[Path, list[GtWord]]]:
    """Pair root/imgs/<split>/img_N.jpg with root/annotations/<split>/gt_img_N.txt, in N order."""
    root = Path(root)
    images = sorted((root / "imgs" / split).glob("img_*.jpg"), key=_image_number)
    if not images:
        raise FileNotFoundError(f"no img_*.jpg under {root / 'imgs' / split}")
    samples = []
    for image in images:
        gt_path = root / "annotations" / split / f"gt_{image.stem}.txt"
        if not gt_path.is_file():
            raise FileNotFoundError(f"ground truth missing for {image.name}: {gt_path}")
        samples.append((image, read_icdar2015_gt(gt_path)))
    return samples


def load_word_crops(root: str | Path, label_file: str = "label.txt") -> list[tuple[Path, str]]:
    """Read `filename text` lines of an MMOCR 0.x recognition set; images live under root/imgs/."""
    root = Path(root)
    samples = []
    for number, line in enumerate((root / label_file).read_text(encoding="utf-8-sig").splitlines(), 1):
        if not line.strip():
            continue
        # only the first space separates: the word itself may contain spaces
        name, sep, text = line.rstrip("\r\n").partition(" ")
        if not sep:
            raise ValueError(f"{root / label_file}:{number}: expected 'filename text', got {line!r}")
        image = root / "imgs" / name
        if not image.is_file():
            raise FileNotFoundError(f"{root / label_file}:{number}: image not found: {image}")
        samples.append((image, text))
    return samples
