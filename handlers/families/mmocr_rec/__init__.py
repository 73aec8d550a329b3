"""Native PyTorch re-implementations of MMOCR 1.x text recognisers (no mmcv/mmengine).

``build_model(name)`` returns an ``nn.Module`` whose state_dict keys match MMOCR's, so
MMOCR 1.x checkpoints load with ``strict=True``.
"""
from __future__ import annotations

from typing import Callable, Dict

from torch import nn

from .dictionary import Dictionary
from .decoding import RecResult, attention_decode, ctc_decode

_BUILDERS: Dict[str, Callable[[], nn.Module]] = {}


def _register() -> None:
    from . import crnn
    for name in crnn.DEFAULT_CFGS:
        _BUILDERS[name] = (lambda n=name: crnn.build_crnn(n))
    try:
        from . import satrn
    except ImportError:
        satrn = None
    if satrn is not None:
        for name in satrn.DEFAULT_CFGS:
            _BUILDERS[name] = (lambda n=name: satrn.build_satrn(n))
    try:
        from . import svtr
    except ImportError:
        svtr = None
    if svtr is not None:
        for name in svtr.DEFAULT_CFGS:
            _BUILDERS[name] = (lambda n=name: svtr.build_svtr(n))
    import importlib
    for mod_name, builder in _FAMILIES:
        mod = importlib.import_module(f".{mod_name}", __name__)
        for name in mod.DEFAULT_CFGS:
            _BUILDERS[name] = (lambda n=name, b=getattr(mod, builder): b(n))


_FAMILIES = [("nrtr", "build_nrtr"), ("sar", "build_sar"),
             ("robustscanner", "build_robustscanner"), ("master", "build_master"),
             ("abinet", "build_abinet"), ("aster", "build_aster")]


_register()


def available() -> list[str]:
    return sorted(_BUILDERS)


def build_model(name: str) -> nn.Module:
    if name not in _BUILDERS:
        raise KeyError(f"unknown MMOCR recogniser config {name!r}; implemented: "
                       f"{', '.join(available())}")
    return _BUILDERS[name]()


__all__ = ["Dictionary", "RecResult", "attention_decode", "ctc_decode", "available",
           "build_model"]
