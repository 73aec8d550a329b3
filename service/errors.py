"""The gateway's error hierarchy; each error knows its HTTP status (mapped in one place, main.py)."""
from __future__ import annotations


class OcrServeError(Exception):
    """Base: a message meant for the API user and the status it travels with."""

    status = 500

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.message = message
        if status is not None:
            self.status = status

    def to_json(self) -> dict:
        return {"error": type(self).__name__, "status": self.status, "message": self.message}


class BadImage(OcrServeError):
    status = 400


class PayloadTooLarge(OcrServeError):
    status = 413


class UnsupportedMediaType(OcrServeError):
    status = 415


class BadOptions(OcrServeError):
    status = 422


class ModelNotFound(OcrServeError):
    status = 404


class Unauthorized(OcrServeError):
    status = 401


class ManagementDisabled(OcrServeError):
    status = 403


class ModelUnavailable(OcrServeError):
    """TorchServe is down, the model is not loaded, or it has no worker."""

    status = 503


class UpstreamTimeout(OcrServeError):
    status = 504


class UpstreamError(OcrServeError):
    """TorchServe answered with something the gateway cannot use."""

    status = 502


class BadRequest(OcrServeError):
    """The body parses but holds values the service refuses (the worker's own 400s, checked early)."""

    status = 400
