"""`ocrserve train det --arch --checkpoint`: a user's MMOCR DBNet fine-tuned on real ICDAR 2015 photos.

The user's checkpoint is the MMOCR oracle's (../shared/oracle: deterministic weights MMOCR 1.0.1
loads, saved as a user's .pth by tests/oracle.py); nothing is downloaded.
"""
from __future__ import annotations

import hashlib

import cv2
import numpy as np
import pytest
import torch
import yaml

from service.tooling.cli import main
from tests.handlers.checkpoints import served
from tests.oracle import save_checkpoint

ARCH = "dbnet_resnet18_fpnc_1200e_icdar2015"
PHOTOS = ("img_1", "img_2")
pytestmark = pytest.mark.usefixtures("one_thread")  # the command sets torch's threads: given back after


@pytest.fixture(scope="module")
def photos(icdar_photos):
    return icdar_photos


def _fixed_batch(photos, size: int = 192):
    """Augmented crops of the photos drawn with another seed than training's: a fixed batch to
    measure the loss on before and after."""
    from handlers.predictors.mmocr_det import MMOCRDetConfig
    from service.tooling.training.det.augment import AugmentOptions
    from service.tooling.training.det.data import DetTrainSet, read_samples

    dataset = DetTrainSet(read_samples(photos), MMOCRDetConfig.from_dict({"arch": ARCH}),
                          AugmentOptions(size=size, rotate=0, jitter=0), seed=11)
    items = [dataset[i] for i in range(len(dataset))]
    return {k: torch.stack([item[k] for item in items]) for k in items[0]}


def _loss(model, batch) -> float:
    from service.tooling.training.det.loss import db_loss

    model.train()  # train-mode outputs; batch norm stays on the checkpoint's statistics
    with torch.no_grad():
        prob, thr = model(batch["image"])
        return db_loss(prob, thr, batch)[0].item()


def test_fine_tunes_a_users_dbnet_into_a_checkpoint_the_registry_serves(photos, tmp_path, capsys):
    from handlers.registry import build_model
    from service.tooling.training.det.native import load_native, spec_of

    user = save_checkpoint(ARCH, tmp_path / "user.pth")
    out = tmp_path / "run"
    assert main(["train", "det", "--data", str(photos), "--arch", ARCH, "--checkpoint", str(user), "--out", str(out),
                 "--steps", "6", "--batch-size", "2", "--size", "192", "--warmup", "1", "--save-every", "6",
                 "--log-every", "1", "--check-side", "256", "--threads", "1", "--name", "mydb"]) == 0
    log = capsys.readouterr().out
    assert "loaded strictly" in log and "step 6" in log and f"--arch {ARCH} --checkpoint" in log

    # the training lowered the DB loss on crops it did not draw (the loss of the same maps)
    batch = _fixed_batch(photos)
    before, after = _loss(load_native(ARCH, user), batch), _loss(load_native(ARCH, out / "model.pth"), batch)
    assert after < 0.7 * before, (before, after)

    # MMOCR's key layout; archived as `ocrserve archive --arch` does and loaded strictly by its
    # handler (unpacked as TorchServe does); its output moved but is sane
    saved = torch.load(out / "model.pth", weights_only=True)
    assert saved["state_dict"].keys() == torch.load(user, weights_only=True)["state_dict"].keys()
    tuned = served("mydb", ARCH, out / "model.pth", tmp_path).handler.model
    original = build_model(spec_of(ARCH, user))
    image = cv2.imread(str(photos / "images" / "img_1.jpg"))
    from handlers.predictors.mmocr_det import preprocess

    tensor = preprocess(image, tuned.cfg)[0]
    new, old = tuned.runner.outputs(tensor)[0], original.runner.outputs(tensor)[0]
    assert np.isfinite(new).all() and new.min() >= 0 and new.max() <= 1
    assert np.abs(new - old).max() > 0.05
    found = tuned(image)
    assert all(np.isfinite(d.polygon).all() and 0 <= d.score <= 1 for d in found)

    # the zoo entry serves exactly that file with the mmocr_det family
    raw = yaml.safe_load((out / "zoo_entry.yaml").read_text())["mydb"]
    assert (raw["family"], raw["runtime"], raw["config"]) == ("mmocr_det", "torch", {"arch": ARCH})
    assert raw["weights"]["sha256"] == hashlib.sha256((out / "model.pth").read_bytes()).hexdigest()


def test_dbnetpp_trains_a_step_and_exports_strictly(photos, tmp_path):
    from service.tooling.training.det.loss import db_loss
    from service.tooling.training.det.native import NativeStart

    arch = "dbnetpp_resnet50_fpnc_1200e_icdar2015"
    start = NativeStart(arch, save_checkpoint(arch, tmp_path / "user.pth"))
    from service.tooling.training.det.data import read_samples

    check = start.check(read_samples(photos)[:1], 128)
    start.build(check)
    model = start.model.train()
    batch = {k: v[:1, ..., :128, :128] for k, v in _fixed_batch(photos).items()}
    optimizer = torch.optim.AdamW(model.param_groups(1e-4, 1e-3))
    prob, thr = model(batch["image"])
    loss, parts = db_loss(prob, thr, batch)
    loss.backward()
    optimizer.step()
    assert np.isfinite(loss.item()) and parts["thr"] > 0  # the threshold branch is in the loss
    line = start.export(tmp_path / "out", check, {"step": 1}, "mydbpp", "one step")
    assert "loaded strictly by the registry" in line and (tmp_path / "out" / "model.pth").is_file()


@pytest.mark.parametrize("extra, message", [
    (["--arch", "panet_resnet18_fpem-ffm_600e_icdar2015", "--checkpoint", "{ckpt}"], "DB-family detectors only"),
    (["--arch", "nosuch_config", "--checkpoint", "{ckpt}"], "unknown MMOCR config 'nosuch_config'"),
    (["--arch", ARCH], "needs --checkpoint"),
    (["--checkpoint", "{ckpt}"], "--checkpoint needs --arch"),
    (["--arch", ARCH, "--checkpoint", "{ckpt}", "--base", "dbnet"], "not both"),
    (["--arch", ARCH, "--checkpoint", "{ckpt}", "--size", "200"], "multiples of 32"),
    (["--arch", ARCH, "--checkpoint", "{missing}"], "does not exist"),
    (["--arch", ARCH, "--checkpoint", "{ckpt}", "--replay", "{ckpt}"], "not available with --arch"),
])
def test_bad_arguments_exit_2_with_a_message(photos, tmp_path, capsys, extra, message):
    ckpt = tmp_path / "user.pth"
    ckpt.write_bytes(b"not read: the arguments are refused first")
    extra = [a.format(ckpt=ckpt, missing=tmp_path / "missing.pth") for a in extra]
    assert main(["train", "det", "--data", str(photos), "--out", str(tmp_path / "o"), *extra]) == 2
    assert message in capsys.readouterr().err
