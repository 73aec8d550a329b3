"""Weight files from registry packages: install them aside, find them, check their digests."""
from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

from service.gateway.locations import DATA_ROOT, work_root
from service.gateway.zoo import DEBIAN, IN_REPO, LOCAL, PackagedFile, ZooEntry

DEFAULT_CACHE = work_root() / ".cache" / "weights"


class WeightError(RuntimeError):
    """A weight file is missing or is not the file the zoo pins."""


def package_dir(package: str, version: str, cache: Path = DEFAULT_CACHE) -> Path:
    """Where `package==version` is unpacked (never on sys.path: it is only a weight source)."""
    return cache / f"{package}-{version}"


def install_package(package: str, version: str, cache: Path = DEFAULT_CACHE) -> Path:
    """pip-install one weight package without its dependencies into its own folder."""
    target = package_dir(package, version, cache)
    done = target / ".installed"
    if done.exists():
        return target
    cmd = [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-compile",
           "--target", str(target), f"{package}=={version}"]
    result = subprocess.run(cmd, capture_output=True, text=True)
    if result.returncode != 0:
        raise WeightError(f"could not install {package}=={version}:\n{result.stderr[-2000:]}")
    done.write_text(f"{package}=={version}\n")
    return target


def sha256_of(path: Path) -> str:
    """Hex sha256 of a file, read in chunks; hashed once per process while the file's size and
    modification time stay the same (a checkpoint archive pins, then verifies, the same file)."""
    stat = Path(path).stat()
    key = (str(Path(path).resolve()), stat.st_size, stat.st_mtime_ns)
    if key not in _DIGESTS:
        digest = hashlib.sha256()
        with open(path, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                digest.update(chunk)
        _DIGESTS[key] = digest.hexdigest()
    return _DIGESTS[key]


_DIGESTS: dict[tuple[str, int, int], str] = {}


def verified_file(entry: ZooEntry, item: PackagedFile, cache: Path = DEFAULT_CACHE) -> Path:
    """Path of a packaged file of `entry`, after checking its sha256."""
    if entry.weights.package == DEBIAN:
        path = Path(item.path)
        if not path.is_file():
            raise WeightError(f"{entry.name}: {path} not found; it comes from a Debian package "
                              "(run scripts/setup_tesseract.sh)")
    elif entry.weights.package == LOCAL:
        path = Path(item.path)
    elif entry.weights.package == IN_REPO:
        path = DATA_ROOT / item.path
    else:
        path = package_dir(entry.weights.package, entry.weights.version, cache) / item.path
    if not path.is_file():
        raise WeightError(f"{entry.name}: {item.path} not found; run `ocrserve weights` first")
    actual = sha256_of(path)
    if actual != item.sha256:
        raise WeightError(f"{entry.name}: {path} has sha256 {actual}, the zoo pins {item.sha256}")
    return path


def weight_path(entry: ZooEntry, cache: Path = DEFAULT_CACHE) -> Path:
    """The verified weight file of `entry`."""
    return verified_file(entry, entry.weights, cache)
