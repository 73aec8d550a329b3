#!/usr/bin/env bash
# Optional: Tesseract for the tesseract-det / tesseract-rec models (issue 15). Debian's tesseract-ocr
# and tesseract-ocr-eng provide the traineddata (/usr/share/tesseract-ocr/5/tessdata); the engine
# itself comes with the pinned tesserocr wheel (requirements.txt). More languages: apt-get install
# tesseract-ocr-<lang> (e.g. tesseract-ocr-deu). Without them the Tesseract models are skipped by
# `ocrserve archive --all` and their tests skip; nothing else changes.
set -uo pipefail

log() { printf 'setup: %s\n' "$*"; }

if [ -f /usr/share/tesseract-ocr/5/tessdata/eng.traineddata ]; then
    exit 0
fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    log "installing Tesseract's language data (tesseract-ocr, tesseract-ocr-eng)"
    if apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq tesseract-ocr tesseract-ocr-eng >/dev/null; then
        exit 0
    fi
fi
log "Tesseract NOT installed (needs root and apt-get: apt-get install tesseract-ocr tesseract-ocr-eng);" \
    "the tesseract-det / tesseract-rec models are skipped"
exit 0
