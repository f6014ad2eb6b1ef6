"""Publishing a run's output: merged (built aside under ``<name>.next``, then swapped in) or listed.

The new dataset (the finished one being grown, less the records of retried skips, then
the new parts in order) is written completely under ``<name>.next`` while the old one
stays complete and readable. The swap renames ``.bin``, ``.idx`` and the records over the
old ones and the sidecar last; the old sidecar is removed first, so a reader never sees
a sidecar that does not describe the files beside it. A crash during the swap leaves
``<name>.next.json``, and the next run finishes the swap (:func:`finish_swap`) before
anything else: the new dataset was complete when the swap began.

With ``output.merge: false`` nothing is copied: ``<name>.parts`` lists the finished
datasets and the new parts (see ``data.indexed.dataset_list``), replaced atomically, and
the old lists' files stay where they are.
"""

import os
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from nemo_cosmos.data.indexed.dataset_list import list_paths, write_dataset_list
from nemo_cosmos.data.indexed.records import iter_records
from nemo_cosmos.data.indexed.sidecar import complete_sidecar, dataset_files, sidecar_path
from nemo_cosmos.data.indexed.skipped import write_skipped
from nemo_cosmos.data.indexed.writer import IndexedDatasetWriter, read_part_sidecar


def next_prefix(final: Path) -> Path:
    """Where the dataset that will replace ``final`` is built."""
    return final.with_name(final.name + ".next")


def finish_swap(final: Path) -> bool:
    """Complete a swap that a crash interrupted (idempotent); True when there was one."""
    waiting = next_prefix(final)
    if not sidecar_path(waiting).is_file():
        return False
    sidecar_path(final).unlink(missing_ok=True)
    for source, target in zip(dataset_files(waiting), dataset_files(final)):
        if source.exists():
            os.replace(source, target)  # the sidecar comes last
    return True


def _local_drops(base: Sequence[Path], dropped: set[int]) -> list[set[int]]:
    """Record numbers over all of ``base`` -> the numbers within each dataset."""
    drops, offset = [], 0
    for prefix in base:
        count = complete_sidecar(prefix)["num_inputs"]
        drops.append({number - offset for number in dropped if offset <= number < offset + count})
        offset += count
    return drops


def _write_skipped(output: Path, datasets: Sequence[Path], drops: list[set[int]]) -> None:
    """``skipped.jsonl``: every skip record of ``datasets`` in order, streamed, less the dropped records."""

    def records():
        for prefix, drop in zip(datasets, drops):
            for number, record in enumerate(iter_records(prefix)):
                if number not in drop:
                    yield from record["skipped"]

    write_skipped(output / "skipped.jsonl", records())


def build_and_swap(final: Path, header: dict[str, Any], base: Sequence[Path], dropped: set[int], parts: Sequence[Path]) -> dict[str, Any]:
    """Write the datasets of ``base`` (less the ``dropped`` record numbers) then ``parts``
    under ``<final>.next``, swap it in for ``final`` and write ``skipped.jsonl``; returns the new sidecar.
    A list of parts at ``final`` (``output.merge: false``) is replaced by the merged dataset."""
    for part in parts:  # every part complete and alike before anything is written
        read_part_sidecar(part, header)
    with IndexedDatasetWriter(next_prefix(final), header) as writer:
        for prefix, drop in zip(base, _local_drops(base, dropped)):
            writer.add_dataset(prefix, drop=drop)
        for part in parts:
            writer.add_dataset(part)
    finish_swap(final)
    for path in reversed(list_paths(final)):
        path.unlink(missing_ok=True)
    _write_skipped(final.parent, [final], [set()])
    return complete_sidecar(final)


def publish_list(final: Path, base: Sequence[Path], dropped: set[int], parts: Sequence[Path]) -> dict[str, Any]:
    """List ``base`` then ``parts`` as the unmerged dataset ``final`` (nothing copied) and write ``skipped.jsonl``.

    Records of retried skips stay in their old datasets; ``skipped.jsonl`` and the next
    growth leave them out."""
    datasets = [*base, *parts]
    record = write_dataset_list(final, datasets)
    _write_skipped(final.parent, datasets, [*_local_drops(base, dropped), *[set() for _ in parts]])
    return record


def clean_parts(parts_root: Path, keep: set[Path] | None) -> None:
    """Remove the parts folders other than ``keep`` (None: all of ``parts_root``)."""
    if not parts_root.is_dir():
        return
    if keep is None:
        shutil.rmtree(parts_root)
        return
    for folder in parts_root.iterdir():
        if folder.resolve() not in keep:
            shutil.rmtree(folder) if folder.is_dir() else folder.unlink()
