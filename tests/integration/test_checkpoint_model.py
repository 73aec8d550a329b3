"""A user's MMOCR checkpoint archived with `--arch/--checkpoint` and served by a real TorchServe."""
from __future__ import annotations

import shutil

import cv2
import httpx
import numpy as np
import pytest

from handlers.api.spec import ModelSpec
from handlers.registry import build_model
from handlers.ops.vertex_order import clockwise_from_top_left
from service.tooling.packaging.archive import build_checkpoint_archive
from service.gateway.settings import Settings
from tests.conftest import REPO, data_path
from tests.integration.servers import running_gateway, running_torchserve, torch_serve_config_for_store
from tests.oracle import save_checkpoint

ARCH = "dbnet_resnet18_fpnc_1200e_icdar2015"
PAN_ARCH = "panet_resnet18_fpem-ffm_600e_icdar2015"  # a second family in the same TorchServe start
IMAGE = ("mmocr", "0.x", "toy_dataset", "imgs", "test", "img_10.jpg")


@pytest.fixture(scope="module")
def served(tmp_path_factory, archives_ready):
    root = tmp_path_factory.mktemp("ckpt-model")
    zoo_path, store = root / "zoo.yaml", root / "store"
    shutil.copy(REPO / "model_store" / "zoo.yaml", zoo_path)
    build_checkpoint_archive("mydet", ARCH, save_checkpoint(ARCH, root / "dbnet.pth"),
                             store=store, zoo_path=zoo_path)
    build_checkpoint_archive("mypan", PAN_ARCH, save_checkpoint(PAN_ARCH, root / "panet.pth"),
                             store=store, zoo_path=zoo_path)
    shutil.copy(REPO / "model_store" / "ppocrv6-tiny-rec.mar", store)
    config = torch_serve_config_for_store(root / "ts", store, ["mydet", "mypan", "ppocrv6-tiny-rec"])
    with running_torchserve(config) as server:
        settings = Settings(inference_url=config.inference_url, management_url=config.management_url,
                            zoo_path=zoo_path, model_store=store)
        with running_gateway(settings) as url:
            yield server, url, root / "panet.pth"


def test_checkpoint_detector_answers_the_seed_call_and_the_gateway(served):
    server, url, _ = served
    image = data_path(*IMAGE).read_bytes()
    direct = httpx.post(f"{server.config.inference_url}/predictions/mydet", content=image, timeout=120)
    assert direct.status_code == 200, direct.text
    rows = direct.json()["boundary_result"]
    # the oracle's fixed weights find 2 regions on this photo (the same network in-process, tested in unit)
    assert len(rows) >= 1 and all(len(r) == 9 for r in rows)
    body = httpx.post(f"{url}/ocr", params={"det": "mydet", "rec": "none"}, files={"file": ("a", image)},
                      timeout=120).json()
    assert body["models"]["det"] == "mydet"
    assert len(body["pages"][0]["result"]) == len(rows)


def test_panet_checkpoint_served_equals_the_in_process_detector(served):
    server, url, checkpoint = served
    image = data_path(*IMAGE).read_bytes()
    direct = httpx.post(f"{server.config.inference_url}/predictions/mypan", content=image, timeout=120)
    assert direct.status_code == 200, direct.text
    rows = direct.json()["boundary_result"]
    decoded = cv2.imdecode(np.frombuffer(image, np.uint8), cv2.IMREAD_COLOR)
    local = build_model(ModelSpec("mypan", "det", "mmocr_det", "torch", checkpoint, {"arch": PAN_ARCH}))(decoded)
    assert len(rows) == len(local) >= 1  # PANet quads, in original-image pixels
    for row, det in zip(rows, local):
        # the same vertices, served clockwise from the top-left (MMOCR's boxPoints start elsewhere)
        assert np.allclose(row[:-1], clockwise_from_top_left(det.polygon).reshape(-1), atol=0.06) and row[-1] == pytest.approx(det.score, abs=1e-5)
        assert all(0 <= x <= 1279 for x in row[0:8:2]) and all(0 <= y <= 719 for y in row[1:8:2])
    body = httpx.post(f"{url}/ocr", params={"det": "mypan", "rec": "none"}, files={"file": ("a", image)},
                      timeout=120).json()
    assert body["models"]["det"] == "mypan"
    assert len(body["pages"][0]["result"]) == len(rows)
