"""Read a token dataset back the way Megatron GPT training does: its own GPTDataset."""

from megatron.core.datasets.blended_megatron_dataset_builder import BlendedMegatronDatasetBuilder
from megatron.core.datasets.gpt_dataset import GPTDataset, GPTDatasetConfig
from megatron.core.tokenizers import MegatronTokenizer


def gpt_splits(prefix: str, sequence_length: int, vocab_size: int, cache_dir: str, random_seed: int = 1234) -> tuple:
    """(train, valid, test) of megatron-core's GPTDataset over ``prefix``, all of it in train,
    with the null tokenizer of ``vocab_size`` and no masking or position resets."""
    config = GPTDatasetConfig(
        random_seed=random_seed,
        sequence_length=sequence_length,
        blend=([prefix], None),
        split="1,0,0",
        tokenizer=MegatronTokenizer.from_pretrained(metadata_path={"library": "null"}, vocab_size=vocab_size),
        reset_position_ids=False,
        reset_attention_mask=False,
        eod_mask_loss=False,
        add_extra_token_to_sequence=False,
        path_to_cache=cache_dir,
    )
    return BlendedMegatronDatasetBuilder(GPTDataset, [None, None, None], lambda: True, config).build()
