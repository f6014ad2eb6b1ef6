"""The small tokenizer shipped inside the package: loads offline by name, and reconstructs
a held-out photograph (never trained on) as well as when it was shipped."""

from pathlib import Path

import skimage
import torch

from nemo_cosmos import CausalVideoTokenizer
from nemo_cosmos.data.media import frames_to_tensor, read_image, tensor_to_frames
from nemo_cosmos.metrics import psnr
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
    assert psnr(photo[None], reconstruction) > 19.0  # 19.69 dB when shipped; untrained weights: about 6
