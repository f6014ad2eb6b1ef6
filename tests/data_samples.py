"""Small synthetic media for the tests: videos with moving shapes, smooth natural-looking clips."""

from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from nemo_cosmos.data.media.video import write_video


def moving_shapes(num_frames: int, height: int, width: int, seed: int = 0) -> np.ndarray:
    """uint8 ``[T, H, W, 3]``: a smooth colour gradient with a bright square and a dark bar moving across it."""
    rng = np.random.default_rng(seed)
    ys, xs = np.mgrid[0:height, 0:width]
    base = np.stack([xs * 200 // max(width, 1), ys * 200 // max(height, 1), np.full_like(xs, 60 + 40 * seed % 120)], axis=-1)
    frames = np.empty((num_frames, height, width, 3), dtype=np.uint8)
    side = max(2, min(height, width) // 4)
    colour = rng.integers(150, 256, size=3)
    for t in range(num_frames):
        frame = base.copy()
        top, left = (2 * t) % (height - side + 1), (3 * t) % (width - side + 1)
        frame[top : top + side, left : left + side] = colour
        bar = (t * 2) % width
        frame[:, bar : bar + 2] = 20
        frames[t] = frame
    return frames


def write_moving_shapes_video(path: Path, num_frames: int, height: int = 48, width: int = 64, fps: float = 24.0, seed: int = 0) -> np.ndarray:
    """Write a moving-shapes mp4 (near-lossless H.264) and return the frames written."""
    frames = moving_shapes(num_frames, height, width, seed)
    write_video(path, frames, fps, pix_fmt="yuv444p", crf=0)
    return frames

def smooth_video(frames: int, height: int, width: int, seed: int = 0) -> Tensor:
    """A natural-looking clip ``[1, 3, frames, H, W]`` in ``[-1, 1]``: a colour gradient
    sky, soft blobs drifting across the frame and a faint fine texture. Smooth like real
    footage, unlike uniform noise, so tiling and padding artefacts show as they would."""
    generator = torch.Generator().manual_seed(seed)
    t = torch.arange(frames, dtype=torch.float32)[:, None, None]
    y = torch.linspace(0, 1, height)[None, :, None]
    x = torch.linspace(0, 1, width)[None, None, :]
    channels = []
    for c in range(3):
        value = 0.6 * (y - 0.5) * (1 - 0.3 * c) + 0.3 * (x - 0.5) * (c - 1)
        for _ in range(4):
            cy, cx, speed, radius, amplitude = torch.rand(5, generator=generator).tolist()
            centre_x = cx + 0.02 * (speed - 0.5) * t
            distance = (y - cy) ** 2 + (x - centre_x) ** 2
            value = value + (amplitude - 0.4) * torch.exp(-distance / (0.02 + 0.05 * radius))
        value = value + 0.03 * torch.sin(40 * x + 7 * c) * torch.sin(30 * y + 0.3 * t)
        channels.append(value.expand(frames, height, width))
    return torch.stack(channels).unsqueeze(0).clamp(-1, 1)
