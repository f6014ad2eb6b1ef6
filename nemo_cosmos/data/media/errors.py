"""The one error raised for media files that exist but cannot be decoded, and skip reasons with a kind."""

from pathlib import Path


class SkipReason(str):
    """Why an input (or a clip of it) is not used: one line for a person, and ``kind`` for machines.

    A ``str``, so it reads, compares and is written as its text. Kinds used: ``missing``,
    ``empty``, ``not_media``, ``unreadable_image``, ``truncated``, ``too_short``,
    ``too_small``, ``fps_below_target``, ``frame_size_changed``, ``decode_worker_died``,
    ``decode_error``, ``video_for_image_model``.
    """

    kind: str

    def __new__(cls, kind: str, text: str) -> "SkipReason":
        reason = super().__new__(cls, " ".join(str(text).split()))
        reason.kind = kind
        return reason

    def __reduce__(self) -> tuple:
        return SkipReason, (self.kind, str(self))


class UnreadableMediaError(ValueError):
    """An image or video file that is empty, corrupt or not decodable.

    The message is one line naming the path and the problem, so it can go straight into
    a log; ``reason`` is the problem with its ``kind``, for a ``skipped.jsonl`` record.
    """

    def __init__(self, path: str | Path, problem: str, kind: str = "decode_error") -> None:
        self.path = str(path)
        self.problem = " ".join(str(problem).split())
        self.kind = kind
        super().__init__(f"{self.path}: {self.problem}")

    @property
    def reason(self) -> SkipReason:
        return SkipReason(self.kind, self.problem)


def reason_of(error: Exception) -> SkipReason:
    """The skip reason for an error met while reading a file (the path is recorded beside it)."""
    if isinstance(error, UnreadableMediaError):
        return error.reason
    if isinstance(error, FileNotFoundError):
        return SkipReason("missing", "no such file")
    return SkipReason("decode_error", f"decoding raised {type(error).__name__}: {error}")


def require_nonempty_file(path: str | Path) -> Path:
    """``path`` as a Path; FileNotFoundError if missing, UnreadableMediaError if empty."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    if path.stat().st_size == 0:
        raise UnreadableMediaError(path, "empty file (0 bytes)", kind="empty")
    return path
