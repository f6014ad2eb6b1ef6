"""Reading and writing video files with PyAV: whole, streamed frame by frame, or probed.

Frames are uint8 numpy arrays ``[H, W, 3]`` (RGB); a whole video is ``[T, H, W, 3]``.
Decoding is sequential, so a frame's index is its position in decode order, which is
exact for any container (seeking by timestamp is not). Frames outside the requested
range are decoded but never converted to RGB, which is where most of the cost lies.
"""

import contextlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from nemo_cosmos.data.media.errors import UnreadableMediaError, require_nonempty_file


@dataclass(frozen=True)
class VideoInfo:
    """What a container says about its first video stream, without decoding it."""

    path: str
    num_frames: int
    fps: float
    width: int
    height: int


@contextlib.contextmanager
def _open_video_stream(path: str | Path) -> Iterator[tuple[av.container.InputContainer, av.video.stream.VideoStream]]:
    """The opened container and its first video stream, with errors naming the file."""
    path = require_nonempty_file(path)
    try:
        container = av.open(str(path), mode="r")
    except av.InvalidDataError as error:
        raise UnreadableMediaError(path, "not a video file: FFmpeg finds no format it can read in it", kind="not_media") from error
    except av.FFmpegError as error:
        raise UnreadableMediaError(path, f"cannot open as video: {error.strerror}", kind="not_media") from error
    with container:
        if not container.streams.video:
            raise UnreadableMediaError(path, "not a video file: it holds no video stream", kind="not_media")
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        yield container, stream


def _stream_fps(path: Path | str, stream: av.video.stream.VideoStream) -> float:
    rate = stream.average_rate or stream.guessed_rate or stream.base_rate
    if not rate:
        raise UnreadableMediaError(path, "video stream has no frame rate")
    return float(rate)


def probe_video(path: str | Path) -> VideoInfo:
    """Frame count, fps and size of a video.

    The frame count comes from the container header; when the header has none (some
    formats), packets are counted by demuxing, which reads the file but decodes nothing.
    """
    with _open_video_stream(path) as (container, stream):
        fps = _stream_fps(path, stream)
        width, height = stream.codec_context.width, stream.codec_context.height
        num_frames = stream.frames
        if num_frames <= 0:
            try:
                num_frames = sum(1 for packet in container.demux(stream) if packet.size > 0)
            except av.FFmpegError as error:
                raise UnreadableMediaError(path, f"cannot demux video: {error}") from error
    return VideoInfo(path=str(path), num_frames=int(num_frames), fps=fps, width=int(width), height=int(height))


def video_fps(path: str | Path) -> float:
    """The frame rate of a video, from its header."""
    with _open_video_stream(path) as (_, stream):
        return _stream_fps(path, stream)


def iter_frames(path: str | Path, start: int = 0, stop: int | None = None, step: int = 1) -> Iterator[tuple[int, np.ndarray]]:
    """Yield ``(index, frame)`` for frames ``start, start+step, ...`` below ``stop``.

    Streams: only one decoded frame is held at a time, and decoding stops once ``stop``
    is reached. A video that ends early simply yields fewer frames.
    """
    if start < 0 or step < 1 or (stop is not None and stop < start):
        raise ValueError(f"invalid frame range start={start} stop={stop} step={step} for {path}")
    return _decode_frames(path, lambda index: index >= start and (index - start) % step == 0, stop)


def iter_frames_at(path: str | Path, indices: Sequence[int]) -> Iterator[tuple[int, np.ndarray]]:
    """Yield ``(index, frame)`` for the given frame indices (any order, duplicates allowed), in increasing order.

    Streams like :func:`iter_frames`; decoding stops after the largest index.
    """
    wanted = set(indices)
    if not wanted:
        return iter(())
    if min(wanted) < 0:
        raise ValueError(f"frame indices must be non-negative for {path}, got {min(wanted)}")
    return _decode_frames(path, wanted.__contains__, max(wanted) + 1)


def _decode_frames(path: str | Path, wanted: Callable[[int], bool], stop: int | None) -> Iterator[tuple[int, np.ndarray]]:
    """Decode in order, converting to RGB only the frames ``wanted`` says yes to, until ``stop``."""
    with _open_video_stream(path) as (container, stream):
        index = -1
        try:
            for frame in container.decode(stream):
                index += 1
                if stop is not None and index >= stop:
                    return
                if wanted(index):
                    yield index, frame.to_ndarray(format="rgb24")
        except av.FFmpegError as error:
            promised = f" of the {stream.frames} its header promises" if stream.frames > 0 else ""
            raise UnreadableMediaError(
                path, f"truncated or corrupt: decoding fails after frame {index}{promised} ({error.strerror})", kind="truncated"
            ) from error


def read_video(path: str | Path) -> tuple[np.ndarray, float]:
    """All frames of a video as uint8 ``[T, H, W, 3]``, and its fps."""
    fps = video_fps(path)
    frames = [frame for _, frame in iter_frames(path)]
    if not frames:
        raise UnreadableMediaError(path, "video has no decodable frames")
    return np.stack(frames), fps


def _check_frames(frames: np.ndarray, path: str | Path) -> np.ndarray:
    if frames.dtype != np.uint8 or frames.ndim != 4 or frames.shape[0] == 0 or frames.shape[-1] != 3:
        raise ValueError(f"video frames for {path} must be uint8 [T, H, W, 3] with T >= 1, got {frames.dtype} {list(frames.shape)}")
    return frames


class VideoWriter:
    """Incremental mp4 (H.264) writer: ``write`` frames as they come, ``close`` to finish.

    ``pix_fmt`` defaults to ``yuv420p`` (plays everywhere) and to ``yuv444p`` when a side
    is odd, which 4:2:0 chroma cannot represent. ``crf`` 0 is lossless for ``yuv444p``.
    """

    def __init__(self, path: str | Path, fps: float, codec: str = "libx264", pix_fmt: str | None = None, crf: int | None = None) -> None:
        if not fps > 0:
            raise ValueError(f"fps must be positive to write {path}, got {fps}")
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._rate = Fraction(fps).limit_denominator(1001)
        self._codec, self._pix_fmt, self._crf = codec, pix_fmt, crf
        self._container = av.open(str(self.path), mode="w")
        self._stream = None

    def _start_stream(self, height: int, width: int) -> None:
        stream = self._container.add_stream(self._codec, rate=self._rate)
        stream.width, stream.height = width, height
        stream.pix_fmt = self._pix_fmt or ("yuv420p" if width % 2 == 0 and height % 2 == 0 else "yuv444p")
        if self._crf is not None:
            stream.options = {"crf": str(self._crf)}
        self._stream = stream

    def write(self, frames: np.ndarray) -> None:
        """Append uint8 frames ``[T, H, W, 3]`` (or one frame ``[H, W, 3]``)."""
        frames = np.asarray(frames)
        frames = _check_frames(frames[None] if frames.ndim == 3 else frames, self.path)
        if self._stream is None:
            self._start_stream(frames.shape[1], frames.shape[2])
        elif (frames.shape[1], frames.shape[2]) != (self._stream.height, self._stream.width):
            raise ValueError(
                f"frame size {frames.shape[2]}x{frames.shape[1]} differs from {self._stream.width}x{self._stream.height} already written to {self.path}"
            )
        for frame in frames:
            for packet in self._stream.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")):
                self._container.mux(packet)

    def close(self) -> None:
        """Flush the encoder and finish the file."""
        if self._stream is not None:
            for packet in self._stream.encode():
                self._container.mux(packet)
        self._container.close()

    def __enter__(self) -> "VideoWriter":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def write_video(path: str | Path, frames: np.ndarray, fps: float, codec: str = "libx264", pix_fmt: str | None = None, crf: int | None = None) -> None:
    """Write uint8 frames ``[T, H, W, 3]`` to an mp4 file (H.264 by default)."""
    frames = _check_frames(np.asarray(frames), path)
    with VideoWriter(path, fps, codec=codec, pix_fmt=pix_fmt, crf=crf) as writer:
        writer.write(frames)
