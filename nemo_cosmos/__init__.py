"""nemo-cosmos: NVIDIA Cosmos tokenizers for the NeMo ecosystem."""

from nemo_cosmos.networks import CosmosTokenizer, TokenizerConfig, build_network
from nemo_cosmos.pretrained import PRESETS, load_weights, preset_config, read_state_dict

__all__ = ["PRESETS", "CosmosTokenizer", "TokenizerConfig", "build_network", "load_weights", "preset_config", "read_state_dict"]
