"""Scene-text pipeline levers on ICDAR 2015 training photos, through `POST /ocr` with the zoo's
default models in-process (LocalBackend, one thread).

The 1,000 photos of `../shared/data/icdar2015_train` are split by sha1 of the file name and the
seed into `val` (50 %: tune here) and `test` (50 %: report only the chosen setting there, never
tune on it). `--n` takes the first N photos of the chosen part in file order. Each lever is one
set of `/ocr` options against the defaults; for each: word-level detection hmean (each line's
`words` against the word ground truth, one-to-one at IoU > 0.5, predictions mostly inside `###`
ignored: service.tooling.evaluation.metrics.hmean_iou) and end-to-end word-spotting F (service.tooling.evaluation.metrics.word_spotting:
box matched and text equal after case-folding and stripping punctuation at both ends), and the
mean seconds per image (noisy on a shared machine: compare within one run).

`--turn 90|180|270` turns every photo (and its ground truth) clockwise first: every word then
runs vertically or upside down, which ICDAR 2015 itself almost never has (the both_ways levers).
`--thresholds` adds rows for score floors computed from the `default` run's answers (`--floors`:
given floors after every lever's run): a line whose
`box_score` is under a detector `min_text_score`, or whose `text_score` is under `rec_min_score`,
is dropped exactly as those /ocr options drop it (the DB score is the box's `box_score`), so the
rows cost no extra run. `--documents` adds, per lever, the character error rate of the document
pages phototest and eurotext (../shared/data/tesseract) and the fraction of their ground-truth
words read on the pages turned 90, 180 and 270 degrees (single images: no page orientation).
`--receipts`: word recall and precision (bags of words) on the SROIE receipts with an image;
`--wild-receipts LIST`: the same on the WildReceipt receipts listed (bench/det_replay_images.py).
`--list FILE` keeps only the photos of the part named in FILE (one file name a line, as
bench/det_ic15_split.py writes: `test_held.txt` when a detector trained on some of part `test`).

    .venv/bin/python bench/scene_text_levers.py --part val --n 100 [--levers default,side960]
        [--det dbnet-ic15 | --det /tmp/run/det.onnx]   # another zoo detector, or an ONNX file
        [--rec /tmp/run/rec.onnx]                      # the same for the recogniser
    .venv/bin/python bench/scene_text_levers.py --part val --n 30 --turn 270 --levers default,tall
    .venv/bin/python bench/scene_text_levers.py --n 0 --documents --levers default,tall
"""
from __future__ import annotations

import argparse
import string
import sys
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import cv2  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from fastapi.testclient import TestClient  # noqa: E402

from service.tooling.local_backend import LocalBackend  # noqa: E402
from service.tooling.evaluation.datasets import GtWord, read_icdar2015_gt  # noqa: E402
from service.tooling.evaluation.evaluation import evaluate_end_to_end  # noqa: E402
from service.tooling.evaluation.metrics import character_error_rate  # noqa: E402
from service.tooling.training.kie.real_data import split_of, sroie_images  # noqa: E402
from service.gateway.main import create_app  # noqa: E402
from service.gateway.settings import Settings  # noqa: E402
from service.gateway.zoo import load_zoo  # noqa: E402

DATA = REPO.parent / "shared" / "data" / "icdar2015_train"
SPLIT = (("val", 0.5), ("test", 0.5))
LEVERS: dict[str, dict] = {
    "default": {},
    "side960": {"limit_side_len": 960},
    "side800": {"limit_side_len": 800},
    "side864": {"limit_side_len": 864},
    "side1088": {"limit_side_len": 1088},
    "side1280": {"limit_side_len": 1280},
    "mask0.25": {"mask_thr": 0.25},
    "mask0.3": {"mask_thr": 0.3},
    "mask0.35": {"mask_thr": 0.35},
    "mask0.4": {"mask_thr": 0.4},
    "unclip1.5": {"unclip_ratio": 1.5},
    "unclip1.6": {"unclip_ratio": 1.6},
    "unclip1.8": {"unclip_ratio": 1.8},
    "score0.6": {"min_text_score": 0.6},
    "no-cls": {"cls": "false"},
    "rec0.5": {"rec_min_score": 0.5},
    "side960+unclip1.6": {"limit_side_len": 960, "unclip_ratio": 1.6},
    "side864+mask0.3": {"limit_side_len": 864, "mask_thr": 0.3},  # dbnet-ic15's config, for --det dbnet
    "gap2": {"word_gap": 2.0},
    "gap2.5": {"word_gap": 2.5},
    "noglued": {"glued_gap": 0},  # the default before glued words were cut (service/gateway/glued_words.py)
    "glued1.0": {"glued_gap": 1.0},
    "norecut": {"recut_below": 0},  # the zoo's default: no second reading from a tighter crop (service/gateway/recuts.py)
    "recut0.9": {"recut_below": 0.9},
    "recut1": {"recut_below": 1},
    "none": {"both_ways": "none"},  # the default before both_ways=tall
    "tall": {"both_ways": "tall"},
    "cls": {"cls": "true"},
    "cls+unsure": {"cls": "true", "both_ways": "unsure"},
    "unsure": {"both_ways": "unsure"},
    "score0.55": {"min_text_score": 0.55},
    "rec0.8": {"rec_min_score": 0.8},
    "rec0.85": {"rec_min_score": 0.85},
    "rec0.9": {"rec_min_score": 0.9},
    "score0.55+rec0.8": {"min_text_score": 0.55, "rec_min_score": 0.8},
    "tall+rec0.8": {"both_ways": "tall", "rec_min_score": 0.8},
    "tall+score0.55+rec0.8": {"both_ways": "tall", "min_text_score": 0.55, "rec_min_score": 0.8},
}
# Score floors evaluated on the default run's answers (--thresholds): the answer key each option
# compares with its floor, and the settings tried.
FLOOR_KEYS = {"min_text_score": "box_score", "rec_min_score": "text_score"}
THRESHOLDS = [{"min_text_score": t} for t in (0.5, 0.55, 0.6, 0.7)] + \
             [{"rec_min_score": t} for t in (0.5, 0.7, 0.8, 0.9)] + \
             [{"min_text_score": 0.55, "rec_min_score": 0.8}, {"min_text_score": 0.6, "rec_min_score": 0.8}]
DOCUMENTS = REPO.parent / "shared" / "data" / "tesseract" / "testing"
RECEIPTS = REPO.parent / "shared" / "data" / "sroie2019_train"
EXTRA_STAGES = ("classify", "reread", "recut")
_TURN = {90: cv2.ROTATE_90_CLOCKWISE, 180: cv2.ROTATE_180, 270: cv2.ROTATE_90_COUNTERCLOCKWISE}


def samples(root: Path, part: str, seed: int, n: int, only: set[str] | None = None) -> list[tuple[Path, list]]:
    images = sorted((root / "images").glob("img_*.jpg"), key=lambda p: int(p.stem.split("_")[1]))
    chosen = [p for p in images if split_of(p.name, seed, SPLIT) == part and (only is None or p.name in only)][:n]
    return [(p, read_icdar2015_gt(root / "gt" / f"gt_{p.stem}.txt")) for p in chosen]


def turn_sample(path: Path, gt: list[GtWord], degrees: int) -> tuple[bytes, list[GtWord]]:
    """The photo turned `degrees` clockwise (PNG) and its ground truth moved with it."""
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    height, width = image.shape[:2]
    move = {90: lambda x, y: (height - y, x), 180: lambda x, y: (width - x, height - y),
            270: lambda x, y: (y, width - x)}[degrees]
    turned = [GtWord([v for x, y in zip(w.polygon[::2], w.polygon[1::2]) for v in move(x, y)], w.text, w.ignored)
              for w in gt]
    return cv2.imencode(".png", cv2.rotate(image, _TURN[degrees]))[1].tobytes(), turned


def floor_row(answers: list[dict], floors: dict[str, float]) -> list[dict]:
    """The answers without the lines under any of `floors` (option -> floor), as the options drop them."""
    def kept(line: dict) -> bool:
        return all(line[FLOOR_KEYS[option]] >= floor for option, floor in floors.items())

    return [{"pages": [{**a["pages"][0], "result": [r for r in a["pages"][0]["result"] if kept(r)]}]} for a in answers]


def _words(text: str) -> Counter:
    """The words of a text, case-folded and stripped of punctuation at both ends, with repeats."""
    return Counter(w for w in (w.lower().strip(string.punctuation) for w in text.split()) if w)


def word_recall(text: str, truth: str) -> float:
    """Share of the ground truth's words found among the words read."""
    want = _words(truth)
    return sum((want & _words(text)).values()) / max(sum(want.values()), 1)


def documents_row(ocr) -> str:
    """CER of phototest / eurotext upright, then word recall on them turned 90 / 180 / 270."""
    cells = []
    pages = [(DOCUMENTS / f"{name}.tif", (DOCUMENTS / f"{name}.txt").read_text(encoding="utf-8"))
             for name in ("phototest", "eurotext")]
    for path, truth in pages:
        text = " ".join(r["text"] for r in ocr(path.read_bytes())["pages"][0]["result"])
        cells.append(f"{character_error_rate(text, truth):.3f}")
    for degrees in (90, 180, 270):
        found = []
        for path, truth in pages:
            image = cv2.rotate(cv2.imread(str(path), cv2.IMREAD_COLOR), _TURN[degrees])
            answer = ocr(cv2.imencode(".png", image)[1].tobytes())
            found.append(word_recall(" ".join(r["text"] for r in answer["pages"][0]["result"]), truth))
        cells.append(" / ".join(f"{f:.2f}" for f in found))
    return " | ".join(cells)


def _row(name: str, options: dict, report: dict, seconds: str) -> str:
    det, e2e = report["det_word"], report["e2e"]
    return (f"| {name} | {options or '-'} | {det['precision']:.3f} | {det['recall']:.3f} | {det['hmean']:.3f} | "
            f"{e2e['precision']:.3f} | {e2e['recall']:.3f} | {e2e['hmean']:.3f} | {seconds} |")


def _stage_ms(answers: list[dict]) -> str:
    """Mean ms per image of the stages the direction levers add (`classify`, `reread`, `recut`): their own cost,
    which the s/image of a loaded machine hides."""
    return f"{sum(a['timings_ms'].get(s, 0.0) for a in answers for s in EXTRA_STAGES) / max(len(answers), 1):.0f}"


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--part", choices=[p for p, _ in SPLIT], default="val")
    parser.add_argument("--n", type=int, default=100)
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--list", type=Path, metavar="FILE", help="only the photos of the part named in FILE "
                        "(--n then counts those)")
    parser.add_argument("--det", default=None, help="zoo detector, or an .onnx file served like the "
                        "default detector (ocrserve train det's output); default: the zoo's default")
    parser.add_argument("--rec", default=None, help="zoo recogniser, or an .onnx file served like the "
                        "default recogniser (ocrserve train rec's output); default: the zoo's default")
    parser.add_argument("--levers", default=",".join(LEVERS), help=f"comma list of {', '.join(LEVERS)}")
    parser.add_argument("--turn", type=int, choices=sorted(_TURN), help="turn photos this many degrees clockwise")
    parser.add_argument("--thresholds", action="store_true", help="score-floor rows from the default run")
    parser.add_argument("--floors", help="instead of the sweep, these floors (e.g. min_text_score=0.55+"
                                         "rec_min_score=0.8) on every lever's answers")
    parser.add_argument("--documents", action="store_true", help="document pages table per lever")
    parser.add_argument("--receipts", action="store_true", help="SROIE receipts table per lever")
    parser.add_argument("--sroie-part", choices=("all", "tune", "test"), default="all",
                        help="with --receipts: all SROIE receipts with an image, or the half that tunes or is "
                             "reported (the halves of bench/kie_real_receipts.py)")
    parser.add_argument("--wild-receipts", type=Path, metavar="LIST", help="instead of SROIE, the WildReceipt "
                        "receipts listed (e.g. receipts_dev.txt of bench/det_replay_images.py)")
    return parser.parse_args()


class Lever:
    """One lever's /ocr calls through the in-process gateway; keeps every answer."""

    def __init__(self, client: TestClient, options: dict) -> None:
        self.client, self.options, self.answers = client, options, []

    def __call__(self, image: bytes) -> dict:
        response = self.client.post("/ocr", params=self.options, files={"file": ("image", image)})
        response.raise_for_status()
        self.answers.append(response.json())
        return self.answers[-1]

    def timed(self, run, count: int) -> tuple[object, str]:
        """`run(self)`, and its seconds per item plus the direction stages' ms per item."""
        start, before = time.perf_counter(), len(self.answers)
        out = run(self)
        return out, f"{(time.perf_counter() - start) / max(count, 1):.2f} | {_stage_ms(self.answers[before:])}"


def receipts_row(ocr, listing: Path | None = None, part: str = "all") -> str:
    """Word recall and precision (bags of words) on the SROIE receipts that have an image, or on
    the WildReceipt receipts whose image paths `listing` names (bench/det_replay_images.py)."""
    found = read = wanted = 0
    for image, truth in (wild_receipts(listing) if listing else sroie_receipts(part)):
        text = " ".join(r["text"] for r in ocr(image.read_bytes())["pages"][0]["result"])
        want, got = _words(truth), _words(text)
        found, read, wanted = found + sum((want & got).values()), read + sum(got.values()), wanted + sum(want.values())
    return f"{found / max(wanted, 1):.3f} | {found / max(read, 1):.3f}"


def sroie_receipts(part: str = "all") -> list[tuple[Path, str]]:
    return [(image, " ".join(line.split(",", 8)[8] for line in
                             (RECEIPTS / "box" / f"{image.stem}.csv").read_text(encoding="utf-8").splitlines() if line))
            for image in sroie_images(RECEIPTS, part)]


def wild_receipts(listing: Path) -> list[tuple[Path, str]]:
    """(image, its annotated texts) of the WildReceipt receipts named in `listing`."""
    import json

    root = REPO.parent / "shared" / "data" / "wildreceipt_subset"
    texts = {}
    for line in (root / "annotations.txt").read_text(encoding="utf-8").splitlines():
        if line.strip():
            rec = json.loads(line)
            texts[str((root / rec["file_name"]).resolve())] = " ".join(a["text"] for a in rec["annotations"])
    names = [Path(n.strip()) for n in listing.read_text(encoding="utf-8").splitlines() if n.strip()]
    return [(n, texts[str(n.resolve())]) for n in names]


def _print_table(title: str, header: str, rows: list[str]) -> None:
    if rows:
        print(f"\n{title}\n\n{header}\n|{'---|' * header.count(' | ')}---|")
        print("\n".join(rows))


def main() -> int:
    args = _arguments()
    if args.n and not (args.data / "images").is_dir():
        print(f"no ICDAR 2015 photos at {args.data / 'images'}", file=sys.stderr)
        return 2
    levers = args.levers.split(",")
    unknown = [lv for lv in levers if lv not in LEVERS]
    if unknown:
        print(f"unknown levers {unknown}; known: {', '.join(LEVERS)}", file=sys.stderr)
        return 2
    torch.set_num_threads(1)
    only = set(args.list.read_text(encoding="utf-8").split()) if args.list else None
    data = samples(args.data, args.part, args.seed, args.n, only) if args.n else []
    if only is not None and len(data) < min(args.n, len(only)):
        print(f"{args.list}: {len(only)} photos named, {len(data)} of them in part {args.part}", file=sys.stderr)
    if args.turn:
        data = [turn_sample(path, gt, args.turn) for path, gt in data]
    zoo, chosen, settings = load_zoo(REPO / "model_store" / "zoo.yaml"), {}, Settings()
    if args.det or args.rec:
        import tempfile

        from service.tooling.training.det.zoo_entry import with_model, write_zoo

        for task in ("det", "rec"):
            if getattr(args, task):
                zoo, chosen[task] = with_model(zoo, getattr(args, task), task)
        settings = Settings(zoo_path=write_zoo(zoo, Path(tempfile.mkdtemp()) / "zoo.yaml"))
    app = create_app(settings, backend=LocalBackend(zoo))
    photos, documents, receipts = [], [], []
    with TestClient(app) as client:
        for name in levers:
            lever = Lever(client, {**LEVERS[name], **chosen})
            if data:
                report, cost = lever.timed(lambda ocr: evaluate_end_to_end(data, ocr), len(data))
                photos.append(_row(name, lever.options, report, cost))
                print(photos[-1], file=sys.stderr, flush=True)  # progress
            if name == "default" and args.thresholds and data:
                photos += [_floor_row(data, lever.answers, floors) for floors in THRESHOLDS]
            if args.floors and data:
                floors = {k: float(v) for k, v in (f.split("=") for f in args.floors.split("+"))}
                photos.append(_floor_row(data, lever.answers, floors, f"{name}+"))
            if args.documents:
                cells, cost = lever.timed(documents_row, 8)
                documents.append(f"| {name} | {cells} | {cost} |")
            if args.receipts or args.wild_receipts:
                cells, cost = lever.timed(lambda ocr: receipts_row(ocr, args.wild_receipts, args.sroie_part),
                                          len(wild_receipts(args.wild_receipts) if args.wild_receipts
                                              else sroie_receipts(args.sroie_part)))
                receipts.append(f"| {name} | {cells} | {cost} |")
    turned = f", turned {args.turn} degrees clockwise" if args.turn else ""
    listed = f" named in {args.list}" if args.list else ""
    _print_table(f"ICDAR 2015 train, part {args.part} (seed {args.seed}), {len(data)} photos{listed}{turned}, "
                 f"models {_models(zoo, chosen)}",
                 "| lever | options | det P | det R | det hmean | e2e P | e2e R | e2e F | s/image | "
                 "cls+reread+recut ms/image |", photos)
    _print_table("Document pages (../shared/data/tesseract/testing): CER upright; words found when turned",
                 "| lever | CER phototest | CER eurotext | found at 90 (photo / euro) | at 180 | at 270 | s/page | "
                 "cls+reread+recut ms/page |", documents)
    sroie = f"SROIE receipts with an image (../shared/data/sroie2019_train, {args.sroie_part})"
    _print_table(f"{args.wild_receipts or sroie}: bags of words",
                 "| lever | word recall | word precision | s/receipt | cls+reread+recut ms/receipt |", receipts)
    return 0


def _models(zoo, chosen: dict[str, str]) -> str:
    """What reads the photos: the models the run named, else the defaults, or the photo route's
    models for images that are mostly not paper (service/gateway/photo_route.py) where the run
    named none of that task."""
    det, rec = chosen.get("det", zoo.defaults["det"]), chosen.get("rec", zoo.defaults["rec"])
    photos = zoo.photos if "det" not in chosen else None
    if photos is None:
        return f"{det} + {rec}"
    photo_rec = rec if "rec" in chosen or not photos.rec else photos.rec
    return f"{det} + {rec}; photos (paper share < {photos.paper_below:g}) {photos.det} + {photo_rec}"


def _floor_row(data: list, answers: list[dict], floors: dict[str, float], prefix: str = "") -> str:
    replay = iter(floor_row(answers, floors))
    label = prefix + "+".join(f"{k}={v}" for k, v in floors.items())
    return _row(label, floors, evaluate_end_to_end(data, lambda _: next(replay)), "as without | 0")


if __name__ == "__main__":
    sys.exit(main())
