"""REFERENCE LOADER for benchmarks only: a DeepfakeBench-style per-sample loader, written here.

Not DeepfakeBench's code (which is CC BY-NC and not copied): it does, per sample, the steps its
training dataset is described to do, so `bench_loader.py --mode reference` measures what a
DeepfakeBench user's input pipeline costs on the same folder, device and settings:

    cv2.imread (or cv2.imdecode of LMDB bytes) → BGR→RGB → cv2.resize(size, INTER_CUBIC) → PIL image
    → numpy array → albumentations Compose [HorizontalFlip, Rotate, GaussianBlur, isotropic resize
    (longest side → size; one of area/cubic, area/linear, linear/linear interpolation),
    RandomBrightnessContrast, ImageCompression (JPEG)] (training with augmentation only)
    → torchvision ToTensor → Normalize(mean, std) → default collate (float32 batches).

The probabilities and ranges are the `data_aug` settings both loaders read (DeepfakeBench's keys).
Frame lists come from our index (listing is not timed); reading, decoding and augmenting are.
"""

from __future__ import annotations

from pathlib import Path

import albumentations as A
import cv2
import lmdb
import numpy as np
import torch
from PIL import Image
from torch.utils.data import DataLoader, Dataset
from torchvision import transforms as T


class IsotropicResize(A.ImageOnlyTransform):
    """Longest side → `max_side`, aspect kept; area interpolation when shrinking, `up` when growing."""

    def __init__(self, max_side: int, down: int = cv2.INTER_AREA, up: int = cv2.INTER_CUBIC, p: float = 1.0):
        super().__init__(p=p)
        self.max_side, self.down, self.up = int(max_side), down, up

    def apply(self, img: np.ndarray, **params) -> np.ndarray:
        h, w = img.shape[:2]
        scale = self.max_side / max(h, w)
        interp = self.down if scale < 1 else self.up
        return cv2.resize(img, (round(w * scale), round(h * scale)), interpolation=interp)


def reference_compose(aug: dict, size: int) -> A.Compose:
    """The per-sample albumentations pipeline of the reference, from DeepfakeBench's `data_aug` keys."""
    blur_lo, blur_hi = (int(v) for v in aug.get("blur_limit", [3, 7]))
    return A.Compose(
        [
            A.HorizontalFlip(p=aug.get("flip_prob", 0.5)),
            A.Rotate(
                limit=tuple(aug.get("rotate_limit", [-10, 10])),
                p=aug.get("rotate_prob", 0.0),
                border_mode=cv2.BORDER_REFLECT_101,
            ),
            A.GaussianBlur(blur_limit=(blur_lo, blur_hi), p=aug.get("blur_prob", 0.5)),
            A.OneOf(
                [
                    IsotropicResize(size, cv2.INTER_AREA, cv2.INTER_CUBIC),
                    IsotropicResize(size, cv2.INTER_AREA, cv2.INTER_LINEAR),
                    IsotropicResize(size, cv2.INTER_LINEAR, cv2.INTER_LINEAR),
                ],
                p=1.0,
            ),
            A.RandomBrightnessContrast(
                brightness_limit=tuple(aug.get("brightness_limit", [-0.1, 0.1])),
                contrast_limit=tuple(aug.get("contrast_limit", [-0.1, 0.1])),
                p=aug.get("brightness_prob", 0.5),
            ),
            A.ImageCompression(
                quality_range=(int(aug.get("quality_lower", 40)), int(aug.get("quality_upper", 100))),
                p=aug.get("quality_prob", 0.5),
            ),
        ]
    )


class ReferenceDataset(Dataset):
    """Per-sample DeepfakeBench-style pipeline over (path or LMDB key, label) pairs."""

    def __init__(
        self,
        items: list[tuple[str, int]],
        size: int,
        mean: tuple[float, ...],
        std: tuple[float, ...],
        aug: dict | None,
        lmdb_path: Path | None = None,
    ) -> None:
        self.items, self.size, self.lmdb_path = items, int(size), lmdb_path
        self.compose = reference_compose(aug, size) if aug else None
        self.to_tensor, self.normalize = T.ToTensor(), T.Normalize(mean, std)
        self._env = None

    def __len__(self) -> int:
        return len(self.items)

    def _read(self, key: str) -> np.ndarray:
        if self.lmdb_path is None:
            return cv2.imread(key)
        if self._env is None:  # opened per worker, as DeepfakeBench opens its env per dataset
            self._env = lmdb.open(str(self.lmdb_path), readonly=True, lock=False, create=False)
        with self._env.begin(write=False) as txn:
            buf = txn.get(key.encode("utf-8"))
        return cv2.imdecode(np.frombuffer(buf, dtype=np.uint8), cv2.IMREAD_COLOR)

    def __getitem__(self, index: int) -> dict:
        key, label = self.items[index]
        img = cv2.cvtColor(self._read(key), cv2.COLOR_BGR2RGB)
        img = cv2.resize(img, (self.size, self.size), interpolation=cv2.INTER_CUBIC)
        img = np.array(Image.fromarray(np.array(img, dtype=np.uint8)))
        if self.compose is not None:
            img = self.compose(image=img)["image"]
        return {"image": self.normalize(self.to_tensor(img)), "label": label}


def reference_loader(dataset: ReferenceDataset, batch: int, workers: int, seed: int = 0) -> DataLoader:
    """Shuffled, drop_last, pinned on CUDA — DataLoader defaults otherwise (prefetch 2 per worker)."""
    g = torch.Generator()
    g.manual_seed(seed)
    return DataLoader(
        dataset,
        batch_size=batch,
        shuffle=True,
        num_workers=workers,
        drop_last=True,
        pin_memory=torch.cuda.is_available(),
        generator=g,
        persistent_workers=workers > 0,
    )
