"""nemo-cosmos: NVIDIA Cosmos tokenizers for the NeMo ecosystem.

``CausalVideoTokenizer`` (the NeMo model) is imported on first use: importing NeMo takes
seconds, and the networks and data tools do not need it. Importing it this way silences
the notices of NeMo's and megatron-core's optional parts (``nemo_cosmos.quiet``).
"""

from nemo_cosmos.networks import CosmosTokenizer, TokenizerConfig
from nemo_cosmos.pretrained import PRESETS, build_network, load_weights, preset_config, read_state_dict

__all__ = [
    "PRESETS",
    "CausalVideoTokenizer",
    "CosmosTokenizer",
    "TokenizerConfig",
    "build_network",
    "load_weights",
    "preset_config",
    "read_state_dict",
]


def __getattr__(name: str):
    if name == "CausalVideoTokenizer":
        from nemo_cosmos.quiet import quiet_library_notices

        quiet_library_notices()  # NeMo is imported next; see quiet.py
        from nemo_cosmos.models.causal_video_tokenizer import CausalVideoTokenizer

        return CausalVideoTokenizer
    raise AttributeError(f"module 'nemo_cosmos' has no attribute {name!r}")
