"""How much the temporal attention's key/value cache grows, and whether a clip's fits.

Exact streaming keeps, in every causal temporal attention layer, the keys and values of
all earlier frames of the clip. A layer at spatial factor ``s`` and temporal factor ``f``
with ``C`` channels holds per latent frame ``2 (K and V) x B x (H/s) x (W/s) x C x
(ct/f)`` numbers. In the official video tokenizers attention sits only in the mid
blocks (``attn_resolutions`` ``[32]`` is never reached by the levels), at the latent
grid: ``s = cs``, one frame per latent frame, ``C = channels x channels_mult[-1]`` (512),
so each half holds ``2 x B x (H/cs) x (W/cs) x 512 x itemsize`` bytes per latent frame:
19.7 MB at 480x640 and 133 MB at 1080x1920 in float32, half that in bfloat16. While a chunk is attended, the grown cache is built next to the old one, so
the peak grows about twice as fast (measured: +60 MB per latent frame when encoding 480p
in float32). :func:`check_kv_cache_fits` refuses a clip whose cache cannot fit before
any frame is encoded.
"""

from dataclasses import dataclass
from pathlib import Path

import torch
from nemo.utils import logging

from nemo_cosmos.networks.config import TokenizerConfig
from nemo_cosmos.networks.layers import log2

MEMINFO = Path("/proc/meminfo")


@dataclass(frozen=True)
class _AttentionSite:
    """One causal temporal attention layer: spatial factor, frames per latent frame, channels."""

    spatial_factor: int
    frames_per_latent: int
    channels: int


def _encoder_sites(cfg: TokenizerConfig) -> list[_AttentionSite]:
    p, mults = cfg.patch_size, cfg.channels_mult
    spatial_steps = log2(cfg.spatial_compression) - log2(p)
    temporal_steps = log2(cfg.temporal_compression) - log2(p)
    sites = []
    for i, mult in enumerate(mults):
        if cfg.resolution // p // 2**i in cfg.attn_resolutions:
            temporal = p * 2 ** min(i, temporal_steps)
            site = _AttentionSite(p * 2 ** min(i, spatial_steps), cfg.temporal_compression // temporal, cfg.channels * mult)
            sites += [site] * cfg.num_res_blocks
    return [*sites, _AttentionSite(cfg.spatial_compression, 1, cfg.channels * mults[-1])]


def _decoder_sites(cfg: TokenizerConfig) -> list[_AttentionSite]:
    p, mults = cfg.patch_size, cfg.decoder_channels_mult
    levels = len(mults)
    spatial_steps = log2(cfg.spatial_compression) - log2(p)
    temporal_steps = log2(cfg.temporal_compression) - log2(p)
    steps = []  # (spatial, temporal) upsampling after each level, from the lowest resolution (as VideoDecoder)
    for r in range(levels - 1):
        temporal = r < temporal_steps if cfg.legacy_mode else 0 < r < temporal_steps + 1
        steps.append((temporal or (r < spatial_steps and spatial_steps > temporal_steps), temporal))
    sites = [_AttentionSite(cfg.spatial_compression, 1, cfg.channels * mults[-1])]
    lowest = cfg.resolution // p // 2 ** (levels - 1)
    for i in reversed(range(levels)):
        done = steps[: levels - 1 - i]  # the upsamplings before level i
        if lowest * 2 ** (levels - 1 - i) in cfg.attn_resolutions:
            spatial_ups, temporal_ups = sum(s for s, _ in done), sum(t for _, t in done)
            site = _AttentionSite(cfg.spatial_compression // 2**spatial_ups, 2**temporal_ups, cfg.channels * mults[i])
            sites += [site] * (cfg.num_res_blocks + 1)
    return sites


def kv_cache_bytes_per_latent(
    config: TokenizerConfig, halves: tuple[str, ...], height: int, width: int, batch: int, dtype: torch.dtype
) -> int:
    """Bytes the key/value caches of ``halves`` (``"encoder"``, ``"decoder"``) grow by per
    latent frame, for frames of ``height x width`` (padded to the grid) and ``batch`` clips."""
    cs = config.spatial_compression
    latent_h, latent_w = -(-height // cs), -(-width // cs)
    itemsize = torch.empty((), dtype=dtype).element_size()
    total = 0
    for half in halves:
        for site in _encoder_sites(config) if half == "encoder" else _decoder_sites(config):
            scale = cs // site.spatial_factor
            positions = latent_h * scale * latent_w * scale
            total += 2 * batch * positions * site.channels * site.frames_per_latent * itemsize
    return total


def free_memory(device: torch.device) -> int | None:
    """Bytes free on ``device`` (CUDA: the driver's count; CPU: ``MemAvailable``); None when unknown."""
    if device.type == "cuda":
        return torch.cuda.mem_get_info(device)[0]
    if device.type == "cpu" and MEMINFO.is_file():
        for line in MEMINFO.read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    return None


def check_kv_cache_fits(cache_bytes: int, place: torch.device, what: str) -> None:
    """Refuse (``ValueError``) a clip whose final key/value cache exceeds the free memory of
    ``place``; warn when it takes more than half of it (activations need room too)."""
    free = free_memory(place)
    if free is None:
        return
    numbers = f"{what}: the attention key/value cache reaches {cache_bytes / 1e9:.2f} GB, {place} has {free / 1e9:.2f} GB free"
    if cache_bytes > free:
        raise ValueError(
            f"{numbers}. Exact streaming keeps every earlier frame's keys and values; use stream_cache='host' "
            "(CUDA), shorter clips, smaller frames, or independent windows (autoencode(x, temporal_window=...))"
        )
    if 2 * cache_bytes > free:
        logging.warning(f"{numbers}; it may not fit beside the activations")
