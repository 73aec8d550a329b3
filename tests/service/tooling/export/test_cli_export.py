"""`ocrserve export-onnx` on a real checkpoint and real photos, its errors, and archiving the ONNX."""
from __future__ import annotations

import shutil

import pytest
import torch
import yaml

from service.tooling.cli import main
from service.tooling.cli_export import default_images, exporter_for, task_of
from service.gateway.zoo import LOCAL_ZOO_NAME
from tests.conftest import DATA, REPO, data_path

DB = "dbnet_resnet18_fpnc_1200e_icdar2015"


pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py


@pytest.fixture(scope="module")
def checkpoint_0x(tmp_path_factory):
    """The oracle DBNet weights saved the MMOCR 0.x way (DataParallel prefix, bbox_head)."""
    from tests.oracle import state_dict as oracle_state_dict

    state = {f"module.{k.replace('det_head.', 'bbox_head.', 1)}": v for k, v in oracle_state_dict(DB).items()}
    path = tmp_path_factory.mktemp("ckpt") / "dbnet_0x.pth"
    torch.save({"state_dict": state, "meta": {"mmocr_version": "0.6.3"}}, path)
    return path


def test_export_and_verify_on_the_default_real_photos(checkpoint_0x, tmp_path, capsys):
    images = default_images("det", DATA)
    if len(images) < 2:
        pytest.skip(f"shared data not available: {DATA}")
    out = tmp_path / "dbnet.onnx"
    code = main(["export-onnx", "--arch", DB, "--checkpoint", str(checkpoint_0x), "--out", str(out),
                 "--verify", "--data", str(DATA)])
    printed = capsys.readouterr().out
    print(printed)
    assert code == 0 and out.is_file()
    assert "verify: 2 image(s), max abs error" in printed and printed.rstrip().endswith("ok")
    error = float(printed.split("verify: 2 image(s), max abs error ")[1].split()[0])
    assert error < 1e-3  # probability map, float32 (measured ~1e-5)


def test_verify_fails_over_the_tolerance_on_a_given_image(checkpoint_0x, tmp_path, capsys):
    image = data_path("mmocr", "demo", "demo_text_det.jpg")
    code = main(["export-onnx", "--arch", DB, "--checkpoint", str(checkpoint_0x), "--out",
                 str(tmp_path / "m.onnx"), "--verify", str(image), "--tolerance", "1e-12"])
    assert code == 1  # onnxruntime is not bit-exact with torch, so 1e-12 is exceeded
    assert "verify: 1 image(s)" in capsys.readouterr().out


def test_unknown_arch_missing_checkpoint_and_no_images_are_reported(tmp_path, capsys):
    assert main(["export-onnx", "--arch", "dbnet_nope", "--checkpoint", "x.pth", "--out", "x.onnx"]) == 1
    err = capsys.readouterr().err
    assert "unknown MMOCR config 'dbnet_nope'" in err and DB in err and "crnn_mini-vgg_5e_mj" in err
    missing = tmp_path / "missing.pth"
    assert main(["export-onnx", "--arch", DB, "--checkpoint", str(missing), "--out", str(tmp_path / "x.onnx")]) == 1
    assert f"checkpoint {missing} does not exist" in capsys.readouterr().err
    code = main(["export-onnx", "--arch", DB, "--checkpoint", str(missing), "--out", str(tmp_path / "x.onnx"),
                 "--verify", "--data", str(tmp_path / "no-data")])
    assert code == 2 and "--verify needs IMAGE paths" in capsys.readouterr().err
    assert main(["export-onnx", "--arch", DB, "--checkpoint", str(missing), "--out", "x.onnx",
                 "--verify", str(tmp_path / "nope.jpg")]) == 1
    assert "cannot read image" in capsys.readouterr().err


def test_configs_dispatch_to_the_detector_or_recogniser_exporter():
    from handlers.families.mmocr import MODEL_BUILDERS
    from handlers.families.mmocr_rec import available

    assert {task_of(a) for a in MODEL_BUILDERS} == {"det"}
    assert {task_of(a) for a in available()} == {"rec"}
    assert exporter_for(sorted(MODEL_BUILDERS)[0]).__name__ == "service.tooling.export.det_onnx"
    assert exporter_for(available()[0]).__name__ == "service.tooling.export.rec_onnx"
    with pytest.raises(ValueError, match="ONNX export covers detectors and recognisers"):
        task_of("sdmgr_unet16_60e_wildreceipt")


def test_an_exported_detector_archives_for_onnxruntime(tmp_path):
    from service.tooling.export.det_onnx import export_onnx
    from service.tooling.packaging.archive import build_checkpoint_archive

    zoo_path = tmp_path / "zoo.yaml"
    shutil.copy(REPO / "model_store" / "zoo.yaml", zoo_path)
    onnx_path = tmp_path / "db.onnx"
    export_onnx(DB, None, onnx_path)
    mar = build_checkpoint_archive("mydet-onnx", DB, onnx_path, store=tmp_path / "store", zoo_path=zoo_path)
    assert mar.is_file()
    local = yaml.safe_load((tmp_path / LOCAL_ZOO_NAME).read_text())
    assert local["mydet-onnx"]["runtime"] == "onnxruntime" and local["mydet-onnx"]["family"] == "mmocr_det"
    with pytest.raises(ValueError, match="exported from 'dbnet_resnet18_fpnc_1200e_icdar2015'"):
        build_checkpoint_archive("other", "panet_resnet18_fpem-ffm_600e_icdar2015", onnx_path,
                                 store=tmp_path / "store", zoo_path=zoo_path)


def test_a_recogniser_config_goes_to_the_recogniser_exporter(tmp_path, capsys):
    from tests.oracle import state_dict as oracle_state_dict

    arch = "crnn_mini-vgg_5e_mj"
    checkpoint = tmp_path / "crnn.pth"
    torch.save({"state_dict": oracle_state_dict(arch)}, checkpoint)
    crop = data_path("mmocr", "main", "rec_toy_dataset", "imgs", "1036169.jpg")
    code = main(["export-onnx", "--arch", arch, "--checkpoint", str(checkpoint), "--out",
                 str(tmp_path / "crnn.onnx"), "--verify", str(crop)])
    printed = capsys.readouterr().out
    print(printed)
    assert code == 0 and (tmp_path / "crnn.onnx").is_file()
    assert "outputs probs" in printed and "verify: 1 image(s), max abs error" in printed
    assert printed.rstrip().endswith("ok")


def test_drrg_onnx_is_refused_for_serving(tmp_path):
    from service.tooling.packaging.archive import build_checkpoint_archive

    zoo_path = tmp_path / "zoo.yaml"
    shutil.copy(REPO / "model_store" / "zoo.yaml", zoo_path)
    (tmp_path / "drrg.onnx").write_bytes(b"not read")
    with pytest.raises(ValueError, match="torch runtime only"):
        build_checkpoint_archive("mydrrg", "drrg_resnet50_fpn-unet_1200e_ctw1500", tmp_path / "drrg.onnx",
                                 store=tmp_path / "store", zoo_path=zoo_path)
