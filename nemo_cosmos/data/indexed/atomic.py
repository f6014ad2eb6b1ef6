"""Writing files so that a final name only ever holds a complete file.

Everything is written under ``<final name>.partial`` first and renamed over the final
name when complete (``os.replace`` is atomic on one filesystem); a job killed midway
leaves at most ``.partial`` files, which the next attempt overwrites.
"""

import os
from pathlib import Path


def partial_path(path: str | Path) -> Path:
    """The temporary name used while ``path`` is being written."""
    path = Path(path)
    return path.with_name(path.name + ".partial")


def publish(path: str | Path) -> None:
    """Flush the finished ``partial_path(path)`` to disk and rename it to ``path``."""
    temporary = partial_path(path)
    with temporary.open("rb+") as stream:
        os.fsync(stream.fileno())
    os.replace(temporary, path)


def write_text_atomic(path: str | Path, text: str) -> None:
    """Write ``text`` to ``path`` through its partial name."""
    partial_path(path).write_text(text, encoding="utf-8")
    publish(path)
