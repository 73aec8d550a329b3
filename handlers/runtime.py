"""Model runtimes: one small interface over ONNX Runtime and torch modules."""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

log = logging.getLogger(__name__)
_warned: set[str] = set()  # runtimes that already warned about a CUDA fallback in this process


@dataclass(frozen=True)
class Device:
    """Where a model runs: 'cpu' or a CUDA device index."""

    kind: str = "cpu"
    index: int = 0

    @classmethod
    def from_gpu_id(cls, gpu_id: object) -> "Device":
        """TorchServe passes `gpu_id` in system_properties only when it assigned a GPU."""
        if gpu_id is None or str(gpu_id).strip() in ("", "-1", "None"):
            return cls()
        return cls("cuda", int(gpu_id))

    @classmethod
    def parse(cls, text: str) -> "Device":
        """'cpu', 'cuda' or 'cuda:N' (torch's spelling)."""
        kind, _, index = str(text).strip().partition(":")
        if kind not in ("cpu", "cuda") or (index and not index.isdigit()) or (kind == "cpu" and index):
            raise ValueError(f"device {text!r}: use cpu, cuda or cuda:N")
        return cls(kind, int(index or 0))

    def __str__(self) -> str:
        return "cpu" if self.kind == "cpu" else f"cuda:{self.index}"


def fall_back_to_cpu(device: "Device", runtime: str, why: str) -> "Device":
    """The CPU instead of a CUDA `device` this runtime cannot use, with one warning per runtime
    and process (a worker loading five models says it once, not five times)."""
    if runtime not in _warned:
        _warned.add(runtime)
        log.warning("%s was assigned but %s cannot use it (%s): running on the CPU", device, runtime, why)
    return Device()


class Runner(Protocol):
    """A loaded network: one float32 array in; the first output (call) or all of them (outputs)."""

    device: Device

    def __call__(self, batch: np.ndarray) -> np.ndarray: ...

    def outputs(self, batch: np.ndarray) -> list[np.ndarray]: ...

    def metadata(self) -> dict[str, str]: ...


# A 736 x 1312 detector input is 11.6 MB of float32; a 2000 x 2000 one 48 MB.
_SHRINK_ABOVE_BYTES = 32 * 1024 * 1024


class OnnxRunner:
    """An ONNX Runtime session bound to one device and a fixed thread budget."""

    def __init__(self, path: Path, device: Device = Device(), threads: int = 1):
        import onnxruntime as ort  # imported here so that pure code never pays for it

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        providers: list = ["CPUExecutionProvider"]
        if device.kind == "cuda":
            if "CUDAExecutionProvider" in ort.get_available_providers():
                providers.insert(0, ("CUDAExecutionProvider", {"device_id": device.index}))
                if hasattr(ort, "preload_dlls"):  # CUDA/cuDNN of the nvidia-* pip packages (ORT >= 1.21)
                    ort.preload_dlls()
            else:
                device = fall_back_to_cpu(device, "onnxruntime", "no CUDAExecutionProvider; install "
                                          "onnxruntime-gpu in place of onnxruntime")
        self.session = ort.InferenceSession(str(path), options, providers=providers)
        if device.kind == "cuda" and "CUDAExecutionProvider" not in self.session.get_providers():
            # onnxruntime-gpu without loadable CUDA/cuDNN libraries: ORT itself drops to the CPU
            device = fall_back_to_cpu(device, "onnxruntime", "the CUDA provider failed to load "
                                      "(CUDA 13 / cuDNN 9 libraries missing?)")
        self.device = device
        self._input = self.session.get_inputs()[0].name

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        return self.session.run(None, {self._input: batch}, self._run_options(batch))[0]

    def outputs(self, batch: np.ndarray) -> list[np.ndarray]:
        """Every output of the graph, in the graph's order."""
        return list(self.session.run(None, {self._input: batch}, self._run_options(batch)))

    def _run_options(self, batch: np.ndarray):
        """After an unusually large input, give the CPU arena's growth back: the arena keeps its
        peak for ever otherwise (a detector worker stayed 500 MB up after one 2000 x 2000 page).
        Ordinary inputs keep the arena, and its speed."""
        if self.device.kind != "cpu" or batch.nbytes <= _SHRINK_ABOVE_BYTES:
            return None
        import onnxruntime as ort

        options = ort.RunOptions()
        options.add_run_config_entry("memory.enable_memory_arena_shrinkage", "cpu:0")
        return options

    def metadata(self) -> dict[str, str]:
        return dict(self.session.get_modelmeta().custom_metadata_map)


def load_runner(runtime: str, path: Path, device: Device = Device(), threads: int = 1) -> Runner:
    """Open a weight file with the named runtime; unknown runtimes are refused.

    Torch models need their architecture built first, so their families construct a
    TorchRunner themselves from a module and a checkpoint.
    """
    if runtime == "onnxruntime":
        return OnnxRunner(path, device, threads)
    raise ValueError(f"unknown runtime {runtime!r} for a weight file; supported: onnxruntime "
                     "(torch models are built by their family with TorchRunner)")


class TorchRunner:
    """A PyTorch module in eval mode on one device; numpy in, numpy out like OnnxRunner."""

    def __init__(self, module, device: Device = Device(), threads: int = 1):
        import torch  # only torch models pay for importing torch

        torch.set_num_threads(threads)
        if device.kind == "cuda" and not (torch.cuda.is_available() and device.index < torch.cuda.device_count()):
            device = fall_back_to_cpu(device, "torch", f"torch {torch.__version__} sees "
                                      f"{torch.cuda.device_count() if torch.cuda.is_available() else 0} "
                                      "CUDA device(s); a CPU build or no driver")
        self.torch = torch
        self.device = device
        self.module = module.eval().to(str(device))

    def __call__(self, batch: np.ndarray):
        out = self._forward(batch)
        return out.float().cpu().numpy() if hasattr(out, "cpu") else out

    def outputs(self, batch: np.ndarray) -> list[np.ndarray]:
        """The module's output flattened like an ONNX export of it (see `flatten_outputs`)."""
        return [t.float().cpu().numpy() for t in flatten_outputs(self._forward(batch))]

    def _forward(self, batch: np.ndarray):
        with self.torch.inference_mode():
            return self.module(self.torch.from_numpy(batch).to(str(self.device)))

    def metadata(self) -> dict[str, str]:
        return {}


def flatten_outputs(out) -> list:
    """Tensors of a nested output in a fixed order: a tensor -> [t]; tuple/list -> in order;
    dict -> insertion order. FCENet's [{cls_res, reg_res}] * 3 -> [cls0, reg0, cls1, ...]."""
    if isinstance(out, dict):
        return [t for value in out.values() for t in flatten_outputs(value)]
    if isinstance(out, (list, tuple)):
        return [t for value in out for t in flatten_outputs(value)]
    if hasattr(out, "cpu"):
        return [out]
    raise TypeError(f"cannot flatten a network output of type {type(out).__name__}")


def load_checkpoint_runner(module, checkpoint: Path, device: Device = Device(), threads: int = 1,
                           convert=None) -> TorchRunner:
    """Load a checkpoint ({'state_dict': ...} or a bare state_dict) into `module` strictly.

    `convert` maps the loaded object to the module's key names (e.g. older checkpoint layouts).
    """
    import torch

    loaded = torch.load(Path(checkpoint), map_location="cpu", weights_only=True)
    state = convert(loaded) if convert else loaded.get("state_dict", loaded)
    module.load_state_dict(state, strict=True)
    return TorchRunner(module, device, threads)
