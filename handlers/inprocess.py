"""Models in the caller's process: the same handler objects TorchServe runs, loaded from a spec.

Used by the gateway's in-process backend (`ocrserve eval --local`, the parity tests, the GPU
check), which imports this module only when it runs models itself: it pulls in torch.
"""
from __future__ import annotations

from handlers.api.spec import ModelSpec
from handlers.base import OcrHandler
from handlers.runtime import Device
from handlers.ts_entry import HANDLERS


def load_handler(spec: ModelSpec, device: str = "cpu", threads: int = 1) -> OcrHandler:
    """The task's handler with its model loaded on `device` ('cpu', 'cuda' or 'cuda:N')."""
    if spec.task not in HANDLERS:
        raise ValueError(f"no handler for task {spec.task!r}; known: {', '.join(sorted(HANDLERS))}")
    handler = HANDLERS[spec.task]()
    handler.load(spec, Device.parse(device), threads)
    return handler
