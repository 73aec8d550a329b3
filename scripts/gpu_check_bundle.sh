#!/usr/bin/env bash
# What scripts/gpu_check.py needs on a lent GPU machine (Python 3.12, a CUDA torch, numpy, OpenCV,
# pyyaml, httpx, prometheus-client and pytest, nothing else of requirements.txt, no internet, and
# no ../shared): the cp312 wheels of the other imports at this checkout's pins, and the part of
# ../shared it reads (oracle weights of the checked configs, 100 IC15 photos, the word crops and
# the WildReceipt toy receipts). Into $1 (default .gpu-bundle/, git-ignored); about 22 MB.
# Then, on the GPU machine, with .gpu-bundle carried:
#   python3 -m pip install -q --no-index --no-deps --target /tmp/site .gpu-bundle/wheels/*.whl &&
#     PYTHONPATH=/tmp/site:$PWD python3 scripts/gpu_check.py --shared .gpu-bundle/shared
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-.gpu-bundle}
shared=${OCRSERVE_SHARED:-../shared}
PY=${PYTHON:-.venv/bin/python}
pin() { # requirements.txt's pin, else the version installed here
    grep -i "^$1==" requirements.txt || echo "$1==$("$PY" -c "import importlib.metadata as m; print(m.version('$1'))")"
}
mkdir -p "$out/wheels" "$out/shared/oracle/models" "$out/shared/oracle/tools" "$out/shared/data/icdar2015_train/images" \
    "$out/shared/data/mmocr/main"
"$PY" -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
    -d "$out/wheels" $(for p in shapely pyclipper pydantic pydantic-core annotated-types typing-inspection \
                         starlette python-multipart; do pin "$p"; done) 2>&1 | { grep -v '^WARNING: Location' || true; }
archs=$(PYTHONPATH=$PWD "$PY" -c "import importlib.util as u; s = u.spec_from_file_location('g', 'scripts/gpu_check.py'); \
print(' '.join(sorted(set(open(s.origin).read().split('DETECTORS = [')[1].split(']')[0].replace('\"', ' ').replace(',', ' ').split() \
+ open(s.origin).read().split('RECOGNISERS = [')[1].split(']')[0].replace('\"', ' ').replace(',', ' ').split()))))")
for arch in $archs; do cp "$shared/oracle/models/$arch".{keys.txt,buffers.pt} "$out/shared/oracle/models/"; done
cp "$shared/oracle/tools/oracle_weights.py" "$out/shared/oracle/tools/"
for i in $(seq 1 100); do cp "$shared/data/icdar2015_train/images/img_$i.jpg" "$out/shared/data/icdar2015_train/images/"; done
cp -r "$shared/data/mmocr/main/rec_toy_dataset" "$shared/data/mmocr/main/kie_toy_dataset" "$out/shared/data/mmocr/main/"
rm -rf "$out/shared/data/mmocr/main/rec_toy_dataset/"*.lmdb
du -sh "$out" "$out/wheels" "$out/shared"
