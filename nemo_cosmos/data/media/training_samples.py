"""Random training samples for the tokenizers, from the same files the recipes read.

Each sample is a ``size x size`` crop in [-1, 1]: ``[3, H, W]`` for image models,
``[3, T, H, W]`` with ``T = 1 + k*ct`` for video models. Videos give random clips.
Photos give video too, through synthetic camera motion: a crop window that pans and
zooms smoothly across the photo, so a collection of still images trains a video
tokenizer (and a one-frame clip of a photo trains the image path of a video model).
Optional augmentation mirrors samples left-right, permutes their RGB channels and turns
them negative: with few training files, a red cat also shows up green and blue, a dark
room also bright, so the model cannot learn the collection's colour balance and
brightness as a prior and shift held-out media towards it.
"""

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import Tensor
from torch.utils.data import Dataset

from nemo_cosmos.data.media.image import read_image
from nemo_cosmos.data.media.pixels import to_model_range
from nemo_cosmos.data.media.sources import MediaItem, collect_inputs
from nemo_cosmos.data.media.video import iter_frames, probe_video


class TrainingSamples(Dataset):
    """``samples`` random crops/clips drawn from ``sources`` (directory, glob, manifest or list).

    ``frames`` is the clip length (1 for image models or one-frame clips); ``seed`` set
    makes sample ``i`` the same on every pass (validation), None draws afresh each time
    from torch's generator (seeded per worker by the DataLoader). A photo's camera moves
    at most ``max_motion`` of its shorter side and zooms up to ``max_zoom`` over a clip.
    ``flip`` mirrors half the samples left-right; ``permute_channels`` puts each sample's
    RGB channels in one of their six orders at random; ``invert`` makes half the samples
    negative (255 - x).
    """

    def __init__(self, sources: str | Path | Sequence[str | Path], size: int, frames: int, samples: int,
                 video: bool, seed: int | None = None, max_motion: float = 0.25, max_zoom: float = 1.3,
                 flip: bool = False, permute_channels: bool = False, invert: bool = False):
        self.items = collect_inputs(sources)
        if not self.items:
            raise ValueError(f"no image or video files found in {sources}")
        self.size, self.frames, self.samples, self.video = size, frames, samples, video
        self.seed, self.max_motion, self.max_zoom = seed, max_motion, max_zoom
        self.flip, self.permute_channels, self.invert = flip, permute_channels, invert
        self._images: dict[str, np.ndarray] = {}

    def __len__(self) -> int:
        return self.samples

    def __getitem__(self, index: int) -> Tensor:
        seed = self.seed * 1_000_003 + index if self.seed is not None else int(torch.randint(2**62, ()))
        rng = np.random.default_rng(seed)
        item = self.items[int(rng.integers(len(self.items)))]
        clip = self._video_clip(item, rng) if item.kind == "video" else self._photo_clip(item, rng)
        if self.flip and rng.random() < 0.5:
            clip = clip.flip(-1)
        if self.permute_channels:
            clip = clip[torch.as_tensor(rng.permutation(3))]
        if self.invert and rng.random() < 0.5:
            clip = -clip  # [-1, 1]: 255 - x in pixels
        return clip if self.video else clip[:, 0]

    def _photo(self, path: str) -> np.ndarray:
        if path not in self._images:
            self._images[path] = read_image(path)
        return self._images[path]

    def _photo_clip(self, item: MediaItem, rng: np.random.Generator) -> Tensor:
        """Pan and zoom a crop window over a photo: ``[3, frames, size, size]``."""
        photo = self._photo(item.path)
        short = min(photo.shape[:2])
        if short < self.size:
            raise ValueError(f"{item.path}: {photo.shape[1]}x{photo.shape[0]} is smaller than the {self.size}px crop")
        # Rescale once so the crop sees 1x-2x of its size in source pixels (no aliasing).
        scale = min(1.0, self.size * rng.uniform(1.25, 2.5) / short)
        height, width = round(photo.shape[0] * scale), round(photo.shape[1] * scale)
        image = to_model_range(np.asarray(Image.fromarray(photo).resize((width, height), Image.BICUBIC)))
        image = torch.as_tensor(image).permute(2, 0, 1)[None]
        sides = self.size * rng.uniform(1.0, self.max_zoom, size=2)
        start = self._centre(rng, height, width, sides[0])
        step = rng.uniform(-1, 1, size=2) * self.max_motion * min(height, width)
        centres = [start, self._clamp(start + step, height, width, sides[1])]
        path = np.linspace(0, 1, self.frames)[:, None]
        side = sides[0] + (sides[1] - sides[0]) * path[:, 0]
        centre = centres[0] + (centres[1] - centres[0]) * path
        theta = torch.zeros(self.frames, 2, 3)
        theta[:, 0, 0] = torch.as_tensor(side / width)
        theta[:, 1, 1] = torch.as_tensor(side / height)
        theta[:, 0, 2] = torch.as_tensor(2 * centre[:, 1] / width - 1)
        theta[:, 1, 2] = torch.as_tensor(2 * centre[:, 0] / height - 1)
        grid = F.affine_grid(theta, [self.frames, 3, self.size, self.size], align_corners=False)
        frames = F.grid_sample(image.expand(self.frames, -1, -1, -1), grid, align_corners=False)
        return frames.transpose(0, 1).clamp(-1, 1)

    def _centre(self, rng: np.random.Generator, height: int, width: int, side: float) -> np.ndarray:
        return self._clamp(rng.uniform(0, 1, size=2) * [height, width], height, width, side)

    def _clamp(self, centre: np.ndarray, height: int, width: int, side: float) -> np.ndarray:
        """Keep a window of ``side`` pixels inside the image."""
        margin = side / 2
        return np.clip(centre, margin, np.maximum(margin, np.array([height, width]) - margin))

    def _video_clip(self, item: MediaItem, rng: np.random.Generator) -> Tensor:
        """A random clip of consecutive frames and a random square crop, resized to ``size``."""
        info = probe_video(item.path)
        if info.num_frames < self.frames:
            raise ValueError(f"{item.path}: {info.num_frames} frames, fewer than the {self.frames}-frame clip")
        start = int(rng.integers(info.num_frames - self.frames + 1))
        frames = np.stack([f for _, f in iter_frames(item.path, start, start + self.frames)])
        side = int(rng.integers(min(info.height, info.width, self.size), min(info.height, info.width) + 1))
        top, left = int(rng.integers(info.height - side + 1)), int(rng.integers(info.width - side + 1))
        clip = torch.as_tensor(to_model_range(frames[:, top : top + side, left : left + side])).permute(3, 0, 1, 2)
        if side != self.size:
            clip = F.interpolate(clip.transpose(0, 1), size=(self.size, self.size), mode="bicubic", antialias=True)
            clip = clip.transpose(0, 1)
        return clip.clamp(-1, 1)
