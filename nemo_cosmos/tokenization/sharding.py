"""Splitting a job's inputs into parts and parts among ranks, so the output never depends on the rank count.

The ordered input list is cut into consecutive parts of ``items_per_part`` items. Each
part is written to its own indexed dataset; merging the parts in part order gives the
same documents in the same order whatever the number of ranks, and a part that is
complete is never redone, even when a job resumes with a different number of ranks.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class Part:
    """Part ``index`` of ``count``, covering inputs ``[start, stop)``."""

    index: int
    count: int
    start: int
    stop: int

    @property
    def name(self) -> str:
        """``part-00003-of-00010``: sorts in part order and names the plan it belongs to."""
        return f"part-{self.index:05d}-of-{self.count:05d}"


def plan_parts(num_items: int, items_per_part: int) -> list[Part]:
    """Consecutive parts of at most ``items_per_part`` inputs covering ``num_items`` inputs."""
    if items_per_part < 1:
        raise ValueError(f"items_per_part must be at least 1, got {items_per_part}")
    if num_items < 0:
        raise ValueError(f"num_items must be non-negative, got {num_items}")
    count = -(-num_items // items_per_part)
    return [Part(index=i, count=count, start=i * items_per_part, stop=min(num_items, (i + 1) * items_per_part)) for i in range(count)]


def parts_for_rank(parts: list[Part], rank: int, world_size: int) -> list[Part]:
    """The parts rank ``rank`` of ``world_size`` writes: every ``world_size``-th, starting at ``rank``."""
    if world_size < 1 or not 0 <= rank < world_size:
        raise ValueError(f"rank must be in [0, world_size), got rank={rank} world_size={world_size}")
    return parts[rank::world_size]
