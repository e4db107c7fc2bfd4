"""Which person a video shows: identities parsed from the video names of each dataset's naming scheme."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from fbi_common.datasets import dataset_folder
from training.config.choices import IDENTITY_RULES

if TYPE_CHECKING:
    from training.dataset.index import VideoRecord

_PAIR = re.compile(r"^(\d+)_(\d+)$")  # FF++ fake: target_source
_SINGLE = re.compile(r"^(\d+)$")  # FF++ real, UADFV real
_DFD = re.compile(r"^(\d+)(?:_(\d+))?__")  # DFD: 01_02__scene__hash (fake), 01__scene (real)
# Celeb-DF: id0_id1_0000 (fake), id0_0000 (real); also any `idN_...` name (FBI-Demo's id042_v0).
_CELEB = re.compile(r"^(id\d+)(?:_(id\d+))?(?=_|$)")


def identity_of(record: VideoRecord, rule: str = "target") -> str:
    """Identity string of a video under `rule` (target | source | video).

    Names parsed: FF++ `a_b` (target a, source b) and `a` (both a); DeepFakeDetection `01_02__...`
    and `01__...`; Celeb-DF `id0_id1_0000` (target id0, source id1), `id0_0000` and any other
    `idN_...` name (target = source = idN). Parsed ids are
    prefixed by the dataset folder (`FaceForensics++/000`), so the FF++ family shares ids and other
    datasets never collide with it. Any other name, and rule `video`, gives the record key.
    """
    if rule not in IDENTITY_RULES:
        raise ValueError(f"unknown identity_rule '{rule}'; use one of {IDENTITY_RULES}")
    if rule == "video":
        return record.key
    for pattern in (_PAIR, _SINGLE, _DFD, _CELEB):
        m = pattern.match(record.video)
        if m:
            target, source = m.group(1), m.group(2) if m.lastindex and m.lastindex > 1 else None
            ident = target if rule == "target" else (source or target)
            return f"{dataset_folder(record.dataset)}/{ident}"
    return record.key
