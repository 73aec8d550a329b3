"""Shared fixtures: paths to ../shared, zoo weights, a fake TorchServe context."""
from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
DATA = SHARED / "data"


def data_path(*parts: str) -> Path:
    """A file under ../shared/data, or skip the test with the reason."""
    path = DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"shared data not available: {path}")
    return path


def pytest_configure(config):
    """Torch on one thread in every test process: figures that do not depend on the cores, and under
    `make test` its two worker processes (pytest-xdist) share the two cores instead of each asking
    for both. tests/oracle.py every_core is the one place that asks for more."""
    try:
        import torch
    except ImportError:  # a client-only environment
        return
    torch.set_num_threads(1)


@contextmanager
def one_torch_thread() -> Iterator[None]:
    """Run the block on one torch thread (results and timings that do not depend on the cores), then
    give back the thread count it found."""
    import torch

    from service.tooling.training import torch_threads_kept

    with torch_threads_kept():
        torch.set_num_threads(1)
        yield


@pytest.fixture
def one_thread():
    """A test on one torch thread: `pytestmark = pytest.mark.usefixtures("one_thread")`."""
    with one_torch_thread():
        yield


class FakeContext:
    """The parts of TorchServe's Context that our handlers use."""

    def __init__(self, model_dir: Path, gpu_id=None):
        self.system_properties = {"model_dir": str(model_dir), "gpu_id": gpu_id}
        self.manifest = {"model": {"modelName": "test"}}
        self.status: dict[int, tuple[int, str]] = {}
        self.headers: dict[int, dict[str, str]] = {}

    def set_response_status(self, code=200, phrase="", idx=0):
        self.status[idx] = (code, phrase)

    def set_response_content_type(self, idx, value):
        self.headers.setdefault(idx, {})["content-type"] = value


def handle_rows(handler, rows: list[dict], model_dir: Path | str = ".") -> tuple[list, FakeContext]:
    """Rows through a handler's TorchServe entry as TorchServe calls it: one decoded JSON result
    per row (the count checked) and the context holding each row's status."""
    ctx = FakeContext(Path(model_dir))
    out = handler.handle(rows, ctx)
    assert len(out) == len(rows)
    return [json.loads(o) for o in out], ctx


def eval_json(capsys, *argv: str) -> dict:
    """`ocrserve eval --json ARGV`: the report, after checking the command succeeded."""
    from service.tooling.cli import main

    code = main(["eval", "--json", *argv])
    out = capsys.readouterr()
    assert code == 0, out.err
    return json.loads(out.out)


@pytest.fixture(scope="session", autouse=True)
def _jobs_outside_the_checkout(tmp_path_factory):
    """Gateways that tests start keep their job queue in a temporary folder, not in run/jobs."""
    before = os.environ.get("OCRSERVE_JOBS_DIR")
    os.environ["OCRSERVE_JOBS_DIR"] = str(tmp_path_factory.mktemp("jobs-default"))
    yield
    if before is None:
        os.environ.pop("OCRSERVE_JOBS_DIR", None)
    else:
        os.environ["OCRSERVE_JOBS_DIR"] = before


@pytest.fixture(scope="session")
def zoo():
    from service.gateway.zoo import load_zoo

    return load_zoo()


@pytest.fixture(scope="session")
def weights_ready(zoo):
    """Skip when the weight packages are not installed (scripts/setup.sh installs them)."""
    from service.tooling.packaging.weights import WeightError, weight_path

    try:
        for entry in zoo.models.values():
            if entry.installed():  # Tesseract's models need apt packages: their tests skip alone
                weight_path(entry)
    except WeightError as exc:
        pytest.skip(f"weights not installed: {exc}")
    return True
