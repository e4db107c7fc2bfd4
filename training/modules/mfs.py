"""Multi-scale facial swap (MFS, CADDM §3.4) on a batch: a region of a donor face is blended into a
real face, at one of several window scales, giving a fake with a known artifact box.

Per selected real image: the donor is a fake of the same identity in the batch when there is one
(CADDM swaps between a real frame and its manipulated counterpart), otherwise another image of the
batch. A window side is drawn from `windows` (fractions of the image; 1.0 = global swap of the whole
face crop); for a partial swap the window sits where donor and real differ most (the release
searches the box of highest dissimilarity — here the mean absolute difference, via average
pooling). The region is alpha-blended with a Gaussian-feathered box mask. Boxes come back as
normalised corners: the whole image (every fake's box) plus the window for partial swaps.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def _feathered_box(size: int, y0: int, x0: int, side: int, device: torch.device) -> Tensor:
    m = torch.zeros(1, 1, size, size, device=device)
    m[..., y0 : y0 + side, x0 : x0 + side] = 1.0
    k = max(3, (side // 8) | 1)
    sigma = k / 3.0
    g = torch.exp(-((torch.arange(k, device=device) - k // 2) ** 2) / (2 * sigma**2))
    g = (g / g.sum()).view(1, 1, 1, k)
    m = F.conv2d(F.pad(m, (k // 2, k // 2, 0, 0), mode="replicate"), g)
    m = F.conv2d(F.pad(m, (0, 0, k // 2, k // 2), mode="replicate"), g.transpose(-1, -2))
    return m[0]


def multi_scale_facial_swap(
    x01: Tensor,
    labels: Tensor,
    groups: list[str],
    prob: float,
    windows: list[float],
    generator: torch.Generator | None = None,
) -> tuple[Tensor, list[Tensor]]:
    """MFS fakes from the real images of a batch: (N×3×S×S images in [0, 1], N box tensors G×4)."""
    size = x01.shape[-1]
    out, boxes = [], []
    reals = [i for i in range(len(labels)) if int(labels[i]) == 0]
    for i in reals:
        if float(torch.rand((), generator=generator)) >= prob:
            continue
        same = [j for j in range(len(labels)) if int(labels[j]) == 1 and groups[j] == groups[i]]
        others = [j for j in range(len(labels)) if j != i]
        pool = same or others
        if not pool:
            continue
        donor = pool[int(torch.randint(len(pool), (), generator=generator))]
        frac = windows[int(torch.randint(len(windows), (), generator=generator))]
        side = max(2, min(size, round(frac * size)))
        real, src = x01[i], x01[donor]
        full = torch.tensor([[0.0, 0.0, 1.0, 1.0]], device=x01.device)
        if side >= size:
            mask = torch.ones(1, size, size, device=x01.device)
            box = full
        else:
            diff = (src - real).abs().mean(0, keepdim=True)[None]
            score = F.avg_pool2d(diff, side, stride=1)[0, 0]  # (S−side+1)²
            y0, x0 = divmod(int(score.argmax()), score.shape[1])
            mask = _feathered_box(size, y0, x0, side, x01.device)
            part = (
                torch.tensor([[x0, y0, x0 + side, y0 + side]], device=x01.device, dtype=torch.float32) / size
            )
            box = torch.cat([full, part])
        out.append(mask * src + (1 - mask) * real)
        boxes.append(box)
    if not out:
        return x01.new_zeros(0, *x01.shape[1:]), []
    return torch.stack(out), boxes
