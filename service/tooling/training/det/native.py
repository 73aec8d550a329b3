"""`ocrserve train det --arch CONFIG --checkpoint user.pth`: fine-tune a user's MMOCR DBNet / DBNet++.

The network is the one the `mmocr_det` family serves (handlers/families/mmocr, MMOCR 1.x key
names), loaded by the family's own loader (strict; 0.x key names renamed), so what trains is what
is served. Its DBHead already has the threshold branch of a training checkpoint: `mode='both'`
gives the probability logits and the threshold map the DB loss (loss.py) takes. Batch norm keeps
the checkpoint's running statistics (MMOCR's `norm_eval`): the few crops of a CPU batch would only
make them noisier. The inputs follow the config's test pipeline (RGB, its mean / std, its resize
as the base of the random scale). The result is a checkpoint in the same layout
(`{'state_dict', 'meta'}`), checked by loading it strictly through the registry, as
`ocrserve archive --arch CONFIG --checkpoint OUT/model.pth` will, and comparing its served
(BatchNorm-folded) output with the trained module on real photos.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import torch
from torch import nn

from handlers.api.spec import ModelSpec
from handlers.families.mmocr import dbnet
from handlers.predictors.mmocr_det import MMOCRDetConfig, load_torch_runner, preprocess
from service.tooling.evaluation.det_formats import DetImage
from service.tooling.training import changed_tensors, save_mmocr_checkpoint, state_snapshot
from service.tooling.training.det.data import read_image

#: MMOCR configs this trainer fine-tunes: the DB family (its head has the threshold branch).
DB_ARCHS = tuple(sorted(dbnet.DEFAULT_CFGS))
CHECKPOINT_NAME = "model.pth"
#: largest |served - trained| probability allowed after the export (BatchNorm folding moves ~1e-5)
EXPORT_ATOL = 1e-3


def check_arch(arch: str) -> None:
    """ValueError unless `arch` is an MMOCR DB-family config; the message says what is supported."""
    if arch in dbnet.DEFAULT_CFGS:
        return
    from handlers.registry import family_of_arch

    family = family_of_arch(arch)  # UnknownName (a ValueError) listing every config when unknown
    raise ValueError(f"--arch {arch}: `train det` fine-tunes DB-family detectors only ({', '.join(DB_ARCHS)}); "
                     f"{arch} is served by the {family.name} family ({family.task}) but has no trainer here")


def spec_of(arch: str, checkpoint: Path, name: str = "train-det") -> ModelSpec:
    return ModelSpec(name, "det", "mmocr_det", "torch", Path(checkpoint), {"arch": arch})


class NativeDBNet(nn.Module):
    """An MMOCR DBNet as the training loop's detector: train() -> (probability, threshold) maps,
    eval() -> probability map (N, H, W); see det/model.py's DBTrainNet for the interface."""

    def __init__(self, model: dbnet.DBNet):
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor):
        if not self.training:
            return self.model(x)
        logits, thr, _ = self.model(x, mode="both")
        return torch.sigmoid(logits), thr

    def train(self, mode: bool = True) -> "NativeDBNet":
        super().train(mode)
        for module in self.modules():  # norm_eval: the checkpoint's statistics stay
            if isinstance(module, nn.modules.batchnorm._BatchNorm):
                module.eval()
        return self

    def param_groups(self, lr: float, head_lr: float) -> list[dict]:
        """One group at `lr`: the threshold branch is the checkpoint's, trained like the rest
        (`head_lr` is for the fresh head a PP-OCR graph gets)."""
        return [{"params": [p for p in self.model.parameters() if p.requires_grad], "lr": lr, "base": lr}]

    def weights(self) -> dict:
        return {"net": self.model.state_dict()}

    def load_weights(self, checkpoint: dict) -> None:
        self.model.load_state_dict(checkpoint["net"], strict=True)

    def freeze_first(self, fraction: float) -> int:
        """Freeze the first `fraction` of the layers holding weights, in the order the network
        builds them (the backbone's stem and early stages first); trainable parameters left."""
        layers = [m for m in self.model.modules() if any(True for _ in m.parameters(recurse=False))]
        for layer in layers[:int(fraction * len(layers))]:
            for p in layer.parameters(recurse=False):
                p.requires_grad_(False)
        return sum(p.numel() for p in self.parameters() if p.requires_grad)


def load_native(arch: str, checkpoint: Path) -> NativeDBNet:
    """The user's checkpoint in the family's network, loaded strictly, unfolded (trainable)."""
    threads = torch.get_num_threads()  # the runner sets its own count; training keeps the caller's
    runner = load_torch_runner(spec_of(arch, checkpoint), threads=threads, fold=False)
    return NativeDBNet(runner.module)


def check_inputs(samples: list[DetImage], cfg: MMOCRDetConfig, n: int = 2, limit: int | None = None) -> list[np.ndarray]:
    """The first n images as the served model sees them (its test pipeline), or, with `limit`,
    resized to fit a limit x limit box (a cheaper check)."""
    if limit:
        cfg = dataclasses.replace(cfg, resize={"type": "Resize", "scale": (limit, limit), "keep_ratio": True})
    return [preprocess(read_image(sample.image), cfg)[0] for sample in samples[:n]]


def probabilities(model: NativeDBNet, inputs: list[np.ndarray]) -> list[np.ndarray]:
    """The module's probability maps (eval mode, CPU) of each (1, 3, H, W) input."""
    was = model.training
    model.eval()
    try:
        with torch.no_grad():
            return [model(torch.from_numpy(x)).numpy() for x in inputs]
    finally:
        model.train(was)


def served_difference(arch: str, checkpoint: Path, model: NativeDBNet, check: list[np.ndarray]) -> float:
    """Load `checkpoint` through the registry as the archive will (strict, BatchNorm folded) and
    return its largest probability difference from `model` on `check`; ValueError above EXPORT_ATOL."""
    from handlers.registry import build_model

    served = build_model(spec_of(arch, checkpoint), threads=torch.get_num_threads())
    ours = probabilities(model.to("cpu"), check)
    worst = max(float(np.abs(served.runner.outputs(x)[0] - mine).max()) for x, mine in zip(check, ours))
    if worst > EXPORT_ATOL:
        raise ValueError(f"{checkpoint} served differs from the trained module by {worst:.3g} (> {EXPORT_ATOL:g})")
    return worst


class NativeStart:
    """`train det --arch CONFIG --checkpoint PTH`: the steps around the shared loop (run.ZooStart's
    interface) for a user's MMOCR DB-family checkpoint."""

    def __init__(self, arch: str, checkpoint: Path):
        from service.tooling.packaging.weights import sha256_of

        check_arch(arch)
        if not Path(checkpoint).is_file():
            raise ValueError(f"--checkpoint {checkpoint} does not exist")
        self.arch, self.checkpoint = arch, Path(checkpoint)
        self.inputs = MMOCRDetConfig.from_dict({"arch": arch})
        self.meta = {"base": arch, "base_checkpoint": str(self.checkpoint), "base_sha256": sha256_of(self.checkpoint)}
        self.model: NativeDBNet | None = None
        self.before: dict[str, torch.Tensor] = {}

    def check(self, samples: list[DetImage], limit: int | None) -> list[np.ndarray]:
        return check_inputs(samples, self.inputs, n=2, limit=limit)

    def build(self, check: list[np.ndarray]) -> str:
        self.model = load_native(self.arch, self.checkpoint)
        self.before = state_snapshot(self.model.model)
        return f"{self.arch} from {self.checkpoint} (loaded strictly)"

    def restore(self, checkpoint: Path) -> dict:
        self.build([])
        state = torch.load(checkpoint, map_location="cpu", weights_only=True)
        self.model.load_weights(state)
        return state

    def export(self, out: Path, check: list[np.ndarray], meta: dict, name: str, note: str) -> str:
        from service.tooling.packaging.archive import checkpoint_entry
        from service.tooling.training.det.zoo_entry import write_entry

        target = save_mmocr_checkpoint(self.model.model, out / CHECKPOINT_NAME, meta)
        worst = served_difference(self.arch, target, self.model, check)
        entry = checkpoint_entry(name, self.arch, target).model_copy(update={"description": f"{self.arch} {note}"})
        write_entry(out, entry)
        return (f"wrote {target} ({changed_tensors(self.before, self.model.model)} tensors changed; loaded strictly "
                f"by the registry, served output equals torch on {len(check)} real images, max |diff| {worst:.2g}), "
                f"sha256 {entry.weights.sha256[:12]}; zoo entry {out / 'zoo_entry.yaml'}; serve it with "
                f"`ocrserve archive --arch {self.arch} --checkpoint {target} --name {name}`")
