"""A user's MMOCR DBNet checkpoint served through the detection handler (torch runtime)."""
from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
import torch

from handlers.families.mmocr_det import MMOCRDetConfig, preprocess
from service.archive import build_checkpoint_archive
from service.zoo import load_zoo
from tests.conftest import SHARED, FakeContext, data_path
from tests.unit.handlers.checkpoints import oracle_checkpoint, private_zoo, served

ARCH = "dbnet_resnet18_fpnc_1200e_icdar2015"
ORACLE = SHARED / "oracle"


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    return oracle_checkpoint(ARCH, tmp_path_factory.mktemp("ckpt") / "dbnet_r18.pth")


def test_preprocessing_matches_mmocr_test_pipeline():
    case = json.loads((ORACLE / "preproc" / "preproc_cases.json").read_text())["results"][ARCH] \
        if ORACLE.is_dir() else pytest.skip("MMOCR oracle not available")
    source = cv2.imread(str(ORACLE / "preproc" / case["source"]), cv2.IMREAD_COLOR)
    tensor, (sx, sy) = preprocess(source, MMOCRDetConfig.from_dict({"arch": ARCH}))
    assert list(tensor.shape) == case["normalised_input"]["shape"]
    assert (sx, sy) == pytest.approx(tuple(case["metainfo_after_pipeline"]["scale_factor"]))
    flat = tensor.reshape(-1)[:: case["normalised_input"]["sample_stride"]]
    assert np.allclose(flat, case["normalised_input"]["sample"], atol=1e-5)
    assert tensor.sum() == pytest.approx(case["normalised_input"]["sum"], rel=1e-5)


def test_checkpoint_archive_serves_through_the_handler(checkpoint, tmp_path):
    handler = served("mydet", ARCH, checkpoint, tmp_path)
    assert load_zoo(tmp_path / "zoo.yaml").get("mydet").runtime == "torch"  # the gateway now knows the name
    image = data_path("mmocr", "0.x", "toy_dataset", "imgs", "test", "img_10.jpg").read_bytes()
    ctx = FakeContext(tmp_path)
    [body] = [json.loads(out) for out in handler.handle([{"body": image}], ctx)]
    assert ctx.status == {}
    # the same as running the network and MMOCR's DB post-processing by hand
    direct = handler.handler.model(cv2.imdecode(np.frombuffer(image, np.uint8), cv2.IMREAD_COLOR))
    assert len(body["boundary_result"]) == len(direct)
    for row, det in zip(body["boundary_result"], direct):
        assert np.allclose(row[:-1], det.polygon.reshape(-1), atol=0.1) and row[-1] == pytest.approx(det.score, abs=1e-4)


def test_mmocr_0x_checkpoint_keys_load(checkpoint, tmp_path):
    state = torch.load(checkpoint, weights_only=True)["state_dict"]
    old = {("bbox_head." + k[len("det_head."):] if k.startswith("det_head.") else k): v for k, v in state.items()}
    path = tmp_path / "old.pth"
    torch.save({"state_dict": old}, path)
    handler = served("olddet", ARCH, path, tmp_path)  # strict load after the 0.x -> 1.x rename
    assert handler.handler.model.cfg.arch == ARCH
    with pytest.raises(ValueError, match="unsupported MMOCR config"):
        build_checkpoint_archive("bad", "nosuch_config", path, store=tmp_path / "store", zoo_path=private_zoo(tmp_path))
