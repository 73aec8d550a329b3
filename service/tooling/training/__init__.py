"""Training: SDMG-R on receipts (`kie`), Bert-Softmax NER (`ner`), detector (`det`) and recogniser
(`rec`) fine-tuning: the zoo's PP-OCR models, or a user's MMOCR DBNet / CTC checkpoint (`native.py`)."""


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


def pick_device(name: str) -> str:
    """`--device` of the training commands: cpu, cuda, cuda:N, or auto (CUDA when available)."""
    import torch

    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"--device {name}: no CUDA device here")
    return name
