"""The one model registry: a family name -> its task, config check, builder and torch loader,
and every MMOCR config name (arch) -> the family that serves it.

Everything that needs to know about a model family asks here: the handlers (build a model from
an archive), the in-process backend, the archive builder (check a zoo config, pick the family of
a user's checkpoint), `ocrserve export-onnx` and the tests. Serving a new family is one row of
`FAMILIES`. Unknown names raise `UnknownName` (a ValueError) listing the known ones.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Collection

from handlers.api.spec import ModelSpec, UnknownName
from handlers.predictors.angle import AngleClassifier, AngleConfig
from handlers.predictors.ctc import CTCConfig, CTCRecognizer
from handlers.predictors.db import DBConfig, DBDetector
from handlers.families.kie.sdmgr import DEFAULT_CFGS as SDMGR_CFGS
from handlers.api.class_list import read_class_list
from handlers.predictors.kie_context import ContextRelabeller
from handlers.predictors.sdmgr import SDMGRConfig, SDMGRExtractor
from handlers.predictors.sdmgr import load_torch_runner as load_sdmgr
from handlers.predictors.mmocr_det import MMOCRDetConfig, MMOCRDetector, supported_configs as mmocr_det_configs
from handlers.predictors.mmocr_det import load_torch_runner as load_mmocr_det
from handlers.families.mmocr_rec import available as mmocr_rec_configs
from handlers.predictors.mmocr_rec import MMOCRRecConfig, MMOCRRecognizer
from handlers.predictors.mmocr_rec import load_torch_runner as load_mmocr_rec
from handlers.families.ner.bert import DEFAULT_CFGS as NER_CFGS
from handlers.predictors.bert_ner import ARCH_ALIASES as NER_ALIASES, NERConfig, build_tagger
from handlers.predictors.bert_ner import load_torch_runner as load_bert_ner
from handlers.predictors.tesseract import TesseractConfig, TesseractDetector, TesseractRecognizer, load_engine
from handlers.ops.ctc_decode import load_charset
from handlers.runtime import Device, Runner, load_runner

@dataclass(frozen=True)
class Family:
    """How one model family is checked, loaded and wrapped in its pre/post-processing."""

    name: str
    task: str
    check_config: Callable[[dict[str, Any]], Any]  # the zoo `config` -> the family's parsed config
    build: Callable[[ModelSpec, Any], Any]  # (spec, loaded runner or engine) -> the predictor
    load_torch: Callable[[ModelSpec, Device, int], Runner] | None = None  # runtime "torch"
    load_engine: Callable[[ModelSpec, Device, int], Any] | None = None  # runtime "tesseract"
    archs: Collection[str] = ()  # MMOCR config names a user's checkpoint of this family may name
    onnx: bool = True  # served from an .onnx weight file on onnxruntime
    onnx_from_checkpoint: bool = False  # `ocrserve export-onnx` exports this family's checkpoints

    def runtimes(self) -> tuple[str, ...]:
        if self.load_engine is not None:
            return ("tesseract",)
        return ("onnxruntime",) * self.onnx + ("torch",) * (self.load_torch is not None)


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


def _build_sdmgr(spec: ModelSpec, runner: Runner) -> SDMGRExtractor:
    if "class_list" not in spec.files:
        raise ValueError(f"{spec.name}: an SDMG-R archive needs its class list (class_list.txt)")
    names = read_class_list(spec.files["class_list"])
    context = ContextRelabeller(spec.files["context"], names) if "context" in spec.files else None
    return SDMGRExtractor(runner, SDMGRConfig.from_dict(spec.config), names, context)


FAMILIES: dict[str, Family] = {family.name: family for family in (
    Family("db", "det", DBConfig.from_dict, lambda spec, runner: DBDetector(runner, DBConfig.from_dict(spec.config))),
    Family("ctc", "rec", lambda config: CTCConfig.from_dict(config, ["x"]),
           lambda spec, runner: CTCRecognizer(runner, CTCConfig.from_dict(spec.config, _charset(spec, runner)))),
    Family("angle", "cls", AngleConfig.from_dict,
           lambda spec, runner: AngleClassifier(runner, AngleConfig.from_dict(spec.config))),
    Family("mmocr_det", "det", MMOCRDetConfig.from_dict,
           lambda spec, runner: MMOCRDetector(runner, MMOCRDetConfig.from_dict(spec.config)),
           load_torch=load_mmocr_det, archs=mmocr_det_configs(), onnx_from_checkpoint=True),
    Family("mmocr_rec", "rec", MMOCRRecConfig.from_dict,
           lambda spec, runner: MMOCRRecognizer(runner, MMOCRRecConfig.from_dict(spec.config)),
           load_torch=load_mmocr_rec, archs=mmocr_rec_configs(), onnx_from_checkpoint=True),
    Family("sdmgr", "kie", SDMGRConfig.from_dict, _build_sdmgr,
           load_torch=load_sdmgr, archs=sorted(SDMGR_CFGS), onnx=False),
    Family("tesseract_det", "det", TesseractConfig.from_dict,
           lambda spec, engine: TesseractDetector(engine), load_engine=load_engine),
    Family("tesseract_rec", "rec", TesseractConfig.from_dict,
           lambda spec, engine: TesseractRecognizer(engine), load_engine=load_engine),
    Family("bert_ner", "ner", NERConfig.from_dict, build_tagger,
           load_torch=load_bert_ner, archs=sorted(NER_CFGS) + sorted(NER_ALIASES), onnx=False),
)}

#: Every MMOCR config name -> the family serving checkpoints of it (each name in one family only).
_ARCHS: dict[str, Family] = {arch: family for family in FAMILIES.values() for arch in family.archs}
assert len(_ARCHS) == sum(len(f.archs) for f in FAMILIES.values()), "an arch is served by two families"


def family(name: str) -> Family:
    if name not in FAMILIES:
        raise UnknownName("model family", name, FAMILIES)
    return FAMILIES[name]


def family_of_arch(arch: str) -> Family:
    """The family serving checkpoints of an MMOCR config name (`ocrserve archive --arch`)."""
    if arch not in _ARCHS:
        raise UnknownName("MMOCR config", arch, _ARCHS)
    return _ARCHS[arch]


def check_config(spec: ModelSpec) -> Any:
    """The family's parsed config of a spec, without loading weights (archive build, zoo check)."""
    fam = family(spec.family)
    if fam.task != spec.task:
        raise ValueError(f"family {spec.family!r} serves task {fam.task!r}, not {spec.task!r}")
    if spec.runtime not in fam.runtimes():
        raise ValueError(f"family {spec.family!r} runs on {', '.join(fam.runtimes())}, not {spec.runtime!r}")
    return fam.check_config(spec.config)


def build_model(spec: ModelSpec, device: Device = Device(), threads: int = 1) -> Any:
    """Load the weights and wrap them in the family's pre/post-processing: the predictor."""
    fam = family(spec.family)
    check_config(spec)
    if spec.runtime == "tesseract":
        # no weight file to open: the engine reads the installed traineddata itself
        return fam.build(spec, fam.load_engine(spec, device, threads))
    if spec.runtime == "torch":
        return fam.build(spec, fam.load_torch(spec, device, threads))
    return fam.build(spec, load_runner(spec.runtime, spec.weights, device, threads))
