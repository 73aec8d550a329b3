"""Choose the service's default detector/recogniser pair by measurement on the shared data.

Runs every det x rec pair of the zoo in-process (one ORT thread per model, cls off) and reports
IC15 toy word-level detection hmean and end-to-end word spotting F, word-crop accuracy, document
CER (tesseract phototest/eurotext) and speed; picks a default by the rule in `choose`; then, for
that pair only, measures det `limit_side_len` and the recogniser's `min_width` padding.

    .venv/bin/python bench/select_models.py [--passes 2] [--out bench/RESULTS-models.md]
"""
from __future__ import annotations

import argparse
import dataclasses
import datetime
import difflib
import statistics
import subprocess
import sys
import time
from collections import Counter
from contextlib import contextmanager, nullcontext
from pathlib import Path

from rapidfuzz.distance import Levenshtein

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from service.tooling.evaluation.clients import local_ocr, recognizer_from  # noqa: E402
from service.tooling.evaluation.datasets import load_icdar2015_dir, load_word_crops  # noqa: E402
from service.tooling.evaluation.evaluation import evaluate_end_to_end, evaluate_recognition  # noqa: E402

DATA = REPO.parent / "shared" / "data"
DETS = ("dbnet", "ppocrv6-tiny-det", "ppocrv4-det")
RECS = ("ppocrv6-small-rec", "ppocrv6-tiny-rec", "ppocrv4-rec")
DOCS = ("phototest.tif", "eurotext.tif")
BUDGET_CPU_MS = 1000  # speed budget: CPU ms per 1280x720 photo (one thread per model)
F_TIE = 0.05  # e2e F ties: one word moves F by 2/(gt+pred) ~ 0.04 on the IC15 toy set (21 GT words)
SETTINGS = [(736, 320), (960, 320), (736, 240), (736, 160), (960, 160), (736, 96)]  # (limit, min_width)


def normalise(text: str) -> str:
    """Collapse every whitespace run to one space and strip."""
    return " ".join(text.split())


def cer(pred: str, gt: str) -> float:
    """Character error rate: edit distance over the (normalised) GT length."""
    pred, gt = normalise(pred), normalise(gt)
    return Levenshtein.distance(pred, gt) / max(1, len(gt))


def accented(text: str) -> list[str]:
    """Non-ASCII letters (accented Latin such as u-umlaut, a-tilde, c-cedilla)."""
    return [c for c in text if c.isalpha() and ord(c) > 127]


def accents_kept(pred: str, gt: str) -> tuple[int, int]:
    """(accented GT letters also present in the prediction, multiset-wise; accented GT letters)."""
    want, got = Counter(accented(gt)), Counter(accented(pred))
    return sum((want & got).values()), sum(want.values())


def word_diff(pred: str, gt: str) -> str:
    """The differing word runs of prediction and GT, as 'gt -> pred; ...'."""
    a, b = normalise(gt).split(), normalise(pred).split()
    ops = difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes()
    return "; ".join(f"{' '.join(a[i1:i2])} -> {' '.join(b[j1:j2])}" for tag, i1, i2, j1, j2 in ops if tag != "equal")


def load_docs() -> list[tuple[Path, str]]:
    """The document pages with full-page GT text, as (image, GT text) from tesseract/expected.tsv."""
    root = DATA / "tesseract"
    docs = {}
    for line in (root / "expected.tsv").read_text(encoding="utf-8").splitlines()[1:]:
        image, kind, gt_file = line.split("\t")[:3]
        if Path(image).name in DOCS and kind == "full_page_text_file":
            docs[Path(image).name] = (root / image, (root / gt_file).read_text(encoding="utf-8"))
    return [docs[name] for name in DOCS]


def page_text(response: dict) -> str:
    """Line texts of the only page, in the service's reading order, joined by a space."""
    return " ".join(line["text"] for line in response["pages"][0]["result"])


@contextmanager
def min_width(ocr, rec: str, width: int):
    """Temporarily run the recogniser `rec` with CTCConfig.min_width = width."""
    model = ocr.backend.handler(rec).model
    saved = model.cfg
    model.cfg = dataclasses.replace(saved, min_width=width)
    try:
        yield
    finally:
        model.cfg = saved


class Bench:
    """The data, the in-process OCR function and the measurements on them."""

    def __init__(self, passes: int):
        self.ocr = local_ocr(threads=1)
        self.ic15 = load_icdar2015_dir(DATA / "mmocr" / "0.x" / "toy_dataset")
        self.images = [path.read_bytes() for path, _ in self.ic15]
        self.crops = load_word_crops(DATA / "mmocr" / "0.x" / "ocr_toy_dataset")
        self.docs = load_docs()
        self.passes = passes

    def accuracy(self, det: str, rec: str, **opts) -> dict:
        """IC15 e2e evaluation (also the warm-up pass) plus document CER and accent counts."""
        ev = evaluate_end_to_end(self.ic15, lambda data: self.ocr(data, det=det, rec=rec, **opts))
        e2e = ev["e2e"]
        row = {"det_word": ev["det_word"]["hmean"], "e2e": e2e["hmean"], "e2e_nosym": e2e["hmean_ignore_symbol"],
               "hits": f"{round(e2e['recall'] * e2e['gt_num'])}/{e2e['gt_num']}/{e2e['pred_num']}"}
        for path, gt in self.docs:
            text = page_text(self.ocr(path.read_bytes(), det=det, rec=rec, **opts))
            row[f"cer:{path.name}"] = cer(text, gt)
            row[f"accents:{path.name}"] = accents_kept(text, gt)
            row[f"diff:{path.name}"] = word_diff(text, gt)
        row["cer"] = statistics.mean(row[f"cer:{name}"] for name in DOCS)
        return row

    def word_accuracy(self, rec: str) -> float:
        """Word-crop accuracy ignoring case and symbols (detection off)."""
        result = evaluate_recognition(self.crops, recognizer_from(self.ocr, rec))
        return result["word_acc_ignore_case_symbol"]

    def timed_call(self, data: bytes, det: str, rec: str, **opts) -> dict:
        """timings_ms of one call plus the process CPU ms it took (robust to other load)."""
        start = time.process_time()
        timings = self.ocr(data, det=det, rec=rec, **opts)["timings_ms"]
        return {**timings, "cpu": (time.process_time() - start) * 1000}

    def timed_pass(self, det: str, rec: str, **opts) -> list[dict]:
        """Timings of every IC15 image, then of every document page, one pass."""
        pages = [path.read_bytes() for path, _ in self.docs]
        return [self.timed_call(data, det, rec, **opts) for data in self.images + pages]

    def speed(self, passes: list[list[dict]]) -> dict:
        """Mean over images of the per-image median over passes (IC15: wall, CPU, det, rec; docs: wall)."""
        def stage(key: str, part: slice) -> float:
            per_image = zip(*[[t.get(key, 0.0) for t in p[part]] for p in passes])
            return statistics.mean(statistics.median(v) for v in per_image)
        ic15, docs = slice(0, len(self.images)), slice(len(self.images), None)
        return {"ms": stage("total", ic15), "cpu_ms": stage("cpu", ic15), "det_ms": stage("detect", ic15),
                "rec_ms": stage("recognize", ic15), "doc_ms": stage("total", docs)}

    def run_configs(self, configs: dict[str, dict], setup) -> dict[str, dict]:
        """Accuracy for each config, then timed passes interleaved across configs (spreads noise).

        `configs` maps a label to (det, rec, det options); `setup(label)` is a context manager
        applied around every run of that label.
        """
        rows, timings = {}, {label: [] for label in configs}
        for label, cfg in configs.items():
            with setup(label):
                rows[label] = {**self.accuracy(cfg["det"], cfg["rec"], **cfg["opts"]),
                               "word_acc": self.word_accuracy(cfg["rec"])}
            print(f"  accuracy {label}: e2e {rows[label]['e2e']:.3f} cer {rows[label]['cer']:.4f}", flush=True)
        for number in range(self.passes):
            for label, cfg in configs.items():
                with setup(label):
                    timings[label].append(self.timed_pass(cfg["det"], cfg["rec"], **cfg["opts"]))
            print(f"  timed pass {number + 1}/{self.passes} done", flush=True)
        return {label: {**rows[label], **self.speed(timings[label])} for label in configs}


def choose(rows: dict[str, dict], budget: float = BUDGET_CPU_MS) -> tuple[str, str]:
    """The default pair and the rule's reasoning.

    Rule: accuracy first, within a speed budget. Pairs whose IC15 CPU ms/image is above the budget
    are out; among the rest the highest e2e F wins, F within F_TIE of the best (about one word on
    this set) being a tie, broken by the lower mean document CER, then the higher word-crop
    accuracy, then the higher det_word hmean, then the lower CPU ms.
    """
    eligible = {k: r for k, r in rows.items() if r["cpu_ms"] <= budget}
    if not eligible:
        return "none", f"no pair within {budget:.0f} CPU ms"
    best_f = max(r["e2e"] for r in eligible.values())
    tied = {k: r for k, r in eligible.items() if r["e2e"] >= best_f - F_TIE}
    pick = min(tied, key=lambda k: (round(tied[k]["cer"], 4), -tied[k]["word_acc"], -tied[k]["det_word"],
                                    tied[k]["cpu_ms"]))
    why = (f"budget {budget:.0f} CPU ms/image; eligible: {len(eligible)} of {len(rows)} pairs; best e2e F "
           f"{best_f:.3f}; tied within {F_TIE}: {', '.join(tied)}; after the tie-breaks: {pick}")
    return pick, why


def sensitivity(rows: dict[str, dict]) -> list[str]:
    """What the rule would pick under tighter budgets (multiples of the cheapest pair's CPU ms)."""
    cheapest = min(r["cpu_ms"] for r in rows.values())
    return [f"- budget {m}x cheapest ({m * cheapest:.0f} CPU ms): {choose(rows, m * cheapest)[0]}"
            for m in (1.0, 1.5, 2.0, 2.5, 3.0)]


def table(rows: dict[str, dict], first: str) -> str:
    """Markdown table of measured rows."""
    head = (f"| {first} | det_word hmean | e2e F | e2e F (no sym) | e2e hits/gt/pred | word acc | CER phototest "
            "| CER eurotext | accents kept (eurotext) | ms/image | CPU ms/image | det ms | rec ms | doc ms |")
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for label, r in rows.items():
        kept, total = r["accents:eurotext.tif"]
        lines.append(f"| {label} | {r['det_word']:.3f} | {r['e2e']:.3f} | {r['e2e_nosym']:.3f} | {r['hits']} | "
                     f"{r['word_acc']:.2f} | {r['cer:phototest.tif']:.4f} | {r['cer:eurotext.tif']:.4f} | "
                     f"{kept}/{total} | {r['ms']:.0f} | {r['cpu_ms']:.0f} | {r['det_ms']:.0f} | "
                     f"{r['rec_ms']:.0f} | {r['doc_ms']:.0f} |")
    return "\n".join(lines)


def charset_notes(bench: Bench) -> list[str]:
    """For each recogniser: which accented GT letters of eurotext its character set lacks."""
    gt = bench.docs[DOCS.index("eurotext.tif")][1]
    letters = sorted(set(accented(gt)))
    notes = []
    for rec in RECS:
        charset = set(bench.ocr.backend.handler(rec).model.cfg.charset)
        missing = [c for c in letters if c not in charset]
        notes.append(f"- {rec}: {len(charset)} classes; eurotext accented letters {''.join(letters)}: "
                     f"missing from charset: {''.join(missing) or 'none'}")
    return notes


def provenance() -> str:
    """Date, commit and whether the code under test had uncommitted edits."""
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True)
    dirty = subprocess.run(["git", "status", "--short", "--", "handlers", "service"], cwd=REPO,
                           capture_output=True, text=True).stdout.split("\n")
    dirty = [line.strip() for line in dirty if line.strip()]
    stamp = datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    return (f"Measured {stamp} at commit {head.stdout.strip()}"
            + (f" with uncommitted edits in: {'; '.join(dirty)}" if dirty else "") + ".")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--passes", type=int, default=2, help="timed passes (IC15 + pages) after the warm-up")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "RESULTS-models.md")
    args = parser.parse_args()
    if not DATA.is_dir():
        print(f"no shared data at {DATA}", file=sys.stderr)
        return 2
    bench = Bench(args.passes)
    pairs = {f"{d} + {r}": {"det": d, "rec": r, "opts": {}} for d in DETS for r in RECS}
    print("all pairs:", flush=True)
    rows = bench.run_configs(pairs, lambda _label: nullcontext())
    pick, why = choose(rows)
    det, rec = pairs[pick]["det"], pairs[pick]["rec"]
    settings = {f"limit_side_len={s}, min_width={w}": {"det": det, "rec": rec, "opts": {"limit_side_len": s},
                                                        "min_width": w} for s, w in SETTINGS}
    print(f"settings of {pick}:", flush=True)
    study = bench.run_configs(settings, lambda label: min_width(bench.ocr, rec, settings[label]["min_width"]))
    report = render(bench, rows, pick, why, study)
    print(report)
    args.out.write_text(report + "\n", encoding="utf-8")
    return 0


def render(bench: Bench, rows: dict, pick: str, why: str, study: dict) -> str:
    """The whole markdown report."""
    gt_num, pred_num = map(int, rows[pick]["hits"].split("/")[1:])
    pairs_det = pick.split(" + ")[0]
    return "\n".join([
        "# Default detector/recogniser: measurements", "",
        f"Command: `.venv/bin/python bench/select_models.py --passes {bench.passes}`. {provenance()}",
        "In-process (`local_ocr`), one ONNX Runtime thread per model, cls off, zoo configs as in "
        "model_store/zoo.yaml (limit_side_len 736, min_width 320) unless stated.", "",
        "- det_word hmean / e2e F: IC15 toy set (10 photos), `evaluate_end_to_end` (word spotting, "
        "generic, case-insensitive; no-sym variant also ignores symbols).",
        "- word acc: 10 MMOCR word crops, detection off, ignoring case and symbols (depends on rec only).",
        "- CER: edit distance / GT length on whitespace-normalised text, lines joined by a space in the "
        "service's reading order; accents kept = accented GT letters also found in the output.",
        f"- ms/image: IC15 pipeline `timings_ms.total`, per-image median of {bench.passes} passes after "
        "a warm-up pass, mean over images (det ms / rec ms the same for `detect` / `recognize`, doc ms "
        "for the two pages); CPU ms/image: process CPU time of the same calls, which other load on "
        "the machine disturbs far less than wall time. Timed passes interleave all configs.", "",
        "## All pairs", "", table(rows, "det + rec"), "",
        f"IC15 toy: {gt_num} cared GT words, so one matched word moves e2e F by about "
        f"{2 / (gt_num + pred_num):.3f}; differences of one or two words are not evidence on their own.", "",
        "Character sets:", *charset_notes(bench), "",
        f"eurotext differences (GT -> output) with det {pairs_det}:",
        *[f"- {k.split(' + ')[1]}: {r['diff:eurotext.tif'] or 'none'}" for k, r in rows.items()
          if k.startswith(pairs_det + " + ")], "",
        f"## Recommended default: {pick}", "",
        "Rule: " + " ".join(choose.__doc__.split("Rule:")[1].split()).replace("F_TIE", str(F_TIE)), "",
        f"Applied: {why}.", "",
        "Tighter budgets would pick:", *sensitivity(rows), "",
        f"## Settings of {pick}", "", table(study, "setting"), "",
    ])


if __name__ == "__main__":
    raise SystemExit(main())
