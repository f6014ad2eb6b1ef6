"""A megatron-core ``MegatronDataset`` serving nemo-cosmos latents and token grids, one document per sample.

megatron-core reads discrete tokens as GPT text already (``GPTDataset`` over the same
prefix), but nothing in it reads float latents with shapes. :class:`CosmosIndexedDataset`
does, and plugs into ``BlendedMegatronDatasetBuilder``: blends of prefixes with weights,
train/valid/test splits by document, several epochs when more samples are asked for
than there are documents. Like ``GPTDataset`` it needs no initialised
``torch.distributed`` (and uses the builder's rank logic when there is one).
"""

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from megatron.core.datasets.blended_megatron_dataset_builder import BlendedMegatronDatasetBuilder
from megatron.core.datasets.blended_megatron_dataset_config import BlendedMegatronDatasetConfig
from megatron.core.datasets.megatron_dataset import MegatronDataset
from megatron.core.datasets.utils import Split, get_blend_from_list

from nemo_cosmos.data.indexed.reader import IndexedDocuments


@dataclass
class CosmosIndexedDatasetConfig(BlendedMegatronDatasetConfig):
    """Config of :class:`CosmosIndexedDataset`.

    ``sequence_length`` is unused (a sample is a whole document) and defaults to 1.
    ``shuffle``: visit documents in a seeded random order per epoch (``random_seed``).
    """

    sequence_length: int = 1
    shuffle: bool = True


class CosmosIndexedDataset(MegatronDataset):
    """Samples are dicts: ``latent`` ``[C, t, h, w]`` (latent datasets) or ``indices`` ``[t, h, w]``
    (token datasets), plus ``document_id``, ``path``, ``start_frame`` and ``end_frame``.
    """

    def __init__(
        self,
        dataset: IndexedDocuments,
        dataset_path: str | None,
        indices: np.ndarray,
        num_samples: int | None,
        index_split: Split,
        config: CosmosIndexedDatasetConfig,
    ) -> None:
        super().__init__(dataset, dataset_path, indices, num_samples, index_split, config)
        self.sample_documents = self._sample_documents()

    def _sample_documents(self) -> np.ndarray:
        """The document id of every sample: whole epochs over this split's documents."""
        documents = np.asarray(self.indices, dtype=np.int64)
        if len(documents) == 0:
            if self.num_samples:
                raise ValueError(f"{self.dataset_path}: the {self.index_split.name} split has no documents, but {self.num_samples} samples were requested")
            return documents
        epochs = max(1, math.ceil(self.num_samples / len(documents))) if self.num_samples else 1
        random = np.random.RandomState(self.config.random_seed)
        return np.concatenate([random.permutation(documents) if self.config.shuffle else documents for _ in range(epochs)])

    @staticmethod
    def numel_low_level_dataset(low_level_dataset: IndexedDocuments) -> int:
        """Splits are made by document."""
        return len(low_level_dataset)

    @staticmethod
    def build_low_level_dataset(dataset_path: str, config: CosmosIndexedDatasetConfig) -> IndexedDocuments:
        if dataset_path is None:
            raise ValueError("CosmosIndexedDataset reads real data only: give the config a blend (mock data is not supported)")
        return IndexedDocuments(dataset_path, mmap=config.mmap_bin_files)

    @staticmethod
    def _key_config_attributes() -> list[str]:
        return MegatronDataset._key_config_attributes() + ["shuffle"]

    def __len__(self) -> int:
        return len(self.sample_documents)

    def __getitem__(self, idx: int) -> dict[str, Any]:
        return self.dataset[int(self.sample_documents[idx])]


def build_cosmos_datasets(
    data_path: Sequence[str],
    split: str = "98,1,1",
    num_samples: Sequence[int | None] = (None, None, None),
    random_seed: int = 1234,
    shuffle: bool = True,
) -> list[CosmosIndexedDataset | Any | None]:
    """Train/valid/test datasets from a Megatron-style ``data_path`` list.

    ``data_path`` is ``[prefix, ...]`` or ``[weight, prefix, weight, prefix, ...]`` (as in
    Megatron's ``--data-path``); weights need ``num_samples`` for that split. Returns
    what ``BlendedMegatronDatasetBuilder.build`` returns: per split a
    ``CosmosIndexedDataset``, a ``BlendedDataset`` of them, or None.
    """
    config = CosmosIndexedDatasetConfig(random_seed=random_seed, blend=get_blend_from_list(list(data_path)), split=split, shuffle=shuffle)
    return BlendedMegatronDatasetBuilder(CosmosIndexedDataset, list(num_samples), lambda: True, config).build()
