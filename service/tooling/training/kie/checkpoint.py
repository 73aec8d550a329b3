"""Build, save and load trained SDMG-R models.

A checkpoint is MMOCR-style: ``{"state_dict": {...fp32 tensors, MMOCR 1.x key names...},
"meta": {...}}`` (no optimiser state), so ``handlers/families/kie`` loads it with
``strict=True``. ``class_list.txt`` and ``dict.txt`` are written beside it: the head's class
count comes from the first, the text embedding size from the second (characters + padding).
"""
from __future__ import annotations

import copy
import hashlib
from pathlib import Path
from typing import Any, Callable

import torch

from handlers.families.kie.sdmgr import DEFAULT_CFGS, SDMGR
from handlers.families.kie.text_encoding import KIEDictionary
from handlers.api.class_list import read_class_list

VARIANTS = {"novisual": "sdmgr_novisual_60e_wildreceipt", "unet16": "sdmgr_unet16_60e_wildreceipt"}
CLASS_LIST_NAME = "class_list.txt"
DICT_NAME = "dict.txt"


def arch_of(variant: str) -> str:
    """MMOCR config name of a variant (``novisual`` / ``unet16``)."""
    if variant not in VARIANTS:
        raise ValueError(f"unknown SDMG-R variant {variant!r}; supported: {sorted(VARIANTS)}")
    return VARIANTS[variant]


def build_model(arch: str, num_classes: int, dictionary: KIEDictionary) -> SDMGR:
    """An untrained SDMG-R of config ``arch`` with ``num_classes`` node classes."""
    if arch not in DEFAULT_CFGS:
        raise ValueError(f"unknown SDMG-R config {arch!r}; supported: {sorted(DEFAULT_CFGS)}")
    cfg = copy.deepcopy(DEFAULT_CFGS[arch])
    cfg["head"]["num_classes"] = num_classes
    return SDMGR(cfg["head"], cfg["backbone"], cfg["roi_layer"], dictionary=dictionary)


def write_dict(path: str | Path, dictionary: KIEDictionary) -> None:
    Path(path).write_text("".join(c + "\n" for c in dictionary.chars), encoding="utf-8")


def write_class_list(path: str | Path, classes: list[str]) -> None:
    Path(path).write_text("".join(f"{i} {n}\n" for i, n in enumerate(classes)), encoding="utf-8")


def save_checkpoint(out_dir: str | Path, model: SDMGR, classes: list[str], meta: dict[str, Any],
                    name: str = "sdmgr.pth") -> Path:
    """Write ``name`` (state_dict + meta), ``class_list.txt`` and ``dict.txt`` into ``out_dir``."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    state = {k: (v.detach().float() if v.is_floating_point() else v.detach()).cpu().clone()
             for k, v in model.state_dict().items()}
    path = out_dir / name
    torch.save({"state_dict": state, "meta": dict(meta)}, path)
    write_class_list(out_dir / CLASS_LIST_NAME, classes)
    write_dict(out_dir / DICT_NAME, model.kie_head.dictionary)
    return path


def load_checkpoint(path: str | Path, arch: str | None = None, dict_file: str | Path | None = None,
                    class_list: str | Path | None = None) -> tuple[SDMGR, list[str], dict[str, Any]]:
    """(model in eval mode, class names, meta) of a checkpoint; strict key check.

    ``arch`` defaults to the checkpoint's ``meta["arch"]``; the dictionary and class list default
    to the files beside the checkpoint."""
    path = Path(path)
    loaded = torch.load(path, map_location="cpu", weights_only=True)
    state = loaded.get("state_dict", loaded)
    meta = loaded.get("meta", {}) if "state_dict" in loaded else {}
    arch = arch or meta.get("arch")
    if arch is None:
        raise ValueError(f"{path}: no meta['arch'] in the checkpoint; say which config it is")
    classes = read_class_list(class_list or path.parent / CLASS_LIST_NAME)
    dictionary = KIEDictionary.from_file(dict_file or path.parent / DICT_NAME)
    model = build_model(arch, len(classes), dictionary)
    model.load_state_dict(state, strict=True)
    return model.eval(), classes, meta


def average_checkpoints(paths: list[str | Path]) -> dict[str, torch.Tensor]:
    """The uniform average of the state_dicts of ``paths`` (SWA-style averaging of one run's last
    epochs): floating tensors are averaged in fp64 then stored fp32; other tensors must be equal
    in every checkpoint. The checkpoints must share every key and shape."""
    if not paths:
        raise ValueError("no checkpoint to average")
    states = []
    for path in paths:
        loaded = torch.load(Path(path), map_location="cpu", weights_only=True)
        states.append(loaded.get("state_dict", loaded))
    return _mean_state(states, paths)


def _mean_state(states: list[dict[str, torch.Tensor]], paths: list[str | Path]) -> dict[str, torch.Tensor]:
    """The uniform mean of state_dicts (those of ``paths``, named in errors); see average_checkpoints."""
    keys = list(states[0])
    out: dict[str, torch.Tensor] = {}
    for path, state in zip(paths, states):
        if list(state) != keys or any(state[k].shape != states[0][k].shape for k in keys):
            raise ValueError(f"{path}: keys or shapes differ from {paths[0]}")
    for key in keys:
        first = states[0][key]
        if first.is_floating_point():
            out[key] = (sum(s[key].double() for s in states) / len(states)).to(first.dtype)
        elif all(torch.equal(s[key], first) for s in states):
            out[key] = first.clone()
        else:
            raise ValueError(f"non-float tensor {key!r} differs between the checkpoints")
    return out


def average_models(paths: list[str | Path]) -> tuple[SDMGR, list[str], dict[str, Any]]:
    """(model, class names, meta) whose weights are the uniform average of the checkpoints'
    (as ``average_checkpoints``): one run's last epochs, or a weight-space "soup" of runs fine-tuned
    from one initialisation with other seeds or augmentations. Runs trained from different
    starting weights do not average into a working model; nothing here can tell, so measure the
    result. Every checkpoint must have the same config, class list and dictionary; the meta is
    the first one's plus ``averaged``, the sha256 of each."""
    if not paths:
        raise ValueError("no checkpoint to average")
    model, classes, meta = load_checkpoint(paths[0])
    states = [model.state_dict()]
    for path in paths[1:]:
        other, other_classes, other_meta = load_checkpoint(path)
        states.append(other.state_dict())
        if other_meta.get("arch") != meta.get("arch"):
            raise ValueError(f"{path}: config {other_meta.get('arch')!r} differs from {paths[0]}'s {meta.get('arch')!r}")
        if other_classes != classes:
            raise ValueError(f"{path}: its class list differs from {paths[0]}'s")
        if other.kie_head.dictionary.chars != model.kie_head.dictionary.chars:
            raise ValueError(f"{path}: its dictionary differs from {paths[0]}'s")
    model.load_state_dict(_mean_state(states, paths), strict=True)
    shas = [hashlib.sha256(Path(p).read_bytes()).hexdigest() for p in paths]
    return model.eval(), classes, dict(meta, averaged=shas)


def greedy_soup(paths: list[str | Path], score: Callable[[SDMGR, list[str]], float], tolerance: float,
                log: Callable[[str], None] = print) -> list[str | Path]:
    """The checkpoints a greedy soup keeps, in the order given: the first always; each next one joins
    when the average of the kept ones and it scores at least the lowest of those models' own scores
    minus ``tolerance`` (``score``: higher is better, e.g. micro-F1 on receipts they trained on: a soup
    that lands off its ingredients shows there, see model_store/weights/sdmgr-receipts "Stage 6")."""
    alone: dict[str, float] = {}

    def own(path: str | Path) -> float:
        if str(path) not in alone:
            model, classes, _ = load_checkpoint(path)
            alone[str(path)] = score(model, classes)
            log(f"{path}: {alone[str(path)]:.4f} alone")
        return alone[str(path)]

    kept = [paths[0]]
    own(paths[0])
    for path in paths[1:]:
        trial = [*kept, path]
        floor = min(own(p) for p in trial) - tolerance
        model, classes, _ = average_models(trial)
        got = score(model, classes)
        verdict = "joins" if got >= floor else "left out"
        log(f"{path}: the average of {len(trial)} scores {got:.4f} against a floor of {floor:.4f}: {verdict}")
        if got >= floor:
            kept = trial
    return kept
