"""Where models run for the pipeline: TorchServe over HTTP, or in this process (the same handler
objects TorchServe runs). Both answer the typed results of handlers/api/results.py."""
from __future__ import annotations

import asyncio
import base64
from pathlib import Path
from typing import Any, Protocol, Sequence

import numpy as np

from handlers.api.results import (Detection, Entity, KIEResult, Orientation, Recognition, detections_from_json,
                                  entities_from_json)
from handlers.api.spec import ModelSpec
from handlers.errors import RequestError, as_request_error
from handlers.ops.image_io import decode_image, encode_png
from service.errors import BadOptions, ModelNotFound, OcrServeError
from service.torchserve_client import TorchServeClient
from service.weights import DEFAULT_CACHE, verified_file, weight_path
from service.zoo import Zoo


class Backend(Protocol):
    """The calls the pipeline makes."""

    async def detect(self, model: str, data: bytes, image: np.ndarray, options: dict) -> list[Detection]: ...

    async def recognize(self, model: str, crops: Sequence[np.ndarray], lang: str | None = None) -> list[Recognition]:
        """Reads with character positions (the pipeline splits words with them)."""
        ...

    async def classify(self, model: str, crops: Sequence[np.ndarray]) -> list[Orientation]: ...

    async def kie(self, model: str, data: bytes | None, image: np.ndarray | None, body: dict) -> KIEResult:
        """Label boxes: `body` holds `instances` (and optionally `width`/`height`); the image is
        `data` (encoded) and/or `image` (decoded), or neither for a no-visual model."""
        ...

    async def ner(self, model: str, texts: Sequence[str]) -> list[list[Entity]]:
        """Entities of every text, in order."""
        ...


def _chunks(items: Sequence, size: int) -> list[Sequence]:
    return [items[i:i + size] for i in range(0, len(items), size)]


class TorchServeBackend:
    """Calls TorchServe; crop batches are sent as JSON lists of base64 PNGs, chunks concurrently."""

    def __init__(self, client: TorchServeClient, chunk_size: int = 32):
        self.client = client
        self.chunk_size = chunk_size

    async def detect(self, model: str, data: bytes, image: np.ndarray, options: dict) -> list[Detection]:
        return detections_from_json(await self.client.predict(model, content=data, fields=options))

    async def _crops_call(self, model: str, crops: Sequence[np.ndarray], options: dict) -> list[dict]:
        async def one(chunk: Sequence[np.ndarray]) -> list[dict]:
            images = await asyncio.to_thread(lambda: [base64.b64encode(encode_png(c)).decode() for c in chunk])
            return await self.client.predict(model, json_body={"images": images, "options": options})

        if not crops:
            return []
        parts = await asyncio.gather(*(one(chunk) for chunk in _chunks(crops, self.chunk_size)))
        return [row for part in parts for row in part]

    async def recognize(self, model: str, crops: Sequence[np.ndarray], lang: str | None = None) -> list[Recognition]:
        rows = await self._crops_call(model, crops, {"positions": True, **({"lang": lang} if lang else {})})
        return [Recognition.from_json(row) for row in rows]

    async def classify(self, model: str, crops: Sequence[np.ndarray]) -> list[Orientation]:
        return [Orientation.from_json(row) for row in await self._crops_call(model, crops, {})]

    async def kie(self, model: str, data: bytes | None, image: np.ndarray | None, body: dict) -> KIEResult:
        if data is not None:
            encoded = await asyncio.to_thread(lambda: base64.b64encode(data).decode())
            body = {**body, "image": encoded}
        return KIEResult.from_json(await self.client.predict(model, json_body=body))

    async def ner(self, model: str, texts: Sequence[str]) -> list[list[Entity]]:
        return entities_from_json(await self.client.predict(model, json_body={"texts": list(texts)}))


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
        return await _run(self.handler(model).detect, image, options, options_error=True)

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


async def _run(fn: Any, *args: Any, options_error: bool = False) -> Any:
    """Run handler code off the event loop; its row errors become the gateway's errors (with
    `options_error`, a 422 is the caller's options: BadOptions)."""
    def guarded() -> Any:
        try:
            return fn(*args)
        except Exception as exc:  # noqa: BLE001
            error: RequestError = as_request_error(exc)
            if options_error and error.status == 422:
                raise BadOptions(error.message) from exc
            raise OcrServeError(error.message, status=error.status) from exc

    return await asyncio.to_thread(guarded)
