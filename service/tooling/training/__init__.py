"""Training: SDMG-R on receipts (`kie`), Bert-Softmax NER (`ner`), detector (`det`) and recogniser
(`rec`) fine-tuning: the zoo's PP-OCR models, or a user's MMOCR DBNet / CTC checkpoint (`native.py`)."""
from contextlib import contextmanager


@contextmanager
def denormals_flushed():
    """Denormal floats flushed to zero while the block (or, as `@denormals_flushed()`, the function)
    trains (on the CPU they slow convolutions and optimiser updates many-fold), then the process
    default (off) back: the setting is process-wide for the calling thread and other code needs
    subnormals (Hypothesis refuses to draw floats)."""
    import torch

    torch.set_flush_denormal(True)
    try:
        yield
    finally:
        torch.set_flush_denormal(False)


def save_mmocr_checkpoint(module, target, meta: dict):
    """`module`'s weights as an MMOCR 1.x checkpoint (`{'state_dict', 'meta'}`, contiguous CPU
    tensors, `meta` under `ocrserve_training`), written atomically; returns `target`."""
    import torch

    state = {k: v.detach().cpu().contiguous() for k, v in module.state_dict().items()}
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(".tmp")
    torch.save({"state_dict": state, "meta": {"ocrserve_training": meta}}, tmp)
    tmp.replace(target)
    return target


def state_snapshot(module) -> dict:
    """A detached copy of `module`'s state_dict, to count later what training changed."""
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


def changed_tensors(before: dict, module) -> int:
    """How many tensors of `module`'s state_dict differ from the snapshot `before`."""
    import torch

    after = module.state_dict()
    return sum(not torch.equal(v, after[k].detach().cpu()) for k, v in before.items())


def pick_device(name: str) -> str:
    """`--device` of the training commands: cpu, cuda, cuda:N, or auto (CUDA when available)."""
    import torch

    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"--device {name}: no CUDA device here")
    return name


@contextmanager
def torch_threads_kept():
    """Whatever the block sets with torch.set_num_threads (training and evaluation commands pick
    their own count), the caller's count is back afterwards; nothing to keep when the block is the
    first to import torch."""
    import sys

    torch = sys.modules.get("torch")
    before = torch.get_num_threads() if torch is not None else None
    try:
        yield
    finally:
        if before is not None:
            torch.set_num_threads(before)
