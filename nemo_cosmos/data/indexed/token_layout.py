"""How discrete token grids become Megatron token sequences, and back.

A grid of FSQ indices ``[t, h, w]`` (images ``[h, w]``) is flattened in ``t, h, w``
order, shifted by ``offset`` (to sit after a text vocabulary, say) and optionally
framed by begin/end-of-video ids. The storage dtype follows megatron-core's
``GPTDatasetConfig``: ``uint16`` when the vocabulary has at most 65,536 ids (the
official 64,000-code tokenizers do), ``int32`` otherwise.
"""

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

# megatron-core's GPTDatasetConfig reads tokens as uint16 up to this vocabulary size
UINT16_VOCABULARY_LIMIT = int(np.iinfo(np.uint16).max) + 1


@dataclass
class TokenIds:
    """Where the vision ids sit, as a user sets it (the ``tokens`` of a tokenization job):
    stored id = codebook index + ``offset``; optional begin/end-of-video ids around each
    document's vision tokens, outside the vision id range."""

    offset: int = 0
    begin_of_video_id: int | None = None
    end_of_video_id: int | None = None


@dataclass
class TokenLayout(TokenIds):
    """:class:`TokenIds` for a codebook of ``codebook_size`` codes, checked against it."""

    codebook_size: int = field(kw_only=True)

    def __post_init__(self) -> None:
        if self.codebook_size < 1 or self.offset < 0:
            raise ValueError(f"codebook_size must be positive and offset non-negative, got {self.codebook_size} and {self.offset}")
        for name, value in (("begin_of_video_id", self.begin_of_video_id), ("end_of_video_id", self.end_of_video_id)):
            if value is not None and (value < 0 or self.offset <= value < self.offset + self.codebook_size):
                raise ValueError(
                    f"{name} {value} must be a non-negative id outside the vision ids [{self.offset}, {self.offset + self.codebook_size})"
                )
        if self.begin_of_video_id is not None and self.begin_of_video_id == self.end_of_video_id:
            raise ValueError(f"begin_of_video_id and end_of_video_id must differ, both are {self.begin_of_video_id}")

    @property
    def special_ids(self) -> list[int]:
        return [i for i in (self.begin_of_video_id, self.end_of_video_id) if i is not None]

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
        parts = [np.array([self.begin_of_video_id])] if self.begin_of_video_id is not None else []
        parts.append(flat + self.offset)
        if self.end_of_video_id is not None:
            parts.append(np.array([self.end_of_video_id]))
        return np.concatenate(parts).astype(self.dtype)

    def to_indices(self, sequence: np.ndarray, grid_shape: list[int] | tuple[int, ...]) -> np.ndarray:
        """A stored sequence -> int64 codebook indices of ``grid_shape`` (specials dropped, offset removed)."""
        if len(sequence) != self.sequence_length(grid_shape):
            raise ValueError(f"token sequence of length {len(sequence)} does not match grid {list(grid_shape)} with {len(self.special_ids)} special ids")
        start = 1 if self.begin_of_video_id is not None else 0
        body = np.asarray(sequence[start : start + int(np.prod(grid_shape))], dtype=np.int64) - self.offset
        return body.reshape(grid_shape)

    def header(self) -> dict[str, Any]:
        """The sidecar fields describing this layout."""
        return {
            "codebook_size": self.codebook_size,
            "token_offset": self.offset,
            "special_ids": {"begin_of_video": self.begin_of_video_id, "end_of_video": self.end_of_video_id},
            "vocab_size": self.vocab_size,
        }

    @classmethod
    def from_header(cls, header: dict[str, Any]) -> "TokenLayout":
        special = header["special_ids"]
        return cls(
            header["token_offset"], special["begin_of_video"], special["end_of_video"], codebook_size=header["codebook_size"]
        )
