"""SVTR (Du et al. 2022, "SVTR: Scene Text Recognition with a Single Visual Model"), MMOCR 1.x
layout: ``STN`` (TPS rectification) preprocessor, ``SVTREncoder`` (local/global mixing blocks,
conv merging), ``SVTRDecoder`` (linear CTC head)."""
from __future__ import annotations

import itertools
from typing import Any, Dict, List, Optional, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ._base import CTCRecognizerBase

DEFAULT_CFGS: Dict[str, Dict[str, Any]] = {
    "svtr-small_20e_st_mj": {
        "preprocessor": {"in_channels": 3, "resized_image_size": (32, 64),
                         "output_image_size": (32, 100), "num_control_points": 20,
                         "margins": (0.05, 0.05)},
        "encoder": {"img_size": (32, 100), "in_channels": 3, "out_channels": 192,
                    "embed_dims": (96, 192, 256), "depth": (3, 6, 6), "num_heads": (3, 6, 8),
                    "mixer_types": ("Local",) * 8 + ("Global",) * 7,
                    "window_size": ((7, 11), (7, 11), (7, 11)), "merging_types": "Conv",
                    "prenorm": False, "max_seq_len": 25},
        "decoder": {"in_channels": 192},
        "dictionary": {"charset": "lower_english_digits", "with_padding": True,
                       "with_unknown": True},
        "postprocessor": {"ignore_chars": ["padding"]},
        "input": {"channels": 3, "height": 64, "width": 256, "mean": [127.5], "std": [127.5],
                  "color": "bgr"},
    },
}


class ConvModule(nn.Module):
    """conv (no bias) -> BatchNorm -> activation; children ``conv``/``bn``."""

    def __init__(self, c_in: int, c_out: int, kernel_size: int, stride: int, padding: int,
                 act: str = "relu") -> None:
        super().__init__()
        self.conv = nn.Conv2d(c_in, c_out, kernel_size, stride, padding, bias=False)
        self.bn = nn.BatchNorm2d(c_out)
        self.activate = nn.GELU() if act == "gelu" else nn.ReLU(inplace=True)

    def forward(self, x):
        return self.activate(self.bn(self.conv(x)))


# ---------------------------------------------------------------- TPS / STN
def _partial_repr(points: torch.Tensor, ctrl: torch.Tensor) -> torch.Tensor:
    """Thin-plate radial basis U(r) = 0.5 r^2 log r^2 (0 where r = 0)."""
    diff = points.view(-1, 1, 2) - ctrl.view(1, -1, 2)
    d2 = diff[:, :, 0] ** 2 + diff[:, :, 1] ** 2
    rep = 0.5 * d2 * torch.log(d2)
    return rep.masked_fill(rep != rep, 0)


class TPStransform(nn.Module):
    def __init__(self, output_image_size=(32, 100), num_control_points: int = 20,
                 margins=(0.05, 0.05)) -> None:
        super().__init__()
        self.target_height, self.target_width = output_image_size
        n = num_control_points
        mx, my = margins
        xs = np.linspace(mx, 1.0 - mx, n // 2)
        top = np.stack([xs, np.full(n // 2, my)], axis=1)
        bottom = np.stack([xs, np.full(n // 2, 1.0 - my)], axis=1)
        ctrl = torch.Tensor(np.concatenate([top, bottom], axis=0))
        kernel = torch.zeros(n + 3, n + 3)
        kernel[:n, :n] = _partial_repr(ctrl, ctrl)
        kernel[:n, -3] = 1
        kernel[-3, :n] = 1
        kernel[:n, -2:] = ctrl
        kernel[-2:, :n] = ctrl.t()
        inverse_kernel = torch.inverse(kernel).contiguous()
        hh, ww = self.target_height, self.target_width
        coord = torch.Tensor(list(itertools.product(range(hh), range(ww))))
        y, x = coord.split(1, dim=1)
        coord = torch.cat([x / (ww - 1), y / (hh - 1)], dim=1)
        repr_ = torch.cat([_partial_repr(coord, ctrl), torch.ones(hh * ww, 1), coord], dim=1)
        self.register_buffer("inverse_kernel", inverse_kernel)
        self.register_buffer("padding_matrix", torch.zeros(3, 2))
        self.register_buffer("target_coordinate_repr", repr_)
        self.register_buffer("target_control_points", ctrl)

    def forward(self, img: torch.Tensor, source_points: torch.Tensor) -> torch.Tensor:
        b = source_points.size(0)
        y = torch.cat([source_points, self.padding_matrix.expand(b, 3, 2)], 1)
        mapping = torch.matmul(self.inverse_kernel, y)
        src = torch.matmul(self.target_coordinate_repr, mapping)
        grid = src.view(-1, self.target_height, self.target_width, 2)
        grid = 2.0 * torch.clamp(grid, 0, 1) - 1.0
        return F.grid_sample(img, grid, align_corners=True)


class STN(nn.Module):
    """Predicts TPS control points on a downsized copy, then rectifies the full image."""

    def __init__(self, in_channels: int, resized_image_size=(32, 64),
                 output_image_size=(32, 100), num_control_points: int = 20,
                 margins=(0.05, 0.05)) -> None:
        super().__init__()
        self.resized_image_size = tuple(resized_image_size)
        self.num_control_points = num_control_points
        self.tps = TPStransform(output_image_size, num_control_points, margins)
        chans = [in_channels, 32, 64, 128, 256, 256, 256]
        layers: List[nn.Module] = []
        for i in range(6):
            layers.append(ConvModule(chans[i], chans[i + 1], 3, 1, 1))
            if i < 5:
                layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
        self.stn_convnet = nn.Sequential(*layers)
        self.stn_fc1 = nn.Sequential(nn.Linear(2 * 256, 512), nn.BatchNorm1d(512),
                                     nn.ReLU(inplace=True))
        self.stn_fc2 = nn.Linear(512, num_control_points * 2)

    def forward(self, img: torch.Tensor) -> torch.Tensor:
        small = F.interpolate(img, self.resized_image_size, mode="bilinear",
                              align_corners=True)
        pts = self.stn_convnet(small)
        pts = pts.view(pts.size(0), -1)
        pts = self.stn_fc2(0.1 * self.stn_fc1(pts))
        return self.tps(img, pts.view(-1, self.num_control_points, 2))


# ---------------------------------------------------------------- encoder
class OverlapPatchEmbed(nn.Module):
    def __init__(self, in_channels: int = 3, embed_dims: int = 768, num_layers: int = 2) -> None:
        super().__init__()
        self.net = nn.Sequential()
        c_in = in_channels
        for i, num in enumerate(range(num_layers, 0, -1)):
            c_out = embed_dims // (2 ** (num - 1))
            self.net.add_module(f"ConvModule{i}", ConvModule(c_in, c_out, 3, 2, 1, act="gelu"))
            c_in = c_out

    def forward(self, x):
        return self.net(x).flatten(2).permute(0, 2, 1)


class AttnMixer(nn.Module):
    """Multi-head self attention; 'Local' adds a -inf mask outside a (hk, wk) window."""

    def __init__(self, embed_dims: int, num_heads: int = 8, mixer: str = "Global",
                 input_shape=(8, 25), local_k=(7, 11), qkv_bias: bool = False,
                 qk_scale: Optional[float] = None) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.embed_dims = embed_dims
        self.scale = qk_scale or (embed_dims // num_heads) ** -0.5
        self.qkv = nn.Linear(embed_dims, embed_dims * 3, bias=qkv_bias)
        self.attn_drop = nn.Dropout(0.0)
        self.proj = nn.Linear(embed_dims, embed_dims)
        self.proj_drop = nn.Dropout(0.0)
        self.mixer = mixer
        height, width = input_shape
        self.input_size = height * width
        if mixer == "Local":
            hk, wk = local_k
            mask = torch.ones(height * width, height + hk - 1, width + wk - 1)
            for h in range(height):
                for w in range(width):
                    mask[h * width + w, h:h + hk, w:w + wk] = 0.0
            mask = mask[:, hk // 2:height + hk // 2, wk // 2:width + wk // 2].flatten(1)
            mask[mask >= 1] = -np.inf
            self.register_buffer("mask", mask[None, None, :, :])

    def forward(self, x):
        n, c = self.input_size, self.embed_dims
        qkv = self.qkv(x).reshape(-1, n, 3, self.num_heads, c // self.num_heads)
        qkv = qkv.permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0] * self.scale, qkv[1], qkv[2]
        attn = q.matmul(k.permute(0, 1, 3, 2))
        if self.mixer == "Local":
            attn = attn + self.mask
        attn = self.attn_drop(F.softmax(attn, dim=-1))
        x = attn.matmul(v).permute(0, 2, 1, 3).reshape(-1, n, c)
        return self.proj_drop(self.proj(x))


class MLP(nn.Module):
    def __init__(self, in_features: int, hidden_features: int) -> None:
        super().__init__()
        self.fc1 = nn.Linear(in_features, hidden_features)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden_features, in_features)
        self.drop = nn.Dropout(0.0)

    def forward(self, x):
        return self.drop(self.fc2(self.drop(self.act(self.fc1(x)))))


class MixingBlock(nn.Module):
    def __init__(self, embed_dims: int, num_heads: int, mixer: str = "Global",
                 window_size=(7, 11), input_shape=(8, 25), mlp_ratio: float = 4.0,
                 qkv_bias: bool = True, prenorm: bool = True) -> None:
        super().__init__()
        if mixer not in ("Global", "Local"):
            raise NotImplementedError(f"mixer {mixer!r} (only Global/Local implemented)")
        self.norm1 = nn.LayerNorm(embed_dims, eps=1e-6)
        self.mixer = AttnMixer(embed_dims, num_heads, mixer, input_shape, window_size,
                               qkv_bias=qkv_bias)
        self.norm2 = nn.LayerNorm(embed_dims, eps=1e-6)
        self.mlp = MLP(embed_dims, int(embed_dims * mlp_ratio))
        self.prenorm = prenorm

    def forward(self, x):
        if self.prenorm:
            x = self.norm1(x + self.mixer(x))
            return self.norm2(x + self.mlp(x))
        x = x + self.mixer(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class MerigingBlock(nn.Module):  # (sic) MMOCR's spelling
    def __init__(self, in_channels: int, out_channels: int, types: str = "Conv",
                 stride=(2, 1)) -> None:
        super().__init__()
        if types != "Conv":
            raise NotImplementedError("only Conv merging is implemented")
        self.conv = nn.Conv2d(in_channels, out_channels, 3, stride=tuple(stride), padding=1)
        self.norm = nn.LayerNorm(out_channels)

    def forward(self, x):
        return self.norm(self.conv(x).flatten(2).permute(0, 2, 1))


class SVTREncoder(nn.Module):
    def __init__(self, img_size=(32, 100), in_channels: int = 3, embed_dims=(64, 128, 256),
                 depth=(3, 6, 3), num_heads=(2, 4, 8),
                 mixer_types: Sequence[str] = ("Local",) * 6 + ("Global",) * 6,
                 window_size=((7, 11), (7, 11), (7, 11)), merging_types: str = "Conv",
                 mlp_ratio: float = 4, qkv_bias: bool = True, out_channels: int = 192,
                 max_seq_len: int = 25, num_layers: int = 2, prenorm: bool = True) -> None:
        super().__init__()
        self.embed_dims = list(embed_dims)
        self.prenorm = prenorm
        self.patch_embed = OverlapPatchEmbed(in_channels, embed_dims[0], num_layers)
        s = 2 ** num_layers
        self.input_shape = [img_size[0] // s, img_size[1] // s]
        self.absolute_pos_embed = nn.Parameter(
            torch.zeros(1, self.input_shape[0] * self.input_shape[1], embed_dims[0]))
        self.pos_drop = nn.Dropout(0.0)
        d0, d1 = depth[0], depth[0] + depth[1]
        shapes = [self.input_shape, [self.input_shape[0] // 2, self.input_shape[1]],
                  [self.input_shape[0] // 4, self.input_shape[1]]]
        types = [mixer_types[:d0], mixer_types[d0:d1], mixer_types[d1:]]

        def stage(i: int) -> nn.ModuleList:
            return nn.ModuleList([
                MixingBlock(embed_dims[i], num_heads[i], types[i][j], window_size[i], shapes[i],
                            mlp_ratio, qkv_bias, prenorm) for j in range(depth[i])])

        self.blocks1 = stage(0)
        self.downsample1 = MerigingBlock(embed_dims[0], embed_dims[1], merging_types, (2, 1))
        self.blocks2 = stage(1)
        self.downsample2 = MerigingBlock(embed_dims[1], embed_dims[2], merging_types, (2, 1))
        self.blocks3 = stage(2)
        self.layer_norm = nn.LayerNorm(embed_dims[-1], eps=1e-6)
        self.avgpool = nn.AdaptiveAvgPool2d([1, max_seq_len])
        self.last_conv = nn.Conv2d(embed_dims[2], out_channels, 1, 1, 0, bias=False)
        self.hardwish = nn.Hardswish()
        self.dropout = nn.Dropout(p=0.1)

    def forward_features(self, x):
        h, w = self.input_shape
        x = self.pos_drop(self.patch_embed(x) + self.absolute_pos_embed)
        for blk in self.blocks1:
            x = blk(x)
        x = self.downsample1(x.permute(0, 2, 1).reshape(-1, self.embed_dims[0], h, w))
        for blk in self.blocks2:
            x = blk(x)
        x = self.downsample2(x.permute(0, 2, 1).reshape(-1, self.embed_dims[1], h // 2, w))
        for blk in self.blocks3:
            x = blk(x)
        if not self.prenorm:
            x = self.layer_norm(x)
        return x

    def forward(self, x):
        h, w = self.input_shape
        x = self.forward_features(x).permute(0, 2, 1).reshape(-1, self.embed_dims[2], h // 4, w)
        if self.avgpool.output_size[1] == w:
            # the same average as a mean over the height: the ONNX exporter cannot size an
            # adaptive pool after the reshape to a dynamic batch
            x = x.mean(2, keepdim=True)
        else:
            x = self.avgpool(x)
        return self.dropout(self.hardwish(self.last_conv(x)))


class SVTRDecoder(nn.Module):
    def __init__(self, in_channels: int, num_classes: int) -> None:
        super().__init__()
        self.decoder = nn.Linear(in_channels, num_classes)
        self.softmax = nn.Softmax(dim=-1)

    def forward(self, out_enc):
        return self.softmax(self.logits(out_enc))

    def logits(self, out_enc):
        if out_enc.size(2) != 1:
            raise ValueError("SVTR feature height must be 1")
        return self.decoder(out_enc.squeeze(2).permute(0, 2, 1))


class SVTR(CTCRecognizerBase):
    """``forward(x)``: x (N, 3, 64, 256) normalised -> probabilities (N, 25, num_classes)."""

    def __init__(self, cfg: Dict[str, Any]) -> None:
        super().__init__(cfg)
        self.preprocessor = STN(**cfg["preprocessor"])
        self.encoder = SVTREncoder(**cfg["encoder"])
        self.decoder = SVTRDecoder(cfg["decoder"]["in_channels"], self.dictionary.num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.encoder(self.preprocessor(x)))

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        """Per-step logits (N, T, C) before the softmax: what CTC training takes."""
        return self.decoder.logits(self.encoder(self.preprocessor(x)))


def build_svtr(name: str = "svtr-small_20e_st_mj") -> SVTR:
    return SVTR(DEFAULT_CFGS[name])
