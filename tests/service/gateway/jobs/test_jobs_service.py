"""Job records, bounds, expiry and recovery on a real huey SQLite store (no gateway, no models)."""
from __future__ import annotations

import asyncio
import time

import pytest

from service.gateway.errors import JobNotFound, JobStorageFull
from service.gateway.jobs.service import JobService, run_pages
from service.gateway.settings import Settings


@pytest.fixture
def jobs(tmp_path):
    service = JobService(Settings(jobs_dir=tmp_path, jobs_max_pending=3, jobs_max_bytes=2 * 1024 * 1024,
                                  jobs_lease_s=5, jobs_ttl_s=60))
    yield service
    service.stop()


def _keys(service: JobService) -> set[str]:
    return set(service.store.blobs.storage.result_items())


def test_submit_stores_the_input_and_enqueues_an_unguessable_id(jobs):
    a = jobs.submit(b"abc", "image/png", {"det": "dbnet"})
    b = jobs.submit(b"abc", "image/png", {})
    assert a.id != b.id and len(a.id) >= 32
    assert jobs.store.input(a.id) == b"abc"
    assert jobs.get(a.id).options == {"det": "dbnet"} and jobs.get(a.id).state == "queued"
    assert jobs.queue.pending_ids() == {a.id, b.id}


def test_waiting_jobs_and_stored_bytes_are_bounded(jobs):
    for _ in range(3):
        jobs.submit(b"x", "image/png", {})
    with pytest.raises(JobStorageFull, match="3 jobs are waiting"):
        jobs.submit(b"x", "image/png", {})
    for record in jobs.list():
        jobs.delete(record.id)
    jobs.submit(b"x" * (1024 * 1024), "image/png", {})
    with pytest.raises(JobStorageFull, match="job storage holds"):
        jobs.submit(b"x" * (1024 * 1024 + 1), "image/png", {})


def test_delete_removes_every_blob_of_the_job(jobs):
    record = jobs.submit(b"data", "image/png", {})
    jobs.store.update(record.id, pages_total=2)
    jobs.store.put_page(record.id, 0, {"page": 1})
    jobs.store.put_page(record.id, 1, {"page": 2})
    jobs.store.put_result(record.id, {"pages": []})
    jobs.delete(record.id)
    assert _keys(jobs) == set()
    with pytest.raises(JobNotFound):
        jobs.get(record.id)


def test_finished_jobs_expire_with_their_data(jobs):
    old = jobs.submit(b"old", "image/png", {})
    new = jobs.submit(b"new", "image/png", {})
    jobs.store.update(old.id, state="done", finished=time.time() - 61)
    jobs.store.update(new.id, state="done", finished=time.time() - 59)
    with pytest.raises(JobNotFound):
        jobs.get(old.id)  # expired jobs are gone for readers at once...
    jobs.housekeeping()
    assert {r.id for r in jobs.list()} == {new.id}  # ...and from storage at the next housekeeping
    assert _keys(jobs) == {f"input:{new.id}"}


def test_a_job_whose_gateway_stopped_is_queued_again(jobs):
    stale = jobs.submit(b"a", "image/png", {})
    alive = jobs.submit(b"b", "image/png", {})
    jobs.queue.queue.flush()  # both were dequeued by a gateway...
    jobs.store.update(stale.id, state="running", heartbeat=time.time() - 6)  # ...which then died
    jobs.store.update(alive.id, state="running", heartbeat=time.time())  # ...or still runs this one
    jobs.housekeeping()
    assert jobs.get(stale.id).state == "queued" and jobs.queue.pending_ids() == {stale.id}
    assert jobs.get(alive.id).state == "running"


def test_a_queued_job_lost_between_dequeue_and_start_is_queued_again(jobs):
    lost = jobs.submit(b"a", "image/png", {})
    waiting = jobs.submit(b"b", "image/png", {})
    jobs.queue.queue.storage.dequeue()  # taken off the queue (the first one), never started
    for job_id in (lost.id, waiting.id):
        record = jobs.store.get(job_id)
        record.updated = time.time() - 6
        jobs.store.save(record)
    jobs.housekeeping()
    assert jobs.queue.pending_ids() == {lost.id, waiting.id}


def test_run_pages_resumes_and_counts_progress(jobs):
    record = jobs.submit(b"doc", "application/pdf", {})
    jobs.store.put_page(record.id, 1, {"page": 2, "from": "before the restart"})
    ran = []

    async def run_page(index):
        ran.append(index)
        return {"page": index + 1}

    pages = asyncio.run(run_pages(record, jobs.store, 3, run_page, concurrency=2))
    assert sorted(ran) == [0, 2]
    assert pages == [{"page": 1}, {"page": 2, "from": "before the restart"}, {"page": 3}]
    assert jobs.get(record.id).pages_done == 3 and jobs.get(record.id).pages_total == 3


def test_a_deleted_job_stops_before_its_next_page(jobs):
    record = jobs.submit(b"doc", "application/pdf", {})

    async def run_page(index):
        jobs.delete(record.id)
        return {"page": index + 1}

    with pytest.raises(JobNotFound):
        asyncio.run(run_pages(record, jobs.store, 3, run_page, concurrency=1))
    assert _keys(jobs) == set()  # the page read while it was deleted is not stored


def test_page_bookkeeping_never_blocks_the_event_loop(jobs):
    """The store's calls run in threads: a write held up elsewhere (here: the records' lock held
    for 0.5 s, as by a heartbeat during a slow fsync) must not stall other requests."""
    import threading

    record = jobs.submit(b"doc", "application/pdf", {})

    async def main():
        ticks = []

        async def ticker():
            while True:
                ticks.append(time.monotonic())
                await asyncio.sleep(0.01)

        async def run_page(index):
            return {"page": index + 1}

        task = asyncio.create_task(ticker())
        await asyncio.sleep(0.05)
        jobs.store._lock.acquire()
        threading.Timer(0.5, jobs.store._lock.release).start()
        await run_pages(record, jobs.store, 2, run_page, concurrency=1)
        task.cancel()
        return ticks

    ticks = asyncio.run(main())
    assert max(b - a for a, b in zip(ticks, ticks[1:])) < 0.25
    assert jobs.get(record.id).pages_done == 2
