"""SDMG-R's character dictionary and the text -> index tensor encoding.

MMOCR's ``Dictionary(dict_file='dicts/sdmgr_dict.txt', with_padding=True, with_unknown=True,
unknown_token=None)``: one character per line (empty lines skipped), then ``<PAD>`` is appended,
so the 91 characters get indices 0..90, padding is 91 and ``num_classes`` is 92 (the size of
``kie_head.node_embed``). As ``unknown_token`` is None no unknown entry exists and a character
outside the dictionary -- the space included -- is silently dropped. Texts of one image are
right-padded with the padding index to the longest *raw* text of that image; a node's
embedding is then read at its last kept character.
"""
from __future__ import annotations

from pathlib import Path
from typing import Iterable, Sequence

import torch

# The content of MMOCR's dicts/sdmgr_dict.txt, in file order (WildReceipt character set).
SDMGR_CHARS = (
    "/\\.$£€¥:-,*#()%@!'&=>+\"×?<[]_0123456789"
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
)
PADDING_TOKEN = "<PAD>"


def read_dict_file(path: str | Path) -> list[str]:
    """Characters of a MMOCR dictionary file (one per line, empty lines skipped)."""
    chars: list[str] = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        line = line.rstrip("\r\n")
        if len(line) > 1:
            raise ValueError(f"dictionary lines must hold one character, got {line!r}")
        if line:
            chars.append(line)
    return chars


class KIEDictionary:
    """Character <-> index mapping with a padding entry and no unknown entry."""

    def __init__(self, chars: Sequence[str] | str = SDMGR_CHARS):
        chars = list(chars)
        if len(set(chars)) != len(chars):
            raise ValueError("duplicate characters in the dictionary")
        self.chars = chars
        self.char2idx = {c: i for i, c in enumerate(chars)}
        self.padding_idx = len(chars)
        self.num_classes = len(chars) + 1

    @classmethod
    def from_file(cls, path: str | Path) -> "KIEDictionary":
        return cls(read_dict_file(path))

    def str2idx(self, text: str) -> list[int]:
        """Indices of the known characters of ``text``; unknown ones are dropped."""
        return [self.char2idx[c] for c in text if c in self.char2idx]

    def encode(self, texts: Iterable[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """(indices (N, L) long right-padded with ``padding_idx``, kept lengths (N,) long).

        L is the longest raw text (at least 1), as MMOCR sizes the tensor before dropping.
        """
        texts = list(texts)
        encoded = [self.str2idx(t) for t in texts]
        width = max([len(t) for t in texts] + [1])
        out = torch.full((len(texts), width), self.padding_idx, dtype=torch.long)
        for i, idx in enumerate(encoded):
            if idx:
                out[i, : len(idx)] = torch.tensor(idx, dtype=torch.long)
        lengths = torch.tensor([len(idx) for idx in encoded], dtype=torch.long)
        return out, lengths
