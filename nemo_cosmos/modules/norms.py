"""Normalisations: per-frame GroupNorm for video (keeps the network causal)."""

import torch
from torch import Tensor, nn


class FrameNorm(nn.Module):
    """``GroupNorm(1 group)`` applied to each frame of ``[B, C, T, H, W]`` on its own.

    Equal to the reference's time-folded ``CausalNormalize`` without folding time into
    the batch (which costs two full copies): statistics over (C, H, W) per frame, taken
    in float32 even for half-precision inputs (float64 stays float64). Weights under ``norm.weight/bias``.
    """

    def __init__(self, channels: int, eps: float = 1e-6):
        super().__init__()
        self.norm = nn.GroupNorm(1, channels, eps=eps)

    def forward(self, x: Tensor) -> Tensor:
        stats_dtype = torch.promote_types(x.dtype, torch.float32)  # float32, or float64 for float64
        var, mean = torch.var_mean(x.to(stats_dtype), dim=(1, 3, 4), keepdim=True, correction=0)
        scale = torch.rsqrt(var + self.norm.eps).to(x.dtype) * self.norm.weight.view(1, -1, 1, 1, 1)
        return torch.addcmul(self.norm.bias.view(1, -1, 1, 1, 1), x - mean.to(x.dtype), scale)


def image_norm(channels: int) -> nn.GroupNorm:
    """The image models' norm: 32 groups, eps 1e-6."""
    return nn.GroupNorm(32, channels, eps=1e-6)


def swish(x: Tensor) -> Tensor:
    """``x * sigmoid(x)``, in place where no gradient is being recorded."""
    return nn.functional.silu(x, inplace=not torch.is_grad_enabled())
