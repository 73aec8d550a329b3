"""The native MMOCR detectors must not pull in any OpenMMLab package."""
from __future__ import annotations

import subprocess
import sys


def test_importing_and_building_needs_no_openmmlab_package():
    code = (
        "import sys\n"
        "from handlers.families.mmocr import build_model, MODEL_BUILDERS\n"
        "for name in MODEL_BUILDERS: build_model(name)\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in "
        "{'mmcv', 'mmdet', 'mmengine', 'mmocr'})\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
