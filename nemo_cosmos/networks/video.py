"""Factorised, temporally causal 3D encoder and decoder of the video tokenizers (CV, DV)."""

import torch
from torch import Tensor, nn

from nemo_cosmos.modules import (
    FrameNorm,
    HybridDownsample3d,
    HybridUpsample3d,
    Patcher3d,
    ResnetBlock,
    Unpatcher3d,
    factorized_conv3d,
    swish,
)
from nemo_cosmos.networks.config import TokenizerConfig
from nemo_cosmos.networks.layers import Level, MidBlock, attention, log2, unused_resampler_weights

SPATIAL, TEMPORAL, POINTWISE = (1, 3, 3), (3, 1, 1), (1, 1, 1)


class VideoEncoder(nn.Module):
    """Haar patching (first frame repeated), factorised ``conv_in``, levels ``down.i`` with
    hybrid downsampling in space and/or time, ``mid``, ``norm_out``, swish, ``conv_out``."""

    def __init__(self, cfg: TokenizerConfig):
        super().__init__()
        p, mults = cfg.patch_size, cfg.channels_mult
        spatial_steps = log2(cfg.spatial_compression) - log2(p)
        temporal_steps = log2(cfg.temporal_compression) - log2(p)
        self.patcher3d = Patcher3d(p)
        self.conv_in = factorized_conv3d(cfg.in_channels * p**3, cfg.channels)
        width, resolution = cfg.channels, cfg.resolution // p
        self.unused_reference_weights: dict[str, torch.Size] = {}
        levels = []
        for i, mult in enumerate(mults):
            blocks, attns = [], []
            for _ in range(cfg.num_res_blocks):
                blocks.append(ResnetBlock(width, cfg.channels * mult, video=True, dropout=cfg.dropout))
                width = cfg.channels * mult
                if resolution in cfg.attn_resolutions:
                    attns.append(attention(width, video=True))
            downsample = None
            if i < len(mults) - 1:
                spatial, temporal = i < spatial_steps, i < temporal_steps
                if spatial or temporal:
                    downsample = HybridDownsample3d(width, spatial, temporal)
                resolution //= 2  # the reference halves it at every level but the last
                convs = {"conv1": (SPATIAL, spatial), "conv2": (TEMPORAL, temporal), "conv3": (POINTWISE, spatial or temporal)}
                self.unused_reference_weights.update(unused_resampler_weights(f"down.{i}.downsample", width, convs))
            levels.append(Level(blocks, attns, downsample, "downsample"))
        self.down = nn.ModuleList(levels)
        self.mid = MidBlock(width, video=True, dropout=cfg.dropout)
        self.norm_out = FrameNorm(width)
        self.conv_out = factorized_conv3d(width, cfg.z_factor * cfg.z_channels)

    def forward(self, x: Tensor) -> Tensor:
        h = self.conv_in(self.patcher3d(x))
        for level in self.down:
            h = level(h)
        return self.conv_out(swish(self.norm_out(self.mid(h))))


class VideoDecoder(nn.Module):
    """Factorised ``conv_in``, ``mid``, levels ``up.i`` from the lowest resolution with
    hybrid upsampling, ``norm_out``, swish, factorised ``conv_out``, inverse Haar."""

    def __init__(self, cfg: TokenizerConfig):
        super().__init__()
        p, mults = cfg.patch_size, cfg.decoder_channels_mult
        spatial_steps = log2(cfg.spatial_compression) - log2(p)
        temporal_steps = log2(cfg.temporal_compression) - log2(p)
        width = cfg.channels * mults[-1]
        self.conv_in = factorized_conv3d(cfg.z_channels, width)
        self.mid = MidBlock(width, video=True, dropout=cfg.dropout)
        self.unused_reference_weights: dict[str, torch.Size] = {}
        steps = []  # (spatial, temporal) of up.i for i = L-1 .. 1
        for r in range(len(mults) - 1):  # r = L - 1 - i, 0 at the lowest resolution
            temporal = r < temporal_steps if cfg.legacy_mode else 0 < r < temporal_steps + 1
            steps.append((temporal or (r < spatial_steps and spatial_steps > temporal_steps), temporal))
        resolution = cfg.resolution // p // 2 ** (len(mults) - 1)  # as the reference counts
        levels = []
        for i in reversed(range(len(mults))):
            blocks, attns = [], []
            for _ in range(cfg.num_res_blocks + 1):
                blocks.append(ResnetBlock(width, cfg.channels * mults[i], video=True, dropout=cfg.dropout))
                width = cfg.channels * mults[i]
                if resolution in cfg.attn_resolutions:
                    attns.append(attention(width, video=True))
            upsample = None
            if i != 0:
                spatial, temporal = steps[len(mults) - 1 - i]
                if spatial or temporal:
                    upsample = HybridUpsample3d(width, spatial, temporal)
                resolution *= 2
                convs = {"conv1": (TEMPORAL, temporal), "conv2": (SPATIAL, spatial), "conv3": (POINTWISE, spatial or temporal)}
                self.unused_reference_weights.update(unused_resampler_weights(f"up.{i}.upsample", width, convs))
            levels.insert(0, Level(blocks, attns, upsample, "upsample"))
        self.up = nn.ModuleList(levels)
        self.norm_out = FrameNorm(width)
        self.conv_out = factorized_conv3d(width, cfg.out_channels * p**3)
        self.unpatcher3d = Unpatcher3d(p)

    def forward(self, z: Tensor) -> Tensor:
        h = self.mid(self.conv_in(z))
        for level in reversed(self.up):
            h = level(h)
        return self.unpatcher3d(self.conv_out(swish(self.norm_out(h))))
