"""The one error raised for media files that exist but cannot be decoded."""

from pathlib import Path


class UnreadableMediaError(ValueError):
    """An image or video file that is empty, corrupt or not decodable.

    The message is one line naming the path and the problem, so it can go straight into
    a log or a ``skipped.jsonl`` record.
    """

    def __init__(self, path: str | Path, problem: str) -> None:
        self.path = str(path)
        self.problem = " ".join(str(problem).split())
        super().__init__(f"{self.path}: {self.problem}")


def require_nonempty_file(path: str | Path) -> Path:
    """``path`` as a Path; FileNotFoundError if missing, UnreadableMediaError if empty."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    if path.stat().st_size == 0:
        raise UnreadableMediaError(path, "file is empty (0 bytes)")
    return path
