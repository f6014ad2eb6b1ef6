"""Finite scalar quantisation (FSQ): 6 channels, levels 8,8,8,5,5,5 -> 64,000 codes."""

import math

import torch
from torch import Tensor, nn


class FSQ(nn.Module):
    """Bound each channel with tanh, round it to one of ``levels[k]`` values, index the grid.

    Tensors are channels-first (``[B, D, ...]``). Channel 0 is the least significant
    digit of an index. Rounding is ``torch.round`` (ties to even) with straight-through
    gradients. The arithmetic runs in float32 whatever the input dtype; codes come back
    in the input dtype. Holds no parameters (and, unlike the reference, no buffers).
    """

    def __init__(self, levels: list[int], eps: float = 1e-3):
        super().__init__()
        self.levels = list(levels)
        self.eps = eps
        self.codebook_size = math.prod(self.levels)
        self.basis = [math.prod(self.levels[:k]) for k in range(len(self.levels))]

    def _per_channel(self, values: list[int | float], like: Tensor, ndim: int) -> Tensor:
        return torch.tensor(values, device=like.device).view(1, -1, *([1] * (ndim - 2)))

    def quantize(self, z: Tensor) -> Tensor:
        """Codes in ``[-1, 1]`` on the grid, ``[B, D, ...]`` in z's dtype."""
        levels = self._per_channel(self.levels, z, z.dim())
        half_l = (levels - 1) * (1 + self.eps) / 2
        offset = torch.where(levels % 2 == 0, 0.5, 0.0)
        shift = torch.atanh(offset / half_l)
        bounded = torch.tanh(z.float() + shift) * half_l - offset
        rounded = bounded + (torch.round(bounded) - bounded).detach()
        return (rounded / (levels // 2)).to(z.dtype)

    def codes_to_indices(self, codes: Tensor) -> Tensor:
        """``[B, D, ...]`` codes -> ``[B, ...]`` int32 indices in ``0 .. codebook_size - 1``."""
        half_width = self._per_channel(self.levels, codes, codes.dim()) // 2
        digits = codes.float() * half_width + half_width
        basis = self._per_channel(self.basis, codes, codes.dim())
        return (digits * basis).sum(dim=1).round().to(torch.int32)

    def indices_to_codes(self, indices: Tensor, dtype: torch.dtype = torch.float32) -> Tensor:
        """``[B, ...]`` integer indices -> ``[B, D, ...]`` codes."""
        ndim = indices.dim() + 1
        levels = self._per_channel(self.levels, indices, ndim)
        basis = self._per_channel(self.basis, indices, ndim)
        digits = (indices.long().unsqueeze(1) // basis) % levels
        half_width = levels // 2
        return ((digits - half_width) / half_width).to(dtype)

    def forward(self, z: Tensor) -> tuple[Tensor, Tensor]:
        """``(indices, codes)`` for the pre-quantisation tensor ``z``."""
        codes = self.quantize(z)
        return self.codes_to_indices(codes), codes
