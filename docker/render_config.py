#!/usr/bin/env python3
"""Render TorchServe's config.properties for a container or pod from OCRSERVE_* environment variables.

The properties themselves come from service.runner.torchserve_config() and
service.torchserve_process.TorchServeConfig.properties() (the same code `ocrserve run` uses);
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

Usage: render_config.py [--out FILE] [--check-store]   (prints to stdout without --out)
"""
from __future__ import annotations

import argparse
import ipaddress
import math
import os
import socket
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from service.runner import torchserve_config  # noqa: E402  (after the sys.path line)
from service.settings import Settings  # noqa: E402
from service.zoo import load_zoo  # noqa: E402

_MB = 1024 * 1024
PROFILES = ("dev", "prod")


class ConfigError(ValueError):
    """A setting that must not go into a deployed TorchServe."""


def _host(value: str, what: str) -> str:
    """127.0.0.1, a concrete address, or `pod-ip`; never a wildcard."""
    value = value.strip()
    if value == "pod-ip":
        value = os.environ.get("POD_IP") or socket.gethostbyname(socket.gethostname())
    try:
        address = ipaddress.ip_address(value.strip("[]"))
    except ValueError:
        raise ConfigError(f"{what}: {value!r} is not an IP address (use 127.0.0.1, an address or pod-ip)") from None
    if address.is_unspecified:
        raise ConfigError(f"{what}: {value} listens on every interface; use 127.0.0.1 or the pod's address")
    return f"[{address}]" if address.version == 6 else str(address)


def _bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    if raw.lower() in ("1", "true", "yes", "on"):
        return True
    if raw.lower() in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{name}={raw!r} is not a boolean")


def max_request_mb(max_upload_bytes: int) -> int:
    """TorchServe's request/response cap in MiB for the gateway's upload limit."""
    return max(1, math.ceil(2 * max_upload_bytes / _MB))


def render(environ: dict[str, str] | None = None) -> str:
    """config.properties text for the environment `environ` (default: os.environ)."""
    if environ is not None:
        saved = dict(os.environ)
        os.environ.clear()
        os.environ.update(environ)
    try:
        return _render()
    finally:
        if environ is not None:
            os.environ.clear()
            os.environ.update(saved)


def _render() -> str:
    profile = os.environ.get("OCRSERVE_PROFILE", "prod")
    if profile not in PROFILES:
        raise ConfigError(f"OCRSERVE_PROFILE={profile!r}: use one of {', '.join(PROFILES)}")
    if not _bool("OCRSERVE_TS_TOKEN_AUTH", True):
        raise ConfigError("TorchServe token auth cannot be turned off (its management API would answer "
                          f"without a key; profile {profile}): unset OCRSERVE_TS_TOKEN_AUTH")
    settings = Settings().model_copy(update={"ts_token_auth": True})
    names = [m.strip() for m in os.environ.get("OCRSERVE_TS_MODELS", "").split(",") if m.strip()]
    zoo = load_zoo(settings.zoo_path)
    names = names or zoo.default_names()
    for name in names:
        zoo.get(name)

    config = torchserve_config(settings, names)
    config.host = os.environ.get("OCRSERVE_TS_INFERENCE_HOST", "0.0.0.0").strip()
    if config.host != "0.0.0.0":
        config.host = _host(config.host, "OCRSERVE_TS_INFERENCE_HOST")
    config.max_request_mb = max_request_mb(settings.max_upload_bytes)
    text = config.properties()

    management = _host(os.environ.get("OCRSERVE_TS_MANAGEMENT_HOST", "127.0.0.1"), "OCRSERVE_TS_MANAGEMENT_HOST")
    metrics = _host(os.environ.get("OCRSERVE_TS_METRICS_HOST", "127.0.0.1"), "OCRSERVE_TS_METRICS_HOST")
    overrides = {
        "management_address": f"http://{management}:{config.management_port}",
        "metrics_address": f"http://{metrics}:{config.metrics_port}",
    }
    vmargs = os.environ.get("OCRSERVE_TS_VMARGS") or parse(text).get("vmargs", "")
    if log_config := os.environ.get("OCRSERVE_TS_LOG_CONFIG"):
        vmargs = f"{vmargs} -Dlog4j.configurationFile=file://{Path(log_config).resolve()}".strip()
    overrides["enable_model_api"] = str(_bool("OCRSERVE_TS_ENABLE_MODEL_API", True)).lower()
    extra = {
        "default_response_timeout": os.environ.get("OCRSERVE_TS_RESPONSE_TIMEOUT_S"),
        "vmargs": vmargs,
        "number_of_gpu": os.environ.get("OCRSERVE_TS_NUMBER_OF_GPU"),
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
    parser.add_argument("--check-store", action="store_true", help="fail when an archive to load is missing")
    args = parser.parse_args(argv)
    try:
        text = render()
    except (ConfigError, ValueError, KeyError) as exc:  # pydantic's ValidationError is a ValueError
        print(f"render_config: {exc}", file=sys.stderr)
        return 2
    if args.check_store and (missing := missing_archives(text)):
        print(f"render_config: not in the model store: {', '.join(missing)} "
              "(build them with `ocrserve archive --all` or mount the store)", file=sys.stderr)
        return 3
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
