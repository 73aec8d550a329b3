#!/usr/bin/env bash
# Optional set-up for the web page's browser tests and for /visualize's text: Debian's headless-capable
# Chromium (driven by Playwright's Python package through executable_path; Playwright's own browser
# download is never used) and a font covering Latin and CJK. Needs root + apt; without them the browser
# tests skip with the reason and /visualize draws with DejaVu (CJK text then shows as empty boxes).
set -euo pipefail

want=()
command -v chromium >/dev/null 2>&1 || want+=(chromium)
[ -f /usr/share/fonts/truetype/wqy/wqy-zenhei.ttc ] || [ -f /usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc ] \
    || want+=(fonts-wqy-zenhei)
[ ${#want[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "setup: not installing ${want[*]} (needs root and apt-get): the browser tests will skip" >&2
    exit 0
fi
echo "setup: installing ${want[*]} (browser tests, /visualize fonts)"
apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${want[@]}" >/dev/null \
    || echo "setup: could not install ${want[*]}: the browser tests will skip" >&2
