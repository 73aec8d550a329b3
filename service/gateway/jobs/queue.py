"""The job queue: huey on SQLite (one machine, no server) or Redis (several gateways), worker threads
inside the gateway, heartbeats, and recovery of jobs a stopped gateway left behind.

huey's own consumer installs signal handlers and wants the main thread, which belongs to uvicorn;
the gateway therefore runs huey's `Worker` loop in plain threads and keeps the queue and storage
semantics of huey unchanged. huey drops a task once it is dequeued, so a gateway killed mid-job
would lose it: each running job beats a heartbeat into its record, and any gateway re-enqueues a
job whose heartbeat is older than the lease (pages already done are kept and not read again).
"""
from __future__ import annotations

import asyncio
import logging
import threading
import time
from pathlib import Path
from typing import Any, Awaitable, Callable

from huey import Huey, RedisHuey, SqliteHuey
from huey.consumer import Worker

from service.gateway.errors import OcrServeError
from service.gateway.jobs.store import JobRecord, JobStore

log = logging.getLogger("ocrserve.jobs")

# process(record, input bytes, store) -> the finished result; runs on the gateway's event loop.
Process = Callable[[JobRecord, bytes, JobStore], Awaitable[dict[str, Any]]]


def open_hueys(directory: Path, redis_url: str | None) -> tuple[Huey, Huey, Huey]:
    """(queue, records, blobs) on one backend: Redis when a URL is given, else a SQLite file."""
    if redis_url:
        return tuple(RedisHuey(name, url=redis_url, blocking=False, results=False)
                     for name in ("ocrserve-jobs", "ocrserve-jobs-records", "ocrserve-jobs-blobs"))
    directory.mkdir(parents=True, exist_ok=True)
    path = str(directory / "jobs.db")
    return tuple(SqliteHuey(name, filename=path, fsync=True, results=False)
                 for name in ("ocrserve-jobs", "ocrserve-jobs-records", "ocrserve-jobs-blobs"))


class JobQueue:
    """Runs queued jobs in `workers` threads; `process` does the OCR of one job on `loop`."""

    def __init__(self, queue: Huey, store: JobStore, lease_s: float, workers: int):
        self.queue = queue
        self.store = store
        self.lease_s = lease_s
        self.workers = workers
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._process: Process | None = None
        self._task = queue.task(name="ocrserve.run_job")(self._run)

    def enqueue(self, record: JobRecord) -> None:
        self._task(record.id)

    def pending_ids(self) -> set[str]:
        return {task.args[0] for task in self.queue.pending() if task.args}

    def start(self, loop: asyncio.AbstractEventLoop, process: Process, housekeeping: Callable[[], None],
              interval_s: float) -> None:
        self._loop, self._process = loop, process
        for i in range(self.workers):
            worker = Worker(self.queue, self._stop, default_delay=0.1, max_delay=1.0, backoff=1.5)
            self._spawn(f"ocrserve-job-worker-{i}", lambda w=worker: w.loop())
        self._spawn("ocrserve-job-housekeeping", housekeeping, interval_s)

    def _spawn(self, name: str, step: Callable[[], None], pause: float = 0.0) -> None:
        def forever():
            while not self._stop.is_set():
                try:
                    step()
                except Exception:  # noqa: BLE001 - a failing step must not end the thread
                    log.exception("%s failed", name)
                if pause:
                    self._stop.wait(pause)
        thread = threading.Thread(target=forever, name=name, daemon=True)
        thread.start()
        self._threads.append(thread)

    def stop(self, timeout: float = 5.0) -> None:
        """Stop taking jobs; a job still running is recovered by the next gateway (its heartbeat stops)."""
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout)
        self._threads.clear()

    def _run(self, job_id: str) -> None:
        record = self.store.get(job_id)
        if record is None or record.state in ("done", "failed"):
            return  # deleted, or finished by another gateway
        if record.state == "running" and time.time() - record.heartbeat < self.lease_s:
            return  # another gateway holds it
        data = self.store.input(job_id)
        if data is None:
            self._finish(record, error={"error": "JobLost", "status": 500,
                                        "message": "the job's input is gone"})
            return
        self.store.update(job_id, state="running", heartbeat=time.time())
        beating = threading.Event()
        beat = threading.Thread(target=self._beat, args=(job_id, beating), daemon=True)
        beat.start()
        error, result = None, None
        try:
            future = asyncio.run_coroutine_threadsafe(self._process(record, data, self.store), self._loop)
            result = future.result()
        except OcrServeError as exc:
            error = exc.to_json()
        except Exception as exc:  # noqa: BLE001 - the job fails, the worker lives on
            log.exception("job %s failed", job_id)
            error = {"error": "InternalError", "status": 500, "message": f"the job failed: {type(exc).__name__}"}
        finally:
            beating.set()
            beat.join()
        if error:
            self._finish(record, error=error)
        else:
            self.store.put_result(job_id, result)
            self._finish(record, result_bytes=len(self.queue.serializer.serialize(result)))

    def _beat(self, job_id: str, done: threading.Event) -> None:
        while not done.wait(self.lease_s / 3):
            if self.store.update(job_id, heartbeat=time.time()) is None:
                return

    def _finish(self, record: JobRecord, error: dict | None = None, result_bytes: int = 0) -> None:
        current = self.store.get(record.id)
        if current is None:
            self.store.delete(record)  # deleted while it ran: drop what the run wrote since
            return
        done = current.pages_total if not error and current.pages_total is not None else current.pages_done
        self.store.update(record.id, state="failed" if error else "done", error=error, finished=time.time(),
                          result_bytes=result_bytes, pages_done=done)
