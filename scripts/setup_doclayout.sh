#!/usr/bin/env bash
# DejaVu fonts: the searchable PDF's text layer (service/gateway/formats/pdf.py) and the generated test
# pages (service/tooling/synth/pages.py) use them. Debian's fonts-dejavu-core; installed only when missing.
set -euo pipefail
if [ ! -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ]; then
    if [ "$(id -u)" = 0 ]; then
        echo "setup: installing fonts-dejavu-core (PDF output, generated test pages)"
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fonts-dejavu-core >/dev/null
    else
        echo "setup: fonts-dejavu-core is missing and this user cannot install it (PDF output needs it)" >&2
    fi
fi
