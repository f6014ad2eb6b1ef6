"""The settings that count: everything that can change a byte of a tokenization job's output.

They are recorded in every part's and the dataset's sidecar, and a re-run into the same
``output.dir`` must ask for the same ones (``output.overwrite=true`` rebuilds instead).
Counted: the model as named, its files' identities (path, size, mtime), its network
config, ``use_pytorch``, dtype and device type; every clip, frame, token, caption and
latent option; and the run options that shape the arithmetic: ``run.batch_size`` (clips
encoded together are computed together, and float kernels are not batch-invariant),
``run.chunk_latents`` (the streaming chunk) and, on CPU, ``run.threads``. Not counted
(any value, any run): ``run.items_per_part``, ``run.progress``, the timeout, the number
of ranks, ``output.*``.
"""

import hashlib
import json
import os
from dataclasses import asdict
from typing import Any

from nemo_cosmos.pretrained import CheckpointFiles
from nemo_cosmos.tokenization.options import TokenizeJobOptions

SHOWN_DIFFERENCES = 6


def _file_identity(path: os.PathLike | str) -> dict[str, Any]:
    status = os.stat(path)
    return {"path": os.path.abspath(path), "size": status.st_size, "mtime_ns": status.st_mtime_ns}


def _flatten(prefix: str, values: dict[str, Any]) -> dict[str, Any]:
    return {f"{prefix}.{key}": value for key, value in values.items()}


def job_settings(options: TokenizeJobOptions, files: CheckpointFiles, device_type: str, dtype: str) -> dict[str, Any]:
    """The settings that count, as ``{"clips.num_frames": 33, ...}`` (JSON values)."""
    model_files = sorted([*files.torchscript.values(), *([files.weights] if files.weights else [])])
    settings = {
        "model.name_or_path": options.model.name_or_path,
        "model.use_pytorch": options.model.use_pytorch,
        "model.device_type": device_type,
        "model.dtype": dtype,
        "model.files": [_file_identity(path) for path in model_files],
        "model.config": files.config.to_dict(),
        **_flatten("clips", asdict(options.clips)),
        **_flatten("frames", asdict(options.frames)),
        **_flatten("tokens", asdict(options.tokens)),
        **_flatten("captions", asdict(options.captions)),
        **_flatten("latents", asdict(options.latents)),
        "run.batch_size": options.run.batch_size,
        "run.chunk_latents": options.run.chunk_latents,
    }
    if device_type == "cpu":
        settings["run.threads"] = options.run.threads
    return json.loads(json.dumps(settings))  # as it reads back from a sidecar (tuples become lists)


def fingerprint(settings: dict[str, Any]) -> str:
    """A short stable name for a set of settings (names the folder of their parts)."""
    return hashlib.sha256(json.dumps(settings, sort_keys=True).encode("utf-8")).hexdigest()[:16]


def _short(value: Any) -> str:
    text = json.dumps(value, sort_keys=True)
    return text if len(text) <= 80 else text[:77] + "..."


def differences(recorded: dict[str, Any], requested: dict[str, Any]) -> list[str]:
    """``["clips.num_frames: 17 -> 9", ...]`` for every setting that differs (missing ones included)."""
    keys = sorted(set(recorded) | set(requested))
    return [f"{key}: {_short(recorded.get(key))} -> {_short(requested.get(key))}" for key in keys if recorded.get(key) != requested.get(key)]


def listed(names: list[str], limit: int = SHOWN_DIFFERENCES) -> str:
    """``a; b; c and 4 more``: a one-line list that stays short."""
    shown = "; ".join(names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")
