"""MMOCR 0.x's `MMOCR(det=..., recog=..., kie=...).readtext(...)`, answered by an ocrserve gateway.

Same arguments and result dicts as MMOCR 0.6 (mmocr/utils/ocr.py): detection + recognition gives
per image `{'filename', 'text': [...]}`, or with `details=True` `{'filename', 'result': [{'box',
'box_score', 'text', 'text_score'[, 'label', 'label_score']}]}`; detection alone gives
`{'boundary_result': [[x1, y1, ..., score], ...]}`; recognition alone `{'text', 'score'}`.
Differences, each because the models run in the service: model defaults are the service's
defaults (MMOCR's PANet_IC15 + SEG are not in the zoo); `batch_mode` sends `batch_size` images
at once (the service batches the crops of each image itself); with a KIE model the short result
also carries `labels`; `output`/`imshow` draw with the gateway's POST /visualize.
"""
from __future__ import annotations

import json
import pickle
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from ocrserve.client import OcrClient
from ocrserve.line_merge import merge_lines
from ocrserve.mmocr_names import resolve

DEFAULT = "default"  # the service's default model of the task


def _zoo_models(zoo_path: Path | None) -> dict[str, tuple[str, str | None]]:
    from service.gateway.zoo import DEFAULT_ZOO, load_zoo

    zoo = load_zoo(zoo_path or DEFAULT_ZOO)
    return {name: (e.task, e.config.get("arch")) for name, e in zoo.models.items()}


class MMOCR:
    """`MMOCR(det='DB_r18', recog='CRNN', kie='SDMGR', url=...)`; None switches a stage off."""

    def __init__(self, det: str | None = DEFAULT, recog: str | None = DEFAULT, kie: str | None = "",
                 url: str | None = None, zoo_path: Path | None = None, client: OcrClient | None = None,
                 **ignored: Any):
        # MMOCR's det_config/det_ckpt/config_dir/device are for local models: checkpoints are
        # served with `ocrserve archive --arch ... --checkpoint ...` instead.
        if not (det or recog):
            raise ValueError("MMOCR needs a detector, a recogniser or both")
        if kie and not (det and recog):
            raise ValueError(f"{kie!r} has to run together with text detection and recognition")
        models = _zoo_models(zoo_path)
        self.det = None if det is None else (None if det == DEFAULT else resolve(det, "det", models))
        self.recog = None if recog is None else (None if recog == DEFAULT else resolve(recog, "rec", models))
        self.kie = resolve(kie, "kie", models) if kie else None
        self._use_det, self._use_rec = det is not None, recog is not None
        self.client = client or OcrClient(url)

    def readtext(self, img: Any, output: str | None = None, details: bool = False, export: str | None = None,
                 export_format: str = "json", batch_mode: bool = False, batch_size: int = 0,
                 imshow: bool = False, print_result: bool = False, merge: bool = False,
                 merge_xdist: float = 20, **legacy: Any) -> list[dict]:
        """Read one image, a list, a folder or arrays; returns one result dict per image."""
        # MMOCR 0.6 split the batch size three ways; any of them sets ours.
        batch_size = batch_size or max([legacy.get(k, 0) or 0 for k in
                                        ("single_batch_size", "det_batch_size", "recog_batch_size")])
        names, images = _inputs(img)
        outputs = _output_paths(output, names, batch_mode)
        exports = [None] * len(names) if not export else \
            [Path(export) / f"out_{n}.{export_format}" for n in names]
        threads = (batch_size or 4) if batch_mode else 1
        with ThreadPoolExecutor(threads) as pool:
            answers = list(pool.map(self._ocr, images))
        results = []
        for name, image, answer, out, exp in zip(names, images, answers, outputs, exports):
            result = self._result(name, answer, details, merge, merge_xdist)
            if out or imshow:
                self._draw(image, out, imshow)
            if exp:
                _dump(result, exp, export_format)
            if print_result:
                print(result, end="\n\n")
            results.append(result)
        return results

    def _options(self) -> dict[str, Any]:
        return {"det": self.det if self._use_det else "none", "rec": self.recog if self._use_rec else "none",
                "kie": self.kie}

    def _ocr(self, image: Any) -> dict:
        return self.client.ocr(image, channel_order="BGR", **self._options()).model_dump(
            mode="json", by_alias=True, exclude_none=True)

    def _result(self, name: str, answer: dict, details: bool, merge: bool, merge_xdist: float) -> dict:
        lines = answer["pages"][0]["result"]
        if not self._use_rec:
            return {"boundary_result": [line["box"] + [line["box_score"]] for line in lines]}
        if not self._use_det:
            line = lines[0] if lines else {"text": "", "text_score": 0.0}
            return {"text": line["text"], "score": line["text_score"]}
        result = [_mmocr_line(line) for line in lines]
        if merge:
            result = merge_lines(result, merge_xdist, 0.5)
        if details:
            return {"filename": name, "result": result}
        short: dict[str, Any] = {"filename": name, "text": [r["text"] for r in result]}
        if self.kie and not merge:
            short["labels"] = [r["label"] for r in result]
        return short

    def _draw(self, image: Any, out: Path | None, imshow: bool) -> None:
        png = self.client.visualize(image, channel_order="BGR", **self._options())
        if out:
            Path(out).parent.mkdir(parents=True, exist_ok=True)
            Path(out).write_bytes(png)
        if imshow:
            import io

            from PIL import Image

            Image.open(io.BytesIO(png)).show()


def _mmocr_line(line: dict) -> dict:
    """One /ocr line as MMOCR 0.x wrote it: integer box, then box_score, text, text_score[, label]."""
    out = {"box": [round(v) for v in line["box"]], "box_score": line["box_score"],
           "text": line.get("text", ""), "text_score": line.get("text_score", 0.0)}
    if "label" in line:
        out["label"], out["label_score"] = line["label"], line["label_score"]
    return out


def _inputs(img: Any) -> tuple[list[str], list[Any]]:
    """(file names, images): paths keep their stem, arrays are numbered as MMOCR numbered them."""
    items = list(img) if isinstance(img, (list, tuple)) else [img]
    if len(items) == 1 and isinstance(items[0], (str, Path)) and Path(items[0]).is_dir():
        items = sorted(str(p) for p in Path(items[0]).glob("*") if p.is_file())
    if not items:
        raise ValueError(f"no images in {img!r}")
    for item in items:
        if isinstance(item, (str, Path)) and not Path(item).is_file():
            raise FileNotFoundError(f"no such image: {item}")
    if isinstance(items[0], (str, Path)):
        return [Path(x).stem for x in items], items
    return [str(i) for i in range(len(items))], items


def _output_paths(output: str | None, names: list[str], batch_mode: bool) -> list[Path | None]:
    if not output:
        return [None] * len(names)
    path = Path(output)
    if path.is_dir():
        return [path / f"out_{n}.png" for n in names]
    if batch_mode or len(names) > 1:
        raise ValueError("output of several images must be an existing directory")
    return [path]


def _dump(result: dict, path: Path, export_format: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fmt = export_format.lower()
    if fmt == "json":
        path.write_text(json.dumps(result, indent=4, ensure_ascii=False), encoding="utf-8")
    elif fmt in ("yaml", "yml"):
        import yaml

        path.write_text(yaml.safe_dump(result, allow_unicode=True, sort_keys=False), encoding="utf-8")
    elif fmt in ("pkl", "pickle"):
        path.write_bytes(pickle.dumps(result))
    else:
        raise ValueError(f"export_format must be json, yaml or pkl, not {export_format!r}")
