"""`ocrserve run`: TorchServe plus the gateway in the foreground; Ctrl-C or SIGTERM stops both."""
from __future__ import annotations

import os
import signal
import sys

import uvicorn

from service.main import create_app
from service.settings import Settings
from service.torchserve_process import TorchServe, TorchServeConfig
from service.zoo import REPO_ROOT, load_zoo

GATEWAY_HOST = os.environ.get("OCRSERVE_GATEWAY_HOST", "127.0.0.1")
GATEWAY_PORT = int(os.environ.get("OCRSERVE_GATEWAY_PORT", "8000"))


def _interrupt(signum, frame):  # noqa: ARG001 - signal handler signature
    raise KeyboardInterrupt


def run_service(token_auth: bool = False, models: list[str] | None = None) -> int:
    """Start both servers, block until interrupted, then stop both; returns an exit code."""
    settings = Settings()
    zoo = load_zoo(settings.zoo_path)
    names = models or zoo.default_names()
    for name in names:
        zoo.get(name)
    config = TorchServeConfig(model_store=settings.model_store, run_dir=REPO_ROOT / "run" / "torchserve",
                              models=names, token_auth=token_auth)
    torchserve = TorchServe(config)
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        print(f"ocrserve: starting TorchServe with {', '.join(names)} ...", flush=True)
        torchserve.start()
        torchserve.wait_ready()
        settings = settings.model_copy(update={"torchserve_key_file": config.key_file if token_auth else None})
        print(f"ocrserve: TorchServe inference  {config.inference_url}\n"
              f"ocrserve: TorchServe management {config.management_url}\n"
              f"ocrserve: TorchServe metrics    http://127.0.0.1:{config.metrics_port}\n"
              f"ocrserve: gateway               http://{GATEWAY_HOST}:{GATEWAY_PORT}  (docs: /docs)\n"
              f"ocrserve: logs in {config.run_dir / 'logs'}; Ctrl-C stops everything", flush=True)
        server = uvicorn.Server(uvicorn.Config(create_app(settings), host=GATEWAY_HOST, port=GATEWAY_PORT,
                                               log_level="info", timeout_graceful_shutdown=10))
        server.run()
    except KeyboardInterrupt:
        pass
    except (RuntimeError, TimeoutError) as exc:
        print(f"ocrserve: {exc}", file=sys.stderr)
        return 1
    finally:
        print("ocrserve: stopping TorchServe ...", flush=True)
        torchserve.stop()
        print("ocrserve: stopped", flush=True)
    return 0
