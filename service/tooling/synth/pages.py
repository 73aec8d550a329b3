"""Seeded multi-column test pages with known text and reading order (PIL + DejaVu fonts).

A page: a full-width title, a table-like block (item / quantity / price rows), a body of two or
three columns of headings and paragraphs, and a footer with text on the left and a page number on
the right. `SynthPage.text` is the truth in reading order (title, table row by row, each column
top to bottom, footer); `regions` are the same text cut into the rectangles a person would read
one after another (the column-by-column baseline crops each and reads it on its own).
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")
WORDS = (
    "the of and to in is that for it as was with be by on not he this are or his from at which but have "
    "an they you were her she there been one all we their has would when if so no will more about can "
    "out up said time other some what into them only could new these two may first then do any like my "
    "now over such our man me even most made after also did many before must through back years where "
    "much your way well down should because each just those people how too little state good very make "
    "world still own see men work long get here between both life being under never day same another know "
    "while last might us great old year off come since against go came right used take three water house "
    "small found thought went say part once general high upon school every place light number report study "
    "paper result method table river market garden window letter summer winter morning evening question answer"
).split()
ITEMS = ("Paper", "Pencils", "Stapler", "Folders", "Envelopes", "Markers", "Scissors", "Notebook", "Tape")


@dataclass
class SynthLine:
    box: tuple[int, int, int, int]   # x0, y0, x1, y1 in pixels
    text: str


@dataclass
class SynthPage:
    image: Image.Image
    lines: list[SynthLine] = field(default_factory=list)      # in reading order
    regions: list[tuple[tuple[int, int, int, int], str]] = field(default_factory=list)

    @property
    def text(self) -> str:
        return "\n".join(text for _, text in self.regions)


def _font(name: str, size: int) -> ImageFont.FreeTypeFont:
    path = FONT_DIR / name
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing: install fonts-dejavu-core (scripts/setup_doclayout.sh)")
    return ImageFont.truetype(str(path), size)


class _Writer:
    """Draws lines and records their boxes and text."""

    def __init__(self, page: SynthPage):
        self.page, self.draw = page, ImageDraw.Draw(page.image)

    def line(self, x: int, y: int, text: str, font: ImageFont.FreeTypeFont) -> SynthLine:
        self.draw.text((x, y), text, font=font, fill=(0, 0, 0))
        x0, y0, x1, y1 = self.draw.textbbox((x, y), text, font=font)
        line = SynthLine((x0, y0, x1, y1), text)
        self.page.lines.append(line)
        return line

    def region(self, lines: list[SynthLine], pad: int = 12) -> None:
        if lines:
            box = (min(ln.box[0] for ln in lines) - pad, min(ln.box[1] for ln in lines) - pad,
                   max(ln.box[2] for ln in lines) + pad, max(ln.box[3] for ln in lines) + pad)
            self.page.regions.append((box, "\n".join(ln.text for ln in lines)))


def _wrap(rng: random.Random, font, width: int, n_words: int) -> list[str]:
    words = [rng.choice(WORDS) for _ in range(n_words)]
    words[0] = words[0].capitalize()
    lines, current = [], ""
    for word in words:
        trial = f"{current} {word}".strip()
        if font.getlength(trial) > width and current:
            lines.append(current)
            current = word
        else:
            current = trial
    return lines + [current + "."]


def _column(w: _Writer, rng: random.Random, x: int, y: int, width: int, bottom: int, fonts) -> list[SynthLine]:
    body, head = fonts
    step, lines = int(body.size * 1.4), []
    while y < bottom - 4 * step:
        if rng.random() < 0.45:
            words = [rng.choice(WORDS).title() for _ in range(rng.randint(1, 3))]
            while len(words) > 1 and head.getlength(" ".join(words)) > width:  # headings stay in the column
                words.pop()
            title = " ".join(words)
            y += step // 2
            lines.append(w.line(x, y, title, head))
            y += int(head.size * 1.5)
        for text in _wrap(rng, body, width, rng.randint(25, 70)):
            if y > bottom - step:
                break
            lines.append(w.line(x, y, text, body))
            y += step
        y += int(step * 0.8)
    return lines


def make_page(seed: int, columns: int = 2, size: tuple[int, int] = (1240, 1754), body_px: int = 22) -> SynthPage:
    """One page (A4 at 150 dpi by default) with `columns` body columns; the same seed, the same page."""
    rng = random.Random(seed * 1000 + columns)
    width, height = size
    page = SynthPage(Image.new("RGB", size, (255, 255, 255)))
    w = _Writer(page)
    body, head = _font("DejaVuSerif.ttf", body_px), _font("DejaVuSans-Bold.ttf", int(body_px * 1.3))
    margin, y = 90, 80
    title = " ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 6))).title()
    w.region([w.line(margin, y, title, _font("DejaVuSans-Bold.ttf", int(body_px * 2)))])
    y += int(body_px * 5)
    table = []
    cells_x = (margin + 40, margin + 420, margin + 640)
    for r in range(rng.randint(3, 5)):
        row = ("Item", "Quantity", "Price") if r == 0 else \
            (rng.choice(ITEMS), str(rng.randint(1, 40)), f"{rng.randint(1, 99)}.{rng.randint(0, 99):02d}")
        table.extend(w.line(cx, y, text, body) for cx, text in zip(cells_x, row))
        y += int(body_px * 1.6)
    page.regions.append(((margin, table[0].box[1] - 12, width - margin, table[-1].box[3] + 12),
                         "\n".join(" ".join(ln.text for ln in table[i:i + 3]) for i in range(0, len(table), 3))))
    y += int(body_px * 2.5)
    gutter = 50
    col_w = (width - 2 * margin - gutter * (columns - 1)) // columns
    bottom = height - 200
    for c in range(columns):
        col_bottom = bottom - (rng.randint(0, 8) * body_px if c == columns - 1 else 0)
        w.region(_column(w, rng, margin + c * (col_w + gutter), y, col_w, col_bottom, (body, head)))
    foot_y = height - 110
    left = w.line(margin, foot_y, f"{rng.choice(WORDS).title()} {rng.choice(WORDS)} quarterly report", body)
    right = w.line(width - margin - 160, foot_y, f"Page {rng.randint(2, 40)}", body)
    page.regions.append(((margin - 12, foot_y - 12, width - margin + 12, right.box[3] + 12),
                         f"{left.text} {right.text}"))
    return page
