"""Response models of the gateway: the documented, stable shapes of every JSON answer."""
from __future__ import annotations

from pydantic import BaseModel, Field


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


class Page(BaseModel):
    page: int
    width: int
    height: int
    result: list[Instance]


class OcrResponse(BaseModel):
    pages: list[Page]
    models: dict[str, str]
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
