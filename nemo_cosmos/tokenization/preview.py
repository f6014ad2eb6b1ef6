"""One document of a tokenized dataset back to pixels, to look at what a dataset holds
(``nemo-cosmos show``).

A document's tokens or latent go through the decoder of the model that wrote them (the
sidecar names it and records its network config, which the model given must match).
The pixels are those the encoder saw: frames resized and cropped (or padded) by the
job's frame geometry, every sampled frame of the clip, trailing padding frames included.
"""

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from nemo_cosmos.data.indexed.reader import IndexedDocuments
from nemo_cosmos.data.media import UnreadableMediaError, probe_video, tensor_to_frames

DATASET_SUFFIXES = (".bin", ".idx", ".json")


@dataclass(frozen=True)
class DocumentPixels:
    """A decoded document: uint8 ``[T, H, W, 3]`` frames (an image is one frame), whether it
    came from a video, and its provenance as the sidecar records it."""

    frames: np.ndarray
    is_video: bool
    source: dict[str, Any]


def dataset_prefix(path: str | Path) -> str:
    """The dataset prefix, also when given as one of its files (``tokens.bin``, ``.idx``, ``.json``)."""
    path = Path(path)
    if path.suffix in DATASET_SUFFIXES and path.is_file():
        return str(path.with_suffix(""))
    return str(path)


def recorded_model(documents: IndexedDocuments) -> str:
    """The name or directory of the model that wrote the dataset."""
    return documents.sidecar["tokenizer"]["name"]


def check_network(documents: IndexedDocuments, model, model_name: str) -> None:
    """ValueError unless ``model`` has the network the dataset was written with."""
    recorded = documents.sidecar["tokenizer"]["config"]
    if not model.network_config.matches(recorded):
        raise ValueError(
            f"{documents.prefix}: was written by {recorded_model(documents)}, whose network differs from {model_name}'s "
            f"({model.network_config.short_name}); use the model the dataset was written with"
        )


def check_document(documents: IndexedDocuments, document: int) -> None:
    """ValueError unless the dataset has a document ``document``."""
    if not 0 <= document < len(documents):
        held = f"documents 0..{len(documents) - 1}" if len(documents) else "no documents"
        raise ValueError(f"{documents.prefix}: has {held}, not {document}")


def decode_document(documents: IndexedDocuments, document: int, model) -> DocumentPixels:
    """Decode document ``document`` (token grid or latent) with ``model`` (a
    ``CausalVideoTokenizer`` with a decoder; see :func:`check_network`)."""
    check_document(documents, document)
    stored = documents.token_grid(document) if documents.kind == "tokens" else documents.latent(document)
    pixels = model.decode(stored[None])[0]  # [3, T, H, W] (video models) or [3, H, W] (image models)
    frames = tensor_to_frames(pixels if pixels.dim() == 4 else pixels[:, None])
    source = documents.source(document)
    return DocumentPixels(frames=frames, is_video=source.get("kind") == "video", source=source)


def sampled_fps(documents: IndexedDocuments, document: int) -> float | None:
    """The frame rate of a video document's clip: the job's ``target_fps``, else the source's
    fps over ``frame_stride``; None when neither the job nor a readable source says."""
    settings = documents.sidecar.get("settings") or {}
    if settings.get("clips.target_fps"):
        return float(settings["clips.target_fps"])
    try:
        return probe_video(documents.source(document)["path"]).fps / (settings.get("clips.frame_stride") or 1)
    except (FileNotFoundError, UnreadableMediaError):
        return None
