"""Training samples (random crops, clips, synthetic camera motion) and the training objectives."""

import itertools

import numpy as np
import pytest
import torch
from PIL import Image

from nemo_cosmos.data.media import write_video
from nemo_cosmos.data.media.training_samples import TrainingSamples
from nemo_cosmos.models.losses import PatchDiscriminator, psnr, reconstruction_loss, ssim


@pytest.fixture
def media(tmp_path):
    ramp = np.linspace(0, 255, 240, dtype=np.float32)
    photo = np.stack([ramp[None, :].repeat(160, 0), ramp[:160, None].repeat(240, 1), 255 - ramp[None, :].repeat(160, 0)], -1)
    Image.fromarray(photo.astype(np.uint8)).save(tmp_path / "photo.png")
    frames = np.zeros((12, 48, 64, 3), np.uint8)
    for t in range(12):
        frames[t, 10:30, 4 * t : 4 * t + 16] = 255
    write_video(tmp_path / "clip.mp4", frames, fps=12)
    return tmp_path


def test_video_samples_have_the_clip_shape_and_range(media):
    samples = TrainingSamples(media, size=32, frames=9, samples=8, video=True, seed=3)
    for i in range(len(samples)):
        clip = samples[i]
        assert clip.shape == (3, 9, 32, 32)
        assert clip.min() >= -1 and clip.max() <= 1
    assert torch.equal(samples[5], samples[5])  # seeded: validation sees the same samples


def test_photo_clips_move(media):
    samples = TrainingSamples(media / "photo.png", size=32, frames=9, samples=4, video=True, seed=0, max_motion=0.5)
    clip = samples[0]
    assert (clip[:, 0] - clip[:, -1]).abs().mean() > 0.01  # the camera moved
    assert (clip[:, 0] - clip[:, 1]).abs().mean() < (clip[:, 0] - clip[:, -1]).abs().mean()  # smoothly


def test_augmentation_mirrors_permutes_and_inverts_the_same_crop(media):
    """Each augmented sample is its plain twin (same seed) mirrored or not, its RGB
    channels in some order, negative or not; over 48 samples every choice occurs."""
    plain = TrainingSamples(media, size=32, frames=5, samples=48, video=True, seed=7)
    augmented = TrainingSamples(media, size=32, frames=5, samples=48, video=True, seed=7, flip=True, permute_channels=True, invert=True)
    seen = set()
    for i in range(len(plain)):
        x, y = plain[i], augmented[i]
        matches = [(order, mirrored, sign) for order in itertools.permutations(range(3)) for mirrored in (False, True) for sign in (1, -1)
                   if torch.equal(y, sign * (x.flip(-1) if mirrored else x)[list(order)])]
        assert matches, f"sample {i} is not a mirror, channel order or negative of its plain twin"
        seen.update(matches)
    assert {order for order, _, _ in seen} == set(itertools.permutations(range(3)))
    assert {mirrored for _, mirrored, _ in seen} == {False, True}
    assert {sign for _, _, sign in seen} == {1, -1}


def test_image_model_samples_and_errors(media, tmp_path_factory):
    samples = TrainingSamples(media, size=32, frames=1, samples=4, video=False, seed=1)
    assert samples[0].shape == (3, 32, 32)
    with pytest.raises(ValueError, match="smaller than the 256px crop"):
        TrainingSamples(media / "photo.png", size=256, frames=1, samples=1, video=False, seed=0)[0]
    with pytest.raises(ValueError, match="fewer than the 17-frame clip"):
        TrainingSamples(media / "clip.mp4", size=32, frames=17, samples=1, video=True, seed=0)[0]
    with pytest.raises(ValueError, match="no image or video files"):
        TrainingSamples(tmp_path_factory.mktemp("empty"), size=32, frames=1, samples=1, video=False)


def test_objectives_on_known_cases():
    x = torch.rand(2, 3, 5, 32, 32) * 2 - 1
    loss, parts = reconstruction_loss(x, x, ssim_weight=0.2)
    assert loss.abs() < 1e-5 and parts["ssim"] > 0.9999
    noisy = (x + 0.1 * torch.randn_like(x)).clamp(-1, 1)
    assert ssim(noisy, x) < 0.99
    # Noise of std 0.1 on a peak-to-peak range of 2: about 10*log10(4 / 0.01) = 26 dB.
    assert 24 < psnr(x + 0.1 * torch.randn_like(x), x) < 28
    logits = PatchDiscriminator(channels=8)(x)
    assert logits.shape == (10, 1, 4, 4)
