"""MMOCR 0.x model names (`MMOCR(det='DB_r18', recog='CRNN')`) resolved to models this service has.

An MMOCR name maps to the MMOCR 1.x config (`arch`) of the same network; a zoo entry (zoo.yaml or a
checkpoint the user archived into local.yaml) with that arch serves it. Names MMOCR had but
MMOCR 1.x dropped (SEG, CRNN_TPS, SAR_CN, ...) map to nothing.
"""
from __future__ import annotations

from typing import Iterable

# MMOCR 0.x name -> the MMOCR 1.x configs of that network, preferred first (None: no 1.x config).
MMOCR_ARCHS: dict[str, dict[str, tuple[str, ...]]] = {
    "det": {
        "DB_r18": ("dbnet_resnet18_fpnc_1200e_icdar2015",),
        "DB_r50": ("dbnet_resnet50-dcnv2_fpnc_1200e_icdar2015",),
        "DBPP_r50": ("dbnetpp_resnet50-dcnv2_fpnc_1200e_icdar2015",),
        "DRRG": ("drrg_resnet50_fpn-unet_1200e_ctw1500",),
        "FCE_IC15": ("fcenet_resnet50_fpn_1500e_icdar2015",),
        "FCE_CTW_DCNv2": ("fcenet_resnet50-dcnv2_fpn_1500e_ctw1500",),
        "MaskRCNN_CTW": ("mask-rcnn_resnet50_fpn_160e_ctw1500",),
        "MaskRCNN_IC15": ("mask-rcnn_resnet50_fpn_160e_icdar2015",),
        "MaskRCNN_IC17": (),
        "PANet_CTW": ("panet_resnet18_fpem-ffm_600e_ctw1500",),
        "PANet_IC15": ("panet_resnet18_fpem-ffm_600e_icdar2015",),
        "PS_CTW": ("psenet_resnet50_fpnf_600e_ctw1500",),
        "PS_IC15": ("psenet_resnet50_fpnf_600e_icdar2015",),
        "TextSnake": ("textsnake_resnet50_fpn-unet_1200e_ctw1500",),
        "Tesseract": (),
    },
    "rec": {
        "CRNN": ("crnn_mini-vgg_5e_mj",),
        "SAR": ("sar_resnet31_parallel-decoder_5e_st-sub_mj-sub_sa_real",),
        "SAR_CN": (),
        "NRTR_1/16-1/8": ("nrtr_resnet31-1by16-1by8_6e_st_mj",),
        "NRTR_1/8-1/4": ("nrtr_resnet31-1by8-1by4_6e_st_mj",),
        "RobustScanner": ("robustscanner_resnet31_5e_st-sub_mj-sub_sa_real",),
        "SATRN": ("satrn_shallow_5e_st_mj",),
        "SATRN_sm": ("satrn_shallow-small_5e_st_mj",),
        "ABINet": ("abinet_20e_st-an_mj",),
        "SEG": (),
        "CRNN_TPS": (),
        "MASTER": ("master_resnet31_12e_st_mj_sa",),
        "Tesseract": (),
    },
    # The zoo's `sdmgr` is the no-visual SDM-GR over the same 26 WildReceipt classes: it serves
    # MMOCR's SDMGR (the U-Net visual variant) when no unet16 checkpoint was archived.
    "kie": {"SDMGR": ("sdmgr_unet16_60e_wildreceipt", "sdmgr_novisual_60e_wildreceipt")},
}

_TASK_WORD = {"det": "detector", "rec": "recogniser", "kie": "KIE model"}


class UnknownModel(ValueError):
    """The name is neither a model of the service nor an MMOCR model the service has."""


def resolve(name: str, task: str, models: dict[str, tuple[str, str | None]]) -> str:
    """The service's model name for `name` (a service model name or an MMOCR 0.x name); names
    that are neither go to the service unchanged.

    Args:
        models: service model name -> (task, arch or None), from the zoo manifest.
    """
    if name in models and models[name][0] == task:
        return name
    archs = MMOCR_ARCHS[task].get(name)
    if archs is None:  # not an MMOCR name either: the service has the last word (404 with its list)
        return name
    if archs:
        for arch in archs:
            served = sorted(n for n, (t, a) in models.items() if t == task and a == arch)
            if served:
                return served[0]
    raise UnknownModel(_explain(name, task, archs, (n for n, (t, _) in models.items() if t == task)))


def _explain(name: str, task: str, archs: tuple[str, ...], available: Iterable[str]) -> str:
    word = _TASK_WORD[task]
    names = ", ".join(sorted(available)) or "none"
    if not archs:
        return (f"MMOCR's {name!r} has no MMOCR 1.x config this service can serve; the service's "
                f"{word}s are: {names}")
    return (f"MMOCR's {name!r} is not served here; the service's {word}s are: {names}. To serve an MMOCR "
            f"checkpoint of it: `ocrserve archive --arch {archs[0]} --checkpoint <file.pth> --name {name}`, "
            f"then load it (POST /models/{name}) and pass {task}={name!r}")
