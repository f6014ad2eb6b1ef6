"""Image and video tokenizer networks built from a :class:`TokenizerConfig`; they know
nothing of devices, files, presets or the hub (``nemo_cosmos.pretrained.build_network``
builds one from a preset name)."""

from nemo_cosmos.networks.config import TokenizerConfig
from nemo_cosmos.networks.tokenizer import CosmosTokenizer

__all__ = ["CosmosTokenizer", "TokenizerConfig"]
