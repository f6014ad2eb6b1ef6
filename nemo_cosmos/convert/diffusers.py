"""Our continuous video tokenizers (CV*) <-> diffusers' ``AutoencoderKLCosmos``.

Both hold the same network; only the parameter names differ, and diffusers numbers its
decoder blocks from the lowest resolution up (``up_blocks.0`` is our ``up.{L-1}``).
Differences that matter when comparing the two (diffusers 0.42):

- diffusers' model applies no latent normalisation in ``encode``/``decode``; its
  ``latents_mean``/``latents_std`` config entries (statistics of Cosmos-1.0-CV8x8x8) are
  only read by pipelines. We pass ``None`` unless the caller gives statistics.
- Attention inside levels (custom ``attn_resolutions``) is placed by a resolution
  counter that halves (doubles) at every level but the last, in both, as in the
  reference; the key check below rejects any config that still does not map.
- diffusers' temporal upsampling repeats frames only when more than one latent frame
  comes in; for whole clips that is the same as ours (``T -> 2T - 1``).
- diffusers keeps its Haar filter taps ``1/sqrt(2)`` in a float32 buffer and rescales
  by ``8**-0.5`` per level; in float64 that float32 rounding alone makes the two differ
  by about 1e-7 relative. With exact taps they agree to float64 round-off.
- Discrete (DV) and image (CI/DI) models have no diffusers counterpart here.
"""

import re

from torch import Tensor

from nemo_cosmos.networks.config import TokenizerConfig
from nemo_cosmos.networks.tokenizer import CosmosTokenizer

# Applied in order to every key of our state_dict (after the decoder's block renumbering).
_RENAMES = [
    (r"\.conv3d\.", "."),  # our CausalConv3d wraps nn.Conv3d; theirs is one
    (r"\.(conv_in|conv_out|conv1|conv2)\.0\.", r".\1.conv_s."),  # factorised conv: spatial
    (r"\.(conv_in|conv_out|conv1|conv2)\.1\.", r".\1.conv_t."),  # then temporal
    (r"\.nin_shortcut\.", ".conv_shortcut."),
    (r"\.mid\.block_1\.", ".mid_block.resnets.0."),
    (r"\.mid\.block_2\.", ".mid_block.resnets.1."),
    (r"\.mid\.attn_1\.0\.", ".mid_block.attentions.0."),
    (r"\.mid\.attn_1\.1\.", ".mid_block.temp_attentions.0."),
    (r"\.(down|up)\.(\d+)\.attn\.(\d+)\.0\.", r".\1.\2.attentions.\3."),
    (r"\.(down|up)\.(\d+)\.attn\.(\d+)\.1\.", r".\1.\2.temp_attentions.\3."),
    (r"\.(down|up)\.(\d+)\.block\.", r".\1.\2.resnets."),
    (r"\.down\.(\d+)\.downsample\.", r".down.\1.downsamplers.0."),
    (r"\.up\.(\d+)\.upsample\.", r".up.\1.upsamplers.0."),
    (r"^encoder\.down\.", "encoder.down_blocks."),
    (r"^decoder\.up\.", "decoder.up_blocks."),
    (r"attentions\.(\d+)\.(q|k|v)\.", r"attentions.\1.to_\2."),
    (r"attentions\.(\d+)\.proj_out\.", r"attentions.\1.to_out.0."),
]


def check_convertible(config: TokenizerConfig) -> None:
    """Raise ``ValueError`` unless diffusers' ``AutoencoderKLCosmos`` can hold this model."""
    if config.family != "CV":
        raise ValueError(f"diffusers' AutoencoderKLCosmos is a continuous video model; {config.short_name} is not (CV only)")
    if config.legacy_mode:
        raise ValueError("diffusers' AutoencoderKLCosmos has no legacy_mode decoder")
    if not config.z_channels == config.latent_channels == config.z_factor * config.z_channels:
        raise ValueError(
            "diffusers' AutoencoderKLCosmos needs z_channels == latent_channels and z_factor 1, got "
            f"z_channels={config.z_channels}, latent_channels={config.latent_channels}, z_factor={config.z_factor}"
        )


def diffusers_config(
    config: TokenizerConfig, latents_mean: list[float] | None = None, latents_std: list[float] | None = None
) -> dict:
    """The ``AutoencoderKLCosmos(**kwargs)`` arguments of the same architecture."""
    check_convertible(config)
    encoder_mults = config.channels_mult
    decoder_mults = config.decoder_channels_mult
    return {
        "in_channels": config.in_channels,
        "out_channels": config.out_channels,
        "latent_channels": config.latent_channels,
        "encoder_block_out_channels": [config.channels] + [config.channels * m for m in encoder_mults],
        "decode_block_out_channels": [config.channels * m for m in decoder_mults] + [config.channels * decoder_mults[-1]],
        "attention_resolutions": list(config.attn_resolutions),
        "resolution": config.resolution,
        "num_layers": config.num_res_blocks,
        "patch_size": config.patch_size,
        "patch_type": "haar",
        "scaling_factor": 1.0,
        "spatial_compression_ratio": config.spatial_compression,
        "temporal_compression_ratio": config.temporal_compression,
        "latents_mean": latents_mean,
        "latents_std": latents_std,
    }


def diffusers_key(key: str, config: TokenizerConfig) -> str:
    """The diffusers name of one of our state_dict keys."""
    levels = len(config.decoder_channels_mult)
    key = re.sub(r"^decoder\.up\.(\d+)\.", lambda m: f"decoder.up.{levels - 1 - int(m.group(1))}.", key)
    for pattern, replacement in _RENAMES:
        key = re.sub(pattern, replacement, key)
    return key


def to_diffusers_state_dict(state_dict: dict[str, Tensor], config: TokenizerConfig) -> dict[str, Tensor]:
    """Rename every tensor of our state_dict (both halves) to diffusers' layout."""
    check_convertible(config)
    return {diffusers_key(key, config): value for key, value in state_dict.items()}


def from_diffusers_state_dict(state_dict: dict[str, Tensor], config: TokenizerConfig) -> dict[str, Tensor]:
    """Rename a diffusers ``AutoencoderKLCosmos`` state_dict to ours (strict: every key must map)."""
    check_convertible(config)
    ours = CosmosTokenizer(config).state_dict(keep_vars=True).keys()
    names = {diffusers_key(key, config): key for key in ours}
    unknown = sorted(set(state_dict) - set(names))
    missing = sorted(set(names) - set(state_dict))
    if unknown or missing:
        raise ValueError(
            f"diffusers state_dict does not fit {config.short_name}: "
            f"{len(missing)} missing (e.g. {missing[:3]}), {len(unknown)} unexpected (e.g. {unknown[:3]})"
        )
    return {names[key]: value for key, value in state_dict.items()}


def to_diffusers(network: CosmosTokenizer, **config_overrides) -> "AutoencoderKLCosmos":  # noqa: F821
    """A diffusers ``AutoencoderKLCosmos`` holding ``network``'s weights (needs both halves),
    on the network's device and in its dtype.

    The key sets must match exactly; a mismatch (e.g. attention placed differently)
    raises ``ValueError`` listing the keys.
    """
    try:
        from diffusers import AutoencoderKLCosmos
    except ImportError as error:
        raise ImportError("converting to diffusers needs `pip install diffusers>=0.34` (extra `bench`)") from error
    if not (network.has_encoder and network.has_decoder):
        raise ValueError("converting to diffusers needs a network with both its encoder and its decoder")
    peer = AutoencoderKLCosmos(**{**diffusers_config(network.config), **config_overrides})
    state_dict = to_diffusers_state_dict(network.state_dict(), network.config)
    expected = peer.state_dict()
    unknown = sorted(set(state_dict) - set(expected))
    missing = sorted(set(expected) - set(state_dict))
    misshaped = sorted(k for k in set(state_dict) & set(expected) if state_dict[k].shape != expected[k].shape)
    if unknown or missing or misshaped:
        raise ValueError(
            f"{network.config.short_name} does not map onto AutoencoderKLCosmos: {len(missing)} missing "
            f"(e.g. {missing[:3]}), {len(unknown)} unexpected (e.g. {unknown[:3]}), misshaped: {misshaped[:3]}"
        )
    # assign=True: the peer takes our dtype (diffusers' own .to(dtype) warns about fp32 modules)
    # and device, but only for the weights: its non-persistent buffers (Haar taps, index
    # ranges) stay where it was built, so they follow the network's device, dtypes kept.
    peer.load_state_dict({k: v.detach().clone() for k, v in state_dict.items()}, strict=True, assign=True)
    return peer.to(device=next(network.parameters()).device).eval()
