"""Per-input records beside an indexed dataset: ``<prefix>.inputs.jsonl``, one line per input.

A line holds the input's identity (``path``, ``size``, ``mtime_ns``, ``caption``; see the
tokenization job) and what it became: ``documents`` (shape, source and ``text_prefix``
of each, in document order) and ``skipped`` (its skip records). Lines follow the
dataset's document order, so document ids are the running count of ``documents``.
Records are written and read a line at a time: a merge or a growth never holds the
provenance of every document at once.
"""

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any


def records_path(prefix: str | Path) -> Path:
    return Path(f"{prefix}.inputs.jsonl")


def record_line(record: dict[str, Any]) -> str:
    """One record as its JSONL line (sorted keys, compact: the same record gives the same bytes)."""
    return json.dumps(record, sort_keys=True, separators=(",", ":")) + "\n"


def iter_records(prefix: str | Path) -> Iterator[dict[str, Any]]:
    """The input records of the dataset at ``prefix``, in order, read lazily."""
    path = records_path(prefix)
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, start=1):
            try:
                yield json.loads(line)
            except json.JSONDecodeError as error:
                raise ValueError(f"{path}:{number}: not a JSON record ({error.msg})") from error


def iter_skipped(prefix: str | Path) -> Iterator[dict[str, Any]]:
    """Every skip record of the dataset at ``prefix``, in input order."""
    for record in iter_records(prefix):
        yield from record.get("skipped", [])


def iter_documents(prefix: str | Path) -> Iterator[dict[str, Any]]:
    """Every document record (``shape``, ``source``, optional ``text_prefix``) in document order."""
    for record in iter_records(prefix):
        yield from record.get("documents", [])
