"""Small synthetic media for the data tests: videos with moving shapes, images of every mode."""

from pathlib import Path

import numpy as np

from nemo_cosmos.data.video import write_video


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
