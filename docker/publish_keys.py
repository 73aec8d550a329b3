#!/usr/bin/env python3
"""Copy TorchServe's key_file.json into a Kubernetes Secret whenever TorchServe (re)writes it.

TorchServe 0.12 makes its own keys (random, at start and on /token) and writes them to
key_file.json in its working directory; it cannot be given keys. A gateway in another pod reads
them from the Secret, mounted as a file (OCRSERVE_TORCHSERVE_KEY_FILE); on a refused key the
gateway re-reads that file, and the kubelet refreshes mounted Secrets within about a minute.
Each replica has keys of its own, so each publishes under its own item of the Secret
(`--item <pod name>.json`); the gateway lists one mounted file per replica.

Needs the pod's service account to be allowed `get`/`patch` on that one Secret (deploy/k8s/rbac.yaml).
Standard library only.

  publish_keys.py --key-file run/key_file.json --secret ocrserve-torchserve-keys [--item NAME.json]
                  [--once] [--dry-run]
"""
from __future__ import annotations

import argparse
import base64
import json
import os
import ssl
import sys
import time
import urllib.request
from pathlib import Path

SA = Path("/var/run/secrets/kubernetes.io/serviceaccount")


def patch_body(key_file: Path, item: str = "key_file.json") -> dict:
    """The strategic-merge patch that puts the key file into the Secret's `item` (other items stay)."""
    raw = key_file.read_bytes()
    json.loads(raw)  # refuse to publish a half-written file
    return {"data": {item: base64.b64encode(raw).decode()}}


def publish(key_file: Path, secret: str, item: str, namespace: str, dry_run: bool) -> None:
    body = json.dumps(patch_body(key_file, item)).encode()
    host = os.environ.get("KUBERNETES_SERVICE_HOST", "kubernetes.default.svc")
    port = os.environ.get("KUBERNETES_SERVICE_PORT", "443")
    url = f"https://{host}:{port}/api/v1/namespaces/{namespace}/secrets/{secret}"
    if dry_run:
        print(f"publish_keys: would PATCH {url} item {item} with keys {sorted(json.loads(key_file.read_text()))}")
        return
    token = (SA / "token").read_text().strip()
    context = ssl.create_default_context(cafile=str(SA / "ca.crt"))
    request = urllib.request.Request(url, data=body, method="PATCH", headers={
        "Authorization": f"Bearer {token}", "Content-Type": "application/strategic-merge-patch+json"})
    with urllib.request.urlopen(request, context=context, timeout=10) as response:
        response.read()
    print(f"publish_keys: {secret}/{item} updated", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--key-file", type=Path, required=True)
    parser.add_argument("--secret", required=True)
    parser.add_argument("--item", default="key_file.json",
                        help="data key of the Secret to write (one per replica, e.g. <pod name>.json)")
    parser.add_argument("--namespace", default=None)
    parser.add_argument("--once", action="store_true", help="publish once (after waiting for the file)")
    parser.add_argument("--dry-run", action="store_true", help="print what would be sent; no API call")
    parser.add_argument("--wait-s", type=float, default=600.0, help="how long to wait for the file")
    args = parser.parse_args(argv)
    namespace = args.namespace
    if namespace is None:
        ns_file = SA / "namespace"
        namespace = ns_file.read_text().strip() if ns_file.exists() else "default"
    deadline = time.monotonic() + args.wait_s
    last = None
    while True:
        try:
            stamp = args.key_file.stat().st_mtime_ns
        except FileNotFoundError:
            stamp = None
        if stamp is None and last is None and time.monotonic() > deadline:
            print(f"publish_keys: {args.key_file} did not appear", file=sys.stderr)
            return 1
        if stamp is not None and stamp != last:
            try:
                publish(args.key_file, args.secret, args.item, namespace, args.dry_run)
                last = stamp
            except (OSError, ValueError) as exc:  # half-written file, API hiccup: try again
                print(f"publish_keys: {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
            if args.once and last is not None:
                return 0
        time.sleep(0.2 if last is None else 2.0)


if __name__ == "__main__":
    sys.exit(main())
