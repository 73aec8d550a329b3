"""The one error hierarchy of ocrserve, raised by the workers and the gateway alike.

Every error has a stable `type` (its class name) and an HTTP `status`. On the wire, whether a
TorchServe worker or the gateway answers, an error is `{"error": type, "status": status,
"message": message}`; `from_json` turns such a body back into the same class, so a worker's
specific error survives the hop through the gateway's TorchServe client.
"""
from __future__ import annotations

from typing import Any


class OcrServeError(Exception):
    """Base: a message meant for the API user and the status it travels with."""

    status = 500

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.message = message
        if status is not None:
            self.status = status

    @property
    def type(self) -> str:
        """The stable name clients match on: the nearest class of this module (a subclass made
        elsewhere, such as the image decoder's ImageDecodeError, travels as its public parent)."""
        return next(c.__name__ for c in type(self).__mro__ if c.__module__ == __name__)

    def to_json(self) -> dict:
        return {"error": self.type, "status": self.status, "message": self.message}


class InternalError(OcrServeError):
    """A bug or an unexpected failure inside the service; the message names the exception."""


class BadRequest(OcrServeError):
    """The body parses but holds values the service refuses."""

    status = 400


class BadImage(OcrServeError):
    """Not an image, corrupt, an unsupported format, or base64 that does not decode."""

    status = 400


class BadDocument(BadImage):
    """A PDF or multi-page file that is corrupt, truncated or not what its content type says."""


class Unauthorized(OcrServeError):
    status = 401


class ManagementDisabled(OcrServeError):
    status = 403


class ModelNotFound(OcrServeError):
    status = 404


class JobNotFound(OcrServeError):
    status = 404


class JobNotReady(OcrServeError):
    """The job's result was asked for before the job finished."""

    status = 409


class PayloadTooLarge(OcrServeError):
    """Too many bytes, pixels, images, texts or instances in one request."""

    status = 413


class UnsupportedMediaType(OcrServeError):
    status = 415


class BadOptions(OcrServeError):
    """An option that is unknown, of the wrong type or out of its bounds."""

    status = 422


class EncryptedDocument(OcrServeError):
    """A password-protected PDF: readable only with its password, which /ocr does not take."""

    status = 422


class UpstreamError(OcrServeError):
    """TorchServe answered with something the gateway cannot use."""

    status = 502


class ModelUnavailable(OcrServeError):
    """TorchServe is down, the model is not loaded, or it has no worker."""

    status = 503


class Overloaded(OcrServeError):
    """The gateway is at capacity (admission control); retry after the Retry-After header."""

    status = 503


class JobStorageFull(OcrServeError):
    """Too many waiting jobs, or the job storage bound is reached: retry later."""

    status = 503


class JobsUnavailable(OcrServeError):
    """The job storage could not be opened or reached (unwritable folder, Redis down)."""

    status = 503


class UpstreamTimeout(OcrServeError):
    status = 504


class JobFailed(OcrServeError):
    """A failed job's own error (type, status, message), given back when its result is asked for."""

    def __init__(self, error: dict):
        super().__init__(str(error.get("message", "the job failed")), int(error.get("status", 500)))
        self.name = str(error.get("error", "JobFailed"))

    @property
    def type(self) -> str:
        return self.name


def _subclasses(cls: type) -> list[type]:
    return [cls, *(sub for child in cls.__subclasses__() for sub in _subclasses(child))]


#: type -> class, for every error a body can name (JobFailed carries another error's type).
ERRORS: dict[str, type[OcrServeError]] = {c.__name__: c for c in _subclasses(OcrServeError) if c is not JobFailed}


def from_json(body: Any, status: int) -> OcrServeError | None:
    """The error an `{"error", "status", "message"}` body names, with that body's status and
    message; None when the body is not one of ours (TorchServe's own errors, say)."""
    if not isinstance(body, dict) or not isinstance(body.get("message"), str):
        return None
    cls = ERRORS.get(str(body.get("error")))
    if cls is None:
        return None
    return cls(body["message"], status=int(body.get("status") or status))


def as_error(exc: BaseException) -> OcrServeError:
    """Ours as it is; anything else becomes an InternalError naming the exception."""
    if isinstance(exc, OcrServeError):
        return exc
    return InternalError(f"internal error: {type(exc).__name__}: {exc}")
