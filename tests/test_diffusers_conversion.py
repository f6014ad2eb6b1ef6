"""Our CV networks against diffusers' AutoencoderKLCosmos on the same (formula) weights."""

import pytest
import torch

from nemo_cosmos import TokenizerConfig, build_network
from nemo_cosmos.convert.diffusers import (
    diffusers_config,
    from_diffusers_state_dict,
    to_diffusers,
    to_diffusers_state_dict,
)
from nemo_cosmos.formula_weights import fill_with_formula

diffusers = pytest.importorskip("diffusers")

SMALL = {"family": "CV", "channels": 32, "channels_mult": [1, 2, 2], "num_res_blocks": 1}
# resolution 64 with attention at 16: our and diffusers' resolution counters agree on
# where attention goes (encoder level 0, last decoder level), so levels with attention
# are covered too, not only the mid blocks.
SMALL_CONFIGS = {
    "CV8x8x8": TokenizerConfig(**SMALL, spatial_compression=8, temporal_compression=8, resolution=64, attn_resolutions=[16]),
    "CV4x8x8": TokenizerConfig(**SMALL, spatial_compression=8, temporal_compression=4),
    "CV8x16x16": TokenizerConfig(**SMALL, spatial_compression=16, temporal_compression=8),
}


@pytest.mark.parametrize("name", sorted(SMALL_CONFIGS))
def test_same_latent_and_reconstruction_as_diffusers(name):
    config = SMALL_CONFIGS[name]
    network = fill_with_formula(build_network(config)).eval()
    peer = to_diffusers(network)
    generator = torch.Generator().manual_seed(0)
    x = torch.empty(1, 3, 1 + 2 * config.temporal_compression, 32, 48).uniform_(-1, 1, generator=generator)
    with torch.inference_mode():
        latent = network.encode(x)
        peer_latent = peer.encode(x).latent_dist.mode()
        video = network.decode(latent)
        peer_video = peer.decode(latent).sample
    assert peer_latent.shape == latent.shape
    assert peer_video.shape == video.shape == x.shape
    # Only float32 rounding differs (different op order, diffusers' float32 Haar taps):
    # measured about 1e-6 of the output's magnitude; a wrong key would be O(1).
    assert (latent - peer_latent).abs().max() <= 1e-5 * latent.abs().max()
    assert (video - peer_video).abs().max() <= 1e-5 * video.abs().max()


def test_the_peer_lives_on_the_networks_device():
    """Loading with assign=True moves only the weights; diffusers' non-persistent buffers (Haar
    taps, index ranges) must follow, or a CUDA comparison mixes devices. The meta device
    stands in for CUDA: every tensor of the peer must end up there."""
    with torch.device("meta"):
        network = build_network(SMALL_CONFIGS["CV8x8x8"])
    peer = to_diffusers(network)
    buffers = dict(peer.named_buffers())
    assert any(name.endswith("wavelets") for name in buffers)
    elsewhere = [name for name, tensor in [*peer.named_parameters(), *buffers.items()] if tensor.device.type != "meta"]
    assert elsewhere == []
    assert {tensor.dtype for name, tensor in buffers.items() if name.endswith("wavelets")} == {torch.float32}


@pytest.mark.gpu
def test_same_latent_as_diffusers_on_cuda():
    config = SMALL_CONFIGS["CV8x8x8"]
    network = fill_with_formula(build_network(config)).eval().cuda()
    peer = to_diffusers(network)
    x = torch.empty(1, 3, 1 + 2 * config.temporal_compression, 32, 48, device="cuda").uniform_(-1, 1)
    with torch.inference_mode():
        latent = network.encode(x)
        peer_latent = peer.encode(x).latent_dist.mode()
        video = network.decode(latent)
        peer_video = peer.decode(latent).sample
    # float32 on CUDA: TF32 convolutions (cuDNN's default) may differ between the two orders of ops
    assert (latent - peer_latent).abs().max() <= 1e-2 * latent.abs().max()
    assert (video - peer_video).abs().max() <= 1e-2 * video.abs().max()


@pytest.mark.parametrize("model", ["CV4x8x8", "CV8x8x8", "CV8x16x16"])
def test_official_presets_map_key_for_key(model):
    """Full-size official configs, built on the meta device: same names and shapes."""
    from diffusers import AutoencoderKLCosmos

    with torch.device("meta"):
        network = build_network(f"Cosmos-Tokenizer-{model}")
        peer = AutoencoderKLCosmos(**diffusers_config(network.config))
    ours = to_diffusers_state_dict(network.state_dict(), network.config)
    theirs = peer.state_dict()
    assert sorted(ours) == sorted(theirs)
    assert all(ours[key].shape == theirs[key].shape for key in ours)


def test_cv8x8x8_is_diffusers_default_architecture():
    from diffusers import AutoencoderKLCosmos

    with torch.device("meta"):
        default_model = AutoencoderKLCosmos()
    ours = diffusers_config(build_network("Cosmos-Tokenizer-CV8x8x8", decoder=False).config)
    for key, value in ours.items():
        if key not in ("latents_mean", "latents_std"):
            expected = default_model.config[key]
            assert value == (list(expected) if isinstance(expected, tuple) else expected), key


def test_state_dict_round_trip():
    config = SMALL_CONFIGS["CV8x8x8"]
    state_dict = fill_with_formula(build_network(config)).state_dict()
    back = from_diffusers_state_dict(to_diffusers_state_dict(state_dict, config), config)
    assert back.keys() == state_dict.keys()
    assert all(back[key] is state_dict[key] for key in state_dict)


def test_attention_inside_levels_lands_where_diffusers_puts_it():
    """Both count resolutions as the reference does: halved at every level but the last."""
    config = TokenizerConfig(**SMALL, spatial_compression=8, temporal_compression=8, resolution=64, attn_resolutions=[8])
    network = build_network(config)
    assert any(".attn." in key for key in network.state_dict())
    to_diffusers(network)  # the key sets match exactly, or this raises


def test_rejects_what_diffusers_cannot_hold():
    with pytest.raises(ValueError, match="CV only"):
        diffusers_config(TokenizerConfig(**{**SMALL, "family": "DV"}, spatial_compression=8, temporal_compression=8))
    legacy = TokenizerConfig(**SMALL, spatial_compression=8, temporal_compression=8, legacy_mode=True)
    with pytest.raises(ValueError):
        diffusers_config(legacy)
    partial = {"quant_conv.weight": torch.zeros(16, 16, 1, 1, 1)}
    with pytest.raises(ValueError, match="missing"):
        from_diffusers_state_dict(partial, SMALL_CONFIGS["CV8x8x8"])
