"""CLUENER2020 json-lines (MMOCR's NER format) and BERT-layout vocab files.

One sample per line: {"text": "...", "label": {category: {span_text: [[start, end], ...]}}}, end
inclusive (``label`` may be missing on test data)."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

SPECIAL = ["[PAD]"] + [f"[unused{i}]" for i in range(1, 100)] + ["[UNK]", "[CLS]", "[SEP]", "[MASK]"]


Entity = tuple[str, int, int]  # (category, start, end) with `end` inclusive, as CLUENER writes spans


@dataclass(frozen=True)
class NerSample:
    text: str
    label: dict = field(default_factory=dict)

    def spans(self) -> list[Entity]:
        """(category, start, end inclusive) of every labelled entity, sorted."""
        return sorted((cat, int(start), int(end)) for cat, found in self.label.items()
                      for places in found.values() for start, end in places)

    @property
    def entities(self) -> frozenset[Entity]:
        """The spans as a set, as the entity-level metric compares them."""
        return frozenset(self.spans())


def parse_cluener(record: dict) -> NerSample:
    """One decoded CLUENER line -> NerSample; every span must cover its mention exactly."""
    text, label = record["text"], record.get("label") or {}
    if not isinstance(text, str) or not isinstance(label, dict):
        raise TypeError("text must be a string and label an object")
    for kind, mentions in label.items():
        for mention, places in mentions.items():
            for start, end in places:
                if text[start:end + 1] != mention:
                    raise ValueError(f"{kind} span text[{start}:{end + 1}] is {text[start:end + 1]!r}, "
                                     f"not {mention!r}")
    return NerSample(text, label)


def read_cluener(path: str | Path) -> list[NerSample]:
    """The samples of a CLUENER json-lines file (train.json / dev.json); ValueError naming the bad line."""
    samples = []
    for number, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            samples.append(parse_cluener(json.loads(line)))
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"{path}:{number}: not a CLUENER sample: {exc}") from None
    return samples


def write_cluener(samples: Iterable[NerSample], path: str | Path) -> None:
    lines = [json.dumps({"text": s.text, "label": s.label}, ensure_ascii=False) for s in samples]
    Path(path).write_text("\n".join(lines) + "\n", encoding="utf-8")


def build_vocab(samples: Iterable[NerSample], path: str | Path) -> Path:
    """A BERT-layout vocab (ids 0-103 special as in BERT-chinese) with every lower-cased
    character of the samples, for training from scratch; returns the path."""
    chars = sorted({c.lower() for s in samples for c in s.text if len(c.lower()) == 1} - {"\n", " "})
    Path(path).write_text("\n".join(SPECIAL + chars) + "\n", encoding="utf-8")
    return Path(path)
