"""Moving one chunk at a time between the caller's memory and the model's device.

Callers keep clips in host memory; the model moves each chunk to its device just before
the network runs and each chunk's output straight back, so device memory follows the
chunk, not the clip. From the host to CUDA a chunk goes through pinned (page-locked)
memory with ``non_blocking=True``: the copy is queued on the device's stream and the
host goes on assembling the next chunk. Values are cast to the model's dtype after the
move, on the device (the rounding is the same as on the host, which then makes no extra
pass over the chunk).
"""

import torch
from torch import Tensor


class DeviceTransfer:
    """The round trip of a chunk: :meth:`to_device` before the network, :meth:`to_home` after."""

    def __init__(self, device: torch.device, dtype: torch.dtype):
        self.device, self.dtype = device, dtype

    def to_device(self, x: Tensor) -> Tensor:
        """``x`` on the model's device; floats in the model's dtype, integers (indices) as they are."""
        if x.device != self.device:
            if self.device.type == "cuda" and x.device.type == "cpu":
                x = x.pin_memory()
            x = x.to(self.device, non_blocking=True)
        return x.to(self.dtype) if x.is_floating_point() else x

    def to_home(self, y: Tensor, home: torch.device) -> Tensor:
        """An output back where the input came from (a blocking copy: the caller may read it at once)."""
        return y.to(home)
