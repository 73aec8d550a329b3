"""The one class_list.txt reader: every form the three old readers accepted parses the same way."""
from __future__ import annotations

import pytest

from handlers.api.class_list import read_class_list
from service.tooling.synth.receipts.labels import CLASS_NAMES, class_list_text
from tests.conftest import data_path

WILDRECEIPT = ("mmocr", "main", "kie_toy_dataset", "wildreceipt")

ACCEPTED = {
    "in order": ("0 Ignore\n1 Total_key\n2 Total_value\n", ["Ignore", "Total_key", "Total_value"]),
    "trailing tabs, blank lines (WildReceipt)": ("0 Ignore\t\n\n1 Total_key\t\n", ["Ignore", "Total_key"]),
    "any order (the serving reader)": ("1 b\n0 a\n", ["a", "b"]),
    "a name with spaces (the serving reader)": ("0 Store name\n", ["Store name"]),
    "CRLF and a BOM": ("\ufeff0 a\r\n1 b\r\n", ["a", "b"]),
}


@pytest.mark.parametrize("text, names", ACCEPTED.values(), ids=list(ACCEPTED))
def test_accepted_forms(tmp_path, text, names):
    path = tmp_path / "class_list.txt"
    path.write_bytes(text.encode("utf-8"))
    assert read_class_list(path) == names


@pytest.mark.parametrize("text, words", [
    ("0 a\n2 b\n", "without gaps"),
    ("0 a\n0 b\n", "appears twice"),
    ("a\n", "expected '<id> <name>'"),
    ("-1 a\n", "expected '<id> <name>'"),
    ("\n\n", "no classes"),
])
def test_refused_forms_name_the_problem(tmp_path, text, words):
    path = tmp_path / "class_list.txt"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ValueError, match=words):
        read_class_list(path)


def test_the_generators_list_and_wildreceipts_own_read_alike(tmp_path):
    path = tmp_path / "class_list.txt"
    path.write_text(class_list_text(), encoding="utf-8")
    assert read_class_list(path) == list(CLASS_NAMES)
    assert read_class_list(data_path(*WILDRECEIPT, "class_list.txt")) == list(CLASS_NAMES)
    assert read_class_list(data_path("mmocr", "0.x", "kie_toy_dataset", "class_list.txt")) == list(CLASS_NAMES)
