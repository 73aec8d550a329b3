"""`ocrserve train ...` commands: `train kie` (train or evaluate SDMG-R on WildReceipt-format
data), `train kie-average` (a weight average of checkpoints) and `train kie-openset` (close-set ->
open-set label conversion)."""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Register this module's sub-commands on the ocrserve parser."""
    train = sub.add_parser("train", help="train models on your data")
    kinds = train.add_subparsers(dest="train_kind", required=True)
    kie = kinds.add_parser("kie", help="train (or --eval-only) SDMG-R on WildReceipt-format receipts")
    kie.add_argument("--data", type=Path, required=True, help="folder of the annotation files and images")
    kie.add_argument("--ann", default=None, help="training annotations in DATA (default: train.txt, "
                     "else annotations.txt); with --eval-only the receipts to evaluate")
    kie.add_argument("--val-ann", type=Path, default=None,
                     help="validation annotations (path, or name in DATA); macro-F1 every epoch")
    kie.add_argument("--variant", default="novisual", help="novisual (text + layout) or unet16 (+ image)")
    kie.add_argument("--epochs", type=int, default=60)
    kie.add_argument("--batch-size", type=int, default=4)
    kie.add_argument("--lr", type=float, default=1e-3)
    kie.add_argument("--seed", type=int, default=0)
    kie.add_argument("--init", type=Path, default=None, help="start from this sdmgr.pth (same "
                     "config, classes and dictionary) instead of fresh weights: fine-tuning")
    kie.add_argument("--out", type=Path, default=None, help="output folder (sdmgr.pth, class_list.txt, dict.txt)")
    kie.add_argument("--dict", type=Path, default=None, help="character dictionary, one per line "
                     "(default: SDMG-R's + the rest of printable ASCII, no space)")
    kie.add_argument("--class-list", type=Path, default=None, help="default: DATA/class_list.txt")
    kie.add_argument("--eval-only", action="store_true", help="evaluate --checkpoint on --ann, no training")
    kie.add_argument("--checkpoint", type=Path, default=None, help="checkpoint to evaluate (--eval-only)")
    kie.add_argument("--json", action="store_true", help="print the evaluation report as JSON")
    kie.add_argument("--box-jitter", type=float, default=0.0, help="augmentation: box edges move by "
                     "N(0, this x box height) (0: off)")
    kie.add_argument("--text-noise", type=float, default=0.0, help="augmentation: share of texts given "
                     "one OCR-like edit (0: off)")
    kie.add_argument("--swap-texts", type=float, default=0.0, help="augmentation: share of key / value texts "
                     "(not amounts) swapped with a same-class text of another training receipt")
    kie.add_argument("--rare-class-power", type=float, default=0.0, help="node classes rarer than the "
                     "median weigh (median/count)^P in the loss, at most 10 (0: all 1, as MMOCR)")
    kie.add_argument("--label-smoothing", type=float, default=0.0, help="node loss label smoothing (0: off)")
    kie.add_argument("--dropout", type=float, default=0.0, help="training-only dropout on the character "
                     "embeddings and node features (0: off; the saved model is unchanged)")
    kie.add_argument("--milestones", type=int, nargs="+", default=None,
                     help="epochs after which the lr drops x0.1 (default: 2/3 and 5/6 of --epochs)")
    kie.add_argument("--save-every-epoch", action="store_true",
                     help="also write OUT/epoch_NNN.pth after every epoch (choose one on validation)")
    kie.set_defaults(func=run_train_kie)
    conv = kinds.add_parser("kie-openset", help="convert close-set WildReceipt labels to open-set (key/value + edges)")
    conv.add_argument("closeset", type=Path)
    conv.add_argument("openset", type=Path)
    conv.add_argument("--merge-bg-others", action="store_true", help="label Others as background (0)")
    conv.set_defaults(func=run_openset)
    avg = kinds.add_parser("kie-average", help="average the weights of SDMG-R checkpoints fine-tuned from one "
                           "init (a model soup: one model, served at one model's cost)")
    avg.add_argument("checkpoints", type=Path, nargs="+", help="sdmgr.pth files (class_list.txt, dict.txt beside each)")
    avg.add_argument("--out", type=Path, required=True, help="output folder (sdmgr.pth, class_list.txt, dict.txt)")
    avg.add_argument("--screen", type=Path, help="a greedy soup instead: annotation file (images beside it) on "
                     "which each next checkpoint joins only if the average's micro-F1 stays within --tolerance of "
                     "the weakest of its models alone")
    avg.add_argument("--tolerance", type=float, default=0.002, help="with --screen (default 0.002)")
    avg.set_defaults(func=run_average)
    from service.tooling import cli_train_det, cli_train_ner, cli_train_rec

    cli_train_ner.add_command(kinds)
    cli_train_det.add_command(kinds)
    cli_train_rec.add_command(kinds)


class UsageError(ValueError):
    """A command-line mistake, reported in one line with exit status 2."""


def _ann_path(data: Path, ann: str | Path | None, defaults: tuple[str, ...]) -> Path:
    candidates = [Path(ann), data / str(ann)] if ann else [data / d for d in defaults]
    for cand in candidates:
        if cand.is_file():
            return cand
    raise UsageError(f"no annotation file: looked for {', '.join(str(c) for c in candidates)}")


def _check(args: argparse.Namespace) -> None:
    if not args.data.is_dir():
        raise UsageError(f"--data {args.data} is not a folder")
    if args.eval_only:
        if args.checkpoint is None or not args.checkpoint.is_file():
            raise UsageError("--eval-only needs --checkpoint FILE (an existing sdmgr.pth)")
        return
    if args.out is None:
        raise UsageError("training needs --out DIR (where sdmgr.pth, class_list.txt and dict.txt go)")
    if args.epochs < 1 or args.batch_size < 1:
        raise UsageError("--epochs and --batch-size must be at least 1")
    for flag, path in (("--dict", args.dict), ("--class-list", args.class_list), ("--init", args.init)):
        if path is not None and not path.is_file():
            raise UsageError(f"{flag} {path} does not exist")


def run_train_kie(args: argparse.Namespace) -> int:
    try:
        _check(args)
        return _evaluate(args) if args.eval_only else _train(args)
    except UsageError as exc:
        print(f"train kie: {exc}", file=sys.stderr)
        return 2


def run_average(args: argparse.Namespace) -> int:
    from service.tooling.training.kie.checkpoint import average_models, save_checkpoint

    try:
        missing = [str(p) for p in args.checkpoints if not p.is_file()]
        if missing:
            raise UsageError(f"no such file: {', '.join(missing)}")
        if len(args.checkpoints) < 2:
            raise UsageError("give two checkpoints or more")
        if args.screen is not None and not args.screen.is_file():
            raise UsageError(f"--screen {args.screen}: no such file")
        kept = _screened(args) if args.screen is not None else args.checkpoints
        if len(kept) < 2:
            print(f"train kie-average: only {kept[0]} passed the screen; nothing written", file=sys.stderr)
            return 1
        model, classes, meta = average_models(kept)
    except (ValueError, OSError) as exc:  # the above; checkpoints that do not fit; a class list or dictionary missing
        print(f"train kie-average: {exc}", file=sys.stderr)
        return 2
    out = save_checkpoint(args.out, model, classes, meta)
    print(f"train kie-average: wrote {out}, the uniform average of {len(kept)} checkpoints")
    return 0


def _screened(args: argparse.Namespace) -> list[Path]:
    """The checkpoints `kie-average --screen` keeps (checkpoint.greedy_soup, micro-F1 on the screen file);
    greedy_soup averages every checkpoint with the first, so one that does not fit is refused there."""
    from service.tooling.training.kie.checkpoint import greedy_soup, load_checkpoint
    from service.tooling.training.kie.dataset import read_annotations
    from service.tooling.training.kie.evaluate import evaluate

    _, classes, _ = load_checkpoint(args.checkpoints[0])
    docs = read_annotations(args.screen, args.screen.parent, num_classes=len(classes))
    return greedy_soup(args.checkpoints, lambda model, names: evaluate(model, docs, names)["micro_f1"],
                       args.tolerance, log=lambda line: print(f"train kie-average: {line}", flush=True))


def _evaluate(args: argparse.Namespace) -> int:
    import torch

    from service.tooling.training.kie.checkpoint import load_checkpoint
    from service.tooling.training.kie.dataset import read_annotations
    from service.tooling.training.kie.evaluate import evaluate, format_report

    torch.set_num_threads(1)
    model, classes, _ = load_checkpoint(args.checkpoint, dict_file=args.dict, class_list=args.class_list)
    docs = read_annotations(_ann_path(args.data, args.ann, ("test.txt", "annotations.txt", "data.txt")),
                            args.data, num_classes=len(classes))
    report = evaluate(model, docs, classes)
    print(json.dumps(report, indent=2) if args.json else format_report(report))
    return 0


def _train(args: argparse.Namespace) -> int:
    from handlers.families.kie.text_encoding import KIEDictionary
    from service.tooling.training.kie.checkpoint import arch_of, save_checkpoint
    from handlers.api.class_list import read_class_list
    from service.tooling.training.kie.dataset import read_annotations
    from service.tooling.training.kie.train import TrainOptions, new_model, options_meta, train

    try:
        arch = arch_of(args.variant)
    except ValueError as exc:
        raise UsageError(str(exc)) from exc
    class_file = args.class_list or args.data / "class_list.txt"
    if not class_file.is_file():
        raise UsageError(f"no class list at {class_file} (give --class-list)")
    classes = read_class_list(class_file)
    train_docs = read_annotations(_ann_path(args.data, args.ann, ("train.txt", "annotations.txt")),
                                  args.data, num_classes=len(classes))
    val_docs = []
    if args.val_ann is not None:
        val_path = _ann_path(args.data, args.val_ann, ())
        val_docs = read_annotations(val_path, val_path.parent, num_classes=len(classes))
    opts = TrainOptions(arch=arch, epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, seed=args.seed,
                        box_jitter=args.box_jitter, text_noise=args.text_noise, swap_texts=args.swap_texts,
                        rare_class_power=args.rare_class_power, label_smoothing=args.label_smoothing,
                        dropout=args.dropout, milestones=list(args.milestones or []))
    model = new_model(opts, len(classes), KIEDictionary.from_file(args.dict) if args.dict else None)
    if args.init is not None:
        _load_init(model, args.init)
    print(f"train kie: {arch}, {len(train_docs)} training / {len(val_docs)} validation receipts, "
          f"{len(classes)} classes, {model.kie_head.dictionary.num_classes - 1} characters, "
          f"lr steps at epochs {opts.steps()}", flush=True)
    from ocrserve.progress import Progress

    start = time.perf_counter()
    with Progress(opts.epochs, "train kie") as progress:
        def log(epoch) -> None:
            progress.log(_epoch_line(epoch))
            if args.save_every_epoch:
                save_checkpoint(args.out, model, classes, dict(arch=arch, classes=classes, epoch=epoch.epoch,
                                seed=opts.seed, train=options_meta(opts)), name=f"epoch_{epoch.epoch:03d}.pth")
            progress.step()

        history = train(model, train_docs, opts, classes, val_docs, log=log)
    meta = dict(arch=arch, classes=classes, epoch=opts.epochs, seed=opts.seed, train=options_meta(opts),
                init=str(args.init) if args.init else None,
                train_receipts=len(train_docs), seconds=round(time.perf_counter() - start, 1),
                val=({k: history[-1].val[k] for k in ("macro_f1", "micro_f1")} if val_docs else None))
    path = save_checkpoint(args.out, model, classes, meta)
    print(f"train kie: saved {path} (+ class_list.txt, dict.txt) after {meta['seconds']} s")
    return 0


def _load_init(model, path: Path) -> None:
    import torch

    state = torch.load(path, map_location="cpu", weights_only=True)
    try:
        model.load_state_dict(state.get("state_dict", state), strict=True)
    except RuntimeError as exc:  # other classes / dictionary / config: shapes or keys differ
        raise UsageError(f"--init {path} does not fit this model ({str(exc).splitlines()[0]})") from exc


def _epoch_line(e) -> str:
    val = f"  val macro-F1 {e.val['macro_f1']:.4f}" if e.val else ""
    return (f"epoch {e.epoch:3d}  loss {e.loss:.4f} (node {e.loss_node:.4f}, edge {e.loss_edge:.4f})  "
            f"node acc {e.acc_node:.1f}%  lr {e.lr:.0e}  {e.seconds:.1f} s{val}")


def run_openset(args: argparse.Namespace) -> int:
    from service.tooling.training.kie.openset import convert_file

    if not args.closeset.is_file():
        print(f"train kie-openset: {args.closeset} does not exist", file=sys.stderr)
        return 2
    n = convert_file(args.closeset, args.openset, args.merge_bg_others)
    print(f"train kie-openset: {n} receipts -> {args.openset}")
    return 0
