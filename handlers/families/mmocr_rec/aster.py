"""ASTER (Shi et al. 2018, "ASTER: An Attentional Scene Text Recognizer with Flexible
Rectification"), MMOCR 1.x layout: ``STN`` (TPS rectification, shared with SVTR), ``ResNet``
(ResNet-45: 1x1-then-3x3 BasicBlocks), ``ASTEREncoder`` (2-layer BiLSTM over the width),
``ASTERDecoder`` (Bahdanau attention + GRU, greedy decoding)."""
from __future__ import annotations

from typing import Any, Dict, List

import torch
from torch import nn

from ._base import AttnRecognizer, attn_dictionary
from .resnet import ResNet
from .svtr import STN

DEFAULT_CFGS: Dict[str, Dict[str, Any]] = {
    "aster_resnet45_6e_st_mj": {
        "preprocessor": {"in_channels": 3, "resized_image_size": (32, 64),
                         "output_image_size": (32, 100), "num_control_points": 20},
        "backbone": {"in_channels": 3, "stem_channels": [32], "arch_layers": [3, 4, 6, 6, 3],
                     "arch_channels": [32, 64, 128, 256, 512],
                     "strides": [[2, 2], [2, 2], [2, 1], [2, 1], [2, 1]],
                     "use_conv1x1": True},
        "encoder": {"in_channels": 512},
        "decoder": {"in_channels": 512, "emb_dims": 512, "attn_dims": 512,
                    "hidden_size": 512, "max_seq_len": 25},
        "dictionary": attn_dictionary("english_digits_symbols"),
        "postprocessor": {"ignore_chars": ["padding"]},
        "input": {"channels": 3, "height": 64, "width": 256, "mean": [127.5, 127.5, 127.5],
                  "std": [127.5, 127.5, 127.5], "color": "bgr"},
    },
}


class ASTEREncoder(nn.Module):
    def __init__(self, in_channels: int, num_layers: int = 2) -> None:
        super().__init__()
        self.bilstm = nn.LSTM(in_channels, in_channels // 2, num_layers=num_layers,
                              bidirectional=True, batch_first=True)

    def forward(self, feat: torch.Tensor) -> torch.Tensor:
        if feat.size(2) != 1:
            raise ValueError(f"feature height must be 1, got {feat.size(2)}")
        out, _ = self.bilstm(feat.squeeze(2).permute(0, 2, 1))
        return out.contiguous()


class ASTERDecoder(nn.Module):
    def __init__(self, num_classes: int, start_idx: int, in_channels: int, emb_dims: int = 512,
                 attn_dims: int = 512, hidden_size: int = 512, max_seq_len: int = 25) -> None:
        super().__init__()
        self.start_idx = start_idx
        self.max_seq_len = max_seq_len
        self.att_dims = attn_dims
        self.hidden_size = hidden_size
        self.proj_feat = nn.Linear(in_channels, attn_dims)
        self.proj_hidden = nn.Linear(hidden_size, attn_dims)
        self.proj_sum = nn.Linear(attn_dims, 1)
        self.embedding = nn.Embedding(num_classes, attn_dims)
        self.gru = nn.GRU(input_size=in_channels + emb_dims, hidden_size=hidden_size,
                          batch_first=True)
        self.fc = nn.Linear(hidden_size, num_classes)
        self.softmax = nn.Softmax(dim=-1)

    def _attention(self, feat, prev_hidden, prev_char):
        b, t, _ = feat.size()
        feat_proj = self.proj_feat(feat)
        hidden_proj = self.proj_hidden(prev_hidden).squeeze(0).unsqueeze(1)
        hidden_proj = hidden_proj.expand(b, t, self.att_dims)
        weights = torch.softmax(self.proj_sum(torch.tanh(feat_proj + hidden_proj)).squeeze(-1),
                                dim=1)
        context = torch.bmm(weights.unsqueeze(1), feat).squeeze(1)
        char_embed = self.embedding(prev_char.long())
        output, state = self.gru(torch.cat([char_embed, context], 1).unsqueeze(1), prev_hidden)
        return self.fc(output.squeeze(1)), state

    def forward(self, out_enc: torch.Tensor) -> torch.Tensor:
        n = out_enc.size(0)
        state = out_enc.new_zeros((1, n, self.hidden_size))
        prev = torch.full((n,), self.start_idx, dtype=torch.long, device=out_enc.device)
        outputs = []
        for _ in range(self.max_seq_len):
            out, state = self._attention(out_enc, state, prev)
            outputs.append(out)
            prev = out.max(-1)[1]
        return self.softmax(torch.stack(outputs, 1))


class ASTER(AttnRecognizer):
    def __init__(self, cfg: Dict[str, Any]) -> None:
        super().__init__(cfg)
        self.preprocessor = STN(**cfg["preprocessor"])
        self.backbone = ResNet(**cfg["backbone"])
        self.encoder = ASTEREncoder(**cfg["encoder"])
        self.decoder = ASTERDecoder(self.dictionary.num_classes, self.dictionary.start_idx,
                                    **cfg["decoder"])

    def forward(self, x: torch.Tensor, valid_ratios: List[float] | None = None):
        return self.decoder(self.encoder(self.backbone(self.preprocessor(x))))


def build_aster(name: str = "aster_resnet45_6e_st_mj") -> ASTER:
    return ASTER(DEFAULT_CFGS[name])
