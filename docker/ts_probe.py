#!/usr/bin/env python3
"""Health probe of a TorchServe container, for Docker HEALTHCHECK, compose and Kubernetes exec probes.

  ts_probe.py live    GET /ping on the inference API (with the inference key: TorchServe 0.12
                      answers 400 to an unauthenticated /ping when token auth is on)
  ts_probe.py ready   every model of load_models (or --models) has all its workers READY, asked
                      of the management API with the management key

Addresses, the model list and token auth are read from the rendered config.properties
(--config, default $OCRSERVE_RUN_DIR/config.properties); the keys from key_file.json next to it
(TorchServe writes it into its working directory). Exit 0 = healthy, 1 = not, printing why.
Standard library only, so it runs in any image.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import urllib.error
import urllib.request
from pathlib import Path


def _props(path: Path) -> dict[str, str]:
    out = {}
    for line in path.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            out[key.strip()] = value.strip()
    return out


def _local(url: str) -> str:
    """A wildcard listen address is reached through loopback."""
    return url.replace("://0.0.0.0:", "://127.0.0.1:")


def _get(url: str, key: str | None, timeout: float) -> tuple[int, bytes]:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {key}"} if key else {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def check(mode: str, config: Path, models: list[str] | None = None, timeout: float = 5.0) -> tuple[bool, str]:
    props = _props(config)
    keys = None
    if props.get("disable_token_authorization", "false") != "true":
        key_file = config.parent / "key_file.json"
        try:
            keys = json.loads(key_file.read_text())
        except (OSError, ValueError) as exc:
            return False, f"token auth is on and {key_file} is unreadable: {exc}"
    try:
        if mode == "live":
            key = keys["inference"]["key"] if keys else None
            status, body = _get(_local(props["inference_address"]) + "/ping", key, timeout)
            return status == 200, f"/ping: {status} {body[:200]!r}"
        names = models or [item.split("=", 1)[0] for item in props.get("load_models", "").split(",") if item]
        key = keys["management"]["key"] if keys else None
        problems = []
        for name in names:
            status, body = _get(f"{_local(props['management_address'])}/models/{name}", key, timeout)
            if status != 200:
                problems.append(f"{name}: HTTP {status}")
                continue
            workers = json.loads(body)[0].get("workers", [])
            states = [w.get("status") for w in workers]
            if not workers or any(s != "READY" for s in states):
                problems.append(f"{name}: workers {states or 'none'}")
        return not problems, "; ".join(problems) or f"ready: {', '.join(names)}"
    except (OSError, ValueError, KeyError, IndexError) as exc:
        return False, f"{mode}: {type(exc).__name__}: {exc}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", choices=["live", "ready"])
    run_dir = Path(os.environ.get("OCRSERVE_RUN_DIR", "/var/lib/ocrserve/run"))
    parser.add_argument("--config", type=Path, default=run_dir / "config.properties")
    parser.add_argument("--models", help="comma-separated; default: load_models of the config")
    parser.add_argument("--timeout", type=float, default=5.0)
    args = parser.parse_args(argv)
    models = [m for m in (args.models or "").split(",") if m] or None
    ok, message = check(args.mode, args.config, models, args.timeout)
    print(message)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
