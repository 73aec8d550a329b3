"""`ocrserve export-onnx`: an MMOCR detector or recogniser checkpoint -> ONNX, optionally verified.

Detectors are exported by service/tooling/export/det_onnx.py, recognisers by
service/tooling/export/rec_onnx.py; both expose `export_onnx(arch, checkpoint, out,
opset)` and `verify_onnx(arch, checkpoint, onnx_path, images)`, imported only when used.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from types import ModuleType

from service.gateway.zoo import REPO_ROOT

DEFAULT_DATA = REPO_ROOT.parent / "shared" / "data"
#: Real images checked by a bare `--verify`: two ICDAR 2015 photos / two scene word crops.
DEFAULT_IMAGES = {"det": ("mmocr", "0.x", "toy_dataset", "imgs", "test"),
                  "rec": ("mmocr", "main", "rec_toy_dataset", "imgs")}
DEFAULT_IMAGE_COUNT = 2
#: Max abs error allowed, scaled by max(1, max |torch value|) of each output.
DEFAULT_TOLERANCE = 1e-3


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Register this module's sub-commands on the ocrserve parser."""
    export = sub.add_parser("export-onnx", help="export an MMOCR checkpoint to ONNX (dynamic batch/H/W)")
    export.add_argument("--arch", required=True, help="MMOCR config name, e.g. dbnet_resnet18_fpnc_1200e_icdar2015")
    export.add_argument("--checkpoint", type=Path, required=True, help="MMOCR 1.x or 0.x checkpoint (.pth)")
    export.add_argument("--out", type=Path, required=True, help="the .onnx file to write")
    export.add_argument("--opset", type=int, default=17)
    export.add_argument("--verify", nargs="*", type=Path, default=None, metavar="IMAGE",
                        help="compare torch and onnxruntime on these images (default: two images of "
                             "the shared data folder)")
    export.add_argument("--tolerance", type=float, default=DEFAULT_TOLERANCE,
                        help="max abs error per output, times max(1, max |torch value|)")
    export.add_argument("--data", type=Path, default=DEFAULT_DATA, help="the shared data folder")
    export.set_defaults(func=_cmd_export_onnx)


def task_of(arch: str) -> str:
    """'det' or 'rec' for an exportable MMOCR config name; ValueError naming the known ones."""
    from handlers.registry import family_of_arch

    family = family_of_arch(arch)
    if not family.onnx_from_checkpoint:
        raise ValueError(f"{arch} is a {family.task} config; ONNX export covers detectors and recognisers")
    return family.task


def exporter_for(arch: str) -> ModuleType:
    """The ONNX exporter module of the config's family (imported when used: it pulls in torch)."""
    if task_of(arch) == "det":
        from service.tooling.export import det_onnx as onnx_export
    else:
        from service.tooling.export import rec_onnx as onnx_export
    return onnx_export


def default_images(task: str, data: Path) -> list[Path]:
    """The first real images of the task's folder in the shared data (none if it is absent)."""
    folder = data.joinpath(*DEFAULT_IMAGES[task])
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png"))[:DEFAULT_IMAGE_COUNT]


def read_images(paths: list[Path]) -> list:
    """BGR uint8 arrays (what the handlers decode); ValueError naming an unreadable file."""
    import cv2

    images = []
    for path in paths:
        image = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if image is None:
            raise ValueError(f"cannot read image {path}")
        images.append(image)
    return images


def within_tolerance(report: dict, tolerance: float) -> bool:
    """Whether a verify report passes.

    Detector reports carry per-output stats: each max_abs_error <= tolerance * max(1, its
    max |torch value|), an absolute bound on probability maps, relative on logits. Recogniser
    reports (per-step probabilities) hold max_abs_error <= tolerance and the decoded texts equal.
    """
    outputs = report.get("outputs")
    if isinstance(outputs, dict):
        return all(s["max_abs_error"] <= tolerance * max(1.0, s["max_abs_torch"]) for s in outputs.values())
    return report["max_abs_error"] <= tolerance and report.get("texts_match", True)


def _cmd_export_onnx(args: argparse.Namespace) -> int:
    exporter = exporter_for(args.arch)
    images = None
    if args.verify is not None:  # resolve the images before the (slow) export
        paths = args.verify or default_images(task_of(args.arch), args.data)
        if not paths:
            print(f"export-onnx: --verify needs IMAGE paths (no default images under {args.data})",
                  file=sys.stderr)
            return 2
        images = read_images(paths)
    if not args.checkpoint.is_file():  # both exporters' own message, before torch.load's traceback
        print(f"ocrserve export-onnx: checkpoint {args.checkpoint} does not exist", file=sys.stderr)
        return 1
    written = exporter.export_onnx(args.arch, args.checkpoint, args.out, opset=args.opset)
    outputs = written.get("outputs") or [written.get("output", "?")]
    print(f"export-onnx: {args.arch} -> {args.out} (opset {args.opset}, "
          f"{args.out.stat().st_size / 2**20:.1f} MiB, outputs {', '.join(outputs)})")
    if images is None:
        return 0
    report = exporter.verify_onnx(args.arch, args.checkpoint, args.out, images)
    for name, stats in report.get("outputs", {}).items():
        print(f"  {name}: max abs error {stats['max_abs_error']:.3g}, "
              f"max relative error {stats['max_rel_error']:.3g}")
    if "texts_match" in report:
        print(f"  texts: torch {report.get('torch_texts')}, onnx {report.get('onnx_texts')}")
    ok = within_tolerance(report, args.tolerance)
    print(f"verify: {len(images)} image(s), max abs error {report['max_abs_error']:.3g} "
          f"(tolerance {args.tolerance:g}): {'ok' if ok else 'FAILED'}")
    return 0 if ok else 1
