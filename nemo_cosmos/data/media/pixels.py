"""Pixel value and layout conversions between files (uint8, channels last) and models.

Models take values in ``[-1, 1]`` with channels first: images ``[3, H, W]``, videos
``[3, T, H, W]``. The value mapping follows the Cosmos reference. On the way in,
``x / 127.5 - 1`` rounded once to the model's dtype, as the reference's float64 mapping
cast to that dtype is: computed as ``(2x - 255) / 255``, whose integers are exact, so the
division is the only rounding (``x.to(bfloat16) / 127.5 - 1`` rounds twice and puts 128
of the 256 values one step off, and so does the same in float32). On the way out,
``(y + 1) / 2`` clamped to ``[0, 1]``, times 255, rounded half up (``floor(v + 0.5)``, as
the reference does with ``(v + 0.5).astype(uint8)``).
"""

import numpy as np
import torch

ArrayLike = np.ndarray | torch.Tensor


def to_model_range(pixels: ArrayLike, dtype: torch.dtype = torch.float32) -> ArrayLike:
    """uint8 pixels to floats in ``[-1, 1]``, each the nearest value of the dtype to ``x / 127.5 - 1``;
    numpy stays numpy (float32), torch stays torch (in ``dtype``)."""
    if pixels.dtype not in (np.uint8, torch.uint8):
        raise ValueError(f"to_model_range expects uint8 pixels, got {pixels.dtype}")
    if not dtype.is_floating_point:
        raise ValueError(f"to_model_range maps to a float dtype, got {dtype}")
    values = pixels.to(dtype) if isinstance(pixels, torch.Tensor) else pixels.astype(np.float32)
    values *= 2
    values -= 255
    values /= 255
    return values


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
