"""DRRG (MMOCR 1.x names: backbone, neck, det_head) with the FPN_UNet neck and a GCN.

Written from the DRRG paper (Zhang et al., CVPR 2020: per pixel text region, center
region, sin, cos, top and bottom height -> text components -> local graphs -> GCN
link scores) and MMOCR's config / state_dict names. ``build_drrg(name)`` builds the
network from ``DEFAULT_CFGS``.

Two entry points:
  * ``forward(inputs)`` -> (N, 6, H, W) maps (text logit, center logit, sin, cos,
    top height, bottom height): MMOCR's ``out_conv`` output (the oracle's
    ``raw_pred_maps``);
  * ``detect(inputs)`` -> per image ``DRRGGraphOutput`` (edges, edge scores, text
    components): maps -> numpy component proposals
    (``handlers.families.mmocr.drrg_proposals.propose_components``) -> rotated RoI-Align of
    the 38-channel (neck + maps) features + geometric embedding -> local graphs ->
    GCN. ``handlers.ops.drrg_postprocess.drrg_postprocess`` turns that into polygons.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np
import torch
from torch import nn

from handlers.api.spec import UnknownName
from handlers.families.mmocr.drrg_graph import (GCN, build_local_graphs, feature_embedding,
                                                roi_align_rotated)
from handlers.families.mmocr.resnet import ResNet
from handlers.families.mmocr.textsnake import FPN_UNet
from handlers.families.mmocr.drrg_proposals import ProposalParams, propose_components

DEFAULT_CFGS: dict[str, dict[str, Any]] = {
    "drrg_resnet50_fpn-unet_1200e_ctw1500": {
        "backbone": {"depth": 50, "num_stages": 4, "out_indices": (0, 1, 2, 3),
                     "style": "caffe"},
        "neck": {"in_channels": (256, 512, 1024, 2048), "out_channels": 32},
        # DRRGHead defaults, with the config's text_region_thr 0.3 / center_region_thr 0.4.
        "det_head": {"in_channels": 32, "k_at_hops": (8, 4), "num_adjacent_linkages": 3,
                     "node_geo_feat_len": 120, "pooling_scale": 1.0,
                     "pooling_output_size": (4, 3)},
        "proposals": {"text_region_thr": 0.3, "center_region_thr": 0.4,
                      "center_region_area_thr": 50, "comp_score_thr": 0.3,
                      "nms_thr": 0.3, "min_width": 8.0, "max_width": 24.0,
                      "comp_shrink_ratio": 1.03, "comp_w_h_ratio": 0.4,
                      "max_components": 1000},
        # DRRGPostprocessor: link_thr from the config, edge_len_thr its default.
        "postprocessor": {"link_thr": 0.8, "edge_len_thr": 50.0},
        "preprocess": {"mean": (123.675, 116.28, 103.53), "std": (58.395, 57.12, 57.375),
                       "bgr_to_rgb": True, "pad_size_divisor": 32},
        "test_resize": {"scale": (1024, 640), "keep_ratio": True},
    },
}


@dataclass
class DRRGGraphOutput:
    """One image's graph stage: (E, 2) component index pairs, (E,) link scores in
    [0, 1], (M, 9) text components (4 corners x, y in input pixels + score)."""

    edges: np.ndarray
    scores: np.ndarray
    text_comps: np.ndarray


class DRRGHead(nn.Module):
    """``out_conv`` (1x1 -> 6 maps) and the ``gcn`` link classifier."""

    def __init__(self, in_channels: int, k_at_hops: tuple[int, int] = (8, 4),
                 num_adjacent_linkages: int = 3, node_geo_feat_len: int = 120,
                 pooling_scale: float = 1.0, pooling_output_size: tuple[int, int] = (4, 3)
                 ) -> None:
        super().__init__()
        self.out_channels = 6
        self.k_at_hops = tuple(k_at_hops)
        self.num_adjacent_linkages = num_adjacent_linkages
        self.node_geo_feat_len = node_geo_feat_len
        self.pooling_scale = pooling_scale
        self.pooling_output_size = tuple(pooling_output_size)
        self.out_conv = nn.Conv2d(in_channels, self.out_channels, 1)
        pooled = pooling_output_size[0] * pooling_output_size[1]
        self.gcn = GCN(pooled * (in_channels + self.out_channels) + node_geo_feat_len)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out_conv(x)

    def node_features(self, feat_maps: torch.Tensor, comp_attribs: np.ndarray) -> torch.Tensor:
        """(1, C, H, W) features, (N, 6) attributes (x, y, h, w, cos, sin) -> (N, F)."""
        attribs = comp_attribs.astype(np.float32)
        angle = np.arccos(np.clip(attribs[:, 4], -1, 1)) * np.sign(attribs[:, 5])
        rois = np.hstack([np.zeros((len(attribs), 1), np.float32), attribs[:, :4],
                          angle[:, None]])
        content = roi_align_rotated(feat_maps, torch.from_numpy(rois),
                                    self.pooling_output_size, self.pooling_scale)
        geo = torch.from_numpy(feature_embedding(comp_attribs, self.node_geo_feat_len))
        geo = geo.to(device=content.device, dtype=content.dtype)
        return torch.cat([content.reshape(len(attribs), -1), geo], dim=1)

    def link_scores(self, feat_maps: torch.Tensor, comp_attribs: np.ndarray
                    ) -> tuple[np.ndarray, np.ndarray]:
        """GCN over every pivot's local graph -> ((E, 2) edges, (E,) link probabilities)."""
        node_feats = self.node_features(feat_maps, comp_attribs)
        nodes, adj, knn = build_local_graphs(comp_attribs[:, :2], self.k_at_hops,
                                             self.num_adjacent_linkages)
        device = node_feats.device
        index = torch.from_numpy(np.maximum(nodes, 0)).to(device)
        feats = node_feats[index] - node_feats[index[:, :1]]
        feats[torch.from_numpy(nodes < 0).to(device)] = 0.0  # padding nodes
        logits = self.gcn(feats, torch.from_numpy(adj).to(device), torch.from_numpy(knn).to(device))
        probs = torch.softmax(logits, dim=1)[:, 1].detach().cpu().numpy()
        pivots = np.repeat(nodes[:, 0], knn.shape[1])
        neighbours = np.take_along_axis(nodes, knn, axis=1).ravel()
        return np.stack([pivots, neighbours], axis=1), probs.astype(np.float64)


class DRRG(nn.Module):
    def __init__(self, backbone: Mapping[str, Any], neck: Mapping[str, Any],
                 det_head: Mapping[str, Any], proposals: Mapping[str, Any] | None = None
                 ) -> None:
        super().__init__()
        self.backbone = ResNet(**backbone)
        self.neck = FPN_UNet(**neck)
        self.det_head = DRRGHead(**det_head)
        self.proposal_params = ProposalParams(**(proposals or {}))

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        """Normalised (N, 3, H, W) -> (N, 6, H, W) maps (MMOCR's ``raw_pred_maps``)."""
        return self.det_head(self.neck(self.backbone(inputs)))

    @torch.no_grad()
    def detect(self, inputs: torch.Tensor) -> list[DRRGGraphOutput]:
        """Maps, component proposals and GCN link scores for every image of the batch."""
        feats = self.neck(self.backbone(inputs))
        maps = self.det_head(feats)
        return [self.graph_stage(maps[i], torch.cat([feats[i], maps[i]], 0)[None])
                for i in range(inputs.shape[0])]

    @torch.no_grad()
    def graph_stage(self, maps: torch.Tensor, feat_maps: torch.Tensor) -> DRRGGraphOutput:
        """(6, H, W) maps and (1, 38, H, W) features of one image -> graph output."""
        attribs, comps = propose_components(maps.float().cpu().numpy(), self.proposal_params)
        if len(comps) < 2:  # MMOCR: fewer than 2 components -> no text
            return DRRGGraphOutput(np.zeros((0, 2), np.int64), np.zeros(0),
                                   np.zeros((0, 9), np.float32))
        edges, scores = self.det_head.link_scores(feat_maps, attribs)
        return DRRGGraphOutput(edges, scores, comps)


def drrg_config(config_name: str) -> dict[str, Any]:
    if config_name not in DEFAULT_CFGS:
        raise UnknownName("DRRG config", config_name, DEFAULT_CFGS)
    return copy.deepcopy(DEFAULT_CFGS[config_name])


def build_drrg(config_name: str) -> DRRG:
    cfg = drrg_config(config_name)
    return DRRG(cfg["backbone"], cfg["neck"], cfg["det_head"], cfg["proposals"]).eval()


def drrg_params_kwargs(config_name: str) -> dict[str, Any]:
    """Keyword arguments for handlers.ops.drrg_postprocess.drrg_postprocess."""
    return drrg_config(config_name)["postprocessor"]
