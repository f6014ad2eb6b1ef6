"""Reconstruction quality of a tokenizer over a folder of images or videos (TokenBench protocol).

Per file: PSNR (MSE over the whole video), SSIM (per frame, averaged) and, when their
TorchScript files are given, LPIPS; over the folder: the mean of those, plus rFID
(frames) and rFVD (clips). See :mod:`nemo_cosmos.metrics`.
"""

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from nemo_cosmos.data.media import UnreadableMediaError, frames_to_tensor, iter_frames, read_image, tensor_to_frames
from nemo_cosmos.data.media.sources import IMAGE_EXTENSIONS, VIDEO_EXTENSIONS, media_kind
from nemo_cosmos.metrics import FrechetDistance, PairDistance, psnr, ssim

MEDIA = {"video": VIDEO_EXTENSIONS, "image": IMAGE_EXTENSIONS}


def list_media(folder: str | Path, media: str, max_files: int | None = None) -> list[Path]:
    """Sorted video (``media="video"``) or image files of ``folder``; raises when there are none."""
    folder = Path(folder).expanduser()
    if media not in MEDIA:
        raise ValueError(f"media must be one of {sorted(MEDIA)}, got {media!r}")
    if not folder.is_dir():
        raise FileNotFoundError(f"input folder not found: {folder}")
    files = sorted(p for p in folder.iterdir() if media_kind(p) == media)
    if not files:
        raise FileNotFoundError(f"no {media} files ({', '.join(sorted(MEDIA[media]))}) in {folder}")
    return files[:max_files] if max_files else files


def read_frames(path: Path, max_frames: int | None = None) -> np.ndarray:
    """uint8 ``[T, H, W, 3]`` of a video, or ``[1, H, W, 3]`` of an image."""
    if media_kind(path) == "image":
        return read_image(path)[None]
    frames = [frame for _, frame in iter_frames(path, 0, max_frames)]
    if not frames:
        raise UnreadableMediaError(path, "no video frames decoded")
    return np.stack(frames)


def reconstruct(tokenizer, frames: np.ndarray, batch_frames: int = 8) -> np.ndarray:
    """A video tokenizer reconstructs the clip whole; an image tokenizer each frame on its own."""
    x = frames_to_tensor(frames)
    if tokenizer.network_config.is_video:
        return tensor_to_frames(tokenizer.autoencode(x.unsqueeze(0))[0])
    images = x.transpose(0, 1)  # [T, 3, H, W]
    parts = [tokenizer.autoencode(images[i : i + batch_frames]) for i in range(0, len(images), batch_frames)]
    return tensor_to_frames(torch.cat(parts).transpose(0, 1))


@dataclass
class FeatureMetrics:
    """The optional learned metrics, each given by a local TorchScript file (None: skipped)."""

    lpips: str | None = None
    fid: dict = field(default_factory=dict)  # {path, pixels, kwargs}
    fvd: dict = field(default_factory=dict)

    def build(self, device: str | torch.device = "cpu") -> tuple[PairDistance | None, FrechetDistance | None, FrechetDistance | None]:
        """The configured metrics, their extractors on ``device``."""
        lpips = PairDistance(self.lpips, device=device) if self.lpips else None
        fid = self._frechet("rFID", self.fid, clips=False, device=device)
        fvd = self._frechet("rFVD", self.fvd, clips=True, device=device)
        return lpips, fid, fvd

    @staticmethod
    def _frechet(name: str, spec: dict, clips: bool, device: str | torch.device) -> FrechetDistance | None:
        if not spec or not spec.get("path"):
            return None
        return FrechetDistance(spec["path"], name, clips, spec.get("pixels", "uint8"), spec.get("kwargs"), device=device)


def evaluate_tokenizer(
    tokenizer, name: str, files: list[Path], features: FeatureMetrics | None = None, max_frames: int | None = None
) -> tuple[list[dict], dict]:
    """Per-file rows and the folder summary of one tokenizer (a ``CausalVideoTokenizer``); the
    learned metrics' extractors run on the tokenizer's device."""
    lpips, fid, fvd = (features or FeatureMetrics()).build(tokenizer.device)
    rows = []
    for path in tqdm(files, desc=f"evaluating {name}", unit="file"):
        frames = read_frames(path, max_frames)
        reconstruction = reconstruct(tokenizer, frames)
        row = {"tokenizer": name, "file": path.name, "frames": len(frames), "height": frames.shape[1],
               "width": frames.shape[2], "psnr": psnr(frames, reconstruction), "ssim": ssim(frames, reconstruction)}
        if lpips is not None:
            row["lpips"] = lpips(frames, reconstruction)
        for metric in (fid, fvd):
            if metric is not None:
                metric.update(frames, reconstruction)
        rows.append(row)
    cfg = tokenizer.network_config
    summary = {
        "tokenizer": name,
        "model": cfg.short_name,
        "compression": cfg.temporal_compression * cfg.spatial_compression**2,
        "files": len(rows),
        "psnr": float(np.mean([r["psnr"] for r in rows])),
        "ssim": float(np.mean([r["ssim"] for r in rows])),
    }
    if lpips is not None:
        summary["lpips"] = float(np.mean([r["lpips"] for r in rows]))
    if fid is not None:
        summary["rfid"] = fid.compute()
    if fvd is not None:
        summary["rfvd"] = fvd.compute()
    return rows, summary
