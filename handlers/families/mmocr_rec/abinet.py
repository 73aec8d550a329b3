"""ABINet vision model (Fang et al. 2021, "Read Like Humans"), MMOCR 1.x layout:
``ResNetABI`` backbone, ``ABIEncoder`` (post-norm mmcv transformer layers over the flattened
map), ``ABIFuser`` holding only ``vision_decoder`` = ``ABIVisionDecoder`` (mini U-Net keys,
positional queries, one-shot parallel attention). ``abinet-vision`` stops there; ``abinet``
adds the language model (``abinet_lm.py``) and the gated fusion, iterated ``num_iters`` times."""
from __future__ import annotations

import copy
from typing import Any, Dict, List, Optional

import torch
from torch import nn

from ._base import AttnRecognizer, attn_dictionary
from .abinet_lm import ABILanguageDecoder
from .master import FFN, MHA
from .resnet import ConvModule
from .resnet31 import BasicBlock
from .transformer import PositionalEncoding

DEFAULT_CFGS: Dict[str, Dict[str, Any]] = {
    "abinet-vision_20e_st-an_mj": {
        "backbone": {"in_channels": 3, "stem_channels": 32, "base_channels": 32,
                     "arch_settings": [3, 4, 6, 6, 3], "strides": [2, 1, 2, 1, 1]},
        "encoder": {"n_layers": 3, "n_head": 8, "d_model": 512, "d_inner": 2048,
                    "dropout": 0.1, "max_len": 256},
        "vision_decoder": {"in_channels": 512, "num_channels": 64, "attn_height": 8,
                           "attn_width": 32, "attn_mode": "nearest", "max_seq_len": 26},
        "dictionary": attn_dictionary("lower_english_digits", with_padding=False,
                                      with_unknown=False),
        "postprocessor": {"ignore_chars": ["padding"]},
        # BGR input, ImageNet RGB mean/std applied in B,G,R order (MMOCR quirk)
        "input": {"channels": 3, "height": 32, "width": 128,
                  "mean": [123.675, 116.28, 103.53], "std": [58.395, 57.12, 57.375],
                  "color": "bgr"},
    },
}
# abinet = the vision config + language model and fuser (MMOCR's _base_abinet.py)
_FULL = copy.deepcopy(DEFAULT_CFGS["abinet-vision_20e_st-an_mj"])
_FULL["fuser"] = {"d_model": 512, "num_iters": 3}
_FULL["language_decoder"] = {"d_model": 512, "n_head": 8, "d_inner": 2048, "n_layers": 4,
                             "dropout": 0.1, "detach_tokens": True, "use_self_attn": False,
                             "max_seq_len": 26}
DEFAULT_CFGS["abinet_20e_st-an_mj"] = _FULL


class ResNetABI(nn.Module):
    def __init__(self, in_channels: int = 3, stem_channels: int = 32, base_channels: int = 32,
                 arch_settings=(3, 4, 6, 6, 3), strides=(2, 1, 2, 1, 1)) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, stem_channels, 3, 1, 1)
        self.bn1 = nn.BatchNorm2d(stem_channels)
        self.relu1 = nn.ReLU(inplace=True)
        inplanes, planes = stem_channels, base_channels
        self.res_layers: List[str] = []
        for i, (blocks, stride) in enumerate(zip(arch_settings, strides)):
            downsample = None
            if stride != 1 or inplanes != planes:
                downsample = nn.Sequential(nn.Conv2d(inplanes, planes, 1, stride, bias=False),
                                           nn.BatchNorm2d(planes))
            layers = [BasicBlock(inplanes, planes, stride, downsample, use_conv1x1=True)]
            layers += [BasicBlock(planes, planes, use_conv1x1=True) for _ in range(1, blocks)]
            self.add_module(f"layer{i + 1}", nn.Sequential(*layers))
            self.res_layers.append(f"layer{i + 1}")
            inplanes = planes
            planes *= 2

    def forward(self, x):
        x = self.relu1(self.bn1(self.conv1(x)))
        for name in self.res_layers:
            x = getattr(self, name)(x)
        return x


class ABIEncoderLayer(nn.Module):
    """mmcv ``BaseTransformerLayer`` (self_attn, norm, ffn, norm), sequence-first."""

    def __init__(self, d_model: int, n_head: int, d_inner: int, dropout: float) -> None:
        super().__init__()
        self.attentions = nn.ModuleList([MHA(d_model, n_head, dropout, batch_first=False)])
        self.ffns = nn.ModuleList([FFN(d_model, d_inner, dropout)])
        self.norms = nn.ModuleList([nn.LayerNorm(d_model) for _ in range(2)])

    def forward(self, x):
        x = self.norms[0](self.attentions[0](x, x, x))
        return self.norms[1](self.ffns[0](x))


class ABIEncoder(nn.Module):
    def __init__(self, n_layers: int = 2, n_head: int = 8, d_model: int = 512,
                 d_inner: int = 2048, dropout: float = 0.1, max_len: int = 256) -> None:
        super().__init__()
        self.pos_encoder = PositionalEncoding(d_model, n_position=max_len)
        self.transformer = nn.ModuleList([ABIEncoderLayer(d_model, n_head, d_inner, dropout)
                                          for _ in range(n_layers)])

    def forward(self, feature: torch.Tensor) -> torch.Tensor:
        n, c, h, w = feature.shape
        x = self.pos_encoder(feature.view(n, c, -1).transpose(1, 2)).transpose(0, 1)
        for m in self.transformer:
            x = m(x)
        return x.permute(1, 2, 0).view(n, c, h, w)


class ABIVisionDecoder(nn.Module):
    def __init__(self, num_classes: int, in_channels: int = 512, num_channels: int = 64,
                 attn_height: int = 8, attn_width: int = 32, attn_mode: str = "nearest",
                 max_seq_len: int = 40) -> None:
        super().__init__()
        self.max_seq_len = max_seq_len
        enc = [(in_channels, num_channels, (1, 2))] + [(num_channels, num_channels, (2, 2))] * 3
        self.k_encoder = nn.Sequential(*[ConvModule(a, b, 3, s, 1) for a, b, s in enc])
        align = None if attn_mode == "nearest" else True

        def dec(c_in, c_out, scale_factor=None, size=None):
            return nn.Sequential(
                nn.Upsample(size=size, scale_factor=scale_factor, mode=attn_mode,
                            align_corners=align),
                ConvModule(c_in, c_out, 3, 1, 1))

        self.k_decoder = nn.Sequential(
            dec(num_channels, num_channels, scale_factor=2),
            dec(num_channels, num_channels, scale_factor=2),
            dec(num_channels, num_channels, scale_factor=2),
            dec(num_channels, in_channels, size=(attn_height, attn_width)))
        self.pos_encoder = PositionalEncoding(in_channels, max_seq_len)
        self.project = nn.Linear(in_channels, in_channels)
        self.cls = nn.Linear(in_channels, num_classes)

    def forward(self, out_enc: torch.Tensor) -> Dict[str, torch.Tensor]:
        n, e, h, w = out_enc.size()
        k, v = out_enc, out_enc
        features = []
        for layer in self.k_encoder:
            k = layer(k)
            features.append(k)
        for i in range(len(self.k_decoder) - 1):
            k = self.k_decoder[i](k) + features[len(self.k_decoder) - 2 - i]
        k = self.k_decoder[-1](k)
        q = self.project(self.pos_encoder(out_enc.new_zeros((n, self.max_seq_len, e))))
        scores = torch.softmax(torch.bmm(q, k.flatten(2, 3)) / (e ** 0.5), dim=-1)
        vecs = torch.bmm(scores, v.permute(0, 2, 3, 1).view(n, -1, e))
        return {"feature": vecs, "logits": self.cls(vecs),
                "attn_scores": scores.view(n, -1, h, w)}


class ABIFuser(nn.Module):
    """Vision decoder, then (if a language decoder is configured) ``num_iters`` rounds of
    language model + gated fusion; softmax of the last round's fused logits.

    MMOCR passes the vision feature as the fuser's first (``l_feature``) argument, so the
    gate ``sigmoid(w_att([vision, language]))`` weighs the *language* feature; kept as is.
    """

    def __init__(self, num_classes: int, end_idx: int, vision_decoder: Dict[str, Any],
                 language_decoder: Optional[Dict[str, Any]] = None, d_model: int = 512,
                 num_iters: int = 1) -> None:
        super().__init__()
        self.num_iters = num_iters
        if language_decoder is not None:
            self.w_att = nn.Linear(2 * d_model, d_model)
            self.cls = nn.Linear(d_model, num_classes)
        self.vision_decoder = ABIVisionDecoder(num_classes, **vision_decoder)
        self.language_decoder = None
        if language_decoder is not None:
            self.language_decoder = ABILanguageDecoder(num_classes, end_idx, **language_decoder)
        self.softmax = nn.Softmax(dim=-1)

    def fuse(self, vision: torch.Tensor, language: torch.Tensor) -> torch.Tensor:
        """Alignment: gated mix of the two (N, T, E) features -> logits (N, T, C)."""
        gate = torch.sigmoid(self.w_att(torch.cat((vision, language), dim=2)))
        return self.cls(gate * language + (1 - gate) * vision)

    def rounds(self, out_enc: torch.Tensor) -> Dict[str, Any]:
        """Every intermediate: vision dict, language dicts and fused logits per round."""
        out_vis = self.vision_decoder(out_enc)
        langs, fused = [], []
        logits = out_vis["logits"]
        for _ in range(self.num_iters if self.language_decoder is not None else 0):
            langs.append(self.language_decoder(logits))
            logits = self.fuse(out_vis["feature"], langs[-1]["feature"])
            fused.append(logits)
        return {"vision": out_vis, "language": langs, "fused": fused}

    def forward(self, out_enc: torch.Tensor) -> torch.Tensor:
        out = self.rounds(out_enc)
        return self.softmax(out["fused"][-1] if out["fused"] else out["vision"]["logits"])


class ABINet(AttnRecognizer):
    """ABINet; vision-only when the config has no ``language_decoder``."""

    def __init__(self, cfg: Dict[str, Any]) -> None:
        super().__init__(cfg)
        self.backbone = ResNetABI(**cfg["backbone"])
        self.encoder = ABIEncoder(**cfg["encoder"])
        self.decoder = ABIFuser(self.dictionary.num_classes, self.dictionary.end_idx,
                                cfg["vision_decoder"], cfg.get("language_decoder"),
                                **cfg.get("fuser", {}))

    def forward(self, x: torch.Tensor, valid_ratios: List[float] | None = None):
        return self.decoder(self.encoder(self.backbone(x)))


def build_abinet(name: str = "abinet-vision_20e_st-an_mj") -> "ABINet":
    return ABINet(DEFAULT_CFGS[name])
