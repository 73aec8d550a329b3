#!/usr/bin/env bash
# A CJK font for the NER tests that render a Chinese line for /ocr?ner (tests/handlers/families/ner/_render.py);
# without it those tests skip with a reason. Needs root; never fatal.
set -u
FONT=/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc
[ -f "$FONT" ] && exit 0
if [ "$(id -u)" = 0 ]; then
    echo "setup: installing fonts-wqy-zenhei (NER tests)"
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fonts-wqy-zenhei >/dev/null; } \
        || echo "setup: fonts-wqy-zenhei not installed (the /ocr?ner tests will skip)"
else
    echo "setup: no CJK font and not root: the /ocr?ner tests will skip (apt-get install fonts-wqy-zenhei)"
fi
exit 0
