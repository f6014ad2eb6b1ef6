"""Causal 3D convolution: no output frame sees a later input frame."""

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from nemo_cosmos.modules.streaming import StreamingModule

# PyTorch's CPU conv3d takes its unfold-based path, about 2x slower than oneDNN, when
# batch * channels * frames * height <= 20480 (small inputs and short streaming chunks).
_SLOW_CONV3D_LIMIT = 20480


def _triple(value: int | tuple[int, int, int]) -> tuple[int, int, int]:
    return (value, value, value) if isinstance(value, int) else tuple(value)


class CausalConv3d(StreamingModule):
    """``Conv3d`` with causal temporal padding and symmetric zero padding in space.

    In time, ``kt - st`` frames are put in front of the input (the reference's
    ``kt - 1 + (1 - st)``): copies of the first frame at the start of a clip, the
    previous chunk's trailing frames when streaming. Parameters live under
    ``conv3d.weight`` / ``conv3d.bias`` as in the official checkpoints.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | tuple[int, int, int] = 1,
        stride: int | tuple[int, int, int] = 1,
        padding: int = 0,
    ):
        super().__init__()
        kernel_size, stride = _triple(kernel_size), _triple(stride)
        self.time_pad = kernel_size[0] - stride[0]
        self.conv3d = nn.Conv3d(
            in_channels, out_channels, kernel_size, stride=stride, padding=(0, padding, padding)
        )
        self._temporal_only = kernel_size[1:] == (1, 1) and stride[1:] == (1, 1) and padding == 0
        self._spatial_only = kernel_size[0] == 1 and stride[0] == 1

    def forward(self, x: Tensor) -> Tensor:
        if self.time_pad > 0:
            x = self._with_past_frames(x)
        if self._temporal_only:
            # A (k, 1, 1) kernel is a 2D conv over (time, pixels): same numbers, no copy,
            # and faster on CPU than the 3D kernel.
            conv = self.conv3d
            y = F.conv2d(x.flatten(3), conv.weight.squeeze(-1), conv.bias, stride=(conv.stride[0], 1))
            return y.view(y.shape[0], y.shape[1], y.shape[2], x.shape[3], x.shape[4])  # not unflatten: see pool_pairs
        if self._spatial_only and x.is_cpu and x.shape[:4].numel() <= _SLOW_CONV3D_LIMIT:
            return self._per_frame_conv2d(x)
        return self.conv3d(x)

    def _per_frame_conv2d(self, x: Tensor) -> Tensor:
        """A ``(1, k, k)`` kernel applied to each frame as a 2D conv (time folded into the batch)."""
        conv = self.conv3d
        frames = x.transpose(1, 2).flatten(0, 1)
        y = F.conv2d(frames, conv.weight.squeeze(2), conv.bias, stride=conv.stride[1:], padding=conv.padding[1:])
        return y.view(x.shape[0], x.shape[2], y.shape[1], y.shape[2], y.shape[3]).transpose(1, 2).contiguous()

    def _with_past_frames(self, x: Tensor) -> Tensor:
        if self.at_clip_start:
            past = x[:, :, :1].expand(-1, -1, self.time_pad, -1, -1)
        else:
            past = self.state["past"]
        x = torch.cat([past, x], dim=2)
        if self.state is not None:
            self.state["past"] = x[:, :, -self.time_pad :].clone()  # not a view: frees the chunk
            self.mark_started()
        return x
