"""Checks and conversions of what users hand the model: pixels, latents, indices, uint8 video.

Every check raises ``ValueError`` naming the shape, dtype or value found and what was
expected, before anything reaches a convolution.
"""

import math

import numpy as np
import torch
from torch import Tensor

from nemo_cosmos.data.media.pixels import from_model_range, to_model_range
from nemo_cosmos.networks.config import TokenizerConfig


def check_pixels(x: Tensor, config: TokenizerConfig) -> None:
    """Pixels to encode: video ``[B, 3, T, H, W]``, images ``[B, 3, H, W]`` or ``[B, 3, 1, H, W]``,
    float values in ``[-1, 1]``, frames at least one latent cell (``cs x cs``) large."""
    expected = "video [B, 3, T, H, W]" if config.is_video else "images [B, 3, H, W] or [B, 3, 1, H, W]"
    _check_layout(x, expected, config.in_channels, config.is_video, channel_axis=True)
    if not x.is_floating_point():
        raise ValueError(
            f"expected float pixels in [-1, 1], got dtype {x.dtype}; map uint8 with x / 127.5 - 1, "
            "or pass uint8 numpy video [B, T, H, W, 3] to forward()"
        )
    cs = config.spatial_compression
    height, width = x.shape[-2:]
    if height < cs or width < cs:
        raise ValueError(
            f"frames must be at least {cs}x{cs} pixels (one latent cell of {config.short_name}), got {height}x{width}"
        )
    low, high = (float(v) for v in torch.aminmax(x))
    if not (math.isfinite(low) and math.isfinite(high)):
        raise ValueError(f"pixels hold NaN or infinite values (min {low}, max {high})")
    if low < -1 or high > 1:
        raise ValueError(
            f"pixel values must lie in [-1, 1], got {low:.6g}..{high:.6g}; map uint8 with x / 127.5 - 1 "
            "(clamp decoder outputs before encoding them again)"
        )


def check_latents(z: Tensor, config: TokenizerConfig) -> None:
    """What ``decode`` takes: continuous latents ``[B, C, (t,) h, w]`` (float), discrete
    indices ``[B, (t,) h, w]`` (integers in ``0 .. codebook_size - 1``); image models also
    accept a time axis of length 1."""
    video = config.is_video
    if config.is_discrete:
        expected = "indices [B, t, h, w]" if video else "indices [B, h, w] or [B, 1, h, w]"
        _check_layout(z, expected, None, video, channel_axis=False)
        if z.is_floating_point() or z.is_complex() or z.dtype == torch.bool:
            raise ValueError(
                f"a discrete tokenizer decodes integer indices (encode(x)[0]), got dtype {z.dtype}"
            )
        low, high = (int(v) for v in torch.aminmax(z))
        if low < 0 or high >= config.codebook_size:
            raise ValueError(f"indices must lie in 0..{config.codebook_size - 1}, got {low}..{high}")
        return
    channels = config.latent_channels
    if video:
        expected = f"latents [B, {channels}, t, h, w]"
    else:
        expected = f"latents [B, {channels}, h, w] or [B, {channels}, 1, h, w]"
    _check_layout(z, expected, channels, video, channel_axis=True)
    if not z.is_floating_point():
        raise ValueError(f"expected float latents, got dtype {z.dtype}")
    low, high = (float(v) for v in torch.aminmax(z))
    if not (math.isfinite(low) and math.isfinite(high)):
        raise ValueError(f"latents hold NaN or infinite values (min {low}, max {high})")


def _check_layout(x: Tensor, expected: str, channels: int | None, video: bool, channel_axis: bool) -> None:
    if not isinstance(x, Tensor):
        raise ValueError(f"expected a torch.Tensor of {expected}, got {type(x).__name__}")
    base = 4 if channel_axis else 3  # image rank; video (and image with a time axis) one more
    time_axis = 2 if channel_axis else 1
    ranks_ok = x.dim() == base + 1 if video else x.dim() == base or (x.dim() == base + 1 and x.shape[time_axis] == 1)
    if not ranks_ok or (channels is not None and x.shape[1] != channels):
        raise ValueError(f"expected {expected}, got shape {tuple(x.shape)}")
    if x.numel() == 0:
        raise ValueError(f"got an empty input of shape {tuple(x.shape)}; expected {expected}")


def check_uint8_video(video: np.ndarray, is_video: bool) -> None:
    """``forward``'s input: uint8 numpy ``[B, T, H, W, 3]`` (image models also ``[B, H, W, 3]``)."""
    expected = "uint8 numpy video [B, T, H, W, 3]" + ("" if is_video else " or images [B, H, W, 3]")
    if not isinstance(video, np.ndarray):
        raise ValueError(f"expected {expected}, got {type(video).__name__} (use autoencode() for tensors in [-1, 1])")
    ranks = (5,) if is_video else (4, 5)
    if video.dtype != np.uint8 or video.ndim not in ranks or video.shape[-1] != 3:
        raise ValueError(f"expected {expected}, got {video.dtype} array of shape {video.shape}")
    if video.size == 0:
        raise ValueError(f"got an empty video of shape {video.shape}")


def uint8_to_pixels(frames: np.ndarray) -> Tensor:
    """uint8 ``[..., H, W, 3]`` -> float32 ``[..., 3, H, W]`` in ``[-1, 1]``."""
    return to_model_range(torch.from_numpy(np.ascontiguousarray(frames))).movedim(-1, -3)


def pixels_to_uint8(pixels: Tensor) -> np.ndarray:
    """``[..., 3, H, W]`` in about ``[-1, 1]`` -> uint8 ``[..., H, W, 3]`` (clamped, rounded half up)."""
    return from_model_range(pixels.detach().cpu()).movedim(-3, -1).numpy()


def check_exact_grid_input(x: Tensor, config: TokenizerConfig, half: str) -> None:
    """What an exported half takes as it is, with no padding: the encoder pixels of
    ``1 + k*ct`` frames (video, ``[B, 3, T, H, W]``) or images ``[B, 3, H, W]`` with H and
    W multiples of the spatial compression; the decoder what :func:`check_latents` allows,
    without an image model's extra time axis."""
    if half not in ("encoder", "decoder"):
        raise ValueError(f"half must be 'encoder' or 'decoder', got {half!r}")
    rank = (5 if config.is_video else 4) - (half == "decoder" and config.is_discrete)
    if not isinstance(x, Tensor) or x.dim() != rank:
        got = f"shape {tuple(x.shape)}" if isinstance(x, Tensor) else type(x).__name__
        raise ValueError(f"the exported {config.short_name} {half} takes a {rank}-D tensor, got {got}")
    if half == "decoder":
        check_latents(x, config)
        return
    check_pixels(x, config)
    cs, ct = config.spatial_compression, config.temporal_compression
    height, width = x.shape[-2:]
    if height % cs or width % cs:
        raise ValueError(
            f"the exported {config.short_name} encoder takes height and width in multiples of {cs} (no padding "
            f"inside the graph), got {height}x{width}; pad the frames or use CausalVideoTokenizer.encode"
        )
    if config.is_video and (x.shape[2] - 1) % ct:
        raise ValueError(
            f"the exported {config.short_name} encoder takes 1 + k*{ct} frames (e.g. {1 + ct}, {1 + 2 * ct}), got {x.shape[2]}"
        )
