"""Seeding for Python, NumPy, torch and DataLoader workers."""

from __future__ import annotations

import random

import numpy as np
import torch


def seed_everything(seed: int, rank: int = 0) -> None:
    """Seed every RNG; each DDP rank gets `seed + rank` so augmentations differ across ranks."""
    s = int(seed) + int(rank)
    random.seed(s)
    np.random.seed(s % (2**32))
    torch.manual_seed(s)


def seed_worker(worker_id: int) -> None:
    """DataLoader `worker_init_fn`: derive NumPy/random seeds from torch's per-worker seed."""
    s = torch.initial_seed() % (2**32)
    np.random.seed(s)
    random.seed(s)
