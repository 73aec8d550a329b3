"""A user's MMOCR DBNet checkpoint served through the detection handler (torch runtime)."""
from __future__ import annotations

import json
import shutil
import sys
import zipfile

import cv2
import numpy as np
import pytest
import torch

from handlers.families.mmocr_det import MMOCRDetConfig, preprocess
from handlers.ts_entry import OcrServeEntry
from service.archive import build_checkpoint_archive
from service.zoo import load_zoo
from tests.conftest import REPO, SHARED, FakeContext, data_path

ARCH = "dbnet_resnet18_fpnc_1200e_icdar2015"
ORACLE = SHARED / "oracle"


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    """MMOCR 1.x weights of the oracle, saved as a user would have them (.pth with state_dict)."""
    if not ORACLE.is_dir():
        pytest.skip(f"MMOCR oracle not available at {ORACLE}")
    sys.path.insert(0, str(ORACLE / "tools"))
    from oracle_weights import regenerate_state_dict

    state = regenerate_state_dict(str(ORACLE / "models" / f"{ARCH}.keys.txt"),
                                  str(ORACLE / "models" / f"{ARCH}.buffers.pt"))
    path = tmp_path_factory.mktemp("ckpt") / "dbnet_r18.pth"
    torch.save({"state_dict": state, "meta": {}}, path)
    return path


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
    zoo_path = tmp_path / "zoo.yaml"
    shutil.copy(REPO / "model_store" / "zoo.yaml", zoo_path)
    mar = build_checkpoint_archive("mydet", ARCH, checkpoint, store=tmp_path / "store", zoo_path=zoo_path)
    assert load_zoo(zoo_path).get("mydet").runtime == "torch"  # the gateway now knows the name
    model_dir = tmp_path / "unpacked"
    with zipfile.ZipFile(mar) as archive:
        archive.extractall(model_dir)
    handler = OcrServeEntry()
    handler.initialize(FakeContext(model_dir))
    image = data_path("mmocr", "0.x", "toy_dataset", "imgs", "test", "img_10.jpg").read_bytes()
    ctx = FakeContext(model_dir)
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
    zoo_path = tmp_path / "zoo.yaml"
    shutil.copy(REPO / "model_store" / "zoo.yaml", zoo_path)
    mar = build_checkpoint_archive("olddet", ARCH, path, store=tmp_path / "store", zoo_path=zoo_path)
    with zipfile.ZipFile(mar) as archive:
        archive.extractall(tmp_path / "old")
    handler = OcrServeEntry()
    handler.initialize(FakeContext(tmp_path / "old"))  # strict load after the 0.x -> 1.x rename
    assert handler.handler.model.cfg.arch == ARCH
    with pytest.raises(ValueError, match="unsupported MMOCR config"):
        build_checkpoint_archive("bad", "nosuch_config", path, store=tmp_path / "store", zoo_path=zoo_path)
