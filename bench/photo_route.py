"""Paper share of the real images in ../shared/data, and where the gateway's photo route sends them.

service/gateway/photo_route.py sends a single image whose share of paper-like pixels is under the
zoo's `photos.paper_below` to the photo detector (`photos.det`), everything else to `defaults.det`
(the shipped zoo: dbnet-ic15 below 0.5).
This prints, per set, the spread of that share and the fraction of images routed to photos at the
zoo's threshold and at others, so the threshold can be checked against photos (ICDAR 2015, by the
parts of bench/scene_text_levers.py) and documents (SROIE receipt scans, WildReceipt phone photos
of receipts, Tesseract's test pages).

    .venv/bin/python bench/photo_route.py [--thresholds 0.3,0.4,0.5,0.6]
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import cv2  # noqa: E402
import numpy as np  # noqa: E402

from service.gateway.photo_route import _thumbnail, paper_share  # noqa: E402
from service.gateway.zoo import load_zoo  # noqa: E402
from service.tooling.training.kie.real_data import split_of  # noqa: E402

DATA = REPO.parent / "shared" / "data"


def image_sets() -> dict[str, list[Path]]:
    photos = sorted((DATA / "icdar2015_train" / "images").glob("img_*.jpg"))
    parts = {part: [p for p in photos if split_of(p.name, 13, (("val", 0.5), ("test", 0.5))) == part]
             for part in ("val", "test")}
    return {
        "ICDAR 2015 train, part val (photos)": parts["val"],
        "ICDAR 2015 train, part test (photos)": parts["test"],
        "SROIE receipts (scans)": sorted((DATA / "sroie2019_train" / "img").glob("*.jpg")),
        "WildReceipt receipts (phone photos)": sorted((DATA / "wildreceipt_subset").rglob("*.jpeg")),
        "Tesseract test pages": sorted((DATA / "tesseract" / "testing").glob("*.tif"))
                                + sorted((DATA / "tesseract" / "testing").glob("*.png")),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--thresholds", default="0.3,0.4,0.5,0.6,0.7")
    args = parser.parse_args()
    zoo = load_zoo()
    zoo_threshold = {zoo.photos.paper_below} if zoo.photos else set()
    thresholds = sorted({float(t) for t in args.thresholds.split(",")} | zoo_threshold)
    print(f"zoo: photos {zoo.photos or 'off'}; default det {zoo.defaults['det']}\n")
    print("| images | n | paper share min / 5 % / median / 95 % / max | "
          + " | ".join(f"to photos at {t:g}" for t in thresholds) + " | ms/image |")
    print("|---|---|---|" + "---|" * len(thresholds) + "---|")
    for name, paths in image_sets().items():
        shares, start = [], time.perf_counter()
        for path in paths:
            thumb = _thumbnail(path.read_bytes())  # what the gateway measures
            if thumb is not None:
                shares.append(paper_share(thumb))
        ms = (time.perf_counter() - start) * 1000 / max(len(shares), 1)
        if not shares:
            print(f"| {name} | 0 | (no images) |" + " |" * len(thresholds) + " |")
            continue
        s = np.array(shares)
        spread = " / ".join(f"{v:.2f}" for v in (s.min(), *np.percentile(s, [5, 50, 95]), s.max()))
        routed = " | ".join(f"{(s < t).mean():.3f}" for t in thresholds)
        print(f"| {name} | {len(s)} | {spread} | {routed} | {ms:.1f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
