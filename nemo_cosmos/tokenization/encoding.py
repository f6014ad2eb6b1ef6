"""Encoding clips and images through the ``CausalVideoTokenizer``: batched, and video frames streamed.

Videos run in *lanes*: a lane is one video read by a single decoder, its clips one after
the other (``stream_clips``). Up to ``batch_size`` lanes whose clips share a shape run
together. Each step pulls the next chunk of frames from every lane as they are decoded
(``1 + chunk_latents*ct`` frames first, then ``chunk_latents*ct``), stacks them into
``[B, 3, n, H, W]`` and pushes that into the network's exact encoder stream, so memory
holds one chunk per lane and never a whole clip (a 121-frame 720p clip included), while
the latents equal one pass over the clip. Lanes decode in parallel threads, one chunk
ahead of the encoder, so decoding overlaps with encoding. A lane whose video fails to decode midway is
fed black frames until its clip ends; its result is dropped and the other samples of the
batch are unaffected (samples never mix). Its remaining clips are skipped with the reason.

Models that run the official TorchScript modules keep no causal state, so there each
clip is assembled whole and encoded in one pass.

Images are read, resized, grouped by size and encoded ``batch_size`` at a time with the
model's ``encode`` (video models take them as one-frame clips).
"""

from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import torch
from nemo.utils import logging
from torch import Tensor

from nemo_cosmos.data.media import Clip, FrameGeometry, UnreadableMediaError, read_image, stream_clips, to_model_range
from nemo_cosmos.networks.streaming import frame_chunk_sizes
from nemo_cosmos.tokenization.planning import Unit, unreadable_reason

# An encoded unit: indices [(t,) h, w] or a latent [C, (t,) h, w] on the CPU, or the reason it failed.
Result = Tensor | str


@dataclass
class _Lane:
    """A video being encoded: its clips still to do, and the decoder that yields their frames."""

    clips: deque[tuple[int, Unit]]
    stream: Iterator[tuple[Clip, Iterator[np.ndarray]]]


class _LaneFrames:
    """The frames of one lane's current clip, pulled a chunk at a time; after a decoding
    failure it keeps its reason in ``failure`` and gives black frames."""

    def __init__(self, frames: Iterator[np.ndarray], shape: tuple[int, int, int]) -> None:
        self.frames, self.height, self.width = frames, shape[1], shape[2]
        self.failure: str | None = None

    def pull(self, count: int) -> np.ndarray:
        """The next ``count`` frames, uint8 ``[count, H, W, 3]``."""
        chunk = np.zeros((count, self.height, self.width, 3), dtype=np.uint8)
        for i in range(count if self.failure is None else 0):
            try:
                frame = next(self.frames)
            except (UnreadableMediaError, FileNotFoundError) as error:
                self.failure = unreadable_reason(error)
            else:
                if frame.shape == chunk.shape[1:]:
                    chunk[i] = frame
                    continue
                self.failure = f"frame size changed mid-video to {frame.shape[1]}x{frame.shape[0]}, expected {self.width}x{self.height}"
            chunk[:] = 0
            break
        return chunk


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


class BatchEncoder:
    """Encodes the units of a part with ``model`` (a ``CausalVideoTokenizer``); yields ``(position, Result)``."""

    def __init__(self, model, geometry: FrameGeometry, batch_size: int, chunk_latents: int) -> None:
        if batch_size < 1 or chunk_latents < 1:
            raise ValueError(f"run.batch_size and run.chunk_latents must be at least 1, got {batch_size} and {chunk_latents}")
        self.model = model
        self.config = model.network_config
        self.geometry = geometry
        self.batch_size = batch_size
        self.chunk_frames = chunk_latents * self.config.temporal_compression
        if model.network is None and self.config.is_video:
            logging.info("the model runs TorchScript modules, which keep no causal state: each clip is assembled whole and encoded in one pass")

    def _pixels(self, frames: np.ndarray) -> Tensor:
        """uint8 ``[B, (n,) H, W, 3]`` -> the model's device and dtype, ``[B, 3, (n,) H, W]`` in ``[-1, 1]``."""
        return to_model_range(torch.from_numpy(frames).to(self.model.device).movedim(-1, 1), self.model.dtype)

    def encode_videos(self, units: list[tuple[int, Unit]]) -> Iterator[tuple[int, Result]]:
        """Encode video clips, ``batch_size`` lanes at a time; every position gets a result."""
        for shape, videos in _videos_by_shape(units).items():
            waiting, lanes = deque(videos), []
            while waiting or lanes:
                while waiting and len(lanes) < self.batch_size:
                    clips = deque(waiting.popleft())
                    path = clips[0][1].item.path
                    lanes.append(_Lane(clips, stream_clips(path, [unit.clip for _, unit in clips], self.geometry.apply)))
                current = [lane.clips.popleft() for lane in lanes]
                results = self._encode_clips([next(lane.stream)[1] for lane in lanes], shape)
                running = []
                for lane, (position, _), result in zip(lanes, current, results):
                    yield position, result
                    if isinstance(result, str):
                        for later, _ in lane.clips:
                            yield later, f"not decoded: an earlier clip of this video failed ({result})"
                        lane.clips.clear()
                    if lane.clips:
                        running.append(lane)
                    else:
                        lane.stream.close()
                lanes = running

    def _encode_clips(self, sources: list[Iterator[np.ndarray]], shape: tuple[int, int, int]) -> list[Result]:
        """One batch of clips of ``shape`` (frames, height, width), fed chunk by chunk as decoded
        (in threads: PyAV and Pillow release the GIL)."""
        num_frames = shape[0]
        lanes = [_LaneFrames(frames, shape) for frames in sources]
        with ThreadPoolExecutor(max_workers=len(lanes), thread_name_prefix="decode") as pool:

            def pull(count: int) -> list[Future]:
                return [pool.submit(lane.pull, count) for lane in lanes]

            if self.model.network is None:
                batch = np.stack([future.result() for future in pull(num_frames)])
                encoded = self.model.encode(self._pixels(batch))[0]
                return [lane.failure or encoded[b].cpu() for b, lane in enumerate(lanes)]
            sizes = frame_chunk_sizes(num_frames, self.chunk_frames, self.config.temporal_compression)
            pieces: list[list[Tensor]] = [[] for _ in lanes]
            with self.model.network.encoder_stream() as stream:
                pending = pull(sizes[0])
                for following in [*sizes[1:], None]:
                    batch = np.stack([future.result() for future in pending])
                    pending = pull(following) if following else []
                    encoded = stream.push(self._pixels(batch))
                    vision = (encoded[0] if isinstance(encoded, tuple) else encoded).cpu()  # one copy per chunk
                    for b, piece in enumerate(pieces):
                        piece.append(vision[b])
        time_axis = 0 if self.config.is_discrete else 1
        return [lane.failure or torch.cat(pieces[b], dim=time_axis) for b, lane in enumerate(lanes)]

    def encode_images(self, units: list[tuple[int, Unit]]) -> Iterator[tuple[int, Result]]:
        """Read, resize and encode images, ``batch_size`` of one size at a time; every position gets a result."""
        buckets: dict[tuple[int, ...], list[tuple[int, np.ndarray]]] = {}
        for position, unit in units:
            try:
                pixels = read_image(unit.item.path)
            except (UnreadableMediaError, FileNotFoundError) as error:
                yield position, unreadable_reason(error)
                continue
            too_small = self.geometry.skip_reason(pixels.shape[0], pixels.shape[1])
            if too_small:
                yield position, too_small
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
        vision = self.model.encode(pixels)[0]
        for b, (position, _) in enumerate(bucket):
            yield position, vision[b].cpu()
