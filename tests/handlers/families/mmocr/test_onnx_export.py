"""ONNX export of every MMOCR detector: dynamic H/W/batch, runner output order, parity with torch.

Exports run at 64x64 on seeded random weights (the DCNv2 net gets non-zero offsets from a
checkpoint, so the deformable sampling is really exercised); each graph is then run at two
other sizes and batch sizes and compared with the torch network output by output.
"""
from __future__ import annotations

import numpy as np
import onnxruntime as ort
import pytest
import torch

from handlers.families.mmocr import MODEL_BUILDERS
from service.tooling.export.det_onnx import (
    FlatOutputs, export_onnx, load_detector, named_outputs, verify_onnx)
from handlers.runtime import flatten_outputs
from service.tooling.cli_export import within_tolerance
from tests.conftest import data_path

DB = "dbnet_resnet18_fpnc_1200e_icdar2015"
DCN = "dbnetpp_resnet50-dcnv2_fpnc_1200e_icdar2015"
FCE = "fcenet_resnet50_fpn_1500e_icdar2015"
#: (batch, height, width) of the two checks: neither is the 64x64 of the trace.
SIZES = ((1, 96, 160), (2, 128, 96))
RTOL = 1e-4  # max abs error / max(1, max |torch value|), float32


pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py


def _session(path) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def _dcn_checkpoint(path):
    """The DCNv2 net with offsets of a few pixels and masks away from 0.5."""
    model = load_detector(DCN, None)
    generator = torch.Generator().manual_seed(3)
    state = model.state_dict()
    for key, value in state.items():
        if "conv_offset" in key:
            state[key] = torch.randn(value.shape, generator=generator) * 0.05
    torch.save({"state_dict": state}, path)
    return path


@pytest.mark.parametrize("arch", sorted(MODEL_BUILDERS))
def test_export_has_dynamic_shapes_and_matches_torch(arch, tmp_path):
    checkpoint = _dcn_checkpoint(tmp_path / "dcn.pth") if arch == DCN else None
    report = export_onnx(arch, checkpoint, tmp_path / "model.onnx")
    session = _session(report["path"])
    model = FlatOutputs(load_detector(arch, checkpoint))
    assert [i.name for i in session.get_inputs()] == ["input"]
    assert session.get_inputs()[0].shape == ["batch", 3, "height", "width"]
    assert [o.name for o in session.get_outputs()] == report["outputs"]
    assert session.get_modelmeta().custom_metadata_map["arch"] == arch
    generator = torch.Generator().manual_seed(1)
    for batch, height, width in SIZES:
        x = torch.randn(batch, 3, height, width, generator=generator)
        with torch.inference_mode():
            expected = [t.numpy() for t in model(x)]
        got = session.run(None, {"input": x.numpy()})
        assert len(got) == len(expected)
        for name, ref, out in zip(report["outputs"], expected, got):
            assert out.shape == ref.shape and out.shape[0] == batch, name
            err = float(np.abs(out - ref).max())
            scale = max(1.0, float(np.abs(ref).max()))
            print(f"{arch} {name} {tuple(x.shape)}: max abs error {err:.2e} (max |ref| {scale:.3g})")
            assert err <= RTOL * scale, (name, err, scale)


def test_fcenet_outputs_are_flattened_in_runner_order(tmp_path):
    report = export_onnx(FCE, None, tmp_path / "fce.onnx")
    assert report["outputs"] == ["cls_res_0", "reg_res_0", "cls_res_1", "reg_res_1",
                                 "cls_res_2", "reg_res_2"]
    shapes = [o.shape for o in _session(report["path"]).run(None, {"input": np.zeros((1, 3, 64, 96), np.float32)})]
    assert [s[1] for s in shapes] == [4, 22] * 3  # tr/tcl logits, 2 * (2k + 1) Fourier coefficients
    assert [s[2:] for s in shapes[::2]] == [(8, 12), (4, 6), (2, 3)]  # strides 8, 16, 32


def test_named_outputs_follow_tensor_tuple_dict_order():
    a, b, c = torch.zeros(1), torch.ones(1), torch.full((1,), 2.0)
    assert [n for n, _ in named_outputs(a)] == ["output"]
    assert [n for n, _ in named_outputs((a, b))] == ["output_0", "output_1"]
    assert [n for n, _ in named_outputs({"y": a, "x": b})] == ["y", "x"]
    nested = [{"k": a}, {"k": b, "j": c}]
    assert [n for n, _ in named_outputs(nested)] == ["k_0", "k_1", "j_1"]
    assert [t for _, t in named_outputs(nested)] == flatten_outputs(nested)  # same order as the runners
    with pytest.raises(TypeError, match="str"):
        named_outputs("map")


def test_unknown_arch_and_missing_checkpoint_are_clear_errors(tmp_path):
    with pytest.raises(ValueError, match="unknown MMOCR detector config 'dbnet_nope'.*" + DB):
        export_onnx("dbnet_nope", None, tmp_path / "x.onnx")
    with pytest.raises(ValueError, match="checkpoint .*missing.pth does not exist"):
        export_onnx(DB, tmp_path / "missing.pth", tmp_path / "x.onnx")
    assert not (tmp_path / "x.onnx").exists()


def test_verify_runs_the_real_preprocessing_on_a_real_photo(tmp_path):
    import cv2

    image = cv2.imread(str(data_path("mmocr", "0.x", "toy_dataset", "imgs", "test", "img_10.jpg")))
    report = export_onnx(DB, None, tmp_path / "db.onnx")
    result = verify_onnx(DB, None, tmp_path / "db.onnx", [image])
    print(f"{DB} on img_10.jpg: max abs error {result['max_abs_error']:.2e}")
    assert result["input_shapes"] == [[1, 3, 736, 1312]]  # 1280x720 -> keep-ratio 1333x736, /32 pad
    assert list(result["outputs"]) == report["outputs"] == ["output"]
    assert result["max_abs_error"] < 1e-4 and within_tolerance(result, 1e-4)
    assert not within_tolerance({"outputs": {"output": {"max_abs_error": 2e-3, "max_abs_torch": 1.0}}}, 1e-3)
    assert within_tolerance({"outputs": {"logits": {"max_abs_error": 2e-3, "max_abs_torch": 10.0}}}, 1e-3)


@pytest.mark.parametrize("arch", [DB, "panet_resnet18_fpem-ffm_600e_icdar2015"])
def test_exported_detector_serves_the_torch_polygons(arch, tmp_path):
    """The mmocr_det family on runtime onnxruntime finds what it finds on torch (oracle weights)."""
    import cv2

    from handlers.api.spec import ModelSpec
    from handlers.registry import build_model
    from tests.oracle import state_dict as oracle_state_dict

    image = cv2.imread(str(data_path("mmocr", "0.x", "toy_dataset", "imgs", "test", "img_10.jpg")))
    checkpoint = tmp_path / "model.pth"
    torch.save({"state_dict": oracle_state_dict(arch)}, checkpoint)
    export_onnx(arch, checkpoint, tmp_path / "model.onnx")
    found = {}
    for runtime, weights in (("torch", checkpoint), ("onnxruntime", tmp_path / "model.onnx")):
        detector = build_model(ModelSpec("m", "det", "mmocr_det", runtime, weights, {"arch": arch}))
        found[runtime] = detector(image)
    torch_dets, onnx_dets = found["torch"], found["onnxruntime"]
    print(f"{arch}: {len(torch_dets)} polygons on torch, {len(onnx_dets)} on onnxruntime")
    assert len(torch_dets) >= 1 and len(onnx_dets) == len(torch_dets)
    for a, b in zip(torch_dets, onnx_dets):
        assert a.polygon.shape == b.polygon.shape
        assert np.abs(a.polygon - b.polygon).max() <= 1.0 and abs(a.score - b.score) < 1e-4


def test_db_head_deconv_is_exactly_the_transposed_conv():
    """DBHead's Deconv2x2 (1x1 conv + pixel shuffle, for speed) computes ConvTranspose2d(2, 2) bit for bit."""
    from handlers.families.mmocr.db_head import Deconv2x2

    fast = Deconv2x2(8, 3)
    plain = torch.nn.ConvTranspose2d(8, 3, 2, 2)
    plain.load_state_dict(fast.state_dict(), strict=True)
    x = torch.randn(2, 8, 5, 7, generator=torch.Generator().manual_seed(2))
    with torch.inference_mode():
        assert torch.equal(fast(x), plain(x))


def test_a_0x_panet_checkpoint_exports_its_0x_network(tmp_path):
    """0.x PANet (plain-stem caffe ResNet-18, one 1x1 bbox_head.out_conv) exports as the torch runtime loads it."""
    from handlers.families.mmocr.panet import DEFAULT_CFGS
    from handlers.families.mmocr.resnet import ResNet

    arch = "panet_resnet18_fpem-ffm_600e_icdar2015"
    generator = torch.Generator().manual_seed(4)
    backbone = ResNet(**{**DEFAULT_CFGS[arch]["backbone"], "deep_stem": False, "stem_channels": 64, "style": "caffe"})
    neck = load_detector(arch, None).neck
    state = {f"backbone.{k}": v for k, v in backbone.state_dict().items()}
    state.update({f"neck.{k}": v for k, v in neck.state_dict().items()})
    state["bbox_head.out_conv.weight"] = torch.randn(6, 512, 1, 1, generator=generator) * 0.05
    state["bbox_head.out_conv.bias"] = torch.randn(6, generator=generator) * 0.1
    checkpoint = tmp_path / "panet_0x.pth"
    torch.save({"state_dict": state, "meta": {"mmocr_version": "0.6.3"}}, checkpoint)
    report = export_onnx(arch, checkpoint, tmp_path / "panet_0x.onnx")
    x = torch.randn(1, 3, 96, 128, generator=generator)
    served = load_detector(arch, checkpoint)  # the 0.x network, strictly loaded
    with torch.inference_mode():
        features = torch.cat(served.neck(served.backbone(x)), 1)
        by_hand = torch.nn.functional.conv2d(features, state["bbox_head.out_conv.weight"], state["bbox_head.out_conv.bias"])
    [got] = _session(report["path"]).run(None, {"input": x.numpy()})
    assert got.shape == (1, 6, 24, 32)
    assert np.abs(got - by_hand.numpy()).max() <= 1e-4 * max(1.0, float(by_hand.abs().max()))
