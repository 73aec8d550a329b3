"""Model management through the gateway: admin key, list, load, scale, unload."""
from __future__ import annotations

from tests.integration.conftest import ADMIN_KEY

AUTH = {"Authorization": f"Bearer {ADMIN_KEY}"}


def test_management_needs_the_admin_key(gateway):
    assert gateway.get("/models").status_code == 401
    assert gateway.get("/models", headers={"Authorization": "Bearer wrong-key-of-some-length"}).status_code == 401


def test_list_shows_loaded_defaults_and_unloaded_zoo_models(gateway, zoo):
    models = {m["name"]: m for m in gateway.get("/models", headers=AUTH).json()["models"]}
    for name in zoo.default_names():
        assert models[name]["loaded"] and models[name]["status"] == "READY" and models[name]["workers"]
    assert models["ppocrv4-rec"] == {"name": "ppocrv4-rec", "task": "rec", "loaded": False,
                                     "status": "NOT_LOADED", "workers": []}


def test_load_scale_use_and_unload(gateway):
    loaded = gateway.post("/models/ppocrv6-tiny-rec", headers=AUTH)
    assert loaded.status_code == 200, loaded.text
    assert loaded.json()["status"] == "READY"
    again = gateway.post("/models/ppocrv6-tiny-rec", headers=AUTH)
    assert again.status_code == 409
    scaled = gateway.put("/models/ppocrv6-tiny-rec?workers=2", headers=AUTH)
    assert scaled.status_code == 200 and len(scaled.json()["workers"]) == 2
    crop_result = gateway.post("/ocr?det=none&rec=ppocrv6-tiny-rec", files={"file": ("w", _pacific())})
    assert crop_result.json()["pages"][0]["result"][0]["text"].startswith("PAC")  # the tiny model reads "PACHe"
    assert gateway.delete("/models/ppocrv6-tiny-rec", headers=AUTH).json() == {"name": "ppocrv6-tiny-rec",
                                                                                 "loaded": False}
    gone = gateway.post("/ocr?det=none&rec=ppocrv6-tiny-rec", files={"file": ("w", _pacific())})
    # a zoo model that is not loaded: 503 (retry later / load it), naming what is loaded
    assert gone.status_code == 503 and "ppocrv6-small-rec" in gone.json()["message"], gone.text


def test_bad_management_requests(gateway):
    unknown = gateway.post("/models/not-a-model", headers=AUTH)
    assert unknown.status_code == 404 and "dbnet" in unknown.json()["message"]
    by_url = gateway.post("/models/http%3A%2F%2Fexample.com%2Fx.mar", headers=AUTH)
    assert by_url.status_code == 404
    assert gateway.put("/models/dbnet?workers=0", headers=AUTH).status_code == 422
    assert gateway.put("/models/dbnet?workers=99", headers=AUTH).status_code == 422


def _pacific() -> bytes:
    from tests.conftest import data_path

    return data_path("mmocr", "0.x", "ocr_toy_dataset", "imgs", "1223729.jpg").read_bytes()
