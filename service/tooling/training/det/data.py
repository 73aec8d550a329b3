"""Detection training data: any format `ocrserve eval` reads (service/tooling/evaluation/det_formats.py),
turned into normalised crops and DB targets; resize scale and normalisation are the served model's
(a zoo detector's config read by handlers.predictors.db.DBConfig, or a native MMOCR detector's
test pipeline, handlers.predictors.mmocr_det.MMOCRDetConfig)."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import torch

from handlers.predictors import db, mmocr_det
from handlers.predictors.db import DBConfig
from handlers.predictors.mmocr_det import MMOCRDetConfig
from service.tooling.evaluation.det_formats import DET_READERS, DetImage
from service.tooling.training.det.augment import AugmentOptions, augment
from service.tooling.training.det.targets import db_targets


def read_samples(data: Path, fmt: str = "icdar", names: set[str] | None = None) -> list[DetImage]:
    """The annotated images of DATA (in the reader's order), only those named in `names` if given."""
    if fmt not in DET_READERS:
        raise ValueError(f"unknown format {fmt!r}; known: {', '.join(DET_READERS)}")
    samples = DET_READERS[fmt](Path(data))
    if names is not None:
        samples = [s for s in samples if s.image.name in names]
    return samples


def read_image(path: Path) -> np.ndarray:
    """The image at `path` (BGR); ValueError when it cannot be read."""
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise ValueError(f"cannot read image {path}")
    return image


def read_name_list(path: Path) -> set[str]:
    """Image file names, one a line (blank lines and # comments skipped)."""
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    return {ln.strip() for ln in lines if ln.strip() and not ln.lstrip().startswith("#")}


def served_scale(height: int, width: int, inputs: DBConfig | MMOCRDetConfig) -> float:
    """The factor the served model's resize rule scales an image of (height, width) by."""
    module = mmocr_det if isinstance(inputs, MMOCRDetConfig) else db
    return module.target_size(height, width, inputs)[0] / height


def normalised(image: np.ndarray, inputs: DBConfig | MMOCRDetConfig) -> np.ndarray:
    """A BGR uint8 crop as the served model's (3, H, W) float32 input (channel order, mean, std)."""
    module = mmocr_det if isinstance(inputs, MMOCRDetConfig) else db
    return np.ascontiguousarray(module.normalise(image, inputs))


class DetTrainSet(torch.utils.data.Dataset):
    """Random augmented crops with their DB targets; `seed` + index + epoch make each draw reproducible."""

    def __init__(self, samples: list[DetImage], inputs: DBConfig | MMOCRDetConfig, opts: AugmentOptions,
                 seed: int = 0):
        if not samples:
            raise ValueError("no training images")
        self.samples, self.inputs, self.opts, self.seed = samples, inputs, opts, seed
        self.epoch = 0

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        return self.draw(index, self.epoch)

    def draw(self, index: int, epoch: int) -> dict[str, torch.Tensor]:
        """The crop of sample `index` in pass `epoch` (the same for the same arguments)."""
        sample = self.samples[index]
        image = read_image(sample.image)
        rng = np.random.default_rng([self.seed, epoch, index])
        height, width = image.shape[:2]
        base = served_scale(height, width, self.inputs)
        polygons = [np.asarray(w.polygon, np.float64).reshape(-1, 2) for w in sample.words]
        crop, polys, ignored = augment(image, polygons, [w.ignored for w in sample.words], base, self.opts, rng)
        t = db_targets(crop.shape[0], crop.shape[1], polys, ignored)
        return {"image": torch.from_numpy(normalised(crop, self.inputs)), "shrink": torch.from_numpy(t.shrink),
                "shrink_mask": torch.from_numpy(t.shrink_mask), "thr": torch.from_numpy(t.thr),
                "thr_mask": torch.from_numpy(t.thr_mask)}
