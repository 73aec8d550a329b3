"""TorchServe configuration as ocrserve renders it, and stale-instance clean-up, without starting TorchServe."""
from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest

from service.tooling.launch.ports import free_port
from service.tooling.launch.torchserve_process import PGID_FILE, TorchServe, TorchServeConfig, stop_stale_group


def _props(config: TorchServeConfig) -> dict[str, str]:
    return dict(line.split("=", 1) for line in config.properties().splitlines())


def test_management_metrics_and_grpc_stay_on_loopback_even_when_inference_is_public(tmp_path):
    config = TorchServeConfig(model_store=tmp_path, run_dir=tmp_path / "run", models=["dbnet"], host="0.0.0.0")
    props = _props(config)
    assert props["inference_address"] == "http://0.0.0.0:8080"
    assert props["management_address"].startswith("http://127.0.0.1:")
    assert props["metrics_address"].startswith("http://127.0.0.1:")
    assert props["grpc_inference_address"] == props["grpc_management_address"] == "127.0.0.1"


def test_model_api_store_only_and_token_auth_setting(tmp_path):
    props = _props(TorchServeConfig(model_store=tmp_path, run_dir=tmp_path, models=["dbnet", "x"]))
    assert props["enable_model_api"] == "true"
    assert props["allowed_urls"] == f"file://{tmp_path.resolve()}/.*\\.mar"
    assert props["load_models"] == "dbnet=dbnet.mar,x=x.mar"
    assert props["disable_token_authorization"] == "true"
    secured = _props(TorchServeConfig(model_store=tmp_path, run_dir=tmp_path, models=[], token_auth=True,
                                      token_expiration_min=0.5))
    assert secured["disable_token_authorization"] == "false" and secured["token_expiration_min"] == "0.5"
    assert "load_models" not in secured


def test_each_instance_has_its_own_temp_folders(tmp_path):
    env = TorchServe(TorchServeConfig(model_store=tmp_path, run_dir=tmp_path / "a", models=[]))._env()
    assert env["TMPDIR"] == env["TEMP"] == str(tmp_path / "a" / "tmp")
    deep = tmp_path / ("d" * 120)
    served = TorchServe(TorchServeConfig(model_store=tmp_path, run_dir=deep, models=[], management_port=free_port()))
    long_env = served._env()
    assert len(long_env["TEMP"]) + len("/.ts.sock.65535") < 108  # unix socket path limit
    assert Path(long_env["TMPDIR"]).parent == deep
    # stopping removes the socket folder made outside the run dir (TorchServe leaves a models/ there)
    socket_dir = Path(long_env["TEMP"])
    (socket_dir / "models").mkdir()
    served.process = subprocess.Popen(["sleep", "30"], start_new_session=True)
    served.stop(timeout=5)
    assert not socket_dir.exists()


def test_a_torchserve_left_by_a_killed_launcher_is_stopped_at_the_next_start(tmp_path):
    # An orphan like the real case (not our child: setsid -f forks it away): the group leader looks
    # like TorchServe's launcher and has a child (a worker) in its group.
    pgid_file = tmp_path / PGID_FILE
    subprocess.run(["setsid", "-f", "bash", "-c",
                    f"echo $$ > {pgid_file}; sleep 60 & exec -a torchserve-launcher sleep 61"], check=True)
    pgid = _wait_for_pid(pgid_file)
    time.sleep(0.2)  # let bash start its worker and exec
    assert stop_stale_group(pgid_file, timeout=5)
    with pytest.raises(ProcessLookupError):
        os.killpg(pgid, 0)  # the launcher and the worker are gone
    assert not pgid_file.exists()


def test_a_stale_pgid_file_never_signals_an_unrelated_process(tmp_path):
    other = subprocess.Popen(["sleep", "30"], start_new_session=True)
    try:
        pgid_file = tmp_path / PGID_FILE
        pgid_file.write_text(str(other.pid))
        assert not stop_stale_group(pgid_file)
        assert other.poll() is None and not pgid_file.exists()
        pgid_file.write_text("not a number")
        assert not stop_stale_group(pgid_file)
    finally:
        other.kill()
        other.wait()


def _wait_for_pid(path: Path, timeout: float = 5.0) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        text = path.read_text().strip() if path.exists() else ""
        if text:
            return int(text)
        time.sleep(0.05)
    raise AssertionError(f"{path} was not written")


def test_run_without_archives_says_how_to_build_them_instead_of_waiting(tmp_path):
    """`ocrserve run` on a model store without the archives: a one-line answer at once, exit 1,
    nothing started (it used to wait 180 s for TorchServe, then fail in the supervisor)."""
    import subprocess
    import sys

    from tests.conftest import REPO

    env = {"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin", "OCRSERVE_MODEL_STORE": str(tmp_path / "store"),
           "OCRSERVE_RUN_DIR": str(tmp_path / "run")}
    run = subprocess.run([sys.executable, "-m", "service.tooling.cli", "run"], cwd=REPO, env=env,
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 1 and "Traceback" not in run.stderr, run.stderr
    assert "no archive for dbnet" in run.stderr and "ocrserve archive dbnet" in run.stderr
    assert not (tmp_path / "run" / "torchserve").exists()
