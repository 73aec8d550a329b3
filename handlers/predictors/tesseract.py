"""Tesseract (through tesserocr) as a text detector and as a recogniser, like MMOCR 0.x `readtext`.

Conventions. Images arrive as BGR uint8 arrays like every other family. Languages are the
`*.traineddata` files of one tessdata folder (Debian: /usr/share/tesseract-ocr/5/tessdata, from the
`tesseract-ocr-<lang>` packages); `lang` may join several with '+', as Tesseract's own CLI does.
Scores are Tesseract's confidences (0-100) divided by 100. Detection runs full recognition (its
confidences need it) and returns axis-aligned boxes as 4-point polygons, clockwise from top-left.
Recognition reads each crop as one text line (page segmentation mode 7) and reports every
character's span as fractions of the crop width, so the gateway's word boxes work unchanged.
"""
from __future__ import annotations

import dataclasses
import os
import re
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import cv2
import numpy as np

from handlers.api.errors import BadOptions
from handlers.api.results import Detection, Recognition  # Tesseract reads: exact boxes, frame 0

DEBIAN_TESSDATA = Path("/usr/share/tesseract-ocr/5/tessdata")
#: Tesseract's orientation-and-script model is not a language one can read text in.
NOT_LANGUAGES = frozenset({"osd", "equ"})
LEVELS = ("line", "word")
OPTION_NAMES = frozenset({"lang", "level"})
MAX_LOADED = 8  # loaded (language, segmentation mode) pairs per worker; the oldest is dropped
MIN_CONTRAST = 16  # grey levels between the darkest and brightest pixel of a crop worth reading
_LANG_RE = re.compile(r"^[A-Za-z0-9_]+(\+[A-Za-z0-9_]+)*$")


def default_tessdata() -> Path:
    """TESSDATA_PREFIX when set (Tesseract's own variable), else Debian's folder."""
    return Path(os.environ.get("TESSDATA_PREFIX") or DEBIAN_TESSDATA)


def installed_languages(tessdata: Path) -> list[str]:
    """Languages with a traineddata file in `tessdata`, sorted (osd excluded)."""
    if not tessdata.is_dir():
        return []
    return sorted(p.stem for p in tessdata.glob("*.traineddata") if p.stem not in NOT_LANGUAGES)


def check_language(lang: Any, installed: Sequence[str]) -> str:
    """The validated `lang` ('eng' or 'eng+deu'); BadOptions (422) naming the installed ones."""
    if not isinstance(lang, str) or not _LANG_RE.match(lang):
        raise BadOptions(f"lang must be language codes joined by '+', got {lang!r}")
    missing = [part for part in lang.split("+") if part not in installed]
    if missing:
        raise BadOptions(f"Tesseract language {', '.join(missing)} is not installed; installed: "
                                f"{', '.join(installed) or 'none'}")
    return lang


@dataclass(frozen=True)
class TesseractConfig:
    """Zoo `config` of a Tesseract model; unknown keys are refused."""

    lang: str = "eng"
    level: str = "line"  # detection: one box per text line or per word
    min_height: int = 40  # recognition: shorter crops are scaled up (Tesseract wants ~30 px x-height)
    tessdata: str | None = None  # default: default_tessdata()

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> "TesseractConfig":
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = set(raw) - names
        if unknown:
            raise ValueError(f"unknown Tesseract config keys: {sorted(unknown)}")
        cfg = cls(**raw)
        if cfg.level not in LEVELS:
            raise ValueError(f"level must be one of {LEVELS}, got {cfg.level!r}")
        return cfg

    def folder(self) -> Path:
        return Path(self.tessdata) if self.tessdata else default_tessdata()


class TesseractEngine:
    """One tesserocr API per (language, page segmentation mode), created on first use and kept."""

    def __init__(self, cfg: TesseractConfig):
        import tesserocr  # only Tesseract models need it

        self.tesserocr = tesserocr
        self.cfg = cfg
        self.tessdata = cfg.folder()
        self.languages = installed_languages(self.tessdata)
        check_language(cfg.lang, self.languages)  # fail at load time, not on the first request
        self._apis: dict[tuple[str, int], Any] = {}
        self._lock = threading.Lock()  # one API is not safe across threads (the in-process pipeline)

    def api(self, lang: str, psm: int) -> Any:
        key = (lang, psm)
        if key not in self._apis:
            if len(self._apis) >= MAX_LOADED:  # every language combination is a model in memory
                self._apis.pop(next(iter(self._apis))).End()
            self._apis[key] = self.tesserocr.PyTessBaseAPI(
                path=str(self.tessdata) + "/", lang=lang, psm=psm, oem=self.tesserocr.OEM.LSTM_ONLY)
        return self._apis[key]

    def read(self, image: np.ndarray, lang: str, psm: int, level: str) -> list[tuple[tuple, float, str]]:
        """[(x0, y0, x1, y1), confidence 0-1, text] of each line or word of one BGR image."""
        from PIL import Image

        ril = self.tesserocr.RIL.TEXTLINE if level == "line" else self.tesserocr.RIL.WORD
        with self._lock:
            api = self.api(lang, psm)
            api.SetImage(Image.fromarray(np.ascontiguousarray(image[:, :, ::-1])))
            api.Recognize()
            out = []
            for item in self.tesserocr.iterate_level(api.GetIterator(), ril):
                box = item.BoundingBox(ril)
                text = _text(item, ril).strip()
                if box is not None and text:
                    out.append((box, item.Confidence(ril) / 100.0, text))
            return out

    def symbols(self, image: np.ndarray, lang: str) -> list[list[tuple[str, int, int, float]]]:
        """Words of a one-line image, each a list of (char, x0, x1, confidence 0-1)."""
        from PIL import Image

        tess = self.tesserocr
        with self._lock:
            api = self.api(lang, tess.PSM.SINGLE_LINE)
            api.SetImage(Image.fromarray(np.ascontiguousarray(image[:, :, ::-1])))
            api.Recognize()
            words: list[list[tuple[str, int, int, float]]] = []
            for item in tess.iterate_level(api.GetIterator(), tess.RIL.SYMBOL):
                char, box = _text(item, tess.RIL.SYMBOL), item.BoundingBox(tess.RIL.SYMBOL)
                if not char or box is None:
                    continue
                if item.IsAtBeginningOf(tess.RIL.WORD) or not words:
                    words.append([])
                words[-1].append((char, box[0], box[2], item.Confidence(tess.RIL.SYMBOL) / 100.0))
            return words


def _text(item: Any, level: int) -> str:
    """The text of one iterator element; tesserocr raises RuntimeError for an element without any."""
    try:
        return item.GetUTF8Text(level) or ""
    except RuntimeError:
        return ""


def load_engine(spec: Any, device: Any = None, threads: int = 1) -> TesseractEngine:
    """The family's 'runner': Tesseract runs on the CPU whatever the device, in `threads` threads."""
    # an OpenMP build of Tesseract would otherwise take every core beside the other workers
    os.environ.setdefault("OMP_THREAD_LIMIT", str(threads))
    return TesseractEngine(TesseractConfig.from_dict(spec.config))


def box_polygon(x0: float, y0: float, x1: float, y1: float) -> np.ndarray:
    """Axis-aligned box -> (4, 2) float32 polygon, clockwise from top-left."""
    return np.asarray([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], np.float32)


class TesseractDetector:
    """Text lines (or words) of a page, with Tesseract's confidences as scores."""

    option_names = OPTION_NAMES

    def __init__(self, engine: TesseractEngine):
        self.engine = engine

    def parse_options(self, raw: dict[str, Any]) -> dict[str, str]:
        """Validate `lang` / `level`; BadOptions (422) on bad values."""
        options = {"lang": check_language(raw.get("lang") or self.engine.cfg.lang, self.engine.languages),
                   "level": raw.get("level") or self.engine.cfg.level}
        if options["level"] not in LEVELS:
            raise BadOptions(f"level must be one of {', '.join(LEVELS)}, got {options['level']!r}")
        return options

    def __call__(self, image: np.ndarray, options: dict[str, str] | None = None) -> list[Detection]:
        options = options or self.parse_options({})
        if min(image.shape[:2]) < 2:
            return []
        psm = self.engine.tesserocr.PSM.AUTO
        found = self.engine.read(image, options["lang"], psm, options["level"])
        return [Detection(box_polygon(*box), score) for box, score, _ in found]


class TesseractRecognizer:
    """Each crop read as one text line; text and score from Tesseract's symbol confidences."""

    option_names = frozenset({"lang"})

    def __init__(self, engine: TesseractEngine):
        self.engine = engine

    def lang(self, raw: Any) -> str:
        return check_language(raw or self.engine.cfg.lang, self.engine.languages)

    def __call__(self, crops: Sequence[np.ndarray], lang: str | None = None) -> list[Recognition]:
        lang = self.lang(lang)
        return [self.read_one(crop, lang) for crop in crops]

    def read_one(self, crop: np.ndarray, lang: str) -> Recognition:
        height, width = crop.shape[:2]
        # LSTM Tesseract "reads" glyphs with high confidence in a blank crop: no contrast, no text
        if min(height, width) < 2 or int(np.ptp(cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY))) < MIN_CONTRAST:
            return Recognition("", 0.0, [])
        scale = max(1.0, self.engine.cfg.min_height / height)
        image = cv2.resize(crop, (round(width * scale), round(height * scale)), interpolation=cv2.INTER_CUBIC) \
            if scale > 1 else crop
        # Tesseract misses glyphs that touch the border: give it a margin of the background colour
        # (the median of the edge pixels; replicating edges would smear glyphs that touch them)
        pad = max(4, image.shape[0] // 4)
        image = cv2.copyMakeBorder(image, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=_background(image))
        return line_read(self.engine.symbols(image, lang), pad, image.shape[1] - 2 * pad)


def _background(image: np.ndarray) -> tuple[int, int, int]:
    """Median colour of the outermost pixels: the page or sign behind the text, usually."""
    edge = np.concatenate([image[0], image[-1], image[:, 0], image[:, -1]]).reshape(-1, 3)
    return tuple(int(v) for v in np.median(edge, axis=0))


def line_read(words: Sequence[Sequence[tuple[str, int, int, float]]], pad: int, width: int) -> Recognition:
    """Join Tesseract's words with spaces; char spans as fractions of the unpadded width."""
    chars: list[tuple[str, float, float, float]] = []
    for word in words:
        if chars:
            chars.append((" ", chars[-1][2], _frac(word[0][1] - pad, width), 1.0))
        chars += [(c, _frac(x0 - pad, width), _frac(x1 - pad, width), p) for c, x0, x1, p in word]
    real = [c for c in chars if c[0] != " "]
    score = float(np.mean([c[3] for c in real])) if real else 0.0
    return Recognition("".join(c[0] for c in chars), score, chars)


def _frac(x: float, width: int) -> float:
    return float(min(max(x / max(width, 1), 0.0), 1.0))
