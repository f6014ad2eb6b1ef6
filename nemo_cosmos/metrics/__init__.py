"""Reconstruction quality metrics: PSNR and SSIM always; LPIPS, rFID, rFVD from local TorchScript files."""

from nemo_cosmos.metrics.features import FrechetDistance, PairDistance, load_torchscript_metric
from nemo_cosmos.metrics.pixels import RunningPSNR, color_shift, psnr, ssim

__all__ = ["FrechetDistance", "PairDistance", "RunningPSNR", "color_shift", "load_torchscript_metric", "psnr", "ssim"]
