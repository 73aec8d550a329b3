"""CPU or CUDA, simulated on a CPU machine: the set-up's choice with a fake `nvidia-smi` on PATH,
TorchServe's number_of_gpu, and workers that fall back to the CPU when their runtime has no CUDA."""
from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from handlers import runtime
from handlers.runtime import Device, OnnxRunner, TorchRunner
from service.tooling.launch import accel
from service.tooling.launch.runner import torchserve_config
from service.gateway.settings import Settings
from tests.conftest import REPO

HERE = Path(__file__).parent
FAKE_SMI = """#!/bin/sh
case "$1" in
  -L) printf 'GPU 0: NVIDIA H100 80GB HBM3 (UUID: GPU-0)\\nGPU 1: NVIDIA H100 80GB HBM3 (UUID: GPU-1)\\n' ;;
  --query-gpu=driver_version) echo "{driver}" ;;
esac
"""


@pytest.fixture
def fake_smi(tmp_path, monkeypatch):
    """Put an `nvidia-smi` reporting two H100s with the given driver first on PATH."""
    def install(driver: str = "580.65.06") -> Path:
        exe = tmp_path / "bin" / "nvidia-smi"
        exe.parent.mkdir(exist_ok=True)
        exe.write_text(FAKE_SMI.replace("{driver}", driver))
        exe.chmod(0o755)
        monkeypatch.setenv("PATH", f"{exe.parent}{os.pathsep}{os.environ['PATH']}")
        return exe
    return install


def _plan_shell(env: dict[str, str]) -> dict[str, str]:
    """Run the set-up's own command (`python -m service.tooling.launch.accel plan --shell`) and read its variables."""
    out = subprocess.run([sys.executable, "-m", "service.tooling.launch.accel", "plan", "--shell", "--torch", "2.13.0",
                          "--onnxruntime", "1.31.1"], cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO), **env},
                         capture_output=True, text=True, check=True).stdout
    return dict(line.split("=", 1) for line in out.splitlines())


def test_gpu_driver_on_path_chooses_cuda_torch_and_onnxruntime_gpu(fake_smi):
    fake_smi("580.65.06")
    plan = _plan_shell({"OCRSERVE_DEVICE": "auto"})
    assert plan["ACCEL_DEVICE"] == "cuda"
    assert plan["ACCEL_TORCH"] == "(torch==2.13.0)"          # the default index's Linux wheel: CUDA 13
    assert plan["ACCEL_ORT"] == "(onnxruntime-gpu==1.31.1)"
    assert "2 GPU(s)" in plan["ACCEL_REASON"]


def test_old_driver_gets_the_cuda12_builds(fake_smi):
    fake_smi("550.54.15")
    plan = accel.plan_install("2.13.0", "1.31.1", env={}, gpus=accel.detect_gpus())
    assert plan.torch == ["--index-url", accel.TORCH_CUDA12_INDEX, "torch==2.13.0"]
    assert plan.onnxruntime[-1] == "onnxruntime-gpu==1.31.1" and accel.ORT_CUDA12_INDEX in plan.onnxruntime


def test_override_cpu_on_a_gpu_machine(fake_smi):
    fake_smi()
    plan = _plan_shell({"OCRSERVE_DEVICE": "cpu", "OCRSERVE_TORCH_WHEEL": "/wheels/torch-2.13.0+cpu.whl"})
    assert plan["ACCEL_DEVICE"] == "cpu"
    assert plan["ACCEL_TORCH"] == "(/wheels/torch-2.13.0+cpu.whl)"
    assert plan["ACCEL_ORT"] == "(onnxruntime==1.31.1)"


def test_cpu_machine_uses_the_cpu_index_when_reachable_else_checks_the_default():
    none = accel.Gpus()
    reached = accel.plan_install("2.13.0", "1.31.1", env={}, gpus=none, reachable=lambda url: True)
    assert reached.torch == ["--index-url", accel.TORCH_CPU_INDEX, "torch==2.13.0"]
    assert not reached.check_cpu_build
    unreached = accel.plan_install("2.13.0", "1.31.1", env={}, gpus=none, reachable=lambda url: False)
    assert unreached.torch == ["torch==2.13.0"] and unreached.check_cpu_build
    assert unreached.onnxruntime == ["onnxruntime==1.31.1"]


def test_cuda_forced_without_a_driver_is_refused(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))  # no nvidia-smi anywhere
    assert accel.detect_gpus() == accel.Gpus()
    with pytest.raises(ValueError, match="no GPU"):
        accel.plan_install("2.13.0", "1.31.1", env={"OCRSERVE_DEVICE": "cuda"})
    with pytest.raises(ValueError, match="use one of"):
        accel.resolve_device("gpu", accel.Gpus())


@pytest.mark.parametrize("report, refused", [("pip-report-torch-default-index.json", True),
                                             ("pip-report-torch-local-cpu-wheel.json", False)])
def test_a_cuda_torch_is_refused_before_download(report, refused):
    """Real pip reports (trimmed): the default index's torch 2.13.0 pulls nvidia-* and triton."""
    result = subprocess.run([sys.executable, "-m", "service.tooling.launch.accel", "check-cpu-build", str(HERE / report)],
                            cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)}, capture_output=True, text=True)
    assert result.returncode == (3 if refused else 0), result.stderr
    if refused:
        assert "nvidia-cudnn-cu13" in result.stderr and "OCRSERVE_TORCH_WHEEL" in result.stderr


def test_torchserve_config_sets_number_of_gpu(fake_smi, tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    cpu = torchserve_config(Settings(), ["dbnet"]).properties()
    assert "number_of_gpu=0\n" in cpu
    fake_smi()
    assert "number_of_gpu=2\n" in torchserve_config(Settings(), ["dbnet"]).properties()
    forced = torchserve_config(Settings(device="cpu"), ["dbnet"]).properties()
    assert "number_of_gpu=0\n" in forced


def _identity_onnx(path: Path) -> Path:
    import onnx
    from onnx import TensorProto, helper

    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, 3])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [None, 3])
    graph = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "relu", [x], [y])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=9), path)
    return path


@pytest.fixture
def fresh_warnings(monkeypatch):
    monkeypatch.setattr(runtime, "_warned", set())


def test_worker_without_the_cuda_provider_loads_on_cpu_with_one_warning(tmp_path, caplog, fresh_warnings):
    model = _identity_onnx(tmp_path / "relu.onnx")
    with caplog.at_level(logging.WARNING, logger="handlers.runtime"):
        runners = [OnnxRunner(model, Device.from_gpu_id(0)) for _ in range(3)]
    assert all(r.device == Device() for r in runners)
    assert runners[0].session.get_providers() == ["CPUExecutionProvider"]
    np.testing.assert_array_equal(runners[0](np.array([[-1, 0, 2]], np.float32)), [[0, 0, 2]])
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "cuda:0" in warnings[0] and "onnxruntime-gpu" in warnings[0]


def test_provider_listed_but_not_loadable_still_falls_back(tmp_path, caplog, monkeypatch, fresh_warnings):
    """onnxruntime-gpu whose CUDA libraries are missing lists the provider, then runs on the CPU."""
    import onnxruntime

    monkeypatch.setattr(onnxruntime, "get_available_providers",
                        lambda: ["CUDAExecutionProvider", "CPUExecutionProvider"])
    with caplog.at_level(logging.WARNING, logger="handlers.runtime"):
        runner = OnnxRunner(_identity_onnx(tmp_path / "relu.onnx"), Device("cuda", 0))
    assert runner.device == Device()
    assert any("failed to load" in r.getMessage() for r in caplog.records)


def test_cpu_torch_with_a_gpu_id_runs_on_cpu(caplog, fresh_warnings):
    import torch

    with caplog.at_level(logging.WARNING, logger="handlers.runtime"):
        runner = TorchRunner(torch.nn.ReLU(), Device.from_gpu_id("1"))
    assert runner.device == Device() and str(runner.device) == "cpu"
    np.testing.assert_array_equal(runner(np.array([[-1.0, 3.0]], np.float32)), [[0, 3]])
    assert len([r for r in caplog.records if "cuda:1" in r.getMessage()]) == 1


def test_handler_given_a_gpu_id_serves_on_cpu(tmp_path_factory, zoo, weights_ready, caplog, fresh_warnings):
    """The real recogniser archive, initialised as TorchServe does with gpu_id=0 on a CPU build."""
    from handlers.ts_entry import OcrServeEntry
    from tests.conftest import FakeContext
    from tests.handlers.test_handlers import _model_dir

    entry = OcrServeEntry()
    with caplog.at_level(logging.WARNING, logger="handlers.runtime"):
        entry.initialize(FakeContext(_model_dir(tmp_path_factory, zoo, zoo.defaults["rec"]), gpu_id=0))
    assert entry.handler.initialized and entry.handler.model.runner.device == Device()
    assert sum("cuda:0" in r.getMessage() for r in caplog.records) == 1
