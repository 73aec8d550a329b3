"""Native PyTorch re-implementations of MMOCR 1.x text recognisers (no mmcv/mmengine).

``build_model(name)`` returns an ``nn.Module`` whose state_dict keys match MMOCR's, so
MMOCR 1.x checkpoints load with ``strict=True``.
"""
from __future__ import annotations

from typing import Any, Callable, Dict, Tuple

from torch import nn

from . import (abinet, aster, crnn, crnn_tps, master, nrtr, robustscanner, sar, satrn,
               segocr, svtr)
from handlers.api.spec import UnknownName

from .decoding import RecResult, attention_decode, ctc_decode
from .dictionary import Dictionary

# one entry per MMOCR config name: the family's DEFAULT_CFGS key -> its builder
_FAMILIES: Tuple[Tuple[Dict[str, Any], Callable[[str], nn.Module]], ...] = (
    (crnn.DEFAULT_CFGS, crnn.build_crnn),
    (satrn.DEFAULT_CFGS, satrn.build_satrn),
    (svtr.DEFAULT_CFGS, svtr.build_svtr),
    (nrtr.DEFAULT_CFGS, nrtr.build_nrtr),
    (sar.DEFAULT_CFGS, sar.build_sar),
    (robustscanner.DEFAULT_CFGS, robustscanner.build_robustscanner),
    (master.DEFAULT_CFGS, master.build_master),
    (abinet.DEFAULT_CFGS, abinet.build_abinet),
    (aster.DEFAULT_CFGS, aster.build_aster),
    (crnn_tps.DEFAULT_CFGS, crnn_tps.build_crnn_tps),
    (segocr.DEFAULT_CFGS, segocr.build_segocr),
)
_BUILDERS: Dict[str, Callable[[str], nn.Module]] = {
    name: build for cfgs, build in _FAMILIES for name in cfgs}
_CONFIGS: Dict[str, Dict[str, Any]] = {name: cfg for cfgs, _ in _FAMILIES for name, cfg in cfgs.items()}
assert len(_BUILDERS) == sum(len(cfgs) for cfgs, _ in _FAMILIES), "config name registered twice"


def available() -> list[str]:
    return sorted(_BUILDERS)


def config_of(name: str) -> Dict[str, Any]:
    """The DEFAULT_CFGS entry of a config name (KeyError listing the implemented ones)."""
    if name not in _CONFIGS:
        raise UnknownName("MMOCR recogniser config", name, available())
    return _CONFIGS[name]


def build_model(name: str) -> nn.Module:
    if name not in _BUILDERS:
        raise UnknownName("MMOCR recogniser config", name, available())
    return _BUILDERS[name](name)


__all__ = ["Dictionary", "RecResult", "attention_decode", "ctc_decode", "available",
           "build_model", "config_of"]
