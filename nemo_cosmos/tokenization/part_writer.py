"""Writing one part: plan its inputs, encode them window by window, write documents and skip records in input order.

Encoding finishes clips out of input order (lanes, size buckets); results wait here until
everything before them is written, so a part's documents always follow its input order.
Clips are batched only within a window of ``batch_size`` consecutive inputs, so which
clips are computed together never depends on where parts begin. Each input ends with its
record (identity, documents, skips). A part is an indexed dataset of its own, under
temporary names until complete (see ``IndexedDatasetWriter``).

Each window's successor (the next window of the part, else the first of the next part) is
planned before the window is encoded, and its first videos start decoding then, so the
decode workers do not wait at the end of a window or a part.
"""

import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields
from itertools import chain
from typing import Any

from nemo_cosmos.data.indexed.writer import IndexedDatasetWriter
from nemo_cosmos.data.media import FrameUsage, MediaItem
from nemo_cosmos.tokenization.documents import LatentDocuments, TokenDocuments
from nemo_cosmos.tokenization.encoding import BatchEncoder, Result
from nemo_cosmos.tokenization.planning import Planner, Unit
from nemo_cosmos.tokenization.progress import ClipProgress
from nemo_cosmos.tokenization.rank_log import rank_warning
from nemo_cosmos.tokenization.sharding import windows_of


@dataclass
class PartStats:
    """What writing parts produced: inputs done, documents (clips and images), skips, tokens, time;
    and where the videos' frames went (see ``FrameUsage``; a clip that fails to encode counts as skipped)."""

    inputs: int = 0
    clips: int = 0
    images: int = 0
    skipped: int = 0
    tokens: int = 0
    seconds: float = 0.0
    frames_used: int = 0
    frames_stride: int = 0
    frames_tail: int = 0
    frames_unchosen: int = 0
    frames_skipped: int = 0

    def add_usage(self, usage: FrameUsage) -> None:
        for name, value in asdict(usage).items():
            setattr(self, f"frames_{name}", getattr(self, f"frames_{name}") + value)

    @property
    def documents(self) -> int:
        return self.clips + self.images

    def add(self, other: "PartStats") -> None:
        for field in fields(self):
            setattr(self, field.name, getattr(self, field.name) + getattr(other, field.name))


class _InOrder:
    """Writes the entries of a part (skip records and encoded units) in input order as results arrive."""

    def __init__(
        self, writer: IndexedDatasetWriter, entries: list[tuple[Unit | dict[str, Any], dict[str, Any] | None]], formatter, stats: PartStats, progress: ClipProgress
    ) -> None:
        self.writer, self.entries, self.formatter, self.stats, self.progress = writer, entries, formatter, stats, progress
        self.results: dict[int, Result] = {}
        self.next = 0

    def offer(self, position: int, result: Result) -> None:
        self.results[position] = result
        self.write_ready()

    def write_ready(self) -> None:
        while self.next < len(self.entries):
            entry, identity = self.entries[self.next]  # the identity closes an input
            if isinstance(entry, Unit):
                if self.next not in self.results:
                    return
                self._write_unit(entry, self.results.pop(self.next))
            else:
                self._skip(entry)
            self.next += 1
            if identity is not None:
                self.writer.end_input(identity)
                self.stats.inputs += 1

    def _write_unit(self, unit: Unit, result: Result) -> None:
        if isinstance(result, str):
            if unit.clip is not None:
                self.stats.add_usage(FrameUsage(used=-(len(unit.clip.frames) - unit.clip.padded), skipped=len(unit.clip.frames) - unit.clip.padded))
            self._skip(unit.skip(result))
            return
        document = self.formatter.document(result, unit.item.caption)
        self.writer.add_document(document.sequences, document.shape, unit.source(), modes=document.modes, text_prefix=document.text_prefix)
        self.stats.tokens += document.tokens
        self.progress.document(document.tokens)
        if unit.clip is None:
            self.stats.images += 1
        else:
            self.stats.clips += 1

    def _skip(self, record: dict[str, Any]) -> None:
        rank_warning(f"skipped {record['path']}: {record['reason']}")
        self.writer.add_skipped(record)
        self.stats.skipped += 1
        self.progress.skip()


def write_part(
    prefix: str,
    header: dict[str, Any],
    items: list[MediaItem],
    identities: list[dict[str, Any]],
    planner: Planner,
    encoder: BatchEncoder,
    formatter: TokenDocuments | LatentDocuments,
    progress: ClipProgress,
    following: Sequence[MediaItem] = (),
) -> PartStats:
    """Tokenize ``items`` (with their ``identities``) into the complete dataset at ``prefix``; returns what was written.

    ``following``: the items of the part to be written next, whose first window starts
    decoding while this part ends. ``progress`` advances by one per document or skip record.
    """
    started = time.perf_counter()
    stats = PartStats()
    windows = windows_of(len(items), encoder.batch_size)
    upcoming = [[items[index] for index in window] for window in windows[1:]] + [list(following[: encoder.batch_size])]
    with IndexedDatasetWriter(prefix, header) as writer:
        entries: list[tuple[Unit | dict[str, Any], dict[str, Any] | None]] = []
        in_order = _InOrder(writer, entries, formatter, stats, progress)
        for window, next_items in zip(windows, upcoming):
            first = len(entries)
            for index in window:
                planned, usage = planner.plan(items[index])
                stats.add_usage(usage)
                planned = [planned] if isinstance(planned, dict) else planned
                entries.extend((entry, identities[index] if i == len(planned) - 1 else None) for i, entry in enumerate(planned))
            progress.planned(len(window), len(entries) - first)
            units = [(position, entry) for position, (entry, _) in enumerate(entries) if position >= first and isinstance(entry, Unit)]
            videos = [(position, unit) for position, unit in units if unit.clip is not None]
            images = [(position, unit) for position, unit in units if unit.clip is None]
            in_order.write_ready()  # inputs skipped at planning before the window's first unit
            encoded = chain(encoder.encode_videos(videos, following=planner.ahead(next_items)), encoder.encode_images(images))
            for position, result in encoded:
                in_order.offer(position, result)
    stats.seconds = time.perf_counter() - started
    return stats
