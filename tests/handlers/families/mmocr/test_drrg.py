"""DRRG (resnet50, FPN-UNet, GCN) vs the MMOCR 1.0.1 oracle (shared/oracle), and its
graph stage (rotated RoI-Align, geometric embedding, local graphs, GCN).

Achieved on torch 2.13 CPU, one thread: the (1, 6, 640, 640) ``raw_pred_maps`` are
bit-identical (max relative error 0). The oracle has no reference for the graph stage
(MMOCR's did not finish on random maps), so it is checked against analytic cases here
and the post-processing on constructed maps in test_drrg_postprocess.py.
"""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from handlers.ops.roi_align import roi_align
from handlers.families.mmocr import MODEL_BUILDERS, build_model
from handlers.families.mmocr.drrg import build_drrg, drrg_params_kwargs
from handlers.families.mmocr.drrg_graph import (build_local_graphs, feature_embedding,
                                                roi_align_rotated)
from handlers.ops.drrg_postprocess import drrg_postprocess
from tests.oracle import assert_parity, compare, expected_shapes, run_oracle, served_checks
from tests.handlers.families.mmocr.test_drrg_postprocess import strip_maps

NAME = "drrg_resnet50_fpn-unet_1200e_ctw1500"


@pytest.fixture(scope="module")
def run():
    return run_oracle(NAME, build_drrg(NAME))


def test_registry_and_state_dict_names():
    assert NAME in MODEL_BUILDERS
    ours = {k: tuple(v.shape) for k, v in build_model(NAME).state_dict().items()}
    assert ours == expected_shapes(NAME)
    assert drrg_params_kwargs(NAME) == {"link_thr": 0.8, "edge_len_thr": 50.0}
    with pytest.raises(ValueError, match="unknown DRRG config"):
        build_drrg("drrg_typo")


def test_raw_pred_maps_match_oracle(run):
    ref = run["outputs"]["raw_pred_maps"]
    assert run["raw"].shape == ref.shape == (1, 6, 640, 640)
    assert_parity(compare("raw_pred_maps", run["raw"], ref))  # achieved: 0.0 to 1.2e-6


def test_served_build_matches_oracle(run):
    """The served network (BatchNorm folded) stays within the shared allowance of the oracle."""
    assert_parity(*served_checks(run, run["outputs"]["raw_pred_maps"]))

def _graph_inputs():
    maps = strip_maps()
    feats = torch.randn(1, 38, *maps.shape[1:], generator=torch.Generator().manual_seed(3))
    return torch.from_numpy(maps), feats


def test_gcn_path_on_oracle_weights(run):
    model = run["model"]
    maps, feats = _graph_inputs()
    out = model.graph_stage(maps, feats)  # no outer no_grad: the stage sets it itself
    with torch.no_grad():
        again = model.graph_stage(maps, feats)
    n, k = len(out.text_comps), min(8, len(out.text_comps) - 1)
    assert n >= 10 and out.edges.shape == (n * k, 2) and out.scores.shape == (n * k,)
    assert np.all((out.scores >= 0) & (out.scores <= 1))
    assert np.array_equal(out.edges, again.edges) and np.array_equal(out.scores, again.scores)
    # Every component is a pivot linked to k distinct other components.
    assert np.array_equal(out.edges[:, 0], np.repeat(np.arange(n), k))
    neighbours = out.edges[:, 1].reshape(n, k)
    assert all(len(set(row)) == k and i not in row for i, row in enumerate(neighbours.tolist()))
    polygons, scores = drrg_postprocess(out.edges, out.scores, out.text_comps)
    assert len(polygons) == len(scores) and all(p.shape[1] == 2 for p in polygons)


def test_gcn_padding_does_not_leak(run):
    """Scores of a padded batch of local graphs equal each graph run on its own."""
    head = run["model"].det_head
    attribs = np.array([[10 + 9 * i, 30 + 3 * (i % 3), 12, 8, 0.0, -1.0] for i in range(14)])
    feats = torch.randn(1, 38, 64, 160, generator=torch.Generator().manual_seed(5))
    with torch.no_grad():
        edges, probs = head.link_scores(feats, attribs)
        node_feats = head.node_features(feats, attribs)
        nodes, adj, knn = build_local_graphs(attribs[:, :2])
        assert (nodes < 0).any()  # graphs of different sizes: padding present
        for g in (0, 6, 13):
            members = nodes[g][nodes[g] >= 0]
            x = (node_feats[members] - node_feats[members[0]])[None]
            size = len(members)
            logits = head.gcn(x, torch.from_numpy(adj[g:g + 1, :size, :size]),
                              torch.from_numpy(knn[g:g + 1]))
            alone = torch.softmax(logits, 1)[:, 1].numpy()
            np.testing.assert_allclose(probs[g * 8:(g + 1) * 8], alone, rtol=1e-5, atol=1e-6)
    assert node_feats.shape == (14, 4 * 3 * 38 + 120)


def test_roi_align_rotated_angle_zero_equals_axis_aligned():
    feats = torch.randn(1, 5, 40, 50, generator=torch.Generator().manual_seed(0))
    rois = torch.tensor([[0, 20.0, 15.0, 13.0, 9.0, 0.0], [0, 3.0, 37.0, 10.0, 11.5, 0.0]])
    boxes = torch.stack([rois[:, 0], rois[:, 1] - rois[:, 3] / 2, rois[:, 2] - rois[:, 4] / 2,
                         rois[:, 1] + rois[:, 3] / 2, rois[:, 2] + rois[:, 4] / 2], 1)
    ours = roi_align_rotated(feats, rois, (4, 3))
    ref = roi_align(feats, boxes, (4, 3), 1.0, 0, True)
    torch.testing.assert_close(ours, ref, rtol=1e-5, atol=1e-5)


def test_roi_align_rotated_linear_map_is_exact():
    """On f = a x + b y + c every bin is f at the rotated bin centre (interior RoI)."""
    h, w, (a, b, c) = 60, 80, (0.5, -0.25, 3.0)
    ys, xs = torch.meshgrid(torch.arange(h, dtype=torch.float32),
                            torch.arange(w, dtype=torch.float32), indexing="ij")
    feats = (a * xs + b * ys + c)[None, None]
    cx, cy, rw, rh, theta = 40.0, 30.0, 18.0, 10.0, 0.7
    out = roi_align_rotated(feats, torch.tensor([[0, cx, cy, rw, rh, theta]]), (4, 3))[0, 0]
    for ph in range(4):
        for pw in range(3):
            yy = -rh / 2 + (ph + 0.5) * rh / 4
            xx = -rw / 2 + (pw + 0.5) * rw / 3
            x = yy * math.sin(theta) + xx * math.cos(theta) + cx - 0.5
            y = yy * math.cos(theta) - xx * math.sin(theta) + cy - 0.5
            assert abs(float(out[ph, pw]) - (a * x + b * y + c)) < 1e-4


def test_feature_embedding_formula():
    feats = np.array([[1.0, 2, 3, 4, 5, 6], [7.0, 8, 9, 10, 11, 12], [0.5, 0, 1, 2, 3, 4]])
    emb = feature_embedding(feats, 120)
    assert emb.shape == (3, 120) and emb.dtype == np.float32
    for n in range(3):
        f = np.sin if n % 2 == 0 else np.cos  # MMOCR alternates over nodes
        for j in range(20):
            expect = f(feats[n] / 1000.0 ** (2 * (j // 2) / 20))
            np.testing.assert_allclose(emb[n, 6 * j:6 * j + 6], expect, rtol=1e-6)
    short = feature_embedding(feats, 20)  # 3 copies + a partial one, exponent + 1
    expect = np.sin(np.hstack([feats[0] / 1000.0 ** (2 * (j // 2) / 3 + 1) for j in range(3)]
                              + [feats[0, :2] / 1000.0 ** (2 * (3 // 2) / 3 + 1)]))
    np.testing.assert_allclose(short[0], expect, rtol=1e-6)
    with pytest.raises(ValueError):
        feature_embedding(feats, 4)


def test_local_graphs_on_a_line():
    centers = np.array([[10.0 * i, 0.0] for i in range(12)])
    nodes, adj, knn = build_local_graphs(centers)
    assert nodes.shape[0] == 12 and knn.shape == (12, 8)
    # Pivot 0: 1-hop = 1..8, their 4 nearest reach up to 10.
    assert nodes[0, 0] == 0 and sorted(nodes[0][nodes[0] >= 0]) == list(range(11))
    assert sorted(nodes[0][knn[0]].tolist()) == list(range(1, 9))
    a = adj[0][:11, :11]
    np.testing.assert_allclose(a, a.T, atol=1e-7)
    assert np.all(adj[0][11:] == 0) and np.all(adj[0][:, 11:] == 0)
    assert np.all(np.diag(a) > 0)
    # 4 components: every node's 3 nearest are all the others -> (A + I) / 4 = 1/4.
    _, adj4, knn4 = build_local_graphs(centers[:4])
    np.testing.assert_allclose(adj4, np.full((4, 4, 4), 0.25), rtol=1e-6)
    assert knn4.shape == (4, 3)
    with pytest.raises(ValueError):
        build_local_graphs(centers[:1])


def test_roi_align_rotated_degenerate_rois_and_batch():
    feats = torch.ones(1, 2, 20, 20)
    rois = torch.tensor([[0, 10.0, 10.0, -6.0, 8.0, 0.3], [0, 10.0, 10.0, 6.0, 8.0, 0.3]])
    out = roi_align_rotated(feats, rois, (4, 3))
    assert torch.all(out[0] == 0) and torch.allclose(out[1], torch.ones(2, 4, 3))
    with pytest.raises(ValueError, match="batch size 1"):
        roi_align_rotated(torch.ones(2, 2, 20, 20), rois, (4, 3))
