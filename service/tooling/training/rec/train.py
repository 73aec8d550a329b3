"""Fine-tune a CTC recogniser (a RecModel) on word crops: CTC loss, augmentation, replay.

Batches go through the served preprocessing (`handlers/predictors/ctc.py`: height 48, keep the
aspect ratio, normalise, right-pad to a common width of at least 320), so the network trains on
exactly what it is served. Each batch mixes new crops with a share of *replay* crops, crops the
original model read confidently, labelled with its reading: the guard against forgetting what
it already reads (documents, receipts) while it learns the new domain. The dev set is read with
the served decoder every `eval_every` iterations; the best dev word accuracy is kept.
"""
from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch

from handlers.predictors.ctc import batch_tensor, resized_width
from service.tooling.evaluation.metrics import word_accuracy
from service.tooling.training import pick_device
from service.tooling.training.rec.augment import augment
from service.tooling.training.rec.data import Crop
from service.tooling.training.rec.model import RecModel


@dataclass(frozen=True)
class TrainOptions:
    iterations: int = 1000
    batch_size: int = 16
    lr: float = 1e-4  # fine-tuning: a tenth of PaddleOCR's from-scratch rate
    weight_decay: float = 1e-4
    replay_share: float = 0.25  # of each batch, when there are replay crops
    augment: bool = True
    train_backbone: bool = False  # False: the convolutional backbone stays frozen (model.freeze_backbone)
    eval_every: int = 100
    seed: int = 0
    device: str = "auto"  # cpu, cuda, or auto: cuda when available


@dataclass
class Step:
    iteration: int
    loss: float
    lr: float
    seconds: float
    dev: dict = field(default_factory=dict)


def encode(texts: Sequence[str], classes: Sequence[str]) -> tuple[torch.Tensor, torch.Tensor]:
    """CTC targets: concatenated class indices (character i of `classes` is class i + 1) and lengths."""
    index = {char: i + 1 for i, char in enumerate(classes)}
    ids = [index[c] for text in texts for c in text]
    return torch.tensor(ids, dtype=torch.long), torch.tensor([len(t) for t in texts], dtype=torch.long)


def make_batch(crops: Sequence[Crop], model: RecModel, rng: np.random.Generator | None) -> np.ndarray:
    """The (N, 3, 48, W) input of a batch, augmented when `rng` is given."""
    images = [augment(c.image, rng) if rng is not None else c.image for c in crops]
    widths = [resized_width(image, model.cfg) for image in images]
    return batch_tensor(images, widths, model.cfg)


def ctc_loss(model: RecModel, images: Sequence[np.ndarray], texts: Sequence[str], device: torch.device) -> torch.Tensor:
    """Mean CTC loss (per target character, torch's 'mean') of BGR crops, on the logits."""
    logits = model.net(torch.from_numpy(model.batch(images)).to(device))  # (N, T, C)
    log_probs = torch.log_softmax(logits, dim=-1).transpose(0, 1)  # (T, N, C)
    targets, lengths = model.encode(texts)
    frames = torch.full((len(texts),), log_probs.shape[0], dtype=torch.long)
    return torch.nn.functional.ctc_loss(log_probs, targets, frames, lengths, blank=model.blank, zero_infinity=True)


def evaluate(model: RecModel, crops: Sequence[Crop]) -> dict:
    """Word accuracy of the served decoder on `crops` (MMOCR's three modes)."""
    if not crops:
        return {}
    reads = model.predictor()([c.image for c in crops])
    return word_accuracy([r.text for r in reads], [c.text for c in crops])


def _draw(rng: np.random.Generator, train: Sequence[Crop], replay: Sequence[Crop], opts: TrainOptions) -> list[Crop]:
    n_replay = int(round(opts.batch_size * opts.replay_share)) if replay else 0
    picks = [train[i] for i in rng.integers(0, len(train), opts.batch_size - n_replay)]
    return picks + [replay[i] for i in rng.integers(0, len(replay), n_replay)]


def train(model: RecModel, train_crops: Sequence[Crop], opts: TrainOptions, *, dev: Sequence[Crop] = (),
          replay: Sequence[Crop] = (), out: Path | None = None, log: Callable[[Step], None] = print) -> list[Step]:
    """Fine-tune `model` in place; with `out`, checkpoints last.pt and best.pt (best dev
    word accuracy ignoring case) go there. Ends on the best weights when there is a dev set."""
    if not train_crops:
        raise ValueError("no training crops")
    torch.manual_seed(opts.seed)
    rng = np.random.default_rng(opts.seed)
    device = torch.device(pick_device(opts.device))
    model.net.to(device)
    if not opts.train_backbone:
        model.freeze_backbone()
    params = [p for p in model.net.parameters() if p.requires_grad]
    optimiser = torch.optim.AdamW(params, lr=opts.lr, weight_decay=opts.weight_decay)
    # linear warm-up over the first 5 %, then cosine decay to zero
    warm = max(1, opts.iterations // 20)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimiser, lambda i: min((i + 1) / warm, 0.5 * (
        1 + math.cos(math.pi * min(1.0, i / opts.iterations)))))
    best = -1.0
    history: list[Step] = []
    start, losses = time.perf_counter(), []
    for iteration in range(1, opts.iterations + 1):
        model.train_mode()
        crops = _draw(rng, train_crops, replay, opts)
        images = [augment(c.image, rng) if opts.augment else c.image for c in crops]
        loss = ctc_loss(model, images, [c.text for c in crops], device)
        optimiser.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 5.0)
        optimiser.step()
        schedule.step()
        losses.append(loss.item())
        if iteration % opts.eval_every == 0 or iteration == opts.iterations:
            step = Step(iteration, float(np.mean(losses)), schedule.get_last_lr()[0],
                        time.perf_counter() - start, evaluate(model, dev))
            history.append(step)
            losses = []
            score = step.dev.get("word_acc_ignore_case", 0.0)
            if out is not None:
                _save(model, out / "last.pt", step, opts)
                if dev and score > best:
                    _save(model, out / "best.pt", step, opts)
            best = max(best, score)
            log(step)
    if dev and out is not None and (out / "best.pt").is_file():
        model.net.load_state_dict(torch.load(out / "best.pt", map_location=device, weights_only=True)["state_dict"])
    model.net.cpu()
    return history


def _save(model: RecModel, path: Path, step: Step, opts: TrainOptions) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"state_dict": model.net.state_dict(), "step": asdict(step), "options": asdict(opts),
                "source": str(model.source)}, path)
