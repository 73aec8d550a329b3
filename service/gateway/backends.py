"""Where the pipeline's models run: the Backend protocol and TorchServe over HTTP. Backends answer
the typed results of handlers/api/results.py; the in-process one is service/tooling/local_backend.py."""
from __future__ import annotations

import asyncio
import base64
from typing import Protocol, Sequence

import numpy as np

from handlers.api.results import (Detection, Entity, KIEResult, Orientation, Recognition, detections_from_json,
                                  entities_from_json)
from handlers.ops.image_io import encode_png
from service.gateway.torchserve_client import TorchServeClient


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
