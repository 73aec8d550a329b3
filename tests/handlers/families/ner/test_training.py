"""`ocrserve train ner` learns: a tiny tagger trained from scratch on generated CLUENER-style text
finds the entities of held-out generated text (about 60% of whose entity strings it never saw)."""
from __future__ import annotations

import json

import pytest

from service.tooling.training.ner.data import NerSample, read_cluener, write_cluener
from service.tooling.training.ner.synthetic import corpus


def test_tiny_model_learns_the_generated_corpus(tiny_ner):
    _, _, report = tiny_ner
    print(f"held-out F1 {report['f1']:.3f} (untrained {report['untrained_f1']:.3f}), "
          f"training {report['seconds']:.1f} s")
    assert report["untrained_f1"] < 0.1  # chance: a random tagger finds (almost) nothing
    assert report["f1"] > 0.6            # measured 0.86


def test_held_out_entities_are_mostly_unseen():
    seen = {v for s in corpus(300, 0) for found in s.label.values() for v in found}
    held = [v for s in corpus(100, 1) for found in s.label.values() for v in found]
    assert sum(v not in seen for v in held) / len(held) > 0.4


def test_cluener_round_trip_and_bad_lines(tmp_path):
    path = tmp_path / "train.json"
    samples = corpus(5, 3)
    write_cluener(samples, path)
    assert read_cluener(path) == samples
    assert samples[0].spans() == sorted(samples[0].spans())
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"text": "北京欢迎你", "label": {"address": {"北京": [[1, 2]]}}},
                              ensure_ascii=False) + "\n", encoding="utf-8")
    with pytest.raises(ValueError, match="bad.json:1: .*text\\[1:3\\] is '京欢', not '北京'"):
        read_cluener(bad)
    assert NerSample("x").spans() == []


def test_cli_refuses_missing_data(tmp_path, capsys):
    from service.tooling.cli import main

    assert main(["train", "ner", "--out", str(tmp_path / "o")]) == 2
    assert "--data FILE" in capsys.readouterr().err
