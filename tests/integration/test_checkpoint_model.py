"""A user's MMOCR checkpoint archived with `--arch/--checkpoint` and served by a real TorchServe."""
from __future__ import annotations

import shutil
import sys

import httpx
import pytest
import torch

from service.archive import build_checkpoint_archive
from service.settings import Settings
from tests.conftest import REPO, SHARED, data_path
from tests.integration.servers import running_gateway, running_torchserve, torch_serve_config_for_store

ARCH = "dbnet_resnet18_fpnc_1200e_icdar2015"


@pytest.fixture(scope="module")
def served(tmp_path_factory, archives_ready):
    oracle = SHARED / "oracle"
    if not oracle.is_dir():
        pytest.skip(f"MMOCR oracle not available at {oracle}")
    sys.path.insert(0, str(oracle / "tools"))
    from oracle_weights import regenerate_state_dict

    root = tmp_path_factory.mktemp("ckpt-model")
    checkpoint = root / "dbnet.pth"
    torch.save({"state_dict": regenerate_state_dict(str(oracle / "models" / f"{ARCH}.keys.txt"),
                                                    str(oracle / "models" / f"{ARCH}.buffers.pt"))}, checkpoint)
    zoo_path, store = root / "zoo.yaml", root / "store"
    shutil.copy(REPO / "model_store" / "zoo.yaml", zoo_path)
    build_checkpoint_archive("mydet", ARCH, checkpoint, store=store, zoo_path=zoo_path)
    shutil.copy(REPO / "model_store" / "ppocrv6-tiny-rec.mar", store)
    config = torch_serve_config_for_store(root / "ts", store, ["mydet", "ppocrv6-tiny-rec"])
    with running_torchserve(config) as server:
        settings = Settings(inference_url=config.inference_url, management_url=config.management_url,
                            zoo_path=zoo_path, model_store=store)
        with running_gateway(settings) as url:
            yield server, url


def test_checkpoint_detector_answers_the_seed_call_and_the_gateway(served):
    server, url = served
    image = data_path("mmocr", "0.x", "toy_dataset", "imgs", "test", "img_10.jpg").read_bytes()
    direct = httpx.post(f"{server.config.inference_url}/predictions/mydet", content=image, timeout=120)
    assert direct.status_code == 200, direct.text
    rows = direct.json()["boundary_result"]
    # the oracle's fixed weights find 2 regions on this photo (the same network in-process, tested in unit)
    assert len(rows) >= 1 and all(len(r) == 9 for r in rows)
    body = httpx.post(f"{url}/ocr", params={"det": "mydet", "rec": "none"}, files={"file": ("a", image)},
                      timeout=120).json()
    assert body["models"]["det"] == "mydet"
    assert len(body["pages"][0]["result"]) == len(rows)
