"""What the /jobs routes call: submit within the storage bounds, look up, delete, list, and the
housekeeping that expires old jobs and re-enqueues the ones a stopped gateway left behind."""
from __future__ import annotations

import asyncio
import logging
import time
from typing import Any, Awaitable, Callable

from service.gateway.errors import JobNotFound, JobStorageFull, JobsUnavailable
from service.gateway.jobs.queue import JobQueue, Process, open_hueys
from service.gateway.jobs.store import JobRecord, JobStore
from service.gateway.settings import Settings

log = logging.getLogger("ocrserve.jobs")


def open_jobs(settings: Settings, loop: asyncio.AbstractEventLoop, process: Process) -> "JobService | JobsUnavailable":
    """The started job service, or the reason it is off: /jobs then answers 503, the rest works."""
    try:
        jobs = JobService(settings)
        jobs.start(loop, process)
        return jobs
    except Exception as exc:  # noqa: BLE001 - sqlite, redis and OS errors: one message for all
        where = settings.jobs_redis_url and "the Redis at OCRSERVE_JOBS_REDIS_URL" or str(settings.jobs_path)
        log.error("jobs are off: cannot open %s: %s", where, exc)
        return JobsUnavailable(f"jobs are off on this gateway: cannot open {where} ({type(exc).__name__})")


class JobService:
    """One per gateway process; several gateways may share one Redis."""

    def __init__(self, settings: Settings):
        self.settings = settings
        queue, records, blobs = open_hueys(settings.jobs_path, settings.jobs_redis_url)
        self.store = JobStore(records, blobs)
        self.queue = JobQueue(queue, self.store, settings.jobs_lease_s, settings.jobs_workers)

    def start(self, loop: asyncio.AbstractEventLoop, process: Process) -> None:
        self.housekeeping()
        self.queue.start(loop, process, self.housekeeping, self.settings.jobs_housekeeping_s)

    def stop(self) -> None:
        self.queue.stop()

    def submit(self, data: bytes, content_type: str, options: dict[str, Any], pages: int | None = None) -> JobRecord:
        """Store and enqueue a job, or refuse it when the storage bound or queue length is reached."""
        records = self.store.all()
        waiting = sum(r.state in ("queued", "running") for r in records)
        if waiting >= self.settings.jobs_max_pending:
            raise JobStorageFull(f"{waiting} jobs are waiting (the limit is {self.settings.jobs_max_pending}): "
                                 "retry later")
        used = self.store.stored_bytes(records)
        if used + len(data) > self.settings.jobs_max_bytes:
            raise JobStorageFull(f"job storage holds {used} of {self.settings.jobs_max_bytes} bytes: retry "
                                 "later or delete finished jobs")
        record = self.store.create(data, content_type, options, pages)
        self.queue.enqueue(record)
        return record

    def get(self, job_id: str) -> JobRecord:
        record = self.store.get(job_id) if job_id else None
        if record is None or self._expired(record, time.time()):
            raise JobNotFound("no such job (unknown id, deleted, or expired)")
        return record

    def delete(self, job_id: str) -> None:
        self.store.delete(self.get(job_id))

    def list(self) -> list[JobRecord]:
        return sorted(self.store.all(), key=lambda r: r.created)

    def housekeeping(self) -> None:
        """Remove expired jobs; re-enqueue running jobs whose heartbeat stopped and lost queued ones."""
        now = time.time()
        pending = None
        for record in self.store.all():
            if self._expired(record, now):
                self.store.delete(record)
            elif record.state == "running" and now - record.heartbeat > self.settings.jobs_lease_s:
                log.warning("job %s: its gateway stopped mid-job; queued again", record.id)
                self.store.update(record.id, state="queued")
                self.queue.enqueue(record)
            elif record.state == "queued" and now - record.updated > self.settings.jobs_lease_s:
                pending = self.queue.pending_ids() if pending is None else pending
                if record.id not in pending:  # dequeued by a gateway that stopped before it started
                    self.store.update(record.id, state="queued")
                    self.queue.enqueue(record)

    def _expired(self, record: JobRecord, now: float) -> bool:
        return record.finished is not None and now - record.finished > self.settings.jobs_ttl_s


async def run_pages(record: JobRecord, store: JobStore, total: int,
                    run_page: Callable[[int], Awaitable[dict[str, Any]]], concurrency: int) -> list[dict]:
    """Run every page not already stored (a recovered job resumes), `concurrency` at a time.
    The store's (SQLite) calls run in threads so that a slow disk never stalls the event loop."""
    record.pages_total = total
    await asyncio.to_thread(store.update, record.id, pages_total=total)
    gate = asyncio.Semaphore(concurrency)
    progress = asyncio.Lock()  # one progress write at a time, each with the latest count
    done = 0

    async def still_there() -> None:
        if await asyncio.to_thread(store.get, record.id) is None:
            raise JobNotFound("the job was deleted")

    async def one(index: int) -> dict[str, Any]:
        nonlocal done
        page = await asyncio.to_thread(store.page, record.id, index)
        if page is None:
            async with gate:
                await still_there()
                page = await run_page(index)
            await still_there()
            await asyncio.to_thread(store.put_page, record.id, index, page)
        done += 1
        async with progress:
            await asyncio.to_thread(store.update, record.id, pages_done=done)
        return page

    return list(await asyncio.gather(*(one(i) for i in range(total))))
