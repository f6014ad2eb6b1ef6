"""Properties of the networks that hold for any weights: shapes, causality, FSQ, wavelets, dtypes."""

import json

import pytest
import torch

from nemo_cosmos import PRESETS, build_network, preset_config
from nemo_cosmos.formula_weights import fill_with_formula
from nemo_cosmos.modules import FSQ
from nemo_cosmos.modules.wavelets import haar_patch_2d, haar_patch_3d, haar_unpatch_2d, haar_unpatch_3d

from conftest import small_config

VIDEO_COMPRESSIONS = [("CV", 4, 8), ("CV", 8, 8), ("CV", 8, 16), ("DV", 4, 8), ("DV", 8, 8), ("DV", 8, 16)]


def small_network(family: str, temporal: int = 4, spatial: int = 8) -> torch.nn.Module:
    return fill_with_formula(build_network(small_config(family, spatial, temporal))).eval()


def test_every_published_name_and_alias_resolves():
    assert len(PRESETS) == 22
    for name in PRESETS:
        assert preset_config(f"nvidia/{name}") == preset_config(name)
    assert preset_config("Cosmos-1.0-Tokenizer-CV8x8x8") == preset_config("Cosmos-Tokenizer-CV8x8x8")


def test_unknown_names_list_the_known_ones():
    with pytest.raises(ValueError, match="unknown tokenizer 'Cosmos-Tokenizer-DV2x2x2'.*Cosmos-Tokenizer-DV8x8x8"):
        build_network("Cosmos-Tokenizer-DV2x2x2")


def test_a_config_matches_itself_as_a_json_file_records_it():
    config = preset_config("Cosmos-Tokenizer-DV4x8x8")
    recorded = json.loads(json.dumps(config.to_dict()))  # levels and channels_mult read back as lists
    assert config.matches(recorded)
    assert not config.matches({**recorded, "channels": 64})
    assert not config.matches(preset_config("Cosmos-Tokenizer-DV8x8x8").to_dict())


@pytest.mark.parametrize("family,temporal,spatial", VIDEO_COMPRESSIONS)
@pytest.mark.parametrize("frames,height,width", [(1, 16, 16), (17, 32, 48), (33, 16, 32)])
def test_video_shapes(family, temporal, spatial, frames, height, width):
    if height % spatial or width % spatial or (frames - 1) % temporal:
        pytest.skip("not aligned to this compression")
    network = build_network(small_config(family, spatial, temporal)).eval()
    x = torch.zeros(2, 3, frames, height, width)
    latent_shape = (2, 1 + (frames - 1) // temporal, height // spatial, width // spatial)
    with torch.inference_mode():
        encoded = network.encode(x)
        if family == "DV":
            indices, codes = encoded
            assert indices.shape == latent_shape and indices.dtype == torch.int32
            assert codes.shape == (2, 6, *latent_shape[1:])
            assert network.decode(indices).shape == x.shape
        else:
            assert encoded.shape == (2, 16, *latent_shape[1:])
            assert network.decode(encoded).shape == x.shape


@pytest.mark.parametrize("family", ["CI", "DI"])
@pytest.mark.parametrize("spatial", [8, 16])
@pytest.mark.parametrize("height,width", [(16, 16), (48, 80), (64, 32)])
def test_image_shapes(family, spatial, height, width):
    if height % spatial or width % spatial:
        pytest.skip("not aligned to this compression")
    network = build_network(small_config(family, spatial, z_channels=64)).eval()
    x = torch.zeros(3, 3, height, width)
    with torch.inference_mode():
        encoded = network.encode(x)
        latent = encoded[1] if family == "DI" else encoded
        assert latent.shape == (3, 6 if family == "DI" else 16, height // spatial, width // spatial)
        assert network(x).shape == x.shape


@pytest.mark.parametrize("family,temporal", [("CV", 4), ("CV", 8), ("DV", 4), ("DV", 8)])
def test_encoder_is_causal_in_time(family, temporal):
    network = small_network(family, temporal)
    x = torch.empty(1, 3, 1 + 3 * temporal, 16, 16).uniform_(-1, 1)
    k = 1 + temporal  # frames 0..temporal determine latent frames 0 and 1 only
    changed = x.clone()
    changed[:, :, k:] = torch.empty_like(changed[:, :, k:]).uniform_(-1, 1)
    with torch.inference_mode():
        a, b = network.encode(x), network.encode(changed)
    if family == "DV":
        a, b = a[1], b[1]
    torch.testing.assert_close(a[:, :, :2], b[:, :, :2], atol=0, rtol=0)
    assert not torch.allclose(a[:, :, 2:], b[:, :, 2:])


def test_decoder_is_causal_in_time():
    network = small_network("CV", 8)
    z = torch.randn(1, 16, 4, 2, 2)
    changed = z.clone()
    changed[:, :, 2:] += 1
    with torch.inference_mode():
        a, b = network.decode(z), network.decode(changed)
    torch.testing.assert_close(a[:, :, : 1 + 8], b[:, :, : 1 + 8], atol=0, rtol=0)
    assert not torch.allclose(a[:, :, 9:], b[:, :, 9:])


def test_fsq_round_trips_all_64000_indices():
    fsq = FSQ([8, 8, 8, 5, 5, 5])
    indices = torch.arange(64000, dtype=torch.int32).view(1, 40, 1600)
    codes = fsq.indices_to_codes(indices)
    assert codes.shape == (1, 6, 40, 1600)
    assert codes.min() == -1 and codes.max() == 1
    assert torch.equal(fsq.codes_to_indices(codes), indices)
    assert torch.equal(fsq.quantize(codes * 3), fsq.quantize(codes * 3).clamp(-1, 1))
    assert torch.unique(codes.view(6, -1), dim=1).shape[1] == 64000


def test_fsq_quantize_is_idempotent_on_codes_and_passes_gradients():
    fsq = FSQ([8, 8, 8, 5, 5, 5])
    z = torch.randn(2, 6, 3, 4, requires_grad=True)
    indices, codes = fsq(z)
    assert indices.min() >= 0 and indices.max() < 64000
    codes.sum().backward()
    assert z.grad is not None and z.grad.abs().sum() > 0
    assert torch.equal(fsq.indices_to_codes(indices), codes.detach())


def test_haar_transforms_invert_exactly_enough():
    video = torch.randn(2, 3, 8, 16, 24, dtype=torch.float64)
    image = torch.randn(2, 3, 16, 24, dtype=torch.float64)
    torch.testing.assert_close(haar_unpatch_3d(haar_patch_3d(video, 4), 4), video)
    torch.testing.assert_close(haar_unpatch_2d(haar_patch_2d(image, 4), 4), image)
    # Orthogonal up to scale: energy divides by the patch volume.
    assert torch.allclose(haar_patch_3d(video, 4).pow(2).sum() * 64, video.pow(2).sum())


def test_haar_low_band_is_the_patch_mean():
    video = torch.randn(1, 2, 4, 8, 8)
    bands = haar_patch_3d(video, 4)
    means = video.reshape(1, 2, 1, 4, 2, 4, 2, 4).mean(dim=(3, 5, 7))
    torch.testing.assert_close(bands[:, :2], means)


@pytest.mark.parametrize("family", ["CV", "DV", "CI", "DI"])
def test_bfloat16_forward_stays_close_to_float32(family):
    """Encoder (before quantisation) and decoder each stay within a few percent of float32;
    discrete indices mostly agree (bf16 moves values near a rounding boundary across it)."""
    video = family.endswith("V")
    network = fill_with_formula(build_network(small_config(family, z_channels=16 if video else 64))).eval()
    x = torch.linspace(-1, 1, 3 * 9 * 32 * 32).reshape(1, 3, 9, 32, 32).sin()
    x = x if video else x[:, :, 0]

    def relative_error(half: torch.Tensor, full: torch.Tensor) -> float:
        assert half.dtype == torch.bfloat16
        return float((half.float() - full).abs().mean() / full.abs().mean())

    with torch.inference_mode():
        latent = network.quant_conv(network.encoder(x))
        codes = network.quantizer.quantize(latent) if network.quantizer else latent
        pixels = network.decode_codes(codes)
        network.to(torch.bfloat16)
        latent_bf16 = network.quant_conv(network.encoder(x.bfloat16()))
        pixels_bf16 = network.decode_codes(codes.bfloat16())
        if network.quantizer:
            agree = (network.quantizer(latent_bf16)[0] == network.quantizer(latent)[0]).float().mean()
            assert agree > 0.8
    assert relative_error(latent_bf16, latent) < 0.05
    assert relative_error(pixels_bf16, pixels) < 0.05


def test_encoder_only_and_decoder_only_networks():
    encoder = build_network(small_config("DV"), decoder=False)
    decoder = build_network(small_config("DV"), encoder=False)
    assert not any(k.startswith(("decoder.", "post_quant_conv.")) for k in encoder.state_dict())
    assert not any(k.startswith(("encoder.", "quant_conv.")) for k in decoder.state_dict())
    with pytest.raises(RuntimeError, match="without its decoder"):
        encoder.decode(torch.zeros(1, 1, 2, 2, dtype=torch.int32))
    with pytest.raises(RuntimeError, match="without its encoder"):
        decoder.encode(torch.zeros(1, 3, 1, 8, 8))


@pytest.mark.parametrize(
    "shape,message",
    [
        ((1, 3, 16, 16), r"expected video \[B, C, T, H, W\] with C=3, got shape \(1, 3, 16, 16\)"),
        ((1, 4, 5, 16, 16), "with C=3"),
        ((1, 3, 6, 16, 16), r"a clip needs 1 \+ k\*4 frames \(e.g. 5, 9, 17\), got 6"),
        ((1, 3, 5, 12, 16), "multiples of the spatial compression 8, got 12x16"),
        ((0, 3, 5, 16, 16), "empty input"),
    ],
)
def test_bad_pixel_shapes_raise_value_errors(shape, message):
    network = build_network(small_config("DV"))
    with pytest.raises(ValueError, match=message):
        network.encode(torch.zeros(shape))


def test_bad_indices_and_codes_raise_value_errors():
    network = build_network(small_config("DV"))
    with pytest.raises(ValueError, match=r"indices must lie in 0..63999, got 0..64000"):
        network.decode(torch.tensor([[[[0, 64000]]]]))
    with pytest.raises(ValueError, match="decodes integer indices"):
        network.decode(torch.zeros(1, 6, 1, 1, 1))
    with pytest.raises(ValueError, match="with 6 channels"):
        network.decode_codes(torch.zeros(1, 5, 1, 1, 1))


@pytest.mark.parametrize("family", ["CV", "CI"])
def test_attention_takes_the_fused_path(family):
    """The math fallback holds an (H*W)^2 score matrix per frame: 4 GB at 1080p."""
    from torch.profiler import profile

    network = build_network(small_config(family, z_channels=16 if family == "CV" else 64), decoder=False).eval()
    x = torch.zeros(1, 3, 5, 32, 32) if family == "CV" else torch.zeros(1, 3, 32, 32)
    with torch.inference_mode(), profile() as trace:
        network.encode(x)
    ops = {event.key for event in trace.key_averages()}
    assert "aten::_scaled_dot_product_flash_attention_for_cpu" in ops
    assert "aten::_scaled_dot_product_attention_math" not in ops


@pytest.mark.parametrize("shape", [(1, 8, 5, 6, 6), (1, 16, 3, 440, 8)])  # below and above the slow-conv3d limit
def test_spatial_causal_conv_equals_conv3d_on_both_paths(shape):
    from nemo_cosmos.modules.conv import _SLOW_CONV3D_LIMIT, CausalConv3d

    conv = fill_with_formula(CausalConv3d(shape[1], 12, (1, 3, 3), padding=1)).double()
    x = torch.randn(shape, dtype=torch.float64)
    expected = torch.nn.functional.conv3d(x, conv.conv3d.weight, conv.conv3d.bias, padding=(0, 1, 1))
    assert (torch.Size(shape[:4]).numel() <= _SLOW_CONV3D_LIMIT) == (shape[3] == 6)
    torch.testing.assert_close(conv(x), expected, rtol=0, atol=1e-12)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32, torch.bfloat16])
def test_frame_norm_is_group_norm_per_frame(dtype):
    """Against nn.GroupNorm(1) on time folded into the batch, with and without autograd."""
    from nemo_cosmos.modules.norms import FrameNorm

    norm = fill_with_formula(FrameNorm(16)).to(dtype)
    x = (torch.randn(2, 16, 3, 5, 7, dtype=torch.float64) * 3 + 2).to(dtype)
    folded = x.double().transpose(1, 2).flatten(0, 1)
    expected = torch.nn.functional.group_norm(folded, 1, norm.norm.weight.double(), norm.norm.bias.double(), 1e-6)
    expected = expected.unflatten(0, (2, 3)).transpose(1, 2)
    tolerance = {torch.float64: 1e-12, torch.float32: 1e-5, torch.bfloat16: 0.05}[dtype]
    with torch.no_grad():
        torch.testing.assert_close(norm(x).double(), expected, rtol=0, atol=tolerance)
    x.requires_grad_(True)
    out = norm(x)
    out.sum().backward()
    torch.testing.assert_close(out.detach().double(), expected, rtol=0, atol=tolerance)
    assert x.grad is not None and x.grad.dtype == dtype
