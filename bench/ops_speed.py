"""Before / after of the three ops replaced in issue 10 ("libraries where they are better").

    PYTHONPATH=$PWD .venv/bin/python bench/ops_speed.py [--baseline 43554ea] [--repeats 5]
        [--train-receipts 1 | --no-train]

The "before" code is read from git at ``--baseline`` (the tree before the change), never kept in
``handlers/``: TextSnake's hand-written Zhang-Suen thinning, SDMG-R's per-sample RoIAlign and the
per-box NMS loop. Old and new run in the same process, interleaved, one thread, medians over
``--repeats`` (the machine is shared: the load average is printed before and after).

* TextSnake post-processing per instance on 640 x 640 maps built from real ICDAR 2015 word
  quadrilaterals (img_1..img_N, scaled by 0.5): text region = the quad, center region = its middle
  third, radius = half its height, sin / cos = its direction; old and new polygons are compared
  (IoU). Also the skeleton pixels of every center contour of the MMOCR oracle's TextSnake maps.
* RoIAlign (7 x 7, 16 channels) of 60 boxes of a real WildReceipt receipt on its resized size.
* NMS of 1,000 clustered boxes (and 4,300, a Mask R-CNN RPN's five levels), IoU 0.7.
* One unet16 SDMG-R training step (forward, backward, Adam as ``ocrserve train kie`` runs it) on
  ``--train-receipts`` real receipts (default 1; the command's batch is 4).
"""
from __future__ import annotations

import argparse
import copy
import os
import statistics
import subprocess
import sys
import time
import types
from pathlib import Path

import cv2
import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from handlers.families.kie import roi_pool  # noqa: E402
from handlers.families.kie.roi_pool import bbox2roi  # noqa: E402
from handlers.ops import nms as new_nms  # noqa: E402
from handlers.ops import textsnake_postprocess as new_ts  # noqa: E402
from handlers.ops.roi_align import roi_align as new_roi_align  # noqa: E402
from service.tooling.evaluation.datasets import read_icdar2015_gt  # noqa: E402
from service.tooling.training.kie.dataset import make_batch, read_annotations  # noqa: E402
from service.tooling.training.kie.losses import sdmgr_loss  # noqa: E402
from service.tooling.training.kie.train import TrainOptions, new_model  # noqa: E402

DATA = ROOT.parent / "shared" / "data"
ORACLE = ROOT.parent / "shared" / "oracle" / "models"


def load_old(rev: str, path: str) -> types.ModuleType:
    """A module executed from ``git show rev:path`` (imports resolve against this tree)."""
    src = subprocess.run(["git", "show", f"{rev}:{path}"], cwd=ROOT, check=True,
                         capture_output=True, text=True).stdout
    mod = types.ModuleType(f"old_{Path(path).stem}")
    exec(compile(src, f"{rev}:{path}", "exec"), mod.__dict__)  # noqa: S102 - our own history
    return mod


def timed(fn, *args) -> tuple[float, object]:
    start = time.perf_counter()
    out = fn(*args)
    return time.perf_counter() - start, out


def interleaved(fns: dict, args, repeats: int) -> dict[str, float]:
    """Median seconds of each function, the implementations alternating within every repeat."""
    times: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            times[name].append(timed(fn, *args)[0])
    return {k: statistics.median(v) for k, v in times.items()}


# ----------------------------------------------------------------------------- TextSnake
def word_maps(words, size: int = 640, scale: float = 0.5) -> np.ndarray:
    """(5, size, size) TextSnake maps whose instances are the real word quadrilaterals."""
    maps = np.zeros((5, size, size), np.float32)
    maps[0] = maps[1] = -10.0
    maps[3] = 1.0
    for word in words:
        if word.ignored:
            continue
        q = np.array(word.polygon, np.float64).reshape(4, 2) * scale
        top, bottom = (q[0], q[1]), (q[3], q[2])
        height = (np.linalg.norm(q[3] - q[0]) + np.linalg.norm(q[2] - q[1])) / 2
        theta = np.arctan2(*(q[1] - q[0])[::-1])
        region = np.zeros((size, size), np.uint8)
        cv2.fillPoly(region, [np.round(q).astype(np.int32)], 1)
        band = np.array([top[0] + (bottom[0] - top[0]) / 3, top[1] + (bottom[1] - top[1]) / 3,
                         top[1] + (bottom[1] - top[1]) * 2 / 3, top[0] + (bottom[0] - top[0]) * 2 / 3])
        centre = np.zeros((size, size), np.uint8)
        cv2.fillPoly(centre, [np.round(band).astype(np.int32)], 1)
        inside = region > 0
        maps[0][inside] = 10.0
        maps[1][centre > 0] = 10.0
        maps[2][inside], maps[3][inside], maps[4][inside] = np.sin(theta), np.cos(theta), height / 2
    return maps


def poly_iou(a: np.ndarray, b: np.ndarray, size: int = 640) -> float:
    ma, mb = np.zeros((size, size), np.uint8), np.zeros((size, size), np.uint8)
    cv2.fillPoly(ma, [np.round(a).astype(np.int32)], 1)
    cv2.fillPoly(mb, [np.round(b).astype(np.int32)], 1)
    return float((ma & mb).sum() / max((ma | mb).sum(), 1))


def bench_textsnake(old, images: int, repeats: int) -> None:
    gt_dir = DATA / "icdar2015_train" / "gt"
    all_maps = [word_maps(read_icdar2015_gt(gt_dir / f"gt_img_{n}.txt")) for n in range(1, images + 1)]
    instances = 0
    for maps in all_maps:
        mask = new_ts.fill_hole(new_ts.sigmoid(maps[1]) * new_ts.sigmoid(maps[0]) > 0.2).astype(np.uint8)
        contours, _ = cv2.findContours(mask, cv2.RETR_TREE, cv2.CHAIN_APPROX_SIMPLE)
        instances += sum(cv2.contourArea(c) >= 30 for c in contours)
    run = {name: (lambda m=mod: [m.textsnake_postprocess(x) for x in all_maps])
           for name, mod in (("old (Zhang-Suen)", old), ("new (skimage)", new_ts))}
    med = interleaved(run, (), repeats)
    print(f"\nTextSnake post-processing: {images} ICDAR 2015 images at 640 x 640, "
          f"{instances} instances (center area >= 30), median of {repeats}")
    for name, sec in med.items():
        print(f"  {name:<22} {sec * 1000 / instances:8.1f} ms / instance  ({sec:.2f} s in all)")
    ious, shifts, counts = [], [], [0, 0]
    for maps in all_maps:
        (po, _), (pn, _) = old.textsnake_postprocess(maps), new_ts.textsnake_postprocess(maps)
        counts[0] += len(po)
        counts[1] += len(pn)
        pairs = list(zip(po, pn)) if len(po) == len(pn) else []
        ious += [poly_iou(a, b) for a, b in pairs]
        shifts += [float(np.abs(np.r_[a.min(0) - b.min(0), a.max(0) - b.max(0)]).max()) for a, b in pairs]
    print(f"  polygons old / new: {counts[0]} / {counts[1]}; IoU old vs new over {len(ious)} pairs: "
          f"mean {np.mean(ious):.4f}, min {np.min(ious):.4f}, identical {sum(i == 1.0 for i in ious)}; "
          f"bounding boxes differ by at most {max(shifts):.0f} px (mean {np.mean(shifts):.2f})")
    oracle_skeletons(old)


def oracle_skeletons(old) -> None:
    """Skeleton pixels of the oracle's center contours (its radii are < 1: no polygon either way)."""
    path = ORACLE / "textsnake_resnet50_fpn-unet_1200e_ctw1500.outputs.pt"
    if not path.exists():
        print("  (MMOCR oracle not found: skeleton comparison skipped)")
        return
    maps = torch.load(path)["raw"][0].numpy()
    text = new_ts.sigmoid(maps[0])
    mask = new_ts.fill_hole(new_ts.sigmoid(maps[1]) * text > 0.2).astype(np.uint8)
    contours, _ = cv2.findContours(mask, cv2.RETR_TREE, cv2.CHAIN_APPROX_SIMPLE)
    total = differ = n = 0
    for contour in contours:
        if cv2.contourArea(contour) < 30:
            continue
        inst = np.zeros(mask.shape, np.uint8)
        cv2.drawContours(inst, [contour], -1, 1, -1)
        a, b = old.zhang_suen_thinning(inst), np.zeros(inst.shape, bool)
        b[tuple(new_ts.center_line(inst).T)] = True
        total, differ, n = total + int(b.sum()), differ + int((a != b).sum()), n + 1
    print(f"  oracle TextSnake maps: {n} center contours, skeleton pixels (skimage) {total}, "
          f"pixels where the old thinning differs {differ}")


# ----------------------------------------------------------------------------- RoIAlign, NMS
def receipts(n: int):
    root = DATA / "wildreceipt_subset"
    docs = read_annotations(root / "annotations.txt", root)
    return [d for d in docs if Path(d.image_path).exists()][:n]


def bench_roi_align(old, repeats: int) -> None:
    doc = max(receipts(20), key=lambda d: len(d.texts))
    batch = make_batch([doc], with_image=True)
    rois = bbox2roi([batch.boxes[0][:60]])
    feats = torch.randn(1, 16, *batch.img.shape[-2:], generator=torch.Generator().manual_seed(0))
    med = interleaved({"old (per-sample loop)": lambda: old.roi_align(feats, rois, 7),
                       "new (separable)": lambda: new_roi_align(feats, rois, 7)}, (), repeats)
    diff = (old.roi_align(feats, rois, 7) - new_roi_align(feats, rois, 7)).abs().max().item()
    print(f"\nRoIAlign 7x7, {len(rois)} boxes of a real receipt on (1, 16, {feats.shape[2]}, "
          f"{feats.shape[3]}), median of {repeats}; max |old - new| = {diff:.2e}")
    for name, sec in med.items():
        print(f"  {name:<22} {sec * 1000:8.1f} ms")


def clustered_boxes(n: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    centres = torch.rand(n // 20 + 1, 2, generator=g) * 600
    xy = centres[torch.randint(0, len(centres), (n,), generator=g)] + torch.randn(n, 2, generator=g) * 8
    wh = 20 + torch.rand(n, 2, generator=g) * 60
    return torch.cat([xy - wh / 2, xy + wh / 2], 1), torch.rand(n, generator=g)


def bench_nms(old, repeats: int) -> None:
    print(f"\nNMS, IoU 0.7, clustered boxes, median of {repeats}")
    for n, levels in ((1000, 1), (4300, 5)):
        boxes, scores = clustered_boxes(n)
        idx = torch.arange(n) % levels
        med = interleaved({"old (loop per box)": lambda: old.batched_nms(boxes, scores, idx, 0.7),
                           "new (IoU matrix)": lambda: new_nms.batched_nms(boxes, scores, idx, 0.7)},
                          (), repeats)
        same = torch.equal(old.batched_nms(boxes, scores, idx, 0.7),
                           new_nms.batched_nms(boxes, scores, idx, 0.7))
        print(f"  {n} boxes, {levels} categories: kept indices identical: {same}")
        for name, sec in med.items():
            print(f"    {name:<20} {sec * 1000:8.1f} ms")


# ----------------------------------------------------------------------------- training step
def train_step_seconds(model, batch) -> tuple[float, float]:
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, weight_decay=1e-4)
    start = time.perf_counter()
    node_logits, edge_logits = model(batch.img, batch.boxes, batch.texts)
    losses = sdmgr_loss(node_logits, edge_logits, batch.node_targets, batch.edge_targets)
    optimizer.zero_grad()
    losses["loss"].backward()
    optimizer.step()
    return time.perf_counter() - start, float(losses["loss"].detach())


def bench_train_step(old, n_receipts: int) -> None:
    model0 = new_model(TrainOptions(arch="sdmgr_unet16_60e_wildreceipt"), num_classes=26)
    model0.train()
    batch = make_batch(receipts(n_receipts), with_image=True)
    n_boxes = sum(len(b) for b in batch.boxes)
    print(f"\nunet16 SDMG-R, one training step (forward + backward + Adam), {n_receipts} real receipts, "
          f"{n_boxes} boxes, image batch {tuple(batch.img.shape)}")
    fast = roi_pool.roi_align
    torch.set_flush_denormal(True)
    try:
        for name, impl in (("new", fast), ("old", old.roi_align), ("new", fast)):
            roi_pool.roi_align = impl
            sec, loss = train_step_seconds(copy.deepcopy(model0), batch)
            print(f"  {name:<4} RoIAlign {sec:8.1f} s / step   (loss {loss:.6f})")
    finally:
        roi_pool.roi_align = fast
        torch.set_flush_denormal(False)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--baseline", default="43554ea", help="git revision holding the old code")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--images", type=int, default=10, help="ICDAR 2015 images for TextSnake")
    ap.add_argument("--train-receipts", type=int, default=1,
                    help="receipts in the training step (ocrserve train kie: 4; the old step is slow)")
    ap.add_argument("--no-train", action="store_true", help="skip the (slow) training step")
    args = ap.parse_args()
    torch.set_num_threads(1)
    cv2.setNumThreads(1)
    print(f"baseline {args.baseline}; {os.cpu_count()} CPUs, 1 thread; load average "
          f"{os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f}")
    bench_textsnake(load_old(args.baseline, "handlers/ops/textsnake_postprocess.py"), args.images, args.repeats)
    old_roi = load_old(args.baseline, "handlers/families/kie/roi_pool.py")
    bench_roi_align(old_roi, args.repeats)
    bench_nms(load_old(args.baseline, "handlers/ops/nms.py"), args.repeats)
    if not args.no_train:
        bench_train_step(old_roi, args.train_receipts)
    print(f"\nload average at the end {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f}")


if __name__ == "__main__":
    main()
