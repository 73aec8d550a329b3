"""MMOCR 1.x's Mask R-CNN text detector (``MMDetWrapper`` around mmdet's ``MaskRCNN``).

Written from the Mask R-CNN paper (He et al., ICCV 2017), mmdet 3.x's
``mask-rcnn_r50_fpn.py`` numbers and MMOCR's ``_base_mask-rcnn_resnet50_fpn.py``
(anchor scale 4, ratios 0.17 ... 7.46, one text class). State_dict keys carry MMOCR's
``wrapped_model.`` prefix: ``backbone`` (ResNet-50), ``neck`` (FPN, 5 levels),
``rpn_head``, ``roi_head.bbox_head``, ``roi_head.mask_head``.

``forward(x)`` gives the RPN maps (MMOCR's tensor mode stops there for us);
``detect(x)`` runs the test path per image and returns ``MaskRCNNOutput`` (boxes and
28x28 mask probabilities in the resized image); ``maskrcnn_postprocess`` in
``maskrcnn_post.py`` pastes, thresholds and traces them into polygons in original pixels.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any, Mapping

import torch
from torch import nn

from handlers.api.spec import UnknownName
from handlers.families.mmocr.maskrcnn_boxes import delta_decode, grid_anchors, multilevel_roi_align
from handlers.families.mmocr.maskrcnn_heads import FCNMaskHead, FPN5, RPNHead, Shared2FCBBoxHead
from handlers.families.mmocr.resnet import ResNet
from handlers.ops.nms import batched_nms

_BASE: dict[str, Any] = {
    "backbone": {"depth": 50, "num_stages": 4, "out_indices": (0, 1, 2, 3), "style": "pytorch"},
    "neck": {"in_channels": (256, 512, 1024, 2048), "out_channels": 256, "num_outs": 5},
    "anchors": {"scales": (4,), "ratios": (0.17, 0.44, 1.13, 2.90, 7.46),
                "strides": (4, 8, 16, 32, 64)},
    "roi_strides": (4, 8, 16, 32),
    "rpn_stds": (1.0, 1.0, 1.0, 1.0),
    "rcnn_stds": (0.1, 0.1, 0.2, 0.2),
    "test_cfg": {"rpn": {"nms_pre": 1000, "max_per_img": 1000, "iou_threshold": 0.7,
                         "min_bbox_size": 0},
                 "rcnn": {"score_thr": 0.05, "iou_threshold": 0.5, "max_per_img": 100}},
    "postprocessor": {"mask_thr_binary": 0.5, "text_repr_type": "poly"},
    "preprocess": {"mean": (123.675, 116.28, 103.53), "std": (58.395, 57.12, 57.375),
                   "bgr_to_rgb": True, "pad_size_divisor": 32},
}

DEFAULT_CFGS: dict[str, dict[str, Any]] = {
    "mask-rcnn_resnet50_fpn_160e_icdar2015": {
        **copy.deepcopy(_BASE),
        "test_resize": {"type": "Resize", "scale": (1920, 1920), "keep_ratio": True}},
    "mask-rcnn_resnet50_fpn_160e_ctw1500": {
        **copy.deepcopy(_BASE),
        "test_resize": {"type": "Resize", "scale": (1600, 1600), "keep_ratio": True}},
}


@dataclass(frozen=True)
class MaskRCNNOutput:
    """One image's detections in the coordinates of the resized (unpadded) image."""

    boxes: torch.Tensor       # (K, 4) x1, y1, x2, y2
    scores: torch.Tensor      # (K,)
    masks: torch.Tensor       # (K, 28, 28) probabilities
    img_shape: tuple[int, int]  # (h, w) of the resized image inside the padded input


def valid_shape(image: torch.Tensor) -> tuple[int, int]:
    """(h, w) of the image inside a zero-padded normalised (3, H, W) tensor.

    A real pixel is never 0 in all three channels after normalisation (the means are
    not integers), so the last non-zero row / column ends the image."""
    nonzero = (image != 0).any(dim=0)
    rows = torch.nonzero(nonzero.any(dim=1)).reshape(-1)
    cols = torch.nonzero(nonzero.any(dim=0)).reshape(-1)
    if rows.numel() == 0:
        return int(image.shape[1]), int(image.shape[2])
    return int(rows[-1]) + 1, int(cols[-1]) + 1


class RoIHead(nn.Module):
    """mmdet StandardRoIHead's parameters: ``bbox_head`` and ``mask_head``."""

    def __init__(self, num_classes: int = 1) -> None:
        super().__init__()
        self.bbox_head = Shared2FCBBoxHead(num_classes=num_classes)
        self.mask_head = FCNMaskHead(num_classes=num_classes)


class TwoStage(nn.Module):
    """mmdet MaskRCNN's parameters: backbone, neck, rpn_head, roi_head."""

    def __init__(self, cfg: Mapping[str, Any]) -> None:
        super().__init__()
        self.backbone = ResNet(**cfg["backbone"])
        self.neck = FPN5(**cfg["neck"])
        num_anchors = len(cfg["anchors"]["scales"]) * len(cfg["anchors"]["ratios"])
        self.rpn_head = RPNHead(256, 256, num_anchors)
        self.roi_head = RoIHead()


class MaskRCNN(nn.Module):
    def __init__(self, cfg: Mapping[str, Any]) -> None:
        super().__init__()
        self.cfg = copy.deepcopy(dict(cfg))
        self.wrapped_model = TwoStage(cfg)

    def features(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return self.wrapped_model.neck(self.wrapped_model.backbone(x))

    def forward(self, x: torch.Tensor) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        """Normalised (N, 3, H, W) -> per level RPN logits (N, A, h, w) and deltas (N, 4A, h, w)."""
        return self.wrapped_model.rpn_head(self.features(x))

    @torch.no_grad()
    def detect(self, x: torch.Tensor) -> list[MaskRCNNOutput]:
        """The test path of every image of the batch (one at a time)."""
        return [self.detect_one(x[i:i + 1]) for i in range(x.shape[0])]

    def detect_one(self, x: torch.Tensor) -> MaskRCNNOutput:
        img_shape = valid_shape(x[0])
        feats = self.features(x)
        cls_maps, reg_maps = self.wrapped_model.rpn_head(feats)
        proposals = self.proposals(cls_maps, reg_maps, img_shape)
        boxes, scores = self.refine(feats, proposals, img_shape)
        return MaskRCNNOutput(boxes, scores, self.masks(feats, boxes), img_shape)

    def proposals(self, cls_maps, reg_maps, img_shape: tuple[int, int]) -> torch.Tensor:
        """RPN: top nms_pre anchors per level -> decoded, clipped boxes -> per-level NMS."""
        cfg, anchors_cfg = self.cfg["test_cfg"]["rpn"], self.cfg["anchors"]
        boxes, scores, levels = [], [], []
        for level, (cls, reg, stride) in enumerate(zip(cls_maps, reg_maps, anchors_cfg["strides"])):
            score = cls[0].permute(1, 2, 0).reshape(-1).sigmoid()
            delta = reg[0].permute(1, 2, 0).reshape(-1, 4)
            anchors = grid_anchors(tuple(cls.shape[2:]), stride, anchors_cfg["scales"],
                                   anchors_cfg["ratios"]).to(score.device)
            if 0 < cfg["nms_pre"] < score.shape[0]:
                score, order = score.sort(descending=True)
                score, order = score[:cfg["nms_pre"]], order[:cfg["nms_pre"]]
                delta, anchors = delta[order], anchors[order]
            boxes.append(delta_decode(anchors, delta, self.cfg["rpn_stds"], img_shape))
            scores.append(score)
            levels.append(torch.full_like(score, level, dtype=torch.long))
        boxes, scores, levels = torch.cat(boxes), torch.cat(scores), torch.cat(levels)
        wh = boxes[:, 2:] - boxes[:, :2]
        ok = (wh > cfg["min_bbox_size"]).all(dim=1)
        boxes, scores, levels = boxes[ok], scores[ok], levels[ok]
        keep = batched_nms(boxes, scores, levels, cfg["iou_threshold"])[:cfg["max_per_img"]]
        return boxes[keep]

    def refine(self, feats, proposals: torch.Tensor, img_shape: tuple[int, int]):
        """Box head on the proposals -> (boxes, scores) after score threshold and NMS."""
        cfg = self.cfg["test_cfg"]["rcnn"]
        if proposals.shape[0] == 0:
            return proposals.new_zeros(0, 4), proposals.new_zeros(0)
        rois = torch.cat([proposals.new_zeros(len(proposals), 1), proposals], dim=1)
        roi_feats = multilevel_roi_align(feats, rois, self.cfg["roi_strides"], 7)
        logits, deltas = self.wrapped_model.roi_head.bbox_head(roi_feats)
        scores = logits.softmax(dim=-1)[:, 0]  # text; background is the last column
        boxes = delta_decode(proposals, deltas, self.cfg["rcnn_stds"], img_shape)
        sel = torch.nonzero(scores > cfg["score_thr"]).reshape(-1)
        boxes, scores = boxes[sel], scores[sel]
        keep = batched_nms(boxes, scores, torch.zeros_like(sel), cfg["iou_threshold"])
        keep = keep[:cfg["max_per_img"]]
        return boxes[keep], scores[keep]

    def masks(self, feats, boxes: torch.Tensor) -> torch.Tensor:
        """Mask head on the final boxes -> (K, 28, 28) probabilities."""
        if boxes.shape[0] == 0:
            return boxes.new_zeros(0, 28, 28)
        rois = torch.cat([boxes.new_zeros(len(boxes), 1), boxes], dim=1)
        roi_feats = multilevel_roi_align(feats, rois, self.cfg["roi_strides"], 14)
        return self.wrapped_model.roi_head.mask_head(roi_feats)[:, 0].sigmoid()


def maskrcnn_config(config_name: str) -> dict[str, Any]:
    if config_name not in DEFAULT_CFGS:
        raise UnknownName("Mask R-CNN config", config_name, DEFAULT_CFGS)
    return copy.deepcopy(DEFAULT_CFGS[config_name])


def build_maskrcnn(config_name: str) -> MaskRCNN:
    return MaskRCNN(maskrcnn_config(config_name)).eval()


def maskrcnn_params_kwargs(config_name: str) -> dict[str, Any]:
    """Keyword arguments for maskrcnn_post.maskrcnn_postprocess."""
    return maskrcnn_config(config_name)["postprocessor"]
