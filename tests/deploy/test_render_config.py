"""docker/render_config.py: TorchServe's config.properties for containers, from the environment."""
from __future__ import annotations

import importlib.util
import os
import sys

import pytest

from tests.deploy.conftest import DEPLOY, DOCKER, clean_env, run

spec = importlib.util.spec_from_file_location("render_config", DOCKER / "render_config.py")
render_config = importlib.util.module_from_spec(spec)
sys.modules["render_config"] = render_config
spec.loader.exec_module(render_config)

STORE = "/opt/ocrserve/model_store"


def props(**env: str) -> dict[str, str]:
    return render_config.parse(render_config.render(clean_env(OCRSERVE_MODEL_STORE=STORE, **env)))


def _host(url: str) -> str:
    return url.split("://", 1)[1].rsplit(":", 1)[0]


def test_prod_defaults_token_auth_on_and_nothing_private_on_a_wildcard():
    p = props(OCRSERVE_PROFILE="prod")
    assert p["disable_token_authorization"] == "false"
    assert _host(p["management_address"]) == "127.0.0.1"
    assert _host(p["metrics_address"]) == "127.0.0.1"
    assert p["grpc_inference_address"] == p["grpc_management_address"] == "127.0.0.1"
    assert p["inference_address"] == "http://0.0.0.0:8080"
    assert p["enable_model_api"] == "true"
    assert p["allowed_urls"] == f"file://{STORE}/.*\\.mar"
    assert p["model_store"] == STORE
    assert p["load_models"] == ("dbnet=dbnet.mar,ppocrv6-small-rec=ppocrv6-small-rec.mar,"
                               "text-direction=text-direction.mar,sdmgr=sdmgr.mar,dbnet-ic15=dbnet-ic15.mar,"
                               "ppocrv6-small-rec-ic15=ppocrv6-small-rec-ic15.mar")  # + the photo route's
    assert p["install_py_dep_per_model"] == "false"


def test_profile_defaults_to_prod():
    assert props()["disable_token_authorization"] == "false"


@pytest.mark.parametrize("profile", render_config.PROFILES)
def test_every_profile_has_token_auth_on_and_refuses_it_off(profile):
    """The management API never answers without a key, dev profile included (issue 14)."""
    assert props(OCRSERVE_PROFILE=profile)["disable_token_authorization"] == "false"
    assert props(OCRSERVE_PROFILE=profile, OCRSERVE_TS_TOKEN_AUTH="true")["disable_token_authorization"] == "false"
    for off in ("false", "0", "no"):
        with pytest.raises(render_config.ConfigError, match="token auth"):
            props(OCRSERVE_PROFILE=profile, OCRSERVE_TS_TOKEN_AUTH=off)


@pytest.mark.parametrize("var", ["OCRSERVE_TS_MANAGEMENT_HOST", "OCRSERVE_TS_METRICS_HOST"])
@pytest.mark.parametrize("value", ["0.0.0.0", "::", "[::]", "example.com"])
def test_management_and_metrics_never_on_a_wildcard(var, value):
    with pytest.raises(render_config.ConfigError):
        props(**{var: value})


def test_pod_ip_from_the_downward_api():
    p = props(OCRSERVE_TS_MANAGEMENT_HOST="pod-ip", POD_IP="10.1.2.3")
    assert p["management_address"] == "http://10.1.2.3:8081"
    assert p["metrics_address"] == "http://127.0.0.1:8082"
    ipv6 = props(OCRSERVE_TS_MANAGEMENT_HOST="pod-ip", POD_IP="fd00::5")
    assert ipv6["management_address"] == "http://[fd00::5]:8081"


def test_request_size_follows_the_gateway_upload_limit():
    default = props()
    assert int(default["max_request_size"]) == 2 * 20 * 1024 * 1024  # 20 MB uploads -> 40 MiB
    assert default["max_response_size"] == default["max_request_size"]
    small = props(OCRSERVE_MAX_UPLOAD_BYTES=str(5 * 1024 * 1024))
    assert int(small["max_request_size"]) == 10 * 1024 * 1024


def test_ports_models_and_passthrough_settings():
    p = props(OCRSERVE_TS_MANAGEMENT_PORT="9081", OCRSERVE_TS_MODELS="ppocrv6-tiny-det, ppocrv4-rec",
              OCRSERVE_TS_ENABLE_MODEL_API="false", OCRSERVE_TS_VMARGS="-Xmx4g",
              OCRSERVE_TS_LOG_CONFIG="/x/log4j2.xml", OCRSERVE_TS_NUMBER_OF_GPU="1",
              OCRSERVE_TS_TOKEN_EXPIRATION_MIN="1440")
    assert p["management_address"] == "http://127.0.0.1:9081"
    assert p["load_models"] == "ppocrv6-tiny-det=ppocrv6-tiny-det.mar,ppocrv4-rec=ppocrv4-rec.mar"
    assert p["enable_model_api"] == "false"
    assert p["vmargs"] == "-Xmx4g -Dlog4j.configurationFile=file:///x/log4j2.xml"
    assert p["number_of_gpu"] == "1"
    assert p["token_expiration_min"] == "1440"


def test_unknown_model_and_bad_values_are_refused():
    with pytest.raises(KeyError, match="unknown model"):
        props(OCRSERVE_TS_MODELS="nope")
    with pytest.raises(render_config.ConfigError):
        props(OCRSERVE_PROFILE="staging")
    with pytest.raises(render_config.ConfigError):
        props(OCRSERVE_TS_TOKEN_AUTH="maybe")


def test_reuses_torchserve_config_properties():
    """Every key of TorchServeConfig.properties() is there: the renderer edits, it does not copy."""
    from pathlib import Path

    from service.tooling.launch.torchserve_process import TorchServeConfig

    base = render_config.parse(TorchServeConfig(Path(STORE), Path("/tmp/x"), ["dbnet"]).properties())
    assert set(base) <= set(props())


@pytest.mark.parametrize("profile,expiry", [("dev", "60"), ("prod", "1440")])
def test_committed_config_properties_match_the_renderer(profile, expiry):
    committed = render_config.parse((DEPLOY / f"config.properties.{profile}").read_text())
    rendered = props(OCRSERVE_PROFILE=profile, OCRSERVE_TS_TOKEN_EXPIRATION_MIN=expiry,
                     OCRSERVE_TS_LOG_CONFIG="/opt/ocrserve/deploy/log4j2.xml", OCRSERVE_DEVICE="cpu")
    assert committed == rendered


def test_cli_writes_the_file_and_exits_2_on_a_bad_setting(tmp_path):
    out = tmp_path / "config.properties"
    ok = run([sys.executable, "docker/render_config.py", "--out", str(out)], OCRSERVE_PROFILE="prod")
    assert ok.returncode == 0, ok.stderr
    assert "disable_token_authorization=false" in out.read_text()
    bad = run([sys.executable, "docker/render_config.py"], OCRSERVE_TS_MANAGEMENT_HOST="0.0.0.0")
    assert bad.returncode == 2 and "0.0.0.0" in bad.stderr


def test_the_workers_get_the_gateway_settings_env_file_included(tmp_path, monkeypatch):
    env_file = tmp_path / "ocrserve.env"
    env_file.write_text("OCRSERVE_MAX_PIXELS=2000000\nOCRSERVE_THREADS=3\n")
    monkeypatch.setenv("OCRSERVE_MAX_PIXELS", "999999")  # this process's own: must not leak in
    before = dict(os.environ)
    lines = render_config.render_workers_env(clean_env(OCRSERVE_ENV_FILE=str(env_file), OCRSERVE_THREADS="2"))
    assert lines.splitlines() == ["OCRSERVE_MAX_PIXELS=2000000", "OCRSERVE_THREADS=2"]  # variables win
    props(OCRSERVE_ENV_FILE=str(env_file))
    assert dict(os.environ) == before  # rendered from the mapping given, os.environ never swapped
    cli = run([sys.executable, "docker/render_config.py", "--workers-env"], OCRSERVE_PROFILE="dev",
              OCRSERVE_ENV_FILE=str(env_file))
    assert cli.returncode == 0 and cli.stdout.splitlines() == ["OCRSERVE_MAX_PIXELS=2000000", "OCRSERVE_THREADS=3"]
