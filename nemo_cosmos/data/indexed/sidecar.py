"""The JSON sidecar next to each indexed dataset: what the numbers mean and where they came from.

``<prefix>.json`` holds a header (tokenizer name and config, compression, dtype and
storage dtype, vocabulary and special ids or latent channels, the job's settings) and a
small body: document and input counts, the ``.bin`` size and the SHA-256 of ``.bin``,
``.idx`` and the per-input records (``<prefix>.inputs.jsonl``, see ``records``), which
hold each document's shape and source and the skipped inputs. It is written last and
atomically, so its presence with a matching ``.bin`` size marks a dataset as complete.
"""

import json
from pathlib import Path
from typing import Any

from nemo_cosmos.data.indexed.atomic import write_text_atomic
from nemo_cosmos.data.indexed.latent_storage import latent_storage_dtype
from nemo_cosmos.data.indexed.token_layout import TokenLayout

SIDECAR_FORMAT = "nemo-cosmos-indexed-dataset/2"
# format 1 kept every document and skip record inline and no input identities
EARLIER_FORMATS = ("nemo-cosmos-indexed-dataset/1",)
# megatron-core multimodal sequence modes: caption text before the vision tokens of a document
SEQUENCE_MODES = {"text": 0, "vision": 1}
BODY_KEYS = ("num_documents", "num_inputs", "bin_bytes", "sha256")


def sidecar_path(prefix: str | Path) -> Path:
    return Path(f"{prefix}.json")


def _common_header(kind: str, tokenizer_name: str, tokenizer_config: dict[str, Any], temporal_compression: int, spatial_compression: int) -> dict[str, Any]:
    return {
        "format": SIDECAR_FORMAT,
        "kind": kind,
        "tokenizer": {"name": tokenizer_name, "config": dict(tokenizer_config)},
        "compression": {"temporal": temporal_compression, "spatial": spatial_compression},
    }


def token_header(
    tokenizer_name: str,
    tokenizer_config: dict[str, Any],
    layout: TokenLayout,
    temporal_compression: int,
    spatial_compression: int,
    multimodal: bool = False,
) -> dict[str, Any]:
    """The header of an AR token dataset; ``multimodal`` when documents carry caption text sequences."""
    header = _common_header("tokens", tokenizer_name, tokenizer_config, temporal_compression, spatial_compression)
    dtype = layout.dtype.__name__
    header.update(dtype=dtype, storage_dtype=dtype, multimodal=multimodal, **layout.header())
    if multimodal:
        header["sequence_modes"] = dict(SEQUENCE_MODES)
    return header


def latent_header(
    tokenizer_name: str, tokenizer_config: dict[str, Any], dtype: str, temporal_compression: int, spatial_compression: int, latent_channels: int
) -> dict[str, Any]:
    """The header of a diffusion latent dataset (``dtype`` float32 or bfloat16)."""
    header = _common_header("latents", tokenizer_name, tokenizer_config, temporal_compression, spatial_compression)
    header.update(dtype=dtype, storage_dtype=latent_storage_dtype(dtype).__name__, multimodal=False, latent_channels=latent_channels)
    return header


def header_of(sidecar: dict[str, Any]) -> dict[str, Any]:
    """The header part of a full sidecar (everything but the per-document body)."""
    return {key: value for key, value in sidecar.items() if key not in BODY_KEYS}


def write_sidecar(prefix: str | Path, sidecar: dict[str, Any]) -> None:
    """Write the sidecar atomically (compact, sorted keys: identical content gives identical bytes)."""
    write_text_atomic(sidecar_path(prefix), json.dumps(sidecar, sort_keys=True, separators=(",", ":")) + "\n")


def read_sidecar(prefix: str | Path) -> dict[str, Any]:
    """The sidecar of the dataset at ``prefix``; FileNotFoundError if absent, ValueError if foreign."""
    path = sidecar_path(prefix)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no sidecar, so {prefix} is not a complete nemo-cosmos dataset")
    try:
        sidecar = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise ValueError(f"{path}: sidecar is not valid JSON ({error.msg})") from error
    found = sidecar.get("format") if isinstance(sidecar, dict) else None
    if found in EARLIER_FORMATS:
        raise ValueError(f"{path}: written by an earlier nemo-cosmos ({found}), which recorded no per-input records; rewrite the dataset")
    if found != SIDECAR_FORMAT:
        raise ValueError(f"{path}: not a {SIDECAR_FORMAT} sidecar")
    return sidecar


def sidecar_format(prefix: str | Path) -> str | None:
    """The ``format`` a sidecar at ``prefix`` declares (earlier ones included), or None when
    there is no readable sidecar."""
    try:
        sidecar = json.loads(sidecar_path(prefix).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None
    return sidecar.get("format") if isinstance(sidecar, dict) else None


def dataset_files(prefix: str | Path) -> list[Path]:
    """Every file of the dataset at ``prefix``, the sidecar (the completion marker) last."""
    return [Path(f"{prefix}.bin"), Path(f"{prefix}.idx"), Path(f"{prefix}.inputs.jsonl"), sidecar_path(prefix)]


def complete_sidecar(prefix: str | Path) -> dict[str, Any] | None:
    """The sidecar of a finished dataset at ``prefix`` (sidecar written, ``.idx`` and the
    records present, ``.bin`` of the recorded size), or ``None`` when it is not finished."""
    bin_path, idx_path, records, _ = dataset_files(prefix)
    try:
        sidecar = read_sidecar(prefix)
    except (FileNotFoundError, ValueError):
        return None
    finished = idx_path.is_file() and records.is_file() and bin_path.is_file() and bin_path.stat().st_size == sidecar.get("bin_bytes")
    return sidecar if finished else None


def is_complete(prefix: str | Path) -> bool:
    """Whether ``prefix`` holds a finished dataset (see :func:`complete_sidecar`)."""
    return complete_sidecar(prefix) is not None
