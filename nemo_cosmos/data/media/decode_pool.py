"""Decoding and resizing video frames in worker processes, a chunk at a time, ahead of their consumer.

A *lane* is one video whose planned clips are decoded in order, in chunks of planned sizes
(an encoder stream's ``1 + k*ct`` frames, then ``k*ct``). :class:`DecodePool` runs lanes
in ``workers`` processes so that decoding overlaps with whatever this process does
meanwhile (encoding): each lane keeps up to ``prefetch`` chunks requested ahead of the one
being consumed, from the moment it is opened (its consumer may change that number: see
:meth:`Lane.keep_ahead`), so memory stays bounded by a few chunks per open lane. With
``workers=0`` lanes decode here, when their chunks are asked for (no overlap).

A lane's chunks come back in order as uint8 ``[n, H, W, 3]`` arrays, the same frames for
any number of workers. A chunk that cannot be produced comes back as a one-line reason
(a string) instead, and so does every later chunk of the lane: the file is unreadable,
ends early, changes frame size, or its worker process died (the pool then starts a
fresh worker for later lanes). Nothing waits on a dead worker.

Workers are forked: they start at once, without importing anything, and they only run
PyAV, Pillow and numpy.
"""

import itertools
import logging
import multiprocessing
import queue
import threading
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from multiprocessing.connection import Connection, wait
from pathlib import Path

import numpy as np

from nemo_cosmos.data.media.clips import Clip, stream_clips
from nemo_cosmos.data.media.errors import SkipReason, reason_of

logger = logging.getLogger(__name__)

Transform = Callable[[np.ndarray], np.ndarray]
Chunk = np.ndarray | SkipReason  # frames [n, H, W, 3], or why they could not be decoded


def lane_chunks(path: str | Path, clips: Sequence[Clip], sizes: Sequence[int], shape: tuple[int, int], transform: Transform | None) -> Iterator[Chunk]:
    """Every planned chunk of ``clips`` (each split into ``sizes``), decoded once, in order.

    ``shape`` is the ``(height, width)`` every transformed frame must have. After the first
    failure, that chunk and every later one is the failure's reason.
    """
    failure: SkipReason | None = None
    stream = stream_clips(path, list(clips), transform)
    try:
        for _, frames in stream:
            for count in sizes:
                if failure is None:
                    chunk, failure = _take(frames, count, shape)
                yield chunk if failure is None else failure
    except Exception as error:  # opening the file: the stream's first step
        failure = failure or reason_of(error)
        yield failure
        while True:
            yield failure
    finally:
        stream.close()


def _take(frames: Iterator[np.ndarray], count: int, shape: tuple[int, int]) -> tuple[np.ndarray | None, SkipReason | None]:
    """The next ``count`` frames as one array, or the reason they cannot be had."""
    chunk = np.empty((count, *shape, 3), dtype=np.uint8)
    for i in range(count):
        try:
            frame = next(frames)
        except Exception as error:
            return None, reason_of(error)
        if frame.shape != chunk.shape[1:]:
            return None, SkipReason("frame_size_changed", f"frame size changed mid-video to {frame.shape[1]}x{frame.shape[0]}, expected {shape[1]}x{shape[0]}")
        chunk[i] = frame
    return chunk, None


def _serve(requests: Connection, responses: Connection, transform: Transform | None, inherited: list[Connection]) -> None:
    """A worker: open, advance and close lanes as asked; a sender thread returns chunks so decoding goes on meanwhile.

    ``inherited``: the pool's ends of every worker's pipes, copied by the fork; closing them
    here lets this worker see the pool's process end (EOF), even if it is killed.
    """
    for connection in inherited:
        connection.close()
    outbox: queue.Queue = queue.Queue()

    def send() -> None:
        try:
            while (message := outbox.get()) is not None:
                responses.send(message)
        except OSError:  # the pool stopped reading: it is closing, or gone
            return

    sender = threading.Thread(target=send, daemon=True)
    sender.start()
    lanes: dict[int, Iterator[Chunk]] = {}
    try:
        while True:
            try:
                kind, lane, *details = requests.recv()
            except EOFError:  # the pool's process is gone
                return
            if kind == "open":
                lanes[lane] = lane_chunks(*details, transform)
            elif kind == "next":
                outbox.put((lane, next(lanes[lane])))
            elif kind == "close":
                lanes.pop(lane).close()
            else:  # "stop"
                return
    finally:
        outbox.put(None)
        sender.join()


class _Worker:
    """One decoding process and its two pipes."""

    def __init__(self, context: multiprocessing.context.BaseContext, transform: Transform | None, others: list["_Worker"]) -> None:
        child_requests, self.requests = context.Pipe(duplex=False)
        self.responses, child_responses = context.Pipe(duplex=False)
        inherited = [self.requests, self.responses] + [end for other in others for end in (other.requests, other.responses)]
        self.process = context.Process(target=_serve, args=(child_requests, child_responses, transform, inherited), name="decode", daemon=True)
        self.process.start()
        child_requests.close()  # the child holds them now; a dead child then reads as EOF here
        child_responses.close()
        self.lanes: dict[int, Lane] = {}

    def send(self, message: tuple) -> bool:
        try:
            self.requests.send(message)
            return True
        except (BrokenPipeError, ConnectionResetError):
            return False

    def stop(self) -> None:
        self.send(("stop", -1))
        self.responses.close()  # a sender blocked on chunks no one will read gets a broken pipe and ends
        self.process.join(timeout=5)
        if self.process.is_alive():
            self.process.kill()
            self.process.join()
        self.requests.close()


class Lane:
    """The chunks of one video's clips, in order: :meth:`next_chunk` until the plan is done, then :meth:`close`."""

    def __init__(self, pool: "DecodePool", number: int, planned: int, local: Iterator[Chunk] | None, worker: _Worker | None) -> None:
        self.pool, self.number, self.planned = pool, number, planned
        self.local, self.worker = local, worker
        self.requested = self.received = 0
        self.ahead = pool.prefetch
        self.arrived: deque[Chunk] = deque()
        self.failure: SkipReason | None = None

    def next_chunk(self) -> Chunk:
        """The next planned chunk (frames, or the reason it failed), waiting for its worker if needed."""
        if self.received >= self.planned:
            raise ValueError(f"lane {self.number} has only {self.planned} planned chunks")
        self.received += 1
        if self.local is not None:
            return next(self.local)
        self._request_ahead()
        while not self.arrived and self.failure is None:
            self.pool._receive(self.worker)
        chunk = self.arrived.popleft() if self.arrived else self.failure
        self._request_ahead()
        return chunk

    def keep_ahead(self, chunks: int) -> None:
        """Keep up to ``chunks`` requested beyond those received from now on (``prefetch`` at first):
        a lane waiting for its turn can so take the window that the lane before it no longer needs."""
        self.ahead = chunks
        if self.local is None:
            self._request_ahead()

    def _request_ahead(self) -> None:
        while self.failure is None and self.requested < min(self.planned, self.received + self.ahead):
            if not self.worker.send(("next", self.number)):
                self.pool._lost(self.worker)
                return
            self.requested += 1

    def close(self) -> None:
        """Stop decoding this lane (chunks still on their way are dropped)."""
        if self.local is not None:
            self.local.close()
        elif self.worker.lanes.pop(self.number, None) is not None:
            self.worker.send(("close", self.number))


class DecodePool:
    """Lanes decoded by ``workers`` processes (0: in this process), ``prefetch`` chunks ahead; a context manager."""

    def __init__(self, workers: int, transform: Transform | None, prefetch: int = 2) -> None:
        if workers < 0 or prefetch < 1:
            raise ValueError(f"decode workers must be at least 0 and prefetch at least 1, got workers={workers} prefetch={prefetch}")
        self.size, self.transform, self.prefetch = workers, transform, prefetch
        self._context = multiprocessing.get_context("fork")
        self._workers: list[_Worker] = []
        self._numbers = itertools.count()

    def open(self, path: str | Path, clips: Sequence[Clip], sizes: Sequence[int], shape: tuple[int, int]) -> Lane:
        """A lane over ``clips`` of ``path``, each clip in chunks of ``sizes`` frames of ``shape`` (height, width)."""
        number, planned = next(self._numbers), len(clips) * len(sizes)
        if self.size == 0:
            return Lane(self, number, planned, lane_chunks(path, clips, sizes, shape, self.transform), None)
        for dead in [w for w in self._workers if not w.process.is_alive()]:
            self._lost(dead)
        if len(self._workers) < self.size:
            self._workers.append(_Worker(self._context, self.transform, self._workers))
        worker = min(self._workers, key=lambda w: len(w.lanes))
        lane = Lane(self, number, planned, None, worker)
        worker.lanes[number] = lane
        if worker.send(("open", number, str(path), list(clips), list(sizes), shape)):
            lane._request_ahead()  # its first chunks decode from now on
        else:
            self._lost(worker)
        return lane

    def _receive(self, worker: _Worker) -> None:
        """Wait for ``worker``'s next message and hand it to its lane; a dead worker fails its lanes."""
        ready = wait([worker.responses, worker.process.sentinel])
        if worker.responses in ready:
            try:
                number, chunk = worker.responses.recv()
            except (EOFError, OSError):
                self._lost(worker)
                return
            lane = worker.lanes.get(number)
            if lane is not None:  # else the lane was closed early: drop what was still coming
                lane.arrived.append(chunk)
        elif not worker.responses.poll():
            self._lost(worker)

    def _lost(self, worker: _Worker) -> None:
        """``worker`` died: every lane it held fails with the reason, and no one waits for it again."""
        worker.process.join(timeout=5)
        reason = SkipReason("decode_worker_died", f"the decode worker process died (exit code {worker.process.exitcode}) while decoding this video")
        logger.warning(f"{reason}; its {len(worker.lanes)} open video(s) are skipped and a new worker takes later ones")
        for lane in worker.lanes.values():
            lane.failure = lane.failure or reason
        worker.lanes.clear()
        if worker in self._workers:
            self._workers.remove(worker)
            worker.stop()

    def close(self) -> None:
        """Stop every worker."""
        for worker in self._workers:
            worker.stop()
        self._workers = []

    def __enter__(self) -> "DecodePool":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
