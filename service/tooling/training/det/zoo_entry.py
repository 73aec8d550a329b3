"""A trained detector as a zoo entry: the base model's family, runtime, config keys and serving
settings, with the new ONNX file as its (`local`, sha256-pinned) weights."""
from __future__ import annotations

import hashlib
from pathlib import Path

from service.gateway.zoo import Zoo, ZooEntry


def trained_entry(base: ZooEntry, name: str, onnx_path: Path, description: str) -> ZooEntry:
    digest = hashlib.sha256(Path(onnx_path).read_bytes()).hexdigest()
    raw = base.model_dump(mode="json")
    raw.update(name=name, description=description,
               weights={"package": "local", "version": "trained", "path": str(Path(onnx_path).resolve()),
                        "sha256": digest})
    return ZooEntry.model_validate(raw)


def with_detector(zoo: Zoo, det: str) -> tuple[Zoo, str]:
    """(zoo, model name) for `det`: a zoo detector's name, or an ONNX file served like the zoo's
    default detector (same family and config) under the name of its folder."""
    return with_model(zoo, det, "det")


def with_model(zoo: Zoo, model: str, task: str) -> tuple[Zoo, str]:
    """with_detector for any task: a zoo model of `task`, or an ONNX file served like the zoo's
    default model of `task` (a trained recogniser: task "rec")."""
    if not model.endswith(".onnx"):
        entry = zoo.get(model)
        if entry.task != task:
            raise ValueError(f"{model} is a {entry.task} model, not a {task} model")
        return zoo, model
    path = Path(model)
    if not path.is_file():
        raise FileNotFoundError(f"no ONNX file {path}")
    base = zoo.get(zoo.defaults[task])
    name = f"{path.resolve().parent.name}-{path.stem}"
    entry = trained_entry(base, name, path, f"{path} served like {base.name}")
    return zoo.model_copy(update={"models": {**zoo.models, name: entry}}), name


def write_zoo(zoo: Zoo, path: Path) -> Path:
    """The whole zoo (e.g. with_detector's) as a manifest file a gateway can load (Settings.zoo_path)."""
    import yaml

    models = {name: entry.model_dump(exclude={"name"}, mode="json") for name, entry in zoo.models.items()}
    manifest = {"defaults": dict(zoo.defaults), "models": models}
    if zoo.photos is not None:
        manifest["photos"] = zoo.photos.model_dump()
    Path(path).write_text(yaml.safe_dump(manifest, sort_keys=False), encoding="utf-8")
    return Path(path)


def write_entry(out: Path, entry: ZooEntry) -> ZooEntry:
    """OUT/zoo_entry.yaml: the one entry, in the zoo manifest's form (merge it into a zoo)."""
    import yaml

    (Path(out) / "zoo_entry.yaml").write_text(
        yaml.safe_dump({entry.name: entry.model_dump(exclude={"name"}, mode="json")}, sort_keys=False),
        encoding="utf-8")
    return entry
