"""Write a few short synthetic mp4 clips (moving shapes over a drifting gradient), so the
tokenization recipe has something to run on without any download.

    python recipes/make_sample_videos.py outputs/sample_videos
"""

import argparse
from pathlib import Path

import numpy as np

from nemo_cosmos.data.media import write_video


def sample_clip(seed: int, frames: int = 48, height: int = 144, width: int = 192) -> np.ndarray:
    """uint8 ``[frames, height, width, 3]``: a coloured gradient that drifts, with three
    soft discs moving on straight paths over it."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    base = rng.uniform(40, 200, size=3)
    slope = rng.uniform(-0.6, 0.6, size=(3, 2))
    discs = [(rng.uniform(0, width), rng.uniform(0, height), rng.uniform(-3, 3), rng.uniform(-2, 2),
              rng.uniform(12, 30), rng.uniform(0, 255, size=3)) for _ in range(3)]
    video = np.empty((frames, height, width, 3), np.uint8)
    for t in range(frames):
        image = base + slope[:, 0] * (x[..., None] - 2 * t) + slope[:, 1] * y[..., None]
        for cx, cy, vx, vy, radius, colour in discs:
            distance = np.hypot(x - (cx + vx * t) % width, y - (cy + vy * t) % height)
            weight = np.clip(radius - distance, 0, 1)[..., None]  # one-pixel soft edge
            image = image * (1 - weight) + colour * weight
        video[t] = np.clip(image, 0, 255).astype(np.uint8)
    return video


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="folder for the clips")
    parser.add_argument("--count", type=int, default=3)
    parser.add_argument("--frames", type=int, default=48)
    parser.add_argument("--height", type=int, default=144)
    parser.add_argument("--width", type=int, default=192)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    for index in range(args.count):
        path = args.out / f"sample_{index}.mp4"
        write_video(path, sample_clip(index, args.frames, args.height, args.width), fps=24)
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
