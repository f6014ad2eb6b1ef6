"""Encoding clips and images through the ``CausalVideoTokenizer``: batched, and video frames streamed.

Videos run in *lanes*: a lane is one video read by a single decoder, its clips one after
the other. Up to ``batch_size`` lanes whose clips share a shape run together. Each step
takes the next chunk of frames from every lane (``1 + chunk_latents*ct`` frames first,
then ``chunk_latents*ct``), stacks them into ``[B, 3, n, H, W]`` and pushes that into the
network's exact encoder stream, so memory holds a few chunks per lane and never a whole
clip (a 121-frame 720p clip included), while the latents equal one pass over the clip.

Lanes are decoded and resized by ``decode_workers`` processes (``DecodePool``), which
stay ``prefetch`` chunks ahead of the encoder, and the next ``batch_size`` videos start
decoding before their turn (so a new video does not stall the encoder), those of the next
call included when the caller names its clips (``following``: the job's next window, in
this part or the next). As the running lanes near their ends, the part of the window of
``batch_size * prefetch`` chunks they no longer hold passes to the lanes waiting for the
next call (``prefetch`` more each at most), so the workers go on decoding while a window's
last chunks are encoded. Decoding overlaps with encoding, and the frames, the batches and
so the tokens are the same for any number of workers (0 decodes in this process, in turn
with encoding). A lane whose video fails to decode midway (or whose worker dies) is fed
black frames until its clip ends; its result is dropped and the other samples of the batch
are unaffected (samples never mix). Its remaining clips are skipped with the reason.

Models that run the official TorchScript modules keep no causal state, so there each
clip is assembled whole and encoded in one pass.

Images are read, resized, grouped by size and encoded ``batch_size`` at a time with the
model's ``encode`` (video models take them as one-frame clips).
"""

import os
import weakref
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from nemo_cosmos.data.media import Clip, FrameGeometry, UnreadableMediaError, read_image, to_model_range
from nemo_cosmos.data.media.decode_pool import DecodePool, Lane
from nemo_cosmos.data.media.errors import SkipReason, reason_of
from nemo_cosmos.networks.streaming import frame_chunk_sizes
from nemo_cosmos.tokenization.planning import Unit, with_hint

# An encoded unit: indices [(t,) h, w] or a latent [C, (t,) h, w] on the CPU, or the reason it failed.
Result = Tensor | SkipReason
# What a lane decodes: a video's path, its clips and their shape (the chunk sizes follow from it).
LaneKey = tuple[str, tuple[Clip, ...], tuple[int, int, int]]


@dataclass
class _Video:
    """A video being encoded: its clips still to do, and the lane that decodes their frames."""

    clips: deque[tuple[int, Unit]]
    lane: Lane


def _videos_by_shape(units: list[tuple[int, Unit]]) -> dict[tuple[int, int, int], list[list[tuple[int, Unit]]]]:
    """The clips of each video (consecutive in ``units``), grouped by clip shape, in order."""
    videos: list[list[tuple[int, Unit]]] = []
    for position, unit in units:
        if videos and videos[-1][0][1].item is unit.item:
            videos[-1].append((position, unit))
        else:
            videos.append([(position, unit)])
    grouped: dict[tuple[int, int, int], list[list[tuple[int, Unit]]]] = {}
    for clips in videos:
        grouped.setdefault(clips[0][1].shape, []).append(clips)
    return grouped


def _in_turn(units: list[tuple[int, Unit]]) -> list[list[tuple[int, Unit]]]:
    """The videos of ``units`` in the order ``encode_videos`` takes them."""
    return [video for videos in _videos_by_shape(units).values() for video in videos]


def _lane_key(video: list[tuple[int, Unit]]) -> LaneKey:
    """The key of a video's lane: two videos with the same key get the same chunks."""
    first = video[0][1]
    return first.item.path, tuple(unit.clip for _, unit in video), first.shape


def _window_held(lane: Lane, prefetch: int) -> int:
    """Chunks of the prefetch window a running ``lane`` holds: requested and not yet received, or still to come."""
    return max(lane.requested - lane.received, min(prefetch, lane.planned - lane.received))


def default_decode_workers() -> int:
    """Decode workers for one rank: its share of this node's cores (``LOCAL_WORLD_SIZE`` ranks
    share them, as torchrun starts them), less the core its encoder uses; at least 1."""
    ranks_here = int(os.environ.get("LOCAL_WORLD_SIZE", "1"))
    return max(1, len(os.sched_getaffinity(0)) // max(1, ranks_here) - 1)


class BatchEncoder:
    """Encodes the units of a part with ``model`` (a ``CausalVideoTokenizer``); yields ``(position, Result)``.

    ``decode_workers`` processes decode and resize video frames, ``prefetch`` chunks per
    video ahead of the encoder (0 workers: decoded here, in turn with encoding).
    """

    def __init__(self, model, geometry: FrameGeometry, batch_size: int, chunk_latents: int, decode_workers: int = 0, prefetch: int = 2) -> None:
        if batch_size < 1 or chunk_latents < 1:
            raise ValueError(f"run.batch_size and run.chunk_latents must be at least 1, got {batch_size} and {chunk_latents}")
        if decode_workers < 0 or prefetch < 1:
            raise ValueError(f"run.decode_workers must be at least 0 and run.prefetch at least 1, got {decode_workers} and {prefetch}")
        self.model = model
        self.config = model.network_config
        self.geometry = geometry
        self.batch_size = batch_size
        self.chunk_frames = chunk_latents * self.config.temporal_compression
        # one pool for every part: its workers start once and stop when this encoder is collected
        self.decode_pool = DecodePool(decode_workers, geometry.apply, prefetch)
        weakref.finalize(self, self.decode_pool.close)
        self._waiting: dict[LaneKey, Lane] = {}  # lanes opened for the next call's clips

    def _pixels(self, frames: np.ndarray) -> Tensor:
        """uint8 ``[B, (n,) H, W, 3]`` -> ``[B, 3, (n,) H, W]`` in ``[-1, 1]`` in the model's dtype, in
        host memory: the model moves each chunk to its device and its outputs back."""
        return to_model_range(torch.from_numpy(frames).movedim(-1, 1), self.model.dtype)

    def _chunk_sizes(self, num_frames: int) -> list[int]:
        """Frames per encoder push for a clip: the model stream's own chunks (a stream over
        TorchScript modules keeps them until the clip is complete and encodes it whole)."""
        return frame_chunk_sizes(num_frames, self.chunk_frames, self.config.temporal_compression)

    def encode_videos(self, units: list[tuple[int, Unit]], following: Sequence[Unit] = ()) -> Iterator[tuple[int, Result]]:
        """Encode video clips, ``batch_size`` lanes at a time; every position gets a result.

        ``following``: the clips the next call will be given. The lanes of their first
        ``batch_size`` videos open now, after those of these clips, so the next call finds
        their first chunks decoded; it closes those it does not take.
        """
        waiting, self._waiting = self._waiting, {}
        self._open_ahead(waiting, units)
        self._open_ahead(self._waiting, list(enumerate(following)))  # positions unused
        try:
            yield from self._encode_lanes(units, waiting)
        finally:
            for lane in waiting.values():  # opened for clips that were not given after all
                lane.close()

    def _encode_lanes(self, units: list[tuple[int, Unit]], waiting: dict[LaneKey, Lane]) -> Iterator[tuple[int, Result]]:
        """``encode_videos`` once the lanes are opened ahead: those in ``waiting`` are taken from there."""
        for shape, videos in _videos_by_shape(units).items():
            sizes = self._chunk_sizes(shape[0])
            upcoming, running = self._opened_ahead(videos, waiting), []
            while True:
                while len(running) < self.batch_size and (video := next(upcoming, None)) is not None:
                    running.append(video)
                if not running:
                    break
                current = [video.clips.popleft() for video in running]
                results = self._encode_clips([video.lane for video in running], shape, sizes)
                still = []
                for video, (position, _), result in zip(running, current, results):
                    yield position, result
                    if isinstance(result, str):
                        for later, _ in video.clips:
                            yield later, SkipReason(result.kind, f"not decoded: an earlier clip of this video failed ({result})")
                        video.clips.clear()
                    if video.clips:
                        still.append(video)
                    else:
                        video.lane.close()
                running = still

    def _open_ahead(self, lanes: dict[LaneKey, Lane], units: list[tuple[int, Unit]]) -> None:
        """Open into ``lanes`` those of the first ``batch_size`` videos of ``units`` that it lacks."""
        for video in _in_turn(units)[: self.batch_size]:
            key = _lane_key(video)
            if key not in lanes:
                lanes[key] = self._open(video)

    def _open(self, video: list[tuple[int, Unit]]) -> Lane:
        """A new lane over the clips of ``video``."""
        path, clips, shape = _lane_key(video)
        return self.decode_pool.open(path, list(clips), self._chunk_sizes(shape[0]), shape[1:])

    def _opened_ahead(self, videos: list[list[tuple[int, Unit]]], waiting: dict[LaneKey, Lane]) -> Iterator[_Video]:
        """``videos`` in order, each opened ``batch_size`` videos before it is taken (or taken from
        ``waiting``, opened earlier), so that its first chunks are decoded by then."""
        opened: deque[_Video] = deque()
        for video in videos:
            lane = waiting.pop(_lane_key(video), None)
            if lane is None:
                lane = self._open(video)
            else:
                lane.keep_ahead(self.decode_pool.prefetch)  # its turn: the window it may have taken goes on to the next lanes
            opened.append(_Video(deque(video), lane))
            if len(opened) > self.batch_size:
                yield opened.popleft()
        yield from opened

    def _encode_clips(self, lanes: list[Lane], shape: tuple[int, int, int], sizes: list[int]) -> list[Result]:
        """One batch of clips of ``shape`` (frames, height, width), fed chunk by chunk as the lanes deliver them."""
        failures: list[SkipReason | None] = [None] * len(lanes)

        def batches() -> Iterator[np.ndarray]:
            for count in sizes:
                chunks = []
                for b, lane in enumerate(lanes):
                    chunk = lane.next_chunk()
                    if isinstance(chunk, str) or failures[b] is not None:
                        failures[b] = failures[b] or chunk
                        chunk = np.zeros((count, *shape[1:], 3), dtype=np.uint8)
                    chunks.append(chunk)
                self._pass_window_on(lanes)
                yield np.stack(chunks)

        vision = self.encode_chunks(batches())
        return [failure or vision[b] for b, failure in enumerate(failures)]

    def _pass_window_on(self, running: list[Lane]) -> None:
        """Let the lanes waiting for the next call keep ahead, in turn and up to ``prefetch`` more
        each, the chunks of the ``batch_size * prefetch`` window that the ``running`` lanes do not hold."""
        prefetch = self.decode_pool.prefetch
        spare = self.batch_size * prefetch - sum(_window_held(lane, prefetch) for lane in running)
        for lane in self._waiting.values():
            extra = min(prefetch, max(0, spare))
            lane.keep_ahead(prefetch + extra)
            spare -= extra

    def encode_chunks(self, batches: Iterator[np.ndarray]) -> Tensor:
        """The vision output ``[B, ...]`` (indices or latent, on the CPU) of clips given as uint8
        ``[B, n, H, W, 3]`` chunks in order: the one place the job calls the encoder."""
        pieces = []
        with self.model.encoder_stream() as stream:
            for batch in batches:
                encoded = stream.push(self._pixels(batch))
                if encoded is not None:
                    pieces.append(encoded[0])  # on the host already
            rest = stream.close()
            if rest is not None:
                pieces.append(rest[0])
        return torch.cat(pieces, dim=1 if self.config.is_discrete else 2)

    def encode_images(self, units: list[tuple[int, Unit]]) -> Iterator[tuple[int, Result]]:
        """Read, resize and encode images, ``batch_size`` of one size at a time; every position gets a result."""
        buckets: dict[tuple[int, ...], list[tuple[int, np.ndarray]]] = {}
        for position, unit in units:
            try:
                pixels = read_image(unit.item.path)
            except (UnreadableMediaError, FileNotFoundError) as error:
                yield position, reason_of(error)
                continue
            too_small = self.geometry.skip_reason(pixels.shape[0], pixels.shape[1])
            if too_small:
                yield position, with_hint(too_small)
                continue
            frame = self.geometry.apply(pixels)
            bucket = buckets.setdefault(frame.shape, [])
            bucket.append((position, frame))
            if len(bucket) == self.batch_size:
                yield from self._encode_images(buckets.pop(frame.shape))
        for bucket in buckets.values():
            yield from self._encode_images(bucket)

    def _encode_images(self, bucket: list[tuple[int, np.ndarray]]) -> Iterator[tuple[int, Result]]:
        pixels = self._pixels(np.stack([frame for _, frame in bucket]))
        if self.config.is_video:
            pixels = pixels.unsqueeze(2)  # a one-frame clip: 1 + 0*ct frames
        vision = self.model.encode(pixels)[0]  # on the host, as the pixels
        for b, (position, _) in enumerate(bucket):
            yield position, vision[b]
