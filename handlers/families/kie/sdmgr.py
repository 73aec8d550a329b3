"""SDMG-R (Sun et al. 2021, "Spatial Dual-Modality Graph Reasoning for Key Information
Extraction") in plain PyTorch, laid out like MMOCR 1.x so that its state_dicts load with
``strict=True``.

Pipeline of one document (N text boxes with their transcripts):
  * text: characters -> ``node_embed`` (Embedding 92x32) -> one-layer ``rnn`` (LSTM 32->256);
    the node feature is the LSTM output at the node's last kept character (0 if none).
  * visual (``sdmgr_unet16``): a small U-Net (``backbone``) on the image; its finest output
    (16 channels, stride 1) is pooled per box by RoIAlign (7x7, spatial scale 1, adaptive
    sampling, aligned) then max-pooled 7x7 -> a 16-d vector per box, fused with the text
    feature by ``fusion`` (a block-wise low-rank bilinear fusion: 20 chunks, rank 15,
    signed square root + L2 normalisation per chunk, then a linear map to 256).
  * edges: for boxes i, j: [(x1_j - x1_i)/10, (y1_j - y1_i)/10, w_i/h_i, h_j/h_i, w_j/h_i] with
    w = max(x2 - x1 + 1, 1), h = max(y2 - y1 + 1, 1) -> ``edge_embed`` Linear(5, 256) -> L2 norm.
  * ``gnn_layers`` (2): for every ordered pair, f_ij = relu(in_fc([n_i, n_j, e_ij])); attention
    over j != i from coef_fc(f_ij); n_i += relu(out_fc(sum_j a_ij f_ij)); the f_ij become the
    edge features e_ij of the next layer (MMOCR 1.x; 0.x fed the same edges to every layer),
    and the last ones are classified.
  * ``node_cls`` Linear(256, 26) on nodes, ``edge_cls`` Linear(256, 2) on the N*N pair features.
The ``novisual`` config has no backbone and ignores the image, but still owns the
(unused) fusion weights, as MMOCR's head always builds them.
"""
from __future__ import annotations

import copy
from typing import Any, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from handlers.api.spec import UnknownName
from handlers.families.kie.roi_pool import RoIAlign, bbox2roi
from handlers.families.kie.text_encoding import KIEDictionary

_HEAD = dict(num_classes=26, visual_dim=16, fusion_dim=1024, node_input=32, node_embed=256,
             edge_input=5, edge_embed=256, num_gnn=2, bidirectional=False, relation_norm=10.0,
             fusion_chunks=20, fusion_rank=15)

DEFAULT_CFGS: dict[str, dict[str, Any]] = {
    "sdmgr_unet16_60e_wildreceipt": dict(
        head=dict(_HEAD),
        backbone=dict(base_channels=16, num_stages=5),
        # mmdet SingleRoIExtractor(featmap_strides=[1]) -> mmcv RoIAlign defaults
        roi_layer=dict(output_size=7, spatial_scale=1.0, sampling_ratio=0, aligned=True),
        dictionary="sdmgr_dict.txt",
        # ImgDataPreprocessor: BGR image -> RGB, (x - mean) / std, pad to a multiple of 32
        preprocess=dict(mean=(123.675, 116.28, 103.53), std=(58.395, 57.12, 57.375),
                        bgr_to_rgb=True, pad_size_divisor=32),
        test_resize=dict(scale=(1024, 512), keep_ratio=True),
    ),
    "sdmgr_novisual_60e_wildreceipt": dict(
        head=dict(_HEAD),
        backbone=None,
        roi_layer=None,
        dictionary="sdmgr_dict.txt",
        preprocess=None,
        test_resize=dict(scale=(1024, 512), keep_ratio=True),
    ),
}


# ----------------------------------------------------------------------------- U-Net backbone
class ConvModule(nn.Module):
    """conv (no bias) -> BatchNorm -> ReLU, keys ``conv`` / ``bn``."""

    def __init__(self, in_ch: int, out_ch: int, kernel_size: int, padding: int = 0):
        super().__init__()
        self.conv = nn.Conv2d(in_ch, out_ch, kernel_size, padding=padding, bias=False)
        self.bn = nn.BatchNorm2d(out_ch)
        self.activate = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.activate(self.bn(self.conv(x)))


class BasicConvBlock(nn.Module):
    """``num_convs`` 3x3 ConvModules (key ``convs``)."""

    def __init__(self, in_ch: int, out_ch: int, num_convs: int = 2):
        super().__init__()
        self.convs = nn.Sequential(*[ConvModule(in_ch if i == 0 else out_ch, out_ch, 3, padding=1)
                                     for i in range(num_convs)])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.convs(x)


class InterpConv(nn.Module):
    """x2 bilinear upsampling (align_corners=False) then a 1x1 ConvModule."""

    def __init__(self, in_ch: int, out_ch: int):
        super().__init__()
        self.interp_upsample = nn.Sequential(
            nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False),
            ConvModule(in_ch, out_ch, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.interp_upsample(x)


class UpConvBlock(nn.Module):
    """Upsample the deeper map, concatenate [skip, upsampled], BasicConvBlock."""

    def __init__(self, in_ch: int, skip_ch: int, out_ch: int):
        super().__init__()
        self.conv_block = BasicConvBlock(2 * skip_ch, out_ch)
        self.upsample = InterpConv(in_ch, skip_ch)

    def forward(self, skip: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        return self.conv_block(torch.cat([skip, self.upsample(x)], dim=1))


class UNet(nn.Module):
    """MMOCR's UNet with its defaults (5 stages, max-pool downsampling, 2 convs per block).

    Returns the decoder outputs from coarse to fine: [enc_last, dec3, dec2, dec1, dec0].
    """

    def __init__(self, in_channels: int = 3, base_channels: int = 16, num_stages: int = 5):
        super().__init__()
        self.base_channels = base_channels
        self.num_stages = num_stages
        self.encoder = nn.ModuleList()
        for i in range(num_stages):
            out_ch = base_channels * 2 ** i
            block = BasicConvBlock(in_channels if i == 0 else out_ch // 2, out_ch)
            layers = [block] if i == 0 else [nn.MaxPool2d(kernel_size=2), block]
            self.encoder.append(nn.Sequential(*layers))
        self.decoder = nn.ModuleList(
            UpConvBlock(base_channels * 2 ** (i + 1), base_channels * 2 ** i, base_channels * 2 ** i)
            for i in range(num_stages - 1))

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        div = 2 ** (self.num_stages - 1)
        if x.shape[-2] % div or x.shape[-1] % div:
            raise ValueError(f"UNet input size {tuple(x.shape[-2:])} must be divisible by {div}")
        skips = []
        for enc in self.encoder:
            x = enc(x)
            skips.append(x)
        outs = [x]
        for i in reversed(range(len(self.decoder))):
            x = self.decoder[i](skips[i], x)
            outs.append(x)
        return outs


class SingleRoIExtractor(nn.Module):
    """One feature level, one RoI layer (key-compatible: no parameters)."""

    def __init__(self, output_size: int, spatial_scale: float, sampling_ratio: int, aligned: bool):
        super().__init__()
        self.roi_layers = nn.ModuleList([RoIAlign(output_size, spatial_scale, sampling_ratio, aligned)])

    def forward(self, feats: Sequence[torch.Tensor], rois: torch.Tensor) -> torch.Tensor:
        return self.roi_layers[0](feats[0], rois)


# ----------------------------------------------------------------------------- head
class FusionBlock(nn.Module):
    """Block-wise low-rank bilinear fusion of two vectors (MUTAN/BLOCK style).

    Both inputs are projected to ``mm_dim``, split into ``chunks`` blocks (equal sizes, the last
    one shorter); per block the two projections are each mapped to ``size * rank``, multiplied,
    summed over the rank, passed through a signed square root and L2-normalised; the
    concatenated blocks go through ``linear_out``.
    """

    def __init__(self, input_dims: Sequence[int], output_dim: int, mm_dim: int = 1024,
                 chunks: int = 20, rank: int = 15):
        super().__init__()
        self.rank = rank
        self.linear0 = nn.Linear(input_dims[0], mm_dim)
        self.linear1 = nn.Linear(input_dims[1], mm_dim)
        step = -(-mm_dim // chunks)
        self.chunks = [step] * (chunks - 1) + [mm_dim - step * (chunks - 1)]
        self.merge_linears0 = nn.ModuleList(nn.Linear(s, s * rank) for s in self.chunks)
        self.merge_linears1 = nn.ModuleList(nn.Linear(s, s * rank) for s in self.chunks)
        self.linear_out = nn.Linear(mm_dim, output_dim)

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        xa = torch.split(self.linear0(a), self.chunks, dim=-1)
        xb = torch.split(self.linear1(b), self.chunks, dim=-1)
        parts = []
        for ca, cb, ma, mb in zip(xa, xb, self.merge_linears0, self.merge_linears1):
            z = (ma(ca) * mb(cb)).view(a.shape[0], self.rank, -1).sum(1)
            z = torch.sqrt(F.relu(z)) - torch.sqrt(F.relu(-z))
            parts.append(F.normalize(z))
        return self.linear_out(torch.cat(parts, dim=1))


class GNNLayer(nn.Module):
    """One graph-reasoning step over the complete graph of a document."""

    def __init__(self, node_dim: int = 256, edge_dim: int = 256):
        super().__init__()
        self.in_fc = nn.Linear(node_dim * 2 + edge_dim, node_dim)
        self.coef_fc = nn.Linear(node_dim, 1)
        self.out_fc = nn.Linear(node_dim, node_dim)

    def forward(self, nodes: torch.Tensor, edges: torch.Tensor,
                nums: Sequence[int]) -> tuple[torch.Tensor, torch.Tensor]:
        # in_fc([n_i, n_j, e_ij]) = W_i n_i + W_j n_j + (W_e e_ij + b): the two node terms are
        # computed once per node (N rows) and broadcast over the pairs instead of building the
        # (N^2, 768) concatenation; the same function, about 3x fewer multiply-adds.
        d = nodes.shape[1]
        weight = self.in_fc.weight
        from_i = F.linear(nodes, weight[:, :d])
        from_j = F.linear(nodes, weight[:, d:2 * d])
        from_e = F.linear(edges, weight[:, 2 * d:], self.in_fc.bias)
        squares = [n * n for n in nums]  # split, not sliced: a slice's backward fills a whole-batch zero
        pairs = [(e.view(n, n, -1) + i[:, None] + j[None]).reshape(n * n, -1) for n, e, i, j in zip(
            nums, from_e.split(squares), from_i.split(list(nums)), from_j.split(list(nums)))]
        pair_feats = F.relu(torch.cat(pairs))
        messages = []
        for n, c, feats in zip(nums, self.coef_fc(pair_feats).split(squares), pair_feats.split(squares)):
            c = c.view(n, n) - torch.eye(n, dtype=c.dtype, device=c.device) * 1e9  # no self-loop
            attn = F.softmax(c, dim=1)  # row i attends over its neighbours j
            messages.append(torch.bmm(attn[:, None], feats.view(n, n, -1))[:, 0])  # sum_j a_ij f_ij
        nodes = nodes + F.relu(self.out_fc(torch.cat(messages)))
        return nodes, pair_feats


class SDMGRHead(nn.Module):
    LSTM_GROUPS = 8  # length groups of encode_texts (speed only: the features do not change)

    def __init__(self, dictionary: KIEDictionary | None = None, num_classes: int = 26,
                 visual_dim: int = 16, fusion_dim: int = 1024, node_input: int = 32,
                 node_embed: int = 256, edge_input: int = 5, edge_embed: int = 256,
                 num_gnn: int = 2, bidirectional: bool = False, relation_norm: float = 10.0,
                 fusion_chunks: int = 20, fusion_rank: int = 15):
        super().__init__()
        self.dictionary = dictionary or KIEDictionary()
        self.relation_norm = relation_norm
        self.fusion = FusionBlock([visual_dim, node_embed], node_embed, fusion_dim,
                                  fusion_chunks, fusion_rank)
        self.node_embed = nn.Embedding(self.dictionary.num_classes, node_input,
                                       self.dictionary.padding_idx)
        self.rnn = nn.LSTM(node_input, node_embed // 2 if bidirectional else node_embed,
                           num_layers=1, batch_first=True, bidirectional=bidirectional)
        self.edge_embed = nn.Linear(edge_input, edge_embed)
        self.gnn_layers = nn.ModuleList(GNNLayer(node_embed, edge_embed) for _ in range(num_gnn))
        self.node_cls = nn.Linear(node_embed, num_classes)
        self.edge_cls = nn.Linear(edge_embed, 2)

    def compute_relations(self, boxes: torch.Tensor) -> torch.Tensor:
        """(N, 4) x1y1x2y2 boxes -> (N, N, 5) pairwise geometry."""
        boxes = boxes.float()
        x1, y1, x2, y2 = (boxes[:, k:k + 1] for k in range(4))
        w = (x2 - x1 + 1).clamp(min=1)
        h = (y2 - y1 + 1).clamp(min=1)
        dx = (x1.t() - x1) / self.relation_norm
        dy = (y1.t() - y1) / self.relation_norm
        h_ratio = h.t() / h
        w_ratio = w.t() / h
        aspect = (w / h).expand_as(h_ratio)
        return torch.stack([dx, dy, aspect, h_ratio, w_ratio], -1)

    def encode_texts(self, texts: Sequence[str]) -> torch.Tensor:
        """Node text features (N, node_embed): LSTM output at the last kept character (0 if none).

        A one-directional LSTM's output at a text's last character does not depend on the
        padding after it, so texts are run in groups of similar kept length, each padded only to
        its own longest (the features are the same; the padded steps are not computed)."""
        device = self.node_embed.weight.device
        idx, lengths = self.dictionary.encode(texts)
        embedded = self.node_embed(idx.to(device))
        if self.rnn.bidirectional:  # the backward pass starts in the padding: one padded run
            groups, width = [torch.arange(len(lengths))], embedded.shape[1]
        else:
            order = torch.argsort(lengths, stable=True)
            order = order[lengths[order] > 0]  # empty texts keep the 0 feature
            groups, width = (torch.chunk(order, self.LSTM_GROUPS) if len(order) else ()), None
        feats = embedded.new_zeros(len(lengths), self.rnn.hidden_size * (1 + self.rnn.bidirectional))
        for group in groups:
            group_len = lengths[group]
            out, _ = self.rnn(embedded[group.to(device), :width or int(group_len.max())])
            last = out[torch.arange(len(group), device=device), (group_len - 1).clamp(min=0).to(device)]
            feats = feats.index_put((group.to(device),), last * (group_len > 0).to(last.dtype).to(device)[:, None])
        return feats

    def forward(self, visual: torch.Tensor | None, boxes: Sequence[torch.Tensor],
                texts: Sequence[Sequence[str]]) -> tuple[torch.Tensor, torch.Tensor]:
        nums = [len(t) for t in texts]
        nodes = self.encode_texts([s for doc in texts for s in doc])
        if visual is not None:
            nodes = self.fusion(visual, nodes)
        rel = torch.cat([self.compute_relations(b).reshape(-1, 5) for b in boxes])
        edges = F.normalize(self.edge_embed(rel.to(nodes.device)))
        for layer in self.gnn_layers:  # each layer's pair features are the next one's edges
            nodes, edges = layer(nodes, edges, nums)
        return self.node_cls(nodes), self.edge_cls(edges)


class SDMGR(nn.Module):
    """``backbone`` / ``extractor`` / ``maxpool`` (visual configs only) + ``kie_head``."""

    def __init__(self, head: dict[str, Any], backbone: dict[str, Any] | None = None,
                 roi_layer: dict[str, Any] | None = None, dictionary: KIEDictionary | None = None,
                 **_: Any):
        super().__init__()
        self.with_backbone = backbone is not None
        if self.with_backbone:
            roi_layer = dict(roi_layer or dict(output_size=7))
            self.backbone = UNet(**backbone)
            self.extractor = SingleRoIExtractor(
                roi_layer["output_size"], roi_layer.get("spatial_scale", 1.0),
                roi_layer.get("sampling_ratio", 0), roi_layer.get("aligned", True))
            self.maxpool = nn.MaxPool2d(roi_layer["output_size"])
        self.kie_head = SDMGRHead(dictionary, **head)

    def extract_feat(self, img: torch.Tensor, boxes: Sequence[torch.Tensor]) -> torch.Tensor:
        feat = self.backbone(img)[-1]
        rois = bbox2roi([b.to(feat.dtype).to(feat.device) for b in boxes])
        pooled = self.maxpool(self.extractor([feat], rois))
        return pooled.flatten(1)

    def forward(self, img: torch.Tensor | None, boxes: Sequence[torch.Tensor],
                texts: Sequence[Sequence[str]]) -> tuple[torch.Tensor, torch.Tensor]:
        """img (B, 3, H, W) normalised (ignored without backbone); per image: boxes (N_i, 4)
        in img's pixel coordinates and N_i texts. Returns node logits (sum N_i, num_classes)
        and edge logits (sum N_i^2, 2), images concatenated."""
        if len(boxes) != len(texts) or any(len(b) != len(t) for b, t in zip(boxes, texts)):
            raise ValueError("boxes and texts must match per image")
        if sum(len(t) for t in texts) == 0:  # no node at all: nothing to classify
            w = self.kie_head.node_cls.weight
            return w.new_zeros(0, w.shape[0]), w.new_zeros(0, 2)
        visual = None
        if self.with_backbone:
            if img is None:
                raise ValueError("this SDMG-R config needs the image")
            visual = self.extract_feat(img, boxes)
        return self.kie_head(visual, boxes, texts)

    @torch.no_grad()
    def predict(self, img: torch.Tensor | None, boxes: Sequence[torch.Tensor],
                texts: Sequence[Sequence[str]]) -> list[dict[str, torch.Tensor]]:
        node_logits, edge_logits = self(img, boxes, texts)
        return postprocess(node_logits, edge_logits, [len(t) for t in texts])


def postprocess(node_logits: torch.Tensor, edge_logits: torch.Tensor,
                nums: Sequence[int]) -> list[dict[str, torch.Tensor]]:
    """MMOCR's SDMGRPostProcessor (link_type 'none'): softmax then arg-max, per image."""
    node_prob = F.softmax(node_logits, -1)
    edge_prob = F.softmax(edge_logits, -1)
    node_scores, node_labels = node_prob.max(-1)
    edge_scores, edge_labels = edge_prob.max(-1)
    out = []
    ns = ne = 0
    for n in nums:
        out.append(dict(labels=node_labels[ns:ns + n], scores=node_scores[ns:ns + n],
                        edge_labels=edge_labels[ne:ne + n * n].view(n, n),
                        edge_scores=edge_scores[ne:ne + n * n].view(n, n)))
        ns += n
        ne += n * n
    return out


def build_sdmgr(name: str, dictionary: KIEDictionary | None = None) -> SDMGR:
    if name not in DEFAULT_CFGS:
        raise UnknownName("SDMG-R config", name, DEFAULT_CFGS)
    cfg = copy.deepcopy(DEFAULT_CFGS[name])
    return SDMGR(cfg["head"], cfg["backbone"], cfg["roi_layer"], dictionary=dictionary).eval()
