"""The native KIE package must not pull in any OpenMMLab package (nor torchvision)."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[4]


def test_importing_building_and_running_needs_no_openmmlab_package():
    code = (
        "import sys, torch\n"
        "import service.tooling.evaluation.kie_metrics, handlers.families.kie.roi_pool\n"
        "import handlers.families.kie.preprocess, handlers.families.kie.text_encoding\n"
        "from handlers.families.kie.sdmgr import DEFAULT_CFGS, build_sdmgr\n"
        "b = torch.tensor([[1., 2., 30., 20.], [5., 25., 60., 40.]])\n"
        "for name in DEFAULT_CFGS:\n"
        "    build_sdmgr(name).predict(torch.zeros(1, 3, 64, 64), [b], [['ab', 'c d']])\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in "
        "{'mmcv', 'mmdet', 'mmengine', 'mmocr', 'torchvision'})\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120, cwd=REPO)
