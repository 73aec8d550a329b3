"""TorchServe entry point of every ocrserve archive: picks the task handler named in the archive."""
from __future__ import annotations

import json
from pathlib import Path

from handlers.base import OcrHandler
from handlers.classification import ClassificationHandler
from handlers.detection import DetectionHandler
from handlers.api.spec import SPEC_FILE
from handlers.kie import KIEHandler
from handlers.ner import NERHandler
from handlers.recognition import RecognitionHandler

HANDLERS: dict[str, type[OcrHandler]] = {
    "det": DetectionHandler,
    "rec": RecognitionHandler,
    "cls": ClassificationHandler,
    "kie": KIEHandler,
    "ner": NERHandler,
}


class OcrServeEntry:
    """The one class TorchServe instantiates; delegates to the handler of the archive's task."""

    def __init__(self) -> None:
        self.handler: OcrHandler | None = None

    def initialize(self, context) -> None:
        model_dir = Path(context.system_properties["model_dir"])
        task = json.loads((model_dir / SPEC_FILE).read_text(encoding="utf-8"))["task"]
        if task not in HANDLERS:
            raise ValueError(f"no handler for task {task!r}; known: {', '.join(sorted(HANDLERS))}")
        self.handler = HANDLERS[task]()
        self.handler.initialize(context)

    def handle(self, data, context):
        return self.handler.handle(data, context)
