"""Start real servers for tests: TorchServe on free loopback ports, the gateway in a thread."""
from __future__ import annotations

import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import httpx
import uvicorn

from service.gateway.main import create_app
from service.gateway.server import uvicorn_config
from service.gateway.settings import Settings
from service.tooling.launch.ports import free_port, free_ports
from service.tooling.launch.torchserve_process import TorchServe, TorchServeConfig
from service.gateway.zoo import REPO_ROOT


def torchserve_config(run_dir: Path, models: list[str], **kwargs) -> TorchServeConfig:
    return torch_serve_config_for_store(run_dir, REPO_ROOT / "model_store", models, **kwargs)


def torch_serve_config_for_store(run_dir: Path, store: Path, models: list[str], **kwargs) -> TorchServeConfig:
    """A TorchServe on free loopback ports serving `models` from `store`."""
    inference, management, metrics, grpc_inference, grpc_management = free_ports(5)
    return TorchServeConfig(model_store=store, run_dir=run_dir, models=models,
                            inference_port=inference, management_port=management, metrics_port=metrics,
                            grpc_inference_port=grpc_inference, grpc_management_port=grpc_management, **kwargs)


@contextmanager
def running_torchserves(*configs: TorchServeConfig) -> Iterator[list[TorchServe]]:
    """Start every TorchServe, then wait for all (they load in parallel); stop all on the way out."""
    servers = [TorchServe(config) for config in configs]
    try:
        for server in servers:
            server.start()
        for server in servers:
            server.wait_ready(timeout=240)
        yield servers
    finally:
        for server in servers:
            server.stop()


@contextmanager
def running_torchserve(config: TorchServeConfig) -> Iterator[TorchServe]:
    with running_torchserves(config) as (server,):
        yield server


def gateway_settings(config: TorchServeConfig, **overrides) -> Settings:
    values = {"inference_url": config.inference_url, "management_url": config.management_url,
              "torchserve_key_file": config.key_file if config.token_auth else None, **overrides}
    return Settings(**values)


def wait_healthy(url: str, timeout: float, alive=lambda: None, pause: float = 0.2) -> None:
    """Poll `url`/healthz until it answers 200; `alive()` raises (with the process's output) when
    the server being waited for has died."""
    deadline = time.monotonic() + timeout
    while True:
        alive()
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        assert time.monotonic() < deadline, f"{url} never came up"
        time.sleep(pause)


@contextmanager
def running_gateway(settings: Settings) -> Iterator[str]:
    """The gateway on a free port in a background thread; yields its base URL."""
    port = free_port()
    server = uvicorn.Server(uvicorn_config(create_app(settings), settings, "127.0.0.1", port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            httpx.get(f"{url}/healthz", timeout=1)
            break
        except httpx.HTTPError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)
    try:
        yield url
    finally:
        server.should_exit = True
        thread.join(15)
