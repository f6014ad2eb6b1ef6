"""Down- and up-sampling: plain 2D for images, hybrid (spatial and/or temporal) 3D for video."""

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from nemo_cosmos.modules.conv import CausalConv3d
from nemo_cosmos.modules.streaming import StreamingModule


def pool_pairs(x: Tensor, dim: int) -> Tensor:
    """Average neighbouring pairs along ``dim`` (a trailing odd element is dropped), like a
    stride-2 average pool; written out because CPU ``avg_pool3d`` lacks bfloat16."""
    pairs = x.shape[dim] // 2
    # A view with sizes read one by one, not unflatten: the ONNX export of unflatten loses the
    # tensor's rank, and the exporter then bakes the traced sizes in (no dynamic axes).
    shape = [*x.shape[:dim], pairs, 2, *x.shape[dim + 1 :]]
    return x.narrow(dim, 0, 2 * pairs).view(shape).mean(dim + 1)


class Downsample2d(nn.Module):
    """Zero-pad one column right and one row below, then a 3x3 conv of stride 2."""

    def __init__(self, channels: int):
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, stride=2)

    def forward(self, x: Tensor) -> Tensor:
        return self.conv(F.pad(x, (0, 1, 0, 1)))


class Upsample2d(nn.Module):
    """Nearest-neighbour 2x, then a 3x3 conv."""

    def __init__(self, channels: int):
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, x: Tensor) -> Tensor:
        return self.conv(F.interpolate(x, scale_factor=2.0, mode="nearest"))


class HybridDownsample3d(StreamingModule):
    """Learned conv plus average pool, in space (``conv1``) and/or in time (``conv2``), then ``conv3``.

    Only the convolutions of the active steps exist: the reference also builds the
    others but never calls them, and the official checkpoints lack them.
    """

    def __init__(self, channels: int, spatial: bool, temporal: bool):
        super().__init__()
        if not (spatial or temporal):
            raise ValueError("a hybrid downsample needs a spatial or a temporal step")
        self.spatial, self.temporal = spatial, temporal
        if spatial:
            self.conv1 = CausalConv3d(channels, channels, (1, 3, 3), stride=(1, 2, 2))
        if temporal:
            self.conv2 = CausalConv3d(channels, channels, (3, 1, 1), stride=(2, 1, 1))
        self.conv3 = CausalConv3d(channels, channels)

    def forward(self, x: Tensor) -> Tensor:
        if self.spatial:
            x = F.pad(x, (0, 1, 0, 1))
            x = self.conv1(x).add_(pool_pairs(pool_pairs(x, dim=3), dim=4))  # in place: no third buffer
        if self.temporal:
            if self.at_clip_start:  # 1 + 2m frames -> 2 + 2m, so pairs line up
                x = torch.cat([x[:, :, :1], x], dim=2)
                self.mark_started()
            x = self.conv2(x).add_(pool_pairs(x, dim=2))
        return self.conv3(x)


class HybridUpsample3d(StreamingModule):
    """Repeat in time (``conv1`` residual) and/or nearest 2x in space (``conv2`` residual), then ``conv3``.

    In time every frame is repeated twice, except the clip's very first frame, which
    stays single (``T -> 2T - 1``). When streaming, that applies to the first chunk only:
    later chunks, even of one frame, repeat every frame.
    """

    def __init__(self, channels: int, spatial: bool, temporal: bool):
        super().__init__()
        if not (spatial or temporal):
            raise ValueError("a hybrid upsample needs a spatial or a temporal step")
        self.spatial, self.temporal = spatial, temporal
        if temporal:
            self.conv1 = CausalConv3d(channels, channels, (3, 1, 1))
        if spatial:
            self.conv2 = CausalConv3d(channels, channels, (1, 3, 3), padding=1)
        self.conv3 = CausalConv3d(channels, channels)

    def forward(self, x: Tensor) -> Tensor:
        if self.temporal:
            x = x.repeat_interleave(2, dim=2)
            if self.at_clip_start:
                x = x[:, :, 1:]
                self.mark_started()
            x = self.conv1(x).add_(x)  # in place: no third buffer
        if self.spatial:
            x = F.interpolate(x, scale_factor=(1.0, 2.0, 2.0), mode="nearest")
            x = self.conv2(x).add_(x)
        return self.conv3(x)
