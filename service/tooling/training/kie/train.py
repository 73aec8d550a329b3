"""The SDMG-R training loop (the schedule of MMOCR's ``schedule_adam_60e``: Adam, lr 1e-3,
weight decay 1e-4, batch 4, 60 epochs, lr x0.1 at epochs 40 and 50; with another epoch count
the steps stay at 2/3 and 5/6 of the run). Deterministic on CPU for a fixed seed: the seed sets
the initial weights (``torch.manual_seed``) and the shuffling, and torch runs on one thread.
"""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from handlers.families.kie.sdmgr import SDMGR
from handlers.families.kie.text_encoding import SDMGR_CHARS, KIEDictionary
from service.tooling.training import denormals_flushed, torch_threads_kept
from service.tooling.training.kie.checkpoint import build_model
from service.tooling.training.kie.augment import augment, text_pools
from service.tooling.training.kie.dataset import UNLABELLED, KIEDocument, make_batch
from service.tooling.training.kie.evaluate import evaluate
from service.tooling.training.kie.losses import sdmgr_loss

# SDMG-R's WildReceipt characters (in their file order) + the rest of printable ASCII; the
# space stays out, so spaces are dropped as in MMOCR (WildReceipt transcripts have none).
RECEIPT_CHARS = SDMGR_CHARS + "".join(
    c for c in map(chr, range(33, 127)) if c not in SDMGR_CHARS)


@dataclass
class TrainOptions:
    arch: str = "sdmgr_novisual_60e_wildreceipt"
    epochs: int = 60
    batch_size: int = 4
    lr: float = 1e-3
    weight_decay: float = 1e-4
    seed: int = 0
    threads: int = 1
    milestones: list[int] = field(default_factory=list)  # empty: 2/3 and 5/6 of the epochs
    box_jitter: float = 0.0  # augment.py: box edges move by N(0, this x box height)
    text_noise: float = 0.0  # augment.py: share of texts given one OCR-like edit
    swap_texts: float = 0.0  # augment.py: share of key / value texts swapped with another receipt's of the class
    rare_class_power: float = 0.0  # > 0: node classes rarer than the median weigh (median/n)^p, <= 10
    label_smoothing: float = 0.0  # node loss target smoothing (0: off, as MMOCR)
    dropout: float = 0.0  # training only: dropout on the character embeddings and the node features

    def steps(self) -> list[int]:
        if self.milestones:
            return list(self.milestones)
        return sorted({max(1, round(self.epochs * 2 / 3)), max(1, round(self.epochs * 5 / 6))})


@dataclass
class EpochLog:
    epoch: int
    loss: float
    loss_node: float
    loss_edge: float
    acc_node: float
    lr: float
    seconds: float
    val: dict | None = None


def new_model(opts: TrainOptions, num_classes: int, dictionary: KIEDictionary | None = None) -> SDMGR:
    """Seeded fresh model (PyTorch default initialisation, as MMOCR leaves SDMG-R's)."""
    torch.manual_seed(opts.seed)
    return build_model(opts.arch, num_classes, dictionary or KIEDictionary(RECEIPT_CHARS))


def class_weights(docs: Sequence[KIEDocument], num_classes: int, power: float,
                  cap: float = 10.0) -> torch.Tensor | None:
    """Node-loss weights: 1 for classes at least as frequent as the median class (over classes
    present in ``docs``), (median / count) ** power for rarer ones, at most ``cap``; None if power is 0."""
    if power <= 0:
        return None
    labels = np.concatenate([d.labels for d in docs])
    counts = np.bincount(labels[labels != UNLABELLED], minlength=num_classes).astype(np.float64)
    median = np.median(counts[counts > 0])
    weights = np.where(counts > 0, (median / np.maximum(counts, 1)) ** power, 1.0)
    return torch.tensor(np.clip(weights, 1.0, cap), dtype=torch.float32)


def training_dropout(model: SDMGR, p: float) -> list[torch.utils.hooks.RemovableHandle]:
    """Dropout (rate ``p``) while the model is in training mode, added by hooks so that the
    model, its state_dict and its inference stay MMOCR's: on the character embeddings (the
    LSTM's input) and on the node features entering the node classifier. Returns the hook
    handles (``.remove()`` them after training); none when ``p`` is 0."""
    if p <= 0:
        return []
    head = model.kie_head
    return [head.node_embed.register_forward_hook(lambda m, args, out: F.dropout(out, p, m.training)),
            head.node_cls.register_forward_pre_hook(lambda m, args: (F.dropout(args[0], p, m.training),))]


def train_step(model: SDMGR, optimizer: torch.optim.Optimizer, docs: Sequence[KIEDocument],
               class_weight: torch.Tensor | None = None, label_smoothing: float = 0.0) -> dict[str, float]:
    """One optimiser step on a batch of receipts; returns the loss parts as floats."""
    batch = make_batch(docs, with_image=model.with_backbone)
    node_logits, edge_logits = model(batch.img, batch.boxes, batch.texts)
    losses = sdmgr_loss(node_logits, edge_logits, batch.node_targets, batch.edge_targets,
                        class_weight=class_weight, label_smoothing=label_smoothing)
    optimizer.zero_grad()
    losses["loss"].backward()
    optimizer.step()
    return {k: float(v.detach()) for k, v in losses.items()}


def run_epoch(model: SDMGR, optimizer: torch.optim.Optimizer, docs: Sequence[KIEDocument],
              batch_size: int, generator: torch.Generator, opts: TrainOptions | None = None,
              rng: np.random.Generator | None = None,
              class_weight: torch.Tensor | None = None,
              pools: dict[int, list[str]] | None = None) -> dict[str, float]:
    """One shuffled pass (receipts augmented as ``opts`` says); mean of each loss part over the batches."""
    model.train()
    opts = opts or TrainOptions()
    rng = rng if rng is not None else np.random.default_rng(opts.seed)
    chars = model.kie_head.dictionary.chars
    order = torch.randperm(len(docs), generator=generator).tolist()
    sums: dict[str, float] = {}
    n = 0
    for start in range(0, len(order), batch_size):
        chunk = [augment(docs[i], rng, opts.box_jitter, opts.text_noise, chars, opts.swap_texts, pools)
                 for i in order[start:start + batch_size]]
        parts = train_step(model, optimizer, chunk, class_weight, opts.label_smoothing)
        for k, v in parts.items():
            sums[k] = sums.get(k, 0.0) + v
        n += 1
    return {k: v / max(n, 1) for k, v in sums.items()}


def train(model: SDMGR, train_docs: Sequence[KIEDocument], opts: TrainOptions,
          classes: Sequence[str], val_docs: Sequence[KIEDocument] = (),
          log: Callable[[EpochLog], None] = lambda e: None) -> list[EpochLog]:
    """Train ``model`` in place for ``opts.epochs``; evaluates on ``val_docs`` after each epoch."""
    if not train_docs:
        raise ValueError("no training receipt (every receipt had no box?)")
    with torch_threads_kept():
        torch.set_num_threads(opts.threads)
        hooks = training_dropout(model, opts.dropout)
        try:
            return _run_epochs(model, train_docs, opts, classes, val_docs, log)
        finally:
            for hook in hooks:
                hook.remove()


# The link loss goes to ~0 on close-set data (every pair is a link): its tiny gradients make
# denormal Adam states that slow CPU arithmetic many times over.
@denormals_flushed()
def _run_epochs(model: SDMGR, train_docs: Sequence[KIEDocument], opts: TrainOptions,
                classes: Sequence[str], val_docs: Sequence[KIEDocument],
                log: Callable[[EpochLog], None]) -> list[EpochLog]:
    optimizer = torch.optim.Adam(model.parameters(), lr=opts.lr, weight_decay=opts.weight_decay)
    scheduler = torch.optim.lr_scheduler.MultiStepLR(optimizer, opts.steps(), gamma=0.1)
    generator = torch.Generator().manual_seed(opts.seed)
    rng = np.random.default_rng(opts.seed)
    weight = class_weights(train_docs, len(classes), opts.rare_class_power)
    pools = text_pools(train_docs, classes) if opts.swap_texts > 0 else None
    history = []
    for epoch in range(1, opts.epochs + 1):
        start = time.perf_counter()
        lr = optimizer.param_groups[0]["lr"]
        parts = run_epoch(model, optimizer, train_docs, opts.batch_size, generator, opts, rng, weight, pools)
        scheduler.step()
        val = evaluate(model, val_docs, classes) if val_docs else None
        entry = EpochLog(epoch, parts["loss"], parts["loss_node"], parts["loss_edge"],
                         parts["acc_node"], lr, time.perf_counter() - start, val)
        history.append(entry)
        log(entry)
    return history


def options_meta(opts: TrainOptions) -> dict:
    return {**asdict(opts), "milestones": opts.steps()}
