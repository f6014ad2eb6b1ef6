"""Reading documents back from a nemo-cosmos indexed dataset: latents, token grids, provenance.

megatron-core's ``IndexedDataset`` reads the flat sequences; the sidecar says what they
are, and the per-input records give each document's shape and source. The vision sequence is always the last sequence of a document: caption text, if
any, comes before it, as its own sequence (multimodal datasets) or as the first
``text_prefix`` ids of that same sequence (recorded per document in the sidecar).
"""

from pathlib import Path
from typing import Any

import numpy as np
import torch
from megatron.core.datasets.indexed_dataset import IndexedDataset

from nemo_cosmos.data.indexed.latent_storage import sequence_to_latent
from nemo_cosmos.data.indexed.records import iter_documents
from nemo_cosmos.data.indexed.sidecar import is_complete, read_sidecar
from nemo_cosmos.data.indexed.token_layout import TokenLayout


class IndexedDocuments:
    """The documents of the complete dataset at ``prefix``, indexable by document id.

    ``len`` is the number of documents; ``[doc]`` gives a sample dict (see :meth:`sample`).
    Picklable, so DataLoader workers can reopen it.
    """

    def __init__(self, prefix: str | Path, mmap: bool = True) -> None:
        self.prefix = str(prefix)
        self.mmap = mmap
        if not is_complete(self.prefix):
            raise FileNotFoundError(
                f"{self.prefix}: no complete nemo-cosmos dataset here (needs .bin, .idx, .inputs.jsonl and the .json sidecar written last)"
            )
        self.sidecar = read_sidecar(self.prefix)
        self.documents = list(iter_documents(self.prefix))
        self.kind = self.sidecar["kind"]
        self.layout = TokenLayout.from_header(self.sidecar) if self.kind == "tokens" else None
        self._indexed = IndexedDataset(self.prefix, multimodal=self.sidecar["multimodal"], mmap=mmap) if self.sidecar["num_documents"] else None
        counts = {"index": len(self._indexed.document_indices) - 1 if self._indexed is not None else 0, "records": len(self.documents)}
        if any(count != self.sidecar["num_documents"] for count in counts.values()):
            raise ValueError(f"{self.prefix}: the sidecar counts {self.sidecar['num_documents']} documents, but the {counts}")

    def __len__(self) -> int:
        return self.sidecar["num_documents"]

    @property
    def indexed(self) -> IndexedDataset | None:
        """megatron-core's reader of the ``.bin``/``.idx`` (None for a dataset without documents)."""
        return self._indexed

    def _check(self, doc: int) -> int:
        if not 0 <= doc < len(self):
            raise IndexError(f"document {doc} out of range for {self.prefix} with {len(self)} documents")
        return int(doc)

    def shape(self, doc: int) -> list[int]:
        """The vision shape of a document: ``[C, t, h, w]`` for video latents, ``[t, h, w]`` for video tokens."""
        return self.documents[self._check(doc)]["shape"]

    def source(self, doc: int) -> dict[str, Any]:
        """Where a document came from: source path, clip start/end frame and the like."""
        return self.documents[self._check(doc)]["source"]

    def vision_sequence(self, doc: int) -> np.ndarray:
        """The stored vision sequence of a document (the last sequence, less any inline caption ids).

        A copy: megatron-core's arrays view a memory map that dies with the dataset object.
        """
        last_sequence = int(self._indexed.document_indices[self._check(doc) + 1]) - 1
        sequence = self._indexed[last_sequence]
        sequence = sequence[0] if isinstance(sequence, tuple) else sequence
        return np.array(sequence[self.documents[doc].get("text_prefix", 0) :], copy=True)

    def latent(self, doc: int) -> torch.Tensor:
        """The latent of a document, in its stored dtype, bit-exact."""
        if self.kind != "latents":
            raise ValueError(f"{self.prefix} holds {self.kind}, not latents")
        return sequence_to_latent(self.vision_sequence(doc), self.shape(doc), self.sidecar["dtype"])

    def token_grid(self, doc: int) -> torch.Tensor:
        """The codebook indices of a document, int64 ``[t, h, w]`` (specials and offset removed)."""
        if self.layout is None:
            raise ValueError(f"{self.prefix} holds {self.kind}, not tokens")
        return torch.from_numpy(self.layout.to_indices(self.vision_sequence(doc), self.shape(doc)))

    def sample(self, doc: int) -> dict[str, Any]:
        """``latent`` or ``indices`` plus ``document_id``, ``path``, ``start_frame``, ``end_frame``."""
        source = self.source(doc)
        sample = {"document_id": int(doc), "path": source["path"], "start_frame": source.get("start_frame", 0), "end_frame": source.get("end_frame", 0)}
        if self.kind == "latents":
            sample["latent"] = self.latent(doc)
        else:
            sample["indices"] = self.token_grid(doc)
        return sample

    def __getitem__(self, doc: int) -> dict[str, Any]:
        return self.sample(doc)

    def __getstate__(self) -> tuple[str, bool]:
        return (self.prefix, self.mmap)

    def __setstate__(self, state: tuple[str, bool]) -> None:
        self.__init__(*state)
