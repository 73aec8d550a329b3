"""Every configuration this repository ships starts TorchServe with token auth on, so that its
management API (which registers archives, i.e. runs model code) never answers without a key
(issue 14): the committed config.properties files, the compose file and the Kubernetes/KServe
manifests, each rendered through docker/render_config.py with the environment it sets. And the
compose file is one that Compose v1 (Debian's docker-compose) accepts, as v2 does."""
from __future__ import annotations

import os
import shutil
import subprocess

import pytest
import yaml

from tests.deploy.conftest import DEPLOY, DOCKER, REPO, clean_env
from tests.deploy.test_render_config import render_config

STORE = "/opt/ocrserve/model_store"


def rendered(env: dict[str, str]) -> dict[str, str]:
    return render_config.parse(render_config.render(clean_env(OCRSERVE_MODEL_STORE=STORE, POD_IP="10.0.0.7", **env)))


def torchserve_envs() -> dict[str, dict[str, str]]:
    """The environment each shipped TorchServe container gets (literal values only)."""
    compose = yaml.safe_load((DOCKER / "compose.yaml").read_text())
    envs = {"compose": {k: str(v) for k, v in compose["services"]["torchserve"]["environment"].items()}}
    for path in [DEPLOY / "k8s" / "torchserve.yaml", DEPLOY / "kserve" / "inferenceservice.yaml"]:
        for doc in yaml.safe_load_all(path.read_text()):
            for c in _containers(doc):
                if "entrypoint-torchserve" in " ".join(c.get("command", []) + c.get("args", [])) or \
                        any(e["name"] == "OCRSERVE_PROFILE" for e in c.get("env", [])):
                    envs[f"{path.parent.name}/{c['name']}"] = {e["name"]: str(e["value"]) for e in c.get("env", [])
                                                              if "value" in e}
    return envs


def _containers(node) -> list[dict]:
    if isinstance(node, dict):
        found = [node] if "image" in node and "name" in node else []
        return found + [c for v in node.values() for c in _containers(v)]
    if isinstance(node, list):
        return [c for v in node for c in _containers(v)]
    return []


def test_every_shipped_torchserve_has_token_auth_on():
    envs = torchserve_envs()
    assert {"compose", "k8s/torchserve", "kserve/torchserve"} <= set(envs), envs.keys()
    for where, env in envs.items():
        assert env.get("OCRSERVE_TS_TOKEN_AUTH", "true").lower() not in ("0", "false", "no", "off"), where
        assert rendered(env)["disable_token_authorization"] == "false", where


@pytest.mark.parametrize("path", sorted(DEPLOY.glob("config.properties*")), ids=lambda p: p.name)
def test_every_committed_config_properties_has_token_auth_on(path):
    props = render_config.parse(path.read_text())
    assert props["disable_token_authorization"] == "false"
    assert "0.0.0.0" not in props["management_address"]


def test_compose_gateway_reads_the_keys_torchserve_writes():
    services = yaml.safe_load((DOCKER / "compose.yaml").read_text())["services"]
    run_dir = services["torchserve"]["environment"]["OCRSERVE_RUN_DIR"]
    assert f"torchserve_keys:{run_dir}" in services["torchserve"]["volumes"]  # key_file.json is written there
    key_file = services["gateway"]["environment"]["OCRSERVE_TORCHSERVE_KEY_FILE"]
    mounts = {v.split(":")[1]: v.split(":")[0] for v in services["gateway"]["volumes"]}
    assert mounts[os.path.dirname(key_file)] == "torchserve_keys"


def test_compose_file_has_no_v2_only_keys():
    """Compose v1 refuses a top-level `name` (the project name is `-p ocrserve`)."""
    doc = yaml.safe_load((DOCKER / "compose.yaml").read_text())
    assert set(doc) <= {"services", "volumes", "networks", "configs", "secrets"}


def test_compose_v1_accepts_the_file():
    """`docker-compose config` (Compose v1, Debian's docker-compose 1.29: the only Compose these
    machines' registries offer) validates the file against its compose-spec schema; no daemon needed."""
    exe = shutil.which("docker-compose")
    if exe is None:
        pytest.skip("docker-compose (Compose v1) not installed: apt-get install docker-compose")
    env = clean_env(OCRSERVE_ADMIN_KEY="0123456789abcdef0123")
    env.pop("DOCKER_HOST", None)
    ok = subprocess.run([exe, "-p", "ocrserve", "-f", str(DOCKER / "compose.yaml"), "config", "-q"],
                        cwd=REPO, env=env, capture_output=True, text=True, timeout=60)
    assert ok.returncode == 0, ok.stderr
    env.pop("OCRSERVE_ADMIN_KEY")
    no_key = subprocess.run([exe, "-p", "ocrserve", "-f", str(DOCKER / "compose.yaml"), "config", "-q"],
                            cwd=REPO, env=env, capture_output=True, text=True, timeout=60)
    assert no_key.returncode != 0 and "OCRSERVE_ADMIN_KEY" in no_key.stderr
