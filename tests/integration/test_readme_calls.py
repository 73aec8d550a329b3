"""Every call in README.md's code blocks, run as written against the session's gateway and TorchServe.

The README's placeholders are made real (tests/doc_calls.py lists the calls run elsewhere or not at all):
the hosts/ports become the test servers', `.venv/bin/` the checkout's, the file names real files from
../shared/data (small ones, to keep the suite quick), `<base64>` a real word crop, `Fh0x...` the id the
block's first call got; $OCRSERVE_ADMIN_KEY is the test gateway's key. curl runs with --fail-with-body,
so an HTTP error fails the call, and a pipe fails when any part of it does.
"""
from __future__ import annotations

import ast
import asyncio
import base64
import contextlib
import io
import json
import os
import re
import shutil
import subprocess
import time

import numpy as np
import pytest
from PIL import Image

from tests import document_files
from tests.conftest import data_path
from tests.doc_calls import PYTHON_PLACEHOLDERS, REPO, WORKSPACE, Block, blocks, docs_run, excused
from tests.integration.conftest import ADMIN_KEY

RUN = [b for b in blocks() if any(not excused(c) for c in b.calls)]
# docs/*.md: only the calls DOCS_RUN names (the others need a reader's checkpoint or dataset: DOCS_NOT_RUN)
RUN += [Block(b.doc, b.line, b.lang, tuple(c for c in b.calls if docs_run(b.doc, c)))
        for doc in sorted((REPO / "docs").glob("*.md")) for b in blocks(doc) if any(docs_run(b.doc, c) for c in b.calls)]
JOB_ID = "Fh0x..."


def _bgr(path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB"))[:, :, ::-1]


def _on_square(image: np.ndarray | None, side: int = 128) -> np.ndarray:
    """`image` centred on a white square page (a blank page for None)."""
    page = np.full((side, side, 3), 255, np.uint8)
    if image is not None:
        h, w = image.shape[:2]
        y, x = (side - h) // 2, (side - w) // 2
        page[y:y + h, x:x + w] = image
    return page


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    """A folder holding every file the README names, made from real images of ../shared/data."""
    root = tmp_path_factory.mktemp("readme")
    demo = data_path("mmocr", "demo")
    words = data_path("mmocr", "0.x", "ocr_toy_dataset", "imgs")
    crops = [words / f"{n}.jpg" for n in ("1223729", "1036169", "1058891")]
    shutil.copy(demo / "demo_text_det.jpg", root / "photo.jpg")
    shutil.copy(demo / "demo_kie.jpeg", root / "receipt.jpg")
    Image.open(data_path("tesseract", "testing", "phototest.tif")).save(root / "page.png")
    for name, crop in zip(("word.png", "w1.png", "w2.png"), crops):
        Image.open(crop).save(root / name)
    (root / "demo").mkdir()
    for name in ("demo_text_ocr.jpg", "demo_kie.jpeg"):
        shutil.copy(demo / name, root / "demo" / name)
    for folder in ("scans", "imgs"):
        (root / folder).mkdir()
        shutil.copy(demo / "demo_text_recog.jpg", root / folder / "sign.jpg")
        shutil.copy(crops[0], root / folder / "word.jpg")
    # a 40-page scan: word crops on pages 1-7, then blank pages (the README reads pages 1-3,7 and 1-40);
    # small square pages, as the detector scales the short side up to 736 px: the job stays quick
    pages = [_on_square(_bgr(crops[i % len(crops)])) for i in range(7)] + [_on_square(None)] * 33
    (root / "scan.pdf").write_bytes(document_files.image_pdf(pages, dpi=72))
    (root / "report.pdf").write_bytes(document_files.text_pdf([["Quarterly report", "Sales rose by 4 percent."]]))
    (root / "fax.tif").write_bytes(document_files.tiff([_bgr(crops[0]), _bgr(crops[1])]))
    (root / "wildreceipt").mkdir()  # docs/datasets.md: MMOCR's WildReceipt close-set annotations
    shutil.copy(data_path("mmocr", "main", "kie_toy_dataset", "wildreceipt", "data.txt"),
                root / "wildreceipt" / "train.txt")
    assert all((root / name).exists() for name in WORKSPACE)
    return root


def _real(call: str, gateway, torchserve, workspace, job: str | None) -> str:
    """The call with the README's placeholders replaced by the test's servers, files and ids."""
    ts = torchserve.config
    gateway_url = str(gateway.base_url).rstrip("/")
    for written, real in (("http://127.0.0.1:8000", gateway_url), ("localhost:8000", gateway_url.split("//")[1]),
                          ("http://127.0.0.1:8080", ts.inference_url), ("http://127.0.0.1:8081", ts.management_url),
                          ("http://127.0.0.1:8082", f"http://127.0.0.1:{ts.metrics_port}"),
                          (".venv/bin/", f"{REPO}/.venv/bin/")):
        call = call.replace(written, real)
    if "<base64>" in call:
        call = call.replace("<base64>", base64.b64encode((workspace / "word.png").read_bytes()).decode())
    if JOB_ID in call:
        assert job, "the block's first call starts the job"
        call = call.replace(JOB_ID, job)
    return re.sub(r"(^|\|\s*)curl ", r"\1curl -sS --fail-with-body ", call)


def _wait_for(gateway, job: str) -> None:
    deadline = time.monotonic() + 300
    while (state := gateway.get(f"/jobs/{job}").json()["state"]) not in ("done", "failed"):
        assert time.monotonic() < deadline, f"job {job} still {state}"
        time.sleep(0.5)


def _run_shell(call, gateway, torchserve, workspace, job):
    if JOB_ID in call and "/result" in call:
        _wait_for(gateway, job)  # README: the result answers 409 while the job runs
    command = _real(call, gateway, torchserve, workspace, job)
    env = {**os.environ, "OCRSERVE_URL": str(gateway.base_url).rstrip("/"), "OCRSERVE_ADMIN_KEY": ADMIN_KEY,
           "PYTHONPATH": str(REPO)}
    run = subprocess.run(["bash", "-o", "pipefail", "-c", command], cwd=workspace, env=env, capture_output=True,
                         timeout=600)
    assert run.returncode == 0, f"{call}\n-> {command}\nexit {run.returncode}\n{run.stderr.decode()[-2000:]}" \
                                f"\n{run.stdout.decode(errors='replace')[-1000:]}"
    written = re.search(r"-o (\S+)", call)
    if written:
        assert (workspace / written.group(1)).stat().st_size > 0, call
    if re.search(r"curl -F file=@\S+ \S+/jobs\?", call):
        return json.loads(run.stdout)["id"]
    return job


def _run_python(snippet, gateway, workspace, monkeypatch):
    url = str(gateway.base_url).rstrip("/")
    monkeypatch.chdir(workspace)
    monkeypatch.setenv("OCRSERVE_URL", url)
    source = snippet.replace("http://127.0.0.1:8000", url)
    code = compile(source, "README.md", "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
    names = {**PYTHON_PLACEHOLDERS, "image_bytes": (workspace / "photo.jpg").read_bytes()}
    names["__name__"] = "__readme__"
    with contextlib.redirect_stdout(io.StringIO()):
        done = eval(code, names)  # a snippet with top-level `await` gives a coroutine to run
        if asyncio.iscoroutine(done):
            asyncio.run(done)
    return names


@pytest.mark.parametrize("block", RUN, ids=[b.id for b in RUN])
def test_readme_call_runs(block, gateway, torchserve, workspace, monkeypatch):
    loaded: set[str] = set()
    job = None
    try:
        for call in block.calls:
            if excused(call):
                continue
            if block.lang == "python":
                names = _run_python(call, gateway, workspace, monkeypatch)
                assert names.get("answer") is None or names["answer"].pages, call
                continue
            loaded |= set(re.findall(r"-X POST .*/models/([\w.-]+)", call))
            job = _run_shell(call, gateway, torchserve, workspace, job)
    finally:  # leave the session TorchServe with the models it had
        for name in loaded:
            gateway.delete(f"/models/{name}", headers={"Authorization": f"Bearer {ADMIN_KEY}"})
