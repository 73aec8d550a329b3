"""Draw a laid-out receipt on a flat strip of paper (Pillow) and record each text run's ink box."""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image, ImageDraw

from .fonts import Face, available_faces, face_weights, load_font
from .labels import FIELD_IDS, IGNORE, OTHERS
from .layout import Cell, Line


@dataclass
class TextBox:
    """One annotated run: ``quad`` (4, 2) corners TL, TR, BR, BL in pixels, its text and class."""
    quad: np.ndarray
    text: str
    label: int


@dataclass
class PaperStyle:
    """Per-receipt typography and paper choices."""
    face: Face
    size: int
    width: int
    margin: int
    spacing: float
    ink: int
    paper: tuple[int, int, int]


TRUNCATABLE = (FIELD_IDS["item"][0], OTHERS)  # printers cut product names, never amounts or dates
THERMAL_P = 0.5  # share of receipts with uneven thermal print


def thermal_print(gray: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Uneven thermal print on a white-background ink image: slow fading across the strip and
    light vertical streaks where print-head dots are worn."""
    h, w = gray.shape
    fade = cv2.resize(rng.uniform(0.6, 1.0, size=(int(rng.integers(2, 8)), 3)).astype(np.float32), (w, h),
                      interpolation=cv2.INTER_LINEAR)
    streaks = np.ones(w, np.float32)
    for _ in range(int(rng.integers(0, 6))):
        x = int(rng.integers(0, w))
        streaks[x:x + int(rng.integers(1, 4))] = rng.uniform(0.35, 0.75)
    ink = (255 - gray.astype(np.float32)) * fade * streaks[None, :]
    return (255 - ink).clip(0, 255).astype(np.uint8)


CREASE_P = 0.3  # share of receipts folded once or twice


def creases(gray: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Fold lines across the strip: a narrow shaded band beside a lit one, as a crease catches light."""
    h, w = gray.shape
    shade = np.ones(h, np.float32)
    for _ in range(int(rng.integers(1, 3))):
        y0, width = float(rng.uniform(0.1, 0.9) * h), float(rng.uniform(2, 8))
        d = (np.arange(h, dtype=np.float32) - y0) / width
        shade *= 1 - float(rng.uniform(0.04, 0.14)) * np.tanh(d) * np.exp(-d * d / 4)
    return (gray.astype(np.float32) * shade[:, None]).clip(0, 255).astype(np.uint8)


STYLE_SCALE = {"title": 1.6, "bold": 1.0, "body": 1.0, "small": 0.85, "faded": 1.0}


def choose_paper(rng: np.random.Generator) -> PaperStyle:
    """Draw font, size, paper width (in characters), line spacing and colours."""
    faces = available_faces()
    face = faces[int(rng.choice(len(faces), p=face_weights(faces)))]
    size = int(rng.integers(16, 27))
    char_w = load_font(face.regular, size).getlength("0")
    chars = int(rng.integers(30, 46))
    margin = int(rng.integers(size // 2, 2 * size))
    tint = int(rng.integers(0, 18))
    base = int(rng.integers(228, 256))
    return PaperStyle(face=face, size=size, width=int(chars * char_w) + 2 * margin, margin=margin,
                      spacing=float(rng.uniform(1.0, 1.45)), ink=int(rng.integers(5, 70)),
                      paper=(base, base - tint // 3, max(base - tint, 0)))


def _font(ps: PaperStyle, style: str, rng):
    size = max(10, int(round(ps.size * STYLE_SCALE[style] * (rng.uniform(1.0, 1.35) if style == "title" else 1))))
    bold = style in ("title", "bold")
    path = ps.face.bold if bold and ps.face.bold else ps.face.regular
    return load_font(path, size), (1 if bold and not ps.face.bold else 0)


def _place(cells: list[Cell], widths: list[float], ps: PaperStyle, gap: float) -> list[float]:
    """Left x of each cell; later cells are pushed right to keep a detector-splitting gap."""
    inner = ps.width - 2 * ps.margin
    xs = []
    for c, w in zip(cells, widths):
        x = {"left": ps.margin, "right": ps.width - ps.margin - w, "center": (ps.width - w) / 2,
             "col": ps.margin + c.pos * inner, "fill": ps.margin}[c.align]
        if xs and x < xs[-1] + widths[len(xs) - 1] + gap:
            x = xs[-1] + widths[len(xs) - 1] + gap
        xs.append(x)
    return xs


def _wrap_words(cell: Cell, font, inner: float) -> list[list[Cell]]:
    """One run too wide for the paper -> rows of whole words (a word wider than the paper is cut)."""
    rows: list[str] = []
    for word in cell.text.split(" "):
        while font.getlength(word) > inner and len(word) > 1:
            word = word[:-1]
        if rows and font.getlength(rows[-1] + " " + word) <= inner:
            rows[-1] += " " + word
        else:
            rows.append(word)
    align = cell.align if cell.align in ("left", "right", "center") else "left"
    return [[Cell(text, cell.label, align)] for text in rows]


def fit_line(cells: list[Cell], font, ps: PaperStyle, gap: float) -> list[list[Cell]]:
    """Cells of one row fitted into the paper width, as printers do: a long product name or
    other text is truncated, else the last cell wraps to the next row, a lone run wraps at words."""
    inner = ps.width - 2 * ps.margin
    cells = [Cell(c.text, c.label, c.align, c.pos) for c in cells]
    for c in cells:
        if c.align == "fill":
            c.text = c.text[:1] * max(1, int(inner // font.getlength(c.text[:1])))
    while True:
        widths = [font.getlength(c.text) for c in cells]
        xs = _place(cells, widths, ps, gap)
        if xs[0] >= ps.margin - 0.5 and xs[-1] + widths[-1] <= ps.width - ps.margin + 0.5:
            return [cells]
        if len(cells) == 1:
            return _wrap_words(cells[0], font, inner)
        if cells[0].label in TRUNCATABLE and len(cells[0].text) > 8:
            cells[0].text = cells[0].text[:-1].rstrip()
            continue
        head = fit_line(cells[:-1], font, ps, gap)
        return head + fit_line([Cell(cells[-1].text, cells[-1].label, "right")], font, ps, gap)


def _draw_graphic(draw: ImageDraw.ImageDraw, kind: str, y: int, ps: PaperStyle, rng) -> int:
    """A rule, barcode or logo blob (never annotated); returns its height."""
    inner = ps.width - 2 * ps.margin
    if kind == "rule":
        t = int(rng.integers(1, 3))
        draw.line([(ps.margin, y + ps.size // 2), (ps.width - ps.margin, y + ps.size // 2)], fill=ps.ink, width=t)
        return ps.size
    y += ps.size // 3  # keep clear of the descenders above
    if kind == "barcode":
        h, x = int(rng.integers(2 * ps.size, 4 * ps.size)), ps.margin + inner * 0.15
        while x < ps.margin + inner * 0.85:
            w = float(rng.choice([1.5, 3, 4.5]))
            draw.rectangle([x, y, x + w - 1, y + h], fill=ps.ink)
            x += w + float(rng.choice([1.5, 3, 4.5]))
        return h + ps.size
    if kind == "logo":
        r = int(rng.integers(ps.size, 2 * ps.size))
        cx = ps.width // 2
        shape = draw.ellipse if rng.random() < 0.5 else draw.rectangle
        shape([cx - r, y, cx + r, y + 2 * r], fill=ps.ink)
        return 2 * r + ps.size
    return int(ps.size * ps.spacing)  # blank


@dataclass
class RowFont:
    """How one printed line is set: font, stroke for faux bold, style name."""
    font: object
    stroke: int
    style: str


def _draw_row(draw: ImageDraw.ImageDraw, cells: list[Cell], rf: RowFont, y: float, ps: PaperStyle,
              rng: np.random.Generator) -> list[TextBox]:
    font = rf.font
    widths = [font.getlength(c.text) for c in cells]
    gap = 2.2 * font.getlength(" ") + 4
    boxes = []
    for c, x in zip(cells, _place(cells, widths, ps, gap)):
        ink = int(rng.integers(150, 200)) if rf.style == "faded" else ps.ink + int(rng.integers(0, 25))
        draw.text((x, y), c.text, font=font, fill=ink, stroke_width=rf.stroke, stroke_fill=ink)
        x0, y0, x1, y1 = draw.textbbox((x, y), c.text, font=font, stroke_width=rf.stroke)
        # a detector's boxes are a little loose, and not all equally: pad each side at random
        px0, py0, px1, py1 = np.maximum(2.0, rng.uniform(0.06, 0.22, size=4) * font.size)
        x0, y0, x1, y1 = x0 - px0, y0 - py0, x1 + px1, y1 + py1
        quad = np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], dtype=np.float64)
        boxes.append(TextBox(quad, "" if c.label == IGNORE else c.text, c.label))
    return boxes


def _grown(img: Image.Image, need: float) -> Image.Image:
    """``img`` itself, or a copy twice as tall when ``need`` rows would not fit."""
    if need < img.height:
        return img
    bigger = Image.new("L", (img.width, max(2 * img.height, int(need) + 1)), 255)
    bigger.paste(img, (0, 0))
    return bigger


def render_paper(lines: list[Line], rng: np.random.Generator) -> tuple[np.ndarray, list[TextBox]]:
    """Draw ``lines`` on paper: (H, W, 3) uint8 RGB image and the boxes of every text run."""
    ps = choose_paper(rng)
    img = Image.new("L", (ps.width, ps.size * (3 * len(lines) + 8)), 255)
    y = float(ps.margin + rng.integers(0, 2 * ps.size))
    boxes: list[TextBox] = []
    for ln in lines:
        img = _grown(img, y + 6 * ps.size)
        draw = ImageDraw.Draw(img)
        if ln.kind != "text":
            y += _draw_graphic(draw, ln.kind, int(y), ps, rng)
            continue
        font, stroke = _font(ps, ln.style, rng)
        gap = 2.2 * font.getlength(" ") + 4
        for row in fit_line(ln.cells, font, ps, gap):
            img = _grown(img, y + 3 * font.size)
            draw = ImageDraw.Draw(img)
            boxes += _draw_row(draw, row, RowFont(font, stroke, ln.style), y, ps, rng)
            y += sum(font.getmetrics()) * ps.spacing  # ascent + descent: descenders never touch
    bottom = int(min(img.height, y + ps.margin + rng.integers(0, 3 * ps.size)))
    gray = np.asarray(img)[:bottom]
    if rng.random() < THERMAL_P:
        gray = thermal_print(gray, rng)
    if rng.random() < CREASE_P:
        gray = creases(gray, rng)
    # ink is drawn as darkness on white; colour it onto the paper tone
    rgb = cv2.merge([cv2.convertScaleAbs(gray, alpha=c / 255.0) for c in ps.paper])
    return rgb, boxes
