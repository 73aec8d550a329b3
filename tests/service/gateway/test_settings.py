"""The settings object: validation at start-up, replica lists, env file, documentation."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
from pydantic import ValidationError

from service.gateway.settings import Settings, load_settings
from tests.conftest import REPO


def test_replica_urls_from_a_comma_separated_list(monkeypatch):
    monkeypatch.setenv("OCRSERVE_INFERENCE_URL", "http://a:8080, http://b:8080")
    monkeypatch.setenv("OCRSERVE_MANAGEMENT_URL", "http://a:8081,http://b:8081")
    settings = Settings()
    assert [str(u) for u in settings.inference_url] == ["http://a:8080/", "http://b:8080/"]


def test_one_key_file_per_replica_or_one_shared(monkeypatch):
    monkeypatch.setenv("OCRSERVE_INFERENCE_URL", "http://a:8080,http://b:8080")
    monkeypatch.setenv("OCRSERVE_MANAGEMENT_URL", "http://a:8081,http://b:8081")
    monkeypatch.setenv("OCRSERVE_TORCHSERVE_KEY_FILE", "/keys/a.json, /keys/b.json")
    assert Settings().torchserve_key_file == [Path("/keys/a.json"), Path("/keys/b.json")]
    monkeypatch.setenv("OCRSERVE_TORCHSERVE_KEY_FILE", "/keys/shared.json")
    assert Settings().torchserve_key_file == [Path("/keys/shared.json")]
    monkeypatch.delenv("OCRSERVE_TORCHSERVE_KEY_FILE")
    assert Settings().torchserve_key_file == []


def test_client_gives_each_replica_its_key_file():
    from service.gateway.torchserve_client import TorchServeClient

    urls = ["http://a:1", "http://b:1"], ["http://a:2", "http://b:2"]
    per_replica = TorchServeClient(*urls, key_file=[Path("a.json"), Path("b.json")])
    assert [r.key_file for r in per_replica.replicas] == [Path("a.json"), Path("b.json")]
    shared = TorchServeClient(*urls, key_file=[Path("k.json")])
    assert [r.key_file for r in shared.replicas] == [Path("k.json")] * 2
    assert [r.key_file for r in TorchServeClient(*urls, key_file=[]).replicas] == [None, None]
    with pytest.raises(ValueError, match="3 key files for 2"):
        TorchServeClient(*urls, key_file=[Path("a"), Path("b"), Path("c")])


@pytest.mark.parametrize("values, words", [
    ({"inference_url": "http://a:1,http://b:2"}, "same number of replicas"),
    ({"inference_url": "not a url"}, "URL"),
    ({"inference_url": "http://a:1,http://b:2", "management_url": "http://a:3,http://b:4",
      "torchserve_key_file": "a.json,b.json,c.json"}, "one per replica"),
    ({"admin_key": "short"}, "at least 16"),
    ({"max_upload_bytes": 10}, "greater than or equal"),
    ({"gateway_port": 70000}, "less than or equal"),
])
def test_bad_values_stop_start_up_with_a_message(values, words):
    with pytest.raises(ValidationError, match=words):
        Settings(**values)


def test_env_file_is_read_and_environment_wins(tmp_path, monkeypatch):
    env = tmp_path / "ocrserve.env"
    env.write_text("OCRSERVE_MAX_PIXELS=12345678\nOCRSERVE_GATEWAY_PORT=9000\n")
    monkeypatch.setenv("OCRSERVE_ENV_FILE", str(env))
    monkeypatch.setenv("OCRSERVE_GATEWAY_PORT", "9100")
    settings = load_settings()
    assert settings.max_pixels == 12345678 and settings.gateway_port == 9100
    monkeypatch.setenv("OCRSERVE_ENV_FILE", str(tmp_path / "missing.env"))
    with pytest.raises(ValueError, match="does not exist"):
        load_settings()


def test_every_setting_is_documented_in_the_readme():
    readme = (REPO / "README.md").read_text()
    documented = set(re.findall(r"^\| `OCRSERVE_([A-Z0-9_]+)`", readme, re.M))
    assert documented == {name.upper() for name in Settings.model_fields}
