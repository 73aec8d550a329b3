"""CRNN (MMOCR 1.x ``MiniVGG`` backbone + ``CRNNDecoder`` with rnn_flag, CTC).

Module/parameter names follow MMOCR so its checkpoints load with ``strict=True``:
``backbone.cnn.{conv0..6,batchnorm2,4,6}`` and ``decoder.decoder.{0,1}.{rnn,embedding}``.
"""
from __future__ import annotations

from typing import Any, Dict

import torch
from torch import nn

from ._base import CTCRecognizerBase

DEFAULT_CFGS: Dict[str, Dict[str, Any]] = {
    "crnn_mini-vgg_5e_mj": {
        "backbone": {"leaky_relu": False, "input_channels": 1},
        "decoder": {"in_channels": 512, "rnn_flag": True, "hidden": 256},
        "dictionary": {"charset": "lower_english_digits", "with_padding": True},
        "postprocessor": {"ignore_chars": ["padding"]},
        # data preprocessing (for callers; the model takes normalised tensors)
        "input": {"channels": 1, "height": 32, "min_width": 32, "width_divisor": 16,
                  "mean": [127.0], "std": [127.0], "color": "grayscale"},
    },
}


class MiniVGG(nn.Module):
    """VGG-style CNN of the CRNN paper (Shi et al. 2016), MMOCR naming.

    (32, W) -> (1, W/4 + 1): two 2x2 pools, two (2,2)/(2,1)/pad(0,1) pools, final 2x2 conv.
    """

    def __init__(self, leaky_relu: bool = False, input_channels: int = 3) -> None:
        super().__init__()
        ks = [3, 3, 3, 3, 3, 3, 2]
        ps = [1, 1, 1, 1, 1, 1, 0]
        nm = [64, 128, 256, 256, 512, 512, 512]
        cnn = nn.Sequential()

        def conv_relu(i: int, batch_norm: bool = False) -> None:
            n_in = input_channels if i == 0 else nm[i - 1]
            cnn.add_module(f"conv{i}", nn.Conv2d(n_in, nm[i], ks[i], 1, ps[i]))
            if batch_norm:
                cnn.add_module(f"batchnorm{i}", nn.BatchNorm2d(nm[i]))
            if leaky_relu:
                cnn.add_module(f"relu{i}", nn.LeakyReLU(0.2, inplace=True))
            else:
                cnn.add_module(f"relu{i}", nn.ReLU(True))

        conv_relu(0)
        cnn.add_module("pooling0", nn.MaxPool2d(2, 2))
        conv_relu(1)
        cnn.add_module("pooling1", nn.MaxPool2d(2, 2))
        conv_relu(2, True)
        conv_relu(3)
        cnn.add_module("pooling2", nn.MaxPool2d((2, 2), (2, 1), (0, 1)))
        conv_relu(4, True)
        conv_relu(5)
        cnn.add_module("pooling3", nn.MaxPool2d((2, 2), (2, 1), (0, 1)))
        conv_relu(6, True)
        self.cnn = cnn

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.cnn(x)


class BidirectionalLSTM(nn.Module):
    def __init__(self, n_in: int, n_hidden: int, n_out: int) -> None:
        super().__init__()
        self.rnn = nn.LSTM(n_in, n_hidden, bidirectional=True)
        self.embedding = nn.Linear(n_hidden * 2, n_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (T, N, C)
        rec, _ = self.rnn(x)
        t, n, h = rec.shape
        return self.embedding(rec.reshape(t * n, h)).view(t, n, -1)


class CRNNDecoder(nn.Module):
    def __init__(self, in_channels: int, num_classes: int, rnn_flag: bool = True,
                 hidden: int = 256) -> None:
        super().__init__()
        self.rnn_flag = rnn_flag
        if rnn_flag:
            self.decoder = nn.Sequential(
                BidirectionalLSTM(in_channels, hidden, hidden),
                BidirectionalLSTM(hidden, hidden, num_classes),
            )
        else:
            self.decoder = nn.Conv2d(in_channels, num_classes, kernel_size=1, stride=1)
        self.softmax = nn.Softmax(dim=-1)

    def forward(self, feat: torch.Tensor) -> torch.Tensor:
        """feat (N, C, 1, W) -> per-step probabilities (N, W, num_classes)."""
        return self.softmax(self.logits(feat))

    def logits(self, feat: torch.Tensor) -> torch.Tensor:
        """feat (N, C, 1, W) -> logits (N, W, num_classes) (MMOCR's forward_train)."""
        if feat.size(2) != 1:
            raise ValueError(f"CRNN feature height must be 1, got {feat.size(2)} "
                             "(input height must be 32)")
        if self.rnn_flag:
            x = feat.squeeze(2).permute(2, 0, 1)  # (T, N, C)
            return self.decoder(x).permute(1, 0, 2).contiguous()
        x = self.decoder(feat)
        return x.squeeze(2).permute(0, 2, 1).contiguous()


class CRNN(CTCRecognizerBase):
    """Full recogniser. ``forward`` returns per-step softmax probabilities (N, T, C),
    MMOCR's ``mode='tensor'`` output."""

    def __init__(self, cfg: Dict[str, Any]) -> None:
        super().__init__(cfg)
        self.backbone = MiniVGG(**cfg["backbone"])
        dec = cfg["decoder"]
        self.decoder = CRNNDecoder(dec["in_channels"], self.dictionary.num_classes,
                                   dec.get("rnn_flag", True), dec.get("hidden", 256))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.backbone(x))

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        """Per-step logits (N, T, C) before the softmax: what CTC training takes."""
        return self.decoder.logits(self.backbone(x))


def build_crnn(name: str = "crnn_mini-vgg_5e_mj") -> CRNN:
    return CRNN(DEFAULT_CFGS[name])
