"""Job records, inputs, per-page results and final results, kept in huey's key-value storage.

Everything a job needs lives in the same storage as its queue, so a job accepted by one gateway
can be finished by another one sharing the same Redis, and a restarted gateway finds its jobs
again in the SQLite file. Records and blobs are kept under separate huey names: listing the jobs
reads the small records only.
"""
from __future__ import annotations

import secrets
import threading
import time
from dataclasses import asdict, dataclass, field
from typing import Any

from huey import Huey

STATES = ("queued", "running", "done", "failed")


@dataclass
class JobRecord:
    """What is known of one job; `input_bytes + result_bytes` count against the storage bound."""

    id: str
    content_type: str
    options: dict[str, Any]
    input_bytes: int
    created: float = field(default_factory=time.time)
    state: str = "queued"
    updated: float = field(default_factory=time.time)
    heartbeat: float = 0.0
    pages_done: int = 0
    pages_total: int | None = None
    result_bytes: int = 0
    error: dict[str, Any] | None = None
    finished: float | None = None

    def touch(self, **changes: Any) -> "JobRecord":
        for key, value in changes.items():
            setattr(self, key, value)
        self.updated = time.time()
        return self


class JobStore:
    """Records (`meta`) and blobs (`blobs`): two huey instances over the same storage backend."""

    def __init__(self, meta: Huey, blobs: Huey):
        self.meta = meta
        self.blobs = blobs
        self._lock = threading.Lock()  # read-modify-write of records within this gateway

    @staticmethod
    def new_id() -> str:
        # 192 random bits: a job is reachable only by whoever holds its id.
        return secrets.token_urlsafe(24)

    def create(self, data: bytes, content_type: str, options: dict[str, Any], pages: int | None = None) -> JobRecord:
        record = JobRecord(id=self.new_id(), content_type=content_type, options=options,
                           input_bytes=len(data), pages_total=pages)
        self.blobs.put(f"input:{record.id}", data)
        self.save(record)
        return record

    def save(self, record: JobRecord) -> None:
        self.meta.put(f"job:{record.id}", asdict(record))

    def get(self, job_id: str) -> JobRecord | None:
        value = self.meta.get(f"job:{job_id}", peek=True)
        return JobRecord(**value) if value else None

    def update(self, job_id: str, **changes: Any) -> JobRecord | None:
        """Change some fields of a record; None when the job was deleted meanwhile."""
        with self._lock:
            record = self.get(job_id)
            if record is not None:
                self.save(record.touch(**changes))
            return record

    def all(self) -> list[JobRecord]:
        items = self.meta.storage.result_items()
        records = [self.meta.serializer.deserialize(v) if isinstance(v, bytes) else v for v in items.values()]
        return [JobRecord(**r) for r in records if isinstance(r, dict) and "id" in r]

    def input(self, job_id: str) -> bytes | None:
        return self.blobs.get(f"input:{job_id}", peek=True)

    def put_page(self, job_id: str, index: int, page: dict[str, Any]) -> None:
        self.blobs.put(f"page:{job_id}:{index}", page)

    def page(self, job_id: str, index: int) -> dict[str, Any] | None:
        return self.blobs.get(f"page:{job_id}:{index}", peek=True)

    def put_result(self, job_id: str, result: dict[str, Any]) -> None:
        self.blobs.put(f"result:{job_id}", result)

    def result(self, job_id: str) -> dict[str, Any] | None:
        return self.blobs.get(f"result:{job_id}", peek=True)

    def delete(self, record: JobRecord) -> None:
        """Remove the record and every blob of the job (input, pages, result)."""
        pages = record.pages_total or 0
        for key in [f"input:{record.id}", f"result:{record.id}",
                    *(f"page:{record.id}:{i}" for i in range(pages))]:
            self.blobs.delete(key)
        self.meta.delete(f"job:{record.id}")

    def stored_bytes(self, records: list[JobRecord] | None = None) -> int:
        return sum(r.input_bytes + r.result_bytes for r in (records if records is not None else self.all()))
