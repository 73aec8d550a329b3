"""Asynchronous jobs through the real gateway and TorchServe: results equal /ocr's, errors keep their
status, a job survives the gateway being killed mid-queue, and gateways sharing Redis share jobs."""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from contextlib import contextmanager

import httpx
import pytest

from tests.conftest import data_path
from tests.integration.conftest import ADMIN_KEY
from service.tooling.launch.ports import free_port
from tests.integration.servers import gateway_settings, running_gateway, wait_healthy


def _img(n: int = 10) -> bytes:
    return data_path("mmocr", "0.x", "toy_dataset", "imgs", "test", f"img_{n}.jpg").read_bytes()


def _wait(client: httpx.Client, job_id: str, timeout: float = 120) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        status = client.get(f"/jobs/{job_id}")
        assert status.status_code == 200, status.text
        if status.json()["state"] in ("done", "failed"):
            return status.json()
        assert time.monotonic() < deadline, f"job still {status.json()}"
        time.sleep(0.2)


def test_a_job_gives_what_ocr_gives(gateway):
    submitted = gateway.post("/jobs", files={"file": ("a.jpg", _img(), "image/jpeg")}, data={"rec_min_score": "0.5"})
    assert submitted.status_code == 202
    job = submitted.json()
    assert submitted.headers["location"] == f"/jobs/{job['id']}" and len(job["id"]) >= 32
    status = _wait(gateway, job["id"])
    assert status["state"] == "done" and status["pages_done"] == status["pages_total"] == 1
    result = gateway.get(f"/jobs/{job['id']}/result").json()
    direct = gateway.post("/ocr", files={"file": ("a.jpg", _img(), "image/jpeg")}, data={"rec_min_score": "0.5"})
    assert result["pages"] == direct.json()["pages"] and result["models"] == direct.json()["models"]
    assert "HarbourFront" in " ".join(line["text"] for line in result["pages"][0]["result"])
    assert gateway.delete(f"/jobs/{job['id']}").status_code == 204
    assert gateway.get(f"/jobs/{job['id']}").status_code == 404
    assert gateway.get(f"/jobs/{job['id']}/result").status_code == 404


def _read(pages: list[dict]) -> list:
    """What a page's reading must repeat: its size, line boxes (the detector runs one image at a time)
    and the texts of its lines and words. Not the recogniser's scores and character spans: /ocr reads
    a document's pages concurrently, so TorchServe may batch the crops of two pages together, which
    pads them to other widths than a job reading one page at a time (a score 0.997 against 0.972 for
    the same text in one run)."""
    return [(p["page"], p["width"], p["height"],
             [(line["box"], line["text"], [w["text"] for w in line["words"]]) for line in p["result"]])
            for p in pages]


def test_a_pdf_job_reads_every_page_like_ocr(gateway):
    from tests.document_files import text_pdf

    pdf = text_pdf([["Invoice number 4711", "Total due 99.50"], ["Second page of the letter"],
                    ["Third page closes it"]], size=14)
    job = gateway.post("/jobs", content=pdf, headers={"Content-Type": "application/pdf"}, params={"pages": "1,3"})
    assert job.status_code == 202 and job.json()["pages_total"] == 2
    status = _wait(gateway, job.json()["id"])
    assert status["state"] == "done" and status["pages_done"] == 2
    result = gateway.get(f"/jobs/{job.json()['id']}/result").json()
    direct = gateway.post("/ocr", content=pdf, headers={"Content-Type": "application/pdf"}, params={"pages": "1,3"})
    assert [p["page"] for p in result["pages"]] == [1, 3]
    assert _read(result["pages"]) == _read(direct.json()["pages"])
    assert result["document"] == direct.json()["document"] and result["document"]["page_count"] == 3
    assert "4711" in " ".join(line["text"] for line in result["pages"][0]["result"])
    # every /ocr format, from the stored result; the searchable PDF has the pages' text under it
    text = gateway.get(f"/jobs/{job.json()['id']}/result", params={"format": "text"})
    assert text.status_code == 200 and text.headers["content-type"].startswith("text/plain")
    assert "4711" in text.text and "Third page" in text.text
    searchable = gateway.get(f"/jobs/{job.json()['id']}/result", params={"format": "pdf"})
    assert searchable.headers["content-type"] == "application/pdf"
    import pypdfium2
    pdf_doc = pypdfium2.PdfDocument(searchable.content)
    assert len(pdf_doc) == 2 and "4711" in pdf_doc[0].get_textpage().get_text_range()
    assert gateway.get(f"/jobs/{job.json()['id']}/result", params={"format": "docx"}).status_code == 422


def test_the_client_waits_for_a_job(gateway):
    from ocrserve import OcrClient, RequestRejected

    with OcrClient(str(gateway.base_url)) as client:
        job = client.submit_job(_img(), rec_min_score=0.5)
        assert job.state in ("queued", "running")
        result = client.wait_job(job.id, timeout=120, poll_s=0.2)
        assert result == client.ocr(_img(), rec_min_score=0.5).model_copy(update={"timings_ms": result.timings_ms})
        client.delete_job(job.id)
        with pytest.raises(RequestRejected) as error:
            client.job(job.id)
        assert error.value.status == 404


def test_job_errors(gateway):
    unknown = gateway.get("/jobs/not-a-job")
    assert unknown.status_code == 404 and unknown.json()["error"] == "JobNotFound"
    assert gateway.post("/jobs", params={"det": "nope"}, files={"file": ("a", _img())}).status_code == 404
    assert gateway.post("/jobs", params={"unclip_ratio": 99}, files={"file": ("a", _img())}).status_code == 422
    assert gateway.post("/jobs", content=b"x", headers={"Content-Type": "text/plain"}).status_code == 415
    # documents are checked at submission, as /ocr checks them
    not_pdf = gateway.post("/jobs", content=b"plain text", headers={"Content-Type": "application/pdf"})
    assert not_pdf.status_code == 400 and "not a PDF" in not_pdf.json()["message"]
    from tests.document_files import empty_pages_pdf
    too_many = gateway.post("/jobs", content=empty_pages_pdf(300), headers={"Content-Type": "application/pdf"})
    assert too_many.status_code == 413 and "OCRSERVE_MAX_PAGES" in too_many.json()["message"]
    bad = gateway.post("/jobs", content=b"not an image at all", headers={"Content-Type": "image/png"}).json()
    status = _wait(gateway, bad["id"])
    assert status["state"] == "failed" and status["error"]["status"] == 400
    result = gateway.get(f"/jobs/{bad['id']}/result")
    assert result.status_code == 400 and result.json()["error"] == "BadImage"


def test_only_the_admin_lists_jobs(gateway):
    job = gateway.post("/jobs", files={"file": ("a", _img())}).json()
    assert gateway.get("/jobs").status_code == 401
    listed = gateway.get("/jobs", headers={"Authorization": f"Bearer {ADMIN_KEY}"})
    assert listed.status_code == 200 and job["id"] in {j["id"] for j in listed.json()["jobs"]}
    _wait(gateway, job["id"])


@contextmanager
def _gateway_process(env: dict[str, str]):
    port = free_port()
    cmd = [sys.executable, "-m", "uvicorn", "--factory", "service.gateway.main:app_from_env",
           "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"]
    proc = subprocess.Popen(cmd, env={**os.environ, **env}, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    def alive() -> None:
        assert proc.poll() is None, proc.stderr.read().decode()

    try:
        wait_healthy(url, 60, alive)
        with httpx.Client(base_url=url, timeout=60) as client:
            yield proc, client
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(10)


def test_jobs_survive_the_gateway_being_killed(torchserve, gateway, tmp_path):
    env = {"OCRSERVE_INFERENCE_URL": torchserve.config.inference_url,
           "OCRSERVE_MANAGEMENT_URL": torchserve.config.management_url,
           "OCRSERVE_JOBS_DIR": str(tmp_path), "OCRSERVE_JOBS_LEASE_S": "2", "OCRSERVE_JOBS_HOUSEKEEPING_S": "0.5"}
    images = [_img(n) for n in (1, 2, 3)]
    with _gateway_process(env) as (proc, client):
        ids = [client.post("/jobs", files={"file": ("a", im)}).json()["id"] for im in images]
        deadline = time.monotonic() + 60
        while (first := client.get(f"/jobs/{ids[0]}").json()["state"]) == "queued":
            assert time.monotonic() < deadline
            time.sleep(0.02)
        others = [client.get(f"/jobs/{i}").json()["state"] for i in ids[1:]]
        proc.send_signal(signal.SIGKILL)
    assert (first, others) == ("running", ["queued", "queued"])  # killed mid-job, two waiting
    with _gateway_process(env) as (_, client):
        for job_id, image in zip(ids, images):
            assert _wait(client, job_id)["state"] == "done"
            result = client.get(f"/jobs/{job_id}/result").json()
            direct = gateway.post("/ocr", files={"file": ("a", image)}).json()
            assert result["pages"] == direct["pages"]


@pytest.fixture
def redis_url(tmp_path):
    server = shutil.which("redis-server")
    if server is None:
        pytest.skip("redis-server is not installed (scripts/setup.sh installs it as root)")
    port = free_port()
    proc = subprocess.Popen([server, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                             "--appendonly", "no", "--dir", str(tmp_path)], stdout=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while subprocess.run(["redis-cli", "-p", str(port), "ping"], capture_output=True).stdout.strip() != b"PONG":
            assert time.monotonic() < deadline and proc.poll() is None, "redis-server did not start"
            time.sleep(0.1)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        proc.wait(10)


def test_gateways_sharing_redis_share_jobs(torchserve, redis_url):
    # the first gateway only accepts jobs; the second, on the same Redis, runs them
    front = gateway_settings(torchserve.config, jobs_redis_url=redis_url, jobs_workers=0)
    back = gateway_settings(torchserve.config, jobs_redis_url=redis_url, jobs_workers=1)
    with running_gateway(front) as front_url, running_gateway(back) as back_url:
        with httpx.Client(base_url=front_url, timeout=60) as a, httpx.Client(base_url=back_url, timeout=60) as b:
            job = a.post("/jobs", files={"file": ("a", _img())}).json()
            assert _wait(a, job["id"])["state"] == "done"
            assert a.get(f"/jobs/{job['id']}/result").json() == b.get(f"/jobs/{job['id']}/result").json()
            assert b.delete(f"/jobs/{job['id']}").status_code == 204
            assert a.get(f"/jobs/{job['id']}").status_code == 404
