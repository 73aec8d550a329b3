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


class Page(BaseModel):
    page: int
    width: int
    height: int
    result: list[Instance]
    pairs: list[Pair] | None = Field(None, description="KIE key -> value links (with ?kie=<model>)")
    rotation: int = Field(0, description="degrees clockwise the page was turned upright before reading "
                          "(0, 90, 180, 270); every box is in the pixels of the turned page")
    text_source: str = Field("ocr", description="ocr, or text_layer: the PDF's own text (text_layer=use|auto)")


class DocumentInfo(BaseModel):
    type: str = Field(description="pdf, tiff or image")
    page_count: int = Field(description="pages in the upload (pages[] holds the ones selected)")
    dpi: float | None = Field(None, description="rendering resolution of PDF pages")


class OcrResponse(BaseModel):
    pages: list[Page]
    models: dict[str, str]
    timings_ms: dict[str, float]
    document: DocumentInfo | None = None


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
