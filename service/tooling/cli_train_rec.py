"""`ocrserve train rec`: fine-tune a zoo CTC recogniser (PP-OCR, via its ONNX graph) on word crops
and export it as an ONNX file the `ctc` family serves, or a user's MMOCR CTC checkpoint (`--arch`)
saved for the `mmocr_rec` family (service/tooling/training/rec/)."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path


def add_command(kinds: argparse._SubParsersAction) -> None:
    rec = kinds.add_parser("rec", help="fine-tune a zoo CTC recogniser (PP-OCR) on word crops -> ONNX, or "
                           "your MMOCR CTC checkpoint (--arch) -> OUT/model.pth")
    rec.add_argument("--data", type=Path, required=True, help="training crops, or detection GT to cut them from")
    rec.add_argument("--format", default="label-txt", help="format of --data: label-txt, label-jsonl, textrecog, "
                     "lmdb (crops) or icdar, textdet, labelme (word quads with texts; `###` skipped)")
    rec.add_argument("--dev", type=Path, default=None, help="dev crops: word accuracy every --eval-every, best kept")
    rec.add_argument("--dev-format", default=None, help="format of --dev (default: --format)")
    rec.add_argument("--replay", type=Path, default=None, help="crops of the model's old domain (documents), "
                     "labelled by the original model and mixed into every batch against forgetting")
    rec.add_argument("--replay-format", default=None, help="format of --replay (default: --format)")
    rec.add_argument("--replay-share", type=float, default=0.25, help="share of each batch from --replay")
    rec.add_argument("--replay-min-score", type=float, default=0.9, help="keep replay reads at least this sure")
    rec.add_argument("--replay-limit", type=int, default=1000, help="at most this many replay crops (seeded draw)")
    rec.add_argument("--train-backbone", action="store_true",
                     help="train the convolutional backbone too (default: frozen; neck and CTC head train)")
    rec.add_argument("--model", default="ppocrv6-small-rec", help="zoo ctc recogniser to start from")
    rec.add_argument("--arch", default=None, help="instead of --model: the MMOCR config of --checkpoint, a CTC "
                     "recogniser (crnn_mini-vgg_5e_mj, svtr-small_20e_st_mj); writes OUT/model.pth")
    rec.add_argument("--checkpoint", type=Path, default=None, help="your MMOCR checkpoint (.pth) of --arch")
    rec.add_argument("--out", type=Path, required=True, help="output folder (rec.onnx, best.pt, last.pt, report.json)")
    rec.add_argument("--init", type=Path, default=None, help="start from this checkpoint of an earlier run "
                     "(OUT/best.pt or last.pt); with --iterations 0 it is only exported")
    rec.add_argument("--iterations", type=int, default=1000)
    rec.add_argument("--batch-size", type=int, default=16)
    rec.add_argument("--lr", type=float, default=1e-4)
    rec.add_argument("--eval-every", type=int, default=100)
    rec.add_argument("--no-augment", action="store_true", help="train on the crops as they are")
    rec.add_argument("--seed", type=int, default=0)
    rec.add_argument("--device", default="auto", help="cpu, cuda, cuda:N or auto (cuda when available)")
    rec.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    rec.set_defaults(func=run_train_rec)


def _job(args: argparse.Namespace):
    from service.tooling.training.rec.data import formats
    from service.tooling.training.rec.run import Dataset, FineTuneJob
    from service.tooling.training.rec.train import TrainOptions

    known = formats()
    sets = {}
    for flag, path, fmt in (("--data", args.data, args.format), ("--dev", args.dev, args.dev_format),
                            ("--replay", args.replay, args.replay_format)):
        if path is None:
            continue
        fmt = fmt or args.format
        if fmt not in known:
            raise ValueError(f"{flag}: unknown format {fmt!r}; known: {', '.join(known)}")
        if not path.exists():
            raise ValueError(f"{flag} {path} does not exist")
        sets[flag] = Dataset(path, fmt)
    if args.iterations < 0 or args.batch_size < 1 or args.eval_every < 1:
        raise ValueError("--batch-size and --eval-every must be at least 1, --iterations at least 0")
    if args.init is not None and not args.init.is_file():
        raise ValueError(f"--init {args.init} does not exist")
    if not 0 <= args.replay_share < 1:
        raise ValueError("--replay-share must be in [0, 1)")
    if args.arch is not None:
        from service.tooling.training.rec.native import check_start

        check_start(args.arch, args.checkpoint)  # before any data is read; NativeStart checks the same
    elif args.checkpoint is not None:
        raise ValueError("--checkpoint needs --arch (the MMOCR config it was trained with)")
    opts = TrainOptions(iterations=args.iterations, batch_size=args.batch_size, lr=args.lr,
                        replay_share=args.replay_share, augment=not args.no_augment,
                        train_backbone=args.train_backbone, eval_every=args.eval_every,
                        seed=args.seed, device=args.device)
    return FineTuneJob(args.model, sets["--data"], args.out, sets.get("--dev"), sets.get("--replay"),
                       args.replay_min_score, args.replay_limit, args.init, opts, args.arch, args.checkpoint)


def run_train_rec(args: argparse.Namespace) -> int:
    import torch

    try:
        job = _job(args)
    except ValueError as exc:
        print(f"train rec: {exc}", file=sys.stderr)
        return 2
    from service.tooling.training.rec.run import fine_tune

    torch.set_num_threads(max(1, args.threads))
    try:
        fine_tune(job, say=lambda line: print(f"train rec: {line}", flush=True))
    except (ValueError, KeyError) as exc:  # unusable data, unknown zoo model, a conversion that disagrees
        print(f"train rec: {exc}", file=sys.stderr)
        return 2
    return 0
