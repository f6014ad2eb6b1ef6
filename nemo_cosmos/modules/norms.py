"""Normalisations: per-frame GroupNorm for video (keeps the network causal)."""

import torch
from torch import Tensor, nn


class FrameNorm(nn.Module):
    """``GroupNorm(1 group)`` applied to each frame of ``[B, C, T, H, W]`` on its own.

    Equal to the reference's time-folded ``CausalNormalize`` without folding time into
    the batch (which costs two full copies): statistics over (C, H, W) per frame.
    Half-precision inputs are normalised in float32 and rounded once at the end, as
    GroupNorm does (float64 stays float64). Weights under ``norm.weight/bias``.
    """

    def __init__(self, channels: int, eps: float = 1e-6):
        super().__init__()
        self.norm = nn.GroupNorm(1, channels, eps=eps)

    def forward(self, x: Tensor) -> Tensor:
        # Two passes over [B, C, T, H*W] (mean, then mean square of the centred input):
        # reductions over (C, H*W) run ~6x faster than var_mean over (C, H, W) of the 5-D view.
        frames = x.flatten(3)
        compute_dtype = torch.promote_types(x.dtype, torch.float32)  # float32, or float64 for float64
        mean = frames.mean(dim=(1, 3), keepdim=True, dtype=compute_dtype)
        centred = frames - mean  # in compute_dtype: a half-precision input is promoted here
        var = centred.square().mean(dim=(1, 3), keepdim=True)
        scale = torch.rsqrt(var + self.norm.eps) * self.norm.weight.view(1, -1, 1, 1)
        bias = self.norm.bias.to(compute_dtype).view(1, -1, 1, 1)
        if torch.is_grad_enabled():
            return torch.addcmul(bias, centred, scale).to(x.dtype).view_as(x)
        if x.dtype == compute_dtype:
            return centred.mul_(scale).add_(bias).view_as(x)  # in place: one activation-sized buffer fewer
        return torch.addcmul(bias, centred, scale, out=torch.empty_like(frames)).view_as(x)  # rounded once


def image_norm(channels: int) -> nn.GroupNorm:
    """The image models' norm: 32 groups, eps 1e-6."""
    return nn.GroupNorm(32, channels, eps=1e-6)


def swish(x: Tensor) -> Tensor:
    """``x * sigmoid(x)``, in place where no gradient is being recorded."""
    return nn.functional.silu(x, inplace=not torch.is_grad_enabled())
