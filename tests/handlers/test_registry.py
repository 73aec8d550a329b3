"""handlers/registry.py: one table of model families, one error for an unknown name."""
from __future__ import annotations

from pathlib import Path

import pytest

from handlers.api.spec import ModelSpec, UnknownName
from handlers.registry import FAMILIES, build_model, check_config, family, family_of_arch
from handlers.ts_entry import HANDLERS
from service.gateway.zoo import DEFAULT_ZOO, load_zoo


def test_every_family_serves_a_task_with_a_handler_and_every_zoo_entry_checks():
    assert {f.task for f in FAMILIES.values()} == set(HANDLERS)
    zoo = load_zoo(DEFAULT_ZOO)
    for name in zoo.models:
        entry = zoo.get(name)
        check_config(ModelSpec(name, entry.task, entry.family, entry.runtime, Path("w"), entry.config))


def test_each_checkpoint_arch_belongs_to_one_family_of_its_task():
    assert family_of_arch("dbnet_resnet18_fpnc_1200e_icdar2015").name == "mmocr_det"
    assert family_of_arch("crnn_mini-vgg_5e_mj").task == "rec"
    assert family_of_arch("sdmgr_unet16_60e_wildreceipt").name == "sdmgr"
    assert family_of_arch("bert_softmax_cluener").name == "bert_ner"  # MMOCR 0.x's alias


@pytest.mark.parametrize("lookup", [lambda: family("nope"), lambda: family_of_arch("dbnet_nope"),
                                    lambda: check_config(ModelSpec("x", "det", "nope", "torch", Path("w")))])
def test_an_unknown_name_is_one_error_listing_the_known_ones(lookup):
    with pytest.raises(UnknownName) as caught:
        lookup()
    assert isinstance(caught.value, ValueError) and caught.value.known and "known:" in str(caught.value)


def test_a_family_refuses_the_wrong_task_or_runtime():
    with pytest.raises(ValueError, match="serves task 'det', not 'rec'"):
        check_config(ModelSpec("x", "rec", "db", "onnxruntime", Path("w")))
    with pytest.raises(ValueError, match="runs on torch, not 'onnxruntime'"):
        check_config(ModelSpec("x", "kie", "sdmgr", "onnxruntime", Path("w"),
                               {"arch": "sdmgr_unet16_60e_wildreceipt"}))
    with pytest.raises(UnknownName, match="MMOCR detector config 'nope'"):
        build_model(ModelSpec("x", "det", "mmocr_det", "torch", Path("w"), {"arch": "nope"}))


def test_the_gateway_cuts_ner_lines_at_the_models_own_limit():
    from handlers.api.limits import NER_MAX_CHARS
    from handlers.families.ner.convertor import max_chars

    assert NER_MAX_CHARS == max_chars(128)
