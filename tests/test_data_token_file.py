"""Token files: one tensor plus the metadata that turns it back into pixels; bad files name themselves."""

import pytest
import torch
from safetensors.torch import save_file

from nemo_cosmos.data.media import UnreadableMediaError
from nemo_cosmos.data.token_file import TokenFile, load_token_file, save_token_file

CONFIG = {"family": "CV", "spatial_compression": 8, "temporal_compression": 4}


def _video_record(tensor: torch.Tensor) -> TokenFile:
    return TokenFile(
        tensor_name="latent",
        tensor=tensor,
        model="Cosmos-Tokenizer-CV4x8x8",
        config=CONFIG,
        media="video",
        source="/data/clip.mp4",
        height=36,
        width=45,
        padding={"frames": [1, 2], "height": [2, 2], "width": [1, 2]},
        model_dtype="bfloat16",
        num_frames=10,
        fps=30000 / 1001,
        inference={"chunk_latents": None, "tile_size": 256},
    )


def test_video_latent_round_trip_keeps_tensor_dtype_and_metadata(tmp_path):
    latent = torch.randn(1, 16, 4, 5, 6).to(torch.bfloat16)
    record = _video_record(latent)
    path = save_token_file(tmp_path / "deep" / "clip.safetensors", record)
    loaded = load_token_file(path)
    assert loaded.tensor.dtype == torch.bfloat16 and torch.equal(loaded.tensor, latent)
    assert loaded == TokenFile(**{**record.__dict__, "tensor": loaded.tensor})
    assert loaded.original_size == (10, 36, 45) and loaded.fps == 30000 / 1001


def test_image_indices_have_no_frames_or_fps(tmp_path):
    indices = torch.randint(0, 64000, (1, 4, 6), dtype=torch.int32)
    record = TokenFile("indices", indices, "m", CONFIG, "image", "a.png", 30, 41, {"height": [1, 1], "width": [3, 4]}, "float32")
    loaded = load_token_file(save_token_file(tmp_path / "a.safetensors", record))
    assert loaded.tensor_name == "indices" and torch.equal(loaded.tensor, indices)
    assert (loaded.num_frames, loaded.fps, loaded.original_size) == (None, None, (30, 41))
    with pytest.raises(ValueError, match="num_frames and fps"):
        TokenFile("indices", indices, "m", CONFIG, "image", "a.png", 30, 41, {}, "float32", num_frames=1, fps=24.0)
    with pytest.raises(ValueError, match="tensor_name"):
        TokenFile("codes", indices, "m", CONFIG, "image", "a.png", 30, 41, {}, "float32")


def test_foreign_truncated_and_missing_files_raise_errors_naming_them(tmp_path):
    foreign = tmp_path / "foreign.safetensors"
    save_file({"weight": torch.zeros(2)}, str(foreign))
    good = save_token_file(tmp_path / "good.safetensors", _video_record(torch.zeros(1, 16, 1, 1, 1)))
    truncated = tmp_path / "truncated.safetensors"
    truncated.write_bytes(good.read_bytes()[:-7])
    for bad, problem in ((foreign, "is not a nemo-cosmos-tokens file"), (truncated, "cannot read as safetensors")):
        with pytest.raises(UnreadableMediaError) as caught:
            load_token_file(bad)
        assert str(caught.value).startswith(f"{bad}: {problem}") and "\n" not in str(caught.value)
    with pytest.raises(FileNotFoundError, match="missing.safetensors"):
        load_token_file(tmp_path / "missing.safetensors")
