"""Reconstruction quality metrics: PSNR and SSIM always; LPIPS, rFID, rFVD from local TorchScript files."""

from nemo_cosmos.metrics.features import FrechetDistance, PairDistance, load_torchscript_metric
from nemo_cosmos.metrics.pixels import RunningPSNR, psnr, ssim

__all__ = ["FrechetDistance", "PairDistance", "RunningPSNR", "load_torchscript_metric", "psnr", "ssim"]
