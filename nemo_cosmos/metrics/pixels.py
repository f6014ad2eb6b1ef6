"""PSNR and SSIM on uint8 frames, following the TokenBench protocol.

- PSNR: ``20 log10(255) - 10 log10(MSE)`` with the MSE taken over the whole video (all
  frames, pixels and channels at once); a perfect reconstruction gives ``inf``.
  Averaging over videos is the caller's job (``mean`` of the per-video values).
- SSIM: per frame, then averaged over frames. Wang et al.'s settings: an 11x11 Gaussian
  window with sigma 1.5, K1 0.01, K2 0.03, data range 255, population (not sample)
  covariances, each channel on its own then averaged, and the 5-pixel border where the
  window leaves the frame excluded; this equals scikit-image's
  ``structural_similarity(a, b, channel_axis=-1, data_range=255, gaussian_weights=True,
  sigma=1.5, use_sample_covariance=False)``.

Both take uint8 arrays or tensors, videos ``[T, H, W, 3]`` or images ``[H, W, 3]``.
SSIM comes from torchmetrics; PSNR is its one-line definition in float64 (torchmetrics'
version rounds its log-base factor to float32, 1e-7 relative).
"""

import math

import numpy as np
import torch
from torch import Tensor
from torchmetrics.functional.image import structural_similarity_index_measure

SSIM_SIGMA = 1.5
SSIM_BORDER = int(3.5 * SSIM_SIGMA + 0.5)  # the Gaussian window's radius (5): 11x11 window
SSIM_FRAMES_PER_CALL = 8  # bounds the float64 working set of SSIM on long or large videos


def _as_frames(array: np.ndarray | Tensor, name: str) -> Tensor:
    """uint8 ``[T, H, W, C]`` or ``[H, W, C]`` -> float64 ``[T, C, H, W]``."""
    frames = torch.as_tensor(array)
    if frames.dtype != torch.uint8:
        raise ValueError(f"{name} must hold uint8 pixel values, got {frames.dtype}")
    if frames.dim() == 3:
        frames = frames.unsqueeze(0)
    if frames.dim() != 4 or frames.shape[-1] not in (1, 3):
        raise ValueError(f"{name} must be [T, H, W, C] or [H, W, C] with C in (1, 3), got {tuple(frames.shape)}")
    return frames.permute(0, 3, 1, 2).double()


def _pair(reference: np.ndarray | Tensor, reconstruction: np.ndarray | Tensor) -> tuple[Tensor, Tensor]:
    target, preds = _as_frames(reference, "reference"), _as_frames(reconstruction, "reconstruction")
    if target.shape != preds.shape:
        raise ValueError(f"reference {tuple(target.shape)} and reconstruction {tuple(preds.shape)} differ in shape")
    return target, preds


def psnr(reference: np.ndarray | Tensor, reconstruction: np.ndarray | Tensor) -> float:
    """PSNR in dB of one video (or image), MSE over all its values; ``inf`` when identical."""
    target, preds = _pair(reference, reconstruction)
    mse = float(torch.mean((preds - target) ** 2))
    return math.inf if mse == 0.0 else 20.0 * math.log10(255.0) - 10.0 * math.log10(mse)


def ssim(reference: np.ndarray | Tensor, reconstruction: np.ndarray | Tensor) -> float:
    """Mean over frames of the per-frame SSIM (1.0 when identical)."""
    target, preds = _pair(reference, reconstruction)
    if min(target.shape[-2:]) <= 2 * SSIM_BORDER:
        raise ValueError(f"SSIM needs frames larger than {2 * SSIM_BORDER}x{2 * SSIM_BORDER}, got {tuple(target.shape[-2:])}")
    per_frame = []
    for start in range(0, target.shape[0], SSIM_FRAMES_PER_CALL):
        stop = start + SSIM_FRAMES_PER_CALL
        _, full = structural_similarity_index_measure(
            preds[start:stop], target[start:stop], sigma=SSIM_SIGMA, data_range=255.0, return_full_image=True
        )
        inside = full[..., SSIM_BORDER:-SSIM_BORDER, SSIM_BORDER:-SSIM_BORDER]
        per_frame.append(inside.mean(dim=(1, 2, 3)))
    return float(torch.cat(per_frame).mean())
