"""`DeepfakeDataset`: one item per (video, selected frame), read through a reader and a `FrameTransform`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np
from torch.utils.data import Dataset, default_collate

from fbi_common.logging import get_logger
from training.config.choices import BAD_FRAME_POLICIES
from training.dataset.identity import identity_of
from training.dataset.index import VideoRecord
from training.dataset.readers import FileReader, FrameError, FrameNotFound, LmdbReader
from training.dataset.sampling import select_frames, video_seed
from training.dataset.sbi import SelfBlend
from training.dataset.transforms import FrameTransform, scale_landmarks

log = get_logger("dataset")

DROPPED_KEY = "dropped"  # batch key: descriptions of the items bad_frame_policy=drop removed
DROPPED_LIST_CAP = 100  # how many dropped files a report lists by name (the count is always exact)


class DroppedFrame(NamedTuple):
    """What `DeepfakeDataset.__getitem__` returns for a bad frame under bad_frame_policy=drop.

    It travels from the DataLoader worker to the main process inside the batch (collate puts it
    under `batch["dropped"]`), so counts never depend on worker-process state.
    """

    index: int
    video_key: str
    frame: str
    reason: str


class DeepfakeDataset(Dataset):
    """Frames of a list of `VideoRecord`s, `frame_num` per video, evenly spaced.

    Frame selection is fixed at construction: per video, seeded by `seed` + a stable hash of the
    video key (random offset inside each stride for the train split, stride centres otherwise).
    Identities are `identity_of(record, identity_rule)` strings mapped to ints by `identity_map`
    (built from these records when None; unknown identities get -1).

    Bad frames: with `bad_frame_policy="error"` a missing or undecodable frame/mask/landmark raises
    `FrameError` naming it; with `"drop"` it is logged as a WARNING and the item is a `DroppedFrame`,
    which `collate_drop_none` moves out of the batch into `batch["dropped"]`, and `DropLog` counts.
    No other sample is ever substituted. Videos the index dropped (empty frame lists) are in
    `dropped_videos`. A missing mask of a *real*
    video (label 0) is an all-zero mask, as real videos have no blended region (FF++ ships no masks
    for them); a missing mask of a fake video is a bad frame.
    """

    def __init__(
        self,
        records: Sequence[VideoRecord],
        reader: FileReader | LmdbReader,
        split: str,
        frame_num: int | None,
        transform: FrameTransform,
        identity_map: dict[str, int] | None = None,
        with_mask: bool = False,
        with_landmark: bool = False,
        bad_frame_policy: str = "error",
        seed: int = 0,
        identity_rule: str = "target",
        sbi: SelfBlend | None = None,
    ) -> None:
        if bad_frame_policy not in BAD_FRAME_POLICIES:
            raise ValueError(
                f"bad_frame_policy '{bad_frame_policy}' unknown; use one of {BAD_FRAME_POLICIES}"
            )
        self.records = list(records)
        self.dropped_videos: list[str] = list(getattr(records, "dropped", []))
        self.reader = reader
        self.split = split
        self.frame_num = frame_num
        self.transform = transform
        self.with_mask = with_mask
        self.with_landmark = with_landmark
        self.bad_frame_policy = bad_frame_policy
        self.seed = int(seed)
        self.identity_rule = identity_rule
        self.sbi = sbi  # self-blended fakes from real frames (training/dataset/sbi.py)
        self.cache = None  # a `FrameCache` (frame_cache: DIR), set by build_dataset
        idents = [identity_of(r, identity_rule) for r in self.records]
        if identity_map is None:
            identity_map = {s: i for i, s in enumerate(sorted(set(idents)))}
        self.identity_map = dict(identity_map)
        self._identity = [self.identity_map.get(s, -1) for s in idents]
        self.items: list[tuple[int, int]] = []
        for ri, rec in enumerate(self.records):
            rng = np.random.default_rng(video_seed(self.seed, rec.key)) if split == "train" else None
            self.items.extend((ri, fi) for fi in select_frames(len(rec.frames), frame_num, rng))

    def __len__(self) -> int:
        return len(self.items)

    def __repr__(self) -> str:
        return (
            f"DeepfakeDataset(split={self.split}, videos={len(self.records)}, frames={len(self)}, "
            f"reader={self.reader!r}, transform={self.transform!r}"
            + (f", cache={self.cache!r})" if self.cache is not None else ")")
        )

    def data_info(self) -> dict:
        """What a detector needs to size its heads: identity count and label names."""
        return {
            "num_identities": len(self.identity_map),
            "label_names": sorted({r.label_name for r in self.records}),
        }

    def describe(self, index: int) -> dict:
        """Label and provenance of an item without reading the frame."""
        ri, fi = self.items[index]
        rec = self.records[ri]
        return {
            "label": rec.label,
            "label_name": rec.label_name,
            "video_key": rec.key,
            "frame": rec.frames[fi],
            "identity": self._identity[ri],
            "index": index,
        }

    def frames(self) -> list[str]:
        """The frame paths this dataset reads (each once, sorted)."""
        return sorted({self.records[ri].frames[fi] for ri, fi in self.items})

    def _load(self, rec: VideoRecord, fi: int) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
        if self.cache is None:
            return self._read(rec, fi)
        rel = rec.frames[fi]
        hit = self.cache.get(rel)
        if hit is None:  # first read: decode, resize to the network size, store
            stamp = self.reader.stamp(rel)  # before reading: a file rewritten meanwhile shows up as stale
            image, mask, landmark = self._read(rec, fi)
            hw = image.shape[:2]
            lm = None if landmark is None else np.asarray(landmark, dtype=np.float32).copy()
            image, mask, landmark = self.transform.resize(image, mask, lm)
            self.cache.put(rel, image, mask, hw, stamp)
            return image, mask, landmark
        image, mask, hw = hit
        landmark = None
        if self.with_landmark:
            lm = np.asarray(self._read_landmark(rec, fi), dtype=np.float32).copy()
            landmark = scale_landmarks(lm, hw, self.transform.size)
        return image, mask, landmark

    def _read_landmark(self, rec: VideoRecord, fi: int) -> np.ndarray:
        if not rec.landmarks:
            raise FrameError(f"{rec.frames[fi]}: video {rec.key} has no landmark paths")
        return self.reader.read_landmark(rec.landmarks[fi])

    def _read(self, rec: VideoRecord, fi: int) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
        image = self.reader.read_image(rec.frames[fi])
        mask = landmark = None
        if self.with_mask:
            try:
                mask = self.reader.read_mask(rec.masks[fi] if rec.masks else rec.frames[fi])
            except FrameNotFound as e:
                if rec.label != 0:
                    raise FrameNotFound(
                        f"{e}: the mask of a fake frame (with_mask: true); set with_mask: false if the "
                        "detector does not use masks"
                    ) from None
                mask = np.zeros(image.shape[:2], dtype=np.uint8)
            if mask.shape[:2] != image.shape[:2]:
                raise FrameError(
                    f"{rec.masks[fi] if rec.masks else rec.frames[fi]}: mask is {mask.shape[1]}x{mask.shape[0]} "
                    f"but its frame {rec.frames[fi]} is {image.shape[1]}x{image.shape[0]}"
                )
        if self.with_landmark:
            landmark = self._read_landmark(rec, fi)
        return image, mask, landmark

    def _load_or_drop(self, index: int) -> tuple | DroppedFrame:
        ri, fi = self.items[index]
        rec = self.records[ri]
        try:
            return self._load(rec, fi)
        except FrameError as e:
            if self.bad_frame_policy == "drop":
                log.warning("dropping frame of video %s: %s", rec.key, e)
                return DroppedFrame(index, rec.key, rec.frames[fi], str(e))
            raise type(e)(
                f"{e} (video {rec.key}). Re-run preprocessing for it, or set bad_frame_policy: drop "
                "to skip bad frames (they are counted and reported)"
            ) from None

    def warm(self, index: int) -> str | None:
        """Read item `index` into the frame cache without transforming it; the reason if it is dropped."""
        loaded = self._load_or_drop(index)
        return loaded.reason if isinstance(loaded, DroppedFrame) else None

    def __getitem__(self, index: int) -> dict | DroppedFrame:
        loaded = self._load_or_drop(index)
        if isinstance(loaded, DroppedFrame):
            return loaded
        image, mask, landmark = loaded
        rec = self.records[self.items[index][0]]
        # Per-item generator drawn from the process RNG, which seed_everything / seed_worker seed.
        rng = np.random.default_rng(np.random.randint(0, 2**31 - 1))
        blended = self.sbi is not None and rec.label == 0 and rng.random() < self.sbi.prob
        if blended:
            image, sbi_mask = self.sbi(image, landmark, rng)
            mask = sbi_mask if self.with_mask else None
        item = self.transform(image, mask, landmark, rng)
        item.update(self.describe(index))
        if blended:
            item.update(label=1, label_name="SBI")
        return item


def collate_drop_none(batch: list[dict | DroppedFrame | None]) -> dict | None:
    """Default collate of the good items; dropped items go, as dicts, into `batch["dropped"]`.

    A batch whose every item was dropped is `{"dropped": [...]}` (no images); one with nothing at
    all is None. Consumers pass every batch through `DropLog.take`, which counts the dropped items
    and returns None for a batch with nothing left to use.
    """
    dropped = [b._asdict() for b in batch if isinstance(b, DroppedFrame)]
    items = [b for b in batch if b is not None and not isinstance(b, DroppedFrame)]
    out = default_collate(items) if items else {}
    if dropped:
        out[DROPPED_KEY] = dropped
    return out or None


class DropLog:
    """Frames dropped under bad_frame_policy=drop, counted from the batches that carried them.

    `take(batch)` removes and counts a batch's dropped items (each dataset index once, so DDP
    padding that repeats an index is not counted twice) and returns the batch, or None when it holds
    no images. `summary()` gives `{"n_dropped", "dropped_frames"}` for metrics.json (the list is
    capped at `DROPPED_LIST_CAP` entries; the count is exact).
    """

    def __init__(self) -> None:
        self.items: dict[int, dict[str, Any]] = {}

    def take(self, batch: dict | None) -> dict | None:
        if batch is None:
            return None
        self.add(batch.pop(DROPPED_KEY, ()))
        return batch if batch else None

    def add(self, dropped: Sequence[dict[str, Any]]) -> None:
        for d in dropped:
            self.items.setdefault(int(d["index"]), dict(d))

    def __len__(self) -> int:
        return len(self.items)

    def summary(self) -> dict[str, Any]:
        ordered = [self.items[i] for i in sorted(self.items)]
        listed = [{k: d[k] for k in ("frame", "video_key", "reason")} for d in ordered[:DROPPED_LIST_CAP]]
        return {"n_dropped": len(ordered), "dropped_frames": listed}

    def report(self, what: str) -> None:
        """One WARNING line for `what` (e.g. "train epoch 3") when anything was dropped."""
        if self.items:
            first = self.items[min(self.items)]
            log.warning(
                "%s: %d frame(s) dropped (bad_frame_policy: drop), e.g. %s: %s",
                what,
                len(self.items),
                first["frame"],
                first["reason"],
            )

    def reset(self) -> None:
        self.items.clear()
