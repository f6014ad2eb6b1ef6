"""Classical codecs on the same pixels as a tokenizer, to anchor its numbers.

- JPEG (Pillow's libjpeg, 4:2:0, every frame on its own) at the quality whose total size
  is nearest the tokenizer's bits for the same file: what a 30-year-old codec does with
  the same budget (at very low budgets even quality 1 may need more bits: the row's
  ``bpp`` says so).
- Bicubic at the latent grid: each frame shrunk to ``ceil(H/s) x ceil(W/s)`` (antialiased),
  kept as 8-bit RGB, and enlarged back: as many values as a continuous tokenizer has
  latent positions, with no learning at all. Every frame is kept (no temporal compression).
"""

import io
import math

import numpy as np
from PIL import Image

JPEG_QUALITIES = (1, 95)  # Pillow's useful range; above 95 only the size grows


def jpeg_roundtrip(frames: np.ndarray, quality: int) -> tuple[np.ndarray, int]:
    """Each uint8 frame ``[T, H, W, 3]`` through JPEG at ``quality``: the decoded frames and total bytes."""
    decoded, size = [], 0
    for frame in frames:
        buffer = io.BytesIO()
        Image.fromarray(frame).save(buffer, format="JPEG", quality=quality)
        size += buffer.tell()
        buffer.seek(0)
        decoded.append(np.asarray(Image.open(buffer).convert("RGB")))
    return np.stack(decoded), size


def jpeg_at_bits(frames: np.ndarray, bits: float) -> tuple[np.ndarray, int, float]:
    """JPEG of ``frames`` at the quality whose total size is nearest ``bits``:
    ``(decoded frames, quality, bits per pixel)``. Sizes grow with quality, so a
    bisection finds the two qualities around the target and the nearer one wins."""
    low, high = JPEG_QUALITIES
    results = {}

    def size_at(quality: int) -> int:
        if quality not in results:
            results[quality] = jpeg_roundtrip(frames, quality)
        return 8 * results[quality][1]

    while high - low > 1:
        middle = (low + high) // 2
        if size_at(middle) <= bits:
            low = middle
        else:
            high = middle
    quality = min((low, high), key=lambda q: abs(size_at(q) - bits))
    decoded, size = results[quality]
    return decoded, quality, 8 * size / frames[..., 0].size


def bicubic_at_grid(frames: np.ndarray, factor: int) -> tuple[np.ndarray, float]:
    """Each frame down by ``factor`` to an 8-bit thumbnail and back up, bicubic:
    ``(reconstructed frames, bits per pixel of the thumbnails)``."""
    height, width = frames.shape[1:3]
    small = (math.ceil(width / factor), math.ceil(height / factor))
    restored = [
        np.asarray(Image.fromarray(frame).resize(small, Image.BICUBIC).resize((width, height), Image.BICUBIC))
        for frame in frames
    ]
    return np.stack(restored), 24 * small[0] * small[1] / (height * width)
