"""The one reader of an MMOCR class_list.txt, for serving (SDMG-R), training and the receipt generator."""
from __future__ import annotations

from pathlib import Path


def read_class_list(path: str | Path) -> list[str]:
    """Class names by id of a class_list.txt: one "<id> <name>" per line.

    Ids are 0..n-1, each once, in any order; names may hold spaces; blank lines, surrounding
    whitespace (WildReceipt's lines end in tabs) and a UTF-8 BOM are ignored. ValueError names
    the file and line of anything else.
    """
    names: dict[int, str] = {}
    for number, line in enumerate(Path(path).read_text(encoding="utf-8-sig").splitlines(), 1):
        if not line.strip():
            continue
        parts = line.strip().split(maxsplit=1)
        if len(parts) != 2 or not parts[0].isdigit():
            raise ValueError(f"{path}:{number}: expected '<id> <name>', got {line!r}")
        if int(parts[0]) in names:
            raise ValueError(f"{path}:{number}: class id {parts[0]} appears twice")
        names[int(parts[0])] = parts[1].strip()
    if not names:
        raise ValueError(f"{path}: no classes")
    if sorted(names) != list(range(len(names))):
        raise ValueError(f"{path}: class ids must be 0..{len(names) - 1} without gaps")
    return [names[i] for i in range(len(names))]
