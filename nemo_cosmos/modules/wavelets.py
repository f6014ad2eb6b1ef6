"""Haar wavelet patching: the tokenizers' first and last step.

A patch size of ``2**n`` applies ``n`` levels of a one-level Haar transform to *all*
sub-bands. Every level is linear, so the whole transform of one ``p x p (x p)`` patch is a
single small matrix; we apply it with one einsum instead of the reference's many grouped
convolutions, padding and concatenation copies. Sub-band order follows the reference:
coarsest level's block first; inside a level, block ``4t + 2h + w`` for video and
``2w + h`` for images (the image transform filters along W first).
"""

from functools import cache, reduce

import torch
from torch import Tensor, nn

from nemo_cosmos.modules.streaming import StreamingModule


@cache
def haar_analysis_matrix(dims: int, patch_size: int) -> Tensor:
    """``[bands, *patch]`` float64: each sub-band's coefficient for each sample of a patch.

    Per axis and level the filters are ``(a + b)/2`` and ``(a - b)/2``: the reference's
    ``1/sqrt(2)`` filters with its final division (2 for images, ``2*sqrt(2)`` for video)
    folded in, so every coefficient is a signed sum of the patch divided by its volume.
    """
    levels = patch_size.bit_length() - 1
    if patch_size != 2**levels:
        raise ValueError(f"Haar patch size must be a power of two, got {patch_size}")
    m = torch.tensor([[1.0, 1.0], [1.0, -1.0]], dtype=torch.float64) / 2  # rows: low, high
    one_level = reduce(torch.kron, [m] * dims)  # axes in band order: (t, h, w) or (w, h)
    full = reduce(torch.kron, [one_level] * levels, torch.ones(1, 1, dtype=torch.float64))
    bands = full.shape[0]
    # Columns are ordered (level, axis) from the coarsest level; gather each axis's bits.
    full = full.reshape([bands] + [2] * (dims * levels))
    order = [0] + [1 + level * dims + axis for axis in range(dims) for level in range(levels)]
    full = full.permute(order).reshape([bands] + [patch_size] * dims)
    return full.transpose(1, 2) if dims == 2 else full  # images: band axes were (w, h)


@cache
def _placed_matrix(dims: int, patch_size: int, inverse: bool, device: torch.device, dtype: torch.dtype) -> Tensor:
    with torch.inference_mode(False):  # a normal tensor, which autograd may save later
        matrix = haar_analysis_matrix(dims, patch_size) * (patch_size**dims if inverse else 1)
        return matrix.to(device=device, dtype=dtype)


def _matrix(dims: int, patch_size: int, like: Tensor, inverse: bool = False) -> Tensor:
    """The analysis matrix, or the synthesis one (its entries times the patch volume: +-1),
    on ``like``'s device in its dtype, made once per device and dtype: a per-call copy
    from the host would synchronise a GPU stream."""
    return _placed_matrix(dims, patch_size, inverse, like.device, like.dtype)


def haar_patch_2d(x: Tensor, patch_size: int) -> Tensor:
    """``[B, C, H, W] -> [B, C * p^2, H/p, W/p]``."""
    b, c, h, w = x.shape
    p = patch_size
    patches = x.reshape(b, c, h // p, p, w // p, p)
    y = torch.einsum("bchywz,kyz->bkchw", patches, _matrix(2, p, x))
    return y.reshape(b, -1, h // p, w // p)


def haar_unpatch_2d(y: Tensor, patch_size: int) -> Tensor:
    """Inverse of :func:`haar_patch_2d`."""
    b, _, h, w = y.shape
    p = patch_size
    bands = y.reshape(b, p * p, -1, h, w)
    x = torch.einsum("bkchw,kyz->bchywz", bands, _matrix(2, p, y, inverse=True))
    return x.reshape(b, -1, h * p, w * p)


def haar_patch_3d(x: Tensor, patch_size: int) -> Tensor:
    """``[B, C, T, H, W] -> [B, C * p^3, T/p, H/p, W/p]`` (T already a multiple of p)."""
    b, c, t, h, w = x.shape
    p = patch_size
    patches = x.reshape(b, c, t // p, p, h // p, p, w // p, p)
    y = torch.einsum("bctxhywz,kxyz->bkcthw", patches, _matrix(3, p, x))
    return y.reshape(b, -1, t // p, h // p, w // p)


def haar_unpatch_3d(y: Tensor, patch_size: int) -> Tensor:
    """Inverse of :func:`haar_patch_3d`."""
    b, _, t, h, w = y.shape
    p = patch_size
    bands = y.reshape(b, p**3, -1, t, h, w)
    x = torch.einsum("bkcthw,kxyz->bctxhywz", bands, _matrix(3, p, y, inverse=True))
    return x.reshape(b, -1, t * p, h * p, w * p)


class Patcher2d(nn.Module):
    """Image Haar patching (``encoder.patcher``); holds no weights."""

    def __init__(self, patch_size: int):
        super().__init__()
        self.patch_size = patch_size

    def forward(self, x: Tensor) -> Tensor:
        return haar_patch_2d(x, self.patch_size)


class Unpatcher2d(nn.Module):
    """Image inverse Haar patching (``decoder.unpatcher``)."""

    def __init__(self, patch_size: int):
        super().__init__()
        self.patch_size = patch_size

    def forward(self, y: Tensor) -> Tensor:
        return haar_unpatch_2d(y, self.patch_size)


class Patcher3d(StreamingModule):
    """Video Haar patching (``encoder.patcher3d``).

    The clip's first frame is repeated to fill a whole temporal patch, so ``1 + k*p``
    frames become ``1 + k`` patches. In streaming mode only the first chunk gets this.
    """

    def __init__(self, patch_size: int):
        super().__init__()
        self.patch_size = patch_size

    def forward(self, x: Tensor) -> Tensor:
        if self.at_clip_start:
            first = x[:, :, :1].expand(-1, -1, self.patch_size - 1, -1, -1)
            x = torch.cat([first, x], dim=2)
            self.mark_started()
        return haar_patch_3d(x, self.patch_size)


class Unpatcher3d(StreamingModule):
    """Video inverse Haar patching (``decoder.unpatcher3d``); drops the repeated first frames."""

    def __init__(self, patch_size: int):
        super().__init__()
        self.patch_size = patch_size

    def forward(self, y: Tensor) -> Tensor:
        x = haar_unpatch_3d(y, self.patch_size)
        if self.at_clip_start:
            x = x[:, :, self.patch_size - 1 :]
            self.mark_started()
        return x
