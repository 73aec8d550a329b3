"""Which model a request runs (service/gateway/model_choice.py): one rule and one 404 for /ocr, /kie and /ner."""
from __future__ import annotations

from dataclasses import dataclass

import pytest

from service.gateway.errors import ModelNotFound
from service.gateway.model_choice import pick_model, required_model
from service.gateway.zoo import Zoo, load_zoo


@dataclass
class _State:
    zoo: Zoo


@pytest.fixture(scope="module")
def state():
    return _State(load_zoo())


def test_pick_model_named_default_none_and_unknown(state):
    det = state.zoo.defaults["det"]
    assert pick_model(state, "det", None, det) == det
    assert pick_model(state, "det", "None", det) is None
    with pytest.raises(ModelNotFound, match=f"unknown rec model {det!r}; available: "):
        pick_model(state, "rec", det, None)  # a detector is not a recogniser


@pytest.mark.parametrize("task", ["kie", "ner"])
def test_routes_that_need_a_model_share_one_message(state, task):
    known = state.zoo.names(task)
    bare = _State(state.zoo.model_copy(update={"defaults": {k: v for k, v in state.zoo.defaults.items()
                                                            if k != task}}))
    with pytest.raises(ModelNotFound) as err:
        required_model(bare, task, None)
    listed = ", ".join(known) or "none (build one with `ocrserve archive --arch ...`)"
    assert str(err.value) == (f"name a {task} model (?model=... or a \"model\" field): the zoo has no default "
                              f"one; available: {listed}")
    if task in state.zoo.defaults:
        assert required_model(state, task, None) == state.zoo.defaults[task]
