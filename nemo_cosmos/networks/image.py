"""2D encoder and decoder of the image tokenizers (CI, DI)."""

from torch import Tensor, nn

from nemo_cosmos.modules import Downsample2d, Patcher2d, ResnetBlock, Unpatcher2d, Upsample2d, image_norm, swish
from nemo_cosmos.modules.blocks import conv3x3
from nemo_cosmos.networks.config import TokenizerConfig
from nemo_cosmos.networks.layers import Level, MidBlock, attention, log2


class ImageEncoder(nn.Module):
    """Haar patching, ``conv_in``, levels ``down.i`` (blocks, 2x downsample while the
    compression asks for one), ``mid``, ``norm_out``, swish, ``conv_out``."""

    def __init__(self, cfg: TokenizerConfig):
        super().__init__()
        p = cfg.patch_size
        num_downsamples = log2(cfg.spatial_compression) - log2(p)
        self.patcher = Patcher2d(p)
        self.conv_in = conv3x3(cfg.in_channels * p * p, cfg.channels)
        width, resolution = cfg.channels, cfg.resolution // p
        levels = []
        for i, mult in enumerate(cfg.channels_mult):
            blocks, attns = [], []
            for _ in range(cfg.num_res_blocks):
                blocks.append(ResnetBlock(width, cfg.channels * mult, video=False, dropout=cfg.dropout))
                width = cfg.channels * mult
                if resolution in cfg.attn_resolutions:
                    attns.append(attention(width, video=False))
            downsample = Downsample2d(width) if i < num_downsamples else None
            resolution //= 2 if downsample else 1
            levels.append(Level(blocks, attns, downsample, "downsample"))
        self.down = nn.ModuleList(levels)
        self.mid = MidBlock(width, video=False, dropout=cfg.dropout)
        self.norm_out = image_norm(width)
        self.conv_out = conv3x3(width, cfg.z_factor * cfg.z_channels)

    def forward(self, x: Tensor) -> Tensor:
        h = self.conv_in(self.patcher(x))
        for level in self.down:
            h = level(h)
        return self.conv_out(swish(self.norm_out(self.mid(h))))


class ImageDecoder(nn.Module):
    """``conv_in``, ``mid``, levels ``up.i`` from the lowest resolution (blocks, 2x
    upsample while the compression asks for one), ``norm_out``, swish, ``conv_out``, inverse Haar."""

    def __init__(self, cfg: TokenizerConfig):
        super().__init__()
        p, mults = cfg.patch_size, cfg.channels_mult
        num_upsamples = log2(cfg.spatial_compression) - log2(p)
        width = cfg.channels * mults[-1]
        resolution = cfg.resolution // p // 2**num_upsamples
        self.conv_in = conv3x3(cfg.z_channels, width)
        self.mid = MidBlock(width, video=False, dropout=cfg.dropout)
        levels = []
        for i in reversed(range(len(mults))):
            blocks, attns = [], []
            for _ in range(cfg.num_res_blocks + 1):
                blocks.append(ResnetBlock(width, cfg.channels * mults[i], video=False, dropout=cfg.dropout))
                width = cfg.channels * mults[i]
                if resolution in cfg.attn_resolutions:
                    attns.append(attention(width, video=False))
            upsample = Upsample2d(width) if i >= len(mults) - num_upsamples else None
            resolution *= 2 if upsample else 1
            levels.insert(0, Level(blocks, attns, upsample, "upsample"))
        self.up = nn.ModuleList(levels)
        self.norm_out = image_norm(width)
        self.conv_out = conv3x3(width, cfg.out_channels * p * p)
        self.unpatcher = Unpatcher2d(p)

    def forward(self, z: Tensor) -> Tensor:
        h = self.mid(self.conv_in(z))
        for level in reversed(self.up):
            h = level(h)
        return self.unpatcher(self.conv_out(swish(self.norm_out(h))))
