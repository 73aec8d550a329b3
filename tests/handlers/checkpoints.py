"""Shared steps of the checkpoint tests: oracle weights saved as a .pth, archived, unpacked, loaded."""
from __future__ import annotations

import shutil
import zipfile
from pathlib import Path

from handlers.ts_entry import OcrServeEntry
from service.tooling.packaging.archive import build_checkpoint_archive
from tests.conftest import REPO, FakeContext

def private_zoo(tmp_path: Path) -> Path:
    """A copy of the zoo whose local.yaml the test may write."""
    zoo_path = tmp_path / "zoo.yaml"
    shutil.copy(REPO / "model_store" / "zoo.yaml", zoo_path)
    return zoo_path


def served(name: str, arch: str, checkpoint: Path, tmp_path: Path) -> OcrServeEntry:
    """Archive a checkpoint, unpack the .mar as TorchServe does, and initialise its handler."""
    mar = build_checkpoint_archive(name, arch, checkpoint, store=tmp_path / "store", zoo_path=private_zoo(tmp_path))
    return unpacked_handler(mar, tmp_path / f"unpacked-{name}")


def unpacked_handler(mar: Path, model_dir: Path) -> OcrServeEntry:
    """Unpack a .mar into `model_dir` as TorchServe does and initialise its handler there."""
    with zipfile.ZipFile(mar) as archive:
        archive.extractall(model_dir)
    handler = OcrServeEntry()
    handler.initialize(FakeContext(model_dir))
    return handler
