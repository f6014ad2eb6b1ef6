"""Writing one part: plan its inputs, encode them, write documents and skip records in input order.

Encoding finishes clips out of input order (lanes, size buckets); results wait here until
everything before them is written, so a part's documents always follow its input order
and the bytes never depend on batching. A part is an indexed dataset of its own, under
temporary names until complete (see ``IndexedDatasetWriter``).
"""

import time
from dataclasses import asdict, dataclass, fields
from itertools import chain
from typing import Any

from nemo.utils import logging

from nemo_cosmos.data.indexed.writer import IndexedDatasetWriter
from nemo_cosmos.data.media import ClipSampling, FrameGeometry, FrameUsage, MediaItem
from nemo_cosmos.tokenization.documents import LatentDocuments, TokenDocuments
from nemo_cosmos.tokenization.encoding import BatchEncoder, Result
from nemo_cosmos.tokenization.planning import Unit, plan_item
from nemo_cosmos.tokenization.progress import ClipProgress


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

    def __init__(self, writer: IndexedDatasetWriter, entries: list[tuple[Unit | dict[str, Any], bool]], formatter, stats: PartStats, progress: ClipProgress) -> None:
        self.writer, self.entries, self.formatter, self.stats, self.progress = writer, entries, formatter, stats, progress
        self.results: dict[int, Result] = {}
        self.next = 0

    def offer(self, position: int, result: Result) -> None:
        self.results[position] = result
        self.write_ready()

    def write_ready(self) -> None:
        while self.next < len(self.entries):
            entry, last_of_item = self.entries[self.next]
            if isinstance(entry, Unit):
                if self.next not in self.results:
                    return
                self._write_unit(entry, self.results.pop(self.next))
            else:
                self._skip(entry)
            self.next += 1
            if last_of_item:
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
        logging.warning(f"skipped {record['path']}: {record['reason']}")
        self.writer.add_skipped(record)
        self.stats.skipped += 1
        self.progress.skip()


def write_part(
    prefix: str,
    header: dict[str, Any],
    items: list[MediaItem],
    sampling: ClipSampling | None,
    geometry: FrameGeometry,
    encoder: BatchEncoder,
    formatter: TokenDocuments | LatentDocuments,
    progress: ClipProgress,
) -> PartStats:
    """Tokenize ``items`` into the complete dataset at ``prefix``; returns what was written.

    ``sampling`` is None for image models. ``progress`` advances by one per document or skip record.
    """
    started = time.perf_counter()
    entries: list[tuple[Unit | dict[str, Any], bool]] = []
    stats = PartStats()
    for item in items:
        planned, usage = plan_item(item, sampling, geometry, header["tokenizer"]["name"])
        stats.add_usage(usage)
        planned = [planned] if isinstance(planned, dict) else planned
        entries.extend((entry, i == len(planned) - 1) for i, entry in enumerate(planned))
    progress.planned(len(items), len(entries))
    units = [(position, entry) for position, (entry, _) in enumerate(entries) if isinstance(entry, Unit)]
    videos = [(position, unit) for position, unit in units if unit.clip is not None]
    images = [(position, unit) for position, unit in units if unit.clip is None]
    with IndexedDatasetWriter(prefix, header) as writer:
        in_order = _InOrder(writer, entries, formatter, stats, progress)
        in_order.write_ready()  # inputs skipped at planning before the first unit
        for position, result in chain(encoder.encode_videos(videos), encoder.encode_images(images)):
            in_order.offer(position, result)
    stats.seconds = time.perf_counter() - started
    return stats
