"""Registry of model families: a family name -> its task and a builder over a loaded runner."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from handlers.families.angle import AngleClassifier, AngleConfig
from handlers.families.ctc import CTCConfig, CTCRecognizer
from handlers.families.db import DBConfig, DBDetector
from handlers.api.class_list import read_class_list
from handlers.families.kie_model import SDMGRConfig, SDMGRExtractor, load_torch_runner as load_sdmgr
from handlers.families.mmocr_det import MMOCRDetConfig, MMOCRDetector, load_torch_runner as load_mmocr_det
from handlers.families.mmocr_recognizer import MMOCRRecConfig, MMOCRRecognizer, load_torch_runner as load_mmocr_rec
from handlers.families.tesseract import TesseractConfig, TesseractDetector, TesseractRecognizer, load_engine
from handlers.families.ner_model import NERConfig, build_tagger, load_torch_runner as load_bert_ner
from handlers.ops.ctc_decode import load_charset
from handlers.runtime import Device, Runner, load_runner

SPEC_FILE = "model_config.json"


@dataclass
class ModelSpec:
    """What an archive (or the in-process pipeline) needs to build one model."""

    name: str
    task: str
    family: str
    runtime: str
    weights: Path
    config: dict[str, Any] = field(default_factory=dict)
    files: dict[str, Path] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The archive form: file paths relative to the archive root."""
        return {"name": self.name, "task": self.task, "family": self.family, "runtime": self.runtime,
                "weights": self.weights.name, "config": self.config,
                "files": {key: path.name for key, path in self.files.items()}}

    @classmethod
    def from_archive(cls, model_dir: Path) -> "ModelSpec":
        """Read model_config.json from an unpacked archive."""
        raw = json.loads((model_dir / SPEC_FILE).read_text(encoding="utf-8"))
        return cls(raw["name"], raw["task"], raw["family"], raw["runtime"], model_dir / raw["weights"],
                   raw.get("config", {}), {k: model_dir / v for k, v in raw.get("files", {}).items()})


def _charset(spec: ModelSpec, runner: Runner) -> list[str]:
    source = spec.config.get("charset", {})
    if source.get("from") == "onnx_metadata":
        text = runner.metadata().get(source.get("key", "character"))
        if not text:
            raise ValueError(f"{spec.name}: the weight file carries no {source.get('key')!r} metadata")
        return load_charset(text.splitlines(), use_space_char=False)
    if source.get("from") == "file":
        return load_charset(spec.files[source["key"]], use_space_char=False)
    raise ValueError(f"{spec.name}: charset must come from 'onnx_metadata' or 'file', got {source!r}")


def _build_db(spec: ModelSpec, runner: Runner) -> DBDetector:
    return DBDetector(runner, DBConfig.from_dict(spec.config))


def _build_ctc(spec: ModelSpec, runner: Runner) -> CTCRecognizer:
    return CTCRecognizer(runner, CTCConfig.from_dict(spec.config, _charset(spec, runner)))


def _build_angle(spec: ModelSpec, runner: Runner) -> AngleClassifier:
    return AngleClassifier(runner, AngleConfig.from_dict(spec.config))


def _build_mmocr_det(spec: ModelSpec, runner: Runner) -> MMOCRDetector:
    return MMOCRDetector(runner, MMOCRDetConfig.from_dict(spec.config))


def _build_mmocr_rec(spec: ModelSpec, runner: Runner) -> MMOCRRecognizer:
    return MMOCRRecognizer(runner, MMOCRRecConfig.from_dict(spec.config))


def _build_sdmgr(spec: ModelSpec, runner: Runner) -> SDMGRExtractor:
    if "class_list" not in spec.files:
        raise ValueError(f"{spec.name}: an SDMG-R archive needs its class list (class_list.txt)")
    return SDMGRExtractor(runner, SDMGRConfig.from_dict(spec.config), read_class_list(spec.files["class_list"]))


FAMILIES: dict[str, tuple[str, Callable[[ModelSpec, Runner], Any]]] = {
    "db": ("det", _build_db),
    "ctc": ("rec", _build_ctc),
    "angle": ("cls", _build_angle),
    "mmocr_det": ("det", _build_mmocr_det),
    "mmocr_rec": ("rec", _build_mmocr_rec),
    "sdmgr": ("kie", _build_sdmgr),
    "tesseract_det": ("det", lambda spec, engine: TesseractDetector(engine)),
    "tesseract_rec": ("rec", lambda spec, engine: TesseractRecognizer(engine)),
    "bert_ner": ("ner", build_tagger),
}

#: Families whose torch networks are built from an architecture name plus a checkpoint.
TORCH_LOADERS: dict[str, Callable[[ModelSpec, Device, int], Runner]] = {
    "mmocr_det": load_mmocr_det,
    "mmocr_rec": load_mmocr_rec,
    "sdmgr": load_sdmgr,
    "bert_ner": load_bert_ner,
}


def build_model(spec: ModelSpec, device: Device = Device(), threads: int = 1) -> Any:
    """Load the weights and wrap them in the family's pre/post-processing."""
    if spec.family not in FAMILIES:
        raise ValueError(f"unknown model family {spec.family!r}; known: {', '.join(sorted(FAMILIES))}")
    task, builder = FAMILIES[spec.family]
    if task != spec.task:
        raise ValueError(f"family {spec.family!r} serves task {task!r}, not {spec.task!r}")
    if spec.runtime == "tesseract":
        # no weight file to open: the engine reads the installed traineddata itself
        return builder(spec, load_engine(spec, device, threads))
    if spec.runtime == "torch":
        if spec.family not in TORCH_LOADERS:
            raise ValueError(f"family {spec.family!r} has no torch runtime")
        return builder(spec, TORCH_LOADERS[spec.family](spec, device, threads))
    return builder(spec, load_runner(spec.runtime, spec.weights, device, threads))


#: How each family checks its zoo `config` without loading weights.
CONFIG_CHECKS: dict[str, Callable[[dict[str, Any]], Any]] = {
    "db": DBConfig.from_dict,
    "angle": AngleConfig.from_dict,
    "ctc": lambda config: CTCConfig.from_dict(config, ["x"]),
    "mmocr_det": MMOCRDetConfig.from_dict,
    "mmocr_rec": MMOCRRecConfig.from_dict,
    "sdmgr": SDMGRConfig.from_dict,
    "tesseract_det": TesseractConfig.from_dict,
    "tesseract_rec": TesseractConfig.from_dict,
    "bert_ner": NERConfig.from_dict,
}


def validate_config(spec: ModelSpec) -> None:
    """Check a family config without loading weights (used when building archives)."""
    if spec.family not in CONFIG_CHECKS:
        raise ValueError(f"unknown model family {spec.family!r}; known: {', '.join(sorted(FAMILIES))}")
    CONFIG_CHECKS[spec.family](spec.config)
