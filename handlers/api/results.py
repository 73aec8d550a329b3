"""Typed results of every task, shared by the handlers (which produce them) and the gateway
(which consumes them). TorchServe's JSON is their serialisation at the edge only: `to_json`
writes the public shape a handler answers, `from_json` reads it back on the gateway side.

Shapes on the wire (MMOCR's serving responses where MMOCR has one):
  det  {"boundary_result": [[x1, y1, ..., xn, yn, score], ...]}  clockwise from the top-left vertex
  rec  {"text", "score"} (+ "chars": [[char, x0, x1, prob], ...], "frame" with positions)
  cls  {"label", "score", "rotate"}
  kie  {"instances": [{"label", "label_id", "label_score"}, ...], "pairs": [{"from", "to", "score"}]}
  ner  {"entities": [[{"type", "start", "end", "text", "score"}, ...] per text]}
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

# The precision results are answered at: a result that went over the wire equals the same
# result `rounded()` in process, so both pipeline paths see identical numbers.
COORD_DIGITS, SCORE_DIGITS, POSITION_DIGITS = 1, 5, 4


@dataclass(frozen=True)
class Detection:
    """One text region in original-image pixels: a (K, 2) float32 polygon and its score.

    Handlers answer polygons clockwise from the top-left vertex (handlers/ops/vertex_order.py);
    this type only carries them."""

    polygon: np.ndarray
    score: float

    def to_json(self) -> list[float]:
        """The flat `boundary_result` row: vertices in order at 0.1 px, score last."""
        return self.flat() + [round(float(self.score), SCORE_DIGITS)]

    def rounded(self) -> "Detection":
        return Detection(np.round(np.asarray(self.polygon, np.float64), COORD_DIGITS).astype(np.float32),
                         round(float(self.score), SCORE_DIGITS))

    def flat(self) -> list[float]:
        """x1, y1, ..., xn, yn as plain floats (the response's `box`)."""
        return [round(float(v), COORD_DIGITS) for v in np.asarray(self.polygon).reshape(-1)]

    @classmethod
    def from_json(cls, row: Sequence[float]) -> "Detection":
        if len(row) < 7 or len(row) % 2 == 0:
            raise ValueError(f"a boundary_result row is x1, y1, ..., xn, yn, score (n >= 3), got {len(row)} numbers")
        return cls(np.asarray(row[:-1], np.float32).reshape(-1, 2), float(row[-1]))

    @classmethod
    def whole_image(cls, width: int, height: int) -> "Detection":
        """The region a pipeline without a detector reads: the whole image."""
        return cls(np.array([[0, 0], [width, 0], [width, height], [0, height]], np.float32), 1.0)


def detections_json(detections: Sequence[Detection]) -> dict[str, Any]:
    return {"boundary_result": [d.to_json() for d in detections]}


def detections_from_json(body: dict[str, Any]) -> list[Detection]:
    return [Detection.from_json(row) for row in body["boundary_result"]]


@dataclass(frozen=True)
class Recognition:
    """Text read from one crop; with positions, where each character sits along the crop."""

    text: str
    score: float
    chars: list[tuple[str, float, float, float]] = field(default_factory=list)  # (char, x0, x1, prob), x in [0, 1]
    frame: float = 0.0  # one CTC frame as a fraction of the crop width (0: no alignment)

    def to_json(self, positions: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {"text": self.text, "score": round(float(self.score), SCORE_DIGITS)}
        if positions:
            out["chars"] = [[c, *(round(float(v), POSITION_DIGITS) for v in (x0, x1, p))] for c, x0, x1, p in self.chars]
            out["frame"] = round(float(self.frame), SCORE_DIGITS)
        return out

    def rounded(self) -> "Recognition":
        chars = [(c, *(round(float(v), POSITION_DIGITS) for v in (x0, x1, p))) for c, x0, x1, p in self.chars]
        return Recognition(self.text, round(float(self.score), SCORE_DIGITS), chars,
                           round(float(self.frame), SCORE_DIGITS))

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> "Recognition":
        chars = [(str(c), float(x0), float(x1), float(p)) for c, x0, x1, p in raw.get("chars") or []]
        return cls(str(raw["text"]), float(raw["score"]), chars, float(raw.get("frame", 0.0)))


@dataclass(frozen=True)
class Orientation:
    """A crop's predicted label and probability, and whether to turn it 180 degrees."""

    label: str
    score: float
    rotate: bool

    def to_json(self) -> dict[str, Any]:
        return {"label": self.label, "score": round(float(self.score), SCORE_DIGITS), "rotate": bool(self.rotate)}

    def rounded(self) -> "Orientation":
        return Orientation(self.label, round(float(self.score), SCORE_DIGITS), bool(self.rotate))

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> "Orientation":
        return cls(str(raw["label"]), float(raw["score"]), bool(raw["rotate"]))


@dataclass(frozen=True)
class KIELabel:
    """The class SDMG-R gave one box."""

    label: str
    label_id: int
    score: float


@dataclass(frozen=True)
class KIEPair:
    """A key -> value link between two boxes (indices into the request's instances)."""

    key: int
    value: int
    score: float


@dataclass(frozen=True)
class KIEResult:
    """One document's labels (one per instance, in order) and key -> value pairs."""

    labels: list[KIELabel]
    pairs: list[KIEPair]

    def to_json(self) -> dict[str, Any]:
        return {"instances": [{"label": x.label, "label_id": x.label_id,
                               "label_score": round(float(x.score), SCORE_DIGITS)} for x in self.labels],
                "pairs": [{"from": p.key, "to": p.value, "score": round(float(p.score), SCORE_DIGITS)}
                          for p in self.pairs]}

    def rounded(self) -> "KIEResult":
        return KIEResult([KIELabel(x.label, x.label_id, round(float(x.score), SCORE_DIGITS)) for x in self.labels],
                         [KIEPair(p.key, p.value, round(float(p.score), SCORE_DIGITS)) for p in self.pairs])

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> "KIEResult":
        labels = [KIELabel(str(x["label"]), int(x["label_id"]), float(x["label_score"])) for x in raw["instances"]]
        pairs = [KIEPair(int(p["from"]), int(p["to"]), float(p["score"])) for p in raw["pairs"]]
        return cls(labels, pairs)


@dataclass(frozen=True)
class Entity:
    """An entity in a text: ``text[start:end]`` (end exclusive), its type and mean tag probability."""

    type: str
    start: int
    end: int
    text: str
    score: float

    def to_json(self) -> dict[str, Any]:
        return {"type": self.type, "start": self.start, "end": self.end, "text": self.text,
                "score": round(float(self.score), SCORE_DIGITS)}

    def rounded(self) -> "Entity":
        return Entity(self.type, self.start, self.end, self.text, round(float(self.score), SCORE_DIGITS))

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> "Entity":
        return cls(str(raw["type"]), int(raw["start"]), int(raw["end"]), str(raw["text"]), float(raw["score"]))


def entities_json(per_text: Sequence[Sequence[Entity]]) -> dict[str, Any]:
    return {"entities": [[e.to_json() for e in found] for found in per_text]}


def entities_from_json(body: dict[str, Any]) -> list[list[Entity]]:
    return [[Entity.from_json(e) for e in found] for found in body["entities"]]
