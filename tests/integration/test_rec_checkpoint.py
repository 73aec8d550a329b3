"""An MMOCR CRNN checkpoint served by a real TorchServe with batching on (batch_size 4, 400 ms):
concurrent single-crop requests, a multi-crop request and a bad crop among good ones read exactly
what the in-process recogniser reads one crop at a time."""
from __future__ import annotations

import base64
import shutil
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from handlers.api.spec import ModelSpec
from handlers.registry import build_model
from service.tooling.packaging.archive import build_archive, build_checkpoint_archive
from service.gateway.zoo import Serving, load_zoo
from tests.conftest import REPO, data_path
from tests.integration.servers import running_torchserve, torch_serve_config_for_store
from tests.oracle import save_checkpoint

ARCH = "crnn_mini-vgg_5e_mj"
BATCH = Serving(batch_size=4, max_batch_delay_ms=400, workers=1)


@pytest.fixture(scope="module")
def crops() -> list[bytes]:
    folder = data_path("mmocr", "0.x", "ocr_toy_dataset", "imgs")
    return [p.read_bytes() for p in sorted(folder.glob("*.jpg"))]


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """One TorchServe with the checkpoint archived at batch size 4; yields (inference URL,
    management URL, checkpoint, run dir)."""
    root = tmp_path_factory.mktemp("rec-ckpt")
    checkpoint = save_checkpoint(ARCH, root / "crnn.pth")
    zoo_path, store = root / "zoo.yaml", root / "store"
    shutil.copy(REPO / "model_store" / "zoo.yaml", zoo_path)
    build_checkpoint_archive("myrec", ARCH, checkpoint, store=store, zoo_path=zoo_path)
    entry = load_zoo(zoo_path).get("myrec").model_copy(update={"serving": BATCH})
    build_archive(entry, store=store, force=True)
    config = torch_serve_config_for_store(root / "ts", store, ["myrec"])
    with running_torchserve(config) as server:
        yield server.config.inference_url, server.config.management_url, checkpoint, config.run_dir


@pytest.fixture(scope="module")
def expected(served, crops) -> list[dict]:
    """The in-process reads, one crop at a time, in the handler's response shape."""
    import cv2
    import numpy as np

    recognizer = build_model(ModelSpec("myrec", "rec", "mmocr_rec", "torch", served[2], {"arch": ARCH}))
    images = [cv2.imdecode(np.frombuffer(c, np.uint8), cv2.IMREAD_COLOR) for c in crops]
    return [recognizer([image])[0].to_json(positions=True) for image in images]


def _same(got: dict, want: dict) -> bool:
    return (got["text"] == want["text"] and abs(got["score"] - want["score"]) <= 1e-4
            and [c[0] for c in got["chars"]] == [c[0] for c in want["chars"]]
            and all(abs(a - b) <= 1e-3 for g, w in zip(got["chars"], want["chars"]) for a, b in zip(g[1:3], w[1:3])))


def _handler_calls(run_dir) -> int:
    """Batches the worker has handled so far (TorchServe 0.12 logs one line per handler call)."""
    log = run_dir / "logs" / "model_log.log"
    return log.read_text(errors="replace").count("Backend received inference") if log.is_file() else 0


def test_archive_asks_torchserve_for_batches(served):
    description = httpx.get(f"{served[1]}/models/myrec", timeout=30).json()[0]
    assert description["batchSize"] == 4 and description["maxBatchDelay"] == 400


def test_concurrent_single_crops_with_a_bad_one_read_as_one_by_one(served, crops, expected):
    bodies = crops[:7] + [b"this is not an image"] + crops[7:]

    def post(body: bytes) -> httpx.Response:
        image = base64.b64encode(body).decode()
        return httpx.post(f"{served[0]}/predictions/myrec", json={"image": image, "options": {"positions": True}},
                          timeout=120)

    calls_before = _handler_calls(served[3])
    with ThreadPoolExecutor(max_workers=len(bodies)) as pool:
        replies = list(pool.map(post, bodies))
    assert _handler_calls(served[3]) - calls_before < len(bodies)  # some requests shared a batch
    bad = replies.pop(7)
    assert 400 <= bad.status_code < 500, bad.text
    assert [r.status_code for r in replies] == [200] * len(crops), [r.text for r in replies]
    for reply, want in zip(replies, expected):
        assert _same(reply.json(), want), (reply.json(), want)
    assert any(want["text"] for want in expected)


def test_multi_crop_request_reads_as_one_by_one(served, crops, expected):
    images = [base64.b64encode(c).decode() for c in crops]
    reply = httpx.post(f"{served[0]}/predictions/myrec",
                       json={"images": images, "options": {"positions": True}}, timeout=120)
    assert reply.status_code == 200, reply.text
    rows = reply.json()
    assert len(rows) == len(crops) and all(_same(got, want) for got, want in zip(rows, expected))
