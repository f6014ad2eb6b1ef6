"""Pixel value and layout conversions between files (uint8, channels last) and models.

Models take values in ``[-1, 1]`` with channels first: images ``[3, H, W]``, videos
``[3, T, H, W]``. The value mapping follows the Cosmos reference: ``x / 127.5 - 1`` on
the way in; ``(y + 1) / 2`` clamped to ``[0, 1]``, times 255, rounded half up on the way
out (``floor(v + 0.5)``, as the reference does with ``(v + 0.5).astype(uint8)``).
"""

import numpy as np
import torch

ArrayLike = np.ndarray | torch.Tensor


def to_model_range(pixels: ArrayLike, dtype: torch.dtype = torch.float32) -> ArrayLike:
    """uint8 pixels to floats in ``[-1, 1]``; numpy stays numpy (float32), torch stays torch."""
    if pixels.dtype not in (np.uint8, torch.uint8):
        raise ValueError(f"to_model_range expects uint8 pixels, got {pixels.dtype}")
    if isinstance(pixels, torch.Tensor):
        return pixels.to(dtype) / 127.5 - 1.0
    return pixels.astype(np.float32) / np.float32(127.5) - np.float32(1.0)


def from_model_range(values: ArrayLike) -> ArrayLike:
    """Floats in ``[-1, 1]`` (any float dtype) back to uint8 pixels, clamping out-of-range values."""
    if isinstance(values, torch.Tensor):
        unit = ((values.float() + 1.0) / 2.0).clamp(0.0, 1.0)
        return torch.floor(unit * 255.0 + 0.5).to(torch.uint8)
    unit = np.clip((np.asarray(values, dtype=np.float32) + 1.0) / 2.0, 0.0, 1.0)
    return np.floor(unit * 255.0 + 0.5).astype(np.uint8)


def frames_to_tensor(frames: np.ndarray, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """uint8 video ``[T, H, W, 3]`` -> ``[3, T, H, W]``, or image ``[H, W, 3]`` -> ``[3, H, W]``, in ``[-1, 1]``."""
    if frames.ndim not in (3, 4) or frames.shape[-1] != 3:
        raise ValueError(f"expected uint8 frames [T, H, W, 3] or an image [H, W, 3], got shape {list(frames.shape)}")
    tensor = torch.from_numpy(np.ascontiguousarray(frames))
    return to_model_range(tensor.movedim(-1, 0), dtype=dtype)


def tensor_to_frames(values: torch.Tensor) -> np.ndarray:
    """``[3, T, H, W]`` -> uint8 ``[T, H, W, 3]``, or ``[3, H, W]`` -> ``[H, W, 3]``."""
    if values.ndim not in (3, 4) or values.shape[0] != 3:
        raise ValueError(f"expected a tensor [3, T, H, W] or [3, H, W], got shape {list(values.shape)}")
    return from_model_range(values.detach().cpu()).movedim(0, -1).contiguous().numpy()
