"""SDMG-R key information extraction served from a checkpoint (torch runtime), family "sdmgr".

A document is an image (optional for the no-visual config) plus text boxes with their
transcripts. This module adds what MMOCR's KIE test pipeline does around the network in
handlers/families/kie: keep-ratio resize to (1024, 512) with the boxes scaled alike, the image
normalised and padded (visual config only), then softmax / arg-max per box. On top of MMOCR's
close-set output it links key boxes to value boxes of the same field (see `link_pairs`) and, for
the fields a zoo entry names in `value_right_of_key`, labels the amount printed right of a key as
that field's value (see `values_right_of_keys`); for those it names in `value_needs_key`, a bare
amount labelled as the field's value on a document with no key of the field takes its next most
likely class (see `keyless_values`).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from handlers.api.class_list import read_class_list
from handlers.api.results import KIELabel, KIEPair, KIEResult
from handlers.api.spec import UnknownName
from handlers.ops.amounts import AMOUNT, BARE_AMOUNT
from handlers.predictors.kie_context import ContextRelabeller
from handlers.runtime import Device, TorchRunner, load_checkpoint_runner

#: SDMG-R attends over every ordered pair of boxes: time and memory grow with N^2 (measured on
#: one CPU thread, no-visual config: 100 boxes 0.4 s / 0.36 GB, 300 boxes 2.6 s / 1 GB,
#: 500 boxes 12 s / 2.3 GB). Past this count a document is refused rather than risking the worker.
DEFAULT_MAX_INSTANCES = 300
DEFAULT_PAIR_THRESHOLD = 0.5
#: the config's rules on key / value fields (SDMGRConfig fields of the same names): lists of field names
VALUE_RULES = ("value_right_of_key", "value_needs_key")


@dataclass(frozen=True)
class SDMGRConfig:
    """The MMOCR config name and the numbers its test pipeline and serving use."""

    arch: str
    scale: tuple[int, int]
    visual: bool
    max_instances: int = DEFAULT_MAX_INSTANCES
    pair_threshold: float = DEFAULT_PAIR_THRESHOLD
    value_right_of_key: tuple[str, ...] = ()  # fields F: the amount right of an F_key becomes F_value
    value_needs_key: tuple[str, ...] = ()  # fields F: no F_key on the document, no bare-amount F_value

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> "SDMGRConfig":
        """`raw["arch"]` names the SDMG-R config; `max_instances`, `pair_threshold`,
        `value_right_of_key` and `value_needs_key` (lists of field names) are optional."""
        from handlers.families.kie.sdmgr import DEFAULT_CFGS

        arch = raw.get("arch")
        if arch not in DEFAULT_CFGS:
            raise UnknownName("SDMG-R config", arch, DEFAULT_CFGS)
        max_instances = int(raw.get("max_instances", DEFAULT_MAX_INSTANCES))
        threshold = float(raw.get("pair_threshold", DEFAULT_PAIR_THRESHOLD))
        if not 1 <= max_instances <= 2000:
            raise ValueError(f"max_instances must be in 1..2000, got {max_instances}")
        if not 0.0 <= threshold <= 1.0:
            raise ValueError(f"pair_threshold must be in [0, 1], got {threshold}")
        rules = {}
        for rule in VALUE_RULES:
            fields = raw.get(rule, [])
            if not isinstance(fields, list) or not all(isinstance(f, str) and f for f in fields):
                raise ValueError(f"{rule} must be a list of field names, got {fields!r}")
            rules[rule] = tuple(fields)
        cfg = DEFAULT_CFGS[arch]
        return cls(arch, tuple(cfg["test_resize"]["scale"]), cfg["backbone"] is not None,
                   max_instances, threshold, **rules)


def key_value_fields(class_names: Sequence[str]) -> dict[int, tuple[str, str]]:
    """Label id -> (field, "key" | "value"): close-set names like "Total_key" / "Total_value" give
    the field "total"; open-set classes named just "key" / "value" share one field ""."""
    fields = {}
    for label, name in enumerate(class_names):
        field, _, role = name.rpartition("_")
        if role.lower() in ("key", "value"):
            fields[label] = (field.lower(), role.lower())
    return fields


def link_pairs(labels: Sequence[int], links: np.ndarray, fields: dict[int, tuple[str, str]],
               threshold: float) -> list[tuple[int, int, float]]:
    """(key box, value box, score) links: same field, P(linked) of the key -> value edge >= threshold.

    Greedy one-to-one: candidates by descending score, each box used at most once.
    """
    candidates = []
    for i, li in enumerate(labels):
        for j, lj in enumerate(labels):
            if i == j or li not in fields or lj not in fields:
                continue
            (field_i, role_i), (field_j, role_j) = fields[li], fields[lj]
            if field_i == field_j and role_i == "key" and role_j == "value" and links[i, j] >= threshold:
                candidates.append((i, j, float(links[i, j])))
    pairs, used = [], set()
    for i, j, score in sorted(candidates, key=lambda c: -c[2]):
        if i not in used and j not in used:
            pairs.append((i, j, score))
            used.update((i, j))
    return sorted(pairs)


#: the classes a box right of a key may be relabelled from: no class, or a smaller amount's (a
#: total is left alone: the network finds totals far more often than it confuses them)
AMOUNT_CLASSES = ("Others", "Subtotal_value", "Tax_value", "Prod_price_value")


def values_right_of_keys(labels: Sequence[int], boxes: np.ndarray, texts: Sequence[str],
                         class_names: Sequence[str], fields: Sequence[str]) -> list[int]:
    """Labels with, for each field F of `fields`, the amount printed right after each box labelled
    `F_key` relabelled `F_value` (see `value_keys`)."""
    out = list(labels)
    for value, (_, label) in value_keys(labels, boxes, texts, class_names, fields).items():
        out[value] = label
    return out


def value_keys(labels: Sequence[int], boxes: np.ndarray, texts: Sequence[str], class_names: Sequence[str],
               fields: Sequence[str]) -> dict[int, tuple[int, int]]:
    """{value box: (its key box, F_value)} for each field F of `fields`: after each box labelled
    `F_key`, the nearest box on the key's line (heights overlapping by at least half the lower one)
    that starts past the key's centre and holds an amount (handlers/ops/amounts.py), when it is
    labelled Others or one of AMOUNT_CLASSES. For a rare field the network seldom predicts a value
    it reads keys for (WildReceipt's tips: `Tip:` found, its `15.11` called a tax)."""
    index = {name: i for i, name in enumerate(class_names)}
    amounts = {index[name] for name in AMOUNT_CLASSES if name in index}
    out = {}
    for field in fields:
        key, value = index[f"{field}_key"], index[f"{field}_value"]
        for i in (i for i, label in enumerate(labels) if label == key):
            x1, y1, x2, y2 = boxes[i]
            best = None
            for j, (u1, v1, u2, v2) in enumerate(boxes):
                overlap = min(y2, v2) - max(y1, v1)
                if (j != i and u1 >= (x1 + x2) / 2 and overlap >= 0.5 * min(y2 - y1, v2 - v1)
                        and AMOUNT.search(texts[j]) and (best is None or u1 < boxes[best][0])):
                    best = j
            if best is not None and labels[best] in amounts:
                out[best] = (i, value)
    return out


KEY_SEEN = 0.2


def keyless_values(labels: Sequence[int], prob: np.ndarray, texts: Sequence[str], class_names: Sequence[str],
                   fields: Sequence[str]) -> dict[int, int]:
    """{box: its next most likely class} for each box labelled `F_value`, for F in `fields`, whose
    text is a bare amount (BARE_AMOUNT) on a document where no box looks like an `F_key` (labelled
    so, or with a probability of it of KEY_SEEN or more). For a field printed only beside its key
    (a tip is always labelled `Tip` or `Gratuity`), the network's F_value on an amount with no key
    in sight is a tax or a total it was unsure of (WildReceipt's tips). KEY_SEEN keeps an OCR line
    that holds more than the key (`Gratuity Guide 15%`, p 0.28 of a tips key) counting as one."""
    index = {name: i for i, name in enumerate(class_names)}
    out = {}
    for field in fields:
        key, value = index[f"{field}_key"], index[f"{field}_value"]
        if key in labels or (len(prob) and float(np.max(prob[:, key])) >= KEY_SEEN):
            continue
        for j in (j for j, label in enumerate(labels) if label == value and BARE_AMOUNT.fullmatch(texts[j])):
            others = np.array(prob[j], dtype=np.float64)
            others[value] = -1.0
            out[j] = int(others.argmax())
    return out


@dataclass
class KIEDocument:
    """One document: BGR image (or None and its (height, width)), boxes (N, 4) x1y1x2y2, texts."""

    image: np.ndarray | None
    boxes: np.ndarray
    texts: list[str]
    size: tuple[int, int] | None = None


def document_size(doc: KIEDocument) -> tuple[int, int]:
    """(height, width) that the resize is computed from: the image's, the given size, or the
    extent of the boxes (at least 1 x 1) when neither is known."""
    if doc.image is not None:
        return doc.image.shape[:2]
    if doc.size is not None:
        return doc.size
    if len(doc.boxes) == 0:
        return 1, 1
    return max(1, int(np.ceil(doc.boxes[:, 3].max()))), max(1, int(np.ceil(doc.boxes[:, 2].max())))


def build_network(arch: str, num_classes: int, dictionary: Any) -> Any:
    """An SDMG-R of config `arch` whose head predicts `num_classes` classes (the class list's)."""
    from handlers.families.kie.sdmgr import DEFAULT_CFGS, SDMGR

    cfg = DEFAULT_CFGS[arch]
    head = {**cfg["head"], "num_classes": num_classes}
    return SDMGR(head, cfg["backbone"], cfg["roi_layer"], dictionary=dictionary).eval()


def load_torch_runner(spec: Any, device: Device = Device(), threads: int = 1) -> TorchRunner:
    """Build the network sized by the archive's class list and dictionary; load the checkpoint strictly."""
    from handlers.families.kie.text_encoding import KIEDictionary

    missing = [name for name in ("class_list", "dict") if name not in spec.files]
    if missing:
        raise ValueError(f"{spec.name}: an SDMG-R archive needs {' and '.join(missing)} files")
    dictionary = KIEDictionary.from_file(spec.files["dict"])
    num_classes = len(read_class_list(spec.files["class_list"]))
    network = build_network(SDMGRConfig.from_dict(spec.config).arch, num_classes, dictionary)
    try:
        return load_checkpoint_runner(network, spec.weights, device, threads)
    except RuntimeError as exc:
        raise ValueError(f"{spec.name}: the checkpoint does not fit {spec.config['arch']} with "
                         f"{num_classes} classes and a {len(dictionary.chars)}-character dictionary: {exc}") from None


class SDMGRExtractor:
    """SDMG-R plus MMOCR's KIE test-time preparation; labels every box of each document."""

    def __init__(self, runner: TorchRunner, cfg: SDMGRConfig, class_names: Sequence[str],
                 context: ContextRelabeller | None = None):
        num_classes = runner.module.kie_head.node_cls.out_features
        if len(class_names) != num_classes:
            raise ValueError(f"the class list has {len(class_names)} classes, the model predicts {num_classes}")
        self.runner = runner
        self.cfg = cfg
        self.class_names = list(class_names)
        self.fields = key_value_fields(class_names)
        self.context = context
        for rule in VALUE_RULES:
            missing = [f"{f}_{role}" for f in getattr(cfg, rule) for role in ("key", "value")
                       if f"{f}_{role}" not in class_names]
            if missing:
                raise ValueError(f"{rule}: the class list has no {', '.join(missing)}")

    def __call__(self, documents: Sequence[KIEDocument]) -> list[KIEResult]:
        """Label the boxes of every document, in order (one forward pass per document)."""
        return [self._one(doc) for doc in documents]

    def probabilities(self, doc: KIEDocument) -> tuple[np.ndarray, np.ndarray]:
        """The network's (N, C) class probabilities of a document's boxes and its (N, N) link
        probabilities (key box i -> value box j)."""
        from handlers.families.kie.preprocess import prepare

        if self.cfg.visual and doc.image is None:
            raise ValueError(f"{self.cfg.arch} reads the image: send it with the boxes")
        image = doc.image if self.cfg.visual else None
        tensor, boxes, _ = prepare(image, doc.boxes, document_size(doc), self.cfg.scale, self.cfg.visual)
        torch = self.runner.torch
        device = str(self.runner.device)
        with torch.inference_mode():
            nodes, edges = self.runner.module(None if tensor is None else tensor.to(device), [boxes], [doc.texts])
            node_prob = torch.softmax(nodes.float(), -1).cpu().numpy()
            links = torch.softmax(edges.float(), -1)[:, 1].reshape(len(doc.texts), -1).cpu().numpy()
        return node_prob, links

    def _one(self, doc: KIEDocument) -> KIEResult:
        if len(doc.texts) == 0:
            return KIEResult([], [])
        node_prob, links = self.probabilities(doc)
        if self.context is not None:
            node_prob = self.context(node_prob, doc.boxes, doc.texts, document_size(doc))
        labels_l = node_prob.argmax(-1).tolist()
        scores = node_prob.max(-1).tolist()
        keys = value_keys(labels_l, doc.boxes, doc.texts, self.class_names, self.cfg.value_right_of_key)
        for value, (key, label) in keys.items():  # a value read from its key is as sure as the key
            labels_l[value], scores[value] = label, scores[key]
        keyless = keyless_values(labels_l, node_prob, doc.texts, self.class_names, self.cfg.value_needs_key)
        for box, label in keyless.items():
            labels_l[box], scores[box] = label, float(node_prob[box, label])
        named = [KIELabel(self.class_names[c], c, float(p)) for c, p in zip(labels_l, scores)]
        pairs = [KIEPair(i, j, p) for i, j, p in link_pairs(labels_l, links, self.fields, self.cfg.pair_threshold)]
        return KIEResult(named, pairs)
