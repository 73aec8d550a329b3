"""`ocrserve ocr PATH...`: read images (files, folders, `-` for stdin) through a gateway or in-process.

Each input is one request; a failing input is reported with the API's message and the run goes
on; the exit status is 1 when any input failed. With `--out DIR` every result is written there
under the input's name (folders keep their sub-folders), else results go to stdout.
"""
from __future__ import annotations

import argparse
import json
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from ocrserve.progress import Progress

FORMATS = ("json", "text", "tsv")
SUFFIX = {"json": ".json", "text": ".txt", "tsv": ".tsv"}
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".gif", ".pdf"}


@dataclass(frozen=True)
class Input:
    """One image to read: where it came from and the name its results get (no suffix)."""

    source: str   # a path, or "-" for stdin
    name: str     # relative output name, e.g. "scans/page1"


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Register `ocr` on the main parser."""
    p = sub.add_parser("ocr", help="read images or folders (or - for stdin) and print or save the text")
    p.add_argument("paths", nargs="+", metavar="PATH", help="image files, folders (recursive) or -")
    where = p.add_mutually_exclusive_group()
    where.add_argument("--url", default=None,
                       help="gateway URL (default: $OCRSERVE_URL or http://127.0.0.1:8000)")
    where.add_argument("--local", action="store_true", help="run the pipeline in this process (needs .[server])")
    p.add_argument("--det", help="detector (default: the service's), or none")
    p.add_argument("--rec", help="recogniser (default: the service's), or none")
    p.add_argument("--kie", help="KIE model labelling the lines (e.g. sdmgr)")
    p.add_argument("--cls", action=argparse.BooleanOptionalAction, default=None, help="text direction (0/180)")
    p.add_argument("--format", choices=FORMATS, default="json", help="json (the API's answer), text, tsv")
    p.add_argument("--out", type=Path, help="write one result file per input into this folder")
    p.add_argument("--vis", action="store_true",
                   help="also save <name>.vis.png drawn by the gateway's POST /visualize (with --out)")
    p.add_argument("--jobs", type=int, default=1, help="requests in flight at once (gateway only)")
    p.add_argument("--print-result", action="store_true", help="print results even with --out")
    p.set_defaults(func=run_ocr_command)


def collect_inputs(paths: list[str]) -> list[Input]:
    """Files as given, folders walked recursively (image suffixes only, sorted), '-' as stdin."""
    inputs: list[Input] = []
    for raw in paths:
        if raw == "-":
            inputs.append(Input("-", "stdin"))
            continue
        path = Path(raw)
        if path.is_dir():
            for file in sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES):
                rel = file.relative_to(path)
                inputs.append(Input(str(file), str(Path(path.name) / rel.with_suffix(""))))
        else:
            inputs.append(Input(str(path), path.stem))  # a missing file fails alone, later
    return inputs


def render(result: dict, fmt: str) -> str:
    """The result as written to a file or stdout."""
    if fmt == "json":
        return json.dumps(result, ensure_ascii=False, indent=2) + "\n"
    lines = [line for page in result["pages"] for line in page["result"]]
    if fmt == "text":
        return "".join(f"{line.get('text', '')}\n" for line in lines)
    rows = ["page\tbox\tbox_score\ttext\ttext_score\tlabel"]
    rows += [f"{page['page']}\t{','.join(f'{v:g}' for v in line['box'])}\t{line['box_score']:.4f}\t"
             f"{line.get('text', '')}\t{line.get('text_score', '')}\t{line.get('label', '')}"
             for page in result["pages"] for line in page["result"]]
    return "\n".join(rows) + "\n"


def _reader(args: argparse.Namespace) -> tuple[Callable[[bytes], dict], Callable[[bytes], bytes] | None]:
    """(read(bytes) -> /ocr answer as plain data, visualise(bytes) -> PNG or None)."""
    options = {"det": args.det, "rec": args.rec, "kie": args.kie, "cls": args.cls}
    if args.local:
        from service.tooling.evaluation.clients import local_ocr
        from service.gateway.schemas import OcrResponse

        local = local_ocr()

        def read_local(data: bytes) -> dict:
            answer = local(data, det=_local_name(args.det), rec=_local_name(args.rec), cls=args.cls, kie=args.kie)
            return OcrResponse.model_validate(answer).model_dump(mode="json", by_alias=True, exclude_none=True)

        return read_local, None
    from ocrserve.client import OcrClient

    client = OcrClient(args.url)  # None: $OCRSERVE_URL or the default

    def read(data: bytes) -> dict:
        return client.ocr(data, **options).model_dump(mode="json", by_alias=True, exclude_none=True)

    return read, (lambda data: client.visualize(data, **options)) if args.vis else None


def _local_name(name: str | None) -> str | None:
    if name is None:
        return "default"
    return None if name.lower() == "none" else name


def _read_bytes(item: Input) -> bytes:
    if item.source == "-":
        return sys.stdin.buffer.read()
    return Path(item.source).read_bytes()


def _one(item: Input, read: Callable, visualise: Callable | None, args: argparse.Namespace) -> tuple[str, int]:
    """Read one input and write or print its result; returns (rendered text, number of lines)."""
    data = _read_bytes(item)
    result = read(data)
    text = render(result, args.format)
    if args.out:
        target = args.out / (item.name + SUFFIX[args.format])
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
        if visualise:
            target.with_name(Path(item.name).name + ".vis.png").write_bytes(visualise(data))
    return text, sum(len(p["result"]) for p in result["pages"])


def run_ocr_command(args: argparse.Namespace) -> int:
    if args.vis and not args.out:
        print("ocr: --vis writes <name>.vis.png files: give --out DIR", file=sys.stderr)
        return 2
    if args.local and args.vis:
        print("ocr: --vis needs a gateway (--url), it draws server-side", file=sys.stderr)
        return 2
    inputs = collect_inputs(args.paths)
    if not inputs:
        print("ocr: no images found in " + " ".join(args.paths), file=sys.stderr)
        return 2
    read, visualise = _reader(args)
    jobs = 1 if args.local else max(1, args.jobs)
    failed = 0
    show = args.print_result or not args.out
    with Progress(len(inputs), "ocr") as progress, ThreadPoolExecutor(jobs) as pool:
        futures = [(item, pool.submit(_one, item, read, visualise, args)) for item in inputs]
        for item, future in futures:
            try:
                text, n_lines = future.result()
            except Exception as exc:  # noqa: BLE001 - one bad input must not stop the run
                failed += 1
                progress.done(item.source, ok=False, note=str(exc))
                continue
            progress.done(item.source, note=f"{n_lines} lines")
            if show:
                header = f"==> {item.source} <==\n" if len(inputs) > 1 and args.format != "json" else ""
                sys.stdout.write(header + text)
                sys.stdout.flush()
    print(f"ocr: {len(inputs)} inputs, {len(inputs) - failed} read, {failed} failed", file=sys.stderr)
    return 1 if failed else 0
