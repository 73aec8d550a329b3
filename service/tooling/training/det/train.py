"""Fine-tuning loop of `ocrserve train det`: AdamW, poly learning-rate decay after a short warm-up,
the threshold head at a higher rate than the pretrained network, a checkpoint every `save_every`
steps (and at the end) that `resume` continues from exactly where it stopped."""
from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import torch

from service.tooling.training import denormals_flushed
from service.tooling.training.det.augment import AugmentOptions
from service.tooling.training.det.data import DetTrainSet
from service.tooling.training.det.loss import db_loss
from service.tooling.training.det.model import DBTrainNet
from service.tooling.training.det.replay import MixedSet, batch_keys, replay_per_batch

LAST = "last.pt"


@dataclass(frozen=True)
class TrainOptions:
    steps: int = 1000
    batch_size: int = 4
    lr: float = 1e-4  # the pretrained network
    head_lr: float = 1e-3  # the fresh threshold head
    weight_decay: float = 1e-4
    warmup: int = 20  # steps of linear warm-up of the network's rate
    power: float = 0.9  # poly decay to 0 at `steps`
    grad_clip: float = 5.0
    freeze: float = 0.0  # fraction of the network's layers (from the input) kept fixed
    save_every: int = 50
    log_every: int = 10
    seed: int = 0
    workers: int = 0
    device: str = "cpu"
    replay_ratio: float = 0.0  # share of each batch's crops drawn from the replay images (replay.py)
    augment: AugmentOptions = field(default_factory=AugmentOptions)


def options_meta(opts: TrainOptions) -> dict:
    meta = asdict(opts)
    meta["augment"]["scale"] = list(opts.augment.scale)
    return meta


def _rate(step: int, opts: TrainOptions, warm: bool = True) -> float:
    decay = (1 - min(step, opts.steps) / opts.steps) ** opts.power
    return decay * min(1.0, (step + 1) / opts.warmup) if warm and opts.warmup else decay


def _optimizer(model: DBTrainNet, opts: TrainOptions) -> torch.optim.Optimizer:
    return torch.optim.AdamW(model.param_groups(opts.lr, opts.head_lr), weight_decay=opts.weight_decay)


def save_checkpoint(path: Path, model: DBTrainNet, optimizer, step: int, meta: dict) -> None:
    tmp = path.with_suffix(".tmp")
    torch.save({**model.weights(), "optimizer": optimizer.state_dict() if optimizer is not None else None,
                "step": step, "meta": meta}, tmp)
    tmp.replace(path)


@denormals_flushed()  # denormal activations slow CPU convolutions many-fold
def train(model: DBTrainNet, dataset: DetTrainSet, opts: TrainOptions, out: Path, meta: dict,
          resume: dict | None = None, log: Callable[[str], None] = print,
          replay: DetTrainSet | None = None) -> list[dict]:
    """Train for opts.steps optimiser steps (continuing a checkpoint's if given); returns the log rows.
    `model` is a DBTrainNet (a zoo PP-OCR graph) or a native.NativeDBNet (a user's MMOCR DBNet).
    With `replay`, opts.replay_ratio of each batch's crops come from it (replay.batch_keys)."""
    n_rep = replay_per_batch(opts.replay_ratio, opts.batch_size) if replay is not None else 0
    if n_rep:
        log(f"replay: {n_rep} of {opts.batch_size} crops a batch from {len(replay)} replay images")
    device = torch.device(opts.device)
    trainable = model.freeze_first(opts.freeze)
    log(f"{trainable} trainable parameters (first {opts.freeze:.0%} of the network's layers frozen)")
    model.to(device).train()
    optimizer = _optimizer(model, opts)
    step = 0
    if resume is not None:
        model.load_weights(resume)
        model.to(device)
        if resume.get("optimizer"):
            optimizer.load_state_dict(resume["optimizer"])
        step = int(resume["step"])
        log(f"resumed at step {step}")
    per_epoch = max(len(dataset) // (opts.batch_size - n_rep), 1)
    out.mkdir(parents=True, exist_ok=True)
    history: list[dict] = []
    sums: dict[str, float] = {}
    tick = time.perf_counter()
    if step < opts.steps:
        n_replay = len(replay) if n_rep else 0
        batches = [batch_keys(len(dataset), n_replay, opts.batch_size, n_rep, opts.seed, s)
                   for s in range(step, opts.steps)]
        loader = torch.utils.data.DataLoader(MixedSet(dataset, replay if n_rep else None), batch_sampler=batches,
                                             num_workers=opts.workers)
        for batch in loader:
            for group in optimizer.param_groups:
                group["lr"] = group["base"] * _rate(step, opts, warm=group.get("warm", True))
            batch = {k: v.to(device) for k, v in batch.items()}
            prob, thr = model(batch["image"])
            loss, parts = db_loss(prob, thr, batch)
            if n_rep:  # the loss of the replay crops alone (the last n_rep of the batch): forgetting shows here
                with torch.no_grad():
                    parts["replay"] = db_loss(prob[-n_rep:], thr[-n_rep:],
                                              {k: v[-n_rep:] for k, v in batch.items()})[0].item()
            if not math.isfinite(loss.item()):
                raise FloatingPointError(f"loss is {loss.item()} at step {step}")
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if opts.grad_clip:
                torch.nn.utils.clip_grad_norm_(model.parameters(), opts.grad_clip)
            optimizer.step()
            step += 1
            for k, v in {"loss": loss.item(), **parts}.items():
                sums[k] = sums.get(k, 0.0) + v
            sums["n"] = sums.get("n", 0) + 1
            if step % opts.log_every == 0 or step == opts.steps:
                now = time.perf_counter()
                n = sums.pop("n")
                row = {"step": step, "epoch": round(step / per_epoch, 2), **{k: round(v / n, 4) for k, v in sums.items()},
                       "lr": optimizer.param_groups[0]["lr"], "s_per_step": round((now - tick) / n, 2)}
                history.append(row)
                log("  ".join(f"{k} {v:.3g}" if isinstance(v, float) else f"{k} {v}" for k, v in row.items()))
                sums, tick = {}, now
            if step % opts.save_every == 0 or step == opts.steps:
                save_checkpoint(out / LAST, model, optimizer, step, meta)
                weights_only = out / f"step{step:05d}.pt"
                save_checkpoint(weights_only, model, None, step, meta)
                log(f"saved {out / LAST} and {weights_only.name}")
            if step >= opts.steps:
                break
    return history
