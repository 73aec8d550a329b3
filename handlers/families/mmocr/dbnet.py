"""DBNet / DBNet++ text detector (MMOCR 1.x module names: backbone, neck, det_head).

``build_dbnet(name)`` builds the network of an MMOCR config from the numbers kept in
``DEFAULT_CFGS`` (copied by hand from the configs; nothing is read at runtime), so that
an MMOCR 1.x checkpoint's ``state_dict`` loads with ``strict=True``.
``convert_mmocr0x_state_dict`` renames the keys of an MMOCR 0.x DBNet checkpoint.
"""
from __future__ import annotations

import copy
from typing import Any, Mapping

import torch
from torch import nn

from handlers.families.mmocr.db_head import DBHead
from handlers.families.mmocr.fpnc import FPNC
from handlers.families.mmocr.resnet import ResNet

#: Model (and post-processor) settings of the supported MMOCR 1.x configs.
DEFAULT_CFGS: dict[str, dict[str, Any]] = {
    "dbnet_resnet18_fpnc_1200e_icdar2015": {
        "backbone": {"depth": 18, "num_stages": 4, "out_indices": (0, 1, 2, 3),
                     "style": "caffe"},
        "neck": {"in_channels": [64, 128, 256, 512], "lateral_channels": 256},
        "det_head": {"in_channels": 256},
        "postprocessor": {"text_repr_type": "quad"},
        # TextDetDataPreprocessor: BGR image -> RGB, (x - mean) / std, pad to /32.
        "preprocess": {"mean": (123.675, 116.28, 103.53), "std": (58.395, 57.12, 57.375),
                       "bgr_to_rgb": True, "pad_size_divisor": 32},
        "test_resize": {"type": "Resize", "scale": (1333, 736), "keep_ratio": True},
    },
    "dbnetpp_resnet50_fpnc_1200e_icdar2015": {
        "backbone": {"depth": 50, "num_stages": 4, "out_indices": (0, 1, 2, 3),
                     "style": "pytorch"},
        "neck": {"in_channels": [256, 512, 1024, 2048], "lateral_channels": 256,
                 "asf_cfg": {"attention_type": "ScaleChannelSpatial"}},
        "det_head": {"in_channels": 256},
        "postprocessor": {"text_repr_type": "quad", "epsilon_ratio": 0.002},
        "preprocess": {"mean": (123.675, 116.28, 103.53), "std": (58.395, 57.12, 57.375),
                       "bgr_to_rgb": True, "pad_size_divisor": 32},
        "test_resize": {"type": "Resize", "scale": (4068, 1024), "keep_ratio": True},
    },
    # Same as above with DCNv2 (pure-torch, see dcn.py) in stages 2-4. No oracle output
    # exists for it: the DCN op is checked by unit tests, not against mmcv.
    "dbnetpp_resnet50-dcnv2_fpnc_1200e_icdar2015": {
        "backbone": {"depth": 50, "num_stages": 4, "out_indices": (0, 1, 2, 3),
                     "style": "pytorch",
                     "dcn": {"type": "DCNv2", "deform_groups": 1, "fallback_on_stride": False},
                     "stage_with_dcn": (False, True, True, True)},
        "neck": {"in_channels": [256, 512, 1024, 2048], "lateral_channels": 256,
                 "asf_cfg": {"attention_type": "ScaleChannelSpatial"}},
        "det_head": {"in_channels": 256},
        "postprocessor": {"text_repr_type": "quad", "epsilon_ratio": 0.002},
        "preprocess": {"mean": (123.675, 116.28, 103.53), "std": (58.395, 57.12, 57.375),
                       "bgr_to_rgb": True, "pad_size_divisor": 32},
        "test_resize": {"type": "Resize", "scale": (4068, 1024), "keep_ratio": True},
    },
}


class DBNet(nn.Module):
    """backbone (ResNet) -> neck (FPNC) -> det_head (DBHead)."""

    def __init__(self, backbone: Mapping[str, Any], neck: Mapping[str, Any],
                 det_head: Mapping[str, Any]) -> None:
        super().__init__()
        self.backbone = ResNet(**backbone)
        self.neck = FPNC(**neck)
        self.det_head = DBHead(**det_head)

    def extract_feat(self, inputs: torch.Tensor) -> torch.Tensor:
        return self.neck(self.backbone(inputs))

    def forward(self, inputs: torch.Tensor, mode: str = "predict"):
        """``inputs``: normalised (N, 3, H, W), H and W multiples of 32.

        Returns the (N, H, W) probability map (``mode='predict'``, MMOCR's 'tensor'
        output) or (prob_logits, thr_map, binary_map) for ``mode='both'``.
        """
        return self.det_head(self.extract_feat(inputs), mode=mode)


def dbnet_config(config_name: str) -> dict[str, Any]:
    """A deep copy of DEFAULT_CFGS[config_name]; ValueError for unknown names."""
    if config_name not in DEFAULT_CFGS:
        raise ValueError(
            f"unknown DBNet config {config_name!r}; known: {sorted(DEFAULT_CFGS)}")
    return copy.deepcopy(DEFAULT_CFGS[config_name])


def build_dbnet(config_name: str) -> DBNet:
    """The (randomly initialised, eval-mode) network of an MMOCR DBNet/DBNet++ config."""
    cfg = dbnet_config(config_name)
    model = DBNet(cfg["backbone"], cfg["neck"], cfg["det_head"])
    return model.eval()


def db_params_kwargs(config_name: str) -> dict[str, Any]:
    """Keyword arguments for handlers.ops.db_postprocess.DBParams in MMOCR mode."""
    kwargs: dict[str, Any] = {"score_mode": "poly"}
    kwargs.update(dbnet_config(config_name)["postprocessor"])
    return kwargs


#: MMOCR 0.x -> 1.x prefix renames for DBNet-family checkpoints. In 0.x the single-stage
#: text detectors named their head ``bbox_head`` (mmdet's SingleStageDetector); 1.x
#: calls it ``det_head``. The head's Sequential indices are unchanged (0.x also put a
#: parameter-free Sigmoid at the end of ``binarize``), backbone and neck are unchanged.
_PREFIX_RENAMES_0X = (("bbox_head.", "det_head."),)


def convert_mmocr0x_state_dict(checkpoint: Mapping[str, Any]) -> dict[str, torch.Tensor]:
    """Rename an MMOCR 0.x DBNet/DBNet++ checkpoint (or its state_dict) to 1.x keys.

    Accepts the raw ``torch.load`` result (``{'state_dict': ..., 'meta': ...}``) or a
    bare state_dict; a ``module.`` prefix left by DataParallel is dropped. Keys are
    otherwise kept as they are, so a strict load reports anything left unmapped.
    """
    state = checkpoint.get("state_dict", checkpoint)
    out: dict[str, torch.Tensor] = {}
    for key, value in state.items():
        new = key[len("module."):] if key.startswith("module.") else key
        for old_prefix, new_prefix in _PREFIX_RENAMES_0X:
            if new.startswith(old_prefix):
                new = new_prefix + new[len(old_prefix):]
                break
        if new in out:
            raise ValueError(f"two checkpoint keys map to {new!r}")
        out[new] = value
    return out
