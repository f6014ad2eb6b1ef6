"""The ranks of a job started by ``torchrun``: which one this is, barriers and gathers.

Launched with ``torchrun --nproc_per_node N [--nnodes ...]``, the environment holds
``RANK``, ``WORLD_SIZE`` and ``LOCAL_RANK``; a process group is created with NCCL when
GPUs are present and gloo otherwise. Run as a plain ``python`` process, the job is one
rank and no process group is made.
"""

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class Ranks:
    """This process's place in the job."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_first(self) -> bool:
        return self.rank == 0

    def barrier(self) -> None:
        """Wait for every rank (no-op for one rank)."""
        if self.world_size > 1:
            if dist.get_backend() == "nccl":
                dist.barrier(device_ids=[self.local_rank])
            else:
                dist.barrier()

    def gather(self, value: Any) -> list[Any]:
        """``value`` of every rank, in rank order, on every rank (picklable values)."""
        if self.world_size == 1:
            return [value]
        values: list[Any] = [None] * self.world_size
        dist.all_gather_object(values, value)
        return values


@contextlib.contextmanager
def job_ranks(timeout_minutes: int) -> Iterator[Ranks]:
    """The ranks of this job, with a process group for its duration when there are several.

    ``timeout_minutes`` bounds how long a rank waits for the others at a barrier: the
    fastest rank waits there until the slowest has written its parts.
    """
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if dist.is_initialized():  # a caller that made its own process group
        yield Ranks(dist.get_rank(), dist.get_world_size(), local_rank)
        return
    ranks = Ranks(int(os.environ.get("RANK", "0")), int(os.environ.get("WORLD_SIZE", "1")), local_rank)
    if ranks.world_size == 1:
        yield ranks
        return
    cuda = torch.cuda.is_available()
    if cuda:
        torch.cuda.set_device(ranks.local_rank)
    dist.init_process_group("nccl" if cuda else "gloo", timeout=timedelta(minutes=timeout_minutes))
    try:
        yield ranks
    finally:
        dist.destroy_process_group()
