"""TorchServe configuration as ocrserve renders it, without starting TorchServe."""
from __future__ import annotations

from pathlib import Path

from service.torchserve_process import TorchServe, TorchServeConfig


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
    long_env = TorchServe(TorchServeConfig(model_store=tmp_path, run_dir=deep, models=[]))._env()
    assert len(long_env["TEMP"]) + len("/.ts.sock.65535") < 108  # unix socket path limit
    assert Path(long_env["TMPDIR"]).parent == deep
