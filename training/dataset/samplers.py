"""Training samplers: `sampler: random | balanced | paired` (DDP-aware, reseeded by `set_epoch`).

- `balanced`: every consecutive (real, fake) couple of indices holds one real and one fake frame, so
  every even-sized batch is exactly 50/50. The epoch has as many frames as the dataset; the smaller
  class is cycled through fresh permutations (oversampled), the larger one subsampled.
- `paired`: each fake frame is followed by a real frame of its source video (its pairing group,
  `training/dataset/pairing.py`: FF++ `a_b` → `a`, Celeb-DF by target id, others by
  `pairing_pattern`); even-sized batches therefore hold whole (real, fake) pairs and every fake's
  source real is in its batch whenever the source exists. The epoch is one pass over the fakes,
  plus the reals of groups without any fake (coupled with each other, so such couples are real/real),
  fakes without a real in the index coupled with a random real (both counted in the log).

Under DDP each rank takes every `world`-th pair of the same seeded order (all ranks get the same
number), so pairs and balance survive sharding. `set_epoch(e)` changes the order each epoch.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator

import numpy as np
import torch.distributed as dist
from torch.utils.data import Sampler

from fbi_common.logging import get_logger
from training.config.choices import SAMPLERS
from training.dataset.pairing import pair_group

log = get_logger("dataset.samplers")


class _PairSampler(Sampler[int]):
    """Shared body: `_pairs(rng)` gives (real, fake) index couples; this shards and flattens them."""

    def __init__(self, seed: int, num_replicas: int | None, rank: int | None) -> None:
        if num_replicas is None:
            num_replicas = dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1
        if rank is None:
            rank = dist.get_rank() if dist.is_available() and dist.is_initialized() else 0
        self.seed, self.world, self.rank, self.epoch = int(seed), int(num_replicas), int(rank), 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def _pairs(self, rng: np.random.Generator) -> np.ndarray:
        raise NotImplementedError

    def _num_pairs(self) -> int:
        raise NotImplementedError

    def __len__(self) -> int:
        return 2 * (self._num_pairs() // self.world)

    def __iter__(self) -> Iterator[int]:
        rng = np.random.default_rng([self.seed, self.epoch])
        pairs = self._pairs(rng)
        per_rank = len(pairs) // self.world
        mine = pairs[self.rank :: self.world][:per_rank]
        return iter(mine.reshape(-1).tolist())


def _labels(dataset) -> np.ndarray:
    return np.array([dataset.records[ri].label for ri, _ in dataset.items], dtype=np.int64)


def _cycled(indices: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """n indices drawn from fresh permutations of `indices`, one after another."""
    reps = -(-n // len(indices))
    return np.concatenate([rng.permutation(indices) for _ in range(reps)])[:n]


class BalancedSampler(_PairSampler):
    """50/50 real/fake over the epoch and inside every even-sized batch (see the module docstring)."""

    def __init__(
        self, dataset, seed: int = 0, num_replicas: int | None = None, rank: int | None = None
    ) -> None:
        super().__init__(seed, num_replicas, rank)
        labels = _labels(dataset)
        self.reals, self.fakes = np.flatnonzero(labels == 0), np.flatnonzero(labels == 1)
        if not len(self.reals) or not len(self.fakes):
            raise ValueError(
                f"sampler: balanced needs real and fake training frames; got {len(self.reals)} real, "
                f"{len(self.fakes)} fake. Use sampler: random (or data_aug.sbi for real-only data)"
            )
        self.n_pairs = len(labels) // 2

    def _num_pairs(self) -> int:
        return self.n_pairs

    def _pairs(self, rng: np.random.Generator) -> np.ndarray:
        r = _cycled(self.reals, self.n_pairs, rng)
        f = _cycled(self.fakes, self.n_pairs, rng)
        return np.stack([r, f], axis=1)


class PairedSampler(_PairSampler):
    """Each fake frame next to a real frame of its source video (see the module docstring)."""

    def __init__(
        self,
        dataset,
        seed: int = 0,
        num_replicas: int | None = None,
        rank: int | None = None,
        pattern: str | None = None,
    ) -> None:
        super().__init__(seed, num_replicas, rank)
        labels = _labels(dataset)
        groups = [pair_group(dataset.records[ri], pattern) for ri, _ in dataset.items]
        reals_of: dict[str, list[int]] = defaultdict(list)
        fakes_of: dict[str, list[int]] = defaultdict(list)
        for i, (g, y) in enumerate(zip(groups, labels, strict=True)):
            (fakes_of if y == 1 else reals_of)[g].append(i)
        self.reals = np.flatnonzero(labels == 0)
        self.fakes = np.flatnonzero(labels == 1)
        if not len(self.reals) or not len(self.fakes):
            raise ValueError(
                f"sampler: paired needs real and fake training frames; got {len(self.reals)} real, "
                f"{len(self.fakes)} fake. Use sampler: random"
            )
        self.matched = [(np.array(reals_of[g]), np.array(f)) for g, f in fakes_of.items() if g in reals_of]
        self.orphan_fakes = np.array(
            [i for g, f in fakes_of.items() if g not in reals_of for i in f], np.int64
        )
        self.lonely_reals = np.array(
            [i for g, r in reals_of.items() if g not in fakes_of for i in r], np.int64
        )
        n_matched = sum(len(f) for _, f in self.matched)
        log.info(
            "paired sampler: %d fake frames paired with a real frame of their source video; %d fake frames "
            "without a source real in the index get a random real; %d real frames of videos without fakes are coupled "
            "with each other",
            n_matched,
            len(self.orphan_fakes),
            len(self.lonely_reals),
        )
        self.n_pairs = n_matched + len(self.orphan_fakes) + len(self.lonely_reals)

    def _num_pairs(self) -> int:
        return self.n_pairs

    def _pairs(self, rng: np.random.Generator) -> np.ndarray:
        parts = [np.stack([rng.choice(r, len(f)), f], axis=1) for r, f in self.matched]
        if len(self.orphan_fakes):
            parts.append(
                np.stack([rng.choice(self.reals, len(self.orphan_fakes)), self.orphan_fakes], axis=1)
            )
        if len(self.lonely_reals):  # with each other: a random fake here would sit apart from its source
            parts.append(np.stack([self.lonely_reals, rng.permutation(self.lonely_reals)], axis=1))
        pairs = np.concatenate(parts)
        return pairs[rng.permutation(len(pairs))]


def build_train_sampler(dataset, cfg: dict, distributed: bool) -> Sampler[int] | None:
    """The configured training sampler; None for `random` (the loader's shuffle / DistributedSampler)."""
    kind = cfg.get("sampler", "random")
    if kind not in SAMPLERS:
        raise ValueError(f"sampler: '{kind}' is not one of {list(SAMPLERS)}")
    if kind == "random":
        return None
    if int(cfg["train_batchSize"]) % 2:
        raise ValueError(
            f"sampler: {kind} fills batches with (real, fake) couples; train_batchSize={cfg['train_batchSize']} "
            "must be even"
        )
    seed = int(cfg.get("manualSeed", 0))
    world = None if distributed else 1
    rank = None if distributed else 0
    if kind == "balanced":
        return BalancedSampler(dataset, seed, world, rank)
    return PairedSampler(dataset, seed, world, rank, cfg.get("pairing_pattern"))
