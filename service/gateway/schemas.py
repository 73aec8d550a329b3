"""Response models of the gateway: the documented, stable shapes of every JSON answer."""
from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class Word(BaseModel):
    box: list[float] = Field(description="x1, y1, ..., x4, y4 in original-image pixels, clockwise from top-left")
    text: str
    text_score: float = Field(description="mean of the word's character probabilities")


class Entity(BaseModel):
    """A named entity: ``text[start:end]`` of the text it was found in (end exclusive)."""

    type: str = Field(description="entity category, e.g. name, address, company")
    start: int = Field(description="first character (0-based)")
    end: int = Field(description="one past the last character")
    text: str
    score: float = Field(description="mean probability of the entity's tags")


class PageEntity(Entity):
    line: int = Field(description="index of the line in the page's result")


class Segment(BaseModel):
    """A run of a line's words that KIE labelled as one unit (with ?kie=<model>&kie_unit=segment|word)."""

    box: list[float] = Field(description="x1, y1, ..., x4, y4 around its words, clockwise from top-left")
    text: str = Field(description="its words joined by single spaces")
    word_start: int = Field(description="index of its first word in the line's `words`")
    word_end: int = Field(description="one past its last word")
    label: str = Field(description="KIE class of the segment")
    label_id: int
    label_score: float
    value: str | None = Field(None, description="the date, time or amount in its text, for those classes; a store "
                              "name without its company registration number (service/gateway/kie_values.py)")


class Instance(BaseModel):
    box: list[float] = Field(description="polygon x1, y1, ..., xn, yn in original-image pixels, clockwise")
    box_score: float
    text: str | None = None
    text_score: float | None = Field(None, description="mean of the line's character probabilities")
    words: list[Word] | None = None
    label: str | None = Field(None, description="KIE class of the line (with ?kie=<model>, kie_unit=line)")
    label_id: int | None = Field(None, description="index of that class in the model's class list")
    label_score: float | None = Field(None, description="probability of that class")
    value: str | None = Field(None, description="the date / time / amount in the text of a line labelled "
                              "Date_value, Time_value or a money class (Total_value, ...), when it holds one; "
                              "for Store_name_value the name without a registration number printed after it")
    entities: list[Entity] | None = Field(None, description="named entities in the line (with ?ner=<model>)")
    segments: list[Segment] | None = Field(None, description="the line's KIE units and their labels (with "
                                           "?kie=<model>&kie_unit=segment|word; the line itself then has no label)")


class Pair(BaseModel):
    """A key box linked to a value box of the same field (indices into the page's instances)."""

    model_config = ConfigDict(populate_by_name=True)

    from_: int = Field(alias="from", description="index of the key instance")
    to: int = Field(description="index of the value instance")
    score: float = Field(description="probability that the key -> value edge is a link")


class PagePair(Pair):
    """A pair of /ocr?kie=: `from` / `to` index the page's lines; with kie_unit=segment|word the
    segments inside them too."""

    from_segment: int | None = Field(None, description="the key's index in that line's `segments`")
    to_segment: int | None = Field(None, description="the value's index in that line's `segments`")


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
    pairs: list[PagePair] | None = Field(None, description="KIE key -> value links (with ?kie=<model>)")
    entities: list[PageEntity] | None = Field(None, description="every line's entities, with their line index "
                                                           "(with ?ner=<model>)")
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


class NerResult(BaseModel):
    text: str
    entities: list[Entity]


class NerResponse(BaseModel):
    model: str
    results: list[NerResult]
    timings_ms: dict[str, float]


class ErrorResponse(BaseModel):
    error: str
    status: int
    message: str


class Readiness(BaseModel):
    """GET /readyz, with 200 (ready) and 503 (not ready) alike."""

    ready: bool
    models: dict[str, str] = Field(description="each expected model's status: READY, or why it is not")


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


class JobStatus(BaseModel):
    id: str = Field(description="unguessable job id: whoever holds it can read and delete the job")
    state: str = Field(description="queued | running | done | failed")
    pages_done: int
    pages_total: int | None = Field(None, description="known once the job has started")
    created: float = Field(description="Unix time the job was accepted")
    finished: float | None = None
    error: ErrorResponse | None = Field(None, description="why a failed job failed (its /ocr error)")
    result: str = Field(description="where the result is, once state is done")


class JobList(BaseModel):
    jobs: list[JobStatus]


class Catalog(BaseModel):
    """Public: what the service can run now (GET /catalog)."""

    tasks: dict[str, list[str]] = Field(description="loaded model names per task (det, rec, cls, kie)")
    defaults: dict[str, str] = Field(description="the model each task uses when none is named")
