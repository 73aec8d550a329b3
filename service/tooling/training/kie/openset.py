"""Close-set -> open-set conversion of WildReceipt-style labels (as MMOCR's
``tools/dataset_converters/kie/closeset_to_openset.py`` defines it).

Close set: 26 classes, 0 = Ignore, 25 = Others, and in between pairs of a value class (odd
``2k-1``) and its key class (even ``2k``), e.g. 1 Store_name_value / 2 Store_name_key.
Open set: node labels 0 = background (was Ignore), 1 = key, 2 = value, 3 = others (or 0 with
``merge_bg_others``), and an ``edge`` id per box: boxes that share an id are linked.

Edge ids count from 1 in reading order. Every Ignore or Others box gets a fresh id of its own;
all boxes of one key/value pair of classes (the key boxes and the value boxes of, say, Date)
share one id, taken when the first box of either class of the pair is met.
"""
from __future__ import annotations

import json
from pathlib import Path

OPENSET_LABELS = {"bg": 0, "key": 1, "value": 2, "others": 3}


def _role(label: int, ignore_idx: int, others_idx: int) -> tuple[str, int | None]:
    """(open-set role, pair number or None) of a close-set label."""
    if label == ignore_idx:
        return "bg", None
    if label == others_idx:
        return "others", None
    if not 1 <= label < others_idx:
        raise ValueError(f"label {label} is neither Ignore ({ignore_idx}), Others ({others_idx}) "
                         f"nor a key/value class 1..{others_idx - 1}")
    return ("value" if label % 2 else "key"), (label + 1) // 2


def closeset_to_openset(record: dict, merge_bg_others: bool = False, ignore_idx: int = 0,
                        others_idx: int = 25) -> dict:
    """One WildReceipt record (file_name, height, width, annotations) -> its open-set copy.

    Each annotation keeps its box and text; ``label`` becomes 0/1/2/3 and ``edge`` is added.
    """
    mapping = dict(OPENSET_LABELS)
    if merge_bg_others:
        mapping["others"] = mapping["bg"]
    next_edge = 1
    pair_edge: dict[int, int] = {}
    annotations = []
    for ann in record["annotations"]:
        role, pair = _role(int(ann.get("label", 0)), ignore_idx, others_idx)
        if pair is not None and pair in pair_edge:
            edge = pair_edge[pair]
        else:
            edge, next_edge = next_edge, next_edge + 1
            if pair is not None:
                pair_edge[pair] = edge
        annotations.append({**ann, "label": mapping[role], "edge": edge})
    return {"file_name": record["file_name"], "height": record["height"],
            "width": record["width"], "annotations": annotations}


def convert_file(closeset_file: str | Path, openset_file: str | Path,
                 merge_bg_others: bool = False) -> int:
    """Convert every line of a close-set annotation file; returns the number of receipts."""
    lines = [ln for ln in Path(closeset_file).read_text(encoding="utf-8").splitlines() if ln.strip()]
    out = [json.dumps(closeset_to_openset(json.loads(ln), merge_bg_others), ensure_ascii=False)
           for ln in lines]
    Path(openset_file).write_text("".join(o + "\n" for o in out), encoding="utf-8")
    return len(out)
