"""The ``skipped.jsonl`` record of inputs that were not tokenized, one JSON object per line.

Each record has ``path`` and ``reason`` (one line, e.g. the message of an
UnreadableMediaError or a "too short" / "too small" explanation), ``kind`` when the reason
is a ``SkipReason`` (always, from the tokenization job), plus optional details such as the
clip's ``start_frame`` and ``end_frame``.
"""

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from nemo_cosmos.data.indexed.atomic import partial_path, publish


def skip_record(path: str | Path, reason: str, **details: Any) -> dict[str, Any]:
    """A record for ``skipped.jsonl``; the reason is folded onto one line, and its ``kind``
    (a ``SkipReason``'s, e.g. ``truncated`` or ``too_short``) recorded beside it."""
    kind = getattr(reason, "kind", None)
    return {"path": str(path), "reason": " ".join(str(reason).split()), **({"kind": kind} if kind else {}), **details}


def write_skipped(path: str | Path, records: Iterable[dict[str, Any]]) -> None:
    """Write the records to a JSONL file, one at a time (atomically: temporary file, then rename)."""
    with partial_path(path).open("w", encoding="utf-8") as lines:
        for record in records:
            lines.write(json.dumps(record, sort_keys=True) + "\n")
    publish(path)


def read_skipped(path: str | Path) -> list[dict[str, Any]]:
    """The records of a ``skipped.jsonl`` file."""
    with Path(path).open(encoding="utf-8") as lines:
        return [json.loads(line) for line in lines if line.strip()]
