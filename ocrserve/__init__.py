"""ocrserve's Python client: `OcrClient` / `AsyncOcrClient` for the gateway's HTTP API, and
`MMOCR(...).readtext(...)`, MMOCR 0.x's call backed by the service. Imports only httpx and pydantic
(plus Pillow for images given as arrays), never torch, onnxruntime or TorchServe."""
from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from ocrserve.client import AsyncOcrClient, OcrClient, Retry
from ocrserve.errors import ApiError, ConnectionFailed, OcrServeClientError, RequestRejected, ServerError
from ocrserve.mmocr_compat import MMOCR

try:
    __version__ = version("ocrserve")
except PackageNotFoundError:  # a checkout that was never pip-installed
    __version__ = "0+unknown"


__all__ = ["OcrClient", "AsyncOcrClient", "Retry", "MMOCR", "OcrServeClientError", "ConnectionFailed",
           "ApiError", "RequestRejected", "ServerError", "__version__"]
