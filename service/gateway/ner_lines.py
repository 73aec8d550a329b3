"""NER over the lines /ocr read (``?ner=<model>``): entities per line and for the page.

A line longer than the model's 126 characters is tagged in 126-character pieces whose offsets
are shifted back (MMOCR itself fails on such texts); an entity cut by a piece boundary comes
back as two."""
from __future__ import annotations

import asyncio
from typing import Any

from handlers.api.limits import NER_MAX_CHARS

PIECE = NER_MAX_CHARS
CALL = 64


def pieces(texts: list[str], size: int = PIECE) -> tuple[list[str], list[tuple[int, int]]]:
    """Texts cut into pieces of at most ``size`` characters, with (line, offset) of each."""
    out, where = [], []
    for line, text in enumerate(texts):
        for offset in range(0, len(text), size):
            out.append(text[offset:offset + size])
            where.append((line, offset))
    return out, where


async def tag_lines(backend: Any, model: str, result: list[dict]) -> list[dict]:
    """Adds ``entities`` to every read line; returns the page's list (each with its ``line``)."""
    texts = [item.get("text") or "" for item in result]
    chunks, where = pieces(texts)
    # requests of at most CALL texts (the handler refuses more than 256), sent together
    calls = [chunks[i:i + CALL] for i in range(0, len(chunks), CALL)]
    found = [e for part in await asyncio.gather(*(backend.ner(model, c) for c in calls)) for e in part]
    for item in result:
        item["entities"] = []
    for (line, offset), entities in zip(where, found):
        result[line]["entities"] += [{**e.to_json(), "start": e.start + offset, "end": e.end + offset}
                                     for e in entities]
    return [{**e, "line": line} for line, item in enumerate(result) for e in item["entities"]]
