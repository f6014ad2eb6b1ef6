"""Finding the inputs of a tokenization job: a directory, a glob or a JSONL manifest.

Every source becomes a list of :class:`MediaItem` in a deterministic order: directories
and globs are sorted by path; a manifest keeps its line order (the user chose it).
Whether an item is a video or an image is decided by its file extension.
"""

import glob
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

logger = logging.getLogger(__name__)


VIDEO_EXTENSIONS = frozenset({".mp4", ".mov", ".mkv", ".avi", ".webm", ".m4v", ".mpg", ".mpeg", ".ts", ".flv", ".wmv", ".gif"})
IMAGE_EXTENSIONS = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff"})


@dataclass(frozen=True)
class MediaItem:
    """One input file: its path, ``"video"`` or ``"image"``, and an optional caption."""

    path: str
    kind: str
    caption: str | None = None


def media_kind(path: str | Path) -> str | None:
    """``"video"``, ``"image"`` or None (not a media file) from the extension, case-insensitive."""
    suffix = Path(path).suffix.lower()
    if suffix in VIDEO_EXTENSIONS:
        return "video"
    if suffix in IMAGE_EXTENSIONS:
        return "image"
    return None


SHOWN_IGNORED = 10  # ignored files named in the log line; the rest are counted


def _items_from_paths(paths: list[str], origin: str) -> list[MediaItem]:
    items, ignored = [], []
    for path in sorted(paths):
        kind = media_kind(path)
        if kind is None:
            ignored.append(path)
        else:
            items.append(MediaItem(path=path, kind=kind))
    if ignored:
        named = ", ".join(ignored[:SHOWN_IGNORED]) + (f", ... ({len(ignored) - SHOWN_IGNORED} more)" if len(ignored) > SHOWN_IGNORED else "")
        logger.info(
            f"{origin}: ignored {len(ignored)} file{'s' * (len(ignored) != 1)} that {'are' if len(ignored) != 1 else 'is'} neither video "
            f"{sorted(VIDEO_EXTENSIONS)} nor image {sorted(IMAGE_EXTENSIONS)}: {named}"
        )
    return items


def scan_directory(directory: str | Path) -> list[MediaItem]:
    """All video and image files below ``directory`` (recursively), sorted by path."""
    directory = Path(directory)
    if not directory.is_dir():
        raise FileNotFoundError(f"{directory}: no such directory")
    return _items_from_paths([str(p) for p in directory.rglob("*") if p.is_file()], str(directory))


def expand_glob(pattern: str) -> list[MediaItem]:
    """Video and image files matching a glob pattern (``**`` recurses), sorted by path."""
    paths = [p for p in glob.glob(pattern, recursive=True) if Path(p).is_file()]
    if not paths:
        raise FileNotFoundError(f"{pattern}: the glob pattern matches no files")
    return _items_from_paths(paths, pattern)


def read_manifest(manifest: str | Path) -> list[MediaItem]:
    """Items of a JSONL manifest, one ``{"path": ..., "caption": ...}`` object per line.

    Relative paths are relative to the manifest's directory; blank lines are allowed.
    A malformed line raises ValueError naming the manifest and the line number. Listed
    files are not opened here: a missing one is reported when it is read.
    """
    manifest = Path(manifest)
    if not manifest.is_file():
        raise FileNotFoundError(f"{manifest}: no such manifest file")
    items = []
    with manifest.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            where = f"{manifest}:{number}"
            try:
                entry = json.loads(line)
            except json.JSONDecodeError as error:
                raise ValueError(f"{where}: not valid JSON ({error.msg})") from error
            if not isinstance(entry, dict) or not isinstance(entry.get("path"), str) or not entry["path"]:
                raise ValueError(f'{where}: expected an object with a non-empty string "path", got {line.strip()[:200]}')
            caption = entry.get("caption")
            if caption is not None and not isinstance(caption, str):
                raise ValueError(f'{where}: "caption" must be a string, got {type(caption).__name__}')
            path = Path(entry["path"])
            if not path.is_absolute():
                path = manifest.parent / path
            kind = media_kind(path)
            if kind is None:
                raise ValueError(f"{where}: {path} has an extension that is neither video {sorted(VIDEO_EXTENSIONS)} nor image {sorted(IMAGE_EXTENSIONS)}")
            items.append(MediaItem(path=str(path), kind=kind, caption=caption))
    return items


def collect_inputs(sources: str | Path | Sequence[str | Path]) -> list[MediaItem]:
    """Items of one source or several, concatenated in the order given.

    A source is a directory, a ``.jsonl`` manifest, or a glob pattern (anything else).
    """
    if isinstance(sources, (str, Path)):
        sources = [sources]
    items: list[MediaItem] = []
    for source in sources:
        path = Path(source)
        if path.is_dir():
            items.extend(scan_directory(path))
        elif path.suffix.lower() == ".jsonl":
            items.extend(read_manifest(path))
        else:
            items.extend(expand_glob(str(source)))
    return items
