"""Where models run for the pipeline: TorchServe over HTTP, or in this process (same handler code)."""
from __future__ import annotations

import asyncio
import base64
from pathlib import Path
from typing import Any, Protocol, Sequence

import numpy as np

from handlers.base import OcrHandler
from handlers.classification import orientation_result
from handlers.detection import boundary_result, options_parser
from handlers.api.errors import as_error
from handlers.families import ModelSpec
from handlers.kie import document
from handlers.ops.image_io import decode_image, encode_png
from handlers.recognition import read_with_lang, recognition_result
from handlers.runtime import Device
from handlers.ts_entry import HANDLERS
from service.errors import BadOptions, ModelNotFound, OcrServeError
from service.torchserve_client import TorchServeClient
from service.weights import DEFAULT_CACHE, verified_file, weight_path
from service.zoo import Zoo


class Backend(Protocol):
    """The calls the pipeline makes; every implementation returns the handlers' JSON shapes."""

    async def detect(self, model: str, data: bytes, image: np.ndarray, options: dict) -> list[list[float]]: ...

    async def recognize(self, model: str, crops: Sequence[np.ndarray], lang: str | None = None) -> list[dict]: ...

    async def classify(self, model: str, crops: Sequence[np.ndarray]) -> list[dict]: ...

    async def kie(self, model: str, data: bytes | None, image: np.ndarray | None, body: dict) -> dict:
        """Label boxes: `body` holds `instances` (and optionally `width`/`height`); the image is
        `data` (encoded) and/or `image` (decoded), or neither for a no-visual model."""
        ...

    async def ner(self, model: str, texts: Sequence[str]) -> list[list[dict]]:
        """Entities ({type, start, end, text, score}) of every text, in order."""
        ...


def _chunks(items: Sequence, size: int) -> list[Sequence]:
    return [items[i:i + size] for i in range(0, len(items), size)]


class TorchServeBackend:
    """Calls TorchServe; crop batches are sent as JSON lists of base64 PNGs, chunks concurrently."""

    def __init__(self, client: TorchServeClient, chunk_size: int = 32):
        self.client = client
        self.chunk_size = chunk_size

    async def detect(self, model: str, data: bytes, image: np.ndarray, options: dict) -> list[list[float]]:
        body = await self.client.predict(model, content=data, fields=options)
        return body["boundary_result"]

    async def _crops_call(self, model: str, crops: Sequence[np.ndarray], options: dict) -> list[dict]:
        async def one(chunk: Sequence[np.ndarray]) -> list[dict]:
            images = await asyncio.to_thread(lambda: [base64.b64encode(encode_png(c)).decode() for c in chunk])
            return await self.client.predict(model, json_body={"images": images, "options": options})

        if not crops:
            return []
        parts = await asyncio.gather(*(one(chunk) for chunk in _chunks(crops, self.chunk_size)))
        return [row for part in parts for row in part]

    async def recognize(self, model: str, crops: Sequence[np.ndarray], lang: str | None = None) -> list[dict]:
        return await self._crops_call(model, crops, {"positions": True, **({"lang": lang} if lang else {})})

    async def classify(self, model: str, crops: Sequence[np.ndarray]) -> list[dict]:
        return await self._crops_call(model, crops, {})

    async def kie(self, model: str, data: bytes | None, image: np.ndarray | None, body: dict) -> dict:
        if data is not None:
            encoded = await asyncio.to_thread(lambda: base64.b64encode(data).decode())
            body = {**body, "image": encoded}
        return await self.client.predict(model, json_body=body)

    async def ner(self, model: str, texts: Sequence[str]) -> list[list[dict]]:
        return (await self.client.predict(model, json_body={"texts": list(texts)}))["entities"]


class LocalBackend:
    """Runs the zoo's models in this process with the same families the handlers use."""

    def __init__(self, zoo: Zoo, cache: Path = DEFAULT_CACHE, threads: int = 1, device: str = "cpu"):
        self.zoo = zoo
        self.cache = cache
        self.threads = threads
        self.device = Device.parse(device)  # scripts/gpu_check.py runs the pipeline on cuda:0
        self._handlers: dict[str, OcrHandler] = {}

    def handler(self, name: str) -> OcrHandler:
        """The loaded handler of a zoo model (loaded on first use)."""
        if name not in self._handlers:
            try:
                entry = self.zoo.get(name)
            except KeyError as exc:
                raise ModelNotFound(str(exc.args[0])) from None
            files = {k: verified_file(entry, f, self.cache) for k, f in entry.files.items()}
            spec = ModelSpec(name, entry.task, entry.family, entry.runtime, weight_path(entry, self.cache),
                             entry.config, files)
            handler = HANDLERS[entry.task]()
            handler.load(spec, self.device, threads=self.threads)
            self._handlers[name] = handler
        return self._handlers[name]

    async def detect(self, model: str, data: bytes, image: np.ndarray, options: dict) -> list[list[float]]:
        handler = self.handler(model)
        try:
            parsed = options_parser(handler.model)(options)
        except BadOptions:
            raise
        except ValueError as exc:
            raise BadOptions(str(exc)) from None
        detections = await asyncio.to_thread(_guarded, handler.model, image, parsed)
        return boundary_result(detections)["boundary_result"]

    async def recognize(self, model: str, crops: Sequence[np.ndarray], lang: str | None = None) -> list[dict]:
        rec = self.handler(model).model
        if not crops:
            reads = []
        elif lang:
            reads = await asyncio.to_thread(_guarded, read_with_lang, rec, [(list(crops), lang)])
        else:
            reads = await asyncio.to_thread(_guarded, rec, list(crops))
        return [recognition_result(r, positions=True) for r in reads]

    async def classify(self, model: str, crops: Sequence[np.ndarray]) -> list[dict]:
        preds = await asyncio.to_thread(_guarded, self.handler(model).model, list(crops)) if crops else []
        return [orientation_result(p) for p in preds]

    async def kie(self, model: str, data: bytes | None, image: np.ndarray | None, body: dict) -> dict:
        handler = self.handler(model)

        def run() -> dict:
            decoded = image if image is not None or data is None else decode_image(data, handler.max_pixels)
            cfg = handler.model.cfg
            return handler.infer([document(decoded, body, cfg.max_instances, cfg.visual)])[0]

        return await asyncio.to_thread(_guarded, run)

    async def ner(self, model: str, texts: Sequence[str]) -> list[list[dict]]:
        handler = self.handler(model)

        def run() -> list[list[dict]]:
            result = handler.run_rows([{"body": {"texts": list(texts)}}])[0]
            if isinstance(result, OcrServeError):
                raise result
            return result["entities"]

        return await asyncio.to_thread(_guarded, run)


def _guarded(fn: Any, *args: Any) -> Any:
    """Run model code; a handler's error is already the gateway's (one hierarchy), anything
    else becomes an InternalError."""
    try:
        return fn(*args)
    except Exception as exc:  # noqa: BLE001
        error = as_error(exc)
        if error is exc:
            raise
        raise error from exc
