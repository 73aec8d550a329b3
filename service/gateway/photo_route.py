"""Photos to a photo detector: a single image that is mostly not paper goes to the zoo's `photos.det`
(the shipped zoo routes photos to dbnet-ic15: model_store/weights/dbnet-ic15/README.md).

The default detector (`defaults.det`) reads pages, scans and receipts best; a detector fine-tuned on
street photos (ICDAR 2015) finds more words in photos but fewer on receipts. When a request names
no detector and the zoo has a `photos` route, the gateway looks at a single uploaded image once:
the share of its pixels that look like paper (bright for the image, barely coloured). Under
`paper_below` it is a photo and the photo detector reads it; otherwise, and for every PDF or
multi-page TIFF, the default detector does. The response's `models.det` names the one that ran.
When the route also names a recogniser (`photos.rec`), a photo is read by it too, unless the request
named its recogniser (`models.rec` then says which read it).

On the images in ../shared/data (bench/photo_route.py prints the table), 99 % of the ICDAR 2015
photos have a paper share under 0.37, SROIE receipt scans 0.83-0.99 and Tesseract's test pages
0.52-1.0; WildReceipt's phone photos of receipts spread over 0-0.99, and at 0.5 about half of them
count as photos.
"""
from __future__ import annotations

import asyncio
import dataclasses

import cv2
import numpy as np

from service.gateway.documents import PDF, Document
from service.gateway.pipeline import OcrRequest
from service.gateway.zoo import PhotoRoute

#: Long side, in pixels, of the copy the share is measured on.
THUMB_SIDE = 256
#: Paper is at least this bright, as a fraction of the image's own 95th-percentile brightness ...
PAPER_BRIGHTNESS = 0.75
#: ... and at most this saturated (OpenCV's 0-255 HSV saturation).
PAPER_SATURATION = 40


def paper_share(image: np.ndarray) -> float:
    """Fraction of a BGR image's pixels that look like paper: brighter than PAPER_BRIGHTNESS of the
    image's 95th-percentile value, less saturated than PAPER_SATURATION."""
    height, width = image.shape[:2]
    scale = min(1.0, THUMB_SIDE / max(height, width, 1))
    if scale < 1.0:
        image = cv2.resize(image, (max(1, round(width * scale)), max(1, round(height * scale))),
                           interpolation=cv2.INTER_AREA)
    if image.ndim == 2:
        image = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    hsv = cv2.cvtColor(image[..., :3], cv2.COLOR_BGR2HSV)
    value = hsv[..., 2].astype(np.float32)
    paper = (value > PAPER_BRIGHTNESS * np.percentile(value, 95)) & (hsv[..., 1] < PAPER_SATURATION)
    return float(paper.mean())


def _thumbnail(data: bytes) -> np.ndarray | None:
    """The upload decoded at a quarter of its size (JPEG decodes scaled, cheaply); None if it cannot be."""
    buffer = np.frombuffer(data, np.uint8)
    try:
        image = cv2.imdecode(buffer, cv2.IMREAD_REDUCED_COLOR_4)
    except cv2.error:  # OpenCV cannot quarter an image under 4 pixels a side: decode it whole
        try:
            image = cv2.imdecode(buffer, cv2.IMREAD_COLOR)
        except cv2.error:
            return None
    return image if image is not None and image.size else None


def request_route(photos: PhotoRoute | None, asked_det: str | None, asked_rec: str | None, det: str | None,
                  ready_models: list[str] | None = None) -> PhotoRoute | None:
    """The zoo's photo route as it applies to one request: none when the request named its detector
    (or runs none), without its recogniser when the request named one, and none when a gateway told
    to expect other models (`ready_models`) may not have the route's models loaded."""
    if photos is None or asked_det is not None or not det:
        return None
    if asked_rec is not None and photos.rec is not None:
        photos = photos.model_copy(update={"rec": None})
    if ready_models and not {photos.det, photos.rec} - {None} <= set(ready_models):
        return None
    return photos


async def route_photo(request: OcrRequest, doc: Document) -> OcrRequest:
    """`request` with the photo route's models when it may route (`photos` set: no detector was
    named) and `doc` is one image that is mostly not paper; `request` itself otherwise. Only a request that
    may route pays for the decode, off the event loop."""
    if request.photos is None or doc.kind == PDF or doc.count != 1:
        return request
    return await asyncio.to_thread(route_image, request, doc.data)


def route_image(request: OcrRequest, data: bytes) -> OcrRequest:
    """route_photo for the bytes of one image (blocking): the in-process pipeline of `ocrserve eval`."""
    if request.photos is None or not _is_photo(data, request.photos.paper_below):
        return request
    photos = request.photos
    return dataclasses.replace(request, det=photos.det, rec=photos.rec or request.rec)


def _is_photo(data: bytes, paper_below: float) -> bool:
    thumb = _thumbnail(data)
    return thumb is not None and paper_share(thumb) < paper_below
