"""Recognition ground truth in MMOCR's formats -> (image, text) samples.

An image is a Path (crops on disk) or bytes (crops stored inside an LMDB). Formats, by the name
`ocrserve eval --format` takes:
  label-txt    `filename text` lines (MMOCR 0.x label.txt; only the first space separates)
  label-jsonl  {"filename", "text"} lines (MMOCR 0.x label.jsonl)
  textrecog    MMOCR 1.x textrecog_*.json (data_list: img_path + instances[0].text)
  lmdb         an LMDB folder: MMOCR's image-%09d / label-%09d / num-samples layout (images inside),
               or 0.x's label-only LMDB (label-%09d = a label-jsonl line; images in a folder)
Image names are looked up in the label file's folder, then in its `imgs/` subfolder.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

RecImage = Path | bytes


@dataclass(frozen=True)
class RecSample:
    """One word crop and its transcription."""

    image: RecImage
    text: str
    name: str = ""

    def data(self) -> bytes:
        return self.image if isinstance(self.image, bytes) else Path(self.image).read_bytes()


def _crop_path(folder: Path, name: str) -> Path:
    for candidate in (folder / name, folder / "imgs" / name):
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(f"crop {name!r} not found in {folder} or {folder / 'imgs'}")


def _lines(path: Path) -> Iterator[tuple[int, str]]:
    for number, line in enumerate(path.read_text(encoding="utf-8-sig").splitlines(), 1):
        if line.strip():
            yield number, line.rstrip("\r\n")


def read_label_txt(path: Path) -> list[RecSample]:
    samples = []
    for number, line in _lines(path):
        name, sep, text = line.partition(" ")
        if not sep:
            raise ValueError(f"{path}:{number}: expected 'filename text', got {line!r}")
        samples.append(RecSample(_crop_path(path.parent, name), text, name))
    return samples


def _from_json_line(line: str, where: str, folder: Path) -> RecSample:
    try:
        record = json.loads(line)
        return RecSample(_crop_path(folder, record["filename"]), str(record["text"]), record["filename"])
    except (ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"{where}: expected {{\"filename\", \"text\"}}: {exc}") from exc


def read_label_jsonl(path: Path) -> list[RecSample]:
    return [_from_json_line(line, f"{path}:{n}", path.parent) for n, line in _lines(path)]


def read_textrecog_json(path: Path) -> list[RecSample]:
    raw = json.loads(path.read_text(encoding="utf-8"))
    samples = []
    for index, item in enumerate(raw["data_list"]):
        instances = item.get("instances") or []
        if len(instances) != 1:
            raise ValueError(f"{path}: data_list[{index}] has {len(instances)} instances, expected 1")
        samples.append(RecSample(_crop_path(path.parent, item["img_path"]), str(instances[0]["text"]),
                                 item["img_path"]))
    return samples


def read_lmdb(path: Path) -> list[RecSample]:
    """MMOCR's LMDB layouts (read-only, no lock file written: the folder may be read-only)."""
    import lmdb

    if not (path / "data.mdb").is_file():
        raise FileNotFoundError(f"{path} is not an LMDB folder (no data.mdb)")
    env = lmdb.open(str(path), readonly=True, lock=False, readahead=False)
    try:
        with env.begin() as txn:
            count = txn.get(b"num-samples")
            if count is None:
                raise ValueError(f"{path}: no num-samples key: not an MMOCR LMDB")
            samples = []
            for index in range(1, int(count) + 1):
                label = txn.get(b"label-%09d" % index)
                if label is None:
                    raise ValueError(f"{path}: label-{index:09d} missing (num-samples is {int(count)})")
                image = txn.get(b"image-%09d" % index)
                if image is None:  # 0.x label-only LMDB: the label is a label-jsonl line
                    samples.append(_from_json_line(label.decode("utf-8"), f"{path}:label-{index:09d}",
                                                   path.parent))
                else:
                    samples.append(RecSample(bytes(image), label.decode("utf-8"), f"image-{index:09d}"))
            return samples
    finally:
        env.close()


REC_READERS: dict[str, Callable[[Path], list[RecSample]]] = {
    "label-txt": read_label_txt,
    "label-jsonl": read_label_jsonl,
    "textrecog": read_textrecog_json,
    "lmdb": read_lmdb,
}
