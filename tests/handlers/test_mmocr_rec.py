"""A user's MMOCR recogniser checkpoint served through the recognition handler (torch runtime)."""
from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
import torch

from handlers.families.mmocr_rec import config_of
from handlers.predictors.mmocr_rec import preprocess, target_width
from tests.conftest import FakeContext, data_path
from tests.oracle import oracle_subdir, save_checkpoint
from tests.handlers.checkpoints import served

PREPROC_CONFIGS = ["crnn_mini-vgg_5e_mj", "satrn_shallow-small_5e_st_mj", "svtr-small_20e_st_mj",
                   "nrtr_resnet31-1by16-1by8_6e_st_mj", "sar_resnet31_parallel-decoder_5e_st-sub_mj-sub_sa_real"]


@pytest.fixture(scope="module")
def oracle():
    return oracle_subdir()


@pytest.mark.parametrize("arch,crop_hw,width", [
    # CRNN: height 32, min 32, divisor 16. 40x138 -> 110.4 -> ceil 111 -> nearest 16: 112
    ("crnn_mini-vgg_5e_mj", (40, 138), 112),
    # 40x130 -> 104 exactly, 6.5 sixteens: the half goes to the even multiple, 96 (the oracle's case)
    ("crnn_mini-vgg_5e_mj", (40, 130), 96),
    ("crnn_mini-vgg_5e_mj", (40, 150), 128),   # 120 = 7.5 sixteens -> 8 (even) -> 128
    ("crnn_mini-vgg_5e_mj", (64, 20), 32),     # 10 -> min_width 32
    # SAR: height 48, [48, 160], divisor 4. 31x99 -> 153.29 -> ceil 154 -> 38.5 fours -> 38 -> 152
    ("sar_resnet31_parallel-decoder_5e_st-sub_mj-sub_sa_real", (31, 99), 152),
    ("sar_resnet31_parallel-decoder_5e_st-sub_mj-sub_sa_real", (20, 400), 160),  # max_width
    # SegOCR (0.x): height 64, min 64, divisor 16. 50x101 -> 129.28 -> ceil 130 -> 8.125 -> 128
    ("seg_r31_1by16_fpnocr_academic", (50, 101), 128),
    ("seg_r31_1by16_fpnocr_academic", (50, 107), 144),  # 136.96 -> 137 -> 8.56 -> 9 -> 144
])
def test_keep_ratio_width_follows_mmocr_rescale_to_height(arch, crop_hw, width):
    """Scaled width rounded up, clamped, then to the NEAREST multiple of the divisor."""
    spec = config_of(arch)["input"]
    assert target_width(*crop_hw, spec) == width
    tensor, _ = preprocess(np.zeros((*crop_hw, 3), np.uint8), spec)
    assert tensor.shape[-1] == max(width, spec.get("pad_width", 0))


@pytest.mark.parametrize("arch", PREPROC_CONFIGS)
def test_preprocessing_matches_mmocr_test_pipeline(oracle, arch):
    case = json.loads((oracle / "preproc" / "preproc_cases.json").read_text())["results"][arch]
    expected = torch.load(oracle / "preproc" / "preproc.pt")[arch][0].numpy()
    source = cv2.imread(str(oracle / "preproc" / case["source"]), cv2.IMREAD_COLOR)
    tensor, valid_ratio = preprocess(source, config_of(arch)["input"])
    assert tensor.shape == expected.shape
    diff = np.abs(tensor - expected)
    if config_of(arch)["input"].get("color") == "grayscale":
        # libpng's grayscale differs from ours by one level on a few pixels (0.25% here)
        assert diff.max() <= 1 / 127 + 1e-6 and (diff > 1e-5).mean() < 0.01
    else:
        assert diff.max() < 1e-5
    assert valid_ratio == pytest.approx(case["metainfo_after_pipeline"]["valid_ratio"])


def test_crnn_checkpoint_archive_reads_crops_in_batches(oracle, tmp_path):
    arch = "crnn_mini-vgg_5e_mj"
    handler = served("myrec", arch, save_checkpoint(arch, tmp_path / "crnn.pth"), tmp_path)
    crops = [p.read_bytes() for p in sorted(data_path("mmocr", "0.x", "ocr_toy_dataset", "imgs").glob("*.jpg"))]
    ctx = FakeContext(tmp_path)
    together = [json.loads(o) for o in handler.handle([{"body": c} for c in crops], ctx)]
    alone = [json.loads(handler.handle([{"body": c}], FakeContext(tmp_path))[0]) for c in crops]
    assert ctx.status == {} and together == alone
    assert all(set(r) == {"text", "score"} and 0 <= r["score"] <= 1 for r in together)


# --- ONNX runtime, character positions, batching (issue 4) -------------------------------------

from handlers.api.spec import ModelSpec  # noqa: E402
from handlers.registry import build_model  # noqa: E402
from handlers.families.mmocr_rec import available  # noqa: E402
from service.tooling.export.rec_onnx import export_model, export_onnx  # noqa: E402
from handlers.predictors.mmocr_rec import MMOCRRecConfig, MMOCRRecognizer, OrtProbs  # noqa: E402
from handlers.runtime import TorchRunner  # noqa: E402
from tests.oracle import state_dict as oracle_state_dict  # noqa: E402
from tests.handlers.families.mmocr_rec.test_onnx_export import short_model  # noqa: E402

CRNN = "crnn_mini-vgg_5e_mj"
SAR = "sar_resnet31_parallel-decoder_5e_st-sub_mj-sub_sa_real"


@pytest.fixture(scope="module")
def word_crops() -> list[np.ndarray]:
    folder = data_path("mmocr", "0.x", "ocr_toy_dataset", "imgs")
    return [cv2.imread(str(p)) for p in sorted(folder.glob("*.jpg"))]


@pytest.fixture(scope="module")
def crnn_files(oracle, tmp_path_factory):
    root = tmp_path_factory.mktemp("crnn")
    checkpoint = save_checkpoint(CRNN, root / "crnn.pth")
    export_onnx(CRNN, checkpoint, root / "crnn.onnx")
    return checkpoint, root / "crnn.onnx"


def _spec(runtime: str, weights, arch: str = CRNN) -> ModelSpec:
    return ModelSpec("myrec", "rec", "mmocr_rec", runtime, weights, {"arch": arch})


def test_onnx_serving_reads_what_torch_serving_reads(crnn_files, word_crops):
    checkpoint, onnx_file = crnn_files
    torch_reads = build_model(_spec("torch", checkpoint))(word_crops)
    onnx_reads = build_model(_spec("onnxruntime", onnx_file))(word_crops)
    assert [r.text for r in onnx_reads] == [r.text for r in torch_reads] and any(r.text for r in torch_reads)
    for got, ref in zip(onnx_reads, torch_reads):
        assert got.score == pytest.approx(ref.score, abs=1e-5) and got.frame == ref.frame
        assert [c[:3] for c in got.chars] == [c[:3] for c in ref.chars]


def test_ctc_reads_carry_character_spans(crnn_files, word_crops):
    reads = build_model(_spec("onnxruntime", crnn_files[1]))(word_crops)
    for read, crop in zip(reads, word_crops):
        assert "".join(c[0] for c in read.chars) == read.text
        assert read.score == pytest.approx(np.mean([c[3] for c in read.chars]) if read.chars else 0.0)
        steps = config_of(CRNN)["input"]["height"] * crop.shape[1] / crop.shape[0]  # ~ resized width
        assert 0.5 / steps < read.frame < 1.0  # one frame ~ 4 px of the resized crop
        starts = [c[1] for c in read.chars]
        assert starts == sorted(starts) and all(0 <= c[1] < c[2] <= 1 for c in read.chars)


def test_positions_option_returns_chars_for_ctc(oracle, tmp_path, word_crops):
    handler = served("myrec", CRNN, save_checkpoint(CRNN, tmp_path / "crnn.pth"), tmp_path)
    _, body = cv2.imencode(".png", word_crops[0])
    row = json.loads(handler.handle([{"body": body.tobytes(), "positions": "true"}], FakeContext(tmp_path))[0])
    assert set(row) == {"text", "score", "chars", "frame"}
    assert "".join(c[0] for c in row["chars"]) == row["text"] and row["frame"] > 0


def test_attention_onnx_serving_with_valid_ratio_equals_torch(tmp_path, word_crops):
    """SAR pads to 160 px: crops of different widths have different valid ratios in one batch."""
    import onnx

    model = short_model(SAR)
    model.load_state_dict(oracle_state_dict(SAR))  # weights whose attention the width mask changes
    export_model(model, SAR, tmp_path / "sar.onnx")
    graph = onnx.load(str(tmp_path / "sar.onnx")).graph
    assert any("valid_ratio" in node.input for node in graph.node)  # an input, not a frozen constant
    onnx_reads = build_model(_spec("onnxruntime", tmp_path / "sar.onnx", SAR))(word_crops)
    torch_reads = MMOCRRecognizer(TorchRunner(model), MMOCRRecConfig.from_dict({"arch": SAR}))(word_crops)
    assert [r.text for r in onnx_reads] == [r.text for r in torch_reads]
    assert [r.score for r in onnx_reads] == pytest.approx([r.score for r in torch_reads], abs=1e-5)
    assert all(r.chars == [] and r.frame == 0.0 for r in onnx_reads)  # attention: no alignment
    prepared = [preprocess(crop, config_of(SAR)["input"]) for crop in word_crops]
    batch, ratios = np.stack([t for t, _ in prepared]), [r for _, r in prepared]
    assert min(ratios) < 0.5 and max(ratios) == 1.0
    with torch.no_grad():
        unmasked = model(torch.from_numpy(batch)).numpy()  # no ratios: every column valid
    assert np.abs(OrtProbs(tmp_path / "sar.onnx")(batch, ratios) - unmasked).max() > 1e-3  # ratios used


@pytest.mark.parametrize("arch", available())
def test_every_family_reads_a_batch_as_one_by_one(arch, word_crops):
    torch.set_num_threads(1)
    recognizer = MMOCRRecognizer(TorchRunner(short_model(arch)), MMOCRRecConfig.from_dict({"arch": arch}))
    crops = word_crops[:4]
    together = recognizer(crops)
    alone = [recognizer([crop])[0] for crop in crops]
    assert [r.text for r in together] == [r.text for r in alone]
    assert [r.score for r in together] == pytest.approx([r.score for r in alone], abs=1e-4)


def test_archived_onnx_export_serves_like_the_checkpoint(crnn_files, tmp_path, word_crops):
    """`ocrserve archive --checkpoint x.onnx` picks onnxruntime; the handler reads the same rows."""
    checkpoint, onnx_file = crnn_files
    bodies = [{"body": cv2.imencode(".png", crop)[1].tobytes(), "positions": "true"} for crop in word_crops[:4]]
    (tmp_path / "onnx").mkdir(), (tmp_path / "torch").mkdir()
    by_onnx = served("myrec", CRNN, onnx_file, tmp_path / "onnx").handle(bodies, FakeContext(tmp_path))
    by_torch = served("myrec", CRNN, checkpoint, tmp_path / "torch").handle(bodies, FakeContext(tmp_path))
    onnx_rows, torch_rows = [json.loads(r) for r in by_onnx], [json.loads(r) for r in by_torch]
    assert [r["text"] for r in onnx_rows] == [r["text"] for r in torch_rows]
    assert [[c[:3] for c in r["chars"]] for r in onnx_rows] == [[c[:3] for c in r["chars"]] for r in torch_rows]
    assert all(r["chars"] for r in onnx_rows)
