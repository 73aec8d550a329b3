"""Errors a handler reports for one request row, with the HTTP status the client sees."""
from __future__ import annotations

from handlers.ops.image_io import ImageDecodeError, ImageTooLargeError


class RequestError(Exception):
    """A row-level failure: the row gets `status` and a JSON message, its neighbours carry on."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message

    def to_json(self) -> dict:
        return {"code": self.status, "type": type(self).__name__, "message": self.message}


def as_request_error(exc: Exception) -> RequestError:
    """Map a known exception to its row error; anything else is an internal error."""
    if isinstance(exc, RequestError):
        return exc
    if isinstance(exc, ImageTooLargeError):
        return RequestError(413, str(exc))
    if isinstance(exc, ImageDecodeError):
        return RequestError(400, str(exc))
    return RequestError(500, f"internal error: {type(exc).__name__}: {exc}")
