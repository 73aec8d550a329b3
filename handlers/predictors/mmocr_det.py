"""MMOCR text detectors served from a user's checkpoint: every config of handlers.families.mmocr.

One composition for all families: the config's test-time resize rule -> BGR -> RGB, mean/std,
zero padding -> ``runner.outputs()`` (DRRG: its torch module's graph stage) -> the family's
post-processor -> polygons in original-image pixels, clipped to the image. ``DETECTOR_FAMILIES`` is the one table from a
family's configs (its ``DEFAULT_CFGS``) to its post-processing; ``RESIZE_RULES`` maps MMOCR's
test-time resize transforms to pure size functions. A family is served by adding a row to each.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Sequence

import cv2
import numpy as np

from handlers.api.results import Detection
from handlers.api.spec import UnknownName
from handlers.families.mmocr import dbnet, drrg, fcenet, maskrcnn, panet, psenet, textsnake
from handlers.families.mmocr.maskrcnn_post import decode_maskrcnn
from handlers.ops.db_postprocess import DBParams, db_postprocess
from handlers.ops.drrg_postprocess import drrg_postprocess
from handlers.ops.fce_postprocess import fce_postprocess
from handlers.ops.pan_postprocess import pan_postprocess
from handlers.ops.pse_postprocess import pse_postprocess
from handlers.ops.textsnake_postprocess import textsnake_postprocess
from handlers.runtime import Device, Runner, load_checkpoint_runner

Polygons = tuple[list[np.ndarray], list[float]]
#: (runner outputs of a batch of one, post-processor kwargs, (w, h) scale factor) -> polygons.
Decoder = Callable[[Sequence[np.ndarray], dict[str, Any], tuple[float, float]], Polygons]


def keep_ratio_size(height: int, width: int, scale: Sequence[int], keep_ratio: bool = True) -> tuple[int, int]:
    """mmcv's Resize: with keep_ratio the largest size fitting the (long, short) edge limits; (h, w)."""
    if not keep_ratio:
        return int(scale[1]), int(scale[0])
    long_edge, short_edge = max(scale), min(scale)
    factor = min(long_edge / max(height, width), short_edge / min(height, width))
    return int(height * factor + 0.5), int(width * factor + 0.5)


def short_side_size(height: int, width: int, short_size: int, scale_divisor: int = 1) -> tuple[int, int]:
    """MMOCR's ShortScaleAspectJitter at test time (ratio and aspect ranges (1, 1)); (h, w)."""
    factor = short_size / min(height, width)
    new_h, new_w = round(height * factor), round(width * factor)
    return (math.ceil(new_h / scale_divisor) * scale_divisor,
            math.ceil(new_w / scale_divisor) * scale_divisor)


#: MMOCR test-pipeline resize transform -> (h, w, **its DEFAULT_CFGS['test_resize'] numbers) -> (h, w).
RESIZE_RULES: dict[str, Callable[..., tuple[int, int]]] = {
    "Resize": keep_ratio_size,
    "ShortScaleAspectJitter": short_side_size,
}


def _decode_db(outputs: Sequence[np.ndarray], params: dict[str, Any], scale: tuple[float, float]) -> Polygons:
    return db_postprocess(outputs[0][0], DBParams(**params), scale=scale)


def _decode_map(postprocess: Callable[..., Polygons]) -> Decoder:
    """Families whose head gives one (N, C, H, W) map: PAN, PSE, TextSnake."""
    def decode(outputs: Sequence[np.ndarray], params: dict[str, Any], scale: tuple[float, float]) -> Polygons:
        return postprocess(outputs[0][0], **params, scale_factor=scale)
    return decode


def _decode_fce(outputs: Sequence[np.ndarray], params: dict[str, Any], scale: tuple[float, float]) -> Polygons:
    """Flattened [cls0, reg0, cls1, reg1, ...] back to FCENet's per-level dicts."""
    levels = [{"cls_res": cls[0], "reg_res": reg[0]} for cls, reg in zip(outputs[0::2], outputs[1::2])]
    return fce_postprocess(levels, **params, scale_factor=scale)


def _network_outputs(runner: Runner, tensor: np.ndarray) -> Sequence[Any]:
    return runner.outputs(tensor)


def _drrg_graph(runner: Runner, tensor: np.ndarray) -> Sequence[Any]:
    """DRRG's graph stage (GCN over text-component proposals) runs inside its torch module."""
    import torch

    return runner.module.detect(torch.from_numpy(tensor).to(str(runner.device)))


def _decode_drrg(outputs: Sequence[Any], params: dict[str, Any], scale: tuple[float, float]) -> Polygons:
    graph = outputs[0]
    return drrg_postprocess(graph.edges, graph.scores, graph.text_comps, **params, scale_factor=scale)


@dataclass(frozen=True)
class DetFamily:
    """What serving one MMOCR detector family needs beside its network."""

    cfgs: Mapping[str, dict[str, Any]]  # the family's DEFAULT_CFGS: config name -> its numbers
    params_of: Callable[[str], dict[str, Any]]  # config name -> post-processor keyword arguments
    decode: Decoder
    options: frozenset[str] = frozenset()  # request options that override the params
    infer: Callable[[Runner, np.ndarray], Sequence[Any]] = _network_outputs  # tensor -> decode's input
    torch_only: bool = False  # `infer` needs the torch module (no ONNX export of that step)


DETECTOR_FAMILIES: dict[str, DetFamily] = {
    "dbnet": DetFamily(dbnet.DEFAULT_CFGS, dbnet.db_params_kwargs, _decode_db,
                       frozenset({"mask_thr", "min_text_score", "unclip_ratio"})),
    "panet": DetFamily(panet.DEFAULT_CFGS, panet.pan_params_kwargs, _decode_map(pan_postprocess)),
    "psenet": DetFamily(psenet.DEFAULT_CFGS, psenet.pse_params_kwargs, _decode_map(pse_postprocess)),
    "fcenet": DetFamily(fcenet.DEFAULT_CFGS, fcenet.fce_params_kwargs, _decode_fce),
    "textsnake": DetFamily(textsnake.DEFAULT_CFGS, textsnake.textsnake_params_kwargs,
                           _decode_map(textsnake_postprocess)),
    "drrg": DetFamily(drrg.DEFAULT_CFGS, drrg.drrg_params_kwargs, _decode_drrg, infer=_drrg_graph, torch_only=True),
    "maskrcnn": DetFamily(maskrcnn.DEFAULT_CFGS, maskrcnn.maskrcnn_params_kwargs, decode_maskrcnn,
                          infer=_drrg_graph, torch_only=True),
}


def supported_configs() -> list[str]:
    """Every MMOCR detector config this family serves."""
    return sorted(name for family in DETECTOR_FAMILIES.values() for name in family.cfgs)


def family_of(arch: Any) -> DetFamily:
    """The family serving an MMOCR detector config; ValueError naming the supported ones."""
    for family in DETECTOR_FAMILIES.values():
        if isinstance(arch, str) and arch in family.cfgs:
            return family
    raise UnknownName("MMOCR detector config", arch, supported_configs())


@dataclass(frozen=True)
class MMOCRDetConfig:
    """The MMOCR config name and the numbers of its test pipeline and post-processor."""

    arch: str
    resize: dict[str, Any]  # DEFAULT_CFGS['test_resize']: 'type' (a RESIZE_RULES key) + its numbers
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    pad_divisor: int
    post: dict[str, Any]  # the family post-processor's keyword arguments

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> "MMOCRDetConfig":
        """`raw` names the MMOCR config (`arch`); its numbers come from the family's DEFAULT_CFGS."""
        arch = raw.get("arch")
        family = family_of(arch)
        cfg = family.cfgs[arch]
        resize = dict(cfg["test_resize"])
        if resize.get("type", "Resize") not in RESIZE_RULES:
            raise ValueError(f"{arch}: unsupported test resize {resize['type']!r}; supported: "
                             f"{', '.join(RESIZE_RULES)}")
        pre = cfg["preprocess"]
        return cls(arch, resize, tuple(pre["mean"]), tuple(pre["std"]), pre["pad_size_divisor"],
                   family.params_of(arch))


def target_size(height: int, width: int, cfg: MMOCRDetConfig) -> tuple[int, int]:
    """The (h, w) the config's test-time resize gives an image of (height, width)."""
    numbers = {k: v for k, v in cfg.resize.items() if k != "type"}
    return RESIZE_RULES[cfg.resize.get("type", "Resize")](height, width, **numbers)


def normalise(image: np.ndarray, cfg: MMOCRDetConfig) -> np.ndarray:
    """BGR uint8 (H, W, 3) -> the network's float32 (3, H, W): RGB, (x - mean) / std."""
    rgb = image[:, :, ::-1].astype(np.float32)
    return ((rgb - np.asarray(cfg.mean, np.float32)) / np.asarray(cfg.std, np.float32)).transpose(2, 0, 1)


def preprocess(image: np.ndarray, cfg: MMOCRDetConfig) -> tuple[np.ndarray, tuple[float, float]]:
    """BGR uint8 -> padded (1,3,H,W) float32 tensor and the (w, h) scale factors."""
    height, width = image.shape[:2]
    new_h, new_w = target_size(height, width, cfg)
    resized = cv2.resize(image, (new_w, new_h), interpolation=cv2.INTER_LINEAR)
    pad_h = -new_h % cfg.pad_divisor
    pad_w = -new_w % cfg.pad_divisor
    padded = np.pad(normalise(resized, cfg), ((0, 0), (0, pad_h), (0, pad_w)))
    return padded[None].copy(), (new_w / width, new_h / height)


def load_torch_runner(spec: Any, device: Device = Device(), threads: int = 1, fold: bool = True) -> Runner:
    """Build the config's network and load the checkpoint (MMOCR 1.x or 0.x), strictly, then
    fold its BatchNorms into the convolutions for inference (`mmocr/fuse.py`; `fold=False`
    keeps the loaded module as MMOCR names it).

    A 0.x PANet/PSENet checkpoint gets the 0.x backbone and head it was trained with.
    """
    from handlers.families.mmocr import build_model, convert_mmocr0x_state_dict
    from handlers.families.mmocr.fuse import fold_batchnorm
    from handlers.families.mmocr.mmocr0x import as_mmocr0x

    arch = spec.config["arch"]
    model = build_model(arch)

    def convert(checkpoint: Mapping[str, Any]) -> dict[str, Any]:
        state = convert_mmocr0x_state_dict(checkpoint)
        as_mmocr0x(model, arch, state)  # swaps submodules in place before the strict load
        return state

    runner = load_checkpoint_runner(model, spec.weights, device, threads, convert=convert)
    if fold:
        fold_batchnorm(runner.module)
    return runner


class MMOCRDetector:
    """An MMOCR detector network plus MMOCR's test-time pre- and post-processing."""

    def __init__(self, runner: Runner, cfg: MMOCRDetConfig):
        self.runner = runner
        self.cfg = cfg
        self.family = family_of(cfg.arch)
        if self.family.torch_only and not hasattr(runner, "module"):
            raise ValueError(f"{cfg.arch} is served on the torch runtime only (its post-network stage "
                             "runs in the torch module and has no ONNX export)")

    def __call__(self, image: np.ndarray, options: dict[str, float] | None = None) -> list[Detection]:
        """Detect text in one BGR image; `options` may override the family's thresholds (DB only)."""
        tensor, scale = preprocess(image, self.cfg)
        overrides = {k: v for k, v in (options or {}).items() if k in self.family.options}
        outputs = self.family.infer(self.runner, tensor)
        polygons, scores = self.family.decode(outputs, {**self.cfg.post, **overrides}, scale)
        limit = np.asarray(image.shape[1::-1], np.float64) - 1  # (w - 1, h - 1)
        return [Detection(np.clip(np.asarray(p, np.float64).reshape(-1, 2), 0, limit).astype(np.float32), float(s))
                for p, s in zip(polygons, scores)]
