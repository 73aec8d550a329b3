"""The gateway's errors: the one hierarchy of handlers/api/errors.py (shared with the workers),
re-exported here; each maps to its HTTP status in one place, main.py."""
from __future__ import annotations

from handlers.api.errors import (BadDocument, BadImage, BadOptions, BadRequest, EncryptedDocument,  # noqa: F401
                                 InternalError, JobFailed, JobNotFound, JobNotReady, JobsUnavailable,
                                 JobStorageFull, ManagementDisabled, ModelNotFound, ModelUnavailable,
                                 OcrServeError, Overloaded, PayloadTooLarge, Unauthorized, UnsupportedMediaType,
                                 UpstreamError, UpstreamTimeout)
