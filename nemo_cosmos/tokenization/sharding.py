"""Cutting a run's inputs into parts, and sharing the parts among ranks through a queue.

Inputs are encoded in *windows* of ``batch_size`` consecutive inputs (clips batched
together only ever come from one window), and a part is a run of whole windows. So
which clips are computed together depends on the inputs alone: not on the number of
ranks, nor on the part size, which is chosen from the input count (about
``TARGET_PARTS`` parts, at most ``items_per_part`` inputs each) so that small jobs still
make enough parts for every rank. Ranks take the next part from a counter shared through
the process group's store, so a rank that drew large inputs does not hold the others up:
the fast ones take more parts. A rank takes its next part before it writes the current
one (so that the next part's first videos decode while the current one ends), except,
with several ranks, the last ``world_size`` parts: those go to whichever rank is free.
"""

import itertools
from collections.abc import Iterator
from dataclasses import dataclass

import torch.distributed as dist

from nemo_cosmos.tokenization.distributed import Ranks

TARGET_PARTS = 1024
_queues = itertools.count()  # every rank creates its queues in the same order


@dataclass(frozen=True)
class Part:
    """The inputs at dataset positions ``[start, stop)``."""

    start: int
    stop: int

    @property
    def size(self) -> int:
        return self.stop - self.start

    def name(self, dataset: str) -> str:
        """``tokens-000000064-000000128``: sorts in dataset order and says what it covers."""
        return f"{dataset}-{self.start:09d}-{self.stop:09d}"


def plan_parts(count: int, first: int, window: int, items_per_part: int) -> list[Part]:
    """Parts covering ``count`` inputs from dataset position ``first``, each of whole windows of ``window`` inputs."""
    if window < 1 or items_per_part < 1 or count < 0:
        raise ValueError(f"window and items_per_part must be at least 1 and count non-negative, got {window}, {items_per_part}, {count}")
    windows = -(-count // window)
    per_part = max(1, min(items_per_part // window, -(-windows // TARGET_PARTS)))
    size = per_part * window
    return [Part(first + start, first + min(count, start + size)) for start in range(0, count, size)]


def windows_of(count: int, window: int) -> list[range]:
    """The encoding windows of a part of ``count`` inputs (positions within the part)."""
    return [range(start, min(count, start + window)) for start in range(0, count, window)]


def take_parts(ranks: Ranks, count: int) -> Iterator[tuple[int, int | None]]:
    """The indices of the parts this rank should write, taken from a queue shared by all ranks, each
    with the part this rank writes after it when that one is taken already (else None)."""
    if ranks.world_size == 1:
        yield from itertools.pairwise(itertools.chain(range(count), [None]))
        return
    key = f"nemo_cosmos/tokenization/part_queue/{next(_queues)}"
    store = dist.distributed_c10d._get_default_store()

    def take() -> int | None:
        index = store.add(key, 1) - 1
        return index if index < count else None

    index = take()
    while index is not None:
        following = take() if count - store.add(key, 0) > ranks.world_size else None
        yield index, following
        index = following if following is not None else take()
