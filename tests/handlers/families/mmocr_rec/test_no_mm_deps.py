import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[4]


def test_no_openmmlab_imports():
    code = ("import sys, handlers.families.mmocr_rec as m\n"
            "for n in m.available(): m.build_model(n)\n"
            "bad = [k for k in sys.modules if k.split('.')[0] in "
            "('mmcv', 'mmdet', 'mmengine', 'mmocr')]\n"
            "assert not bad, bad\n")
    subprocess.run([sys.executable, "-c", code], cwd=REPO, check=True)
