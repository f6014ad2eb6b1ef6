"""Residual blocks: 2D for the image models, factorised causal 3D for video."""

from torch import Tensor, nn

from nemo_cosmos.modules.conv import CausalConv3d
from nemo_cosmos.modules.norms import FrameNorm, image_norm, swish


def conv3x3(in_channels: int, out_channels: int) -> nn.Conv2d:
    return nn.Conv2d(in_channels, out_channels, 3, padding=1)


def factorized_conv3d(in_channels: int, out_channels: int) -> nn.Sequential:
    """A spatial ``(1,3,3)`` conv then a temporal causal ``(3,1,1)`` conv (keys ``.0``, ``.1``)."""
    return nn.Sequential(
        CausalConv3d(in_channels, out_channels, (1, 3, 3), padding=1),
        CausalConv3d(out_channels, out_channels, (3, 1, 1)),
    )


class ResnetBlock(nn.Module):
    """``shortcut(x) + conv2(dropout(swish(norm2(conv1(swish(norm1(x)))))))``.

    Images (``ResnetBlock``): GroupNorm(32) and 3x3 convs. Video
    (``CausalResnetBlockFactorized3d``): per-frame norms and factorised causal convs.
    ``nin_shortcut`` (pointwise) exists only when the width changes.
    """

    def __init__(self, in_channels: int, out_channels: int, video: bool, dropout: float = 0.0):
        super().__init__()
        norm, conv = (FrameNorm, factorized_conv3d) if video else (image_norm, conv3x3)
        self.norm1 = norm(in_channels)
        self.conv1 = conv(in_channels, out_channels)
        self.norm2 = norm(out_channels)
        self.dropout = nn.Dropout(dropout)
        self.conv2 = conv(out_channels, out_channels)
        if in_channels != out_channels:
            pointwise = CausalConv3d if video else nn.Conv2d
            self.nin_shortcut = pointwise(in_channels, out_channels, 1)

    def forward(self, x: Tensor) -> Tensor:
        h = self.conv1(swish(self.norm1(x)))
        h = self.conv2(self.dropout(swish(self.norm2(h))))
        shortcut = self.nin_shortcut(x) if hasattr(self, "nin_shortcut") else x
        return h.add_(shortcut)
