"""The client's errors: one class per HTTP status family, each carrying the server's message."""
from __future__ import annotations


class OcrServeClientError(Exception):
    """Base of every error the client raises."""


class ConnectionFailed(OcrServeClientError):
    """The gateway could not be reached (refused, DNS, timeout before an answer)."""


class ApiError(OcrServeClientError):
    """The gateway answered with an error status; `message` is the server's own words."""

    def __init__(self, status: int, error: str, message: str):
        super().__init__(f"{status} {error}: {message}")
        self.status = status
        self.error = error
        self.message = message


class RequestRejected(ApiError):
    """4xx: the request is wrong (bad image, unknown model, bad options, too large, auth)."""


class ServerError(ApiError):
    """5xx: the service failed (model unavailable after the retries, upstream timeout or error)."""


def error_for(status: int, body: object, fallback: str) -> ApiError:
    """The family's error for a status and the gateway's JSON error body ({error, status, message})."""
    error, message = "HTTPError", fallback
    if isinstance(body, dict):
        error = str(body.get("error", error))
        message = str(body.get("message") or body.get("detail") or fallback)
    family = RequestRejected if status < 500 else ServerError
    return family(status, error, message)
