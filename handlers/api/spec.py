"""What one archive (or the in-process pipeline) needs to build one model: model_config.json."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

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


class UnknownName(ValueError):
    """A model family, MMOCR config (arch) or task name that nothing serves; the message lists
    what is known. The one error every lookup by name raises."""

    def __init__(self, kind: str, name: object, known: "Iterable[str]"):
        self.kind, self.name, self.known = kind, name, sorted(known)
        super().__init__(f"unknown {kind} {name!r}; known: {', '.join(self.known) or 'none'}")
