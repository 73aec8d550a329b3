"""`ocrserve train det`: fine-tune a zoo DB detector (PP-OCR ONNX, trained as a torch module; exported
back to ONNX for the `db` family) or a user's MMOCR DBNet / DBNet++ checkpoint (`--arch`; saved as
an MMOCR checkpoint for the `mmocr_det` family) on detection data in any format `ocrserve eval` reads."""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path


def add_command(kinds: argparse._SubParsersAction) -> None:
    det = kinds.add_parser("det", help="fine-tune a zoo DB detector (PP-OCR; exports OUT/det.onnx for the db "
                           "family) or your MMOCR DBNet checkpoint (--arch; OUT/model.pth) on ICDAR-format data")
    det.add_argument("--data", type=Path, required=True, help="annotated images (ICDAR: gt_<stem>.txt + images)")
    det.add_argument("--format", default="icdar", help="icdar (default), coco, lines, textdet, labelme")
    det.add_argument("--list", type=Path, default=None, help="train only on the image file names in this file")
    det.add_argument("--base", default=None, help="zoo detector to start from (default: the zoo's default det)")
    det.add_argument("--arch", default=None, help="instead of --base: the MMOCR config of --checkpoint, a "
                     "DBNet / DBNet++ (e.g. dbnet_resnet18_fpnc_1200e_icdar2015); writes OUT/model.pth")
    det.add_argument("--checkpoint", type=Path, default=None, help="your MMOCR checkpoint (.pth) of --arch")
    det.add_argument("--zoo", type=Path, default=None, help="zoo manifest (default: model_store/zoo.yaml)")
    det.add_argument("--out", type=Path, required=True, help="output folder (checkpoints, det.onnx, zoo_entry.yaml)")
    det.add_argument("--steps", type=int, default=None, help="optimiser steps (default: --epochs over the data)")
    det.add_argument("--epochs", type=float, default=10, help="passes over the data when --steps is not given")
    det.add_argument("--batch-size", type=int, default=4)
    det.add_argument("--size", type=int, default=640, help="square training crop, pixels")
    det.add_argument("--lr", type=float, default=1e-4, help="learning rate of the pretrained network")
    det.add_argument("--head-lr", type=float, default=1e-3, help="learning rate of the new threshold head")
    det.add_argument("--warmup", type=int, default=20, help="steps of linear learning-rate warm-up")
    det.add_argument("--freeze", type=float, default=0.0, metavar="FRACTION",
                     help="keep the first FRACTION of the network's layers fixed (0: train all)")
    det.add_argument("--scale", type=float, nargs=2, default=(0.7, 1.5), metavar=("MIN", "MAX"),
                     help="random scale range, times the served resize scale")
    det.add_argument("--rotate", type=float, default=10.0, help="random rotation, +- degrees")
    det.add_argument("--jitter", type=float, default=0.3, help="colour jitter strength (0: none)")
    det.add_argument("--replay", type=Path, action="append", default=None, metavar="IMAGES",
                     help="images of the base model's old domain (documents, receipts): an image, a folder "
                          "or a file listing image paths (repeat); labelled by the base model's own boxes and mixed "
                          "into every batch, so it keeps what it did there")
    det.add_argument("--replay-ratio", type=float, default=0.25,
                     help="share of each batch's crops taken from the --replay images")
    det.add_argument("--save-every", type=int, default=50, help="checkpoint every N steps")
    det.add_argument("--log-every", type=int, default=10)
    det.add_argument("--seed", type=int, default=0)
    det.add_argument("--device", default="auto", help="cpu, cuda, cuda:N or auto (CUDA when available)")
    det.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    det.add_argument("--workers", type=int, default=0, help="data-loading processes")
    det.add_argument("--resume", action="store_true", help="continue from OUT/last.pt")
    det.add_argument("--export-only", type=Path, default=None, metavar="CHECKPOINT",
                     help="no training: export this checkpoint to OUT/det.onnx")
    det.add_argument("--blend", type=float, default=None, metavar="SHARE",
                     help="export SHARE x the trained weights + (1 - SHARE) x the --base model's (a weight-space "
                          "ensemble, WiSE-FT: keeps more of what the base model did elsewhere); 0 < SHARE <= 1")
    det.add_argument("--check-side", type=int, default=960,
                     help="long side of the real images the ONNX / torch equality checks run on")
    det.add_argument("--name", default=None, help="model name in OUT/zoo_entry.yaml (default: OUT's name)")
    det.set_defaults(func=run_train_det)


def _start(args: argparse.Namespace):
    """What training starts from: a zoo PP-OCR detector (--base) or a user's MMOCR checkpoint (--arch)."""
    if args.arch is not None:
        if args.base is not None:
            raise ValueError("give --base (a zoo detector) or --arch with --checkpoint (yours), not both")
        if args.checkpoint is None:
            raise ValueError(f"--arch {args.arch} needs --checkpoint (the MMOCR .pth to fine-tune)")
        if args.size % 32:
            raise ValueError(f"--size {args.size}: MMOCR detectors take multiples of 32")
        from service.tooling.training.det.native import NativeStart

        return NativeStart(args.arch, args.checkpoint)
    if args.checkpoint is not None:
        raise ValueError("--checkpoint needs --arch (the MMOCR config it was trained with)")
    from service.gateway.zoo import load_zoo
    from service.tooling.packaging.weights import weight_path
    from service.tooling.training.det.run import ZooStart

    zoo = load_zoo(args.zoo) if args.zoo else load_zoo()
    entry = zoo.get(args.base or zoo.defaults["det"])
    if entry.family != "db" or entry.runtime != "onnxruntime":
        raise ValueError(f"--base {entry.name}: a db-family ONNX detector is needed, not {entry.family}/{entry.runtime}")
    return ZooStart(entry, weight_path(entry))


def run_train_det(args: argparse.Namespace) -> int:
    import torch

    from service.tooling.training import pick_device
    from service.tooling.training.det.augment import AugmentOptions
    from service.tooling.training.det.data import DetTrainSet, read_name_list, read_samples
    from service.tooling.training.det.replay import load_or_label, replay_images, replay_per_batch
    from service.tooling.training.det.train import LAST, TrainOptions, options_meta, train
    from service.tooling.training.onnx_torch import ConversionError

    try:
        if not args.data.exists():
            raise ValueError(f"--data {args.data} does not exist")
        if args.replay and args.arch is not None:
            raise ValueError("--replay labels old-domain images with a zoo detector (--base); "
                             "it is not available with --arch")
        if args.blend is not None and (args.arch is not None or not 0 < args.blend <= 1):
            raise ValueError(f"--blend {args.blend}: a share in (0, 1] of the trained weights, blended with a "
                             "zoo detector's (--base; not with --arch)")
        start = _start(args)
        names = read_name_list(args.list) if args.list else None
        samples = read_samples(args.data, args.format, names)
        if not samples:
            raise ValueError(f"no annotated images in {args.data}" + (f" named in {args.list}" if args.list else ""))
        device = pick_device(args.device)
        replay_paths = replay_images(args.replay) if args.replay else []
        if replay_paths:
            replay_per_batch(args.replay_ratio, args.batch_size)
        resume = args.out / LAST if args.resume else None
        if resume is not None and not resume.is_file():
            raise ValueError(f"--resume: no {resume}")
    except (ValueError, FileNotFoundError, KeyError) as exc:
        print(f"train det: {exc}", file=sys.stderr)
        return 2
    torch.set_num_threads(max(1, args.threads))
    torch.manual_seed(args.seed)
    args.out.mkdir(parents=True, exist_ok=True)
    name = args.name or args.out.resolve().name
    # the equality checks run on two real images (long side --check-side)
    check = start.check(samples, args.check_side)
    began = time.perf_counter()
    try:
        if args.export_only is not None:
            state = start.restore(args.export_only)
            meta, step = state["meta"], state["step"]
            print(f"train det: {args.export_only} (step {step})")
        else:
            print(f"train det: {start.build(check)}; {len(samples)} training images, device {device}", flush=True)
            per_epoch = max(len(samples) // args.batch_size, 1)
            steps = args.steps or max(1, round(args.epochs * per_epoch))
            opts = TrainOptions(steps=steps, batch_size=args.batch_size, lr=args.lr, head_lr=args.head_lr,
                                warmup=args.warmup, freeze=args.freeze,
                                save_every=args.save_every, log_every=args.log_every, seed=args.seed,
                                workers=args.workers, device=device,
                                replay_ratio=args.replay_ratio if replay_paths else 0.0,
                                augment=AugmentOptions(size=args.size, scale=tuple(args.scale), rotate=args.rotate,
                                                       jitter=args.jitter))
            meta = {**start.meta, "images": len(samples), "data": str(args.data),
                    "list": str(args.list) if args.list else None, "options": options_meta(opts)}
            dataset = DetTrainSet(samples, start.inputs, opts.augment, seed=args.seed)
            replay = None
            if replay_paths:
                tick = time.perf_counter()
                replayed, fresh = load_or_label(args.out, start.source, start.base.weights.sha256, start.inputs,
                                                replay_paths, threads=args.threads)
                boxes = sum(len(s.words) for s in replayed)
                print(f"train det: replay of {len(replayed)} images, {boxes} boxes of {start.base.name} "
                      f"({'labelled' if fresh else 'read from ' + str(args.out / 'replay_labels.json')} in "
                      f"{time.perf_counter() - tick:.0f} s)", flush=True)
                replay = DetTrainSet(replayed, start.inputs, opts.augment, seed=args.seed + 1)
                meta["replay"] = {"images": len(replayed), "boxes": boxes,
                                  "sources": [str(p) for p in args.replay]}
            checkpoint = torch.load(resume, map_location="cpu", weights_only=True) if resume else None
            history = train(start.model, dataset, opts, args.out, meta, resume=checkpoint,
                            log=lambda line: print(line, flush=True), replay=replay)
            (args.out / "history.jsonl").open("a", encoding="utf-8").write(
                "".join(json.dumps(row) + "\n" for row in history))
            step = opts.steps
        if args.blend is not None and args.blend < 1:
            print(f"train det: {start.blend(args.blend)}", flush=True)
            meta = {**meta, "blend": args.blend}
        blend = f"; weights {args.blend:g} x trained + {1 - args.blend:g} x base" if "blend" in meta else ""
        line = start.export(args.out, check, {"step": step, **meta}, name,
                            f"fine-tuned by `ocrserve train det` ({step} steps on {meta['images']} images{blend})")
    except (ConversionError, ValueError) as exc:
        print(f"train det: {exc}", file=sys.stderr)
        return 1
    print(f"train det: {line}; {time.perf_counter() - began:.0f} s")
    return 0
