"""The images built from this checkout and run (opt-in: OCRSERVE_IMAGES_TEST=1, or `make images-test`).

docker/images.py starts a private Docker daemon, makes a stand-in base image when the official one
cannot be pulled, builds the gateway, CPU TorchServe and GPU TorchServe images, and runs TorchServe
and the gateway with host networking on loopback ports. These tests send real requests through the
containers and compare them with the in-process pipeline of this checkout. The GPU image is only
built and inspected (no GPU here; OCRSERVE_IMAGES_GPU=0 skips it). BuildKit instead of the classic
builder: OCRSERVE_IMAGES_BUILDKIT=1. Everything is removed afterwards (OCRSERVE_IMAGES_KEEP=1 keeps the
daemon's data root, i.e. the build cache). Takes 10-30 minutes on a 2-core machine.
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
              pytest.mark.timeout(3600)]  # the first test's set-up builds three images

sys.path.insert(0, str(REPO / "docker"))
import images  # noqa: E402  (docker/images.py)


@pytest.fixture(scope="module")
def stack(request):
    keep = os.environ.get("OCRSERVE_IMAGES_KEEP") == "1"
    capture = request.config.pluginmanager.getplugin("capturemanager")
    figures = None
    try:
        with images.session(keep=keep, gpu=os.environ.get("OCRSERVE_IMAGES_GPU", "1") != "0",
                            buildkit=os.environ.get("OCRSERVE_IMAGES_BUILDKIT") == "1") as running:
            figures = running.figures
            yield running
    finally:
        if figures is not None:  # build times, sizes, time to healthy: printed past pytest's capture
            with capture.global_and_fixture_disabled():
                print("\nimages: " + figures.table().replace("\n", "\nimages: "), flush=True)


@pytest.fixture(scope="module")
def gateway(stack):
    with httpx.Client(base_url=stack.gateway_url, timeout=300) as client:
        yield client


def _photo(name: str) -> bytes:
    return data_path("icdar2015_train", "images", name).read_bytes()


def test_healthchecks_report_healthy(stack):
    """The images' own HEALTHCHECK commands (gateway on a port that is not 8000)."""
    for name in (stack.torchserve, stack.gateway):
        assert images.health(stack.engine, name).startswith("healthy")
    assert not stack.gateway_url.endswith(":8000")


@pytest.mark.parametrize("name", ["img_1.jpg", "img_7.jpg"])
def test_ocr_through_the_containers_equals_the_in_process_pipeline(gateway, name, zoo):
    from service.tooling.evaluation.clients import local_ocr

    response = gateway.post("/ocr", files={"file": (name, _photo(name), "image/jpeg")})
    assert response.status_code == 200, response.text
    served = response.json()["pages"][0]["result"]
    local = local_ocr(zoo)(_photo(name))["pages"][0]["result"]
    assert len(served) == len(local) > 0
    for a, b in zip(served, local):
        assert np.abs(np.subtract(a["box"], b["box"])).max() <= 1.0
        assert a["text"] == b["text"]


def test_bad_upload_gets_a_clear_400(gateway):
    response = gateway.post("/ocr", files={"file": ("x.jpg", b"not an image", "image/jpeg")})
    assert response.status_code == 400 and "image" in response.text.lower()


def test_kie_labels_every_box_of_a_receipt(gateway):
    from tests.handlers.test_kie_handler import receipt

    image, annotations = receipt()
    instances = [{"box": a["box"], "text": a["text"]} for a in annotations]
    response = gateway.post("/kie", json={"image": base64.b64encode(image).decode(), "instances": instances})
    assert response.status_code == 200, response.text
    labelled = response.json()["instances"]
    assert len(labelled) == len(annotations)
    assert all(isinstance(item["label"], str) and item["label"] for item in labelled)


def test_admin_routes_list_load_and_use_a_model(stack, gateway):
    auth = {"Authorization": f"Bearer {stack.admin_key}"}
    assert gateway.get("/models").status_code == 401
    listed = {m["name"]: m for m in gateway.get("/models", headers=auth).json()["models"]}
    assert listed["dbnet"]["loaded"] and not listed["ppocrv6-tiny-rec"]["loaded"]
    loaded = gateway.post("/models/ppocrv6-tiny-rec", headers=auth)
    assert loaded.status_code == 200 and loaded.json()["status"] == "READY", loaded.text
    crop = gateway.post("/ocr?det=none&rec=ppocrv6-tiny-rec", files={"file": ("w.jpg", _photo("img_1.jpg"))})
    assert crop.status_code == 200 and crop.json()["pages"][0]["result"], crop.text


def test_admin_route_unloads_the_model(stack, gateway):
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


def test_gpu_image_links_its_cuda_libraries_from_pip_packages(stack):
    """No GPU here: the GPU image is built, and its CUDA torch and onnxruntime-gpu resolve every
    library but the driver's libcuda.so.1 from one set of nvidia-* packages."""
    tag = "ocrserve-torchserve:gpu-test"
    if tag not in stack.figures.sizes:
        pytest.skip("GPU image not built")
    out = stack.engine.docker("run", "--rm", "--network", "host", "--entrypoint", "python", tag,
                              "/opt/ocrserve/docker/gpu_libs.py", check=False, capture=True)
    report = json.loads(out.stdout)
    stack.figures.notes.append(f"GPU image libraries: {out.stdout.strip()}")
    assert out.returncode == 0 and report["ok"], out.stdout + out.stderr
    versions = stack.engine.docker("run", "--rm", "--network", "host", "--entrypoint", "python", tag, "-c",
                                   "import torch, onnxruntime; print(torch.__version__, torch.version.cuda, "
                                   "onnxruntime.__version__, onnxruntime.get_available_providers())", capture=True)
    stack.figures.notes.append(f"GPU image: {versions.stdout.strip()}")
    assert "CUDAExecutionProvider" in versions.stdout and " 13." in versions.stdout
