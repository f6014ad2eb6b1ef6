"""Building blocks of the Cosmos tokenizers; they know nothing of files, devices or NeMo."""

from nemo_cosmos.modules.attention import SpatialAttention, TemporalAttention
from nemo_cosmos.modules.blocks import ResnetBlock, factorized_conv3d
from nemo_cosmos.modules.conv import CausalConv3d
from nemo_cosmos.modules.fsq import FSQ
from nemo_cosmos.modules.norms import FrameNorm, image_norm, swish
from nemo_cosmos.modules.resample import (
    Downsample2d,
    HybridDownsample3d,
    HybridUpsample3d,
    Upsample2d,
)
from nemo_cosmos.modules.streaming import StreamingModule, start_streaming, stop_streaming
from nemo_cosmos.modules.wavelets import Patcher2d, Patcher3d, Unpatcher2d, Unpatcher3d

__all__ = [
    "CausalConv3d",
    "Downsample2d",
    "FSQ",
    "FrameNorm",
    "HybridDownsample3d",
    "HybridUpsample3d",
    "Patcher2d",
    "Patcher3d",
    "ResnetBlock",
    "SpatialAttention",
    "StreamingModule",
    "TemporalAttention",
    "Unpatcher2d",
    "Unpatcher3d",
    "Upsample2d",
    "factorized_conv3d",
    "image_norm",
    "start_streaming",
    "stop_streaming",
    "swish",
]
