"""When the job storage cannot be opened or reached, /jobs answers 503 and the rest of the gateway works."""
from __future__ import annotations

from fastapi.testclient import TestClient

from service.gateway.main import create_app
from service.gateway.settings import Settings
from service.tooling.launch.ports import free_port


def _client(**settings) -> TestClient:
    # no TorchServe is needed: nothing here reaches a model
    return TestClient(create_app(Settings(inference_url=f"http://127.0.0.1:{free_port()}",
                                          management_url=f"http://127.0.0.1:{free_port()}", **settings)))


def test_an_unwritable_job_folder_turns_jobs_off_only(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    with _client(jobs_dir=blocker / "jobs") as client:
        response = client.post("/jobs", content=b"x", headers={"Content-Type": "image/png"})
        assert response.status_code == 503 and response.json()["error"] == "JobsUnavailable"
        assert "jobs are off" in response.json()["message"] and str(blocker) in response.json()["message"]
        assert client.get("/jobs/some-id").status_code == 503
        assert client.get("/healthz").status_code == 200


def test_an_unreachable_redis_turns_jobs_off_only():
    with _client(jobs_redis_url=f"redis://127.0.0.1:{free_port()}/0") as client:
        response = client.get("/jobs/some-id")
        assert response.status_code == 503 and "Redis" in response.json()["message"]
        assert client.get("/healthz").status_code == 200
