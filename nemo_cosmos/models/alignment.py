"""Padding inputs to the compression grid and cropping outputs back.

The networks need ``H`` and ``W`` to be multiples of the spatial compression ``cs`` and
a clip to hold ``1 + k*ct`` frames. Other sizes are padded first and the output cropped
back to the original region. The padding follows the Cosmos reference, so tokens of an
unaligned clip match what its pipeline produces:

- space: constant black (-1, which is uint8 0 mapped to ``[-1, 1]``: the reference pads
  uint8 frames with zeros), ``pad // 2`` rows/columns before and the rest after;
- time: repeated edge frames (first frame before, last frame after), split the same way.

Unlike the reference, which always aligns to 16 pixels and 8 frames, we align to the
model's own ``cs`` and ``ct``, so an 8x8 or 4x model gets the least padding it needs.
"""

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

BLACK = -1.0


def split_padding(size: int, multiple: int, extra: int = 0) -> tuple[int, int]:
    """``(before, after)`` making ``size - extra`` a multiple of ``multiple``; before gets the smaller half."""
    missing = -(size - extra) % multiple
    return missing // 2, missing - missing // 2


def pad_pixels(x: Tensor, spatial: int, temporal: int | None = None) -> Tensor:
    """Pad images ``[B, C, H, W]`` or video ``[B, C, T, H, W]`` (with ``temporal``) to the grid."""
    top, bottom = split_padding(x.shape[-2], spatial)
    left, right = split_padding(x.shape[-1], spatial)
    if top or bottom or left or right:
        x = F.pad(x, (left, right, top, bottom), value=BLACK)
    if temporal is not None:
        before, after = split_padding(x.shape[2], temporal, extra=1)
        if before or after:
            first, last = x[:, :, :1], x[:, :, -1:]
            x = torch.cat([first.expand(-1, -1, before, -1, -1), x, last.expand(-1, -1, after, -1, -1)], dim=2)
    return x


def crop_center(y: Tensor, sizes: Sequence[int]) -> Tensor:
    """Keep ``sizes`` along the trailing dims of ``y``, dropping ``excess // 2`` before: undoes
    :func:`pad_pixels` on a reconstruction of the padded input."""
    sizes = [int(s) for s in sizes]
    if not sizes or len(sizes) > y.dim():
        raise ValueError(f"cannot crop a tensor of shape {tuple(y.shape)} to {sizes}")
    for offset, size in enumerate(sizes, start=y.dim() - len(sizes)):
        if not 0 < size <= y.shape[offset]:
            raise ValueError(f"cannot crop a tensor of shape {tuple(y.shape)} to trailing sizes {sizes}")
        y = y.narrow(offset, (y.shape[offset] - size) // 2, size)
    return y
