"""What ``output.dir`` already holds, compared with what a run is asked to do, before anything is written.

The finished dataset (``<name>.bin/.idx/.inputs.jsonl/.json``, or with ``output.merge:
false`` the datasets listed by ``<name>.parts.json``) and the parts under
``parts/<build>/`` are finished work. A run that would change their meaning
is refused (:class:`RefusedRun`) unless ``output.overwrite``: other settings (named one
by one, ``clips.num_frames: 17 -> 9``), an input that gave documents changed or
vanished, or a dataset written before per-input records existed. Reading is all this
module does: a refused run leaves every file as it was and creates none.

Parts live under ``parts/<build>/``; a build is one set of settings applied to one base
(``fresh``, the finished dataset being grown, or a rebuild of it), so a resumed run finds
exactly its own parts and a rebuild never mistakes the old dataset's parts for its own.
"""

import hashlib
import itertools
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nemo_cosmos.data.indexed.dataset_list import listed_prefixes, read_dataset_list
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
    """The run's plan against ``output.dir``: ``base`` are the finished datasets to grow, in
    order (empty: build from nothing), ``growth`` says which of their input records to keep
    and which inputs to encode, ``build`` names the parts folder."""

    final: Path
    header: dict[str, Any]
    base: list[Path]
    growth: Growth
    build: str
    notes: list[str] = field(default_factory=list)

    @property
    def up_to_date(self) -> bool:
        return bool(self.base) and not self.growth.new and not self.growth.dropped

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


def _finished(output: Path, final: Path) -> tuple[list[Path], list[dict[str, Any]]]:
    """The finished datasets at ``final`` (a list of parts when one was written, else the
    merged dataset) and their sidecars; raises RefusedRun for a damaged one."""
    listing = read_dataset_list(final)
    prefixes = listed_prefixes(final, listing) if listing is not None else [final]
    found_format = sidecar_format(prefixes[0])
    if found_format in EARLIER_FORMATS:
        raise _refuse(output, f"{prefixes[0]}.json was written by an earlier nemo-cosmos ({found_format}) that recorded no input identities, so it cannot be grown or checked")
    sidecars = [complete_sidecar(prefix) for prefix in prefixes]
    missing = [str(prefix) for prefix, sidecar in zip(prefixes, sidecars) if sidecar is None]
    if listing is not None and missing:
        raise _refuse(output, f"{final}.parts.json lists datasets that are missing or incomplete: {listed(missing)}")
    return ([], []) if missing else (prefixes, sidecars)


def inspect_output(output: Path, name: str, header: dict[str, Any], fingerprint: str, listing: list[dict[str, Any]], overwrite: bool) -> OutputState:
    """Compare ``output`` with a run of ``header`` (its ``settings`` included) over ``listing``
    (input identities in listing order); raises :class:`RefusedRun` when the run would
    lose or change finished work and ``overwrite`` is not set."""
    final = output / name
    state = OutputState(final, header, [], Growth(new=list(range(len(listing)))), f"{fingerprint}-fresh")
    try:
        base, sidecars = _finished(output, final)
    except RefusedRun:
        if not overwrite:
            raise
        base, sidecars = [], []
    tag = hashlib.sha256("".join(sidecar["sha256"]["bin"] for sidecar in sidecars).encode()).hexdigest()[:12]
    if base and overwrite:
        state.build = f"{fingerprint}-rebuild-{tag}"
    elif base:
        _check_settings(f"the finished dataset {base[0]}", output, header_of(sidecars[0]), header)
        growth = plan_growth(itertools.chain.from_iterable(iter_records(prefix) for prefix in base), listing)
        if growth.refused:
            gone = [f"{path} (vanished)" for path in growth.vanished]
            raise _refuse(output, f"inputs of the finished dataset changed or vanished: {listed(growth.changed + gone)}")
        state.base, state.growth, state.build = base, growth, f"{fingerprint}-grow-{tag}"
        state.notes += [f"retrying {path}: skipped before, changed since" for path in growth.retried]
        state.notes += [f"{path} was skipped before and is no longer listed: its skip record is dropped" for path in growth.forgotten]

    parts_root = output / "parts"
    listed_folders = {prefix.parent for prefix in base}
    for folder in sorted(parts_root.iterdir()) if parts_root.is_dir() and not overwrite else []:
        parts = _complete_parts(folder) if folder not in listed_folders else []
        if not parts:
            continue
        if not folder.name.startswith(fingerprint):
            _check_settings(f"the finished part {parts[0][0]}", output, header_of(parts[0][1]), header)
        if folder.name == state.build:
            changed = _changed_parts(parts, listing)
            if changed:
                raise _refuse(output, f"inputs of finished parts under {folder} changed or vanished: {listed(changed)}")
    return state
