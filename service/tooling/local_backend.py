"""The pipeline's models in this process (`ocrserve eval --local`, `ocrserve ocr --local`, the
parity tests, the GPU check): the zoo's weights, verified, loaded into the handler objects that
TorchServe runs (handlers/inprocess.py); the same typed results as TorchServeBackend.

Tooling, not gateway: it imports the workers' code (torch) when a model is first used.
"""
from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from handlers.api.results import Detection, Entity, KIEResult, Orientation, Recognition
from handlers.api.spec import ModelSpec
from handlers.api.errors import as_error
from handlers.ops.image_io import decode_image
from service.gateway.errors import ModelNotFound
from service.tooling.packaging.weights import DEFAULT_CACHE, verified_file, weight_path
from service.gateway.zoo import Zoo


class LocalBackend:
    """Runs the zoo's models in this process through the handler objects TorchServe runs."""

    def __init__(self, zoo: Zoo, cache: Path = DEFAULT_CACHE, threads: int = 1, device: str = "cpu"):
        self.zoo = zoo
        self.cache = cache
        self.threads = threads
        self.device = device  # scripts/gpu_check.py runs the pipeline on cuda:0
        self._handlers: dict[str, Any] = {}

    def handler(self, name: str) -> Any:
        """The loaded handler of a zoo model (loaded on first use)."""
        if name not in self._handlers:
            try:
                entry = self.zoo.get(name)
            except KeyError as exc:
                raise ModelNotFound(str(exc.args[0])) from None
            files = {k: verified_file(entry, f, self.cache) for k, f in entry.files.items()}
            spec = ModelSpec(name, entry.task, entry.family, entry.runtime, weight_path(entry, self.cache),
                             entry.config, files)
            from handlers.inprocess import load_handler  # torch: only where models run in this process

            self._handlers[name] = load_handler(spec, self.device, self.threads)
        return self._handlers[name]

    async def detect(self, model: str, data: bytes, image: np.ndarray, options: dict) -> list[Detection]:
        return await _run(self.handler(model).detect, image, options)

    async def recognize(self, model: str, crops: Sequence[np.ndarray], lang: str | None = None) -> list[Recognition]:
        return await _run(self.handler(model).recognize, [(list(crops), lang)])

    async def classify(self, model: str, crops: Sequence[np.ndarray]) -> list[Orientation]:
        return await _run(self.handler(model).classify, list(crops))

    async def kie(self, model: str, data: bytes | None, image: np.ndarray | None, body: dict) -> KIEResult:
        handler = self.handler(model)

        def run() -> KIEResult:
            decoded = image if image is not None or data is None else decode_image(data, handler.max_pixels)
            return handler.label([handler.document(decoded, body)])[0]

        return await _run(run)

    async def ner(self, model: str, texts: Sequence[str]) -> list[list[Entity]]:
        return await _run(self.handler(model).tag, list(texts))


async def _run(fn: Any, *args: Any) -> Any:
    """Run handler code off the event loop; a handler's error is already the gateway's (one
    hierarchy, handlers/api/errors.py), anything else becomes an InternalError."""
    def guarded() -> Any:
        try:
            return fn(*args)
        except Exception as exc:  # noqa: BLE001
            error = as_error(exc)
            if error is exc:
                raise
            raise error from exc

    return await asyncio.to_thread(guarded)
