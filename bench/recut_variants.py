"""Second readings of each line from recut crops, replayed: which crop and which rule to keep.

One pass of `/ocr` with the defaults (in-process, one thread, `recut_below=0`) over ICDAR 2015
training photos (the split of bench/scene_text_levers.py) also reads every line from each
VARIANT crop: its quad grown or shrunk across the line (`x`, share of the height) and / or along
it (`l`, share of the length), turned as the first crop was. Each rule is then replayed on those
readings without reading again: which lines get a second reading (first score under `below`),
which text is kept (the higher score), and which score the line keeps for the recogniser's floor:

  max     the higher score
  orig    the first reading's score (only the text changes)
  agree   the higher score where all readings agree, else the lowest
  mean    the mean of the scores (what /ocr's `recut_below` does: service/gateway/recuts.py)

Rules are written VARIANT[,VARIANT]@BELOW[:RULE], e.g. `x0.9@0.9:mean` (the default). The `ms`
column estimates each rule's cost: the measured time of its variants' readings of every line,
times the share of lines it reads again. Lines of readings along a grown / shrunk crop have their
character positions mapped back onto the first crop, so word boxes stay where they were.

    .venv/bin/python bench/recut_variants.py --part val --n 250 x0.9@1.01 x0.9@0.9:mean ...
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

import cv2  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from fastapi.testclient import TestClient  # noqa: E402

import scene_text_levers as levers  # noqa: E402
import service.gateway.pipeline as pipeline  # noqa: E402
from handlers.api.results import Recognition  # noqa: E402
from handlers.ops.crop import crop_size  # noqa: E402
from service.gateway.directions import turned  # noqa: E402
from service.gateway.main import create_app  # noqa: E402
from service.gateway.recuts import scaled_quad  # noqa: E402
from service.gateway.settings import Settings  # noqa: E402
from service.gateway.zoo import load_zoo  # noqa: E402
from service.tooling.local_backend import LocalBackend  # noqa: E402

# name -> (share of the height across the line, share of the length along it)
VARIANTS = {"x1.1": (1.1, 1.0), "x1.2": (1.2, 1.0), "x0.9": (0.9, 1.0), "x0.85": (0.85, 1.0),
            "l1.06": (1.0, 1.06), "l0.96": (1.0, 0.96), "x1.1l1.04": (1.1, 1.04)}
DEFAULT_RULES = ["x1.1@1.01", "x1.2@1.01", "x0.9@1.01", "x0.85@1.01", "l1.06@1.01", "l0.96@1.01",
                 "x1.1l1.04@1.01", "x0.9@1.01:orig", "x0.9@1.01:agree", "x0.9@1.01:mean", "x0.9@0.9:mean"]


def warp(image: np.ndarray, quad: np.ndarray, rotated: bool) -> np.ndarray:
    """The quad's crop turned 90 exactly when the first crop was (a grown crop may change shape)."""
    width, height = crop_size(quad)
    target = np.array([[0, 0], [width, 0], [width, height], [0, height]], np.float32)
    matrix = cv2.getPerspectiveTransform(quad, target)
    out = cv2.warpPerspective(image, matrix, (width, height), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE)
    return np.ascontiguousarray(np.rot90(out)) if rotated else out


class Collector:
    """Wraps the pipeline's merge step: reads every line from each variant crop on the way."""

    def __init__(self) -> None:
        self.records: list[dict] = []
        self.seconds = dict.fromkeys(VARIANTS, 0.0)

    async def read_lines(self, backend, image, rows, result, request, timer, file_bytes):
        kept: dict = {}
        merge = pipeline._merge

        def capture(result_, crops, flipped, reads, request_):
            kept.update(result=result_, crops=crops, flipped=flipped, reads=list(reads), floor=request_.min_text_score)
            return merge(result_, crops, flipped, reads, request_)

        pipeline._merge = capture
        try:
            merged = await ORIGINAL_READ_LINES(backend, image, rows, result, request, timer, file_bytes)
        finally:
            pipeline._merge = merge
        kept["variants"] = {}
        for name, (across, along) in VARIANTS.items():
            start = time.perf_counter()
            images = []
            for crop, flip in zip(kept["crops"], kept["flipped"]):
                quad = scaled_quad(crop, across, along)
                cut = warp(image, quad, crop.rotated) if min(crop_size(quad)) >= 2 else crop.image
                images.append(turned(cut) if flip else cut)
            kept["variants"][name] = await backend.recognize(request.rec, images, request.rec_lang)
            self.seconds[name] += time.perf_counter() - start
        self.records.append(kept)
        return merged


ORIGINAL_READ_LINES = pipeline._read_lines


def mapped(read: Recognition, along: float) -> Recognition:
    """A reading of a crop `along` times as long, its positions as fractions of the first crop."""
    if along == 1.0:
        return read
    shift = (along - 1) / 2
    return Recognition(read.text, read.score, [(c, x0 * along - shift, x1 * along - shift, p) for c, x0, x1, p in
                                               read.chars], read.frame * along)


def replay(records: list[dict], names: list[str], below: float, rule: str) -> tuple[list[dict], int]:
    """The answers a rule would have given, and how many lines changed text."""
    answers, changed = [], 0
    for record in records:
        reads = list(record["reads"])
        for i, first in enumerate(reads):
            if first.score >= below:
                continue
            others = [record["variants"][name][i] for name in names]
            best = first
            for name, other in zip(names, others):
                if other.text.strip() and other.score > best.score:
                    best = mapped(other, VARIANTS[name][1])
            changed += best.text != first.text
            scores = [first.score] + [o.score for o in others]
            score = {"max": best.score, "orig": first.score, "mean": sum(scores) / len(scores),
                     "agree": best.score if len({first.text, *(o.text for o in others)}) == 1 else min(scores)}[rule]
            reads[i] = Recognition(best.text, score, best.chars, best.frame)
        request = pipeline.OcrRequest(det="-", rec="-", min_text_score=record["floor"])
        answers.append({"pages": [{"result": pipeline._merge(record["result"], record["crops"], record["flipped"],
                                                             reads, request)}]})
    return answers, changed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--part", choices=("val", "test"), default="val")
    parser.add_argument("--n", type=int, default=250)
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("rules", nargs="*", default=DEFAULT_RULES)
    args = parser.parse_args()
    torch.set_num_threads(1)
    data = levers.samples(levers.DATA, args.part, args.seed, args.n)
    collector = Collector()
    pipeline._read_lines = collector.read_lines
    zoo = load_zoo(REPO / "model_store" / "zoo.yaml")
    with TestClient(create_app(Settings(), backend=LocalBackend(zoo))) as client:
        lever = levers.Lever(client, {"recut_below": 0})
        first, cost = lever.timed(lambda ocr: levers.evaluate_end_to_end(data, ocr), len(data))
    records = collector.records
    lines = sum(len(r["reads"]) for r in records)
    rows = [levers._row("first reading only (recut_below=0)", {}, first, f"{cost.split(' |')[0]} | 0 | 0")]
    for spec in args.rules:
        names, _, rest = spec.partition("@")
        below, _, rule = rest.partition(":")
        names, below, rule = names.split(","), float(below), rule or "max"
        answers, changed = replay(records, names, below, rule)
        again = sum(1 for r in records for read in r["reads"] if read.score < below)
        ms = sum(collector.seconds[n] for n in names) * 1000 / len(data) * again / max(lines, 1)
        replayed = iter(answers)
        report = levers.evaluate_end_to_end(data, lambda _: next(replayed))
        rows.append(levers._row(spec, {}, report, f"as first | {changed} | {again}/{lines}, ~{ms:.0f}"))
    print(f"\nICDAR 2015 train, part {args.part} (seed {args.seed}), {len(data)} photos\n")
    print("| rule | options | det P | det R | det hmean | e2e P | e2e R | e2e F | s/image | lines changed | "
          "lines read again, ms/image |\n|---|---|---|---|---|---|---|---|---|---|---|")
    print("\n".join(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
