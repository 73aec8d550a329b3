"""`ocrserve run`: TorchServe plus the gateway in the foreground; Ctrl-C or SIGTERM stops both."""
from __future__ import annotations

import sys

from handlers.api.settings import WorkerSettings
from service.tooling.launch.accel import number_of_gpu
from service.gateway.server import serve, stop_on_sigterm
from service.gateway.settings import Settings, load_settings
from service.tooling.launch.supervisor import Supervisor
from service.tooling.packaging.archive import refresh_stale
from service.tooling.launch.torchserve_process import TorchServe, TorchServeConfig, max_request_mb
from service.gateway.zoo import load_zoo


def workers_env(settings: Settings) -> dict[str, str]:
    """The workers' environment for these gateway settings (read back by handlers/api/settings.py)."""
    return WorkerSettings(max_pixels=settings.max_pixels, threads=settings.threads).to_env()


def torchserve_config(settings: Settings, models: list[str]) -> TorchServeConfig:
    """TorchServe's configuration as `ocrserve run` (see run_settings) and the container
    renderer derive it from the settings; the workers get the gateway's image limit."""
    return TorchServeConfig(
        model_store=settings.model_store, run_dir=settings.run_dir / "torchserve", models=models,
        inference_port=settings.ts_inference_port, management_port=settings.ts_management_port,
        metrics_port=settings.ts_metrics_port, grpc_inference_port=settings.ts_grpc_inference_port,
        grpc_management_port=settings.ts_grpc_management_port, token_auth=settings.ts_token_auth,
        token_expiration_min=settings.ts_token_expiration_min,
        workers_env=workers_env(settings),
        max_request_mb=max_request_mb(settings.max_upload_bytes),
        number_of_gpu=number_of_gpu(settings.device))


def _banner(settings: Settings, config: TorchServeConfig) -> str:
    return (f"ocrserve: TorchServe inference  {config.inference_url}\n"
            f"ocrserve: TorchServe management {config.management_url}\n"
            f"ocrserve: TorchServe metrics    http://127.0.0.1:{config.metrics_port}\n"
            f"ocrserve: gateway               http://{settings.gateway_host}:{settings.gateway_port}"
            "  (API docs at /docs)\n"
            + (f"ocrserve: TorchServe token auth is on; keys in {config.key_file}\n" if config.token_auth else "")
            + f"ocrserve: logs in {config.run_dir / 'logs'}; Ctrl-C stops everything")


def run_settings(settings: Settings) -> Settings:
    """`ocrserve run` always turns TorchServe's token auth on: TorchServe has one switch for both
    APIs, and its management API (which loads model code) must never answer without a key, even
    on loopback. The gateway holds the keys."""
    return settings.model_copy(update={"ts_token_auth": True})


def run_service(token_auth: bool | None = None, models: list[str] | None = None) -> int:  # noqa: ARG001
    """Start both servers, block until interrupted, then stop both; returns an exit code.
    `token_auth` is kept for old callers: token auth is always on (run_settings)."""
    settings = run_settings(load_settings())
    zoo = load_zoo(settings.zoo_path)
    names = models or zoo.default_names()
    for name in names:
        zoo.get(name)
    missing = [name for name in names if not (settings.model_store / f"{name}.mar").is_file()]
    if missing:
        print(f"ocrserve: no archive for {', '.join(missing)} in {settings.model_store}: build them with "
              f"`ocrserve archive {' '.join(missing)}` (make run does it for the defaults)", file=sys.stderr)
        return 1
    rebuilt = refresh_stale([zoo.get(name) for name in names], settings.model_store)
    if rebuilt:
        print(f"ocrserve: rebuilt {', '.join(rebuilt)}: built for other handler code or zoo entries", flush=True)
    config = torchserve_config(settings, names)
    settings = Settings.model_validate({
        **settings.model_dump(), "inference_url": [config.inference_url],
        "management_url": [config.management_url], "ready_models": models or settings.ready_models,
        "torchserve_key_file": config.key_file if config.token_auth else None})
    torchserve = TorchServe(config)
    supervisor = Supervisor(torchserve)
    stop_on_sigterm()
    try:
        print(f"ocrserve: starting TorchServe with {', '.join(names)} ...", flush=True)
        torchserve.start()
        torchserve.wait_ready()
        supervisor.start()
        print(_banner(settings, config), flush=True)
        serve(settings)  # the same server settings as the gateway container
    except KeyboardInterrupt:
        pass
    except (RuntimeError, TimeoutError) as exc:
        print(f"ocrserve: {exc}", file=sys.stderr)
        return 1
    finally:
        print("ocrserve: stopping TorchServe ...", flush=True)
        supervisor.stop()
        print("ocrserve: stopped", flush=True)
    return 0
