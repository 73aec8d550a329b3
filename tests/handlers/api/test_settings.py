"""The workers' settings: one frozen object, from the environment the launcher fills."""
from __future__ import annotations

import pytest

from handlers.api.settings import DEFAULT_MAX_PIXELS, WorkerSettings
from service.tooling.launch.runner import torchserve_config, workers_env
from service.gateway.settings import Settings, settings_from


def test_the_environment_round_trips_and_absent_values_keep_defaults():
    settings = WorkerSettings(max_pixels=1_000_000, threads=3)
    assert WorkerSettings.from_env(settings.to_env()) == settings
    assert WorkerSettings.from_env({}) == WorkerSettings(DEFAULT_MAX_PIXELS, 1)
    assert WorkerSettings.from_env({"OCRSERVE_THREADS": " 2 ", "OCRSERVE_MAX_PIXELS": ""}).threads == 2


@pytest.mark.parametrize("environ, words", [
    ({"OCRSERVE_MAX_PIXELS": "lots"}, "not an integer"),
    ({"OCRSERVE_THREADS": "0"}, "positive"),
])
def test_bad_values_stop_the_worker_with_a_message(environ, words):
    with pytest.raises(ValueError, match=words):
        WorkerSettings.from_env(environ)


def test_the_launcher_derives_the_workers_env_from_the_gateway_settings(tmp_path):
    env_file = tmp_path / "ocrserve.env"
    env_file.write_text("OCRSERVE_MAX_PIXELS=2500000\nOCRSERVE_THREADS=2\n")
    settings = settings_from({"OCRSERVE_ENV_FILE": str(env_file), "OCRSERVE_RUN_DIR": str(tmp_path)})
    assert WorkerSettings.from_env(workers_env(settings)) == WorkerSettings(2_500_000, 2)
    assert torchserve_config(settings, ["dbnet"]).workers_env == workers_env(settings)
    assert workers_env(Settings(run_dir=tmp_path)) == WorkerSettings().to_env()
