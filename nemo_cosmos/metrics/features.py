"""Learned metrics (LPIPS, rFID, rFVD) from feature extractors the user has on disk.

Nothing is downloaded: each metric runs a TorchScript file that the user points at, and
asking for one without its file raises ``FileNotFoundError`` saying what is needed.

- LPIPS (:class:`PairDistance`): a scripted LPIPS-VGG module called as ``model(a, b)`` on
  float frames ``[N, 3, H, W]`` in ``[-1, 1]``, returning one distance per frame
  (e.g. ``torch.jit.script(lpips.LPIPS(net="vgg"))`` saved with ``torch.jit.save``).
  Averaged over frames, then over videos.
- rFID / rFVD (:class:`FrechetDistance`): a feature extractor called as
  ``model(x, **kwargs)`` on frames ``[N, 3, H, W]`` (FID, e.g. an Inception-v3) or
  whole clips ``[1, 3, T, H, W]`` (FVD, e.g. an I3D), returning ``[N, D]`` features;
  the Fréchet distance between the Gaussians fitted to the reference and the
  reconstruction features. ``pixels`` says what the extractor takes: ``uint8``
  (0..255), ``unit`` ([0, 1]) or ``signed`` ([-1, 1]).

Each extractor runs on the ``device`` it is given (the evaluated model's: an Inception
or I3D on the CPU would take longer than the tokenizer on the GPU); frames go there as
uint8 and only distances and features come back.
"""

from pathlib import Path

import numpy as np
import scipy.linalg
import torch
from torch import Tensor

from nemo_cosmos.metrics.pixels import _pair

PIXEL_RANGES = ("uint8", "unit", "signed")


def load_torchscript_metric(path: str | Path | None, metric: str, device: str | torch.device = "cpu") -> torch.jit.ScriptModule:
    """Load the TorchScript file of ``metric`` onto ``device``; a clear error when it is not configured or not there."""
    if path is None:
        raise FileNotFoundError(f"{metric} needs a local TorchScript file; none was given (nothing is downloaded)")
    path = Path(path).expanduser()
    if not path.is_file():
        raise FileNotFoundError(f"{metric}: TorchScript file not found: {path} (nothing is downloaded)")
    return torch.jit.load(str(path), map_location=device).eval()


def _pixels(frames: Tensor, pixels: str) -> Tensor:
    """uint8 channels-last frames ``[..., H, W, 3]`` -> channels-first in the extractor's range."""
    x = frames.movedim(-1, -4 if frames.dim() == 5 else -3)  # [T,H,W,3] -> [3,T,H,W]; [N,H,W,3] -> [N,3,H,W]
    if pixels == "uint8":
        return x.contiguous()
    x = x.float() / 255.0
    return x * 2.0 - 1.0 if pixels == "signed" else x


class PairDistance:
    """Mean per-frame distance (LPIPS) of one video at a time."""

    def __init__(self, path: str | Path | None, name: str = "LPIPS", device: str | torch.device = "cpu"):
        self.name, self.device = name, torch.device(device)
        self.model = load_torchscript_metric(path, name, self.device)

    @torch.inference_mode()
    def __call__(self, reference: np.ndarray | Tensor, reconstruction: np.ndarray | Tensor, batch: int = 8) -> float:
        """``reference`` and ``reconstruction``: uint8 ``[T, H, W, 3]`` (or one frame ``[H, W, 3]``)."""
        a, b = (torch.from_numpy(v) for v in _pair(reference, reconstruction))  # uint8 [T, H, W, C], one shape
        distances = [
            self.model(*(_pixels(v[i : i + batch].to(self.device), "signed") for v in (a, b))).reshape(-1)
            for i in range(0, a.shape[0], batch)
        ]
        return float(torch.cat(distances).double().mean())


class FrechetDistance:
    """Accumulates extractor features of references and reconstructions; ``compute()`` gives the distance."""

    def __init__(
        self, path: str | Path | None, name: str, clips: bool, pixels: str = "uint8", kwargs: dict | None = None,
        device: str | torch.device = "cpu",
    ):
        if pixels not in PIXEL_RANGES:
            raise ValueError(f"{name}: pixels must be one of {PIXEL_RANGES}, got {pixels!r}")
        self.name, self.clips, self.pixels, self.device = name, clips, pixels, torch.device(device)
        self.kwargs = dict(kwargs or {})
        self.model = load_torchscript_metric(path, name, self.device)
        self.features: dict[str, list[np.ndarray]] = {"reference": [], "reconstruction": []}

    @torch.inference_mode()
    def update(self, reference: np.ndarray | Tensor, reconstruction: np.ndarray | Tensor) -> None:
        """Add one video (uint8 ``[T, H, W, 3]``) or image (``[H, W, 3]``) and its reconstruction."""
        for side, frames in zip(("reference", "reconstruction"), _pair(reference, reconstruction)):
            frames = torch.from_numpy(frames).to(self.device)  # uint8 [T, H, W, C], both of one shape
            x = _pixels(frames.unsqueeze(0) if self.clips else frames, self.pixels)
            features = self.model(x, **self.kwargs)
            self.features[side].append(features.reshape(features.shape[0], -1).double().cpu().numpy())

    def compute(self) -> float:
        """Fréchet distance ``|mu_a - mu_b|^2 + tr(S_a + S_b - 2 (S_a S_b)^(1/2))``."""
        a, b = (np.concatenate(self.features[side]) for side in ("reference", "reconstruction"))
        if len(a) < 2:
            unit = "clips" if self.clips else "frames"
            raise ValueError(f"{self.name} needs features of at least 2 {unit}, got {len(a)}")
        mu_a, mu_b = a.mean(axis=0), b.mean(axis=0)
        cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
        root = scipy.linalg.sqrtm(cov_a @ cov_b)
        root = root.real if np.iscomplexobj(root) else root  # round-off leaves tiny imaginary parts
        return float(((mu_a - mu_b) ** 2).sum() + np.trace(cov_a + cov_b - 2.0 * root))
