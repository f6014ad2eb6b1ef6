"""One encoded image or video in a ``.safetensors`` file: its tokens or latent, and what it came from.

The file holds one tensor, named ``indices`` (discrete tokenizers, int32 FSQ indices) or
``latent`` (continuous tokenizers, in the dtype the model computed in), with the batch
axis of 1 the model returned, so it goes straight back into ``decode``. The safetensors
metadata (strings only) says how to turn it back into pixels:

- ``format``: ``nemo-cosmos-tokens``; ``format_version``: ``1``
- ``model``: the name or directory the model was loaded from; ``config``: its network
  config as JSON (``TokenizerConfig.to_dict()``)
- ``media``: ``image`` or ``video``; ``source``: the input file
- ``height``, ``width``: the original frame size; ``num_frames``, ``fps``: video only
- ``padding``: JSON ``{"height": [before, after], "width": [...], "frames": [...]}``, what
  the model added to reach its compression grid (``frames`` for video models only)
- ``dtype``: the tensor's dtype; ``model_dtype``: the dtype the model ran in
- ``inference``: JSON of the model options that were set (streaming chunk, tiling)
"""

import json
from dataclasses import dataclass, field
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open

from nemo_cosmos.data.media.errors import UnreadableMediaError, require_nonempty_file
from nemo_cosmos.safetensors_files import save_safetensors

FORMAT = "nemo-cosmos-tokens"
FORMAT_VERSION = "1"
TENSOR_NAMES = ("indices", "latent")
MEDIA_KINDS = ("image", "video")


@dataclass(frozen=True)
class TokenFile:
    """The contents of a token file; ``tensor_name`` is ``indices`` or ``latent``."""

    tensor_name: str
    tensor: torch.Tensor
    model: str
    config: dict
    media: str
    source: str
    height: int
    width: int
    padding: dict[str, list[int]]
    model_dtype: str
    num_frames: int | None = None
    fps: float | None = None
    inference: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.tensor_name not in TENSOR_NAMES:
            raise ValueError(f"tensor_name must be one of {TENSOR_NAMES}, got {self.tensor_name!r}")
        if self.media not in MEDIA_KINDS:
            raise ValueError(f"media must be one of {MEDIA_KINDS}, got {self.media!r}")
        if (self.media == "video") != (self.num_frames is not None and self.fps is not None):
            raise ValueError(f"num_frames and fps are required for video and absent for images, got media={self.media!r}")

    @property
    def original_size(self) -> tuple[int, ...]:
        """``(num_frames, height, width)`` for video, ``(height, width)`` for images."""
        size = (self.height, self.width)
        return size if self.num_frames is None else (self.num_frames, *size)


def dtype_name(dtype: torch.dtype) -> str:
    """``torch.bfloat16`` -> ``"bfloat16"``, as the metadata spells dtypes."""
    return str(dtype).removeprefix("torch.")


def save_token_file(path: str | Path, record: TokenFile) -> Path:
    """Write ``record`` to ``path`` (parent directories created); returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    metadata = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "model": record.model,
        "config": json.dumps(record.config, sort_keys=True),
        "media": record.media,
        "source": record.source,
        "height": str(record.height),
        "width": str(record.width),
        "padding": json.dumps(record.padding, sort_keys=True),
        "dtype": dtype_name(record.tensor.dtype),
        "model_dtype": record.model_dtype,
        "inference": json.dumps(record.inference, sort_keys=True),
    }
    if record.num_frames is not None:
        metadata["num_frames"] = str(record.num_frames)
        metadata["fps"] = repr(float(record.fps))
    return save_safetensors({record.tensor_name: record.tensor.detach().cpu().contiguous()}, path, metadata=metadata)


def load_token_file(path: str | Path) -> TokenFile:
    """Read a token file written by :func:`save_token_file`.

    FileNotFoundError if it is missing; UnreadableMediaError (a ValueError naming the file)
    if it is no safetensors file or not one of ours.
    """
    path = require_nonempty_file(path)
    try:
        with safe_open(str(path), framework="pt") as handle:
            metadata = handle.metadata() or {}
            names = list(handle.keys())
            tensors = {name: handle.get_tensor(name) for name in names if name in TENSOR_NAMES}
    except SafetensorError as error:
        raise UnreadableMediaError(path, f"cannot read as safetensors: {error}") from error
    if metadata.get("format") != FORMAT:
        raise UnreadableMediaError(path, f"is not a {FORMAT} file (safetensors metadata format={metadata.get('format')!r})")
    if metadata.get("format_version") != FORMAT_VERSION:
        found = metadata.get("format_version")
        raise UnreadableMediaError(path, f"has format_version {found!r}; this nemo-cosmos reads {FORMAT_VERSION!r}")
    if len(tensors) != 1:
        raise UnreadableMediaError(path, f"must hold exactly one tensor named {' or '.join(TENSOR_NAMES)}, holds {names}")
    ((tensor_name, tensor),) = tensors.items()
    try:
        video = metadata["media"] == "video"
        return TokenFile(
            tensor_name=tensor_name,
            tensor=tensor,
            model=metadata["model"],
            config=json.loads(metadata["config"]),
            media=metadata["media"],
            source=metadata["source"],
            height=int(metadata["height"]),
            width=int(metadata["width"]),
            padding=json.loads(metadata["padding"]),
            model_dtype=metadata["model_dtype"],
            num_frames=int(metadata["num_frames"]) if video else None,
            fps=float(metadata["fps"]) if video else None,
            inference=json.loads(metadata.get("inference", "{}")),
        )
    except KeyError as error:
        raise UnreadableMediaError(path, f"metadata lacks {error.args[0]!r}") from error
    except ValueError as error:  # json.JSONDecodeError and bad numbers are ValueErrors
        raise UnreadableMediaError(path, f"has malformed metadata: {error}") from error
