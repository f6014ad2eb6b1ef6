"""Reconstruction quality of a tokenizer over a folder of images or videos (TokenBench protocol).

Per file: bits per pixel (the tokens the file really takes), PSNR (MSE over the whole
video), SSIM (per frame, averaged), the colour shift and, when their TorchScript files
are given, LPIPS; over the folder: the mean of those, the codes a discrete tokenizer
used, plus rFID (frames) and rFVD (clips). See :mod:`nemo_cosmos.metrics`. Beside each
tokenizer the same numbers for two classical baselines at its budget
(:mod:`nemo_cosmos.evaluation.baselines`).
"""

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from nemo_cosmos.data.media import UnreadableMediaError, frames_to_tensor, iter_frames, read_image, tensor_to_frames
from nemo_cosmos.data.media.sources import IMAGE_EXTENSIONS, VIDEO_EXTENSIONS, media_kind
from nemo_cosmos.evaluation.baselines import bicubic_at_grid, jpeg_at_bits
from nemo_cosmos.metrics import FrechetDistance, PairDistance, color_shift, psnr, ssim
from nemo_cosmos.networks import TokenizerConfig

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


def token_bits(cfg: TokenizerConfig) -> float:
    """Bits one latent position costs: ``log2`` of the codebook for discrete tokenizers,
    16 per channel for continuous ones (their latents stored as bfloat16)."""
    return math.log2(cfg.codebook_size) if cfg.is_discrete else 16.0 * cfg.latent_channels


def reconstruct(tokenizer, frames: np.ndarray, batch_frames: int = 8) -> tuple[np.ndarray, int, torch.Tensor | None]:
    """Encode then decode: ``(reconstruction, latent positions, indices or None)``.

    A video tokenizer takes the clip whole; an image tokenizer each frame on its own.
    The positions are those of the encoded (grid-padded) input, the real count the
    tokens of this file take, not the nominal compression factor."""
    x = frames_to_tensor(frames)
    cfg = tokenizer.network_config
    clips = [x.unsqueeze(0)] if cfg.is_video else list(x.transpose(0, 1).split(batch_frames))
    parts, positions, indices = [], 0, []
    for clip in clips:
        encoded = tokenizer.encode(clip)
        latent = encoded[0]
        parts.append(tokenizer.decode(latent, crop_to=clip.shape[2:]))
        positions += latent.numel() // (1 if cfg.is_discrete else latent.shape[1])
        if cfg.is_discrete:
            indices.append(latent.flatten())
    y = parts[0][0] if cfg.is_video else torch.cat(parts).transpose(0, 1)
    return tensor_to_frames(y), positions, torch.cat(indices) if indices else None


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


class _Method:
    """Per-file rows and the folder summary of one way of reconstructing (a tokenizer or a baseline)."""

    def __init__(self, name: str, model: str, features: FeatureMetrics, device: str | torch.device):
        self.name, self.model = name, model
        self.lpips, self.fid, self.fvd = features.build(device)
        self.rows: list[dict] = []

    def score(self, path: Path, frames: np.ndarray, reconstruction: np.ndarray, bpp: float, **extra) -> None:
        row = {"tokenizer": self.name, "file": path.name, "frames": len(frames), "height": frames.shape[1],
               "width": frames.shape[2], "bpp": bpp, **extra, "psnr": psnr(frames, reconstruction),
               "ssim": ssim(frames, reconstruction), "color_shift": color_shift(frames, reconstruction)}
        if self.lpips is not None:
            row["lpips"] = self.lpips(frames, reconstruction)
        for metric in (self.fid, self.fvd):
            if metric is not None:
                metric.update(frames, reconstruction)
        self.rows.append(row)

    def summary(self, kind: str, **extra) -> dict:
        summary = {"tokenizer": self.name, "kind": kind, "model": self.model, "files": len(self.rows),
                   "bpp": _mean(self.rows, "bpp"), **extra}
        for key in ("psnr", "ssim", "color_shift") + (("lpips",) if self.lpips is not None else ()):
            summary[key] = _mean(self.rows, key)
        if self.fid is not None:
            summary["rfid"] = self.fid.compute()
        if self.fvd is not None:
            summary["rfvd"] = self.fvd.compute()
        return summary


def _mean(rows: list[dict], key: str) -> float:
    return float(np.mean([row[key] for row in rows]))


def evaluate_tokenizer(
    tokenizer, name: str, files: list[Path], features: FeatureMetrics | None = None, max_frames: int | None = None,
    baselines: bool = True,
) -> tuple[list[dict], list[dict], list[dict]]:
    """Per-file rows, folder summaries and skipped files of one tokenizer (a
    ``CausalVideoTokenizer``); the learned metrics' extractors run on its device.

    The summaries are the tokenizer's, then (``baselines``) JPEG at its bits and bicubic
    at its latent grid on the same pixels (see :mod:`nemo_cosmos.evaluation.baselines`).
    A file that cannot be decoded is skipped and returned as ``{"path", "reason"}``;
    raises when no file could be read."""
    features = features or FeatureMetrics()
    cfg = tokenizer.network_config
    cs = cfg.spatial_compression
    method = _Method(name, cfg.short_name, features, tokenizer.device)
    jpeg = _Method(f"JPEG @ {name} bits", "JPEG", features, tokenizer.device) if baselines else None
    bicubic = _Method(f"bicubic @ {name} grid", f"bicubic 1/{cs}", features, tokenizer.device) if baselines else None
    skipped, codes, positions_total, pixels_total = [], [], 0, 0
    for path in tqdm(files, desc=f"evaluating {name}", unit="file"):
        try:
            frames = read_frames(path, max_frames)
        except UnreadableMediaError as error:
            skipped.append({"path": str(path), "reason": error.problem})
            continue
        reconstruction, positions, indices = reconstruct(tokenizer, frames)
        pixels, bits = frames[..., 0].size, positions * token_bits(cfg)
        method.score(path, frames, reconstruction, bits / pixels, pixels_per_token=pixels / positions)
        positions_total, pixels_total = positions_total + positions, pixels_total + pixels
        if indices is not None:
            codes.append(indices.unique())
        if baselines:
            decoded, quality, jpeg_bpp = jpeg_at_bits(frames, bits)
            jpeg.score(path, frames, decoded, jpeg_bpp, jpeg_quality=quality)
            enlarged, bicubic_bpp = bicubic_at_grid(frames, cs)
            bicubic.score(path, frames, enlarged, bicubic_bpp)
    if not method.rows:
        raise ValueError(f"none of the {len(files)} files could be read: " + "; ".join(f"{r['path']}: {r['reason']}" for r in skipped[:3]))
    extra = {"pixels_per_token": pixels_total / positions_total}
    if cfg.is_discrete:
        extra["codes_used"] = int(torch.cat(codes).unique().numel())
    summaries = [method.summary("tokenizer", **extra)]
    if baselines:
        summaries += [jpeg.summary("baseline"), bicubic.summary("baseline")]
    rows = method.rows + (jpeg.rows + bicubic.rows if baselines else [])
    return rows, summaries, skipped
