"""`ocrserve train rec --arch CONFIG --checkpoint user.pth`: fine-tune a user's MMOCR CTC recogniser.

The network is the one the `mmocr_rec` family serves (handlers/families/mmocr_rec, MMOCR 1.x key
names, loaded strictly by the family's loader), trained with CTC on its `logits` (the softmax of
`forward` cut off) by the same loop as the PP-OCR recognisers (train.py). Inputs follow the
config's test pipeline (handlers/predictors/mmocr_rec.preprocess: grayscale / height 32 for CRNN,
64 x 256 for SVTR), a batch right-padded to its widest crop. The CTC blank is the dictionary's padding class. Dictionaries without capitals
(MMOCR's DICT36 of CRNN and SVTR) learn lower-cased labels, as MMOCR's `letter_case='lower'`
loss does. Batch norm keeps the checkpoint's statistics. The result is OUT/model.pth in the same
layout, checked by a strict load through the registry and the served probabilities compared with
the trained module's.

Only CTC decoders train here: the attention decoders (SAR, NRTR, RobustScanner, SATRN, MASTER,
ABINet, ASTER) need a teacher-forced cross-entropy loop, and SegOCR and the 0.x CRNN-TPS (blank
first) their own targets; they are served, not fine-tuned.
"""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from torch import nn

from handlers.api.spec import ModelSpec
from handlers.families.mmocr_rec import crnn, svtr
from handlers.predictors.mmocr_rec import MMOCRRecConfig, MMOCRRecognizer, load_torch_runner, preprocess
from handlers.runtime import Device, TorchRunner
from service.tooling.training import changed_tensors, save_mmocr_checkpoint, state_snapshot

#: MMOCR configs this trainer fine-tunes: the 1.x CTC recognisers.
CTC_ARCHS = tuple(sorted({*crnn.DEFAULT_CFGS, *svtr.DEFAULT_CFGS}))
CHECKPOINT_NAME = "model.pth"
EXPORT_ATOL = 1e-4  # largest |served - trained| probability allowed after the export


def check_arch(arch: str) -> None:
    """ValueError unless `arch` is a CTC recogniser config; the message says what is supported."""
    if arch in CTC_ARCHS:
        return
    from handlers.registry import family_of_arch

    family = family_of_arch(arch)  # UnknownName (a ValueError) listing every config when unknown
    if family.task != "rec":
        raise ValueError(f"--arch {arch} is a {family.task} model, not a recogniser; `train rec` fine-tunes "
                         f"CTC recognisers: {', '.join(CTC_ARCHS)}")
    raise ValueError(f"--arch {arch}: `train rec` fine-tunes CTC recognisers only ({', '.join(CTC_ARCHS)}); "
                     "attention decoders (SAR, NRTR, RobustScanner, SATRN, MASTER, ABINet, ASTER), SegOCR and "
                     "the 0.x CRNN-TPS are served (`ocrserve archive`) but not trained here")


def check_start(arch: str, checkpoint: Path | None) -> None:
    """ValueError unless `arch` is a CTC recogniser config and `checkpoint` an existing file."""
    check_arch(arch)
    if checkpoint is None or not Path(checkpoint).is_file():
        raise ValueError(f"--checkpoint {checkpoint} does not exist" if checkpoint else
                         f"--arch {arch} needs --checkpoint (the MMOCR .pth to fine-tune)")


def spec_of(arch: str, checkpoint: Path, name: str = "train-rec") -> ModelSpec:
    return ModelSpec(name, "rec", "mmocr_rec", "torch", Path(checkpoint), {"arch": arch})


class _Logits(nn.Module):
    """The recogniser's per-step logits (N, T, C): what CTC takes."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model.logits(x)


class NativeRecModel:
    """A user's MMOCR CTC recogniser as the training loop's model (rec/model.py's RecModel interface)."""

    def __init__(self, arch: str, module: nn.Module, source: Path):
        self.arch, self.module, self.source = arch, module, Path(source)
        self.net = _Logits(module)
        self.input = MMOCRRecConfig.from_dict({"arch": arch}).input
        self.dictionary = module.dictionary
        self.classes = [c for c in self.dictionary.dict if len(c) == 1]
        self.blank = self.dictionary.padding_idx
        # DICT36 has no capitals: MMOCR trains such models on lower-cased labels
        self.lower = not any(c.isupper() for c in self.classes)

    def encode(self, texts: Sequence[str]) -> tuple[torch.Tensor, torch.Tensor]:
        ids = [self.dictionary.char2idx(c) for text in texts for c in text]
        return torch.tensor(ids, dtype=torch.long), torch.tensor([len(t) for t in texts], dtype=torch.long)

    def batch(self, images: Sequence[np.ndarray]) -> np.ndarray:
        """The inputs of BGR crops (the config's test pipeline) as one training batch: narrower
        ones right-padded with zeros after normalisation to the widest (a batch has one width;
        serving runs each crop unpadded)."""
        tensors = [preprocess(image, self.input)[0] for image in images]
        width = max(t.shape[2] for t in tensors)
        return np.stack([np.pad(t, ((0, 0), (0, 0), (0, width - t.shape[2]))) for t in tensors])

    def predictor(self) -> MMOCRRecognizer:
        """This network behind the served pre/post-processing (the `mmocr_rec` family's reader),
        in eval mode on its current device; the training loop puts it back in training mode."""
        device = next(self.module.parameters()).device
        runner = TorchRunner(self.module, Device(device.type, device.index or 0), torch.get_num_threads())
        return MMOCRRecognizer(runner, MMOCRRecConfig.from_dict({"arch": self.arch}))

    def freeze_backbone(self) -> int:
        """Freeze the feature extractor before the sequence layers (CRNN's MiniVGG backbone,
        SVTR's STN rectifier and patch embedding); returns the weights left trainable."""
        for name in ("backbone", "preprocessor"):
            if hasattr(self.module, name):
                getattr(self.module, name).requires_grad_(False)
        encoder = getattr(self.module, "encoder", None)
        if encoder is not None and hasattr(encoder, "patch_embed"):
            encoder.patch_embed.requires_grad_(False)
        return sum(p.numel() for p in self.module.parameters() if p.requires_grad)

    def train_mode(self) -> None:
        self.module.train()
        for m in self.module.modules():
            if isinstance(m, nn.modules.batchnorm._BatchNorm):
                m.eval()

    def fold_text(self, text: str) -> str:
        return text.lower() if self.lower else text

    def probs(self, images: Sequence[np.ndarray]) -> list[np.ndarray]:
        """The module's softmax output of each crop (eval mode, no gradients)."""
        was = self.module.training
        self.module.eval()
        try:
            with torch.no_grad():
                return [self.module(torch.from_numpy(preprocess(image, self.input)[0][None])).numpy()
                        for image in images]
        finally:
            self.module.train(was)


def load_native(arch: str, checkpoint: Path) -> NativeRecModel:
    """The user's checkpoint in the family's network, loaded strictly (threads left as they are)."""
    check_arch(arch)
    threads = torch.get_num_threads()
    runner = load_torch_runner(spec_of(arch, checkpoint), threads=threads)
    return NativeRecModel(arch, runner.module, checkpoint)


def served_difference(model: NativeRecModel, checkpoint: Path, images: Sequence[np.ndarray]) -> float:
    """Load `checkpoint` through the registry as the archive will (strict) and return its largest
    probability difference from `model` on `images`; ValueError above EXPORT_ATOL."""
    from handlers.registry import build_model

    served = build_model(spec_of(model.arch, checkpoint), threads=torch.get_num_threads())
    model.module.cpu()
    worst = 0.0
    for image, ours in zip(images, model.probs(images)):
        theirs = served.runner(preprocess(image, model.input)[0][None])
        worst = max(worst, float(np.abs(theirs - ours).max()))
    if worst > EXPORT_ATOL:
        raise ValueError(f"{checkpoint} served differs from the trained module by {worst:.3g} (> {EXPORT_ATOL:g})")
    return worst


class NativeStart:
    """`train rec --arch CONFIG --checkpoint PTH`: run.ZooStart's steps for a user's MMOCR checkpoint."""

    def __init__(self, arch: str, checkpoint: Path | None):
        check_start(arch, checkpoint)
        self.native = load_native(arch, Path(checkpoint))
        self.source = self.native.source
        self.classes = self.native.classes
        self.reader = self.native.predictor()  # before training: the checkpoint's own reads (replay)
        self.before = state_snapshot(self.native.module)

    def fold_text(self, text: str) -> str:
        return self.native.fold_text(text)

    def model(self, train_crops, train_backbone: bool):
        weights = sum(p.numel() for p in self.native.module.parameters())
        return self.native, (f"{self.native.arch} from {self.source} (loaded strictly); {weights} weights"
                             + ("" if train_backbone else f", {self.native.freeze_backbone()} trained "
                                "(feature extractor frozen)")
                             + ("; labels lower-cased (the dictionary has no capitals)" if self.native.lower else ""))

    def export(self, model: NativeRecModel, out: Path, check_crops) -> tuple[dict, str]:
        from service.tooling.training.rec.run import export_record

        target = save_mmocr_checkpoint(model.module, out / CHECKPOINT_NAME, {"arch": model.arch, "source": str(self.source)})
        diff = served_difference(model, target, [c.image for c in check_crops[:16]])
        changed = changed_tensors(self.before, model.module)
        exported = {**export_record(target, diff), "tensors_changed": changed}
        return exported, (f"wrote {target} ({changed} tensors changed; loaded strictly by the registry, served "
                          f"output equals torch within {diff:.2g}); serve it with `ocrserve archive --arch "
                          f"{model.arch} --checkpoint {target} --name NAME`")
