"""Training: SDMG-R on receipts (`kie`), Bert-Softmax NER (`ner`), detector (`det`) and recogniser
(`rec`) fine-tuning: the zoo's PP-OCR models, or a user's MMOCR DBNet / CTC checkpoint (`native.py`)."""


def pick_device(name: str) -> str:
    """`--device` of the training commands: cpu, cuda, cuda:N, or auto (CUDA when available)."""
    import torch

    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"--device {name}: no CUDA device here")
    return name
