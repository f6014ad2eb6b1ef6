"""Publishing a dataset: build it aside under ``<name>.next``, then swap it in.

The new dataset (the finished one being grown, less the records of retried skips, then
the new parts in order) is written completely under ``<name>.next`` while the old one
stays complete and readable. The swap renames ``.bin``, ``.idx`` and the records over the
old ones and the sidecar last; the old sidecar is removed first, so a reader never sees
a sidecar that does not describe the files beside it. A crash during the swap leaves
``<name>.next.json``, and the next run finishes the swap (:func:`finish_swap`) before
anything else: the new dataset was complete when the swap began.
"""

import os
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from nemo_cosmos.data.indexed.records import iter_skipped
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


def build_and_swap(final: Path, header: dict[str, Any], base: Path | None, dropped: set[int], parts: Sequence[Path]) -> dict[str, Any]:
    """Write ``base`` (less its ``dropped`` record numbers) then ``parts`` under ``<final>.next``,
    swap it in for ``final`` and write ``skipped.jsonl``; returns the new sidecar."""
    for part in parts:  # every part complete and alike before anything is written
        read_part_sidecar(part, header)
    with IndexedDatasetWriter(next_prefix(final), header) as writer:
        if base is not None:
            writer.add_dataset(base, drop=dropped)
        for part in parts:
            writer.add_dataset(part)
    finish_swap(final)
    write_skipped(final.parent / "skipped.jsonl", iter_skipped(final))
    return complete_sidecar(final)


def clean_parts(parts_root: Path, keep: str | None) -> None:
    """Remove the parts folders of other builds (``keep`` None: all of ``parts_root``)."""
    if not parts_root.is_dir():
        return
    if keep is None:
        shutil.rmtree(parts_root)
        return
    for folder in parts_root.iterdir():
        if folder.name != keep:
            shutil.rmtree(folder) if folder.is_dir() else folder.unlink()
