"""Which frames of a video are used — the one frame-selection rule of preprocessing, training and demo."""

from __future__ import annotations

import numpy as np

SPREADS = ("strides", "ends")


def select_frames(
    n_total: int,
    n_wanted: int | None,
    rng: np.random.Generator | int | None = None,
    *,
    spread: str = "strides",
    stride: int | None = None,
) -> list[int]:
    """Indices of `n_wanted` frames of `range(n_total)`, distinct and in increasing order.

    - `spread="strides"` (training's rule): the video is cut into `n_wanted` equal strides and one frame
      is taken from each — at the stride's centre when `rng` is None (deterministic, for val/test), at a
      random offset when `rng` (a Generator or an int seed) is given, so training sees different frames
      of a video under different seeds.
    - `spread="ends"` (preprocessing's `fixed_num_frames`, DeepfakeBench's convention): evenly spaced
      from the first to the last frame inclusive, `round(linspace(0, n_total - 1, n_wanted))`.
    - `stride=s` (preprocessing's `fixed_stride`): frames 0, s, 2s, … capped at `n_wanted`.

    Fewer frames than wanted, or `n_wanted` None/≤0: all frames (every `stride`-th with a stride).
    """
    if n_total <= 0:
        return []
    if stride is not None:
        if stride < 1:
            raise ValueError(f"stride must be >= 1, got {stride}")
        idx = list(range(0, n_total, stride))
        return idx[:n_wanted] if n_wanted else idx
    if n_wanted is None or n_wanted <= 0 or n_wanted >= n_total:
        return list(range(n_total))
    if spread == "ends":
        return sorted({int(round(x)) for x in np.linspace(0, n_total - 1, n_wanted)})
    if spread != "strides":
        raise ValueError(f"spread must be one of {SPREADS}, got {spread!r}")
    # Integer stride boundaries: every stride holds >= 1 frame, so the picks are distinct.
    bounds = np.floor(np.linspace(0, n_total, n_wanted + 1)).astype(np.int64)
    starts, widths = bounds[:-1], np.diff(bounds)
    if rng is None:
        return (starts + widths // 2).tolist()
    gen = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(int(rng))
    return (starts + np.floor(gen.random(n_wanted) * widths).astype(np.int64)).tolist()
