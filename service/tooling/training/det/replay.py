"""Replay for `ocrserve train det --replay`: keep the base detector's behaviour on its old domain
(printed documents, receipts) while it learns a new one (street photos).

The replay images carry no annotation of their own: the BASE model labels them. Each image goes
once through the base ONNX detector exactly as it is served (its zoo config: resize rule, mask
threshold, unclip ratio, box score floor), and its boxes become the image's text polygons. From
there a replay image is a training sample like any other: the same augmentations, DB targets and
DB loss. Pseudo-labels rather than distillation of the probability map because (1) they cost one
inference per image before training instead of a teacher forward pass per crop at every step (a
step already takes 10-40 s on the 2-core CPU), (2) they give the threshold head targets too, and
(3) what users see are the boxes, so boxes are the behaviour to keep. The labels are written to
OUT/replay_labels.json (with the base model's sha256) and reused by `--resume`.

Batches mix the two sources at a fixed ratio: `replay_per_batch` of the `batch_size` crops come
from the replay images (walked in a fresh seeded order each pass), the rest from the training data.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from handlers.predictors.db import DBConfig, DBDetector
from handlers.runtime import OnnxRunner
from service.tooling.evaluation.datasets import GtWord
from service.tooling.evaluation.det_formats import IMAGE_SUFFIXES, DetImage
from service.tooling.training.det.data import DetTrainSet, read_image

LABELS = "replay_labels.json"


def replay_images(sources: list[Path]) -> list[Path]:
    """Images named by each source: an image, a folder (its images, recursively, sorted) or a text
    file of image paths, one a line (relative paths from the file's folder; blank lines and # comments
    skipped)."""
    images: list[Path] = []
    for source in sources:
        source = Path(source)
        if source.is_dir():
            images += sorted(p for p in source.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
        elif source.is_file() and source.suffix.lower() in IMAGE_SUFFIXES:
            images.append(source)
        elif source.is_file():
            for line in source.read_text(encoding="utf-8").splitlines():
                if line.strip() and not line.lstrip().startswith("#"):
                    path = Path(line.strip())
                    images.append(path if path.is_absolute() else source.parent / path)
        else:
            raise ValueError(f"--replay {source} does not exist")
    missing = [p for p in images if not p.is_file()]
    if missing:
        raise ValueError(f"--replay: {len(missing)} images not found, e.g. {missing[0]}")
    if not images:
        raise ValueError("--replay: no images in " + ", ".join(map(str, sources)))
    return images


def pseudo_labels(onnx_path: Path, config: DBConfig, images: list[Path], threads: int = 1) -> list[DetImage]:
    """Each image with the base detector's served boxes as its (cared) text polygons."""
    detector = DBDetector(OnnxRunner(Path(onnx_path), threads=threads), config)
    out = []
    for path in images:
        image = read_image(path)
        words = [GtWord(polygon=[round(float(v), 2) for v in d.polygon.reshape(-1)], text=None, ignored=False)
                 for d in detector(image)]
        out.append(DetImage(image=Path(path), words=words))
    return out


def load_or_label(out: Path, onnx_path: Path, sha256: str, config: DBConfig, images: list[Path],
                  threads: int = 1) -> tuple[list[DetImage], bool]:
    """The replay samples, from OUT/replay_labels.json when it holds these images labelled by this
    base model, else labelled now and written there; (samples, labelled now)."""
    cache = Path(out) / LABELS
    keys = [str(Path(p).resolve()) for p in images]
    if cache.is_file():
        saved = json.loads(cache.read_text(encoding="utf-8"))
        if saved.get("base_sha256") == sha256 and [i["image"] for i in saved["images"]] == keys:
            return [DetImage(image=Path(i["image"]), words=[GtWord(polygon=p, text=None, ignored=False)
                                                              for p in i["polygons"]])
                    for i in saved["images"]], False
    samples = pseudo_labels(onnx_path, config, [Path(k) for k in keys], threads)
    Path(out).mkdir(parents=True, exist_ok=True)
    cache.write_text(json.dumps({"base_sha256": sha256, "images": [
        {"image": str(s.image), "polygons": [w.polygon for w in s.words]} for s in samples]}), encoding="utf-8")
    return samples, True


def replay_per_batch(ratio: float, batch_size: int) -> int:
    """Replay crops in each batch of `batch_size` for a replay `ratio` (ValueError when the ratio
    leaves no crop of one source)."""
    if not 0.0 <= ratio < 1.0:
        raise ValueError(f"--replay-ratio {ratio}: must be in [0, 1)")
    k = int(round(ratio * batch_size))
    if ratio > 0 and not 0 < k < batch_size:
        raise ValueError(f"--replay-ratio {ratio} with --batch-size {batch_size} gives {k} replay crops a batch; "
                         f"need at least one of each kind")
    return k


class MixedSet(torch.utils.data.Dataset):
    """The training set and the replay set behind one index: keys (0, index, epoch) draw from the
    training data, (1, index, pass) from the replay images; each key's crop is reproducible."""

    def __init__(self, train: DetTrainSet, replay: DetTrainSet | None):
        self.parts = (train, replay)

    def __len__(self) -> int:
        return len(self.parts[0])

    def __getitem__(self, key: tuple[int, int, int]) -> dict[str, torch.Tensor]:
        part, index, epoch = key
        return self.parts[part].draw(index, epoch)


def batch_keys(n_train: int, n_replay: int, batch_size: int, k: int, seed: int, step: int) -> list[tuple[int, int, int]]:
    """The keys of batch `step` (0-based): batch_size - k training crops, in a seeded order per
    epoch, then k replay crops, in a seeded order per pass over the replay images."""
    per = batch_size - k
    per_epoch = max(n_train // per, 1)
    epoch, offset = divmod(step, per_epoch)
    order = np.random.default_rng([seed, epoch, 7]).permutation(n_train)
    keys = [(0, int(i), epoch) for i in order[offset * per:(offset + 1) * per]]
    for draw in range(step * k, (step + 1) * k):
        rpass, pos = divmod(draw, n_replay)
        rorder = np.random.default_rng([seed, rpass, 11]).permutation(n_replay)
        keys.append((1, int(rorder[pos]), rpass))
    return keys
