"""MMOCR 1.x ``Dictionary`` semantics, pure python (no mmocr/mmengine import).

Index layout (same as MMOCR): the characters of the dict file in file order, then
``<BOS/EOS>`` (if with_start and with_end and same_start_end) or ``<BOS>`` /
``<EOS>`` (each if requested), then ``<PAD>`` (with_padding), then ``<UKN>``
(with_unknown and unknown_token is not None).

CTC models (CRNN) use ``with_padding=True`` only: the padding index is the CTC blank
(the last class, 36 for DICT36 -> 37 classes).
"""
from __future__ import annotations

from pathlib import Path
from typing import Iterable, List, Optional, Sequence


class Dictionary:
    def __init__(
        self,
        dict_file: Optional[str | Path] = None,
        *,
        chars: Optional[Iterable[str]] = None,
        with_start: bool = False,
        with_end: bool = False,
        same_start_end: bool = False,
        with_padding: bool = False,
        with_unknown: bool = False,
        start_token: str = "<BOS>",
        end_token: str = "<EOS>",
        start_end_token: str = "<BOS/EOS>",
        padding_token: str = "<PAD>",
        unknown_token: Optional[str] = "<UKN>",
    ) -> None:
        if (dict_file is None) == (chars is None):
            raise ValueError("give exactly one of dict_file or chars")
        self.with_start = with_start
        self.with_end = with_end
        self.same_start_end = same_start_end
        self.with_padding = with_padding
        self.with_unknown = with_unknown
        self.start_end_token = start_end_token
        self.start_token = start_token
        self.end_token = end_token
        self.padding_token = padding_token
        self.unknown_token = unknown_token

        self._dict: List[str] = []
        if dict_file is not None:
            text = Path(dict_file).read_text(encoding="utf-8")
            for line_num, line in enumerate(text.splitlines()):
                line = line.strip("\r\n")
                if len(line) > 1:
                    raise ValueError(
                        f"Expect each line has 0 or 1 character, got {len(line)} characters "
                        f"at line {line_num + 1}"
                    )
                if line != "":
                    self._dict.append(line)
        else:
            for c in chars:  # type: ignore[union-attr]
                if len(c) != 1:
                    raise ValueError(f"characters must be single code points, got {c!r}")
                self._dict.append(c)
        if len(set(self._dict)) != len(self._dict):
            raise ValueError("the dictionary contains duplicated characters")
        self._char2idx = {c: i for i, c in enumerate(self._dict)}
        self._update_dict()

    def _update_dict(self) -> None:
        self.start_idx = self.end_idx = None
        if self.with_start and self.with_end and self.same_start_end:
            self._append(self.start_end_token)
            self.start_idx = self.end_idx = self._char2idx[self.start_end_token]
        else:
            if self.with_start:
                self._append(self.start_token)
                self.start_idx = self._char2idx[self.start_token]
            if self.with_end:
                self._append(self.end_token)
                self.end_idx = self._char2idx[self.end_token]
        self.padding_idx = None
        if self.with_padding:
            self._append(self.padding_token)
            self.padding_idx = self._char2idx[self.padding_token]
        self.unknown_idx = None
        if self.with_unknown and self.unknown_token is not None:
            self._append(self.unknown_token)
            self.unknown_idx = self._char2idx[self.unknown_token]

    def _append(self, token: str) -> None:
        if token in self._char2idx:
            raise ValueError(f"special token {token!r} is already in the dictionary")
        self._char2idx[token] = len(self._dict)
        self._dict.append(token)

    @property
    def num_classes(self) -> int:
        return len(self._dict)

    @property
    def dict(self) -> List[str]:
        return list(self._dict)

    def char2idx(self, char: str, strict: bool = True) -> Optional[int]:
        idx = self._char2idx.get(char, self.unknown_idx)
        if idx is None and strict:
            raise KeyError(f"Character: {char} not in dict")
        return idx

    def str2idx(self, string: str) -> List[int]:
        """Characters not in the dict map to unknown_idx; if there is no unknown index they
        are dropped when with_unknown=True (unknown_token=None) and raise otherwise."""
        out: List[int] = []
        for s in string:
            idx = self._char2idx.get(s, self.unknown_idx)
            if idx is None:
                if self.with_unknown:
                    continue
                raise KeyError(f"Character: {s} not in dict")
            out.append(idx)
        return out

    def idx2str(self, index: Sequence[int]) -> str:
        if not isinstance(index, (list, tuple)):
            raise TypeError("index must be a list or tuple of ints")
        n = len(self._dict)
        for i in index:
            if not 0 <= i < n:
                raise IndexError(f"index {i} out of range [0, {n})")
        return "".join(self._dict[i] for i in index)

    def ignore_indexes(self, ignore_chars: Iterable[str] = ("padding",)) -> List[int]:
        """MMOCR postprocessor ``ignore_chars`` -> indexes ('padding', 'end', 'unknown' or a
        literal character). Names that resolve to nothing are skipped."""
        table = {"padding": self.padding_idx, "end": self.end_idx, "unknown": self.unknown_idx}
        out: List[int] = []
        for c in ignore_chars:
            idx = table[c] if c in table else self._char2idx.get(c)
            if idx is not None:
                out.append(idx)
        return out
