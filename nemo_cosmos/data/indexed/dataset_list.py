"""An unmerged dataset: complete datasets (parts) listed in order instead of copied into one.

``<prefix>.parts`` holds the absolute prefixes, one per line: what Megatron takes as a
``data_path`` (or ``--data-args-path``) and ``build_cosmos_datasets`` as a list; without
weights, megatron-core blends them in proportion to their sizes. ``<prefix>.parts.json``,
written last and atomically, marks the list complete and records the shared header, the
counts and each listed dataset's prefix (relative to the list's folder) with its SHA-256.
"""

import json
from pathlib import Path
from typing import Any

from nemo_cosmos.data.indexed.atomic import write_text_atomic
from nemo_cosmos.data.indexed.sidecar import header_of
from nemo_cosmos.data.indexed.writer import read_part_sidecar

LIST_FORMAT = "nemo-cosmos-dataset-list/1"


def list_paths(prefix: str | Path) -> tuple[Path, Path]:
    """``<prefix>.parts`` (the data_path) and ``<prefix>.parts.json`` (the completion marker)."""
    return Path(f"{prefix}.parts"), Path(f"{prefix}.parts.json")


def write_dataset_list(prefix: str | Path, datasets: list[Path]) -> dict[str, Any]:
    """List the complete ``datasets`` (one header) in order as the unmerged dataset ``prefix``; returns the list's record."""
    if not datasets:
        raise ValueError(f"no datasets to list as {prefix}")
    folder = Path(prefix).parent.resolve()
    first = read_part_sidecar(datasets[0])
    entries = []
    for dataset in datasets:
        sidecar = read_part_sidecar(dataset, header_of(first))
        entries.append({"prefix": str(Path(dataset).resolve().relative_to(folder)), "num_documents": sidecar["num_documents"], "num_inputs": sidecar["num_inputs"], "sha256": sidecar["sha256"]})
    record = {
        "format": LIST_FORMAT,
        "header": header_of(first),
        "num_documents": sum(entry["num_documents"] for entry in entries),
        "num_inputs": sum(entry["num_inputs"] for entry in entries),
        "datasets": entries,
    }
    data_path, marker = list_paths(prefix)
    write_text_atomic(data_path, "".join(f"{folder / entry['prefix']}\n" for entry in entries))
    write_text_atomic(marker, json.dumps(record, sort_keys=True, separators=(",", ":")) + "\n")
    return record


def read_dataset_list(prefix: str | Path) -> dict[str, Any] | None:
    """The record of the unmerged dataset ``prefix``, or None when there is none."""
    marker = list_paths(prefix)[1]
    try:
        record = json.loads(marker.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None
    return record if isinstance(record, dict) and record.get("format") == LIST_FORMAT else None


def listed_prefixes(prefix: str | Path, record: dict[str, Any]) -> list[Path]:
    """The absolute prefixes of the datasets a list record names."""
    folder = Path(prefix).parent.resolve()
    return [folder / entry["prefix"] for entry in record["datasets"]]
