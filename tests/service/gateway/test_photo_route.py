"""Photos to a photo detector and recogniser (service/gateway/photo_route.py; dbnet-ic15 and
ppocrv6-small-rec-ic15 in the shipped zoo): the paper share of real images, which uploads may be routed,
the zoo's `photos` entry, and /ocr end to end in process with that route."""
from __future__ import annotations

import asyncio
import dataclasses

import cv2
import numpy as np
import pytest
from fastapi.testclient import TestClient

from service.gateway.document_pipeline import DocumentOptions, ocr_document
from service.gateway.documents import open_document
from service.gateway.errors import ModelUnavailable
from service.gateway.main import create_app
from service.gateway.photo_route import paper_share, request_route, route_photo
from service.gateway.pipeline import OcrRequest
from service.gateway.settings import Settings
from service.gateway.zoo import PhotoRoute, Zoo
from service.tooling.evaluation.clients import local_ocr
from service.tooling.local_backend import LocalBackend
from service.tooling.training.det.zoo_entry import write_zoo
from tests.conftest import data_path
from tests.document_files import image_pdf

MAX_PIXELS = 40_000_000
PAPER_BELOW = 0.5  # the threshold README and bench/photo_route.py suggest


def _read(*parts: str) -> np.ndarray:
    return cv2.imread(str(data_path(*parts)), cv2.IMREAD_COLOR)


def test_paper_share_of_real_photos_pages_and_receipts():
    below = PAPER_BELOW
    photos = [_read("icdar2015_train", "images", f"img_{i}.jpg") for i in (1, 2, 3, 4, 5)]
    pages = [_read("tesseract", "testing", f"{name}.tif") for name in ("phototest", "eurotext")]
    receipt = _read("sroie2019_train", "img", "005.jpg")
    assert all(paper_share(p) < below for p in photos), [round(paper_share(p), 3) for p in photos]
    assert all(paper_share(p) >= below for p in pages + [receipt])
    # grey and single-channel inputs measure the same as their colour copies
    assert paper_share(cv2.cvtColor(pages[0], cv2.COLOR_BGR2GRAY)) == pytest.approx(paper_share(pages[0]), abs=0.02)


def test_paper_share_is_about_brightness_and_colour():
    white = np.full((300, 200, 3), 245, np.uint8)
    assert paper_share(white) == 1.0
    colourful = white.copy()
    colourful[:, :150] = (40, 200, 60)  # saturated green over three quarters of the width
    assert paper_share(colourful) == pytest.approx(0.25, abs=0.01)
    dark = white.copy()
    dark[150:] = 90  # grey, but far darker than the page's bright part
    assert paper_share(dark) == pytest.approx(0.5, abs=0.01)


def _request(photo_det: str | None = "photo", photo_rec: str | None = None) -> OcrRequest:
    route = PhotoRoute(det=photo_det, rec=photo_rec, paper_below=0.5) if photo_det else None
    return OcrRequest(det="pages", rec="rec", photos=route)


def _route(request: OcrRequest, doc) -> OcrRequest:
    return asyncio.run(route_photo(request, doc))


def test_only_a_single_image_without_a_named_detector_is_routed():
    photo = data_path("icdar2015_train", "images", "img_1.jpg").read_bytes()
    page = data_path("tesseract", "testing", "phototest.tif").read_bytes()
    assert _route(_request(), open_document(photo, "image/jpeg", MAX_PIXELS)).det == "photo"
    assert _route(_request(), open_document(page, "image/tiff", MAX_PIXELS)).det == "pages"
    assert _route(_request(None), open_document(photo, "image/jpeg", MAX_PIXELS)).det == "pages"
    # the same photo as a PDF page is a document: the default detector reads it
    pdf = image_pdf([cv2.imdecode(np.frombuffer(photo, np.uint8), cv2.IMREAD_COLOR)])
    assert _route(_request(), open_document(pdf, "application/pdf", MAX_PIXELS)).det == "pages"
    # a route with a recogniser swaps both models for a photo, neither for a page
    both = _request(photo_rec="photo-rec")
    assert (_route(both, open_document(photo, "image/jpeg", MAX_PIXELS)).rec, _route(both, open_document(
        page, "image/tiff", MAX_PIXELS)).rec, _route(_request(), open_document(photo, "image/jpeg", MAX_PIXELS)).rec) \
        == ("photo-rec", "rec", "rec")


def test_what_a_request_names_stays_out_of_the_route():
    route = PhotoRoute(det="photo", rec="photo-rec", paper_below=0.5)
    assert request_route(route, None, None, "pages") == route
    assert request_route(route, None, "some-rec", "pages") == PhotoRoute(det="photo", paper_below=0.5)  # its recogniser
    assert request_route(route, "pages", None, "pages") is None  # its detector: no route at all
    assert request_route(route, None, None, None) is None  # no detector runs
    assert request_route(None, None, None, "pages") is None
    # a gateway told which models are served routes only to models among them
    assert request_route(route, None, None, "pages", ["pages", "rec", "photo"]) is None
    assert request_route(route, None, None, "pages", ["pages", "rec", "photo", "photo-rec"]) == route
    assert request_route(route, None, "rec", "pages", ["pages", "rec", "photo"]) == PhotoRoute(det="photo", paper_below=0.5)


def test_the_zoo_checks_its_photo_detector(zoo):
    raw = {"defaults": dict(zoo.defaults), "models": {n: e.model_dump(exclude={"name"}) for n, e in zoo.models.items()}}
    with pytest.raises(ValueError, match="photos.det 'sdmgr' is not a det model"):
        Zoo.model_validate({**raw, "photos": {"det": "sdmgr", "paper_below": 0.5}})
    with pytest.raises(ValueError, match="paper_below"):
        Zoo.model_validate({**raw, "photos": {"det": "dbnet", "paper_below": 0}})
    with pytest.raises(ValueError, match="photos.rec 'dbnet' is not a rec model"):
        Zoo.model_validate({**raw, "photos": {"det": "dbnet-ic15", "rec": "dbnet", "paper_below": 0.5}})
    # a request's score floor is set before its image is known to be a photo: the photo recogniser must share it
    floorless = {**raw, "models": {**raw["models"], "ppocrv6-small-rec-ic15": {
        **raw["models"]["ppocrv6-small-rec-ic15"], "min_score": 0.0}}}
    with pytest.raises(ValueError, match="min_score 0.0, the default recogniser 'ppocrv6-small-rec' 0.8"):
        Zoo.model_validate({**floorless, "photos": {"det": "dbnet-ic15", "rec": "ppocrv6-small-rec-ic15", "paper_below": 0.5}})
    routed = Zoo.model_validate({**raw, "photos": {"det": "dbnet-ic15", "paper_below": 0.5}})
    assert routed.default_names() == list(zoo.defaults.values()) + ["dbnet-ic15"]  # loaded with the defaults
    both = Zoo.model_validate({**raw, "photos": {"det": "dbnet-ic15", "rec": "ppocrv6-small-rec-ic15", "paper_below": 0.5}})
    assert both.default_names() == list(zoo.defaults.values()) + ["dbnet-ic15", "ppocrv6-small-rec-ic15"]
    assert Zoo.model_validate(raw).default_names() == list(zoo.defaults.values())  # no route: the defaults only
    assert zoo.photos == PhotoRoute(det="dbnet-ic15", rec="ppocrv6-small-rec-ic15", paper_below=PAPER_BELOW)  # as shipped


@pytest.fixture(scope="module")
def photo_zoo(zoo) -> Zoo:
    return zoo.model_copy(update={"photos": PhotoRoute(det="dbnet-ic15", rec="ppocrv6-small-rec-ic15",
                                                       paper_below=PAPER_BELOW)})


@pytest.fixture(scope="module")
def client(photo_zoo, weights_ready, tmp_path_factory):
    settings = Settings(zoo_path=write_zoo(photo_zoo, tmp_path_factory.mktemp("zoo") / "zoo.yaml"))
    with TestClient(create_app(settings, backend=LocalBackend(photo_zoo))) as c:
        yield c


def _boxes(answer: dict) -> list[list[float]]:
    return [line["box"] for line in answer["pages"][0]["result"]]


def test_ocr_reads_a_photo_with_the_photo_detector_and_a_page_with_the_default(client, photo_zoo):
    zoo = photo_zoo
    photo = data_path("icdar2015_train", "images", "img_1.jpg").read_bytes()
    page = data_path("tesseract", "testing", "phototest.tif").read_bytes()

    def ocr(data: bytes, **params) -> dict:  # detection only: the detector is what is routed
        response = client.post("/ocr", params={"rec": "none", **params}, files={"file": ("upload", data)})
        assert response.status_code == 200, response.text
        return response.json()

    routed = ocr(photo)
    assert routed["models"]["det"] == zoo.photos.det != zoo.defaults["det"]
    assert _boxes(routed) == _boxes(ocr(photo, det=zoo.photos.det))  # it ran the photo detector ...
    named = ocr(photo, det=zoo.defaults["det"])  # ... and naming a detector turns routing off
    assert named["models"]["det"] == zoo.defaults["det"] and _boxes(named) != _boxes(routed)
    assert ocr(page)["models"]["det"] == zoo.defaults["det"]


def _lines(answer: dict) -> list[tuple[list[float], str]]:
    return [(line["box"], line["text"]) for line in answer["pages"][0]["result"]]


def test_ocr_reads_a_photo_with_the_photo_recogniser_unless_one_is_named(client, photo_zoo):
    zoo = photo_zoo
    photo = data_path("icdar2015_train", "images", "img_1.jpg").read_bytes()
    page = data_path("tesseract", "testing", "phototest.tif").read_bytes()

    def ocr(data: bytes, **params) -> dict:
        response = client.post("/ocr", params=params, files={"file": ("upload", data)})
        assert response.status_code == 200, response.text
        return response.json()

    routed = ocr(photo)
    assert routed["models"] == {"det": zoo.photos.det, "rec": zoo.photos.rec}
    assert _lines(routed) == _lines(ocr(photo, det=zoo.photos.det, rec=zoo.photos.rec))
    named = ocr(photo, rec=zoo.defaults["rec"])  # a named recogniser reads the photo; the detector is still routed
    assert named["models"] == {"det": zoo.photos.det, "rec": zoo.defaults["rec"]}
    assert ocr(page)["models"] == {"det": zoo.defaults["det"], "rec": zoo.defaults["rec"]}


@pytest.mark.parametrize("height, width", [(1, 1), (2, 3), (3, 700)])
def test_images_too_small_to_quarter_are_measured_whole(height, width):
    # OpenCV refuses to decode an image under 4 pixels a side at a quarter of its size (the fuzzer's
    # 500); such an upload is measured at full size instead
    for colour, photo in (((245, 245, 245), False), ((40, 200, 60), True)):
        data = cv2.imencode(".png", np.full((height, width, 3), colour, np.uint8))[1].tobytes()
        assert _route(_request(), open_document(data, "image/png", MAX_PIXELS)).det == ("photo" if photo else "pages")


class Unserved(LocalBackend):
    """The in-process backend serving every model but `missing`, as TorchServe answers for a model
    it has not loaded."""

    def __init__(self, zoo: Zoo, missing: str) -> None:
        super().__init__(zoo)
        self.missing = missing

    def _check(self, model: str) -> None:
        if model == self.missing:
            raise ModelUnavailable(f"model {model!r} is not loaded")

    async def detect(self, model, data, image, options):
        self._check(model)
        return await super().detect(model, data, image, options)

    async def recognize(self, model, crops, lang=None):
        self._check(model)
        return await super().recognize(model, crops, lang)


def test_a_photo_goes_to_the_default_detector_when_the_photo_detector_is_not_served(photo_zoo, weights_ready):
    photo = data_path("icdar2015_train", "images", "img_1.jpg").read_bytes()
    request = OcrRequest(det=photo_zoo.defaults["det"], rec=None, photos=photo_zoo.photos)
    assert asyncio.run(route_photo(request, open_document(photo, "image/jpeg", MAX_PIXELS))).det == "dbnet-ic15"

    def ocr(backend, req) -> dict:
        return asyncio.run(ocr_document(photo, "image/jpeg", DocumentOptions(), req, backend, Settings())).response

    answer = ocr(Unserved(photo_zoo, "dbnet-ic15"), request)
    assert answer["models"]["det"] == photo_zoo.defaults["det"]
    assert _boxes(answer) == _boxes(ocr(LocalBackend(photo_zoo), dataclasses.replace(request, photos=None)))
    with pytest.raises(ModelUnavailable):  # a named detector that is not served is still an error
        ocr(Unserved(photo_zoo, "dbnet-ic15"), dataclasses.replace(request, det="dbnet-ic15", photos=None))


def test_a_photo_goes_to_the_defaults_when_the_photo_recogniser_is_not_served(photo_zoo, weights_ready):
    photo = data_path("icdar2015_train", "images", "img_1.jpg").read_bytes()
    request = OcrRequest(det=photo_zoo.defaults["det"], rec=photo_zoo.defaults["rec"], photos=photo_zoo.photos)
    answer = asyncio.run(ocr_document(photo, "image/jpeg", DocumentOptions(), request,
                                      Unserved(photo_zoo, "ppocrv6-small-rec-ic15"), Settings())).response
    assert answer["models"] == {"det": photo_zoo.defaults["det"], "rec": photo_zoo.defaults["rec"]}
    assert any(line["text"] for line in answer["pages"][0]["result"])


def test_the_in_process_pipeline_routes_photos_like_the_gateway(client, photo_zoo):
    ocr = local_ocr(photo_zoo)
    photo = data_path("icdar2015_train", "images", "img_1.jpg").read_bytes()
    page = data_path("tesseract", "testing", "phototest.tif").read_bytes()
    assert ocr(photo, rec=None)["models"]["det"] == photo_zoo.photos.det
    assert ocr(photo, det=photo_zoo.defaults["det"], rec=None)["models"]["det"] == photo_zoo.defaults["det"]
    assert ocr(page, rec=None)["models"]["det"] == photo_zoo.defaults["det"]
    assert ocr(photo)["models"]["rec"] == photo_zoo.photos.rec  # the route's recogniser, unless one is named
    assert ocr(photo, rec=photo_zoo.defaults["rec"])["models"]["rec"] == photo_zoo.defaults["rec"]
    served = client.post("/ocr", params={"rec": "none"}, files={"file": ("upload", photo)}).json()
    assert _boxes(ocr(photo, rec=None)) == _boxes(served)
