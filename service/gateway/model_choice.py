"""Which zoo model a request runs: the one it names, the task's default, or a 404 listing the choices."""
from __future__ import annotations

from service.gateway.errors import ModelNotFound


def pick_model(state, task: str, requested: str | None, default: str | None) -> str | None:
    """`requested`, else `default`; None for "none" or when neither is given; 404 for a name that
    is not a `task` model of the zoo."""
    if requested is not None and requested.lower() == "none":
        return None
    name = requested or default
    if name is None:
        return None
    if name not in state.zoo.models or state.zoo.models[name].task != task:
        known = ", ".join(state.zoo.names(task))
        raise ModelNotFound(f"unknown {task} model {name!r}; available: {known}")
    return name


def required_model(state, task: str, requested: str | None) -> str:
    """A route that cannot run without a model (/kie, /ner): the named one or the zoo's default
    for `task`, else a 404 that lists what there is."""
    name = pick_model(state, task, requested, state.zoo.defaults.get(task))
    if name is None:
        known = ", ".join(state.zoo.names(task)) or "none (build one with `ocrserve archive --arch ...`)"
        raise ModelNotFound(f"name a {task} model (?model=... or a \"model\" field): the zoo has no "
                            f"default one; available: {known}")
    return name
