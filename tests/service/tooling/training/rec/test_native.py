"""`ocrserve train rec --arch --checkpoint`: a user's MMOCR CTC recogniser fine-tuned on real word
crops (cut from ICDAR 2015 photos with the pipeline's crop).

The user's checkpoints are the MMOCR oracle's (../shared/oracle: deterministic weights MMOCR 1.0.1
loads, saved as a user's .pth by tests/oracle.py); nothing is downloaded.
"""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from service.tooling.cli import main
from tests.conftest import data_path
from tests.oracle import save_checkpoint

CRNN = "crnn_mini-vgg_5e_mj"
SVTR = "svtr-small_20e_st_mj"
PHOTOS = ("img_1", "img_2", "img_3", "img_4")
pytestmark = pytest.mark.usefixtures("one_thread")  # the command sets torch's threads: given back after


@pytest.fixture(scope="module")
def photos(icdar_photos):
    return icdar_photos


def _crops(model, photos):
    from service.tooling.training.rec.data import Crop, read_crops, readable

    crops = [Crop(c.image, model.fold_text(c.text)) for c in read_crops(photos, "icdar")]
    return readable(crops, model.classes)[0]


def _loss(model, crops) -> float:
    from service.tooling.training.rec.train import ctc_loss

    model.train_mode()
    with torch.no_grad():
        return ctc_loss(model, [c.image for c in crops], [c.text for c in crops], torch.device("cpu")).item()


def test_fine_tunes_a_users_crnn_into_a_checkpoint_the_registry_serves(photos, tmp_path, capsys):
    from handlers.registry import build_model
    from handlers.predictors.mmocr_rec import preprocess
    from service.tooling.training.rec.native import load_native, spec_of

    user = save_checkpoint(CRNN, tmp_path / "user.pth")
    out = tmp_path / "run"
    toy = str(data_path("mmocr", "0.x", "ocr_toy_dataset", "label.txt"))  # dev set and replay: real crops too
    assert main(["train", "rec", "--arch", CRNN, "--checkpoint", str(user), "--data", str(photos), "--format", "icdar",
                 "--dev", toy, "--dev-format", "label-txt", "--replay", toy, "--replay-format", "label-txt",
                 "--replay-min-score", "0", "--replay-limit", "4", "--replay-share", "0.25",
                 "--iterations", "20", "--batch-size", "8", "--lr", "1e-3", "--eval-every", "20", "--no-augment",
                 "--out", str(out)]) == 0
    log = capsys.readouterr().out
    assert "loaded strictly" in log and "labels lower-cased" in log
    report = json.loads((out / "report.json").read_text())
    assert report["model"] == CRNN and report["export"]["max_diff_vs_torch"] < 1e-4
    assert report["dev_crops"] >= 8 and report["replay_crops"] >= 1 and "word_acc" in report["dev_after"]

    # CTC loss on the crops fell (CRNN's inputs differ in width: the batch is padded to the widest)
    original, tuned = load_native(CRNN, user), load_native(CRNN, out / "model.pth")
    crops = _crops(original, photos)
    assert len(crops) >= 4 and len({c.image.shape[1] * 32 // c.image.shape[0] for c in crops}) > 1
    before, after = _loss(original, crops), _loss(tuned, crops)
    assert after < 0.7 * before, (before, after)

    # MMOCR's key layout, loaded strictly through the registry; its output moved but is sane
    assert torch.load(out / "model.pth", weights_only=True)["state_dict"].keys() == \
        torch.load(user, weights_only=True)["state_dict"].keys()
    served = build_model(spec_of(CRNN, out / "model.pth"))
    batch = preprocess(crops[0].image, served.cfg.input)[0][None]
    new, old = served.runner(batch), build_model(spec_of(CRNN, user)).runner(batch)
    assert np.allclose(new.sum(-1), 1, atol=1e-4) and np.abs(new - old).max() > 0.05
    reads = served([c.image for c in crops])
    assert all(set(r.text) <= set(original.classes) and 0 <= r.score <= 1 for r in reads)


def test_svtr_fine_tunes_and_exports_strictly(photos, tmp_path):
    from service.tooling.training.rec.native import NativeStart
    from service.tooling.training.rec.train import TrainOptions, train

    start = NativeStart(SVTR, save_checkpoint(SVTR, tmp_path / "user.pth"))
    crops = _crops(start.native, photos)[:4]
    model, line = start.model(crops, train_backbone=False)
    assert "feature extractor frozen" in line
    before = _loss(model, crops)
    train(model, crops, TrainOptions(iterations=3, batch_size=4, lr=1e-4, augment=False, eval_every=3, device="cpu"))
    assert _loss(model, crops) < before
    exported, line = start.export(model, tmp_path / "out", crops)
    assert exported["tensors_changed"] > 0 and "loaded strictly by the registry" in line
    # the frozen STN rectifier did not move
    saved = torch.load(tmp_path / "out" / "model.pth", weights_only=True)["state_dict"]
    assert all(torch.equal(saved[k], v) for k, v in start.before.items() if k.startswith("preprocessor."))


@pytest.mark.parametrize("extra, message", [
    (["--arch", "sar_resnet31_parallel-decoder_5e_st-sub_mj-sub_sa_real", "--checkpoint", "{ckpt}"],
     "attention decoders (SAR"),
    (["--arch", "dbnet_resnet18_fpnc_1200e_icdar2015", "--checkpoint", "{ckpt}"], "not a recogniser"),
    (["--arch", "nosuch_config", "--checkpoint", "{ckpt}"], "unknown MMOCR config 'nosuch_config'"),
    (["--arch", CRNN], "needs --checkpoint"),
    (["--checkpoint", "{ckpt}"], "--checkpoint needs --arch"),
])
def test_bad_arguments_exit_2_with_a_message(photos, tmp_path, capsys, extra, message):
    ckpt = tmp_path / "user.pth"
    ckpt.write_bytes(b"not read: the arguments are refused first")
    extra = [a.format(ckpt=ckpt) for a in extra]
    assert main(["train", "rec", "--data", str(photos), "--format", "icdar", "--out", str(tmp_path / "o"), *extra]) == 2
    assert message in capsys.readouterr().err
