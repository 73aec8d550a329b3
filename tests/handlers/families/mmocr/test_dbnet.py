"""DBNet / DBNet++ re-implementation vs the MMOCR 1.0.1 oracle (shared/oracle).

On torch 2.13 CPU, one thread, the prob map and prob_logits / thr_map / binary_map of mode
'both' were bit-identical to the oracle for both configs on the machine they were written on.
On other CPUs the convolutions sum in another order, and DBNet++ amplifies float32 rounding: its
prob map is 3.5e-4 off the oracle while the same network in float64 is 3.8e-4 off it. Every
tensor is held to the shared allowance of tests/oracle.py (3x our own float32 distance from our
float64 run, at least 1e-4, at most the tensor's cap below). The caps, from the distances
measured on a 2-core AVX-512 machine (2026-12-06; ours / folded-for-serving / own float32):
DBNet prob 2.5e-5 / 2.9e-5 / 2.5e-5 and binary_map 3.3e-4 / 3.2e-4 / 3.3e-4 (cap 2e-3);
DBNet++ prob 3.5e-4 / 5.1e-4 / 3.7e-4 (cap 2e-3), thr_map 3.0e-4 / 8.4e-4 / 5.6e-4 (cap 2e-3),
binary_map 2.5e-3 / 5.5e-3 / 4.3e-3 (cap 1e-2). The binary map is 1 / (1 + exp(-50 (prob - thr))):
a float32 error in prob - thr comes out up to 12.5x larger, so on DBNet++ a network-level
comparison cannot tell k = 51 (6e-3 off) from rounding. The constant is therefore also checked
where it acts: the head's binarisation of the oracle's own prob and thr maps must give the
oracle's binary map (1.2e-7 off; k = 51 is 4.4e-3 off on both configs:
test_wrong_constants_fail; at network level k = 51 is 4.6e-3 off on DBNet, 6.0e-3 on DBNet++). Post-processing with handlers.ops.db_postprocess gives the oracle's
polygons and scores.
"""
from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

from handlers.families.mmocr import MODEL_BUILDERS, build_model, convert_mmocr0x_state_dict
from handlers.families.mmocr.db_head import DBHead
from handlers.families.mmocr.dbnet import DEFAULT_CFGS, build_dbnet, db_params_kwargs
from handlers.families.mmocr.fuse import fold_batchnorm
from handlers.families.mmocr.resnet import ResNet
from handlers.ops.db_postprocess import DBParams, db_postprocess
from tests.oracle import (FLOOR, assert_parity, compare, det_input, every_core, expected_shapes, float64_run,
                          mismatches, one_thread, outputs, state_dict, swap_weights)

CONFIGS = ["dbnet_resnet18_fpnc_1200e_icdar2015", "dbnetpp_resnet50_fpnc_1200e_icdar2015"]
BOTH = ("prob_logits", "thr_map", "binary_map")
#: the largest allowance per tensor (tests/oracle.py); the rest, intermediates included: "*"
CAPS = {
    CONFIGS[0]: {"*": 1e-3, "binary_map": 2e-3},
    CONFIGS[1]: {"*": 2e-3, "prob_logits": 1e-3, "binary_map": 1e-2},
}


@pytest.fixture(scope="module", params=CONFIGS)
def run(request):
    """Build, load the oracle weights strictly, run once (one thread) with hooks; the same in
    float64, and the served build (BatchNorm folded) once in float32."""
    name = request.param
    state = state_dict(name)
    out = outputs(name)
    inputs = det_input()
    model = build_dbnet(name)
    model.load_state_dict(state, strict=True)
    model.eval()
    captured, handles = _capture_children(model, out["intermediate"])
    prob = one_thread(model, inputs)
    for h in handles:
        h.remove()
    both = one_thread(model, inputs, mode="both")
    exact = every_core(_float64_run, model, inputs, out["intermediate"])  # float64: threads change nothing
    served = copy.deepcopy(model)
    fold_batchnorm(served)
    return {"name": name, "outputs": out, "prob": prob, "both": both, "exact": exact,
            "captured": captured, "model": model, "state": state, "served": one_thread(served, inputs)}


def _capture_children(model, keys) -> tuple[dict[str, object], list]:
    """Forward hooks that keep the first float32 output of each named child (cloned before
    in-place ReLUs overwrite it); returns the dict they fill and the hook handles."""
    captured: dict[str, object] = {}
    modules = dict(model.named_modules())
    handles = []
    for key in keys:
        if key in modules:
            def hook(_m, _a, out, key=key):
                if key not in captured:
                    captured[key] = (tuple(o.clone().float() for o in out) if isinstance(out, tuple)
                                     else out.clone().float())
            handles.append(modules[key].register_forward_hook(hook))
    return captured, handles


def _float64_run(model, inputs, keys) -> dict[str, object]:
    """The same network and weights in float64: prob, mode 'both' and the hooked children."""
    model64 = copy.deepcopy(model).double()
    captured, handles = _capture_children(model64, keys)
    prob = model64(inputs.double()).float()
    for h in handles:
        h.remove()
    both = tuple(t.float() for t in model64(inputs.double(), mode="both"))
    return {"prob": prob, "both": both, "captured": captured}


def _cap(name: str, what: str) -> float:
    caps = CAPS[name]
    return caps.get(what, caps["*"])


def _both_checks(run, both, exact) -> list:
    """mode 'both' (float32 and float64) against the oracle, and the binarisation on the
    oracle's own maps."""
    ref = run["outputs"]["raw_db_both"]
    checks = [compare(key, ours, ref[key], e, _cap(run["name"], key)) for ours, e, key in zip(both, exact, BOTH)]
    return checks + [_binarize_oracle_maps(run["model"].det_head, ref)]


def _binarize_oracle_maps(head: DBHead, ref: dict):
    """The head's own forward ('both'), its branches replaced by the oracle's prob logits and
    threshold map, must give the oracle's binary map: this pins k where it acts, free of the
    network's rounding (a 2x2 input: only the branch outputs matter)."""
    handles = [head.binarize.register_forward_hook(lambda *_: ref["prob_logits"][:, None]),
               head.threshold.register_forward_hook(lambda *_: ref["thr_map"][:, None])]
    try:
        x = torch.zeros(1, head.in_channels, 2, 2)
        binary = one_thread(head, x, mode="both")[2]
    finally:
        for h in handles:
            h.remove()
    return compare("binary_map of the oracle's prob and thr maps", binary, ref["binary_map"])


def test_registry_refuses_unknown_names():
    assert set(CONFIGS) <= set(MODEL_BUILDERS)
    with pytest.raises(ValueError, match="unknown MMOCR detector config"):
        build_model("dbnet_resnet18_fpnc_1200e_totaltext_typo")
    with pytest.raises(ValueError, match="unknown DBNet config"):
        build_dbnet("panet_resnet18_fpem-ffm_600e_icdar2015")


def test_unsupported_backbone_options_are_refused():
    with pytest.raises(ValueError, match="DCNv2"):
        ResNet(50, dcn={"type": "DCN"})
    with pytest.raises(ValueError, match="depth"):
        ResNet(42)


@pytest.mark.parametrize("name", CONFIGS)
def test_state_dict_keys_and_shapes_match_mmocr(name):
    ours = {k: tuple(v.shape) for k, v in build_model(name).state_dict().items()}
    assert ours == expected_shapes(name)


def test_strict_load_and_raw_prob_map(run):
    ref = run["outputs"]["raw"]
    assert run["prob"].shape == ref.shape == (1, 640, 640)
    check = compare("prob", run["prob"], ref, run["exact"]["prob"], _cap(run["name"], "prob"))
    assert_parity(check)
    if run["name"].startswith("dbnet_"):  # well conditioned: within twice the floor (1.15e-4 on an AVX2 EPYC)
        assert check.allowed < 2 * FLOOR


def test_served_build_matches_oracle(run):
    """The served network (BatchNorm folded into the convolutions) meets the same allowance."""
    ref = run["outputs"]["raw"]
    assert_parity(compare("served prob", run["served"], ref, run["exact"]["prob"], _cap(run["name"], "prob")))


def test_mode_both_matches_oracle(run):
    for ours, key in zip(run["both"], BOTH):
        assert ours.shape == run["outputs"]["raw_db_both"][key].shape, key
    assert_parity(*_both_checks(run, run["both"], run["exact"]["both"]))


def _head_checks(run, head: DBHead) -> list:
    """``head`` re-run on our neck output, in float32 and in float64, against the oracle."""
    neck, neck64 = run["captured"]["neck"], run["exact"]["captured"]["neck"]
    return _both_checks(run, one_thread(head, neck, mode="both"), float64_run(head, neck64, mode="both"))


def test_wrong_constants_fail(run, monkeypatch):
    """k = 51 instead of 50 in the head's binarisation, and two swapped convolution weights of
    the threshold branch, each exceed the allowance (the head alone is re-run on our neck output,
    in float32 and float64, the perturbation included: prob and thr maps do not depend on k)."""
    name, head = run["name"], run["model"].det_head
    binarize = DBHead.diff_binarize
    monkeypatch.setattr(DBHead, "diff_binarize", staticmethod(lambda p, t, k: binarize(p, t, k + 1)))
    bad = mismatches(_head_checks(run, head))
    assert "binary_map of the oracle's prob and thr maps" in [c.what for c in bad], bad
    if name.startswith("dbnet_"):  # the network-level comparison alone catches it too
        assert "binary_map" in [c.what for c in bad], bad
    monkeypatch.undo()  # unperturbed, the same path passes: test_mode_both_matches_oracle
    swapped = copy.deepcopy(head)
    swap_weights(swapped, "threshold.3.weight", "binarize.3.weight")
    bad = mismatches(_head_checks(run, swapped))
    assert {"prob_logits", "thr_map"} <= {c.what for c in bad}, bad


def _summary_check(key: str, ours: torch.Tensor, exact: torch.Tensor, ref: dict, cap: float) -> list:
    """A stored summary (shape, sample, abs_sum) against ours."""
    assert list(ours.shape) == list(ref["shape"]), key
    stride = ref["sample_stride"]
    sample = compare(key, ours.reshape(-1)[::stride], ref["sample"].to(torch.float32),
                     exact.reshape(-1)[::stride], cap)
    assert abs(float(ours.double().abs().sum()) - ref["abs_sum"]) <= max(FLOOR, sample.allowed) * ref["abs_sum"], key
    return [sample]


def test_intermediate_outputs_match_oracle(run):
    """Per-child outputs (backbone stages, neck, head branches), to localise mismatches."""
    inter = run["outputs"]["intermediate"]
    cap = _cap(run["name"], "*")
    checks = []
    for key, ref in inter.items():
        if key not in run["captured"]:
            continue
        ours, exact = run["captured"][key], run["exact"]["captured"][key]
        refs = ref if isinstance(ref, (list, tuple)) else [ref]
        outs = ours if isinstance(ours, tuple) else (ours,)
        exacts = exact if isinstance(exact, tuple) else (exact,)
        assert len(outs) == len(refs), key
        for o, e, r in zip(outs, exacts, refs):
            checks += _summary_check(key, o, e, r, cap) if isinstance(r, dict) else [compare(key, o, r, e, cap)]
    assert len(checks) >= 12
    assert_parity(*checks)


def _match(ours: list[np.ndarray], theirs: list[np.ndarray]) -> list[int]:
    """For each oracle polygon the index of ours with all vertices within 1 px.

    MMOCR leaves cv2.boxPoints' vertex order; the repo orders quads clockwise from
    the top-left, so vertices are matched as sets (each vertex to its nearest).
    """
    def dist(a: np.ndarray, b: np.ndarray) -> float:
        d = np.linalg.norm(a[:, None, :] - b[None, :, :], axis=-1)
        return float(max(d.min(axis=1).max(), d.min(axis=0).max()))

    result = []
    for poly in theirs:
        dists = [dist(poly, p) if len(p) == len(poly) else np.inf for p in ours]
        best = int(np.argmin(dists))
        assert dists[best] <= 1.0, (poly.tolist(), dists[best])
        result.append(best)
    assert sorted(result) == list(range(len(ours))), "polygons are not matched one-to-one"
    return result


def test_postprocess_matches_oracle_prediction(run):
    name = run["name"]
    params = DBParams(**db_params_kwargs(name))
    assert params.text_repr_type == DEFAULT_CFGS[name]["postprocessor"]["text_repr_type"]
    polygons, scores = db_postprocess(run["prob"][0].numpy(), params)
    pred = run["outputs"]["pred"]
    theirs = [np.asarray(p, dtype=np.float64).reshape(-1, 2) for p in pred["polygons"]]
    assert len(polygons) == len(theirs) and len(theirs) > 0
    index = _match([p.astype(np.float64) for p in polygons], theirs)
    for i, j in enumerate(index):
        assert abs(scores[j] - pred["scores"][i]) <= 1e-4


def test_convert_mmocr0x_checkpoint_keys():
    """Synthetic MMOCR 0.x DBNet++ checkpoint: head under bbox_head, DataParallel prefix."""
    model = build_dbnet("dbnetpp_resnet50_fpnc_1200e_icdar2015")
    state = model.state_dict()
    old = {}
    for key, value in state.items():
        old_key = "bbox_head." + key[len("det_head."):] if key.startswith("det_head.") else key
        old["module." + old_key] = value.clone() + 1 if value.is_floating_point() else value
    assert any(k.startswith("module.bbox_head.binarize.") for k in old)
    checkpoint = {"meta": {"mmocr_version": "0.6.3"}, "state_dict": old}
    converted = convert_mmocr0x_state_dict(checkpoint)
    assert set(converted) == set(state)
    fresh = build_dbnet("dbnetpp_resnet50_fpnc_1200e_icdar2015")
    fresh.load_state_dict(converted, strict=True)
    key = "det_head.threshold.6.weight"
    assert torch.equal(fresh.state_dict()[key], state[key] + 1)
    # A bare state_dict works too, and 1.x keys pass through unchanged.
    assert set(convert_mmocr0x_state_dict(state)) == set(state)
    with pytest.raises(ValueError, match="two checkpoint keys"):
        convert_mmocr0x_state_dict({"bbox_head.x": torch.zeros(1), "det_head.x": torch.zeros(1)})
