"""Key lists (``key<TAB>shape[<TAB>kept]``) of MMOCR recognisers the oracle does not cover,
derived by hand from MMOCR's sources; ``regenerate`` turns one into a state_dict."""
from __future__ import annotations

import ast
from pathlib import Path

import torch

from tests.oracle import weights_tools

KEYS = Path(__file__).resolve().parent


def read_keys(name: str) -> dict[str, tuple[tuple[int, ...], bool]]:
    """{key: (shape, kept)} in file order; ``kept`` marks constructor-valued buffers."""
    table = {}
    for line in (KEYS / f"{name}.keys.txt").read_text().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        key, shape, *kind = line.split("\t")
        assert key not in table, f"{key} listed twice"
        table[key] = (tuple(ast.literal_eval(shape)), kind == ["kept"])
    return table


def regenerate(name: str, kept: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The oracle-formula state_dict of a key list (``gen_array`` values); ``kept`` buffers
    (BN counters, position tables) are taken from ``kept`` and their shapes checked."""
    gen_array = weights_tools().gen_array
    out = {}
    for key, (shape, is_kept) in read_keys(name).items():
        if is_kept:
            out[key] = kept[key].clone()
            assert tuple(out[key].shape) == shape, key
        else:
            out[key] = torch.from_numpy(gen_array(key, shape, True))
    return out


def check_matches(model: torch.nn.Module, name: str) -> None:
    """The model's state_dict has exactly the listed keys, with the listed shapes."""
    listed = {k: s for k, (s, _) in read_keys(name).items()}
    got = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    assert sorted(set(got) ^ set(listed)) == []
    assert {k: s for k, s in got.items() if listed[k] != s} == {}
