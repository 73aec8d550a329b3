"""KIE units of an OCR page (lines, segments split at wide gaps, words) and the values of labelled units.

The lines are real: word boxes as the gateway read them (dbnet + ppocrv6-small-rec) on SROIE 2019
receipts of the tuning half of bench/kie_real_receipts.py (`sroie2019_train/img/485.jpg`, `145.jpg`,
`005.jpg`, `405.jpg`), pinned here so the splitter is tested without a server.
"""
from __future__ import annotations

import numpy as np
import pytest

from service.gateway import kie_units
from service.gateway.kie_units import attach_labels, kie_units as units_of, span_polygon, split_segments
from service.gateway.kie_values import field_value


def _line(box, words):
    return {"box": box, "text": " ".join(t for t, _ in words), "words": [{"box": b, "text": t} for t, b in words]}


# 485.jpg: key and value printed with a wide gap (0.64 line heights between the word boxes)
DATE_KEY_VALUE = _line([321.8, 1003.6, 522.3, 1005.4, 522.1, 1030.0, 321.6, 1028.1], [
    ("Date:", [324, 1004, 388, 1004, 388, 1029, 324, 1028]),
    ("20/09/2017", [404, 1004, 520, 1005, 520, 1030, 404, 1029])])
# 145.jpg: a two-word key, then its value
TEL_KEY_VALUE = _line([182.7, 780.6, 559.3, 783.8, 558.9, 828.7, 182.3, 825.5], [
    ("Tel", [186, 781, 245, 781, 245, 826, 186, 826]),
    ("No.", [252, 781, 311, 782, 311, 827, 252, 826]),
    ("03-9010-9849", [340, 782, 559, 784, 559, 829, 340, 827])])
# 005.jpg: a date and a time separated by single spaces
DATE_TIME = _line([122.0, 265.3, 298.8, 265.3, 298.8, 284.9, 122.0, 284.9], [
    ("09/01/2019", [124, 265, 209, 265, 209, 285, 124, 285]),
    ("8:01:11", [213, 265, 273, 265, 273, 285, 213, 285]),
    ("PM", [276, 265, 295, 265, 295, 285, 276, 285])])
# 405.jpg: a total's words, then the amount after a wide gap
TOTAL = _line([85.8, 1975.3, 767.0, 1980.7, 766.7, 2027.5, 85.4, 2022.1], [
    ("Total", [90, 1975, 182, 1976, 181, 2023, 89, 2022]),
    ("Sales", [189, 1976, 289, 1977, 288, 2024, 189, 2023]),
    ("(Inclusive", [297, 1977, 480, 1978, 480, 2025, 296, 2024]),
    ("GST)", [496, 1979, 572, 1979, 572, 2026, 496, 2025]),
    ("RM", [580, 1979, 618, 1980, 618, 2026, 580, 2026]),
    ("177.22", [649, 1980, 764, 1981, 764, 2028, 649, 2027])])


def _texts(line, gap=kie_units.SEGMENT_GAP):
    return [" ".join(w["text"] for w in line["words"][a:b]) for a, b in split_segments(line["words"], gap)]


def test_a_key_and_its_value_printed_apart_become_two_segments():
    assert _texts(DATE_KEY_VALUE) == ["Date:", "20/09/2017"]
    assert _texts(TEL_KEY_VALUE) == ["Tel No.", "03-9010-9849"]
    assert _texts(TOTAL) == ["Total Sales (Inclusive GST) RM", "177.22"]
    # the gap is measured in line heights: a threshold above these gaps keeps each line whole
    assert _texts(DATE_KEY_VALUE, gap=0.7) == ["Date: 20/09/2017"]


def test_single_spaces_do_not_split_but_word_units_do():
    assert _texts(DATE_TIME) == ["09/01/2019 8:01:11 PM"]
    words = units_of([DATE_TIME], "word")
    assert [u.text for u in words] == ["09/01/2019", "8:01:11", "PM"]
    assert [(u.start, u.end) for u in words] == [(0, 1), (1, 2), (2, 3)]


def test_a_rotated_line_splits_the_same_way():
    turn = np.array([[0.0, -1.0], [1.0, 0.0]])  # 90 degrees: the line now runs down the page

    def rotated(line):
        def pts(box):
            return [round(float(v), 2) for v in (np.asarray(box, float).reshape(-1, 2) @ turn.T).reshape(-1)]
        return {"box": pts(line["box"]), "text": line["text"],
                "words": [{"box": pts(w["box"]), "text": w["text"]} for w in line["words"]]}

    assert _texts(rotated(TEL_KEY_VALUE)) == ["Tel No.", "03-9010-9849"]
    assert _texts(rotated(DATE_TIME)) == ["09/01/2019 8:01:11 PM"]


def test_segment_units_carry_word_ranges_and_boxes_around_their_words():
    page = [DATE_TIME, TEL_KEY_VALUE, {"box": [0, 0, 10, 0, 10, 5, 0, 5], "text": "no words"}]
    units = units_of(page, "segment")
    assert [(u.line, u.start, u.end, u.text) for u in units] == [
        (0, 0, 3, "09/01/2019 8:01:11 PM"), (1, 0, 2, "Tel No."), (1, 2, 3, "03-9010-9849"), (2, 0, 0, "no words")]
    assert units[0].box == DATE_TIME["box"]  # an unsplit line keeps its detected box and text
    xs, ys = np.asarray(units[2].box).reshape(4, 2).T
    assert 339 <= xs.min() <= 341 and 558 <= xs.max() <= 560 and ys.min() >= 780 and ys.max() <= 830
    assert units_of(page, "line")[1].text == "Tel No. 03-9010-9849"


def test_labels_land_on_segments_and_pairs_name_line_and_segment():
    page = [{**DATE_TIME}, {**TEL_KEY_VALUE}]
    units = units_of(page, "segment")
    labels = ["Date_value", "Tel_key", "Tel_value"]
    labelled = {"instances": [{"label": name, "label_id": i, "label_score": 0.9} for i, name in enumerate(labels)],
                "pairs": [{"from": 1, "to": 2, "score": 0.8}]}
    pairs = attach_labels(page, units, labelled, "segment")
    assert pairs == [{"from": 1, "to": 1, "score": 0.8, "from_segment": 0, "to_segment": 1}]
    assert "label" not in page[1] and [s["label"] for s in page[1]["segments"]] == ["Tel_key", "Tel_value"]
    assert page[0]["segments"][0]["value"] == "09/01/2019"  # the date, without the time
    assert (page[1]["segments"][1]["word_start"], page[1]["segments"][1]["word_end"]) == (2, 3)


def test_line_mode_labels_the_lines_as_before():
    page = [{**DATE_TIME}]
    units = units_of(page, "line")
    pairs = attach_labels(page, units, {"instances": [{"label": "Date_value", "label_id": 7, "label_score": 0.5}],
                                        "pairs": []}, "line")
    assert pairs == [] and page[0]["label"] == "Date_value" and "segments" not in page[0]
    assert page[0]["value"] == "09/01/2019"


def test_span_polygon_of_one_word_is_its_box():
    assert span_polygon(TOTAL["words"][-1:]) == [649, 1980, 764, 1981, 764, 2028, 649, 2027]


@pytest.mark.parametrize("label, text, value", [
    ("Date_value", "19/10/2018 20:49:59 #01", "19/10/2018"),
    ("Date_value", "Date : 04-04-2018 14:26:20", "04-04-2018"),
    ("Date_value", "DATE 12/30/2016 FRI", "12/30/2016"),
    ("Date_value", "28-Jun-2015", "28-Jun-2015"),
    ("Date_value", "Jan 23, 2018", "Jan 23, 2018"),
    ("Date_value", "2018-01-23 12:00", "2018-01-23"),
    ("Date_value", "Cash Bill", None),
    ("Time_value", "09/01/2019 8:01:11 PM", "8:01:11 PM"),
    ("Total_value", "RM 31.00", "31.00"),
    ("Total_value", "Total Sales (Inclusive GST) RM 1,177.22", "1,177.22"),
    ("Tax_value", "GST 6% 0,75", "0,75"),
    ("Total_value", "31", None),
    ("Prod_price_value", "2 100.00", "100.00"),  # a quantity before the price is not a thousands group
    ("Total_value", "TOTAL 1.234,50 EUR", "1.234,50"),
    ("Total_value", "12345.00", "12345.00"),
    ("Store_name_value", "AEON CO. (M) BHD (126926-H)", "AEON CO. (M) BHD"),
    ("Store_name_value", "GARDENIA BAKERIES (KL) SDN BHD (139386 X)", "GARDENIA BAKERIES (KL) SDN BHD"),
    ("Store_name_value", "Broadview Marketing Sdn Bhd(728384-M)", "Broadview Marketing Sdn Bhd"),
    ("Store_name_value", "SANYU SUPPLY SDN BHD Co. Reg. No: 1135772-K", "SANYU SUPPLY SDN BHD"),
    ("Store_name_value", "99 SPEED MART S/B", None),  # no number: the line is the name
    ("Store_name_value", "KEDAI 1234 A", None),  # a bare number and letter may be part of the name
    ("Store_name_value", "7-ELEVEN MALAYSIA SDN BHD", None),
    ("Store_name_value", "(65351-M)", None),  # the number alone: no name
    ("Store_name_value", "12/12/2012", None),
    ("Store_addr_value", "NO. 9-G, JALAN DINAR D U3/D", None),  # other classes have no value form
])
def test_field_value(label, text, value):
    assert field_value(label, text) == value
