"""Image and video tokenizer networks; they know nothing of devices, files or the hub."""

from nemo_cosmos.networks.config import TokenizerConfig
from nemo_cosmos.networks.tokenizer import CosmosTokenizer, build_network

__all__ = ["CosmosTokenizer", "TokenizerConfig", "build_network"]
