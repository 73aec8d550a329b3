"""DRRG proposals and post-processing (handlers.families.mmocr.drrg_proposals,
handlers.ops.drrg_postprocess) on constructed maps.

MMOCR's graph stage has no oracle output (it did not finish on random maps), so the
proposals, LA-NMS, linking and polygon building are checked on maps with a known
answer. Links are given here as "every kNN link of a proposal scores 1" (what a
perfect GCN would say inside one text); the length threshold and link_thr must then
separate the texts. The GCN itself runs in test_drrg.py.
"""
from __future__ import annotations

import time

import numpy as np
import pytest
from shapely.geometry import Point, Polygon

from handlers.families.mmocr.drrg_graph import build_local_graphs
from handlers.families.mmocr.drrg_proposals import (ProposalParams, convex_quad_intersection,
                                                    la_nms, propose_components, quad_nms)
from handlers.ops.drrg_postprocess import chain_order, drrg_postprocess
from handlers.ops.fce_postprocess import poly_nms

CONFIG = ProposalParams(text_region_thr=0.3, center_region_thr=0.4)


def _maps(h: int, w: int) -> np.ndarray:
    m = np.zeros((6, h, w), np.float32)
    m[0] = m[1] = -10.0
    m[2] = -1.0  # sin: "top" direction (cos, sin) = (0, -1) = up
    return m


def strip_maps(strips=((12, 36), (100, 124)), x_range=(20, 172), size=(136, 192)):
    """Horizontal text strips (y0, y1) over x_range; center region = middle third."""
    m = _maps(*size)
    x0, x1 = x_range
    for y0, y1 in strips:
        m[0, y0:y1 + 1, x0:x1] = 10.0
        third = (y1 - y0) // 3
        m[1, y0 + third:y1 - third + 1, x0 + 4:x1 - 4] = 10.0
        ys = np.arange(y0, y1 + 1, dtype=np.float32)[:, None]
        m[4, y0:y1 + 1, x0:x1] = ys - y0  # distance to the top side
        m[5, y0:y1 + 1, x0:x1] = y1 - ys  # distance to the bottom side
    return m


def arc_maps(center=(100.0, 110.0), radii=(60.0, 84.0), angles=(200.0, 340.0)):
    """A curved strip: ring sector, top side = outer radius."""
    m = _maps(140, 200)
    ys, xs = np.mgrid[0:140, 0:200].astype(np.float32)
    dx, dy = xs - center[0], ys - center[1]
    r = np.hypot(dx, dy)
    phi = np.degrees(np.arctan2(dy, dx)) % 360
    in_sector = (phi >= angles[0]) & (phi <= angles[1])
    r_in, r_out = radii
    text = in_sector & (r >= r_in) & (r <= r_out)
    mid, third = (r_in + r_out) / 2, (r_out - r_in) / 6
    m[0][text] = 10.0
    m[1][text & (np.abs(r - mid) <= third) & (phi >= angles[0] + 4) & (phi <= angles[1] - 4)] = 10
    m[2] = np.where(r > 0, dy / np.maximum(r, 1e-6), 0)  # outward = top direction
    m[3] = np.where(r > 0, dx / np.maximum(r, 1e-6), 1)
    m[4] = np.where(text, r_out - r, 0)
    m[5] = np.where(text, r - r_in, 0)
    return m, text


def _perfect_links(attribs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    nodes, _, knn = build_local_graphs(attribs[:, :2])
    edges = np.stack([np.repeat(nodes[:, 0], knn.shape[1]),
                      np.take_along_axis(nodes, knn, 1).ravel()], 1)
    return edges, np.ones(len(edges))


def _run(maps, params=CONFIG, **kwargs):
    attribs, comps = propose_components(maps, params)
    edges, scores = _perfect_links(attribs)
    return drrg_postprocess(edges, scores, comps, **kwargs)


def test_two_separated_strips_give_two_polygons():
    polygons, scores = _run(strip_maps())
    # Scores: the 1.03-expanded, truncated rectangles reach 1-2 rows past the text.
    assert len(polygons) == 2 and all(0.9 < s < 0.97 for s in scores)
    boxes = sorted((p.min(0).tolist(), p.max(0).tolist()) for p in polygons)
    for (lo, hi), (y0, y1) in zip(boxes, ((12, 36), (100, 124))):
        # The text strip (x 20..171, y0..y1) is covered to within ~8 px (half a
        # component width at the ends, integer truncation on the sides).
        assert 18 <= lo[0] <= 28 and 164 <= hi[0] <= 176, (lo, hi)
        assert abs(lo[1] - y0) <= 2 and abs(hi[1] - y1) <= 2, (lo, hi)


def test_scale_factor_and_link_threshold():
    polygons, _ = _run(strip_maps(), scale_factor=(2.0, 0.5))
    ref, _ = _run(strip_maps())
    for p, q in zip(sorted(polygons, key=lambda p: p[0, 1]), sorted(ref, key=lambda p: p[0, 1])):
        np.testing.assert_allclose(p, q / np.array([2.0, 0.5], np.float32))
    attribs, comps = propose_components(strip_maps(), CONFIG)
    edges, _ = _perfect_links(attribs)
    assert drrg_postprocess(edges, np.full(len(edges), 0.79), comps) == ([], [])
    assert len(drrg_postprocess(edges, np.full(len(edges), 0.8), comps)[0]) == 2


def test_long_links_are_cut():
    """Two strips 20 px apart end to end: linked at edge_len_thr 50, cut at 3."""
    maps = strip_maps(strips=((12, 36),), x_range=(20, 80))
    maps2 = strip_maps(strips=((12, 36),), x_range=(100, 172))
    maps[:, :, 100:] = maps2[:, :, 100:]
    assert len(_run(maps)[0]) == 1
    assert len(_run(maps, edge_len_thr=3.0)[0]) == 0  # every link longer than 3 px


def test_curved_strip_gives_one_polygon_following_it():
    maps, text = arc_maps()
    polygons, scores = _run(maps)
    assert len(polygons) == 1 and scores[0] > 0.9
    poly = Polygon(polygons[0]).buffer(0)
    truth = Polygon(np.argwhere(text)[:, ::-1]).convex_hull  # just for the area scale
    ys, xs = np.nonzero(text)
    covered = np.mean([poly.contains(Point(x, y)) for x, y in zip(xs[::7], ys[::7])])
    assert covered > 0.85
    # It follows the arc: the ring's centre (inside the convex hull) is outside.
    assert truth.contains(Point(100, 60)) and not poly.contains(Point(100, 60))
    assert poly.area < 0.8 * truth.area


def test_empty_and_single_component_maps():
    assert propose_components(_maps(64, 64), CONFIG)[1].shape == (0, 9)
    assert drrg_postprocess(np.zeros((0, 2)), np.zeros(0), np.zeros((0, 9))) == ([], [])
    small = _maps(64, 64)
    small[0, 20:30, 20:30] = small[1, 22:28, 22:28] = 10  # 36 px <= area threshold 50
    assert propose_components(small, CONFIG)[1].shape == (0, 9)
    with pytest.raises(ValueError, match=r"\(6, H, W\)"):
        propose_components(np.zeros((5, 8, 8), np.float32))


def test_component_geometry_of_a_strip():
    attribs, comps = propose_components(strip_maps(strips=((12, 36),)), CONFIG)
    quads = comps[:, :8].reshape(-1, 4, 2)
    # Text height 24 * 1.03 -> width clip(24.7 * 0.4, 8, 24) = 9.9; tl above br.
    assert np.all(quads[:, 0, 1] < quads[:, 2, 1]) and np.all(quads[:, 0, 0] < quads[:, 1, 0])
    np.testing.assert_allclose(attribs[:, 2], 24.0, atol=1e-5)  # h unshrunk
    np.testing.assert_allclose(attribs[:, 3], 9.6, atol=1e-5)
    np.testing.assert_allclose(attribs[:, 4:], [[0.0, -1.0]] * len(attribs), atol=1e-6)
    assert np.all((comps[:, 8] > 0.9) & (comps[:, 8] < 0.97))  # 24-25 of 26 rows in text


def test_la_nms_merges_consecutive_and_suppresses():
    q = np.array([0, 0, 10, 0, 10, 10, 0, 10], np.float32)
    rows = np.array([np.append(q, 0.5), np.append(q + 2, 0.5),  # IoU 0.47 -> merged
                     np.append(q + 100, 0.9), np.append(q + 1, 0.2)], np.float32)
    out = la_nms(rows, 0.3)
    # (q, q+2) merge to q+1 with score 1.0; q+100 stays; q+1 (0.2) is suppressed by it.
    assert out.shape == (2, 9)
    np.testing.assert_allclose(out[0], np.append(q + 1, 1.0))
    np.testing.assert_allclose(out[1], np.append(q + 100, 0.9))


def _random_rects(n: int, extent: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    c = rng.uniform(0, extent, (n, 2))
    half = rng.uniform(4, 20, (n, 2))
    angle = rng.uniform(-0.5, 0.5, n)
    u = np.stack([np.cos(angle), np.sin(angle)], 1) * half[:, :1]
    v = np.stack([-np.sin(angle), np.cos(angle)], 1) * half[:, 1:]
    return np.stack([c - u - v, c + u - v, c + u + v, c - u + v], 1)


def test_convex_quad_intersection_matches_shapely():
    p, q = _random_rects(400, 40.0, 1), _random_rects(400, 40.0, 2)
    p[::3] = p[::3, ::-1]  # either orientation: turned counter-clockwise inside
    def signed_area(x):
        nxt = np.roll(x, -1, 1)
        return (x[..., 0] * nxt[..., 1] - nxt[..., 0] * x[..., 1]).sum(1)

    ccw = [np.where((signed_area(x) < 0)[:, None, None], x[:, ::-1], x) for x in (p, q)]
    ours = convex_quad_intersection(*ccw)
    ref = [Polygon(a).intersection(Polygon(b)).area for a, b in zip(p, q)]
    np.testing.assert_allclose(ours, ref, atol=1e-6)
    assert (ours > 0).sum() > 100 and (ours == 0).sum() > 10
    same = convex_quad_intersection(ccw[0][:5], ccw[0][:5])  # identical quads
    np.testing.assert_allclose(same, [Polygon(a).area for a in p[:5]], rtol=1e-9)


@pytest.mark.parametrize("n, extent", [(300, 400.0), (300, 60.0)])  # sparse / crowded path
def test_quad_nms_equals_all_pairs_nms(n, extent):
    quads = _random_rects(n, extent, n + int(extent)).reshape(n, 8)
    scores = np.random.default_rng(7).uniform(0, 1, n)
    kept = quad_nms(quads, scores, 0.3)
    ref, ref_scores = poly_nms(list(quads.astype(np.float32)), list(scores), 0.3)
    assert sorted(scores[kept].tolist()) == sorted(ref_scores)
    assert 0 < len(kept) < n


def test_chain_order_follows_the_points():
    pts = np.array([[50, 0], [0, 0], [40, 0], [10, 0], [30, 0], [20, 0], [20, 0]], np.int32)
    order = chain_order(pts)
    assert [int(pts[i, 0]) for i in order] in ([0, 10, 20, 30, 40, 50], [50, 40, 30, 20, 10, 0])
    assert 6 not in order  # duplicate centre left out, as in MMOCR


def test_caps_bound_the_cost():
    maps = _maps(200, 200)
    maps[0] = maps[1] = 10.0  # everything is text: 40000 candidate pixels
    maps[4] = maps[5] = 5.0
    params = ProposalParams(text_region_thr=0.3, center_region_thr=0.4,
                            max_proposals=2000, max_components=50)
    start = time.perf_counter()
    attribs, comps = propose_components(maps, params)
    assert 0 < len(comps) <= 50 and attribs.shape == (len(comps), 6)
    assert time.perf_counter() - start < 10


def test_components_are_clipped_to_the_image():
    maps = strip_maps(strips=((0, 24),), x_range=(0, 192), size=(40, 192))
    attribs, comps = propose_components(maps, CONFIG)
    quads = comps[:, :8].reshape(-1, 4, 2)
    assert len(comps) > 5
    assert quads.min() == 0 and quads[..., 0].max() <= 191 and quads[..., 1].max() <= 39
    assert attribs[:, 0].min() >= 0 and attribs[:, 1].min() >= 0
