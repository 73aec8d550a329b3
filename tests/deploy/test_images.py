"""The images built from this checkout and run (opt-in: OCRSERVE_IMAGES_TEST=1, or `make images-test`).

docker/images.py starts a private Docker daemon, makes a stand-in base image when the official one
cannot be pulled, builds the gateway, CPU TorchServe and GPU TorchServe images (CUDA 13 and CUDA
12), and runs TorchServe and the gateway with host networking on loopback ports: once with
`docker run` (TestDockerRun), once through docker/compose.host.yaml with Compose v1 (TestCompose:
the same requests; `down` must leave nothing of the project), and once more with each GPU image's
TorchServe on the CPU (no GPU here). These tests send real requests through the containers and
compare them with the in-process pipeline of this checkout. OCRSERVE_IMAGES_GPU=0 skips the GPU
images, =13 or =12 builds one of them. BuildKit instead of the classic builder:
OCRSERVE_IMAGES_BUILDKIT=1. Everything is removed afterwards (OCRSERVE_IMAGES_KEEP=1 keeps the
daemon's data root, i.e. the build cache). Took 17.5 minutes from nothing on a 2-core machine (more when it is busy).
"""
from __future__ import annotations

import base64
import json
import os
import sys

import httpx
import numpy as np
import pytest

from tests.conftest import REPO, data_path

pytestmark = [pytest.mark.skipif(os.environ.get("OCRSERVE_IMAGES_TEST") != "1",
                                 reason="image build-and-run test: set OCRSERVE_IMAGES_TEST=1 (slow, needs root or Docker)"),
              pytest.mark.timeout(5400)]  # the first test's set-up builds four images

sys.path.insert(0, str(REPO / "docker"))
import images  # noqa: E402  (docker/images.py)

CUDA = images.gpu_variants()
# what each GPU variant must hold: (torch, its CUDA, onnxruntime-gpu); Dockerfile.torchserve's pins
GPU_PINS = {"13": ("2.13.0", "13.0", "1.31.1"), "12": ("2.10.0", "12.8", "1.26.0")}


@pytest.fixture(scope="module")
def built(request):
    keep = os.environ.get("OCRSERVE_IMAGES_KEEP") == "1"
    capture = request.config.pluginmanager.getplugin("capturemanager")
    figures = None
    try:
        with images.built(keep=keep, cuda=CUDA, buildkit=os.environ.get("OCRSERVE_IMAGES_BUILDKIT") == "1") as done:
            figures = done.figures
            yield done
    finally:
        if figures is not None:  # build times, sizes, time to healthy: printed past pytest's capture
            with capture.global_and_fixture_disabled():
                print("\nimages: " + figures.table().replace("\n", "\nimages: "), flush=True)


@pytest.fixture(scope="class")
def gateway(stack):
    with httpx.Client(base_url=stack.gateway_url, timeout=300) as client:
        yield client


def _photo(name: str) -> bytes:
    return data_path("icdar2015_train", "images", name).read_bytes()


def _assert_reads_like_the_in_process_pipeline(gateway, name, zoo):
    from service.tooling.evaluation.clients import local_ocr

    response = gateway.post("/ocr", files={"file": (name, _photo(name), "image/jpeg")})
    assert response.status_code == 200, response.text
    served = response.json()["pages"][0]["result"]
    local = local_ocr(zoo)(_photo(name))["pages"][0]["result"]
    assert len(served) == len(local) > 0
    for a, b in zip(served, local):
        assert np.abs(np.subtract(a["box"], b["box"])).max() <= 1.0
        assert a["text"] == b["text"]


class TestDockerRun:
    """TorchServe (CPU image) and the gateway with `docker run --network host`."""

    @pytest.fixture(scope="class")
    def stack(self, built):
        with images.running(built) as running:
            yield running

    def test_healthchecks_report_healthy(self, stack):
        """The images' own HEALTHCHECK commands (gateway on a port that is not 8000)."""
        for name in (stack.torchserve, stack.gateway):
            assert images.health(stack.engine, name).startswith("healthy")
        assert not stack.gateway_url.endswith(":8000")

    @pytest.mark.parametrize("name", ["img_1.jpg", "img_7.jpg"])
    def test_ocr_through_the_containers_equals_the_in_process_pipeline(self, gateway, name, zoo):
        _assert_reads_like_the_in_process_pipeline(gateway, name, zoo)

    def test_bad_upload_gets_a_clear_400(self, gateway):
        response = gateway.post("/ocr", files={"file": ("x.jpg", b"not an image", "image/jpeg")})
        assert response.status_code == 400 and "image" in response.text.lower()

    def test_kie_labels_every_box_of_a_receipt(self, gateway):
        from tests.handlers.test_kie_handler import receipt

        image, annotations = receipt()
        instances = [{"box": a["box"], "text": a["text"]} for a in annotations]
        response = gateway.post("/kie", json={"image": base64.b64encode(image).decode(), "instances": instances})
        assert response.status_code == 200, response.text
        labelled = response.json()["instances"]
        assert len(labelled) == len(annotations)
        assert all(isinstance(item["label"], str) and item["label"] for item in labelled)

    def test_admin_routes_list_load_and_use_a_model(self, stack, gateway):
        auth = {"Authorization": f"Bearer {stack.admin_key}"}
        assert gateway.get("/models").status_code == 401
        listed = {m["name"]: m for m in gateway.get("/models", headers=auth).json()["models"]}
        assert listed["dbnet"]["loaded"] and not listed["ppocrv6-tiny-rec"]["loaded"]
        loaded = gateway.post("/models/ppocrv6-tiny-rec", headers=auth)
        assert loaded.status_code == 200 and loaded.json()["status"] == "READY", loaded.text
        crop = gateway.post("/ocr?det=none&rec=ppocrv6-tiny-rec", files={"file": ("w.jpg", _photo("img_1.jpg"))})
        assert crop.status_code == 200 and crop.json()["pages"][0]["result"], crop.text

    def test_admin_route_unloads_the_model(self, stack, gateway):
        """TorchServe's frontend stops the workers with the `kill` command: the image must have it
        (procps; tests/deploy/test_dockerfile_layers.py). Without it: 500 "Interrupted while cleaning
        resources" and the model left with no workers."""
        auth = {"Authorization": f"Bearer {stack.admin_key}"}
        if not {m["name"]: m for m in gateway.get("/models", headers=auth).json()["models"]}["ppocrv6-tiny-rec"]["loaded"]:
            assert gateway.post("/models/ppocrv6-tiny-rec", headers=auth).status_code == 200
        deleted = gateway.delete("/models/ppocrv6-tiny-rec", headers=auth)
        assert deleted.json() == {"name": "ppocrv6-tiny-rec", "loaded": False}, deleted.text
        gone = gateway.post("/ocr?det=none&rec=ppocrv6-tiny-rec", files={"file": ("w.jpg", _photo("img_1.jpg"))})
        # a zoo model that is not loaded: 503 naming how to load it (README), not a 500 or a hang
        assert gone.status_code == 503 and "POST /models/ppocrv6-tiny-rec" in gone.json()["message"], gone.text


class TestCompose(TestDockerRun):
    """The same stack and the same requests through docker/compose.host.yaml (`docker-compose up -d
    --no-build` with this run's images and free loopback ports). The fixture's teardown runs `down
    -v` and fails when any container, volume or network of the project is left."""

    @pytest.fixture(scope="class")
    def stack(self, built):
        with images.composed(built) as composed:
            yield composed

    def test_every_container_is_on_the_host_network_only(self, stack):
        for name in (stack.torchserve, stack.gateway):
            mode = stack.engine.docker("inspect", "-f", "{{.HostConfig.NetworkMode}} {{json .NetworkSettings.Networks}}",
                                       name, capture=True).stdout.split(maxsplit=1)
            assert mode[0] == "host" and list(json.loads(mode[1])) == ["host"], mode
        networks = stack.engine.docker("network", "ls", "--format", "{{.Name}}", capture=True).stdout.split()
        assert set(networks) <= {"host", "none", "bridge"}, networks  # compose made no network


@pytest.mark.parametrize("cuda", CUDA)
def test_gpu_image_links_its_cuda_libraries_from_pip_packages(built, cuda):
    """No GPU here: the GPU image is built, and its CUDA torch and onnxruntime-gpu resolve every
    library but the driver's libcuda.so.1 from one set of nvidia-* packages (no library twice)."""
    tag = images.GPU[cuda]
    out = built.engine.docker("run", "--rm", "--network", "host", "--entrypoint", "python", tag,
                              "/opt/ocrserve/docker/gpu_libs.py", check=False, capture=True)
    built.figures.notes.append(f"{tag} libraries: {out.stdout.strip()}")
    report = json.loads(out.stdout)
    assert out.returncode == 0 and report["ok"], out.stdout + out.stderr
    versions = built.engine.docker("run", "--rm", "--network", "host", "--entrypoint", "python", tag, "-c",
                                   "import torch, onnxruntime; print(torch.__version__, torch.version.cuda, "
                                   "onnxruntime.__version__, 'CUDAExecutionProvider' in onnxruntime.get_available_providers())",
                                   capture=True)
    built.figures.notes.append(f"{tag}: torch, CUDA, onnxruntime-gpu, CUDA provider: {versions.stdout.strip()}")
    torch, torch_cuda, ort = GPU_PINS[cuda]
    found = versions.stdout.split()  # torch's version carries its build as a local label: 2.13.0+cu130
    assert [found[0].split("+")[0], *found[1:]] == [torch, torch_cuda, ort, "True"], versions.stdout


@pytest.fixture(scope="class", params=CUDA)
def gpu_stack(request, built):
    with images.running(built, ts_image=images.GPU[request.param], label=f"{images.GPU[request.param]} (no GPU: workers on the CPU)") as running:
        yield running


class TestGpuImageOnTheCpu:
    """Each GPU image's TorchServe with no GPU (workers on the CPU: number_of_gpu 0) behind the
    gateway: its torch and onnxruntime-gpu (for CUDA 12 other versions than the CPU image's) load
    the archives and read like the in-process pipeline. The CUDA path itself never runs here."""

    @pytest.fixture(scope="class")
    def stack(self, gpu_stack):
        return gpu_stack

    def test_ocr_equals_the_in_process_pipeline(self, gateway, zoo):
        _assert_reads_like_the_in_process_pipeline(gateway, "img_1.jpg", zoo)
