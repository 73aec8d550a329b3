"""Response models of the gateway: the documented, stable shapes of every JSON answer."""
from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class Word(BaseModel):
    box: list[float] = Field(description="x1, y1, ..., x4, y4 in original-image pixels, clockwise from top-left")
    text: str
    text_score: float = Field(description="mean of the word's character probabilities")


class Instance(BaseModel):
    box: list[float] = Field(description="polygon x1, y1, ..., xn, yn in original-image pixels, clockwise")
    box_score: float
    text: str | None = None
    text_score: float | None = Field(None, description="mean of the line's character probabilities")
    words: list[Word] | None = None
    label: str | None = Field(None, description="KIE class of the line (with ?kie=<model>)")
    label_score: float | None = Field(None, description="probability of that class")


class Pair(BaseModel):
    """A key box linked to a value box of the same field (indices into the page's instances)."""

    model_config = ConfigDict(populate_by_name=True)

    from_: int = Field(alias="from", description="index of the key instance")
    to: int = Field(description="index of the value instance")
    score: float = Field(description="probability that the key -> value edge is a link")


class LayoutLine(BaseModel):
    index: int = Field(description="position of this line in the page's `result`")
    box: list[float]
    box_score: float
    text: str | None = None
    text_score: float | None = None
    words: list[Word] | None = None


class Paragraph(BaseModel):
    kind: str = Field(description="'heading' or 'paragraph'")
    box: list[float] = Field(description="rectangle x1, y1, ..., x4, y4 around its lines, clockwise")
    text_score: float | None = Field(None, description="text score of its lines, weighted by characters")
    lines: list[LayoutLine]


class Block(BaseModel):
    kind: str = Field(description="'text' (a column or single-column run) or 'table' (read row by row)")
    box: list[float] = Field(description="rectangle x1, y1, ..., x4, y4 around its lines, clockwise")
    text_score: float | None = None
    paragraphs: list[Paragraph]


class Page(BaseModel):
    page: int
    width: int
    height: int
    result: list[Instance] = Field(description="lines in reading order")
    blocks: list[Block] | None = Field(None, description="layout: blocks -> paragraphs -> lines -> words")
    text: str | None = Field(None, description="page text in reading order; blank line between paragraphs")
    pairs: list[Pair] | None = Field(None, description="KIE key -> value links (with ?kie=<model>)")


class OcrResponse(BaseModel):
    pages: list[Page]
    models: dict[str, str]
    timings_ms: dict[str, float]


class KieInstance(BaseModel):
    box: list[float] = Field(description="the box as sent: [x1, y1, x2, y2] or a polygon")
    text: str
    label: str = Field(description="class name from the model's class list")
    label_id: int
    label_score: float = Field(description="probability of that class")


class KieResponse(BaseModel):
    model: str
    instances: list[KieInstance]
    pairs: list[Pair]
    timings_ms: dict[str, float]


class ErrorResponse(BaseModel):
    error: str
    status: int
    message: str


class WorkerInfo(BaseModel):
    id: str | None = None
    status: str
    gpu: bool | None = None


class ModelStatus(BaseModel):
    name: str
    task: str | None = None
    loaded: bool
    status: str = Field(description="READY when every worker is ready, else the worst worker state")
    workers: list[WorkerInfo] = []


class ModelList(BaseModel):
    models: list[ModelStatus]
