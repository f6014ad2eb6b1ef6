"""PSNR and SSIM on uint8 frames, following the TokenBench protocol, and the colour shift.

- PSNR: ``20 log10(255) - 10 log10(MSE)`` with the MSE taken over the whole video (all
  frames, pixels and channels at once), in float64; a perfect reconstruction gives
  ``inf``. Averaging over videos is the caller's job (mean of the per-video values).
- SSIM: per frame, then averaged over frames, by scikit-image's
  ``structural_similarity(a, b, channel_axis=-1, data_range=255, gaussian_weights=True,
  sigma=1.5, use_sample_covariance=False)``: Wang et al.'s settings (11x11 Gaussian
  window, sigma 1.5, K1 0.01, K2 0.03, population covariances, channels averaged, the
  5-pixel border excluded). scikit-image works in float64: a float32 SSIM (torchmetrics
  on CPU, where its float64 path is 8x slower) loses up to 2e-4 on flat bright regions,
  where ``E[x^2] - E[x]^2`` cancels.

Both take uint8 arrays or tensors, videos ``[T, H, W, 3]`` or images ``[H, W, 3]``.
"""

import math

import numpy as np
from torch import Tensor

SSIM_SIGMA = 1.5
SSIM_BORDER = int(3.5 * SSIM_SIGMA + 0.5)  # the Gaussian window's radius (5): 11x11 window


def _as_frames(array: np.ndarray | Tensor, name: str) -> np.ndarray:
    """uint8 ``[T, H, W, C]`` or ``[H, W, C]`` -> uint8 numpy ``[T, H, W, C]``."""
    frames = array.cpu().numpy() if isinstance(array, Tensor) else np.asarray(array)
    if frames.dtype != np.uint8:
        raise ValueError(f"{name} must hold uint8 pixel values, got {frames.dtype}")
    if frames.ndim == 3:
        frames = frames[None]
    if frames.ndim != 4 or frames.shape[-1] not in (1, 3):
        raise ValueError(f"{name} must be [T, H, W, C] or [H, W, C] with C in (1, 3), got {tuple(frames.shape)}")
    return frames


def _pair(reference: np.ndarray | Tensor, reconstruction: np.ndarray | Tensor) -> tuple[np.ndarray, np.ndarray]:
    target, preds = _as_frames(reference, "reference"), _as_frames(reconstruction, "reconstruction")
    if target.shape != preds.shape:
        raise ValueError(f"reference {tuple(target.shape)} and reconstruction {tuple(preds.shape)} differ in shape")
    return target, preds


def psnr(reference: np.ndarray | Tensor, reconstruction: np.ndarray | Tensor) -> float:
    """PSNR in dB of one video (or image), MSE over all its values; ``inf`` when identical."""
    target, preds = _pair(reference, reconstruction)
    mse = float(np.mean((preds.astype(np.float64) - target.astype(np.float64)) ** 2))
    return math.inf if mse == 0.0 else 20.0 * math.log10(255.0) - 10.0 * math.log10(mse)


class RunningPSNR:
    """:func:`psnr` of a video fed in pieces (frames in order), so neither video is held whole."""

    def __init__(self) -> None:
        self.squared_error = 0.0
        self.values = 0

    def add(self, reference: np.ndarray | Tensor, reconstruction: np.ndarray | Tensor) -> None:
        target, preds = _pair(reference, reconstruction)
        self.squared_error += float(np.sum((preds.astype(np.float64) - target.astype(np.float64)) ** 2))
        self.values += target.size

    @property
    def value(self) -> float:
        if not self.values:
            raise ValueError("RunningPSNR got no frames")
        mse = self.squared_error / self.values
        return math.inf if mse == 0.0 else 20.0 * math.log10(255.0) - 10.0 * math.log10(mse)


def ssim(reference: np.ndarray | Tensor, reconstruction: np.ndarray | Tensor) -> float:
    """Mean over frames of the per-frame SSIM (1.0 when identical)."""
    try:
        from skimage.metrics import structural_similarity
    except ImportError as error:
        raise ImportError("SSIM needs scikit-image: pip install 'nemo-cosmos[bench]'") from error
    target, preds = _pair(reference, reconstruction)
    if min(target.shape[1:3]) <= 2 * SSIM_BORDER:
        raise ValueError(f"SSIM needs frames larger than {2 * SSIM_BORDER}x{2 * SSIM_BORDER}, got {tuple(target.shape[1:3])}")
    per_frame = [
        structural_similarity(a, b, channel_axis=-1, data_range=255, gaussian_weights=True, sigma=SSIM_SIGMA,
                              use_sample_covariance=False)
        for a, b in zip(target, preds)
    ]
    return float(np.mean(per_frame))


def color_shift(reference: np.ndarray | Tensor, reconstruction: np.ndarray | Tensor) -> float:
    """The largest per-channel shift of the mean, in 8-bit levels: ``max_c |mean(b_c) - mean(a_c)|``.

    A colour cast (grass turned pink, grey turned olive) moves a channel's mean; blur and
    noise do not. PSNR mixes the two, this isolates the cast."""
    target, preds = _pair(reference, reconstruction)
    difference = preds.astype(np.float64).mean(axis=(0, 1, 2)) - target.astype(np.float64).mean(axis=(0, 1, 2))
    return float(np.abs(difference).max())
