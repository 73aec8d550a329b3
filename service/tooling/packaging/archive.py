"""Build TorchServe .mar archives from zoo entries (weights verified first)."""
from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

from handlers.api.spec import ModelSpec
from handlers.registry import Family, check_config, family_of_arch
from service.tooling.packaging.weights import DEFAULT_CACHE, LOCAL, sha256_of, verified_file, weight_path
from service.gateway.locations import local_zoo_path, work_root
from service.gateway.zoo import DEFAULT_ZOO, LOCAL_ZOO_NAME, REPO_ROOT, ZooEntry, add_local_model, load_zoo

HANDLERS_DIR = REPO_ROOT / "handlers"
ENTRY_FILE = HANDLERS_DIR / "ts_entry.py"
DEFAULT_STORE = work_root() / "model_store"


def _handler_sources() -> list[Path]:
    return sorted(p for p in HANDLERS_DIR.rglob("*.py") if "__pycache__" not in p.parts)


def _fingerprint(entry: ZooEntry) -> str:
    """Changes whenever anything that goes into the archive changes."""
    digest = hashlib.sha256(entry.model_dump_json().encode())
    for path in _handler_sources():
        digest.update(str(path.relative_to(REPO_ROOT)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def _model_config_yaml(entry: ZooEntry) -> dict:
    serving = entry.serving
    return {"minWorkers": serving.workers, "maxWorkers": serving.workers,
            "batchSize": serving.batch_size, "maxBatchDelay": serving.max_batch_delay_ms,
            "responseTimeout": serving.response_timeout_s}


def stage_model_files(entry: ZooEntry, extra: Path, cache: Path = DEFAULT_CACHE) -> Path:
    """Write model_config.json and the entry's extra files into `extra`; returns the weight file.

    `extra` plus the weight file is what TorchServe unpacks as the model directory, so tests
    build a model directory with this and a copy of the weights.
    """
    weights = weight_path(entry, cache)
    extra.mkdir(parents=True, exist_ok=True)
    files = {}
    for key, item in entry.files.items():
        source = verified_file(entry, item, cache)
        files[key] = extra / f"{key}{source.suffix}"
        shutil.copy2(source, files[key])
    spec = ModelSpec(entry.name, entry.task, entry.family, entry.runtime, weights, entry.config, files)
    check_config(spec)
    (extra / "model_config.json").write_text(json.dumps(spec.to_json(), indent=2), encoding="utf-8")
    return weights


def _stage(entry: ZooEntry, stage: Path, cache: Path) -> tuple[Path, Path]:
    """Lay out the archive's extra files; returns (weights, model-config.yaml)."""
    extra = stage / "extra"
    shutil.copytree(HANDLERS_DIR, extra / "handlers", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    weights = stage_model_files(entry, extra, cache)
    config_yaml = stage / "model-config.yaml"
    config_yaml.write_text(yaml.safe_dump(_model_config_yaml(entry)), encoding="utf-8")
    return weights, config_yaml


def build_archive(entry: ZooEntry, store: Path = DEFAULT_STORE, cache: Path = DEFAULT_CACHE,
                  force: bool = False) -> Path:
    """Build `<store>/<name>.mar` unless an identical one is there already; returns its path."""
    store.mkdir(parents=True, exist_ok=True)
    mar = store / f"{entry.name}.mar"
    stamp = store / f".{entry.name}.fingerprint"
    fingerprint = _fingerprint(entry)
    if not force and mar.exists() and stamp.exists() and stamp.read_text() == fingerprint:
        weight_path(entry, cache)  # still verify the source is what the zoo pins
        return mar
    with tempfile.TemporaryDirectory(prefix=f"ocrserve-{entry.name}-") as tmp:
        weights, config_yaml = _stage(entry, Path(tmp), cache)
        archiver = Path(sys.executable).with_name("torch-model-archiver")
        cmd = [str(archiver), "--model-name", entry.name, "--version", "1.0",
               "--serialized-file", str(weights), "--handler", str(ENTRY_FILE),
               "--extra-files", str(Path(tmp) / "extra"), "--config-file", str(config_yaml),
               "--runtime", "python", "--export-path", str(store), "--force"]
        subprocess.run(cmd, check=True, env={"TMPDIR": tmp, "PATH": "/usr/bin:/bin"})
    stamp.write_text(fingerprint)
    return mar


def refresh_stale(entries: list[ZooEntry], store: Path = DEFAULT_STORE, cache: Path = DEFAULT_CACHE) -> list[str]:
    """Rebuild the archives in `store` that this checkout built for older code or zoo entries.

    An archive carries the handler code it was built with, so after an update a stale archive
    would run the old handlers (or fail to import in the workers). Only archives with a
    fingerprint stamp (built by `build_archive`) are judged; an archive without one was built
    some other way and is left as it is. Returns the names rebuilt."""
    rebuilt = []
    for entry in entries:
        mar, stamp = store / f"{entry.name}.mar", store / f".{entry.name}.fingerprint"
        if mar.is_file() and stamp.is_file() and stamp.read_text() != _fingerprint(entry):
            build_archive(entry, store, cache)
            rebuilt.append(entry.name)
    return rebuilt


def build_checkpoint_archive(name: str, arch: str, checkpoint: Path, store: Path = DEFAULT_STORE,
                             zoo_path: Path = DEFAULT_ZOO, files: dict[str, Path] | None = None) -> Path:
    """Archive a user's MMOCR checkpoint and add it to the local zoo so the gateway knows it.

    `files` are extra archive files by key (KIE: `class_list` and `dict`), pinned by sha256 too.
    """
    if name in load_zoo(zoo_path).models and name not in _local_names(zoo_path):
        raise ValueError(f"{name!r} is a model of the zoo; choose another name")
    checkpoint = Path(checkpoint).resolve()
    if not checkpoint.is_file():
        raise ValueError(f"checkpoint {checkpoint} does not exist")
    entry = checkpoint_entry(name, arch, checkpoint, files)
    mar = build_archive(entry, store=store, force=True)
    add_local_model(entry, zoo_path)
    return mar


def checkpoint_entry(name: str, arch: str, checkpoint: Path, files: dict[str, Path] | None = None) -> ZooEntry:
    """The zoo entry serving a user's MMOCR checkpoint (or its ONNX export) of config `arch`."""
    checkpoint = Path(checkpoint).resolve()
    family = family_of_arch(arch)
    extra = _checked_files(family.task, files or {})
    return ZooEntry.model_validate({
        "name": name, "task": family.task, "family": family.name, "runtime": _runtime_of(checkpoint, arch, family),
        "description": f"MMOCR {arch} from {checkpoint.name}",
        "weights": {"package": LOCAL, "version": "0", "path": str(checkpoint), "sha256": sha256_of(checkpoint)},
        "files": extra,
        "config": {"arch": arch}, "serving": {"workers": 1, "batch_size": 1, "max_batch_delay_ms": 0}})


def _runtime_of(checkpoint: Path, arch: str, family: Family) -> str:
    """An exported .onnx is served by onnxruntime (det and rec), anything else by torch."""
    if checkpoint.suffix.lower() != ".onnx":
        return "torch"
    if "onnxruntime" not in family.runtimes():
        raise ValueError(f"{arch}: ONNX files are served for detectors and recognisers only, not {family.task}")
    from handlers.predictors.mmocr_det import family_of

    if family.task == "det" and family_of(arch).torch_only:
        raise ValueError(f"{arch} is served on the torch runtime only (its graph stage runs in the torch "
                         "module); archive the .pth checkpoint")
    from handlers.runtime import OnnxRunner

    try:
        exported = OnnxRunner(checkpoint).metadata().get("arch")  # set by ocrserve export-onnx
    except Exception as exc:  # onnxruntime's own error types; the CLI reports ValueErrors
        raise ValueError(f"{checkpoint.name} is not a loadable ONNX model: {exc}") from exc
    if exported is not None and exported != arch:
        raise ValueError(f"{checkpoint.name} was exported from {exported!r}, not {arch!r}")
    return "onnxruntime"


#: Extra files each task's checkpoint archive needs (KIE: MMOCR's class_list.txt and dict.txt;
#: NER: the BERT vocab file).
REQUIRED_FILES = {"kie": ("class_list", "dict"), "ner": ("vocab",)}
#: Extra files a checkpoint archive may carry (KIE: a context network, bench/kie_context.py --write).
OPTIONAL_FILES = {"kie": ("context",)}


def _checked_files(task: str, files: dict[str, Path]) -> dict[str, dict[str, str]]:
    """Zoo `files` entries of a checkpoint archive; the task's required files must all be given."""
    required = REQUIRED_FILES.get(task, ())
    missing = [key for key in required if not files.get(key)]
    if missing:
        flags = ", ".join("--" + key.replace("_", "-") for key in missing)
        raise ValueError(f"a {task} checkpoint also needs {flags}")
    optional = tuple(key for key in OPTIONAL_FILES.get(task, ()) if files.get(key))
    unknown = sorted(set(k for k, v in files.items() if v) - set(required) - set(optional))
    if unknown:
        raise ValueError(f"{', '.join(unknown)} do not apply to a {task} checkpoint")
    out = {}
    for key in required + optional:
        path = Path(files[key]).resolve()
        if not path.is_file():
            raise ValueError(f"{key} file {path} does not exist")
        out[key] = {"path": str(path), "sha256": sha256_of(path)}
    return out


def _local_names(zoo_path: Path) -> set[str]:
    local = local_zoo_path(zoo_path, LOCAL_ZOO_NAME)
    return set(yaml.safe_load(local.read_text()) or {}) if local.is_file() else set()
