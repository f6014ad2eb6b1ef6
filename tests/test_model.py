"""CausalVideoTokenizer: loading (native and TorchScript), .nemo, inference paths, input checks.

All networks are small (see ``conftest.small_config``) with formula weights,
exported to real TorchScript files with the official keys and interfaces.
"""

import json
import shutil

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file

from nemo_cosmos import CausalVideoTokenizer, build_network
from nemo_cosmos.formula_weights import fill_with_formula
from nemo_cosmos.pretrained import PRESETS, CheckpointMismatchError, CheckpointNotFoundError

from checkpoints import export_torchscript, use_offline_hub_cache, write_hub_cache
from conftest import small_config
from data_samples import smooth_video


def _clip(family: str, frames: int = 5, height: int = 32, width: int = 32, seed: int = 0) -> torch.Tensor:
    x = smooth_video(frames, height, width, seed=seed)
    return x if family.endswith("V") else x[:, :, 0].expand(2, -1, -1, -1).clone()


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny networks gain nothing from intra-op threads, and on a busy machine spinning
    threads make each small op up to 100x slower."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    """family -> directory with encoder.jit, decoder.jit, autoencoder.jit and our config.json."""
    made = {}
    for family in ("DV", "CV", "DI"):
        directory = tmp_path_factory.mktemp(f"small-{family}")
        network = fill_with_formula(build_network(small_config(family))).eval()
        parts = ("encoder", "decoder", "autoencoder") if family == "DV" else ("encoder", "decoder")
        export_torchscript(network, directory, _clip(family, height=16, width=16), parts)
        (directory / "config.json").write_text(json.dumps(network.config.to_dict()))
        made[family] = directory
    return made


@pytest.fixture
def offline_cache(tmp_path, monkeypatch):
    return use_offline_hub_cache(tmp_path / "hf-cache", monkeypatch)


def _assert_same_outputs(a, b, atol=1e-5):
    for x, y in zip(a, b, strict=True):
        if x.is_floating_point():
            torch.testing.assert_close(x, y, atol=atol, rtol=1e-5)
        else:
            assert torch.equal(x, y)


@pytest.mark.parametrize("family", ["DV", "CV", "DI"])
def test_native_and_torchscript_modes_agree(checkpoints, family):
    native = CausalVideoTokenizer.from_pretrained(checkpoints[family])
    scripted = CausalVideoTokenizer.from_pretrained(checkpoints[family], use_pytorch=False)
    assert native.network is not None and scripted.network is None
    x = _clip(family, frames=6, height=20, width=28)  # unaligned: padded and cropped in both modes
    encoded = native.encode(x)
    assert len(encoded) == (2 if family.startswith("D") else 1)
    _assert_same_outputs(encoded, scripted.encode(x))
    torch.testing.assert_close(native.decode(encoded[0]), scripted.decode(encoded[0]), atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(native.autoencode(x), scripted.autoencode(x), atol=1e-4, rtol=1e-4)


def test_full_model_loads_both_halves_from_autoencoder_jit(checkpoints):
    x = _clip("DV")
    halves = CausalVideoTokenizer.from_pretrained(checkpoints["DV"])
    full = CausalVideoTokenizer.from_pretrained(checkpoints["DV"], load_encoder=False, load_full_model=True)
    assert full.network.has_encoder and full.network.has_decoder
    assert torch.equal(full.autoencode(x), halves.autoencode(x))
    scripted = CausalVideoTokenizer.from_pretrained(
        checkpoints["DV"], load_encoder=False, load_decoder=False, load_full_model=True, use_pytorch=False
    )
    torch.testing.assert_close(scripted.autoencode(x), halves.autoencode(x), atol=1e-4, rtol=1e-4)
    with pytest.raises(RuntimeError, match="loaded without encoder.jit"):
        scripted.encode(x)


def test_official_bfloat16_codes_are_cast_at_the_boundary_in_float32(tmp_path):
    """The official discrete files hard-code bfloat16 FSQ codes (the reference's quantizer
    dtype), so decoder.jit as it is cannot run in float32. Loaded with dtype float32, the
    codes are cast at the boundary and the results are the native network's, for the
    halves and for the full model (autoencoder.jit) alike."""
    network = fill_with_formula(build_network(small_config("DV"))).eval()
    directory = tmp_path / "official-like"
    export_torchscript(network, directory, _clip("DV", height=16, width=16), codes_dtype=torch.bfloat16)
    (directory / "config.json").write_text(json.dumps(network.config.to_dict()))
    x = _clip("DV", height=16, width=16)
    native = CausalVideoTokenizer.from_pretrained(directory, dtype="float32")
    indices, codes = native.encode(x)
    with pytest.raises(RuntimeError):  # bfloat16 codes into a float32 convolution
        torch.jit.load(str(directory / "decoder.jit"))(indices)
    scripted = CausalVideoTokenizer.from_pretrained(directory, use_pytorch=False, dtype="float32")
    scripted_indices, scripted_codes = scripted.encode(x)
    assert torch.equal(scripted_indices, indices)
    assert scripted_codes.dtype == torch.float32 and torch.equal(scripted_codes, codes)
    torch.testing.assert_close(scripted.decode(indices), native.decode(indices), atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(scripted.autoencode(x), native.autoencode(x), atol=1e-4, rtol=1e-4)
    with pytest.raises(RuntimeError):
        torch.jit.load(str(directory / "autoencoder.jit"))(x)
    full = CausalVideoTokenizer.from_pretrained(
        directory, load_encoder=False, load_decoder=False, load_full_model=True, use_pytorch=False, dtype="float32"
    )
    torch.testing.assert_close(full.autoencode(x), native.autoencode(x), atol=1e-4, rtol=1e-4)


def test_encoder_only_model_has_no_decoder(checkpoints):
    model = CausalVideoTokenizer.from_pretrained(checkpoints["CV"], load_decoder=False)
    assert model.network.has_encoder and not model.network.has_decoder
    (latent,) = model.encode(_clip("CV"))
    with pytest.raises(RuntimeError, match="without its decoder"):
        model.decode(latent)
    with pytest.raises(ValueError, match="nothing to load"):
        CausalVideoTokenizer.from_pretrained(checkpoints["CV"], load_encoder=False, load_decoder=False)


@pytest.mark.parametrize("use_pytorch", [True, False])
def test_nemo_round_trip_gives_identical_outputs(checkpoints, tmp_path, use_pytorch):
    model = CausalVideoTokenizer.from_pretrained(checkpoints["DV"], use_pytorch=use_pytorch, chunk_latents=1)
    x = _clip("DV", frames=6, height=24, width=24)
    model.save_to(str(tmp_path / "dv.nemo"))
    restored = CausalVideoTokenizer.restore_from(str(tmp_path / "dv.nemo"))
    assert restored.cfg.chunk_latents == 1
    _assert_same_outputs(model.encode(x), restored.encode(x), atol=0)
    assert torch.equal(model.autoencode(x), restored.autoencode(x))


def test_native_format_round_trip_and_halves(checkpoints, tmp_path):
    model = CausalVideoTokenizer.from_pretrained(checkpoints["DI"])
    model.save_pretrained(tmp_path / "mine")
    assert sorted(p.name for p in (tmp_path / "mine").iterdir()) == ["config.json", "model.safetensors"]
    x = _clip("DI")
    again = CausalVideoTokenizer.from_pretrained(tmp_path / "mine")
    assert torch.equal(again.autoencode(x), model.autoencode(x))
    encoder_only = CausalVideoTokenizer.from_pretrained(tmp_path / "mine", load_decoder=False)
    assert torch.equal(encoder_only.encode(x)[0], model.encode(x)[0])
    with pytest.raises(CheckpointNotFoundError, match="native format: load it with use_pytorch=True"):
        CausalVideoTokenizer.from_pretrained(tmp_path / "mine", use_pytorch=False)


def _native_copy(checkpoints, tmp_path, edit):
    directory = tmp_path / "edited"
    CausalVideoTokenizer.from_pretrained(checkpoints["CV"]).save_pretrained(directory)
    weights = load_file(str(directory / "model.safetensors"))
    edit(weights)
    save_file({k: v.contiguous() for k, v in weights.items()}, str(directory / "model.safetensors"))
    return directory


def test_strict_loading_names_missing_and_misshaped_keys(checkpoints, tmp_path):
    key = "decoder.conv_in.0.conv3d.weight"
    missing = _native_copy(checkpoints, tmp_path, lambda w: w.pop(key))
    expected = f"model.safetensors does not fit Cosmos CV4x8x8.*1 missing: {key}"
    with pytest.raises(CheckpointMismatchError, match=expected):
        CausalVideoTokenizer.from_pretrained(missing)
    reshaped = _native_copy(checkpoints, tmp_path, lambda w: w.update({key: w[key][:, :-1]}))
    expected = rf"wrongly shaped: {key} \[64, 15, 1, 3, 3\] \(expected \[64, 16, 1, 3, 3\]\)"
    with pytest.raises(CheckpointMismatchError, match=expected):
        CausalVideoTokenizer.from_pretrained(reshaped)


def test_truncated_torchscript_file_is_reported(checkpoints, tmp_path):
    directory = tmp_path / "truncated"
    shutil.copytree(checkpoints["CV"], directory)
    data = (directory / "decoder.jit").read_bytes()
    (directory / "decoder.jit").write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointMismatchError, match=r"cannot read checkpoint .*decoder\.jit"):
        CausalVideoTokenizer.from_pretrained(directory)


def test_small_checkpoint_under_an_official_name_is_rejected(checkpoints, offline_cache):
    jit = {name: checkpoints["DV"] / name for name in ("encoder.jit", "decoder.jit")}
    write_hub_cache(offline_cache, "nvidia/Cosmos-Tokenizer-DV4x8x8", jit)
    with pytest.raises(CheckpointMismatchError, match="does not fit Cosmos DV4x8x8 .*wrongly shaped"):
        CausalVideoTokenizer.from_pretrained("Cosmos-Tokenizer-DV4x8x8")
    with pytest.raises(CheckpointNotFoundError, match="HF_HUB_OFFLINE=1 is set"):
        CausalVideoTokenizer.from_pretrained("Cosmos-Tokenizer-DV8x8x8")


def test_official_name_loads_full_size_weights_offline(tmp_path, offline_cache):
    """The whole path for a real name: hub cache layout, offline mode, a full-size DV8x8x8
    encoder.jit (43M formula weights), strict native load, and the same tokens as the
    TorchScript file itself."""
    network = fill_with_formula(build_network("Cosmos-Tokenizer-DV8x8x8", decoder=False)).eval()
    x = smooth_video(1, 16, 16)
    exported = export_torchscript(network, tmp_path / "export", x)
    assert list(exported) == ["encoder"]
    write_hub_cache(offline_cache, "nvidia/Cosmos-Tokenizer-DV8x8x8", {"encoder.jit": exported["encoder"]})
    model = CausalVideoTokenizer.from_pretrained("nvidia/Cosmos-Tokenizer-DV8x8x8", load_decoder=False)
    assert model.network_config.short_name == "DV8x8x8" and model.dtype == torch.float32
    indices, codes = model.encode(x)
    expected = torch.jit.load(str(exported["encoder"]))(x)
    assert torch.equal(indices, expected[0]) and torch.equal(codes, expected[1])


def test_unaligned_inputs_are_padded_and_cropped_back(checkpoints):
    model = CausalVideoTokenizer.from_pretrained(checkpoints["DV"])
    x = _clip("DV", frames=6, height=20, width=30)
    indices, codes = model.encode(x)
    assert indices.shape == (1, 3, 3, 4) and indices.dtype == torch.int32  # 9 frames, 24x32 after padding
    assert codes.shape == (1, 6, 3, 3, 4) and codes.dtype == torch.float32
    assert model.decode(indices).shape == (1, 3, 9, 24, 32)
    assert model.decode(indices, crop_to=x.shape[2:]).shape == x.shape
    assert model.autoencode(x).shape == x.shape
    video = (x.permute(0, 2, 3, 4, 1).numpy() * 127.5 + 127.5).round().astype(np.uint8)
    out = model(video)
    assert out.shape == video.shape and out.dtype == np.uint8


def test_streaming_default_equals_one_pass(checkpoints):
    x = _clip("CV", frames=13)
    streamed = CausalVideoTokenizer.from_pretrained(checkpoints["CV"], chunk_latents=1)
    whole = CausalVideoTokenizer.from_pretrained(checkpoints["CV"], chunk_latents=None)
    (latent,) = streamed.encode(x)
    torch.testing.assert_close(latent, whole.encode(x)[0], atol=1e-5, rtol=1e-5)
    # Issue 8's standard for streamed vs one-pass: float32 within 1e-4 (kernels differ by chunk shape).
    torch.testing.assert_close(streamed.decode(latent), whole.decode(latent), atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(streamed.autoencode(x), whole.autoencode(x), atol=1e-4, rtol=1e-4)
    discrete = CausalVideoTokenizer.from_pretrained(checkpoints["DV"], chunk_latents=1)
    assert CausalVideoTokenizer.from_pretrained(checkpoints["DV"]).cfg.chunk_latents == 2  # streams by default
    indices, _ = discrete.encode(x)
    discrete.configure_inference(chunk_latents=None)
    assert (indices == discrete.encode(x)[0]).float().mean() > 0.99  # equal up to float rounding at FSQ boundaries


def test_temporal_windows_are_independent_and_keep_the_frame_count(checkpoints):
    model = CausalVideoTokenizer.from_pretrained(checkpoints["CV"])
    x = _clip("CV", frames=12)
    windowed = model.autoencode(x, temporal_window=5)
    assert windowed.shape == x.shape
    torch.testing.assert_close(windowed[:, :, 5:10], model.autoencode(x[:, :, 5:10]))
    torch.testing.assert_close(windowed[:, :, 10:], model.autoencode(x[:, :, 10:]))  # last window padded
    assert (windowed[:, :, 5:10] - model.autoencode(x)[:, :, 5:10]).abs().max() > 1e-3  # not the exact stream
    video = (x.permute(0, 2, 3, 4, 1).numpy() * 127.5 + 127.5).round().astype(np.uint8)
    assert model(video, temporal_window=9).shape == video.shape
    for bad in (4, 0, 6):
        with pytest.raises(ValueError, match=r"temporal_window must be 1 \+ k\*4"):
            model.autoencode(x, temporal_window=bad)


def test_tiled_reconstruction_stays_close_to_untiled(checkpoints):
    """The networks normalise each frame over all of it and attend across it, so tiles
    cannot be exact; the error must shrink as tiles and overlaps grow and vanish when one
    tile covers the frame. Bounds measured on these formula weights (untrained networks
    amplify context changes far more than trained ones)."""
    model = CausalVideoTokenizer.from_pretrained(checkpoints["CV"])
    x = _clip("CV", frames=1, height=64, width=96)
    reference = model.autoencode(x)

    def relative_error(tile_size, tile_overlap):
        model.configure_inference(tile_size=tile_size, tile_overlap=tile_overlap)
        error = (model.autoencode(x) - reference).pow(2).mean().sqrt() / reference.std()
        model.configure_inference()
        return float(error)

    assert relative_error(96, 32) == 0
    hard_cut, blended, larger = relative_error(48, 0), relative_error(48, 16), relative_error(64, 16)
    assert larger < blended < hard_cut < 0.8
    indices_model = CausalVideoTokenizer.from_pretrained(checkpoints["DV"], tile_size=32, tile_overlap=16)
    indices, codes = indices_model.encode(_clip("DV", frames=1, height=64, width=96))
    assert indices.shape == (1, 1, 8, 12) and codes.shape == (1, 6, 1, 8, 12)
    # stitched consistently: each position's indices and codes come from the same tile
    torch.testing.assert_close(indices_model.network.quantizer.indices_to_codes(indices), codes)


def test_image_models_take_both_layouts(checkpoints):
    model = CausalVideoTokenizer.from_pretrained(checkpoints["DI"])
    x = _clip("DI", height=36, width=40)
    indices, codes = model.encode(x)
    assert indices.shape == (2, 5, 5) and codes.shape == (2, 6, 5, 5)
    indices5, codes5 = model.encode(x.unsqueeze(2))
    assert torch.equal(indices5, indices.unsqueeze(1)) and torch.equal(codes5, codes.unsqueeze(2))
    assert torch.equal(model.decode(indices5, crop_to=(36, 40)), model.decode(indices, crop_to=(36, 40)).unsqueeze(2))
    assert torch.equal(model.autoencode(x.unsqueeze(2)), model.autoencode(x).unsqueeze(2))
    images = (x.permute(0, 2, 3, 1).numpy() * 127.5 + 127.5).round().astype(np.uint8)
    assert model(images).shape == images.shape


def test_device_and_dtype(checkpoints):
    model = CausalVideoTokenizer.from_pretrained(checkpoints["CV"])
    assert model.device.type == ("cuda" if torch.cuda.is_available() else "cpu")
    assert model.dtype == (torch.bfloat16 if torch.cuda.is_available() else torch.float32)
    half = CausalVideoTokenizer.from_pretrained(checkpoints["CV"], dtype="bfloat16", device="cpu")
    assert half.dtype == torch.bfloat16 and half.network.decoder.conv_in[0].conv3d.weight.dtype == torch.bfloat16
    x = _clip("CV")
    (latent,) = half.encode(x)  # float32 input is cast to the model's dtype
    assert latent.dtype == torch.bfloat16
    full_precision = CausalVideoTokenizer.from_pretrained(checkpoints["CV"], device="cpu").encode(x)[0]
    torch.testing.assert_close(latent.float(), full_precision, atol=0.1, rtol=0.05)
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA is not available"):
            CausalVideoTokenizer.from_pretrained(checkpoints["CV"], device="cuda")
    with pytest.raises(ValueError, match="dtype must be one of"):
        CausalVideoTokenizer.from_pretrained(checkpoints["CV"], dtype="int8")


@pytest.fixture(scope="module")
def models(checkpoints):
    return {family: CausalVideoTokenizer.from_pretrained(checkpoints[family]) for family in ("DV", "CV", "DI")}


@pytest.mark.parametrize(
    "family,method,value,message",
    [
        ("DV", "encode", torch.zeros(3, 9, 32, 32), r"expected video \[B, 3, T, H, W\], got shape \(3, 9, 32, 32\)"),
        ("DV", "encode", torch.zeros(1, 4, 9, 32, 32), r"got shape \(1, 4, 9, 32, 32\)"),
        ("DI", "encode", torch.zeros(1, 3, 2, 32, 32), r"images \[B, 3, H, W\] or \[B, 3, 1, H, W\], got shape"),
        ("DV", "encode", torch.zeros(1, 3, 0, 32, 32), "empty input"),
        ("DV", "encode", torch.full((1, 3, 9, 32, 32), 1.5), r"must lie in \[-1, 1\], got 1.5..1.5"),
        ("CV", "encode", torch.full((1, 3, 9, 32, 32), float("nan")), "NaN or infinite"),
        ("DV", "encode", torch.zeros(1, 3, 9, 32, 32, dtype=torch.uint8), "expected float pixels.*uint8"),
        ("DV", "encode", torch.zeros(1, 3, 9, 4, 32), "at least 8x8 pixels.*got 4x32"),
        ("DV", "encode", np.zeros((1, 3, 9, 32, 32), np.float32), "expected a torch.Tensor"),
        ("DV", "decode", torch.full((1, 2, 4, 4), 64000), r"indices must lie in 0..63999, got 64000..64000"),
        ("DV", "decode", torch.full((1, 2, 4, 4), -1), r"got -1..-1"),
        ("DV", "decode", torch.zeros(1, 2, 4, 4), "integer indices"),
        ("DV", "decode", torch.zeros(1, 6, 2, 4, 4, dtype=torch.long), r"indices \[B, t, h, w\], got shape"),
        ("CV", "decode", torch.zeros(1, 6, 2, 4, 4), r"latents \[B, 16, t, h, w\], got shape \(1, 6, 2, 4, 4\)"),
        ("DV", "forward", np.zeros((1, 9, 32, 32, 3), np.float32), "uint8 numpy video"),
        ("DV", "forward", np.zeros((1, 9, 32, 32, 4), np.uint8), r"shape \(1, 9, 32, 32, 4\)"),
    ],
)
def test_bad_inputs_raise_value_errors(models, family, method, value, message):
    with pytest.raises(ValueError, match=message):
        getattr(models[family], method)(value)


def test_listed_models(models):
    listed = CausalVideoTokenizer.list_available_models()
    assert [info.pretrained_model_name for info in listed] == list(PRESETS)
    assert listed[-1].location == "https://huggingface.co/nvidia/Cosmos-1.0-Tokenizer-DV8x16x16"
    assert listed[-1].aliases == ["nvidia/Cosmos-1.0-Tokenizer-DV8x16x16"] and listed[-1].class_ is CausalVideoTokenizer
    with pytest.raises(ValueError, match="tile_size must be a multiple of 8"):
        models["CV"].configure_inference(tile_size=60)


def test_training_step_through_the_model(tmp_path):
    """The training mixin drives this model: one Lightning step on generated photos
    changes the native network's weights and keeps the inference settings."""
    import lightning.pytorch as pl
    from PIL import Image

    photos = tmp_path / "photos"
    photos.mkdir()
    for seed in range(2):
        frame = smooth_video(1, 48, 48, seed=seed)[0, :, 0].permute(1, 2, 0)
        Image.fromarray(((frame + 1) * 127.5).round().byte().numpy()).save(photos / f"{seed}.png")
    cfg = CausalVideoTokenizer.make_config(small_config("CI"), dtype="float32", device="cpu")
    cfg.train_ds = {"sources": str(photos), "size": 32, "frames": 1, "samples": 2, "batch_size": 2}
    cfg.optim = {"name": "adamw", "lr": 1e-3}
    cfg.loss = {"ssim_weight": 0.2}
    model = CausalVideoTokenizer(cfg)
    before = model.network.decoder.conv_out.weight.detach().clone()
    trainer = pl.Trainer(
        max_steps=1, accelerator="cpu", logger=False, enable_checkpointing=False,
        enable_progress_bar=False, enable_model_summary=False,
    )
    trainer.fit(model)
    assert not torch.equal(model.network.decoder.conv_out.weight, before)
    assert model.cfg.chunk_latents == 2 and model.autoencode(_clip("CI")).shape == _clip("CI").shape
