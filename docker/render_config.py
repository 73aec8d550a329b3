#!/usr/bin/env python3
"""Render TorchServe's config.properties for a container or pod from OCRSERVE_* environment variables.

The properties themselves come from service.tooling.launch.runner.torchserve_config() and
service.tooling.launch.torchserve_process.TorchServeConfig.properties() (the same code `ocrserve run` uses);
this script only adds what differs in a container:

* the inference API listens on OCRSERVE_TS_INFERENCE_HOST (default 0.0.0.0: the container's
  network is the boundary);
* the management and metrics APIs listen on OCRSERVE_TS_MANAGEMENT_HOST / OCRSERVE_TS_METRICS_HOST:
  127.0.0.1 (default), a pod or container address, or `pod-ip` (POD_IP from the Kubernetes
  downward API, else this host name's address). 0.0.0.0 and :: are refused;
* token auth is on in every profile (dev and prod) and OCRSERVE_TS_TOKEN_AUTH=false is refused:
  TorchServe has one switch for both APIs, and its management API (which loads model code) must
  never answer without a key, as under `ocrserve run` (service/runner.run_settings);
* max_request_size / max_response_size follow the gateway's upload limit (OCRSERVE_MAX_UPLOAD_BYTES):
  twice the limit in whole MiB, because recognition requests carry the crops base64-encoded (4/3)
  inside multipart or JSON bodies; the detector request is the upload itself plus form fields;
* OCRSERVE_TS_MODELS (comma-separated) picks the models loaded at start (default: the zoo's defaults);
* OCRSERVE_TS_ENABLE_MODEL_API (default true: the gateway's /models routes register and unregister
  archives; false where nothing manages models, e.g. KServe);
* OCRSERVE_TS_LOG_CONFIG: a log4j2.xml (deploy/log4j2.xml) passed to the frontend's JVM;
* OCRSERVE_TS_VMARGS, OCRSERVE_TS_RESPONSE_TIMEOUT_S, OCRSERVE_TS_NUMBER_OF_GPU: passed through.
Per-model workers, batch size and timeouts come from each archive's model-config (model_store/zoo.yaml).
The gateway settings come from the environment and the file OCRSERVE_ENV_FILE names (as for the
gateway); `--workers-env` prints what the workers must find in their environment (OCRSERVE_MAX_PIXELS,
OCRSERVE_THREADS), which the entrypoint exports. The process environment is only read, never changed.

Usage: render_config.py [--out FILE] [--check-store] [--workers-env | --workers-env-out FILE]
(prints to stdout without --out)
"""
from __future__ import annotations

import argparse
import ipaddress
import os
import socket
import sys
from collections.abc import Mapping
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from service.tooling.launch.runner import torchserve_config, workers_env  # noqa: E402  (after the sys.path line)
from service.gateway.settings import Settings, settings_from  # noqa: E402  (Settings: the return type)
from service.gateway.zoo import load_zoo  # noqa: E402

PROFILES = ("dev", "prod")


class ConfigError(ValueError):
    """A setting that must not go into a deployed TorchServe."""


def _host(value: str, what: str, environ: Mapping[str, str]) -> str:
    """127.0.0.1, a concrete address, or `pod-ip`; never a wildcard."""
    value = value.strip()
    if value == "pod-ip":
        value = environ.get("POD_IP") or socket.gethostbyname(socket.gethostname())
    try:
        address = ipaddress.ip_address(value.strip("[]"))
    except ValueError:
        raise ConfigError(f"{what}: {value!r} is not an IP address (use 127.0.0.1, an address or pod-ip)") from None
    if address.is_unspecified:
        raise ConfigError(f"{what}: {value} listens on every interface; use 127.0.0.1 or the pod's address")
    return f"[{address}]" if address.version == 6 else str(address)


def _bool(environ: Mapping[str, str], name: str, default: bool) -> bool:
    raw = environ.get(name)
    if raw is None or raw == "":
        return default
    if raw.lower() in ("1", "true", "yes", "on"):
        return True
    if raw.lower() in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{name}={raw!r} is not a boolean")


def deployed_settings(environ: Mapping[str, str]) -> Settings:
    """The gateway settings `environ` (and the OCRSERVE_ENV_FILE it names) describe, with the
    profile's token-auth rule applied."""
    profile = environ.get("OCRSERVE_PROFILE", "prod")
    if profile not in PROFILES:
        raise ConfigError(f"OCRSERVE_PROFILE={profile!r}: use one of {', '.join(PROFILES)}")
    if not _bool(environ, "OCRSERVE_TS_TOKEN_AUTH", True):
        raise ConfigError("TorchServe token auth cannot be turned off (its management API would answer "
                          f"without a key; profile {profile}): unset OCRSERVE_TS_TOKEN_AUTH")
    return settings_from(environ).model_copy(update={"ts_token_auth": True})


def render_workers_env(environ: Mapping[str, str] | None = None) -> str:
    """KEY=VALUE lines the entrypoint exports for the workers (handlers/api/settings.py reads them)."""
    settings = deployed_settings(os.environ if environ is None else environ)
    return "".join(f"{key}={value}\n" for key, value in workers_env(settings).items())


def render(environ: Mapping[str, str] | None = None) -> str:
    """config.properties text for the environment `environ` (default: os.environ, only read)."""
    environ = os.environ if environ is None else environ
    profile = environ.get("OCRSERVE_PROFILE", "prod")
    settings = deployed_settings(environ)
    names = [m.strip() for m in environ.get("OCRSERVE_TS_MODELS", "").split(",") if m.strip()]
    zoo = load_zoo(settings.zoo_path)
    names = names or zoo.default_names()
    for name in names:
        zoo.get(name)

    config = torchserve_config(settings, names)
    config.host = environ.get("OCRSERVE_TS_INFERENCE_HOST", "0.0.0.0").strip()
    if config.host != "0.0.0.0":
        config.host = _host(config.host, "OCRSERVE_TS_INFERENCE_HOST", environ)
    text = config.properties()

    management = _host(environ.get("OCRSERVE_TS_MANAGEMENT_HOST", "127.0.0.1"), "OCRSERVE_TS_MANAGEMENT_HOST", environ)
    metrics = _host(environ.get("OCRSERVE_TS_METRICS_HOST", "127.0.0.1"), "OCRSERVE_TS_METRICS_HOST", environ)
    overrides = {
        "management_address": f"http://{management}:{config.management_port}",
        "metrics_address": f"http://{metrics}:{config.metrics_port}",
    }
    vmargs = environ.get("OCRSERVE_TS_VMARGS") or parse(text).get("vmargs", "")
    if log_config := environ.get("OCRSERVE_TS_LOG_CONFIG"):
        vmargs = f"{vmargs} -Dlog4j.configurationFile=file://{Path(log_config).resolve()}".strip()
    overrides["enable_model_api"] = str(_bool(environ, "OCRSERVE_TS_ENABLE_MODEL_API", True)).lower()
    extra = {
        "default_response_timeout": environ.get("OCRSERVE_TS_RESPONSE_TIMEOUT_S"),
        "vmargs": vmargs,
        "number_of_gpu": environ.get("OCRSERVE_TS_NUMBER_OF_GPU"),
    }
    overrides.update({k: v for k, v in extra.items() if v})
    lines, seen = [], set()
    for line in text.splitlines():
        key = line.split("=", 1)[0]
        seen.add(key)
        lines.append(f"{key}={overrides[key]}" if key in overrides else line)
    lines += [f"{k}={v}" for k, v in overrides.items() if k not in seen]
    header = f"# rendered by docker/render_config.py (profile {profile}); do not edit, re-render\n"
    return header + "\n".join(lines) + "\n"


def parse(text: str) -> dict[str, str]:
    """config.properties text -> dict (comments and blank lines skipped)."""
    out = {}
    for line in text.splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            out[key.strip()] = value.strip()
    return out


def missing_archives(text: str) -> list[str]:
    """Archives named in load_models that are not in model_store."""
    props = parse(text)
    store = Path(props["model_store"])
    wanted = [item.split("=", 1)[-1] for item in props.get("load_models", "").split(",") if item]
    return [mar for mar in wanted if not (store / mar).is_file()]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, help="write here instead of stdout")
    parser.add_argument("--check-store", action="store_true",
                        help="exit 3 when an archive to load is missing (after writing --out)")
    parser.add_argument("--workers-env", action="store_true",
                        help="print the workers' environment (KEY=VALUE lines) instead of the config")
    parser.add_argument("--workers-env-out", type=Path,
                        help="also write the workers' environment to this file (one start of Python for the entrypoint)")
    args = parser.parse_args(argv)
    try:
        text = render_workers_env() if args.workers_env else render()
        workers = render_workers_env() if args.workers_env_out else None
    except (ConfigError, ValueError, KeyError) as exc:  # pydantic's ValidationError is a ValueError
        print(f"render_config: {exc}", file=sys.stderr)
        return 2
    for path, content in ((args.out, text), (args.workers_env_out, workers)):
        if path:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(content)
    if not args.out:
        sys.stdout.write(text)
    if args.check_store and not args.workers_env and (missing := missing_archives(text)):
        print(f"render_config: not in the model store: {', '.join(missing)} "
              "(build them with `ocrserve archive --all` or mount the store)", file=sys.stderr)
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(main())
