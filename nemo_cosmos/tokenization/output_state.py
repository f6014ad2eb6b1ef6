"""What ``output.dir`` already holds, compared with what a run is asked to do, before anything is written.

The finished dataset (``<name>.bin/.idx/.inputs.jsonl/.json``), a finished dataset
waiting to be swapped in (``<name>.next.*``, left by a crash during the swap) and the
parts under ``parts/<build>/`` are finished work. A run that would change their meaning
is refused (:class:`RefusedRun`) unless ``output.overwrite``: other settings (named one
by one, ``clips.num_frames: 17 -> 9``), an input that gave documents changed or
vanished, or a dataset written before per-input records existed. Reading is all this
module does: a refused run leaves every file as it was and creates none.

Parts live under ``parts/<build>/``; a build is one set of settings applied to one base
(``fresh``, the finished dataset being grown, or a rebuild of it), so a resumed run finds
exactly its own parts and a rebuild never mistakes the old dataset's parts for its own.
"""

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nemo_cosmos.data.indexed.records import iter_records
from nemo_cosmos.data.indexed.sidecar import EARLIER_FORMATS, complete_sidecar, header_of, sidecar_format
from nemo_cosmos.tokenization.inputs import Growth, identity_of, plan_growth
from nemo_cosmos.tokenization.settings import differences, listed

WAYS_OUT = "choose a new output.dir, or set output.overwrite=true to rebuild (the old dataset stays readable until the new one is complete)"
PART_NAME = re.compile(r"-(\d{9})-(\d{9})$")


class RefusedRun(ValueError):
    """The run would lose or silently change finished work in ``output.dir``; nothing was touched."""


@dataclass
class OutputState:
    """The run's plan against ``output.dir``: ``base`` is the finished dataset to grow (None:
    build from nothing), ``growth`` says which inputs to keep and encode, ``build`` names the
    parts folder, ``swap_pending`` when ``<name>.next`` must be swapped in first."""

    final: Path
    header: dict[str, Any]
    base: Path | None
    growth: Growth
    build: str
    swap_pending: bool = False
    notes: list[str] = field(default_factory=list)

    @property
    def up_to_date(self) -> bool:
        return self.base is not None and not self.growth.new and not self.growth.dropped

    @property
    def parts_dir(self) -> Path:
        return self.final.parent / "parts" / self.build


def part_range(prefix: Path) -> tuple[int, int] | None:
    """The dataset positions ``[start, stop)`` a part's name covers, or None for a foreign name."""
    match = PART_NAME.search(prefix.name)
    return (int(match.group(1)), int(match.group(2))) if match else None


def _complete_parts(folder: Path) -> list[tuple[Path, dict[str, Any]]]:
    parts = []
    for sidecar in sorted(folder.glob("*.json")):
        prefix = sidecar.with_suffix("")
        found = complete_sidecar(prefix) if part_range(prefix) else None
        if found is not None:
            parts.append((prefix, found))
    return parts


def _refuse(output: Path, problem: str) -> RefusedRun:
    return RefusedRun(f"refusing to write into {output}: {problem}. Nothing in it was changed; {WAYS_OUT}")


def _check_settings(where: str, output: Path, recorded: dict[str, Any], header: dict[str, Any]) -> None:
    if recorded == header:
        return
    changed = differences(recorded.get("settings", {}), header["settings"])
    others = sorted(key for key in set(recorded) | set(header) if key != "settings" and recorded.get(key) != header.get(key))
    changed += [f"sidecar {key}" for key in others]
    raise _refuse(output, f"{where} was made with other settings ({listed(changed)})")


def _changed_parts(parts: list[tuple[Path, dict[str, Any]]], listing: list[dict[str, Any]]) -> list[str]:
    """Inputs of finished parts that gave documents and are now changed or gone."""
    current = {identity["path"]: identity for identity in listing}
    problems = []
    for prefix, _ in parts:
        for record in iter_records(prefix):
            identity = identity_of(record)
            if record.get("documents") and current.get(identity.get("path")) != identity:
                problems.append(f"{identity.get('path')} ({'changed' if identity.get('path') in current else 'vanished'})")
    return problems


def inspect_output(output: Path, name: str, header: dict[str, Any], fingerprint: str, listing: list[dict[str, Any]], overwrite: bool) -> OutputState:
    """Compare ``output`` with a run of ``header`` (its ``settings`` included) over ``listing``
    (input identities in listing order); raises :class:`RefusedRun` when the run would
    lose or change finished work and ``overwrite`` is not set."""
    final = output / name
    waiting = output / f"{name}.next"
    swap_pending = complete_sidecar(waiting) is not None
    current = waiting if swap_pending else final
    everything_new = Growth(new=list(range(len(listing))))
    state = OutputState(final, header, None, everything_new, f"{fingerprint}-fresh", swap_pending)

    found_format = sidecar_format(current)
    sidecar = complete_sidecar(current) if found_format not in EARLIER_FORMATS else None
    if found_format in EARLIER_FORMATS and not overwrite:
        raise _refuse(output, f"{current}.json was written by an earlier nemo-cosmos ({found_format}) that recorded no input identities, so it cannot be grown or checked")
    if sidecar is not None:
        if overwrite:
            state.build = f"{fingerprint}-rebuild-{sidecar['sha256']['bin'][:12]}"
        else:
            _check_settings(f"the finished dataset {current}", output, header_of(sidecar), header)
            growth = plan_growth(iter_records(current), listing)
            if growth.refused:
                gone = [f"{path} (vanished)" for path in growth.vanished]
                raise _refuse(output, f"inputs of the finished dataset changed or vanished: {listed(growth.changed + gone)}")
            state.base, state.growth = current, growth
            state.build = f"{fingerprint}-grow-{sidecar['sha256']['bin'][:12]}"
            state.notes += [f"retrying {path}: skipped before, changed since" for path in growth.retried]
            state.notes += [f"{path} was skipped before and is no longer listed: its skip record is dropped" for path in growth.forgotten]

    parts_root = output / "parts"
    for folder in sorted(parts_root.iterdir()) if parts_root.is_dir() and not overwrite else []:
        parts = _complete_parts(folder)
        if not parts:
            continue
        if not folder.name.startswith(fingerprint):
            _check_settings(f"the finished part {parts[0][0]}", output, header_of(parts[0][1]), header)
        if folder.name == state.build:
            changed = _changed_parts(parts, listing)
            if changed:
                raise _refuse(output, f"inputs of finished parts under {folder} changed or vanished: {listed(changed)}")
    return state
