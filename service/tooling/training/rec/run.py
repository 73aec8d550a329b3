"""`ocrserve train rec` end to end: data -> converted zoo model (checked against onnxruntime) ->
fine-tuning -> ONNX export (checked against torch) -> report; or, with `arch`, a user's MMOCR CTC
checkpoint (native.py) -> fine-tuning -> OUT/model.pth. The CLI is a shell around `fine_tune`."""
from __future__ import annotations

import hashlib
import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from service.tooling.training.rec.data import Crop, read_crops, readable, relabel
from service.tooling.training.rec.model import (convert, export_onnx, freeze_backbone, load_zoo_recognizer,
                                                round_to_fp16, verify_export)
from service.tooling.training.rec.train import Step, TrainOptions, evaluate, make_batch, train

ONNX_NAME = "rec.onnx"


@dataclass(frozen=True)
class Dataset:
    path: Path
    fmt: str


@dataclass(frozen=True)
class FineTuneJob:
    model: str  # zoo name of the ctc recogniser to start from
    data: Dataset
    out: Path
    dev: Dataset | None = None
    replay: Dataset | None = None
    replay_min_score: float = 0.9
    replay_limit: int = 1000  # crops drawn (seeded) from the replay set: relabelling them costs a forward pass each
    init: Path | None = None  # start from this checkpoint (best.pt / last.pt of an earlier run)
    options: TrainOptions = TrainOptions()
    arch: str | None = None  # instead of `model`: the MMOCR config of a user's `checkpoint` (native.py)
    checkpoint: Path | None = None


class ZooStart:
    """Fine-tuning from a zoo PP-OCR recogniser: its ONNX graph converted (checked against
    onnxruntime), exported back to ONNX; native.NativeStart is the same for an MMOCR checkpoint."""

    def __init__(self, name: str):
        self.name = name
        self.reader, self.source = load_zoo_recognizer(name)  # the served predictor reads the replay
        self.classes = self.reader.classes

    def fold_text(self, text: str) -> str:
        return text

    def model(self, train_crops: list[Crop], train_backbone: bool):
        model = convert(self.reader, self.source, _check_batches(self.reader, train_crops))
        return model, (f"{self.name} ({self.source.name}) converted, equal to onnxruntime on real crops; "
                       f"{sum(p.numel() for p in model.net.parameters())} weights"
                       + ("" if train_backbone else f", {freeze_backbone(model.net)} trained (backbone frozen)"))

    def export(self, model, out: Path, check_crops: list[Crop]) -> tuple[dict, str]:
        round_to_fp16(model.net)
        onnx_path = export_onnx(model, out / ONNX_NAME)
        diff = verify_export(model, onnx_path, _check_batches(model, check_crops))
        return export_record(onnx_path, diff), (f"exported {onnx_path} ({onnx_path.stat().st_size / 2**20:.1f} MiB, "
                                           f"float16 weights; equal to torch within {diff:.2g})")


def export_record(path: Path, diff: float) -> dict:
    """The report's `export` entry of a written model file."""
    return {"path": str(path), "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
            "bytes": path.stat().st_size, "max_diff_vs_torch": diff}


def _load(dataset: Dataset, start, say: Callable[[str], None], what: str) -> list[Crop]:
    crops = [Crop(c.image, start.fold_text(c.text)) for c in read_crops(dataset.path, dataset.fmt)]
    crops, dropped = readable(crops, start.classes)
    say(f"{what}: {len(crops)} crops from {dataset.path} ({dataset.fmt})"
        + (f", {dropped} skipped (empty, or characters outside the model's classes)" if dropped else ""))
    return crops


def _check_batches(model_like, crops: list[Crop], size: int = 8):
    return [make_batch(crops[i:i + size], model_like, None) for i in range(0, min(len(crops), 2 * size), size)]


def _replay(job: FineTuneJob, start, say: Callable[[str], None]) -> list[Crop]:
    if not (job.replay and job.options.iterations):
        return []
    raw = read_crops(job.replay.path, job.replay.fmt)
    if len(raw) > job.replay_limit:
        keep = np.random.default_rng(job.options.seed).choice(len(raw), job.replay_limit, replace=False)
        raw = [raw[i] for i in sorted(keep)]
    replay = relabel(raw, start.reader, job.replay_min_score)
    say(f"replay: {len(replay)} of {len(raw)} crops from {job.replay.path}, labelled by {job.arch or job.model} "
        f"(score >= {job.replay_min_score})")
    return replay


def fine_tune(job: FineTuneJob, say: Callable[[str], None] = print) -> dict:
    """Run the job; writes the model (OUT/rec.onnx from a zoo model, OUT/model.pth from an MMOCR
    checkpoint), OUT/best.pt / last.pt and OUT/report.json; returns the report."""
    if job.arch is not None:
        from service.tooling.training.rec.native import NativeStart

        start = NativeStart(job.arch, job.checkpoint)
    else:
        start = ZooStart(job.model)
    train_crops = _load(job.data, start, say, "train")
    if not train_crops:
        raise ValueError(f"{job.data.path}: no usable training crops")
    dev = _load(job.dev, start, say, "dev") if job.dev else []
    replay = _replay(job, start, say)
    model, line = start.model(train_crops, job.options.train_backbone)
    say(f"model: {line}")
    if job.init is not None:
        model.net.load_state_dict(torch.load(job.init, map_location="cpu", weights_only=True)["state_dict"])
        say(f"weights from {job.init}")
    before = evaluate(model, dev)
    if dev:
        say(f"dev before: {before}")
    began = time.perf_counter()
    history = train(model, train_crops, job.options, dev=dev, replay=replay, out=job.out,
                    log=lambda s: say(_line(s))) if job.options.iterations else []
    seconds = time.perf_counter() - began
    exported, line = start.export(model, job.out, dev or train_crops)
    after = evaluate(model, dev)
    report = {"model": job.arch or job.model, "source": str(start.source), "init": str(job.init) if job.init else None,
              "train": str(job.data.path), "train_crops": len(train_crops),
              "dev_crops": len(dev), "replay_crops": len(replay), "options": asdict(job.options),
              "seconds": round(seconds, 1), "dev_before": before, "dev_after": after, "export": exported,
              "history": [asdict(s) for s in history]}
    (job.out / "report.json").write_text(json.dumps(report, indent=2), encoding="utf-8")
    say(f"{line}; dev after: {after}")
    return report


def _line(step: Step) -> str:
    dev = f"  dev word acc {step.dev['word_acc']:.4f} (ignore case {step.dev['word_acc_ignore_case']:.4f})" \
        if step.dev else ""
    return f"iter {step.iteration:5d}  loss {step.loss:.4f}  lr {step.lr:.1e}  {step.seconds:.0f} s{dev}"
