"""DRRG's relational reasoning stage: rotated RoI-Align, local graphs, GCN.

Written from the DRRG paper (Zhang et al., CVPR 2020: text components become graph
nodes; each pivot's local graph holds its 1-hop kNN and their 2-hop kNN; a GCN on
the normalised adjacency classifies the links pivot -> 1-hop neighbour) and MMOCR
1.x's key names (``det_head.gcn.bn0``, ``conv1..4`` with ``weight`` (2 * in, out) and
``bias``, ``classifier`` = Linear, PReLU, Linear).

Torch: ``roi_align_rotated`` (what mmcv's ``RoIAlignRotated(aligned=True,
clockwise=False, sampling_ratio=0)`` computes) and ``GCN``. Numpy:
``feature_embedding`` and ``build_local_graphs``.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn


def _bilinear_taps(y: torch.Tensor, x: torch.Tensor, height: int, width: int):
    """Four (flat index, weight) taps per sample; samples beyond 1 px outside weigh 0."""
    valid = (y >= -1.0) & (y <= height) & (x >= -1.0) & (x <= width)
    y, x = y.clamp(min=0.0), x.clamp(min=0.0)
    y0, x0 = y.floor().long(), x.floor().long()
    y_end, x_end = y0 >= height - 1, x0 >= width - 1
    y0, x0 = y0.clamp(max=height - 1), x0.clamp(max=width - 1)
    y1 = torch.where(y_end, y0, y0 + 1)
    x1 = torch.where(x_end, x0, x0 + 1)
    ly = torch.where(y_end, torch.zeros_like(y), y - y0.to(y.dtype))
    lx = torch.where(x_end, torch.zeros_like(x), x - x0.to(x.dtype))
    hy, hx = 1.0 - ly, 1.0 - lx
    v = valid.to(y.dtype)
    idx = [y0 * width + x0, y0 * width + x1, y1 * width + x0, y1 * width + x1]
    wts = [hy * hx * v, hy * lx * v, ly * hx * v, ly * lx * v]
    return idx, wts


def _pool_group(fmap: torch.Tensor, rois: torch.Tensor, out_hw: tuple[int, int],
                grid: tuple[int, int]) -> torch.Tensor:
    """RoIs sharing one sampling grid -> (K, C, out_h, out_w)."""
    c, height, width = fmap.shape
    (out_h, out_w), (gh, gw) = out_hw, grid
    cx, cy, rw, rh, theta = (rois[:, i].reshape(-1, 1, 1, 1, 1) for i in range(5))
    opts = {"dtype": rois.dtype, "device": rois.device}
    ph = torch.arange(out_h, **opts).reshape(1, out_h, 1, 1, 1)
    iy = torch.arange(gh, **opts).reshape(1, 1, gh, 1, 1)
    pw = torch.arange(out_w, **opts).reshape(1, 1, 1, out_w, 1)
    ix = torch.arange(gw, **opts).reshape(1, 1, 1, 1, gw)
    yy = -rh / 2 + ph * (rh / out_h) + (iy + 0.5) * (rh / out_h) / gh
    xx = -rw / 2 + pw * (rw / out_w) + (ix + 0.5) * (rw / out_w) / gw
    cos, sin = torch.cos(theta), torch.sin(theta)
    y = yy * cos - xx * sin + cy
    x = yy * sin + xx * cos + cx
    idx, wts = _bilinear_taps(y, x, height, width)
    flat = fmap.reshape(c, -1)
    acc = sum(flat[:, i.reshape(-1)] * w.reshape(1, -1) for i, w in zip(idx, wts))
    acc = acc.reshape(c, rois.shape[0], out_h, gh, out_w, gw).sum(dim=(3, 5))
    return acc.permute(1, 0, 2, 3) / max(gh * gw, 1)


def roi_align_rotated(features: torch.Tensor, rois: torch.Tensor,
                      output_size: tuple[int, int], spatial_scale: float = 1.0
                      ) -> torch.Tensor:
    """features (1, C, H, W), rois (K, 6) = (batch, cx, cy, w, h, angle) -> (K, C, oh, ow).

    Aligned (half-pixel) centres, counter-clockwise angle, adaptive sampling grid
    ``ceil(h / oh) x ceil(w / ow)`` per RoI, bins averaged; RoIs with the same grid
    are pooled together.
    """
    if features.shape[0] != 1:
        raise ValueError("roi_align_rotated supports one image (batch size 1)")
    out_h, out_w = output_size
    r = rois.to(device=features.device, dtype=torch.float32)
    geo = torch.stack([r[:, 1] * spatial_scale - 0.5, r[:, 2] * spatial_scale - 0.5,
                       r[:, 3] * spatial_scale, r[:, 4] * spatial_scale, r[:, 5]], dim=1)
    out = features.new_zeros(rois.shape[0], features.shape[1], out_h, out_w)
    size = geo[:, 2:4].cpu().numpy()
    grids = np.stack([np.ceil(size[:, 1] / out_h), np.ceil(size[:, 0] / out_w)],
                     axis=1).astype(np.int64)
    for gh, gw in {tuple(g) for g in grids.tolist()}:
        sel = torch.from_numpy(np.flatnonzero((grids[:, 0] == gh) & (grids[:, 1] == gw)))
        sel = sel.to(features.device)
        if gh > 0 and gw > 0:
            out[sel] = _pool_group(features[0], geo[sel], (out_h, out_w), (gh, gw))
    return out


class GraphConv(nn.Module):
    """relu([x, A x] W + b): node features concatenated with their mean-aggregated ones."""

    def __init__(self, in_dim: int, out_dim: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.empty(in_dim * 2, out_dim))
        self.bias = nn.Parameter(torch.zeros(out_dim))
        nn.init.xavier_uniform_(self.weight)

    def forward(self, feats: torch.Tensor, adj: torch.Tensor) -> torch.Tensor:
        cat = torch.cat([feats, torch.bmm(adj, feats)], dim=2)
        return F.relu(torch.matmul(cat, self.weight) + self.bias)


class GCN(nn.Module):
    """BN (no affine) -> 4 GraphConvs (512, 256, 128, 64) -> per-kNN-edge 2-way logits."""

    def __init__(self, feat_len: int) -> None:
        super().__init__()
        self.bn0 = nn.BatchNorm1d(feat_len, affine=False)
        dims = (feat_len, 512, 256, 128, 64)
        for i in range(4):
            setattr(self, f"conv{i + 1}", GraphConv(dims[i], dims[i + 1]))
        self.classifier = nn.Sequential(nn.Linear(64, 32), nn.PReLU(32), nn.Linear(32, 2))

    def forward(self, node_feats: torch.Tensor, adj: torch.Tensor,
                knn_inds: torch.Tensor) -> torch.Tensor:
        """(G, M, F) feats, (G, M, M) adjacency, (G, k) kNN positions -> (G * k, 2) logits."""
        g, m, f = node_feats.shape
        x = self.bn0(node_feats.reshape(-1, f)).reshape(g, m, f)
        for conv in (self.conv1, self.conv2, self.conv3, self.conv4):
            x = conv(x, adj)
        edge_feats = torch.gather(x, 1, knn_inds[:, :, None].expand(-1, -1, x.shape[2]))
        return self.classifier(edge_feats.reshape(-1, x.shape[2]))


def feature_embedding(feats: np.ndarray, out_len: int) -> np.ndarray:
    """Sinusoidal embedding of (N, d) geometric attributes to (N, out_len), float32.

    The features are divided by 1000 ** (2 * (j // 2) / R) for R = out_len // d
    repetitions j (R + 1 and a zero-padded partial copy when d does not divide
    out_len). As in MMOCR, sin / cos alternate over the *node* axis (even nodes
    sin, odd nodes cos), not over the feature axis; trained weights expect that.
    """
    feats = np.asarray(feats, dtype=np.float64)
    n, d = feats.shape
    if out_len < d:
        raise ValueError(f"feature_embedding: out_len {out_len} < feature size {d}")
    reps, residue = divmod(out_len, d)
    stack = [feats] * reps
    if residue:
        part = np.zeros_like(feats)
        part[:, :residue] = feats[:, :residue]
        stack.append(part)
        expo = np.array([2.0 * (j // 2) / reps + 1 for j in range(reps + 1)])
    else:
        expo = np.array([2.0 * (j // 2) / reps for j in range(reps)])
    emb = np.stack(stack) / np.power(1000.0, expo).reshape(-1, 1, 1)
    emb[:, 0::2] = np.sin(emb[:, 0::2])
    emb[:, 1::2] = np.cos(emb[:, 1::2])
    return emb.transpose(1, 0, 2).reshape(n, -1)[:, :out_len].astype(np.float32)


def normalize_adjacency(adj: np.ndarray) -> np.ndarray:
    """D^-1/2 (A + I)^T D^-1/2 with D the column sums of A + I (0 where the sum is 0)."""
    a = adj + np.eye(adj.shape[0])
    d = np.clip(a.sum(axis=0), 0, None)
    with np.errstate(divide="ignore"):
        inv = np.power(d, -0.5)
    inv[np.isinf(inv)] = 0.0
    return (a * inv[None, :]).T * inv[None, :]


def build_local_graphs(centers: np.ndarray, k_at_hops: tuple[int, int] = (8, 4),
                       num_adjacent_linkages: int = 3):
    """Local graph of every pivot component from the (N, 2) component centres.

    Returns (nodes (G, M) int64, padded with -1, node 0 = the pivot; adjacency (G, M, M)
    float32, normalised; knn (G, k) positions of the pivot's 1-hop neighbours in its
    graph). The graph holds the pivot's ``k_at_hops[0]`` nearest components and
    their ``k_at_hops[1]`` nearest; edges join every node to its
    ``num_adjacent_linkages`` nearest that are in the graph.
    """
    centers = np.asarray(centers, dtype=np.float64)
    n = len(centers)
    if n < 2:
        raise ValueError("build_local_graphs needs at least 2 components")
    dist = np.sqrt(((centers[:, None] - centers[None]) ** 2).sum(-1))
    order = np.argsort(dist, axis=1, kind="stable")
    knn = order[:, 1:k_at_hops[0] + 1]
    graphs = []
    for pivot in range(n):
        hop2 = order[knn[pivot], 1:k_at_hops[1] + 1].ravel()
        others = np.setdiff1d(np.union1d(knn[pivot], hop2), [pivot])
        graphs.append(np.concatenate([[pivot], others]))
    m = max(len(g) for g in graphs)
    nodes = np.full((n, m), -1, np.int64)
    adj = np.zeros((n, m, m), np.float32)
    knn_pos = np.zeros(knn.shape, np.int64)
    position = np.full(n, -1, np.int64)
    for gi, graph in enumerate(graphs):
        size = len(graph)
        position[graph] = np.arange(size)
        links = position[order[graph, 1:num_adjacent_linkages + 1]]
        adj[gi, :size, :size] = normalize_adjacency(_link_matrix(links))
        nodes[gi, :size] = graph
        knn_pos[gi] = position[knn[gi]]
        position[graph] = -1
    return nodes, adj, knn_pos


def _link_matrix(links: np.ndarray) -> np.ndarray:
    """Symmetric 0/1 matrix joining node i to its links[i] (positions; -1 = not in graph)."""
    size = len(links)
    a = np.zeros((size, size))
    rows = np.repeat(np.arange(size), links.shape[1])
    cols = links.ravel()
    ok = cols >= 0
    a[rows[ok], cols[ok]] = 1
    a[cols[ok], rows[ok]] = 1
    return a
