"""MMOCR 0.x ``NerConvertor`` as pure functions: a BERT vocab file, text -> ids, CLUENER labels ->
tag ids, tag ids -> entities, entities -> character spans.

Conventions (MMOCR 0.6.3's, pinned by the oracle's cases): position 0 is ``[CLS]`` (id 101),
characters follow one token each (lower-cased; unknown -> 100), ``[SEP]`` (102) after the last
one, 0-padding to ``max_len``; the attention mask is 1 on the ``len + 2`` used positions. Tags:
0 ``X``, 1..K ``B-<cat>``, K+1..2K ``I-<cat>``, 2K+1 ``O`` (MMOCR's ignore id), then ``[START]``,
``[END]``. Entities are ``(category, start, end)`` character indices, end inclusive."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

from handlers.api.results import Entity

UNKNOWN_ID, START_ID, END_ID = 100, 101, 102


class NerTextError(ValueError):
    """A text MMOCR 0.6.3 cannot tag (it raises there): empty, or too long for ``max_len``."""


def read_vocab(path: str | Path) -> dict[str, int]:
    """Token -> id of a BERT vocab file (line number = id; a repeated token keeps its last id)."""
    lines = Path(path).read_text(encoding="utf-8").split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return {line.rstrip(): i for i, line in enumerate(lines)}


@dataclass(frozen=True)
class NerLabels:
    """The BIO label map of a category list, numbered as MMOCR's ``_generate_labelid_dict``."""

    categories: tuple[str, ...]

    @property
    def ignore_id(self) -> int:
        return 2 * len(self.categories) + 1

    @property
    def num_labels(self) -> int:
        return 2 * len(self.categories) + 4

    def id2label(self) -> dict[int, str]:
        k = len(self.categories)
        out = {0: "X", k * 2 + 1: "O", k * 2 + 2: "[START]", k * 2 + 3: "[END]"}
        for i, cat in enumerate(self.categories):
            out[i + 1], out[i + 1 + k] = f"B-{cat}", f"I-{cat}"
        return out

    def begin_inside(self, category: str) -> tuple[int, int]:
        i = self.categories.index(category)
        return i + 1, i + 1 + len(self.categories)


def max_chars(max_len: int) -> int:
    """Longest text MMOCR accepts: ``max_len`` minus [CLS] and [SEP] (126 for 128)."""
    return max_len - 2


def text_to_ids(text: str, vocab: dict[str, int], max_len: int) -> tuple[list[int], list[int]]:
    """(input_ids, attention_mask) of one text, both ``max_len`` long.

    Raises NerTextError where MMOCR 0.6.3 raises: an empty text (UnboundLocalError there) and a
    text over ``max_len - 2`` characters (IndexError there: it writes [SEP] past the end).
    Characters are lower-cased one by one; the one character whose lower case is two characters
    (U+0130) is looked up unchanged, so ids stay one per character (MMOCR shifts them)."""
    if not text:
        raise NerTextError("empty text: there is nothing to tag")
    if len(text) > max_chars(max_len):
        raise NerTextError(f"text of {len(text)} characters is over the model's limit of "
                           f"{max_chars(max_len)} (max_len {max_len} with [CLS] and [SEP])")
    ids = [START_ID]
    for char in text:
        low = char.lower()
        ids.append(vocab.get(low if len(low) == 1 else char, UNKNOWN_ID))
    ids.append(END_ID)
    mask = [1] * len(ids)
    pad = max_len - len(ids)
    return ids + [0] * pad, mask + [0] * pad


def entities_to_labels(entities: dict, text_len: int, labels: NerLabels, max_len: int) -> list[int]:
    """Tag ids of a CLUENER label dict ``{category: {span_text: [[start, end], ...]}}``.

    As MMOCR: ``O`` on the ``text_len + 2`` used positions, 0 beyond; a span's B at
    ``start + 1``, I up to ``end + 1``; positions past ``max_len`` are dropped."""
    tags = [0] * max_len
    for j in range(min(text_len + 2, max_len)):
        tags[j] = labels.ignore_id
    for category, spans in entities.items():
        begin, inside = labels.begin_inside(category)
        for places in spans.values():
            for start, end in places:
                if start + 1 < max_len:
                    tags[start + 1] = begin
                    for i in range(start + 2, min(end + 2, max_len)):
                        tags[i] = inside
    return tags


def _closed(entity: list, out: list) -> None:
    if entity[2] != -1 and entity[1] < entity[2]:  # MMOCR keeps multi-character entities only
        out.append(tuple(entity))


def tags_to_entities(tags: Sequence[int], mask: Sequence[int], labels: NerLabels
                     ) -> list[tuple[str, int, int]]:
    """Entities of one tag sequence (position 0 = [CLS]), MMOCR 0.6.3's rules.

    Tags are multiplied by the mask (masked positions read ``X``); a ``B-`` opens an entity;
    an ``I-`` of the same type extends it, of another type neither extends nor ends it; anything
    else ends it. Single-character entities are dropped, and the [SEP] slot (index ``len``)
    can extend an entity one past the text."""
    id2label = labels.id2label()
    results = [int(t) * int(m) for t, m in zip(tags[1:], mask[1:])]
    entities: list = []
    entity = [-1, -1, -1]
    last = len(results) - 1
    for index, tag_id in enumerate(results):
        tag = id2label[tag_id]
        if tag.startswith("B-"):
            _closed(entity, entities)
            entity = [tag[2:], index, index]
            if index == last:
                _closed(entity, entities)
        elif tag.startswith("I-") and entity[1] != -1:
            if tag[2:] == entity[0]:
                entity[2] = index
            if index == last:
                _closed(entity, entities)
        else:
            _closed(entity, entities)
            entity = [-1, -1, -1]
    return entities




def to_spans(text: str, entities: Iterable[tuple[str, int, int]],
             tag_probs: Sequence[float]) -> list[Entity]:
    """MMOCR's (category, start, end-inclusive) -> spans of ``text``; an entity that runs into
    the [SEP] slot is clipped to the text. ``tag_probs[i]`` is the probability of character i's
    tag (position i + 1); an entity's score is their mean over its positions."""
    out = []
    for category, start, end in entities:
        probs = tag_probs[start:end + 1]
        stop = min(end + 1, len(text))
        out.append(Entity(category, start, stop, text[start:stop], float(sum(probs) / len(probs))))
    return out
