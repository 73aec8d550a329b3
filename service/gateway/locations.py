"""Where things are: code and shipped data (read-only) versus what ocrserve writes.

From a checkout everything stays where it always was (model_store/, .cache/, run/ beside the code).
From an installed wheel the code lives in site-packages, which may be read-only and is shared:
the zoo manifest and the in-repo weights are read from the package data (ocrserve/model_store/),
and everything written (archives, local.yaml, downloaded weights, run files) goes under
$OCRSERVE_HOME, or the current directory when that is not set.
"""
from __future__ import annotations

import os
from pathlib import Path

#: The checkout root, or site-packages for an installed wheel.
CODE_ROOT = Path(__file__).resolve().parents[2]
#: True when running from a source tree (a checkout, or an image that copies the tree): its
#: model_store/ sits beside the packages. site-packages has none (the wheel ships it inside ocrserve/).
IN_CHECKOUT = (CODE_ROOT / "model_store" / "zoo.yaml").is_file()
#: The folder holding model_store/zoo.yaml and model_store/weights/ (zoo paths are relative to it).
DATA_ROOT = CODE_ROOT if IN_CHECKOUT else CODE_ROOT / "ocrserve"


def work_root() -> Path:
    """The writable root: the checkout, else $OCRSERVE_HOME, else the current directory."""
    if IN_CHECKOUT:
        return CODE_ROOT
    return Path(os.environ.get("OCRSERVE_HOME") or Path.cwd()).resolve()


def local_zoo_path(zoo_path: Path, local_name: str) -> Path:
    """Where the user's own models (local.yaml) live: beside a zoo the user owns, else in the
    writable model store (never inside the installed package)."""
    zoo_path = Path(zoo_path).resolve()
    if not IN_CHECKOUT and zoo_path.is_relative_to(DATA_ROOT.resolve()):
        return work_root() / "model_store" / local_name
    return zoo_path.with_name(local_name)
