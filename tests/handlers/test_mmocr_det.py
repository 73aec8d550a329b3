"""A user's MMOCR DBNet checkpoint served through the detection handler (torch runtime)."""
from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
import torch

from handlers.api.spec import ModelSpec
from handlers.registry import build_model
from handlers.families.mmocr import build_model as build_mmocr
from handlers.families.mmocr.panet import DEFAULT_CFGS as PANET_CFGS
from handlers.families.mmocr.psenet import DEFAULT_CFGS as PSENET_CFGS
from handlers.families.mmocr.resnet import ResNet
from handlers.predictors.mmocr_det import MMOCRDetConfig, MMOCRDetector, load_torch_runner, preprocess
from handlers.ops.drrg_postprocess import drrg_postprocess
from handlers.ops.fce_postprocess import fce_postprocess
from handlers.ops.pan_postprocess import pan_postprocess
from handlers.ops.pse_postprocess import pse_postprocess
from handlers.ops.textsnake_postprocess import textsnake_postprocess
from handlers.ops.vertex_order import clockwise_from_top_left
from handlers.runtime import OnnxRunner, TorchRunner, flatten_outputs
from service.tooling.packaging.archive import build_checkpoint_archive
from service.gateway.zoo import load_zoo
from tests.conftest import FakeContext, data_path
from tests.oracle import ORACLE, save_checkpoint
from tests.handlers.checkpoints import private_zoo, served

ARCH = "dbnet_resnet18_fpnc_1200e_icdar2015"
DEFAULT_CFGS_OF = {**PANET_CFGS, **PSENET_CFGS}


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    return save_checkpoint(ARCH, tmp_path_factory.mktemp("ckpt") / "dbnet_r18.pth")


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
        assert np.allclose(row[:-1], clockwise_from_top_left(det.polygon).reshape(-1), atol=0.1) and row[-1] == pytest.approx(det.score, abs=1e-4)


def test_mmocr_0x_checkpoint_keys_load(checkpoint, tmp_path):
    state = torch.load(checkpoint, weights_only=True)["state_dict"]
    old = {("bbox_head." + k[len("det_head."):] if k.startswith("det_head.") else k): v for k, v in state.items()}
    path = tmp_path / "old.pth"
    torch.save({"state_dict": old}, path)
    handler = served("olddet", ARCH, path, tmp_path)  # strict load after the 0.x -> 1.x rename
    assert handler.handler.model.cfg.arch == ARCH
    with pytest.raises(ValueError, match="unknown MMOCR config 'nosuch_config'"):
        build_checkpoint_archive("bad", "nosuch_config", path, store=tmp_path / "store", zoo_path=private_zoo(tmp_path))


class _TwoLevelHead(torch.nn.Module):
    """FCENet's output structure ([{cls_res, reg_res}] per level) on a tiny input."""

    def forward(self, x):
        return [{"cls_res": x * 2, "reg_res": x + 1}, {"cls_res": x.sum(1, keepdim=True), "reg_res": x - 1}]


def test_runner_outputs_flatten_like_the_onnx_export(tmp_path):
    module, batch = _TwoLevelHead(), np.random.default_rng(0).standard_normal((1, 2, 4, 4)).astype(np.float32)
    torch_out = TorchRunner(module).outputs(batch)
    assert [o.shape for o in torch_out] == [(1, 2, 4, 4), (1, 2, 4, 4), (1, 1, 4, 4), (1, 2, 4, 4)]
    assert np.allclose(torch_out[0], batch * 2) and np.allclose(torch_out[3], batch - 1)  # cls0, reg0, cls1, reg1
    torch.onnx.export(module, (torch.from_numpy(batch),), str(tmp_path / "m.onnx"), dynamo=False)
    onnx_out = OnnxRunner(tmp_path / "m.onnx").outputs(batch)
    assert len(onnx_out) == 4 and all(np.allclose(a, b, atol=1e-6) for a, b in zip(torch_out, onnx_out))
    with pytest.raises(TypeError, match="cannot flatten"):
        flatten_outputs({"a": 1.0})


#: Per family: a real photo giving a small network input under that config's resize rule, and
#: how to rebuild the post-processor's input from the module's raw output by hand.
FAMILY_CASES = {
    "panet_resnet18_fpem-ffm_600e_icdar2015": (("mmocr", "0.x", "toy_dataset", "imgs", "test", "img_10.jpg"),
                                               lambda raw, kw, s: pan_postprocess(raw[0].numpy(), **kw, scale_factor=s)),
    "psenet_resnet50_fpnf_600e_icdar2015": (("rapidocr", "test_files", "en_rec.jpg"),
                                            lambda raw, kw, s: pse_postprocess(raw[0].numpy(), **kw, scale_factor=s)),
    "fcenet_resnet50_fpn_1500e_icdar2015": (("rapidocr", "test_files", "en.jpg"),
                                            lambda raw, kw, s: fce_postprocess(
                                                [{k: v[0].numpy() for k, v in lvl.items()} for lvl in raw], **kw,
                                                scale_factor=s)),
    "textsnake_resnet50_fpn-unet_1200e_ctw1500": (("rapidocr", "test_files", "en_rec.jpg"),
                                                  lambda raw, kw, s: textsnake_postprocess(raw[0].numpy(), **kw,
                                                                                           scale_factor=s)),
    # DRRG's graph stage is not a forward(): the test runs it again on the recorded tensor
    "drrg_resnet50_fpn-unet_1200e_ctw1500": (("rapidocr", "test_files", "en_rec.jpg"),
                                             lambda graph, kw, s: drrg_postprocess(
                                                 graph.edges, graph.scores, graph.text_comps, **kw, scale_factor=s)),
}


def _params(arch: str) -> dict:
    return MMOCRDetConfig.from_dict({"arch": arch}).post


@pytest.mark.parametrize("arch", sorted(FAMILY_CASES))
def test_family_checkpoint_detects_in_original_image_pixels(arch, tmp_path):
    parts, by_hand = FAMILY_CASES[arch]
    checkpoint = save_checkpoint(arch, tmp_path / "user.pth")
    if arch.startswith("textsnake"):  # random weights predict radii < 1 px: no disk, no polygon
        ckpt = torch.load(checkpoint, weights_only=True)
        ckpt["state_dict"]["det_head.out_conv.bias"][4] += 3.0
        torch.save(ckpt, checkpoint)
    detector = build_model(ModelSpec("mine", "det", "mmocr_det", "torch", checkpoint, {"arch": arch}))
    seen: dict = {}
    module = detector.runner.module
    module.backbone.register_forward_hook(lambda m, args, out: seen.update(tensor=args[0]))
    module.register_forward_hook(lambda m, args, out: seen.update(raw=out))
    image = cv2.imread(str(data_path(*parts)), cv2.IMREAD_COLOR)
    detections = detector(image)
    height, width = image.shape[:2]
    assert detections, f"{arch}: the oracle weights find nothing on {parts[-1]}"
    for det in detections:
        assert det.polygon.shape[1] == 2 and det.polygon.shape[0] >= 4
        assert det.polygon.min() >= 0 and np.all(det.polygon.max(0) <= [width - 1, height - 1])
    # the network saw exactly MMOCR's preprocessed tensor; the post-processor by hand, in network
    # pixels (scale 1), then divided by the test resize's scale factor, gives the same polygons
    tensor, (sx, sy) = preprocess(image, MMOCRDetConfig.from_dict({"arch": arch}))
    assert np.array_equal(seen["tensor"].numpy(), tensor) and abs(sx - 1) > 0.01  # the rescale matters
    raw = module.detect(seen["tensor"])[0] if arch.startswith("drrg") else seen["raw"]
    polygons, scores = by_hand(raw, _params(arch), (1.0, 1.0))
    assert len(polygons) == len(detections)
    for poly, score, det in zip(polygons, scores, detections):
        expected = np.clip(np.asarray(poly, np.float64).reshape(-1, 2) / [sx, sy], 0, [width - 1, height - 1])
        assert np.allclose(det.polygon, expected, atol=1e-3) and det.score == pytest.approx(score, abs=1e-6)


@pytest.mark.parametrize("arch, stem, head_in", [("panet_resnet18_fpem-ffm_600e_icdar2015", (64, 3, 7, 7), 512),
                                                 ("psenet_resnet50_fpnf_600e_icdar2015", (64, 3, 7, 7), 256)])
def test_mmocr_0x_panet_psenet_checkpoints_load_as_their_0x_networks(arch, stem, head_in, tmp_path):
    # a 0.x key set: mmdet's plain-stem caffe ResNet under backbone., the 1.x neck keys, and
    # bbox_head.out_conv (one 1x1 conv over the concatenated neck maps) instead of 1.x's head
    torch.manual_seed(0)
    cfg = build_mmocr(arch)
    backbone = ResNet(**{**DEFAULT_CFGS_OF[arch]["backbone"], "deep_stem": False, "stem_channels": 64,
                         "style": "caffe"})
    out_channels = DEFAULT_CFGS_OF[arch]["det_head"]["out_channel"]
    state = {f"backbone.{k}": v.clone() for k, v in backbone.state_dict().items()}
    state.update({f"neck.{k}": v.clone() for k, v in cfg.neck.state_dict().items()})
    state["bbox_head.out_conv.weight"] = torch.randn(out_channels, head_in, 1, 1) * 0.05
    state["bbox_head.out_conv.bias"] = torch.randn(out_channels) * 0.1
    assert state["backbone.conv1.weight"].shape == stem and not any(k.startswith("backbone.stem") for k in state)
    torch.save({"state_dict": state, "meta": {"mmocr_version": "0.6.3"}}, tmp_path / "old.pth")
    spec = ModelSpec("old", "det", "mmocr_det", "torch", tmp_path / "old.pth", {"arch": arch})
    detector = build_model(spec)  # served: BatchNorm folded
    module = load_torch_runner(spec, fold=False).module  # strict load passed; the head is the 0.x one
    x = torch.randn(1, 3, 64, 96)
    with torch.no_grad():
        features = module.neck(module.backbone(x))
        concat = torch.cat(features, 1) if isinstance(features, (tuple, list)) else features
        by_hand = torch.nn.functional.conv2d(concat, state["bbox_head.out_conv.weight"], state["bbox_head.out_conv.bias"])
    [logits] = detector.runner.outputs(x.numpy())
    assert logits.shape == (1, out_channels, 16, 24) and np.allclose(logits, by_hand.numpy(), atol=1e-5)
    assert torch.equal(module.backbone.conv1.weight, state["backbone.conv1.weight"])
    # caffe style: a ResNet-50 bottleneck strides on its first 1x1 conv, as 0.x PSENet did
    if arch.startswith("psenet"):
        assert module.backbone.layer2[0].conv1.stride == (2, 2) and module.backbone.layer2[0].conv2.stride == (1, 1)


@pytest.mark.parametrize("arch", ["fcenet_resnet50_fpn_1500e_icdar2015", "textsnake_resnet50_fpn-unet_1200e_ctw1500"])
def test_mmocr_0x_fcenet_textsnake_differ_only_by_the_head_name(arch, tmp_path):
    # 0.x FCEHead (out_conv_cls/out_conv_reg) and TextSnakeHead (out_conv) kept their names
    state = torch.load(save_checkpoint(arch, tmp_path / "new.pth"), weights_only=True)["state_dict"]
    old = {"module." + ("bbox_head." + k[len("det_head."):] if k.startswith("det_head.") else k): v
           for k, v in state.items()}
    torch.save({"state_dict": old}, tmp_path / "old.pth")
    spec = ModelSpec("old", "det", "mmocr_det", "torch", tmp_path / "old.pth", {"arch": arch})
    loaded = load_torch_runner(spec, fold=False).module.state_dict()
    assert loaded.keys() == state.keys() and all(torch.equal(loaded[k], state[k]) for k in state)


def test_drrg_refuses_a_runtime_without_its_torch_module():
    class OnnxLike:  # a runner with outputs() only, like OnnxRunner
        device = None

        def outputs(self, batch):
            return [np.zeros((1, 6) + batch.shape[2:], np.float32)]

    with pytest.raises(ValueError, match="torch runtime only"):
        MMOCRDetector(OnnxLike(), MMOCRDetConfig.from_dict({"arch": "drrg_resnet50_fpn-unet_1200e_ctw1500"}))
    # the map families need nothing but outputs(): an all-background PANet map gives no text
    detector = MMOCRDetector(OnnxLike(), MMOCRDetConfig.from_dict({"arch": "panet_resnet18_fpem-ffm_600e_icdar2015"}))
    assert detector(np.zeros((40, 60, 3), np.uint8)) == []
