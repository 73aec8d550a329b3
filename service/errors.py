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


class JobNotFound(OcrServeError):
    status = 404


class JobNotReady(OcrServeError):
    """The job's result was asked for before the job finished."""

    status = 409


class JobStorageFull(OcrServeError):
    """Too many waiting jobs, or the job storage bound is reached: retry later."""

    status = 503


class JobsUnavailable(OcrServeError):
    """The job storage could not be opened or reached (unwritable folder, Redis down)."""

    status = 503


class JobFailed(OcrServeError):
    """A failed job's own error (type, status, message), given back when its result is asked for."""

    def __init__(self, error: dict):
        super().__init__(str(error.get("message", "the job failed")), int(error.get("status", 500)))
        self.name = str(error.get("error", "JobFailed"))

    def to_json(self) -> dict:
        return {"error": self.name, "status": self.status, "message": self.message}


class BadDocument(BadImage):
    """A PDF or multi-page file that is corrupt, truncated or not what its content type says."""


class EncryptedDocument(OcrServeError):
    """A password-protected PDF: readable only with its password, which /ocr does not take."""

    status = 422


class BadRequest(OcrServeError):
    """The body parses but holds values the service refuses (the worker's own 400s, checked early)."""

    status = 400
