"""How discrete token grids become Megatron token sequences, and back.

A grid of FSQ indices ``[t, h, w]`` (images ``[h, w]``) is flattened in ``t, h, w``
order, shifted by ``offset`` (to sit after a text vocabulary, say) and optionally
framed by begin/end-of-video ids. The storage dtype follows megatron-core's
``GPTDatasetConfig``: ``uint16`` when the vocabulary has at most 65,536 ids (the
official 64,000-code tokenizers do), ``int32`` otherwise.
"""

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

# megatron-core's GPTDatasetConfig reads tokens as uint16 up to this vocabulary size
UINT16_VOCABULARY_LIMIT = int(np.iinfo(np.uint16).max) + 1


@dataclass(frozen=True)
class TokenLayout:
    """Codebook size, id offset and optional begin/end-of-video ids of a token dataset."""

    codebook_size: int
    offset: int = 0
    begin_id: int | None = None
    end_id: int | None = None

    def __post_init__(self) -> None:
        if self.codebook_size < 1 or self.offset < 0:
            raise ValueError(f"codebook_size must be positive and offset non-negative, got {self.codebook_size} and {self.offset}")
        for name, value in (("begin_id", self.begin_id), ("end_id", self.end_id)):
            if value is not None and (value < 0 or self.offset <= value < self.offset + self.codebook_size):
                raise ValueError(
                    f"{name} {value} must be a non-negative id outside the vision ids [{self.offset}, {self.offset + self.codebook_size})"
                )
        if self.begin_id is not None and self.begin_id == self.end_id:
            raise ValueError(f"begin_id and end_id must differ, both are {self.begin_id}")

    @property
    def special_ids(self) -> list[int]:
        return [i for i in (self.begin_id, self.end_id) if i is not None]

    @property
    def vocab_size(self) -> int:
        """One more than the largest id that can appear."""
        return max([self.offset + self.codebook_size] + [i + 1 for i in self.special_ids])

    @property
    def dtype(self) -> type[np.integer]:
        return np.uint16 if self.vocab_size <= UINT16_VOCABULARY_LIMIT else np.int32

    def sequence_length(self, grid_shape: list[int] | tuple[int, ...]) -> int:
        return int(np.prod(grid_shape)) + len(self.special_ids)

    def to_sequence(self, indices: np.ndarray | torch.Tensor) -> np.ndarray:
        """Codebook indices of any shape -> the 1-D stored id sequence (``dtype``)."""
        if isinstance(indices, torch.Tensor):
            indices = indices.detach().cpu().numpy()
        if not np.issubdtype(indices.dtype, np.integer):
            raise ValueError(f"token indices must be integers, got {indices.dtype}")
        flat = indices.reshape(-1).astype(np.int64)
        if flat.size and (flat.min() < 0 or flat.max() >= self.codebook_size):
            raise ValueError(f"token indices must lie in [0, {self.codebook_size}), got range [{flat.min()}, {flat.max()}]")
        parts = [np.array([self.begin_id])] if self.begin_id is not None else []
        parts.append(flat + self.offset)
        if self.end_id is not None:
            parts.append(np.array([self.end_id]))
        return np.concatenate(parts).astype(self.dtype)

    def to_indices(self, sequence: np.ndarray, grid_shape: list[int] | tuple[int, ...]) -> np.ndarray:
        """A stored sequence -> int64 codebook indices of ``grid_shape`` (specials dropped, offset removed)."""
        if len(sequence) != self.sequence_length(grid_shape):
            raise ValueError(f"token sequence of length {len(sequence)} does not match grid {list(grid_shape)} with {len(self.special_ids)} special ids")
        start = 1 if self.begin_id is not None else 0
        body = np.asarray(sequence[start : start + int(np.prod(grid_shape))], dtype=np.int64) - self.offset
        return body.reshape(grid_shape)

    def header(self) -> dict[str, Any]:
        """The sidecar fields describing this layout."""
        return {
            "codebook_size": self.codebook_size,
            "token_offset": self.offset,
            "special_ids": {"begin_of_video": self.begin_id, "end_of_video": self.end_id},
            "vocab_size": self.vocab_size,
        }

    @classmethod
    def from_header(cls, header: dict[str, Any]) -> "TokenLayout":
        special = header["special_ids"]
        return cls(codebook_size=header["codebook_size"], offset=header["token_offset"], begin_id=special["begin_of_video"], end_id=special["end_of_video"])
