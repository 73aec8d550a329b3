#!/usr/bin/env bash
# Gateway container entrypoint: validate the OCRSERVE_* settings (service/gateway/settings.py) and the
# zoo, then exec the gateway's server (service/gateway/server.py: the same uvicorn settings as
# `ocrserve run`, header and keep-alive timeouts included) on $OCRSERVE_GATEWAY_HOST:$OCRSERVE_GATEWAY_PORT
# (default 0.0.0.0:8000). One process per container: scale with replicas.
#
#   OCRSERVE_INFERENCE_URL / OCRSERVE_MANAGEMENT_URL   where TorchServe is (required in a container)
#   OCRSERVE_TORCHSERVE_KEY_FILE                       TorchServe's key_file.json (token auth; one per replica)
#   OCRSERVE_ADMIN_KEY                                 model-management routes (>= 16 characters)
#   OCRSERVE_DRY_RUN=1 or `--dry-run`                  validate, print the command, exit 0
set -euo pipefail

PYTHON=${PYTHON:-python3}
dry_run=${OCRSERVE_DRY_RUN:-0}
if [ "${1:-}" = "--dry-run" ]; then dry_run=1; shift; fi
# the container's network is the boundary; 127.0.0.1 with host networking (docker/images.py)
export OCRSERVE_GATEWAY_HOST=${OCRSERVE_GATEWAY_HOST:-0.0.0.0}
if [ "${OCRSERVE_GATEWAY_WORKERS:-1}" != 1 ]; then
    echo "entrypoint: OCRSERVE_GATEWAY_WORKERS=$OCRSERVE_GATEWAY_WORKERS: one gateway process per container (run more replicas)" >&2
    exit 2
fi

"$PYTHON" - <<'EOF'
import sys
from pydantic import ValidationError
from service.gateway.settings import Settings
from service.gateway.zoo import load_zoo
try:
    s = Settings()
    zoo = load_zoo(s.zoo_path)
except (ValidationError, ValueError, OSError) as exc:
    print(f"entrypoint: bad settings: {exc}", file=sys.stderr)
    sys.exit(2)
for key_file in s.torchserve_key_file:
    if not key_file.parent.is_dir():
        print(f"entrypoint: warning: {key_file.parent} does not exist (yet)", file=sys.stderr)
print(f"entrypoint: TorchServe {s.inference_url} / {s.management_url}; "
      f"key files {[str(k) for k in s.torchserve_key_file] or 'none (token auth off)'}; admin routes {'on' if s.admin_key else 'off'}; "
      f"defaults {', '.join(zoo.default_names())}")
EOF

cmd=("$PYTHON" -m service.gateway.server)
if [ "$dry_run" = 1 ]; then
    echo "entrypoint: dry run; would run: ${cmd[*]}"
    exec "${cmd[@]}" --dry-run
fi
exec "${cmd[@]}"
