"""ocrserve's Python client: `OcrClient` / `AsyncOcrClient` for the gateway's HTTP API, and
`MMOCR(...).readtext(...)`, MMOCR 0.x's call backed by the service. Imports only httpx and pydantic
(plus Pillow for images given as arrays), never torch, onnxruntime or TorchServe."""
from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from ocrserve.client import AsyncOcrClient, OcrClient, Retry
from ocrserve.errors import ApiError, ConnectionFailed, OcrServeClientError, RequestRejected, ServerError

try:
    __version__ = version("ocrserve")
except PackageNotFoundError:  # a checkout that was never pip-installed
    __version__ = "0+unknown"


def __getattr__(name: str):
    if name == "MMOCR":  # lazily: it is the only part that needs Pillow at import time
        from ocrserve.mmocr_compat import MMOCR

        return MMOCR
    raise AttributeError(name)


__all__ = ["OcrClient", "AsyncOcrClient", "Retry", "MMOCR", "OcrServeClientError", "ConnectionFailed",
           "ApiError", "RequestRejected", "ServerError", "__version__"]
