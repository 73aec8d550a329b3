"""Fonts found on this machine (Debian font packages), with the regular and bold faces paired.

Only DejaVu is required; fonts-liberation, fonts-freefont-ttf, fonts-noto-mono and
fonts-urw-base35 add variety when installed. Monospaced faces are weighted up: most receipts
come from thermal printers with fixed-pitch fonts.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from PIL import ImageFont

FONT_ROOTS = (Path("/usr/share/fonts"), Path("/usr/local/share/fonts"))

# (regular file, bold file or None, monospaced?)
FACES = (
    ("DejaVuSansMono.ttf", "DejaVuSansMono-Bold.ttf", True),
    ("LiberationMono-Regular.ttf", "LiberationMono-Bold.ttf", True),
    ("FreeMono.ttf", "FreeMonoBold.ttf", True),
    ("NotoMono-Regular.ttf", None, True),
    ("NimbusMonoPS-Regular.otf", "NimbusMonoPS-Bold.otf", True),
    ("DejaVuSans.ttf", "DejaVuSans-Bold.ttf", False),
    ("DejaVuSansCondensed.ttf", "DejaVuSansCondensed-Bold.ttf", False),
    ("LiberationSans-Regular.ttf", "LiberationSans-Bold.ttf", False),
    ("LiberationSansNarrow-Regular.ttf", "LiberationSansNarrow-Bold.ttf", False),
    ("FreeSans.ttf", "FreeSansBold.ttf", False),
    ("NimbusSans-Regular.otf", "NimbusSans-Bold.otf", False),
    ("DejaVuSerif.ttf", "DejaVuSerif-Bold.ttf", False),
    ("LiberationSerif-Regular.ttf", "LiberationSerif-Bold.ttf", False),
    ("FreeSerif.ttf", "FreeSerifBold.ttf", False),
)
MONO_WEIGHT = 3.0


@dataclass(frozen=True)
class Face:
    """A font family available here: regular path, bold path (None: drawn with a stroke)."""
    regular: str
    bold: str | None
    mono: bool


@lru_cache(maxsize=1)
def available_faces() -> tuple[Face, ...]:
    """The faces of ``FACES`` whose regular file is installed, in ``FACES`` order."""
    found: dict[str, str] = {}
    for root in FONT_ROOTS:
        if root.is_dir():
            for path in sorted(root.rglob("*")):
                found.setdefault(path.name, str(path))
    faces = tuple(Face(found[reg], found.get(bold) if bold else None, mono)
                  for reg, bold, mono in FACES if reg in found)
    if not faces:
        raise ValueError(f"no usable font under {[str(r) for r in FONT_ROOTS]}: install fonts-dejavu-core")
    return faces


def face_weights(faces: tuple[Face, ...]) -> list[float]:
    """Sampling probabilities of ``faces`` (monospaced ones weighted up)."""
    w = [MONO_WEIGHT if f.mono else 1.0 for f in faces]
    return [x / sum(w) for x in w]


@lru_cache(maxsize=512)
def load_font(path: str, size: int) -> ImageFont.FreeTypeFont:
    """A cached FreeType font at ``size`` pixels."""
    return ImageFont.truetype(path, size)
