"""`ocrserve eval --data PATH --format F --task T`: a user's dataset in an MMOCR format, scored with
MMOCR's metrics against the in-process pipeline or a running gateway."""
from __future__ import annotations

import asyncio
import base64
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

from ocrserve.progress import track
from service.tooling.evaluation.det_formats import DET_READERS
from service.tooling.evaluation.evaluation import evaluate_detection, evaluate_end_to_end, evaluate_recognition
from service.tooling.training.ner.data import read_cluener
from service.tooling.evaluation.rec_formats import REC_READERS
from service.tooling.evaluation.text_formats import (OPENSET_CLASSES, OPENSET_IGNORED, class_list_for, entities_from_response,
                                  ner_prf, read_wildreceipt)

KIE_FORMATS = ("wildreceipt", "wildreceipt-openset")
NER_FORMATS = ("cluener",)
#: Which formats each task reads.
TASK_FORMATS: dict[str, tuple[str, ...]] = {
    "det": tuple(DET_READERS), "e2e": tuple(DET_READERS), "rec": tuple(REC_READERS),
    "kie": KIE_FORMATS, "ner": NER_FORMATS,
}

KieFn = Callable[[bytes | None, list[dict]], list[str]]
NerFn = Callable[[list[str]], list[list[dict]]]


@dataclass(frozen=True)
class EvalJob:
    """What to evaluate: data, its format and task, the models, and how many samples at most."""

    data: Path
    format: str
    task: str
    det: str = "default"
    rec: str = "default"
    kie: str | None = None
    ner: str | None = None
    limit: int | None = None
    class_list: Path | None = None

    def check(self) -> None:
        """ValueError naming the formats a task reads."""
        if self.task not in TASK_FORMATS:
            raise ValueError(f"unknown task {self.task!r}; tasks: {', '.join(TASK_FORMATS)}")
        if self.format not in TASK_FORMATS[self.task]:
            raise ValueError(f"--task {self.task} reads --format {', '.join(TASK_FORMATS[self.task])}; "
                             f"got {self.format!r}")
        if not self.data.exists():
            raise ValueError(f"no data at {self.data}")


def _first(items: list, limit: int | None) -> list:
    return items[:limit] if limit else items


def run_job(job: EvalJob, ocr, kie: KieFn | None = None, ner: NerFn | None = None) -> dict:
    """Read the data, run the task, return the report (a JSON-able dict)."""
    job.check()
    header = {"data": str(job.data), "format": job.format, "task": job.task}
    if job.task in ("det", "e2e"):
        images = _first(DET_READERS[job.format](job.data), job.limit)
        samples = [(s.image, s.words) for s in images]
        if job.task == "det":
            return {**header, "models": {"det": job.det}, **evaluate_detection(samples, _det_only(ocr, job.det))}
        if not all(s.has_text for s in images):
            raise ValueError(f"--format {job.format} carries no transcriptions: use --task det, or icdar/labelme/"
                             "textdet with texts for e2e")
        report = evaluate_end_to_end(samples, lambda data: ocr(data, det=job.det, rec=job.rec))
        return {**header, "models": {"det": job.det, "rec": job.rec}, **report}
    if job.task == "rec":
        from service.tooling.evaluation.clients import recognizer_from

        samples = [(s.image, s.text) for s in _first(REC_READERS[job.format](job.data), job.limit)]
        return {**header, "models": {"rec": job.rec}, **evaluate_recognition(samples, recognizer_from(ocr, job.rec))}
    if job.task == "kie":
        return {**header, "models": {"kie": job.kie}, **evaluate_kie(job, kie)}
    return {**header, "models": {"ner": job.ner}, **evaluate_ner(job, ner)}


def _det_only(ocr, det: str):
    return lambda data: ocr(data, det=det, rec=None)


def evaluate_kie(job: EvalJob, kie: KieFn | None) -> dict:
    """Node-class F1 on the ground-truth boxes and texts, as MMOCR evaluates SDMG-R."""
    from service.tooling.evaluation.kie_metrics import kie_f1
    from service.tooling.training.kie.evaluate import ignored_classes_for

    if kie is None:
        raise ValueError("KIE evaluation needs a KIE model")
    openset = job.format == "wildreceipt-openset"
    classes = list(OPENSET_CLASSES) if openset else class_list_for(job.data, job.class_list)
    docs = [d for d in read_wildreceipt(job.data, openset) if d.image_path.is_file()]
    docs = _first(docs, job.limit)
    if not docs:
        raise ValueError(f"no receipt of {job.data} has its image on disk")
    index = {name: i for i, name in enumerate(classes)}
    preds, gts = [], []
    for doc in track(docs, "kie", unit="img", lines=False):
        instances = [{"box": [int(v) for v in box], "text": text} for box, text in zip(doc.boxes, doc.texts)]
        names = kie(doc.image_path.read_bytes(), instances)
        unknown = set(names) - set(index)
        if unknown:
            raise ValueError(f"the model answers classes {sorted(unknown)} that the data's class list lacks")
        preds.append([index[n] for n in names])
        gts.append(doc.labels.tolist())
    ignored = OPENSET_IGNORED if openset else ignored_classes_for(classes)
    f1 = kie_f1(preds, gts, len(classes), mode=["macro", "micro"], ignored_classes=ignored)
    return {"receipts": len(docs), "boxes": sum(len(g) for g in gts), "kie": f1,
            "ignored_classes": [classes[i] for i in ignored]}


def evaluate_ner(job: EvalJob, ner: NerFn | None, batch: int = 32) -> dict:
    """Entity-level P/R/F1 of a NER model on CLUENER json-lines."""
    if ner is None:
        raise ValueError("NER evaluation needs a gateway with POST /ner (--url) and --ner MODEL")
    samples = _first(read_cluener(job.data), job.limit)
    preds = []
    for start in track(range(0, len(samples), batch), "ner", unit="batch", lines=False):
        chunk = samples[start:start + batch]
        preds += [entities_from_response(found) for found in ner([s.text for s in chunk])]
    return {"texts": len(samples), "ner": ner_prf(preds, [s.entities for s in samples])}


# ------------------------------------------------------------------ where the models run


def local_kie(ocr, model: str) -> KieFn:
    """KIE through the in-process backend of `local_ocr` (the handlers' own code)."""
    backend = ocr.backend

    def kie(data: bytes | None, instances: list[dict]) -> list[str]:
        labelled = asyncio.run(backend.kie(model, data, None, {"instances": instances}))
        return [item.label for item in labelled.labels]

    return kie


def remote_kie(url: str, model: str, timeout: float = 120.0) -> KieFn:
    """KIE through a running gateway's POST /kie."""
    import httpx

    client = httpx.Client(base_url=url.rstrip("/"), timeout=timeout)

    def kie(data: bytes | None, instances: list[dict]) -> list[str]:
        body = {"instances": instances, "model": model}
        if data is not None:
            body["image"] = base64.b64encode(data).decode()
        response = client.post("/kie", json=body)
        response.raise_for_status()
        return [item["label"] for item in response.json()["instances"]]

    return kie


def remote_ner(url: str, model: str, timeout: float = 120.0) -> NerFn:
    """NER through a running gateway's POST /ner ({"texts": [...]} -> {"results": [{"entities": [...]}]})."""
    import httpx

    client = httpx.Client(base_url=url.rstrip("/"), timeout=timeout)

    def ner(texts: Sequence[str]) -> list[list[dict]]:
        response = client.post("/ner", params={"model": model}, json={"texts": list(texts)})
        response.raise_for_status()
        return [item["entities"] for item in response.json()["results"]]

    return ner
