"""Close-set -> open-set conversion (MMOCR closeset_to_openset semantics), pinned cases."""
from __future__ import annotations

import json

import pytest

from service.tooling.training.kie.openset import closeset_to_openset, convert_file


def _rec(labels):
    return {"file_name": "r.jpg", "height": 100, "width": 50,
            "annotations": [{"box": [0, i, 9, i, 9, i + 5, 0, i + 5], "text": f"t{i}", "label": lab}
                            for i, lab in enumerate(labels)]}


def _labels_edges(rec):
    return [(a["label"], a["edge"]) for a in rec["annotations"]]


def test_key_and_value_of_a_pair_share_an_edge():
    # Date_key (8), Date_value (7), Others (25), Total_value (23), Total_key (24), Ignore (0)
    out = closeset_to_openset(_rec([8, 7, 25, 23, 24, 0]))
    assert _labels_edges(out) == [(1, 1), (2, 1), (3, 2), (2, 3), (1, 3), (0, 4)]


def test_repeated_classes_reuse_their_pair_edge():
    # two product names and two prices: each class keeps the id its pair got first;
    # every Others box has an id of its own
    out = closeset_to_openset(_rec([11, 15, 25, 11, 15, 25, 12]))
    assert _labels_edges(out) == [(2, 1), (2, 2), (3, 3), (2, 1), (2, 2), (3, 4), (1, 1)]


def test_merge_bg_others_and_kept_fields():
    src = _rec([25, 0, 1])
    out = closeset_to_openset(src, merge_bg_others=True)
    assert _labels_edges(out) == [(0, 1), (0, 2), (2, 3)]
    assert [a["text"] for a in out["annotations"]] == ["t0", "t1", "t2"]
    assert out["annotations"][2]["box"] == src["annotations"][2]["box"]
    assert (out["file_name"], out["height"], out["width"]) == ("r.jpg", 100, 50)
    assert src["annotations"][0]["label"] == 25 and "edge" not in src["annotations"][0]  # input untouched


def test_unknown_label_is_refused():
    with pytest.raises(ValueError, match="label 26 is neither"):
        closeset_to_openset(_rec([1, 26]))


def test_convert_file_round(tmp_path):
    src, dst = tmp_path / "close.txt", tmp_path / "open.txt"
    src.write_text(json.dumps(_rec([2, 1])) + "\n\n" + json.dumps(_rec([0])) + "\n", encoding="utf-8")
    assert convert_file(src, dst) == 2
    lines = [json.loads(x) for x in dst.read_text(encoding="utf-8").splitlines()]
    assert [_labels_edges(r) for r in lines] == [[(1, 1), (2, 1)], [(0, 1)]]
