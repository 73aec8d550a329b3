"""SAR (Li et al. 2019, "Show, Attend and Read"), MMOCR 1.x layout: ``ResNet31OCR`` backbone,
``SAREncoder`` (2-layer LSTM over the vertically max-pooled feature map -> holistic feature),
``ParallelSARDecoder`` (2-layer LSTM + 2D attention; test time: greedy, the whole sequence is
re-run every step with the previous argmax embeddings written in) or ``SequentialSARDecoder``
(two LSTM cells stepped once per character)."""
from __future__ import annotations

import copy
from typing import Any, Dict, List, Optional, Tuple

import torch
import torch.nn.functional as F
from torch import nn

from ._base import FeatEncoderDecoderRecognizer, attn_dictionary
from .resnet31 import ResNet31OCR
from .valid_ratio import valid_columns, valid_lengths

DEFAULT_CFGS: Dict[str, Dict[str, Any]] = {
    "sar_resnet31_parallel-decoder_5e_st-sub_mj-sub_sa_real": {
        "backbone": {},  # ResNet31OCR defaults: channels 64,128,256,256,512,512,512
        "encoder": {"enc_bi_rnn": False, "rnn_dropout": 0.1, "enc_gru": False,
                    "d_model": 512, "d_enc": 512},
        "decoder": {"enc_bi_rnn": False, "dec_bi_rnn": False, "dec_rnn_dropout": 0.0,
                    "dec_gru": False, "d_model": 512, "d_enc": 512, "d_k": 512,
                    "pred_dropout": 0.1, "pred_concat": True, "max_seq_len": 30},
        "dictionary": attn_dictionary("english_digits_symbols"),
        "postprocessor": {"ignore_chars": ["padding"]},
        "input": {"channels": 3, "height": 48, "min_width": 48, "max_width": 160,
                  "width_divisor": 4, "pad_width": 160,
                  "mean": [127, 127, 127], "std": [127, 127, 127],
                  "color": "bgr"},
    },
}
# the sequential config only swaps the decoder type (MMOCR's _base_ is the parallel one)
_SEQ = copy.deepcopy(DEFAULT_CFGS["sar_resnet31_parallel-decoder_5e_st-sub_mj-sub_sa_real"])
_SEQ["decoder_type"] = "sequential"
_SEQ["decoder"].pop("dec_rnn_dropout")  # cells have no inter-layer dropout
DEFAULT_CFGS["sar_resnet31_sequential-decoder_5e_st-sub_mj-sub_sa_real"] = _SEQ


def _rnn(gru: bool, **kw) -> nn.Module:
    return nn.GRU(**kw) if gru else nn.LSTM(**kw)


class SAREncoder(nn.Module):
    def __init__(self, enc_bi_rnn: bool = False, rnn_dropout: float = 0.0,
                 enc_gru: bool = False, d_model: int = 512, d_enc: int = 512) -> None:
        super().__init__()
        self.rnn_encoder = _rnn(enc_gru, input_size=d_model, hidden_size=d_enc, num_layers=2,
                                batch_first=True, dropout=rnn_dropout,
                                bidirectional=enc_bi_rnn)
        out = d_enc * (int(enc_bi_rnn) + 1)
        self.linear = nn.Linear(out, out)

    def forward(self, feat: torch.Tensor, valid_ratios=None) -> torch.Tensor:
        # max over the whole height (MMOCR: max_pool2d with a full-height kernel; a traced
        # kernel size cannot be exported)
        feat_v = feat.amax(dim=2).permute(0, 2, 1).contiguous()  # N, W, C
        holistic = self.rnn_encoder(feat_v)[0]
        last = valid_lengths(valid_ratios, holistic, holistic.size(1)) - 1  # last valid step
        index = last.view(-1, 1, 1).expand(-1, 1, holistic.size(2))
        return self.linear(holistic.gather(1, index).squeeze(1))


class ParallelSARDecoder(nn.Module):
    def __init__(self, num_classes: int, start_idx: int, padding_idx: Optional[int],
                 enc_bi_rnn: bool = False, dec_bi_rnn: bool = False,
                 dec_rnn_dropout: float = 0.0, dec_gru: bool = False, d_model: int = 512,
                 d_enc: int = 512, d_k: int = 64, pred_dropout: float = 0.0,
                 max_seq_len: int = 30, pred_concat: bool = False) -> None:
        super().__init__()
        self.num_classes = num_classes
        self.start_idx = start_idx
        self.max_seq_len = max_seq_len
        self.pred_concat = pred_concat
        enc_out = d_enc * (int(enc_bi_rnn) + 1)
        dec_out = enc_out * (int(dec_bi_rnn) + 1)
        self.conv1x1_1 = nn.Linear(dec_out, d_k)
        self.conv3x3_1 = nn.Conv2d(d_model, d_k, kernel_size=3, stride=1, padding=1)
        self.conv1x1_2 = nn.Linear(d_k, 1)
        self.rnn_decoder = _rnn(dec_gru, input_size=enc_out, hidden_size=enc_out, num_layers=2,
                                batch_first=True, dropout=dec_rnn_dropout,
                                bidirectional=dec_bi_rnn)
        self.embedding = nn.Embedding(num_classes, enc_out, padding_idx=padding_idx)
        self.pred_dropout = nn.Dropout(pred_dropout)
        fc_in = dec_out + d_model + enc_out if pred_concat else d_model
        self.prediction = nn.Linear(fc_in, num_classes)
        self.softmax = nn.Softmax(dim=-1)

    def _2d_attention(self, decoder_input, feat, holistic_feat, valid_ratios, key=None):
        y = self.rnn_decoder(decoder_input)[0]  # N, T+1, H
        query = self.conv1x1_1(y)
        n, t, a = query.size()
        query = query.view(n, t, a, 1, 1)
        if key is None:  # MMOCR recomputes it every step; same values, so it may be passed in
            key = self.conv3x3_1(feat)
        key = key.unsqueeze(1)  # N, 1, A, h, w
        weight = torch.tanh(torch.add(key, query, alpha=1))
        weight = self.conv1x1_2(weight.permute(0, 1, 3, 4, 2).contiguous())  # N,T,h,w,1
        _, _, h, w, c = weight.size()
        if valid_ratios is not None:
            padded = ~valid_columns(valid_ratios, weight, w)
            weight = weight.masked_fill(padded[:, None, None, :, None], float("-inf"))
        weight = F.softmax(weight.view(n, t, -1), dim=-1)
        weight = weight.view(n, t, h, w, c).permute(0, 1, 4, 2, 3).contiguous()
        attn_feat = torch.sum(torch.mul(feat.unsqueeze(1), weight), (3, 4), keepdim=False)
        if self.pred_concat:
            hf = holistic_feat.expand(n, t, holistic_feat.size(-1))
            out = self.prediction(torch.cat((y, attn_feat, hf), 2))
        else:
            out = self.prediction(attn_feat)
        return self.pred_dropout(out)

    def forward(self, feat: torch.Tensor, out_enc: torch.Tensor, valid_ratios=None):
        n = feat.size(0)
        if valid_ratios is None:
            valid_ratios = [1.0] * n
        seq_len = self.max_seq_len
        start = torch.full((n,), self.start_idx, dtype=torch.long, device=feat.device)
        start = self.embedding(start).unsqueeze(1).expand(-1, seq_len, -1)
        out_enc = out_enc.unsqueeze(1)
        decoder_input = torch.cat((out_enc, start), dim=1)
        key = self.conv3x3_1(feat)
        outputs = []
        for i in range(1, seq_len + 1):
            char_out = self._2d_attention(decoder_input, feat, out_enc, valid_ratios,
                                          key)[:, i, :]
            outputs.append(char_out)
            if i < seq_len:
                decoder_input[:, i + 1, :] = self.embedding(torch.max(char_out, dim=1)[1])
        return self.softmax(torch.stack(outputs, 1))


_State = Tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]


class SequentialSARDecoder(nn.Module):
    """SAR's sequential decoder: two LSTM cells (or GRU cells) stepped once per character,
    2D attention with 1x1 / 3x3 convolutions, greedy at test time.

    MMOCR 1.x quirk kept on purpose: after every attention step the LSTM cell states are
    replaced by the hidden states (its ``_2d_attention`` returns ``hx1, hx1, hx2, hx2``);
    only the state after the holistic-feature step keeps a real cell state.
    """

    def __init__(self, num_classes: int, start_idx: int, padding_idx: Optional[int],
                 enc_bi_rnn: bool = False, dec_bi_rnn: bool = False, dec_gru: bool = False,
                 d_k: int = 64, d_model: int = 512, d_enc: int = 512,
                 pred_dropout: float = 0.0, mask: bool = True, max_seq_len: int = 40,
                 pred_concat: bool = False) -> None:
        super().__init__()
        if dec_bi_rnn:
            raise ValueError("SequentialSARDecoder supports dec_bi_rnn=False only "
                             "(its RNN cells are unidirectional)")
        self.start_idx = start_idx
        self.dec_gru = dec_gru
        self.mask = mask
        self.max_seq_len = max_seq_len
        self.pred_concat = pred_concat
        enc_out = d_enc * (int(enc_bi_rnn) + 1)
        self.conv1x1_1 = nn.Conv2d(enc_out, d_k, kernel_size=1, stride=1)
        self.conv3x3_1 = nn.Conv2d(d_model, d_k, kernel_size=3, stride=1, padding=1)
        self.conv1x1_2 = nn.Conv2d(d_k, 1, kernel_size=1, stride=1)
        cell = nn.GRUCell if dec_gru else nn.LSTMCell
        self.rnn_decoder_layer1 = cell(enc_out, enc_out)
        self.rnn_decoder_layer2 = cell(enc_out, enc_out)
        self.embedding = nn.Embedding(num_classes, enc_out, padding_idx=padding_idx)
        self.pred_dropout = nn.Dropout(pred_dropout)
        self.prediction = nn.Linear(enc_out + d_model + d_enc if pred_concat else d_model,
                                    num_classes)
        self.softmax = nn.Softmax(dim=-1)

    def _cell(self, layer: nn.Module, x: torch.Tensor, h=None, c=None):
        if self.dec_gru:
            h = layer(x, h)
            return h, h
        return layer(x, None if h is None else (h, c))

    def init_state(self, out_enc: torch.Tensor) -> _State:
        """The holistic feature goes through both cells from a zero state."""
        hx1, cx1 = self._cell(self.rnn_decoder_layer1, out_enc)
        hx2, cx2 = self._cell(self.rnn_decoder_layer2, hx1)
        return hx1, cx1, hx2, cx2

    def step(self, y_prev: torch.Tensor, feat: torch.Tensor, out_enc: torch.Tensor,
             state: _State, valid_ratios: Optional[List[float]]):
        """One character: cells, 2D attention over ``feat`` -> (logits, next state)."""
        hx1, cx1 = self._cell(self.rnn_decoder_layer1, y_prev, state[0], state[1])
        hx2, cx2 = self._cell(self.rnn_decoder_layer2, hx1, state[2], state[3])
        n, _, h, w = feat.size()
        query = self.conv1x1_1(hx2.view(n, -1, 1, 1)).expand(-1, -1, h, w)
        weight = self.conv1x1_2(torch.tanh(self.conv3x3_1(feat) + query))  # N,1,h,w
        if valid_ratios is not None:
            padded = ~valid_columns(valid_ratios, weight, w)
            weight = weight.masked_fill(padded[:, None, None, :], float("-inf"))
        weight = F.softmax(weight.view(n, -1), dim=-1).view(n, 1, h, w)
        attn_feat = torch.sum(feat * weight, (2, 3))
        if self.pred_concat:
            logits = self.prediction(torch.cat((hx2, attn_feat, out_enc), 1))
        else:
            logits = self.prediction(attn_feat)
        return logits, (hx1, hx1, hx2, hx2)  # MMOCR quirk: cell state := hidden state

    def _ratios(self, n: int, valid_ratios):
        if not self.mask:
            return None
        return [1.0] * n if valid_ratios is None else valid_ratios

    def forward(self, feat: torch.Tensor, out_enc: torch.Tensor, valid_ratios=None):
        """Greedy decoding: each step reads the embedding of the previous argmax."""
        valid_ratios = self._ratios(feat.size(0), valid_ratios)
        state = self.init_state(out_enc)
        start = torch.full((feat.size(0),), self.start_idx, dtype=torch.long, device=feat.device)
        y_prev = self.embedding(start)
        outputs = []
        for _ in range(self.max_seq_len):
            logits, state = self.step(y_prev, feat, out_enc, state, valid_ratios)
            outputs.append(logits)
            y_prev = self.embedding(logits.argmax(dim=1))
        return self.softmax(torch.stack(outputs, 1))

    def teacher_forced(self, feat: torch.Tensor, out_enc: torch.Tensor,
                       targets: torch.Tensor, valid_ratios=None) -> torch.Tensor:
        """Training-time pass: step i reads ``targets[:, i]`` (start token first) -> logits
        (N, T, C), T = ``targets.size(1)``."""
        valid_ratios = self._ratios(feat.size(0), valid_ratios)
        state = self.init_state(out_enc)
        tgt = self.embedding(targets)
        outputs = []
        for i in range(targets.size(1)):
            logits, state = self.step(tgt[:, i], feat, out_enc, state, valid_ratios)
            outputs.append(self.pred_dropout(logits))
        return torch.stack(outputs, 1)


_DECODERS = {"parallel": ParallelSARDecoder, "sequential": SequentialSARDecoder}


class SARNet(FeatEncoderDecoderRecognizer):
    def __init__(self, cfg: Dict[str, Any]) -> None:
        super().__init__(cfg)
        kind = cfg.get("decoder_type", "parallel")
        if kind not in _DECODERS:
            raise ValueError(f"unknown SAR decoder type {kind!r}; supported: "
                             f"{', '.join(sorted(_DECODERS))}")
        self.backbone = ResNet31OCR(**cfg["backbone"])
        self.encoder = SAREncoder(**cfg["encoder"])
        self.decoder = _DECODERS[kind](self.dictionary.num_classes, self.dictionary.start_idx,
                                       self.dictionary.padding_idx, **cfg["decoder"])


def build_sar(name: str = "sar_resnet31_parallel-decoder_5e_st-sub_mj-sub_sa_real") -> SARNet:
    return SARNet(DEFAULT_CFGS[name])
