"""`ocrserve dataset convert`: the conversions MMOCR ships converters for, from any format we read.

  any recognition format -> lmdb        (MMOCR 1.x layout: image-%09d = the encoded crop,
                                         label-%09d = its text, num-samples; MMOCR's
                                         tools/dataset_converters/textrecog/lmdb_converter.py)
  any detection format   -> textdet     (MMOCR 1.x textdet json; textspotting adds the texts)
  detection with texts   -> crops       (a recognition set: every legible word cropped and
                                         rectified into imgs/, with label.txt and textrecog.json,
                                         as MMOCR's textrecog converters cut ICDAR 2015 words)
  wildreceipt            -> wildreceipt-openset (service/tooling/training/kie/openset.py)
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Sequence

from service.tooling.evaluation.det_formats import DET_READERS, DetImage
from service.tooling.evaluation.rec_formats import REC_READERS, RecSample

TARGETS = ("lmdb", "textdet", "textspotting", "crops", "wildreceipt-openset")
#: LMDB's map size is an upper bound on the file, not an allocation; 1 TiB like MMOCR's default.
LMDB_MAP_SIZE = 1 << 40


def write_lmdb(samples: Sequence[RecSample], out: Path) -> int:
    """Write crops and texts into a new LMDB folder `out`; returns the number of samples."""
    import lmdb

    if out.exists() and any(out.iterdir()):
        raise ValueError(f"{out} exists and is not empty")
    out.mkdir(parents=True, exist_ok=True)
    env = lmdb.open(str(out), map_size=LMDB_MAP_SIZE)
    try:
        with env.begin(write=True) as txn:
            for index, sample in enumerate(samples, 1):
                txn.put(b"image-%09d" % index, sample.data())
                txn.put(b"label-%09d" % index, sample.text.encode("utf-8"))
            txn.put(b"num-samples", str(len(samples)).encode())
    finally:
        env.close()
    return len(samples)


def _image_size(path: Path) -> tuple[int, int]:
    from PIL import Image

    with Image.open(path) as image:
        return image.height, image.width


def _instance(word, with_text: bool) -> dict:
    xs, ys = word.polygon[0::2], word.polygon[1::2]
    instance = {"polygon": list(word.polygon), "bbox": [min(xs), min(ys), max(xs), max(ys)],
                "bbox_label": 0, "ignore": bool(word.ignored)}
    if with_text:
        instance["text"] = word.text
    return instance


def textdet_json(images: Sequence[DetImage], out: Path, with_text: bool = False) -> dict:
    """The MMOCR 1.x textdet (or textspotting) annotation dict; img_path relative to `out`'s folder."""
    task = "textspotting" if with_text else "textdet"
    if with_text and not all(image.has_text for image in images):
        raise ValueError("the source format carries no texts: convert to textdet instead")
    data_list = []
    for image in images:
        height, width = _image_size(image.image)
        data_list.append({"img_path": os.path.relpath(image.image, out.parent), "height": height, "width": width,
                          "instances": [_instance(w, with_text) for w in image.words]})
    metainfo = {"dataset_type": "TextDetDataset" if not with_text else "TextSpottingDataset",
                "task_name": task, "category": [{"id": 0, "name": "text"}]}
    return {"metainfo": metainfo, "data_list": data_list}


def gt_word_crops(image: DetImage):
    """(crop, text) of every legible GT word of one image, cut by the pipeline's own crop
    (handlers/ops/crop.py: perspective warp, tall crops turned), so it looks like a served crop."""
    import cv2
    import numpy as np

    from handlers.ops.crop import crop_quad, quad_for_polygon

    pixels = cv2.imread(str(image.image), cv2.IMREAD_COLOR)
    if pixels is None:
        raise ValueError(f"{image.image}: not a readable image")
    for word in image.words:
        if not word.ignored:
            quad = quad_for_polygon(np.asarray(word.polygon, np.float32).reshape(-1, 2))
            yield crop_quad(pixels, quad).image, word.text


def write_crops(images: Sequence[DetImage], out: Path) -> int:
    """Cut every legible GT word into out/imgs/<image>_<n>.png; label.txt + textrecog.json beside."""
    import cv2

    if not all(image.has_text for image in images):
        raise ValueError("the source format carries no texts: nothing to label the crops with")
    (out / "imgs").mkdir(parents=True, exist_ok=True)
    labels = []
    for image in images:
        for n, (crop, text) in enumerate(gt_word_crops(image)):
            name = f"{image.image.stem}_{n}.png"
            cv2.imwrite(str(out / "imgs" / name), crop)
            labels.append((name, text))
    (out / "label.txt").write_text("".join(f"{name} {text}\n" for name, text in labels), encoding="utf-8")
    data_list = [{"img_path": f"imgs/{name}", "instances": [{"text": text}]} for name, text in labels]
    metainfo = {"dataset_type": "TextRecogDataset", "task_name": "textrecog"}
    (out / "textrecog.json").write_text(json.dumps({"metainfo": metainfo, "data_list": data_list},
                                                   ensure_ascii=False), encoding="utf-8")
    return len(labels)


def convert(source: Path, source_format: str, out: Path, target: str) -> str:
    """Run one conversion; returns a one-line summary."""
    if target == "lmdb":
        if source_format not in REC_READERS:
            raise ValueError(f"lmdb is written from a recognition format ({', '.join(REC_READERS)})")
        count = write_lmdb(REC_READERS[source_format](source), out)
        return f"{count} crops -> {out}"
    if target in ("textdet", "textspotting"):
        if source_format not in DET_READERS:
            raise ValueError(f"{target} json is written from a detection format ({', '.join(DET_READERS)})")
        images = DET_READERS[source_format](source)
        out.write_text(json.dumps(textdet_json(images, out, target == "textspotting"), ensure_ascii=False),
                       encoding="utf-8")
        return f"{len(images)} images -> {out}"
    if target == "crops":
        if source_format not in DET_READERS:
            raise ValueError(f"crops are cut from a detection format ({', '.join(DET_READERS)})")
        return f"{write_crops(DET_READERS[source_format](source), out)} word crops -> {out}"
    if target == "wildreceipt-openset":
        from service.tooling.training.kie.openset import convert_file

        if source_format != "wildreceipt":
            raise ValueError("wildreceipt-openset is written from wildreceipt (close-set)")
        convert_file(source, out)
        return f"{source} -> {out}"
    raise ValueError(f"unknown target {target!r}; targets: {', '.join(TARGETS)}")
