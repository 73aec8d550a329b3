"""Documents through a running service (`make run`): a scanned multi-page PDF through POST /ocr
and through POST /jobs, at client concurrency 1 and 4 (that many copies of the document in flight
at once), printing pages/s, the time to the first page result and how many cores the gateway and
TorchServe kept busy.

  make run &                       # or: .venv/bin/ocrserve run
  PYTHONPATH=. .venv/bin/python bench/document_service.py --pid $(pgrep -f 'service.tooling.cli run' | head -1)

--pid is the `ocrserve run` process: its CPU time and that of its children (TorchServe, its
workers, the gateway) divided by the wall time is the "cores busy" column; "cores wanted" adds
the time their threads waited for a core (schedstat), so on a shared machine it still shows
whether the service would keep both cores busy on its own. With --run-dir (the
OCRSERVE_RUN_DIR of that `ocrserve run`) each row is followed by where those cores went: the
gateway, TorchServe's frontend and each model's workers (worker pids from the management API).
The pages are generated (service.tooling.synth.pages, two columns, seeded) and "scanned" (blur, noise,
JPEG at 150 dpi).
"""
from __future__ import annotations

import argparse
import asyncio
import io
import time
from pathlib import Path

import httpx
import numpy as np
import psutil
from PIL import Image, ImageFilter

from service.tooling.synth.pages import make_page
from service.gateway.torchserve_client import read_keys


def scanned_pdf(pages: int, seed: int = 0) -> bytes:
    rng = np.random.default_rng(seed)
    images = []
    for i in range(pages):
        page = make_page(seed + i, columns=2 + i % 2).image.convert("L").filter(ImageFilter.GaussianBlur(0.6))
        noisy = np.clip(np.asarray(page, np.float32) + rng.normal(0, 8, (page.height, page.width)), 0, 255)
        buf = io.BytesIO()
        Image.fromarray(noisy.astype(np.uint8)).save(buf, "JPEG", quality=70)
        images.append(Image.open(io.BytesIO(buf.getvalue())).convert("RGB"))
    out = io.BytesIO()
    images[0].save(out, "PDF", save_all=True, append_images=images[1:], resolution=150)
    return out.getvalue()


def cpu_seconds(pid: int | None) -> float:
    return sum(cpu_by_process(pid, {}).values())


def cpu_by_process(pid: int | None, names: dict[int, str]) -> dict[str, float]:
    """CPU seconds of `pid` and its children, by role: `names` maps worker pids to model names."""
    if not pid:
        return {}
    seconds: dict[str, float] = {}
    root = psutil.Process(pid)
    for proc in [root, *root.children(recursive=True)]:
        try:
            times = proc.cpu_times()
            role = ("gateway" if proc.pid == pid else "TorchServe frontend" if proc.name() == "java"
                    else names.get(proc.pid, "other"))
            used = times.user + times.system + times.children_user + times.children_system
        except psutil.NoSuchProcess:
            continue
        seconds[role] = seconds.get(role, 0.0) + used
    return seconds


def cores_wanted(pid: int | None) -> float:
    """Seconds that the threads of `pid` and its children spent running or runnable (waiting for a
    core): per wall second, the cores the service would keep busy if it had the machine to itself.
    On a shared machine "cores busy" is capped by the other tenants' share; this is not."""
    if not pid:
        return 0.0
    root = psutil.Process(pid)
    total = 0
    for proc in [root, *root.children(recursive=True)]:
        for task in Path(f"/proc/{proc.pid}/task").glob("*"):
            try:
                running_ns, waiting_ns, _ = (task / "schedstat").read_text().split()
            except (OSError, ValueError):
                continue
            total += int(running_ns) + int(waiting_ns)
    return total / 1e9


def worker_models(run_dir: Path | None) -> dict[int, str]:
    """Worker pid -> model name, from the management API of the `ocrserve run` in `run_dir`."""
    if run_dir is None:
        return {}
    config = dict(line.split("=", 1) for line in (run_dir / "torchserve/config.properties").read_text().splitlines())
    headers = {"Authorization": f"Bearer {read_keys(run_dir / 'torchserve/key_file.json').management}"}
    with httpx.Client(base_url=config["management_address"], headers=headers, timeout=10) as client:
        models = [m["modelName"] for m in client.get("/models").json()["models"]]
        return {int(w["pid"]): name for name in models for w in client.get(f"/models/{name}").json()[0]["workers"]}


async def _post(client: httpx.AsyncClient, path: str, pdf: bytes) -> tuple[httpx.Response, int]:
    """POST the PDF as a well-behaved client does: a 503 (admission control shed it) is retried
    after its Retry-After. Returns the answer and how many 503s came first."""
    shed = 0
    while True:
        response = await client.post(path, content=pdf, headers={"Content-Type": "application/pdf"})
        if response.status_code != 503:
            response.raise_for_status()
            return response, shed
        shed += 1
        await asyncio.sleep(float(response.headers.get("Retry-After", "1")))


async def through_ocr(client: httpx.AsyncClient, pdf: bytes) -> tuple[float, int, int]:
    """(seconds to the first page result, pages read, 503s retried): /ocr answers with every page at once."""
    started = time.perf_counter()
    response, shed = await _post(client, "/ocr", pdf)
    return time.perf_counter() - started, len(response.json()["pages"]), shed


async def through_jobs(client: httpx.AsyncClient, pdf: bytes) -> tuple[float, int, int]:
    """(seconds until the job reports its first page done, pages read, 503s retried)."""
    started = time.perf_counter()
    response, shed = await _post(client, "/jobs", pdf)
    job = response.json()
    first = None
    while True:
        status = (await client.get(f"/jobs/{job['id']}")).json()
        if first is None and status["pages_done"] >= 1:
            first = time.perf_counter() - started
        if status["state"] in ("done", "failed"):
            break
        await asyncio.sleep(0.2)
    assert status["state"] == "done", status
    pages = len((await client.get(f"/jobs/{job['id']}/result")).json()["pages"])
    await client.delete(f"/jobs/{job['id']}")
    return first or time.perf_counter() - started, pages, shed


async def run(url: str, pdf: bytes, route, concurrency: int, pid: int | None, names: dict[int, str]) -> str:
    async with httpx.AsyncClient(base_url=url, timeout=3600) as client:
        cpu, wanted, started = cpu_by_process(pid, names), cores_wanted(pid), time.perf_counter()
        results = await asyncio.gather(*(route(client, pdf) for _ in range(concurrency)))
        wall = time.perf_counter() - started
        used = {role: s - cpu.get(role, 0.0) for role, s in cpu_by_process(pid, names).items()}
        wanted = cores_wanted(pid) - wanted
    busy = sum(used.values()) / wall if pid else float("nan")
    pages = sum(p for _, p, _ in results)
    first = min(f for f, _, _ in results)
    row = (f"| {route.__name__.replace('through_', '/')} | {concurrency} | {pages} | {wall:.1f} | "
           f"{pages / wall:.3f} | {first:.1f} | {busy:.2f} | {wanted / wall:.2f} | {sum(s for *_, s in results)} |")
    if names:
        row += "\n| | | | | | | | cores busy by process: " + ", ".join(
            f"{role} {s / wall:.2f}" for role, s in sorted(used.items(), key=lambda kv: -kv[1]) if s / wall >= 0.005) + " |"
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--pages", type=int, default=20)
    parser.add_argument("--concurrency", type=int, nargs="*", default=[1, 4])
    parser.add_argument("--routes", nargs="*", choices=["ocr", "jobs"], default=["ocr", "jobs"])
    parser.add_argument("--pid", type=int, default=None, help="`ocrserve run`'s pid, for the cores-busy column")
    parser.add_argument("--run-dir", type=Path, default=None,
                        help="that `ocrserve run`'s OCRSERVE_RUN_DIR: cores busy per process (needs --pid)")
    args = parser.parse_args()
    pdf = scanned_pdf(args.pages)
    names = worker_models(args.run_dir)
    print(f"{args.pages}-page scanned PDF, {len(pdf) / 1e6:.1f} MB; {psutil.cpu_count()} cores")
    print("| route | documents at once | pages | wall s | pages/s | first page s | cores busy | cores wanted "
          "| 503s retried |")
    print("|---|---|---|---|---|---|---|---|---|")
    for concurrency in args.concurrency:
        for route in (through_ocr if r == "ocr" else through_jobs for r in args.routes):
            print(asyncio.run(run(args.url, pdf, route, concurrency, args.pid, names)), flush=True)


if __name__ == "__main__":
    main()
