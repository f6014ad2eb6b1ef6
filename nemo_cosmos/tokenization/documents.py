"""Turning one encoded clip or image into the sequences of one indexed-dataset document.

Discrete models give token grids: flattened ``t, h, w``, shifted and framed by
:class:`~nemo_cosmos.data.indexed.token_layout.TokenLayout`, optionally preceded by the tokenized
caption (inline in the same sequence, or as its own text sequence of a multimodal index).
Continuous models give latents ``[C, (t,) h, w]``, stored as float32 or bit-exact bfloat16.
"""

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from nemo_cosmos.data.indexed.latent_storage import latent_to_sequence
from nemo_cosmos.data.indexed.sidecar import SEQUENCE_MODES, latent_header, token_header
from nemo_cosmos.data.indexed.token_layout import TokenLayout
from nemo_cosmos.networks import TokenizerConfig


@dataclass(frozen=True)
class Document:
    """What :meth:`IndexedDatasetWriter.add_document` takes, plus the token count for the summary."""

    sequences: list[np.ndarray]
    shape: list[int]
    modes: list[int] | None
    text_prefix: int
    tokens: int


class CaptionTokenizer:
    """A Hugging Face tokenizer loaded from a local directory, for caption text.

    Loading never touches the network (``local_files_only``); a directory that holds no
    tokenizer raises ValueError naming it.
    """

    def __init__(self, path: str | Path, add_special_tokens: bool = False) -> None:
        from transformers import AutoTokenizer  # only caption jobs need transformers

        self.path = str(path)
        if not Path(self.path).is_dir():
            raise FileNotFoundError(f"{self.path}: no such tokenizer directory (captions.tokenizer must be a local Hugging Face tokenizer directory)")
        try:
            self._tokenizer = AutoTokenizer.from_pretrained(self.path, local_files_only=True)
        except (OSError, ValueError) as error:
            raise ValueError(f"{self.path}: cannot load a Hugging Face tokenizer from this directory: {error}") from error
        self.add_special_tokens = add_special_tokens
        self.vocab_size = len(self._tokenizer)

    def encode(self, text: str) -> np.ndarray:
        """Token ids of ``text`` (int64)."""
        return np.asarray(self._tokenizer(text, add_special_tokens=self.add_special_tokens)["input_ids"], dtype=np.int64)

    def header(self, multimodal: bool) -> dict[str, Any]:
        return {"tokenizer": self.path, "vocab_size": self.vocab_size, "add_special_tokens": self.add_special_tokens, "multimodal": multimodal}


class TokenDocuments:
    """Documents of discrete token ids, optionally captioned."""

    def __init__(self, layout: TokenLayout, captions: CaptionTokenizer | None = None, multimodal: bool = False) -> None:
        if captions is not None and layout.offset < captions.vocab_size:
            raise ValueError(
                f"caption ids from {captions.path} go up to {captions.vocab_size - 1}, so vision ids must start at or above "
                f"{captions.vocab_size}: set tokens.offset={captions.vocab_size} (got {layout.offset})"
            )
        special = [i for i in layout.special_ids if captions is not None and i < captions.vocab_size]
        if special:
            raise ValueError(f"begin/end-of-video ids {special} collide with caption ids [0, {captions.vocab_size}); choose ids at or above the vision range")
        if multimodal and captions is None:
            raise ValueError("captions.multimodal needs captions.tokenizer (a local Hugging Face tokenizer directory)")
        self.layout = layout
        self.captions = captions
        self.multimodal = multimodal

    def header(self, name: str, config: TokenizerConfig) -> dict[str, Any]:
        header = token_header(name, config.to_dict(), self.layout, config.temporal_compression, config.spatial_compression, multimodal=self.multimodal)
        header["captions"] = self.captions.header(self.multimodal) if self.captions is not None else None
        return header

    def document(self, indices: torch.Tensor, caption: str | None) -> Document:
        """``indices`` ``[t, h, w]`` (images ``[h, w]``) and the item's caption -> a document."""
        vision = self.layout.to_sequence(indices)
        shape = list(indices.shape)
        text = self.captions.encode(caption).astype(vision.dtype) if self.captions is not None and caption else None
        if self.multimodal:
            sequences = [vision] if text is None else [text, vision]
            modes = [SEQUENCE_MODES["vision"]] if text is None else [SEQUENCE_MODES["text"], SEQUENCE_MODES["vision"]]
            return Document(sequences, shape, modes, 0, sum(len(s) for s in sequences))
        if text is None:
            return Document([vision], shape, None, 0, len(vision))
        return Document([np.concatenate([text, vision])], shape, None, len(text), len(text) + len(vision))


class LatentDocuments:
    """Documents of continuous latents; ``tokens`` counts latent positions ``t * h * w``."""

    def __init__(self, dtype: str) -> None:
        self.dtype = dtype

    def header(self, name: str, config: TokenizerConfig) -> dict[str, Any]:
        return latent_header(name, config.to_dict(), self.dtype, config.temporal_compression, config.spatial_compression, config.latent_channels)

    def document(self, latent: torch.Tensor, caption: str | None) -> Document:
        """``latent`` ``[C, t, h, w]`` (images ``[C, h, w]``) -> a document; captions are not stored here."""
        shape = list(latent.shape)
        return Document([latent_to_sequence(latent, self.dtype)], shape, None, 0, int(np.prod(shape[1:])))
