"""SDMG-R training extras: the uniform average of checkpoints (SWA-style, and `ocrserve train
kie-average`), training-only dropout hooks and node label smoothing (`ocrserve train kie --dropout /
--label-smoothing`)."""
from __future__ import annotations

import hashlib

import pytest
import torch
import torch.nn.functional as F

from handlers.families.kie.text_encoding import KIEDictionary
from service.tooling.cli import main as ocrserve
from service.tooling.training.kie.checkpoint import (average_checkpoints, average_models, greedy_soup, load_checkpoint,
                                                     save_checkpoint)
from service.tooling.training.kie.dataset import make_batch
from service.tooling.training.kie.evaluate import WILDRECEIPT_CLASSES
from service.tooling.training.kie.losses import sdmgr_loss
from service.tooling.training.kie.train import TrainOptions, new_model, train, training_dropout
from tests.handlers.families.kie.test_training import _docs, _write_ann

CLASSES = list(WILDRECEIPT_CLASSES)
ARCH = "sdmgr_novisual_60e_wildreceipt"
pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py


def _saved(tmp_path, seeds):
    paths = []
    for seed in seeds:
        model = new_model(TrainOptions(seed=seed), 26)
        paths.append(save_checkpoint(tmp_path, model, CLASSES, {"arch": "x"}, name=f"s{seed}.pth"))
    return paths


def test_average_is_the_uniform_mean_of_every_tensor(tmp_path):
    paths = _saved(tmp_path, (1, 2, 3))
    states = [torch.load(p, weights_only=True)["state_dict"] for p in paths]
    avg = average_checkpoints(paths)
    assert list(avg) == list(states[0])
    for key, value in avg.items():
        assert value.dtype == states[0][key].dtype
        assert torch.allclose(value, (states[0][key] + states[1][key] + states[2][key]) / 3, atol=1e-7)
    # not the first, not the last, not the average of two: every checkpoint counts with weight 1/3
    key = "kie_head.node_cls.weight"
    assert not torch.allclose(avg[key], (states[0][key] + states[2][key]) / 2, atol=1e-4)
    assert torch.equal(average_checkpoints(paths[:1])[key], states[0][key])
    model = new_model(TrainOptions(), 26)
    model.load_state_dict(avg, strict=True)  # loads as a model of the same config


def test_average_refuses_checkpoints_that_do_not_fit(tmp_path):
    (first,) = _saved(tmp_path, (1,))
    other = new_model(TrainOptions(seed=2), 25)  # another class count: node_cls shapes differ
    bad = save_checkpoint(tmp_path / "o", other, CLASSES[:25], {"arch": "x"})
    with pytest.raises(ValueError, match="shapes differ"):
        average_checkpoints([first, bad])
    with pytest.raises(ValueError, match="no checkpoint"):
        average_checkpoints([])


def test_dropout_acts_only_while_training_and_leaves_the_model_unchanged():
    docs = _docs()
    batch = make_batch(docs)
    model = new_model(TrainOptions(seed=5), 26)
    keys = list(model.state_dict())
    with torch.no_grad():
        clean = model.eval()(None, batch.boxes, batch.texts)[0]
        hooks = training_dropout(model, 0.5)
        assert torch.equal(model.eval()(None, batch.boxes, batch.texts)[0], clean)  # eval: identity
        model.train()
        torch.manual_seed(0)
        a = model(None, batch.boxes, batch.texts)[0]
        b = model(None, batch.boxes, batch.texts)[0]
        assert not torch.allclose(a, clean) and not torch.allclose(a, b)  # a new mask every call
        for hook in hooks:
            hook.remove()
        assert torch.equal(model(None, batch.boxes, batch.texts)[0], clean)  # removed: no dropout
    assert list(model.state_dict()) == keys and training_dropout(model, 0.0) == []


def test_training_with_dropout_is_deterministic_removes_its_hooks_and_differs():
    opts = TrainOptions(epochs=2, seed=4, dropout=0.3, label_smoothing=0.1)
    runs, models = [], []
    for _ in range(2):
        model = new_model(opts, 26)
        runs.append([e.loss for e in train(model, _docs(), opts, CLASSES)])
        models.append(model)
    assert runs[0] == runs[1]
    head = models[0].kie_head
    assert not head.node_embed._forward_hooks and not head.node_cls._forward_pre_hooks
    plain = new_model(TrainOptions(seed=4), 26)
    assert [e.loss for e in train(plain, _docs(), TrainOptions(epochs=2, seed=4), CLASSES)] != runs[0]


def test_label_smoothing_is_torch_definition_on_the_node_loss_only():
    torch.manual_seed(0)
    node, edge = torch.randn(4, 26), torch.randn(4, 2)
    node_t, edge_t = torch.tensor([1, 21, 3, -100]), torch.tensor([-1, 1, 0, -1])
    got = sdmgr_loss(node, edge, node_t, edge_t, label_smoothing=0.1)
    logp = F.log_softmax(node[:3], -1)
    want = (0.9 * -logp[torch.arange(3), node_t[:3]] + 0.1 * -logp.mean(-1)).mean()
    assert torch.allclose(got["loss_node"], want)
    plain = sdmgr_loss(node, edge, node_t, edge_t)
    assert not torch.allclose(got["loss_node"], plain["loss_node"])
    assert torch.equal(got["loss_edge"], plain["loss_edge"])


def _run(tmp_path, name, seed, classes=CLASSES, chars=None):
    model = new_model(TrainOptions(seed=seed), len(classes))
    if chars is not None:  # another dictionary of the same size: the shapes still fit
        model.kie_head.dictionary = KIEDictionary(chars)
    return save_checkpoint(tmp_path / name, model, classes, {"arch": ARCH})


def test_kie_average_writes_the_mean_model_with_its_ingredients(tmp_path, capsys):
    a, b = _run(tmp_path, "a", 1), _run(tmp_path, "b", 2)
    assert ocrserve(["train", "kie-average", str(a), str(b), "--out", str(tmp_path / "soup")]) == 0
    assert "uniform average of 2 checkpoints" in capsys.readouterr().out
    soup, classes, meta = load_checkpoint(tmp_path / "soup" / "sdmgr.pth")  # strict, with its files beside it
    assert classes == CLASSES and meta["arch"] == ARCH
    assert meta["averaged"] == [hashlib.sha256(p.read_bytes()).hexdigest() for p in (a, b)]
    mean = average_checkpoints([a, b])
    for key, value in soup.state_dict().items():
        assert torch.equal(value, mean[key]), key
    docs = _docs()
    batch = make_batch(docs)
    with torch.no_grad():
        outputs = [m(None, batch.boxes, batch.texts)[0] for m in (soup, load_checkpoint(a)[0], load_checkpoint(b)[0])]
    assert not torch.allclose(outputs[0], outputs[1]) and not torch.allclose(outputs[0], outputs[2])


def test_kie_average_refuses_checkpoints_of_other_classes_or_characters(tmp_path, capsys):
    a = _run(tmp_path, "a", 1)
    renamed = _run(tmp_path, "renamed", 2, classes=CLASSES[:-1] + ["Misc"])
    chars = list(new_model(TrainOptions(), 26).kie_head.dictionary.chars)
    other_chars = _run(tmp_path, "chars", 3, chars=chars[1:] + ["\u00e9"])
    out = ["--out", str(tmp_path / "soup")]
    for other, message in ((renamed, "class list differs"), (other_chars, "dictionary differs")):
        assert ocrserve(["train", "kie-average", str(a), str(other), *out]) == 2
        assert message in capsys.readouterr().err
    assert ocrserve(["train", "kie-average", str(a), *out]) == 2
    assert "two checkpoints or more" in capsys.readouterr().err
    assert ocrserve(["train", "kie-average", str(a), str(tmp_path / "none.pth"), *out]) == 2
    assert "no such file" in capsys.readouterr().err
    assert not (tmp_path / "soup").exists()


def test_greedy_soup_keeps_a_checkpoint_only_when_the_average_holds_up(tmp_path):
    paths = [_run(tmp_path, name, seed) for name, seed in (("a", 1), ("b", 2), ("c", 3))]

    def norm(model, classes):
        assert classes == CLASSES
        return float(model.kie_head.node_cls.weight.norm())

    lines: list[str] = []
    # averaging independent initialisations shrinks the weights: a score that falls with them drops every
    # later checkpoint, one that rises with them admits all, and a tolerance wider than the drop admits all
    assert greedy_soup(paths, norm, 0.0, log=lines.append) == paths[:1]
    assert sum("left out" in line for line in lines) == 2
    assert greedy_soup(paths, lambda m, c: -norm(m, c), 0.0, log=lines.append) == paths
    drop = norm(average_models(paths[:2])[0], CLASSES) - min(norm(load_checkpoint(p)[0], CLASSES) for p in paths[:2])
    assert drop < 0
    assert greedy_soup(paths[:2], norm, -drop * 1.01, log=lines.append) == paths[:2]
    assert greedy_soup(paths[:2], norm, -drop * 0.99, log=lines.append) == paths[:1]


def test_kie_average_screen_writes_the_kept_checkpoints_or_nothing(tmp_path, capsys):
    a, b = _run(tmp_path, "a", 1), _run(tmp_path, "b", 2)
    screen = tmp_path / "screen" / "receipts.txt"
    screen.parent.mkdir()
    _write_ann(screen, _docs())
    # micro-F1 lies in [0, 1]: a tolerance of 1 admits any soup, one of -1 none
    assert ocrserve(["train", "kie-average", str(a), str(b), "--screen", str(screen), "--tolerance", "1",
                     "--out", str(tmp_path / "soup")]) == 0
    out = capsys.readouterr().out
    assert "alone" in out and ": joins" in out and "uniform average of 2 checkpoints" in out
    _, _, meta = load_checkpoint(tmp_path / "soup" / "sdmgr.pth")
    assert meta["averaged"] == [hashlib.sha256(p.read_bytes()).hexdigest() for p in (a, b)]
    assert ocrserve(["train", "kie-average", str(a), str(b), "--screen", str(screen), "--tolerance", "-1",
                     "--out", str(tmp_path / "none")]) == 1
    captured = capsys.readouterr()
    assert ": left out" in captured.out and "passed the screen; nothing written" in captured.err
    assert not (tmp_path / "none").exists()
    assert ocrserve(["train", "kie-average", str(a), str(b), "--screen", str(tmp_path / "no.txt"),
                     "--out", str(tmp_path / "none")]) == 2
    assert "no such file" in capsys.readouterr().err
    renamed = _run(tmp_path, "renamed", 3, classes=CLASSES[:-1] + ["Misc"])  # screened, still refused
    assert ocrserve(["train", "kie-average", str(a), str(renamed), "--screen", str(screen), "--tolerance", "1",
                     "--out", str(tmp_path / "none")]) == 2
    assert "class list differs" in capsys.readouterr().err
    assert not (tmp_path / "none").exists()
