"""PSNR, SSIM and the TorchScript-based metrics on cases with known answers."""

import math

import numpy as np
import pytest
import torch
from torch import Tensor, nn

from nemo_cosmos.evaluation.quality import FeatureMetrics
from nemo_cosmos.metrics import FrechetDistance, PairDistance, psnr, ssim

C1 = (0.01 * 255) ** 2
SSIM_TOLERANCE = 1e-12  # float64 throughout


def constant_video(frames: int, value: int, size: int = 24) -> np.ndarray:
    return np.full((frames, size, size, 3), value, dtype=np.uint8)


def test_identical_is_infinite_psnr_and_unit_ssim():
    video = np.random.default_rng(0).integers(0, 256, (3, 24, 32, 3), dtype=np.uint8)
    assert psnr(video, video) == math.inf
    assert ssim(video, video) == pytest.approx(1.0, abs=SSIM_TOLERANCE)


def test_known_noise_gives_known_psnr():
    reference = constant_video(2, 128)
    signs = np.where(np.indices(reference.shape).sum(axis=0) % 2 == 0, 5, -5)
    noisy = (reference.astype(int) + signs).astype(np.uint8)  # every value off by exactly 5
    assert psnr(reference, noisy) == pytest.approx(20 * math.log10(255 / 5), abs=1e-12)


def test_psnr_takes_the_mse_over_the_whole_video():
    """One perfect and one noisy frame: half the MSE (+3.01 dB), not a per-frame mean (which is inf)."""
    reference = constant_video(2, 128)
    reconstruction = reference.copy()
    reconstruction[1] += 5
    assert psnr(reference, reconstruction) == pytest.approx(20 * math.log10(255 / 5) + 10 * math.log10(2), abs=1e-12)


def test_ssim_of_constant_frames_is_the_luminance_term_averaged_per_frame():
    reference = constant_video(2, 100)
    reconstruction = reference.copy()
    reconstruction[1] = 110  # frame 0 identical, frame 1 uniformly brighter
    shifted = (2 * 100 * 110 + C1) / (100**2 + 110**2 + C1)
    assert ssim(reference, reconstruction) == pytest.approx((1.0 + shifted) / 2, abs=SSIM_TOLERANCE)


def test_images_and_tensors_are_accepted():
    image = torch.full((24, 24, 3), 100, dtype=torch.uint8)
    assert ssim(image, image + 10) == pytest.approx((2 * 100 * 110 + C1) / (100**2 + 110**2 + C1), abs=SSIM_TOLERANCE)
    assert psnr(image, image + 10) == pytest.approx(20 * math.log10(25.5), abs=1e-12)


def test_ssim_and_psnr_agree_with_the_published_definitions():
    """Per-frame scikit-image SSIM (Wang et al. settings) averaged; whole-video PSNR."""
    metrics = pytest.importorskip("skimage.metrics")
    rng = np.random.default_rng(0)
    rows, columns = np.mgrid[:48, :64]
    texture = np.stack([127 + 100 * np.sin(columns / (5 + k)) * np.cos(rows / (3 + k)) for k in range(3)], axis=-1)
    reference = np.stack([np.clip(texture + rng.normal(0, 20, texture.shape), 0, 255) for _ in range(3)]).astype(np.uint8)
    noisy = np.clip(reference + rng.normal(0, 12, reference.shape), 0, 255).astype(np.uint8)
    expected = np.mean([
        metrics.structural_similarity(a, b, channel_axis=-1, data_range=255, gaussian_weights=True, sigma=1.5,
                                      use_sample_covariance=False)
        for a, b in zip(reference, noisy)
    ])
    assert ssim(reference, noisy) == pytest.approx(expected, abs=SSIM_TOLERANCE)
    assert psnr(reference, noisy) == pytest.approx(metrics.peak_signal_noise_ratio(reference, noisy, data_range=255), abs=1e-12)


def test_bad_inputs_raise_value_errors():
    video = constant_video(2, 10)
    with pytest.raises(ValueError, match="uint8"):
        psnr(video.astype(np.float32), video)
    with pytest.raises(ValueError, match="differ in shape"):
        psnr(video, video[:1])
    with pytest.raises(ValueError, match="larger than 10x10"):
        ssim(video[:, :8, :8], video[:, :8, :8])


class MeanColour(nn.Module):
    """A stand-in feature extractor: the mean of each channel, [N, 3, H, W] -> [N, 3]."""

    def forward(self, x: Tensor) -> Tensor:
        return x.float().mean(dim=(2, 3))


class WeightedMeanColour(nn.Module):
    """Like :class:`MeanColour`, with per-channel weights held in a buffer: the device it is loaded on shows."""

    def __init__(self):
        super().__init__()
        self.register_buffer("weights", torch.tensor([1.0, 2.0, 3.0]))

    def forward(self, x: Tensor) -> Tensor:
        return x.float().mean(dim=(2, 3)) * self.weights


class MeanAbsoluteDifference(nn.Module):
    def forward(self, a: Tensor, b: Tensor) -> Tensor:
        return (a - b).abs().mean(dim=(1, 2, 3))


def save_scripted(module: nn.Module, path) -> str:
    torch.jit.save(torch.jit.script(module), str(path))
    return str(path)


def test_feature_metrics_say_what_is_missing(tmp_path):
    with pytest.raises(FileNotFoundError, match="nothing is downloaded"):
        PairDistance(None)
    with pytest.raises(FileNotFoundError, match="not found: .*missing.pt"):
        FrechetDistance(tmp_path / "missing.pt", "rFID", clips=False)


def test_frechet_distance_of_shifted_features(tmp_path):
    """Equal covariances: the distance is the squared mean shift (3 channels x 10^2)."""
    metric = FrechetDistance(save_scripted(MeanColour(), tmp_path / "colour.pt"), "rFID", clips=False)
    videos = np.random.default_rng(0).integers(20, 200, (3, 5, 16, 16, 3), dtype=np.uint8)
    for video in videos:
        metric.update(video, video + 10)
    assert metric.compute() == pytest.approx(300.0, rel=1e-6)
    same = FrechetDistance(str(tmp_path / "colour.pt"), "rFID", clips=False)
    same.update(videos[0], videos[0])
    assert same.compute() == pytest.approx(0.0, abs=1e-6)


def test_pair_distance_averages_over_frames_in_signed_range(tmp_path):
    metric = PairDistance(save_scripted(MeanAbsoluteDifference(), tmp_path / "lpips.pt"))
    video = constant_video(3, 100)
    shifted = video.copy()
    shifted[0] += 51  # one frame differs by 51/255 * 2 = 0.4 in [-1, 1]
    assert metric(video, shifted, batch=2) == pytest.approx(0.4 / 3, rel=1e-6)


def test_feature_extractors_are_loaded_onto_the_given_device(tmp_path):
    """The evaluation passes the model's device; the meta device stands in for CUDA."""
    colour = save_scripted(WeightedMeanColour(), tmp_path / "colour.pt")
    lpips, fid, fvd = FeatureMetrics(lpips=colour, fid={"path": colour}, fvd={"path": colour}).build("meta")
    for metric in (lpips, fid, fvd):
        assert metric.device == torch.device("meta")
        assert metric.model.weights.device == torch.device("meta")
    assert FeatureMetrics(fid={"path": colour}).build()[1].model.weights.device == torch.device("cpu")


@pytest.mark.gpu
def test_feature_metrics_on_cuda_give_the_cpu_values(tmp_path):
    colour = save_scripted(WeightedMeanColour(), tmp_path / "colour.pt")
    lpips = save_scripted(MeanAbsoluteDifference(), tmp_path / "lpips.pt")
    videos = np.random.default_rng(0).integers(20, 200, (3, 5, 16, 16, 3), dtype=np.uint8)
    values = {}
    for device in ("cpu", "cuda"):
        fid = FrechetDistance(colour, "rFID", clips=False, device=device)
        for video in videos:
            fid.update(video, video + 10)
        values[device] = (fid.compute(), PairDistance(lpips, device=device)(videos[0], videos[1]))
        assert fid.model.weights.device.type == device
    assert values["cuda"] == pytest.approx(values["cpu"], rel=1e-5)
