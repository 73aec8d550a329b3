"""`ocrserve ocr` as a user runs it: a real process against the session's gateway."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

from service.tooling.evaluation.metrics import character_error_rate
from tests.conftest import REPO, data_path


def _ocrserve(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-m", "service.tooling.cli", "ocr", *args], input=stdin, capture_output=True,
                          env=env, timeout=300)


@pytest.fixture(scope="module")
def url(gateway) -> str:
    return str(gateway.base_url).rstrip("/")


def test_folder_with_a_bad_file_goes_on_and_fails_at_the_end(url, tmp_path):
    folder = tmp_path / "in"
    (folder / "sub").mkdir(parents=True)
    shutil.copy(data_path("mmocr", "demo", "demo_text_recog.jpg"), folder / "sub" / "star.jpg")
    shutil.copy(data_path("mmocr", "demo", "demo_text_ocr.jpg"), folder / "shop.jpg")
    (folder / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    out = tmp_path / "out"
    run = _ocrserve(str(folder), "--url", url, "--out", str(out), "--jobs", "2", "--format", "json")
    stderr = run.stderr.decode()
    assert run.returncode == 1, stderr
    assert "FAILED" in stderr and "broken.png" in stderr and "BadImage" in stderr  # the API's message
    assert stderr.strip().splitlines()[-1] == "ocr: 3 inputs, 2 read, 1 failed"
    shop = json.loads((out / "in" / "shop.json").read_text())
    assert any("SALE" in line["text"].upper() for line in shop["pages"][0]["result"])
    assert (out / "in" / "sub" / "star.json").is_file() and not (out / "in" / "broken.json").exists()
    assert run.stdout == b""  # with --out, results go to files only


def test_stdin_to_text_on_stdout(url):
    image = data_path("mmocr", "demo", "demo_text_recog.jpg").read_bytes()
    run = _ocrserve("-", "--url", url, "--det", "none", "--format", "text", stdin=image)
    assert run.returncode == 0, run.stderr.decode()
    assert run.stdout.decode().strip().upper() == "STAR"
    assert "ocr: 1 inputs, 1 read, 0 failed" in run.stderr.decode()


def test_unreachable_gateway_fails_each_file_clearly(tmp_path):
    run = _ocrserve(str(data_path("mmocr", "demo", "demo_text_recog.jpg")), "--url", "http://127.0.0.1:9")
    assert run.returncode == 1 and "FAILED" in run.stderr.decode() and "127.0.0.1:9" in run.stderr.decode()


def test_local_run_turns_upside_down_lines_with_cls(tmp_path, weights_ready):
    """`--local --cls`: the in-process pipeline classifies text direction as /ocr?cls=true does."""
    from PIL import Image

    image = tmp_path / "upside_down.png"
    Image.open(data_path("mmocr", "0.x", "toy_dataset", "imgs", "test", "img_10.jpg")).rotate(180).save(image)
    plain = _ocrserve(str(image), "--local", "--format", "text")
    turned = _ocrserve(str(image), "--local", "--cls", "--format", "text")
    assert plain.returncode == 0 and turned.returncode == 0, (plain.stderr, turned.stderr)
    assert b"HarbourFront" not in plain.stdout and b"HarbourFront" in turned.stdout, (plain.stdout, turned.stdout)


def test_local_kie_run_reads_like_the_gateway(gateway, weights_ready):
    # README: `ocrserve ocr receipt.jpg --kie sdmgr --local` (the pipeline in-process, no server)
    receipt = data_path("mmocr", "main", "kie_toy_dataset", "wildreceipt", "1.jpeg")
    run = _ocrserve(str(receipt), "--kie", "sdmgr", "--local")
    assert run.returncode == 0, run.stderr.decode()[-2000:]
    local = json.loads(run.stdout)["pages"][0]["result"]
    served = gateway.post("/ocr?kie=sdmgr", files={"file": ("r.jpeg", receipt.read_bytes())}).json()
    served = served["pages"][0]["result"]
    assert len(local) == len(served) > 20
    # TorchServe may read a crop in one padded batch with another request's crops, which can turn
    # a character of a borderline reading ('Multiplled Cpn' here, 'Cen' served): the same lines in
    # the same order, all but a character or two, and nearly every label must agree
    text = "\n".join(line["text"] for line in local)
    assert character_error_rate(text, "\n".join(line["text"] for line in served)) < 0.01
    same_label = sum(a["label"] == b["label"] for a, b in zip(local, served))
    assert same_label >= len(local) - 1
