"""The gateway's HTTP server: one set of uvicorn settings for `ocrserve run`, the gateway container
(docker/entrypoint-gateway.sh runs `python -m service.gateway.server`) and the test servers.

Every gateway gets the header timeout (service/gateway/http_protocol.py), the keep-alive timeout, a 10 s
graceful shutdown, no `server` header and JSON log lines. One process per gateway: scale with more
containers or `ocrserve run` instances (admission control, service/gateway/guards.py, counts per process).
Imports nothing that needs torch or TorchServe (the gateway image has neither).
"""
from __future__ import annotations

import argparse
import signal
import sys

import uvicorn
from pydantic import ValidationError

from service.gateway.http_protocol import protocol_with_header_timeout
from service.gateway.settings import Settings, load_settings


def _interrupt(signum, frame):  # noqa: ARG001 - signal handler signature
    raise KeyboardInterrupt


def stop_on_sigterm() -> None:
    """SIGTERM (`docker stop`, Kubernetes) ends the process like Ctrl-C: uvicorn shuts down
    gracefully, re-raises the signal when it is done, and the caller returns normally."""
    signal.signal(signal.SIGTERM, _interrupt)


def uvicorn_config(app, settings: Settings, host: str, port: int, **kwargs) -> uvicorn.Config:
    """The gateway's uvicorn settings: h11 with a header timeout, a keep-alive timeout, a bounded
    graceful shutdown, no server header; `kwargs` add to or override them."""
    options = {"timeout_graceful_shutdown": 10, "server_header": False} | kwargs
    return uvicorn.Config(app, host=host, port=port, http=protocol_with_header_timeout(settings.header_timeout_s),
                          timeout_keep_alive=settings.keep_alive_timeout_s, **options)


def describe(config: uvicorn.Config) -> str:
    """One line with what the server will do (the entrypoint's dry run prints it)."""
    return (f"uvicorn on {config.host}:{config.port}: header timeout {config.http.header_timeout_s:g} s, "
            f"keep-alive timeout {config.timeout_keep_alive:g} s, graceful shutdown "
            f"{config.timeout_graceful_shutdown} s, server header {'on' if config.server_header else 'off'}")


def serve(settings: Settings) -> None:
    """Run the gateway on settings.gateway_host:gateway_port until SIGINT/SIGTERM."""
    from service.gateway.main import create_app
    from service.gateway.observability import configure_json_logging

    configure_json_logging()
    config = uvicorn_config(create_app(settings), settings, settings.gateway_host, settings.gateway_port,
                            log_config=None, access_log=False)
    uvicorn.Server(config).run()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dry-run", action="store_true", help="print the server settings and exit")
    args = parser.parse_args(argv)
    try:
        settings = load_settings()
    except (ValidationError, ValueError) as exc:
        print(f"gateway: bad settings: {exc}", file=sys.stderr)
        return 2
    if args.dry_run:
        print(f"gateway: would run {describe(uvicorn_config(None, settings, settings.gateway_host, settings.gateway_port))}")
        return 0
    stop_on_sigterm()
    try:
        serve(settings)
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
