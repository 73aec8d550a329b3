"""docker/compose.host.yaml, the compose stack for hosts that allow host networking only (these
machines; tests/deploy/test_images.py runs it): host networking everywhere, every port on
127.0.0.1 and from the environment, token auth on, and otherwise the same services as
docker/compose.yaml (what users on normal Docker run), so that the two cannot drift apart."""
from __future__ import annotations

import copy
import re
import shutil
import subprocess

import pytest
import yaml

from tests.deploy.conftest import DOCKER, REPO, clean_env
from tests.deploy.test_shipped_auth import rendered

# what the host file may set differently: how the containers are reached, which image runs
NETWORK_KEYS = {"network_mode", "ports", "expose", "networks", "deploy", "image", "build"}
NETWORK_ENV = re.compile(r"OCRSERVE_(TS_\w+_(HOST|PORT)|GATEWAY_(HOST|PORT)|INFERENCE_URL|MANAGEMENT_URL|THREADS)$")


def load(name: str) -> dict:
    return yaml.safe_load((DOCKER / name).read_text())


def defaults(value) -> str:
    """A compose value with each ${VAR:-default} replaced by its default (what runs when unset)."""
    return re.sub(r"\$\{\w+:-([^}]*)\}", r"\1", str(value))


def differences(default: dict, host: dict) -> list[str]:
    """Where the host file's services differ from the default file's beyond the networking keys."""
    found = []
    if set(default["services"]) != set(host["services"]) or set(default.get("volumes", {})) != set(host.get("volumes", {})):
        found.append("services or volumes")
    for name, base in default["services"].items():
        other = host["services"].get(name, {})
        for key in (set(base) | set(other)) - NETWORK_KEYS - {"environment", "healthcheck"}:
            if base.get(key) != other.get(key):
                found.append(f"{name}.{key}")
        env, other_env = base.get("environment", {}), other.get("environment", {})
        for key in set(env) | set(other_env):
            if not NETWORK_ENV.match(key) and env.get(key) != other_env.get(key):
                found.append(f"{name}.environment.{key}")
        check, other_check = base.get("healthcheck", {}), other.get("healthcheck", {})
        for key in set(check) | set(other_check):
            if key != "interval" and (key != "test" or name != "gateway") and check.get(key) != other_check.get(key):
                found.append(f"{name}.healthcheck.{key}")
    return found


def test_the_host_file_is_the_default_stack_but_for_networking():
    assert differences(load("compose.yaml"), load("compose.host.yaml")) == []


def test_a_drifted_host_file_is_caught():
    host = load("compose.host.yaml")
    for change in (lambda d: d["services"]["gateway"]["environment"].update(OCRSERVE_MAX_UPLOAD_BYTES="1"),
                   lambda d: d["services"]["torchserve"]["environment"].pop("OCRSERVE_PROFILE"),
                   lambda d: d["services"]["torchserve"]["healthcheck"].update(retries=9),
                   lambda d: d["services"]["gateway"].pop("depends_on")):
        drifted = copy.deepcopy(host)
        change(drifted)
        assert differences(load("compose.yaml"), drifted), change


def test_host_networking_only_and_every_port_on_loopback():
    services = load("compose.host.yaml")["services"]
    for name, service in services.items():
        assert service["network_mode"] == "host", name
        assert not {"ports", "expose", "networks", "deploy"} & set(service), name
        assert service["build"]["network"] == "host", name
    ts, gw = services["torchserve"]["environment"], services["gateway"]["environment"]
    for key in ("OCRSERVE_TS_INFERENCE_HOST", "OCRSERVE_TS_MANAGEMENT_HOST", "OCRSERVE_TS_METRICS_HOST"):
        assert ts[key] == "127.0.0.1", key
    assert defaults(gw["OCRSERVE_GATEWAY_HOST"]) == "127.0.0.1"
    ports = {key: value for key, value in ts.items() if key.endswith("_PORT")}
    assert len(ports) == 5 and all(value.startswith(f"${{{key}:-") for key, value in ports.items())
    # the gateway reaches TorchServe through the same variables, on loopback
    assert gw["OCRSERVE_INFERENCE_URL"] == "http://127.0.0.1:${OCRSERVE_TS_INFERENCE_PORT:-8080}"
    assert gw["OCRSERVE_MANAGEMENT_URL"] == "http://127.0.0.1:${OCRSERVE_TS_MANAGEMENT_PORT:-8081}"
    assert "OCRSERVE_GATEWAY_PORT" in " ".join(services["gateway"]["healthcheck"]["test"])


def test_torchserve_of_the_host_file_renders_with_token_auth_and_private_management():
    env = {k: defaults(v) for k, v in load("compose.host.yaml")["services"]["torchserve"]["environment"].items()
           if v is not None}
    props = rendered(env)
    assert props["disable_token_authorization"] == "false"
    assert props["management_address"] == "http://127.0.0.1:8081"
    assert props["inference_address"] == "http://127.0.0.1:8080"


def test_compose_v1_renders_the_host_file():
    """`docker-compose config` (Compose v1 1.29, Debian's and PyPI's: the only Compose these
    machines' registries have) accepts the file, resolves the ports from the environment, and
    refuses to start without an admin key. No daemon needed (compose.yaml: test_shipped_auth.py)."""
    exe = shutil.which("docker-compose")
    if exe is None:
        pytest.skip("docker-compose (Compose v1) not installed: apt-get install docker-compose")
    env = clean_env(OCRSERVE_ADMIN_KEY="0123456789abcdef0123", OCRSERVE_TS_MANAGEMENT_PORT="18081",
                    OCRSERVE_GATEWAY_PORT="18000")
    env.pop("DOCKER_HOST", None)
    command = [exe, "-p", "ocrserve", "-f", str(DOCKER / "compose.host.yaml"), "config"]
    out = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    services = yaml.safe_load(out.stdout)["services"]
    assert {s["network_mode"] for s in services.values()} == {"host"}
    assert services["gateway"]["environment"]["OCRSERVE_MANAGEMENT_URL"] == "http://127.0.0.1:18081"
    assert services["gateway"]["environment"]["OCRSERVE_GATEWAY_PORT"] == "18000"
    env.pop("OCRSERVE_ADMIN_KEY")
    no_key = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=60)
    assert no_key.returncode != 0 and "OCRSERVE_ADMIN_KEY" in no_key.stderr
