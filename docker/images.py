#!/usr/bin/env python3
"""Build the images from this checkout and run them, on a machine like the development one.

    python docker/images.py            (or `make images-test`, which runs tests/deploy/test_images.py)

Steps: install Debian's Docker engine when `dockerd` is missing (root and apt-get only); start a
private daemon (own data root, exec root and socket under --dir; no bridge, no iptables); use the
base image when it can be pulled, else make a stand-in for python:3.11-slim-bookworm from Debian's
packages (mmdebstrap); build the gateway, the CPU TorchServe and the GPU TorchServe images (CUDA
13 and CUDA 12) with host networking (the CPU torch wheel served from 127.0.0.1 when this machine
has one) [`built`]; run TorchServe and the gateway with host networking on free loopback ports
[`running`], or the same through docker/compose.host.yaml with Compose [`composed`]; wait for
health. The caller sends requests (`Stack`); then everything is removed: containers, volumes,
images, the daemon, and the data root unless `keep` (reuses the build cache next time).

Only loopback traffic between host and containers: both run in the host's network namespace and
listen on 127.0.0.1. Standard library only.
"""
from __future__ import annotations

import argparse
import contextlib
import functools
import http.server
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
OFFICIAL_BASE = "python:3.11-slim-bookworm"
STANDIN_BASE = "ocrserve-standin/python:3.11-slim-bookworm"
DEFAULT_DIR = Path(os.environ.get("OCRSERVE_IMAGES_DIR", "/var/tmp/ocrserve-images"))
TORCH_VERSION = "2.13.0"
GATEWAY, CPU = "ocrserve-gateway:test", "ocrserve-torchserve:cpu-test"
GPU = {"13": "ocrserve-torchserve:gpu-test", "12": "ocrserve-torchserve:gpu-cu12-test"}  # CUDA -> tag
IMAGES = {  # tag -> (Dockerfile, build arguments of its own)
    GATEWAY: ("docker/Dockerfile.gateway", {}),
    CPU: ("docker/Dockerfile.torchserve-cpu", {}),
    **{tag: ("docker/Dockerfile.torchserve", {"CUDA": cuda}) for cuda, tag in GPU.items()},
}
COMPOSE_FILE = REPO / "docker" / "compose.host.yaml"
WHEEL_PORT = 47613
PROXY_VARS = ("HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy")


def log(message: str) -> None:
    print(f"images: {message}", file=sys.stderr, flush=True)


@dataclass
class Figures:
    """What the run measured: seconds per build, bytes per image, seconds from `docker run` to healthy."""

    builds_s: dict[str, float] = field(default_factory=dict)
    sizes: dict[str, int] = field(default_factory=dict)
    ready_s: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    base: str = ""

    def table(self) -> str:
        rows = ["image | build s | size MB", "---|---|---"]
        rows += [f"{tag} | {self.builds_s.get(tag, float('nan')):.0f} | {self.sizes.get(tag, 0) / 1e6:.0f}"
                 for tag in sorted(set(self.builds_s) | set(self.sizes))]
        rows += [f"{name}: {s:.1f} s" for name, s in self.ready_s.items()]
        return "\n".join(rows + self.notes)


class Engine:
    """A private dockerd: its own data root, exec root, pid file and socket."""

    def __init__(self, root: Path):
        self.root = root
        self.sock = root / "docker.sock"
        self.process: subprocess.Popen | None = None
        self.env = {**os.environ, "DOCKER_HOST": f"unix://{self.sock}"}

    def start(self, timeout: float = 120) -> None:
        if not shutil.which("dockerd"):
            install_engine()
        self.root.mkdir(parents=True, exist_ok=True)
        cmd = ["dockerd", "--data-root", str(self.root / "data"), "--exec-root", str(self.root / "exec"),
               "--pidfile", str(self.root / "docker.pid"), "-H", f"unix://{self.sock}",
               "--bridge=none", "--iptables=false", "--ip-forward=false", "--ip-masq=false"]
        self.log_file = open(self.root / "dockerd.log", "ab")
        self.process = subprocess.Popen(cmd, stdout=self.log_file, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"dockerd exited {self.process.returncode}: see {self.root / 'dockerd.log'}")
            if self.docker("info", check=False, capture=True).returncode == 0:
                return
            time.sleep(1)
        raise TimeoutError(f"dockerd not up after {timeout:.0f} s: see {self.root / 'dockerd.log'}")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self.process = None
        # dockerd leaves mounts under its exec root (the nsfs of exec/netns/default): unmount them,
        # deepest first, so that the root can be deleted
        for line in reversed(Path("/proc/self/mounts").read_text().splitlines()):
            target = line.split()[1]
            if target.startswith(f"{self.root}/"):
                subprocess.run(["umount", target], check=False, capture_output=True)

    def docker(self, *args: str, check: bool = True, capture: bool = False, env: dict | None = None,
               timeout: float | None = None) -> subprocess.CompletedProcess:
        # Debian's CLI (20.10, with the built-in BuildKit client) first: a newer CLI on PATH may want buildx
        exe = "/usr/bin/docker" if Path("/usr/bin/docker").exists() else "docker"
        result = subprocess.run([exe, *args], env={**self.env, **(env or {})}, text=True, timeout=timeout,
                                capture_output=capture)
        if check and result.returncode != 0:
            raise RuntimeError(f"docker {' '.join(args[:3])} ... exited {result.returncode}: "
                               f"{(result.stderr or '')[-3000:]}")
        return result


def install_engine() -> None:
    """Debian's docker.io, docker-compose (Compose v1 1.29: the only Compose in Debian 12's and
    PyPI's registries) and mmdebstrap (for the stand-in base image)."""
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        raise RuntimeError("dockerd or docker-compose is missing: install docker.io and docker-compose "
                           "(Debian) or Docker Engine")
    log("installing docker.io, docker-compose and mmdebstrap with apt-get")
    subprocess.run(["apt-get", "-o", "DPkg::Lock::Timeout=600", "install", "-y", "-q", "docker.io", "docker-compose",
                    "mmdebstrap"], check=True, env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})


def base_image(engine: Engine, wanted: str, work: Path) -> str:
    """`wanted` when present or pullable; else a Debian stand-in (python3.11 as `python` in a venv at
    /usr/local like the official image's layout, this host's extra CA certificates for pip's HTTPS)."""
    if engine.docker("image", "inspect", wanted, check=False, capture=True).returncode == 0:
        return wanted
    pulled = engine.docker("pull", wanted, check=False, capture=True, timeout=120)
    if pulled.returncode == 0:
        return wanted
    if engine.docker("image", "inspect", STANDIN_BASE, check=False, capture=True).returncode == 0:
        return STANDIN_BASE
    log(f"{wanted} cannot be pulled ({pulled.stderr.strip()[-200:]}); making {STANDIN_BASE} with mmdebstrap")
    if not shutil.which("mmdebstrap"):
        install_engine()
    tar = work / "rootfs.tar"
    extra_cas = sorted(str(p) for p in Path("/usr/local/share/ca-certificates").glob("*.crt"))
    hooks = [
        *(["--customize-hook=copy-in " + " ".join(extra_cas) + " /usr/local/share/ca-certificates/",
           "--customize-hook=chroot \"$1\" update-ca-certificates"] if extra_cas else []),
        "--customize-hook=chroot \"$1\" python3 -m venv /usr/local",
        "--customize-hook=rm -f \"$1\"/usr/lib/python3.11/EXTERNALLY-MANAGED",
        "--customize-hook=rm -rf \"$1\"/var/lib/apt/lists/* \"$1\"/var/cache/apt/*.bin",
    ]
    subprocess.run(["mmdebstrap", "--variant=minbase", "--include=python3,python3-venv,python3-pip,ca-certificates",
                    *hooks, "bookworm", str(tar), "http://deb.debian.org/debian"], check=True,
                   capture_output=True)
    changes = ["ENV PATH=/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin", "ENV LANG=C.UTF-8",
               "ENV PIP_CERT=/etc/ssl/certs/ca-certificates.crt", "ENV SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt",
               'CMD ["python3"]']
    engine.docker("import", *[a for c in changes for a in ("--change", c)], str(tar), STANDIN_BASE, capture=True)
    tar.unlink()
    check = engine.docker("run", "--rm", "--network", "host", STANDIN_BASE, "sh", "-c",
                          "python --version && python -m pip --version", capture=True)
    log(f"stand-in base: {check.stdout.strip()}")
    return STANDIN_BASE


@contextlib.contextmanager
def wheel_server(directory: Path | None):
    """Serve a folder of wheels on 127.0.0.1 (the build containers share the host's network)."""
    if directory is None or not directory.is_dir():
        yield None
        return
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(directory))
    try:  # a fixed port keeps TORCH_WHEEL's URL, and so the build cache, the same from run to run
        server = http.server.ThreadingHTTPServer(("127.0.0.1", WHEEL_PORT), handler)
    except OSError:
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def local_cpu_wheel() -> Path | None:
    """A CPU torch wheel of the pinned version in pip's find-links folder, if this machine has one."""
    for folder in filter(None, os.environ.get("PIP_FIND_LINKS", "/opt/wheels").split()):
        folder = Path(folder.removeprefix("file://"))
        found = sorted(folder.glob(f"torch-{TORCH_VERSION}+cpu-cp311-*.whl")) if folder.is_dir() else []
        if found:
            return found[0]
    return None


def build(engine: Engine, tag: str, dockerfile: str, args: dict[str, str], buildkit: bool) -> float:
    cmd = ["build", "--network", "host", "-f", dockerfile, "-t", tag]
    for key, value in {**{k: v for k in PROXY_VARS if (v := os.environ.get(k))}, **args}.items():
        cmd += ["--build-arg", f"{key}={value}"]
    log(f"building {tag} from {dockerfile} ({'BuildKit' if buildkit else 'classic builder'})")
    start = time.monotonic()
    out = engine.docker(*cmd, str(REPO), check=False, capture=True, env={"DOCKER_BUILDKIT": "1" if buildkit else "0"})
    took = time.monotonic() - start
    if out.returncode != 0:
        raise RuntimeError(f"build of {tag} failed after {took:.0f} s:\n{(out.stdout + out.stderr)[-5000:]}")
    return took


def image_size(engine: Engine, tag: str) -> int:
    return int(engine.docker("image", "inspect", "-f", "{{.Size}}", tag, capture=True).stdout.strip())


def health(engine: Engine, name: str) -> str:
    out = engine.docker("inspect", "-f", "{{.State.Health.Status}} {{.State.Status}}", name, check=False, capture=True)
    return out.stdout.strip() if out.returncode == 0 else f"gone: {out.stderr.strip()}"


def wait_healthy(engine: Engine, name: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = health(engine, name)
        if state.startswith("healthy"):
            return
        if not state.endswith("running"):
            logs = engine.docker("logs", "--tail", "60", name, check=False, capture=True)
            raise RuntimeError(f"{name} is {state}:\n{logs.stdout[-3000:]}{logs.stderr[-3000:]}")
        time.sleep(1)
    logs = engine.docker("logs", "--tail", "60", name, check=False, capture=True)
    raise TimeoutError(f"{name} not healthy after {timeout:.0f} s ({health(engine, name)}):\n{logs.stdout[-3000:]}{logs.stderr[-3000:]}")


@dataclass
class Stack:
    """Running containers (TorchServe and the gateway) and how to reach them."""

    engine: Engine
    gateway_url: str
    admin_key: str
    torchserve: str
    gateway: str
    figures: Figures


@dataclass
class Built:
    """The private daemon and the images built on it."""

    engine: Engine
    figures: Figures
    tags: list[str]


def _ports() -> dict[str, int]:
    ports: dict[str, int] = {}
    with contextlib.ExitStack() as held:  # every socket held until all are chosen: no port twice
        for name in ("INFERENCE", "MANAGEMENT", "METRICS", "GRPC_INFERENCE", "GRPC_MANAGEMENT", "GATEWAY"):
            sock = held.enter_context(socket.socket())
            sock.bind(("127.0.0.1", 0))
            ports[name] = sock.getsockname()[1]
    return ports


@contextlib.contextmanager
def running(built: Built, ts_image: str = CPU, gw_image: str = GATEWAY, ready_timeout: float = 600,
            label: str = "") -> Iterator[Stack]:
    """TorchServe and the gateway with `docker run`, host networking, everything on 127.0.0.1;
    both containers and their volumes removed afterwards."""
    engine, figures = built.engine, built.figures
    suffix = secrets.token_hex(3)
    ts_name, gw_name = f"ocrserve-ts-{suffix}", f"ocrserve-gw-{suffix}"
    volume, models = f"ocrserve-keys-{suffix}", f"ocrserve-models-{suffix}"
    ports = _ports()
    label = f"`docker run` {label or ts_image} to healthy"
    try:
        for name in (volume, models):  # TorchServe's key file; the model store (filled from the TorchServe image)
            engine.docker("volume", "create", name, capture=True)
        ts_env = {f"OCRSERVE_TS_{k}_PORT": str(v) for k, v in ports.items() if k != "GATEWAY"}
        ts_env |= {"OCRSERVE_TS_INFERENCE_HOST": "127.0.0.1", "OCRSERVE_THREADS": "1"}
        start = time.monotonic()
        engine.docker("run", "-d", "--name", ts_name, "--network", "host", "--health-interval", "2s",
                      "-v", f"{volume}:/var/lib/ocrserve/run", "-v", f"{models}:/opt/ocrserve/model_store",
                      *[a for k, v in ts_env.items() for a in ("-e", f"{k}={v}")], ts_image, capture=True)
        wait_healthy(engine, ts_name, ready_timeout)
        figures.ready_s[f"{label}, TorchServe (4 default models)"] = time.monotonic() - start
        admin_key = secrets.token_hex(16)
        gw_env = {"OCRSERVE_GATEWAY_PORT": str(ports["GATEWAY"]), "OCRSERVE_GATEWAY_HOST": "127.0.0.1",
                  "OCRSERVE_INFERENCE_URL": f"http://127.0.0.1:{ports['INFERENCE']}",
                  "OCRSERVE_MANAGEMENT_URL": f"http://127.0.0.1:{ports['MANAGEMENT']}",
                  "OCRSERVE_TORCHSERVE_KEY_FILE": "/run/torchserve/key_file.json", "OCRSERVE_ADMIN_KEY": admin_key}
        start = time.monotonic()
        engine.docker("run", "-d", "--name", gw_name, "--network", "host", "--health-interval", "2s",
                      "-v", f"{volume}:/run/torchserve:ro", "-v", f"{models}:/opt/ocrserve/model_store:ro",
                      *[a for k, v in gw_env.items() for a in ("-e", f"{k}={v}")], gw_image, capture=True)
        wait_healthy(engine, gw_name, 120)
        figures.ready_s[f"{label}, gateway"] = time.monotonic() - start
        yield Stack(engine, f"http://127.0.0.1:{ports['GATEWAY']}", admin_key, ts_name, gw_name, figures)
    finally:
        for name in (gw_name, ts_name):
            engine.docker("rm", "-f", "-v", name, check=False, capture=True)
        for name in (volume, models):
            engine.docker("volume", "rm", "-f", name, check=False, capture=True)


def leftovers(engine: Engine, project: str = "") -> list[str]:
    """Containers, volumes and networks that are not the daemon's own (of one Compose project if given)."""
    flt = ["--filter", f"label=com.docker.compose.project={project}"] if project else []
    found = []
    for kind, fmt in (("container", "{{.Names}}"), ("volume", "{{.Name}}"), ("network", "{{.Name}}")):
        args = [kind, "ls", *(["-a"] if kind == "container" else []), *flt, "--format", fmt]
        names = engine.docker(*args, capture=True).stdout.split()
        found += [f"{kind} {n}" for n in names if not (kind == "network" and n in ("host", "none", "bridge"))]
    return found


def compose_command() -> list[str]:
    """Compose v1 (`docker-compose`, Debian 12's and PyPI's 1.29.2), installed with the engine."""
    if not shutil.which("docker-compose"):
        install_engine()
    return ["docker-compose"]


@contextlib.contextmanager
def composed(built: Built, ready_timeout: float = 600) -> Iterator[Stack]:
    """docker/compose.host.yaml (host networking, CPU TorchServe) with this run's images, ports and
    admin key: `up -d --no-build`, both health checks healthy, then the caller's requests; `down -v`
    afterwards, and nothing of the project may be left (containers, volumes, networks)."""
    engine, figures = built.engine, built.figures
    project = f"ocrserve-compose-{secrets.token_hex(3)}"
    ports = _ports()
    admin_key = secrets.token_hex(16)
    env = {f"OCRSERVE_TS_{k}_PORT": str(v) for k, v in ports.items() if k != "GATEWAY"}
    env |= {"OCRSERVE_GATEWAY_PORT": str(ports["GATEWAY"]), "OCRSERVE_GATEWAY_HOST": "127.0.0.1",
            "OCRSERVE_ADMIN_KEY": admin_key, "OCRSERVE_TAG": GATEWAY.split(":")[1], "OCRSERVE_TS_TAG": CPU.split(":")[1],
            "OCRSERVE_HEALTH_INTERVAL": "2s", "OCRSERVE_THREADS": "1", "COMPOSE_INTERACTIVE_NO_CLI": "1"}
    command = [*compose_command(), "--ansi", "never", "-p", project, "-f", str(COMPOSE_FILE)]

    def compose(*args: str, timeout: float = 900) -> subprocess.CompletedProcess:
        out = subprocess.run([*command, *args], env={**engine.env, **env}, capture_output=True, text=True,
                             timeout=timeout)
        if out.returncode != 0:
            raise RuntimeError(f"docker-compose {' '.join(args)} exited {out.returncode}:\n{out.stdout[-3000:]}{out.stderr[-3000:]}")
        return out

    try:
        start = time.monotonic()
        compose("up", "-d", "--no-build")  # returns once TorchServe is healthy and the gateway started
        names = {}
        for service in ("torchserve", "gateway"):
            cid = compose("ps", "-q", service).stdout.strip()
            names[service] = engine.docker("inspect", "-f", "{{.Name}}", cid, capture=True).stdout.strip().lstrip("/")
            wait_healthy(engine, names[service], ready_timeout)
        figures.ready_s["compose.host.yaml, `docker-compose up -d` to both healthy"] = time.monotonic() - start
        networks = {engine.docker("inspect", "-f", "{{.HostConfig.NetworkMode}}", n, capture=True).stdout.strip()
                    for n in names.values()}
        if networks != {"host"}:
            raise RuntimeError(f"compose containers not on the host network: {networks}")
        yield Stack(engine, f"http://127.0.0.1:{ports['GATEWAY']}", admin_key, names["torchserve"], names["gateway"],
                    figures)
    finally:
        for service in ("gateway", "torchserve"):  # how each stops (137: killed after the grace period)
            start = time.monotonic()
            stopped = subprocess.run([*command, "stop", "-t", "40", service], env={**engine.env, **env},
                                     capture_output=True, text=True, timeout=120)
            cid = subprocess.run([*command, "ps", "-q", service], env={**engine.env, **env}, capture_output=True,
                                 text=True, timeout=60).stdout.strip()
            code = engine.docker("inspect", "-f", "{{.State.ExitCode}}", cid, check=False, capture=True).stdout.strip() if cid else "?"
            figures.notes.append(f"compose stop {service}: exit {stopped.returncode}, container exit code {code}, "
                                 f"{time.monotonic() - start:.0f} s")
        start = time.monotonic()
        down = subprocess.run([*command, "down", "-v", "--remove-orphans", "-t", "40"], env={**engine.env, **env},
                              capture_output=True, text=True, timeout=300)
        left = leftovers(engine, project)
        figures.notes.append(f"compose down: exit {down.returncode} in {time.monotonic() - start:.0f} s, "
                             f"left behind: {left or 'nothing'}")
        if down.returncode != 0 or left:
            raise RuntimeError(f"compose down exited {down.returncode}, left {left}:\n{down.stderr[-2000:]}")


def gpu_variants() -> list[str]:
    """OCRSERVE_IMAGES_GPU: 1 (default) both CUDA variants, 13 or 12 one of them, 0 none."""
    wanted = os.environ.get("OCRSERVE_IMAGES_GPU", "1").strip()
    return {"1": ["13", "12"], "0": []}.get(wanted) or [c for c in wanted.split(",") if c in GPU]


@contextlib.contextmanager
def built(root: Path = DEFAULT_DIR, keep: bool = False, cuda: list[str] | tuple[str, ...] = ("13", "12"),
          buildkit: bool = False) -> Iterator[Built]:
    """Engine up and the images built; yields them; removes the images, the daemon and its data root."""
    figures = Figures()
    engine = Engine(root)
    tags = [GATEWAY, CPU, *(GPU[c] for c in cuda)]
    try:
        engine.start()
        base = figures.base = base_image(engine, os.environ.get("OCRSERVE_BASE_IMAGE", OFFICIAL_BASE), root)
        wheel = local_cpu_wheel()
        with wheel_server(wheel.parent if wheel else None) as url:
            args = {"BASE_IMAGE": base, "TORCH_VERSION": TORCH_VERSION}
            if url:
                args["TORCH_WHEEL"] = f"{url}/{wheel.name}"
                figures.notes.append(f"CPU torch: {wheel.name} served from 127.0.0.1 (TORCH_WHEEL)")
            for tag in tags:
                dockerfile, own = IMAGES[tag]
                figures.builds_s[tag] = build(engine, tag, dockerfile, {**args, **own}, buildkit)
                figures.sizes[tag] = image_size(engine, tag)
                log(f"built {tag}: {figures.builds_s[tag]:.0f} s, {figures.sizes[tag] / 1e6:.0f} MB")
        if base == STANDIN_BASE:
            figures.notes.append(f"base image: {STANDIN_BASE} (mmdebstrap stand-in; {OFFICIAL_BASE} not pullable)")
        figures.notes.append(f"builder: {'BuildKit' if buildkit else 'classic'}")
        yield Built(engine, figures, tags)
    finally:
        if engine.process is not None:
            left = leftovers(engine)
            figures.notes.append(f"left on the daemon before removal: {left or 'nothing'}")
            if not keep:
                for tag in IMAGES:
                    engine.docker("rmi", "-f", tag, check=False, capture=True)
        engine.stop()
        if not keep:
            shutil.rmtree(root, ignore_errors=True)
        log(f"figures:\n{figures.table()}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", type=Path, default=DEFAULT_DIR, help="data root, exec root and socket of the daemon")
    parser.add_argument("--keep", action="store_true", help="keep the data root (build cache) afterwards")
    parser.add_argument("--cuda", default="13,12", help="GPU image variants to build: 13,12 (default), 13, 12 or none")
    parser.add_argument("--buildkit", action="store_true", help="build with BuildKit instead of the classic builder")
    parser.add_argument("--no-compose", action="store_true", help="skip the run through compose.host.yaml")
    args = parser.parse_args(argv)
    with built(args.dir, args.keep, [c for c in args.cuda.split(",") if c in GPU], args.buildkit) as images:
        stacks = [running] + ([] if args.no_compose else [composed])
        for stack_of in stacks:
            with stack_of(images) as stack:
                with urllib.request.urlopen(f"{stack.gateway_url}/readyz", timeout=30) as response:
                    log(f"{stack_of.__name__}: /readyz {response.status} {response.read()[:300]!r}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
