"""Finite scalar quantisation (FSQ): 6 channels, levels 8,8,8,5,5,5 -> 64,000 codes."""

import math

import torch
from torch import Tensor, nn


class FSQ(nn.Module):
    """Bound each channel with tanh, round it to one of ``levels[k]`` values, index the grid.

    Tensors are channels-first (``[B, D, ...]``). Channel 0 is the least significant
    digit of an index. Rounding is ``torch.round`` (ties to even) with straight-through
    gradients. The arithmetic runs in float32 whatever the input dtype; codes come back
    in the input dtype. Holds no parameters (and, unlike the reference, no buffers): its
    per-channel constants are made once per device and kept, so a call copies nothing
    from the host.
    """

    def __init__(self, levels: list[int], eps: float = 1e-3):
        super().__init__()
        self.levels = list(levels)
        self.eps = eps
        self.codebook_size = math.prod(self.levels)
        self.basis = [math.prod(self.levels[:k]) for k in range(len(self.levels))]
        self._constants: dict[torch.device, dict[str, Tensor]] = {}

    def _per_channel(self, like: Tensor, ndim: int) -> dict[str, Tensor]:
        """``levels`` and ``basis`` (int64) and the bounding constants (float32), shaped ``[1, D, 1, ...]``."""
        if like.device not in self._constants:
            with torch.inference_mode(False):  # normal tensors, which autograd may save later
                self._constants[like.device] = self._make_constants(like.device)
        shape = (1, -1, *([1] * (ndim - 2)))
        return {name: value.view(shape) for name, value in self._constants[like.device].items()}

    def _make_constants(self, device: torch.device) -> dict[str, Tensor]:
        levels = torch.tensor(self.levels, device=device)
        half_l = (levels - 1) * (1 + self.eps) / 2
        offset = torch.where(levels % 2 == 0, 0.5, 0.0)
        shift = torch.atanh(offset / half_l)
        basis = torch.tensor(self.basis, device=device)
        return {"levels": levels, "basis": basis, "half_l": half_l, "offset": offset, "shift": shift}

    def quantize(self, z: Tensor) -> Tensor:
        """Codes in ``[-1, 1]`` on the grid, ``[B, D, ...]`` in z's dtype."""
        c = self._per_channel(z, z.dim())
        bounded = torch.tanh(z.float() + c["shift"]) * c["half_l"] - c["offset"]
        rounded = bounded + (torch.round(bounded) - bounded).detach()
        return (rounded / (c["levels"] // 2)).to(z.dtype)

    def codes_to_indices(self, codes: Tensor) -> Tensor:
        """``[B, D, ...]`` codes -> ``[B, ...]`` int32 indices in ``0 .. codebook_size - 1``."""
        c = self._per_channel(codes, codes.dim())
        half_width = c["levels"] // 2
        digits = codes.float() * half_width + half_width
        return (digits * c["basis"]).sum(dim=1).round().to(torch.int32)

    def indices_to_codes(self, indices: Tensor, dtype: torch.dtype = torch.float32) -> Tensor:
        """``[B, ...]`` integer indices -> ``[B, D, ...]`` codes."""
        c = self._per_channel(indices, indices.dim() + 1)
        digits = (indices.long().unsqueeze(1) // c["basis"]) % c["levels"]
        half_width = c["levels"] // 2
        return ((digits - half_width) / half_width).to(dtype)

    def forward(self, z: Tensor) -> tuple[Tensor, Tensor]:
        """``(indices, codes)`` for the pre-quantisation tensor ``z``."""
        codes = self.quantize(z)
        return self.codes_to_indices(codes), codes
