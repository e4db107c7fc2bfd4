"""`DeepfakeDataset`: one item per (video, selected frame), read through a reader and a `FrameTransform`."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from torch.utils.data import Dataset, default_collate

from fbi_common.logging import get_logger
from training.config.choices import BAD_FRAME_POLICIES
from training.dataset.index import VideoRecord, identity_of
from training.dataset.readers import FileReader, FrameError, FrameNotFound, LmdbReader
from training.dataset.sampling import select_frames, video_seed
from training.dataset.transforms import FrameTransform

log = get_logger("dataset")


class DeepfakeDataset(Dataset):
    """Frames of a list of `VideoRecord`s, `frame_num` per video, evenly spaced.

    Frame selection is fixed at construction: per video, seeded by `seed` + a stable hash of the
    video key (random offset inside each stride for the train split, stride centres otherwise).
    Identities are `identity_of(record, identity_rule)` strings mapped to ints by `identity_map`
    (built from these records when None; unknown identities get -1).

    Bad frames: with `bad_frame_policy="error"` a missing or undecodable frame/mask/landmark raises
    `FrameError` naming it; with `"drop"` it is logged as a WARNING and the item is None, which
    `collate_drop_none` removes. No other sample is ever substituted. A missing mask of a *real*
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
    ) -> None:
        if bad_frame_policy not in BAD_FRAME_POLICIES:
            raise ValueError(
                f"bad_frame_policy '{bad_frame_policy}' unknown; use one of {BAD_FRAME_POLICIES}"
            )
        self.records = list(records)
        self.reader = reader
        self.split = split
        self.frame_num = frame_num
        self.transform = transform
        self.with_mask = with_mask
        self.with_landmark = with_landmark
        self.bad_frame_policy = bad_frame_policy
        self.seed = int(seed)
        self.identity_rule = identity_rule
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
            f"reader={self.reader!r}, transform={self.transform!r})"
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

    def _load(self, rec: VideoRecord, fi: int) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
        image = self.reader.read_image(rec.frames[fi])
        mask = landmark = None
        if self.with_mask:
            try:
                mask = self.reader.read_mask(rec.masks[fi] if rec.masks else rec.frames[fi])
            except FrameNotFound:
                if rec.label != 0:
                    raise
                mask = np.zeros(image.shape[:2], dtype=np.uint8)
        if self.with_landmark:
            if not rec.landmarks:
                raise FrameError(f"{rec.frames[fi]}: video {rec.key} has no landmark paths")
            landmark = self.reader.read_landmark(rec.landmarks[fi])
        return image, mask, landmark

    def __getitem__(self, index: int) -> dict | None:
        ri, fi = self.items[index]
        rec = self.records[ri]
        try:
            image, mask, landmark = self._load(rec, fi)
        except FrameError as e:
            if self.bad_frame_policy == "drop":
                log.warning("dropping frame of video %s: %s", rec.key, e)
                return None
            raise type(e)(
                f"{e} (video {rec.key}). Re-run preprocessing for it, or set bad_frame_policy: drop "
                "to skip bad frames"
            ) from None
        # Per-item generator drawn from the process RNG, which seed_everything / seed_worker seed.
        rng = np.random.default_rng(np.random.randint(0, 2**31 - 1))
        item = self.transform(image, mask, landmark, rng)
        item.update(self.describe(index))
        return item


def collate_drop_none(batch: list[dict | None]) -> dict | None:
    """Default collate after removing dropped (None) items; a batch with nothing left is None.

    Consumers of the loader skip None batches.
    """
    items = [b for b in batch if b is not None]
    if not items:
        return None
    return default_collate(items)
