"""Pieces shared by the image and video encoders and decoders."""

import torch
from torch import Tensor, nn

from nemo_cosmos.modules import ResnetBlock, SpatialAttention, TemporalAttention


def attention(width: int, video: bool) -> nn.Module:
    """Images: one spatial block. Video: the pair spatial then causal temporal (``.0``, ``.1``)."""
    if video:
        return nn.Sequential(SpatialAttention(width, video=True), TemporalAttention(width))
    return SpatialAttention(width, video=False)


class Level(nn.Module):
    """One resolution level: residual blocks (``block.j``), each optionally followed by
    attention (``attn.j``), then an optional resampler (``downsample`` or ``upsample``)."""

    def __init__(self, blocks: list[nn.Module], attns: list[nn.Module], resampler: nn.Module | None, kind: str):
        super().__init__()
        self.block = nn.ModuleList(blocks)
        self.attn = nn.ModuleList(attns)
        self.kind = kind
        if resampler is not None:
            self.add_module(kind, resampler)

    def forward(self, h: Tensor) -> Tensor:
        for j, block in enumerate(self.block):
            h = block(h)
            if len(self.attn):
                h = self.attn[j](h)
        resampler = self._modules.get(self.kind)
        return resampler(h) if resampler is not None else h


class MidBlock(nn.Module):
    """``block_1``, ``attn_1``, ``block_2`` at the lowest resolution."""

    def __init__(self, width: int, video: bool, dropout: float):
        super().__init__()
        self.block_1 = ResnetBlock(width, width, video, dropout)
        self.attn_1 = attention(width, video)
        self.block_2 = ResnetBlock(width, width, video, dropout)

    def forward(self, h: Tensor) -> Tensor:
        return self.block_2(self.attn_1(self.block_1(h)))


def log2(value: int) -> int:
    return value.bit_length() - 1


def unused_resampler_weights(prefix: str, width: int, convs: dict[str, tuple[tuple[int, ...], bool]]) -> dict[str, torch.Size]:
    """Shapes of the resampler convs that the reference builds but never calls.

    ``convs`` maps each conv name to its kernel and whether its step is active.
    """
    unused = {}
    for name, (kernel, active) in convs.items():
        if not active:
            unused[f"{prefix}.{name}.conv3d.weight"] = torch.Size((width, width, *kernel))
            unused[f"{prefix}.{name}.conv3d.bias"] = torch.Size((width,))
    return unused
