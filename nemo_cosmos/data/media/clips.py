"""Choosing clips of ``1 + k*ct`` frames from a video and decoding them as a stream.

A causal video tokenizer with temporal compression ``ct`` turns ``1 + k*ct`` frames into
``1 + k`` latent frames: the first frame is coded alone, every later ``ct`` frames
together. Any other frame count cannot be tokenized without padding, so clip lengths
are checked here, and short videos are skipped with a reason (or, only when
``pad_short`` is set, padded by repeating their last frame, which is logged).

Frames are sampled on one timeline per video: every ``frame_stride``-th frame, or the
frames nearest to a ``target_fps`` clock. Clips are consecutive, non-overlapping blocks
of ``num_frames`` samples; with ``max_clips_per_video`` the blocks used are spread evenly over the
video, first block always included.
"""

import logging
import math
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from nemo_cosmos.data.media.errors import SkipReason, UnreadableMediaError
from nemo_cosmos.data.media.video import iter_frames_at, probe_video

logger = logging.getLogger(__name__)


def clip_length_error(num_frames: int, temporal_compression: int) -> str | None:
    """Why ``num_frames`` is not a valid clip length for temporal compression ``ct``, or None."""
    if num_frames >= 1 and (num_frames - 1) % temporal_compression == 0:
        return None
    below = 1 + max(0, (num_frames - 1) // temporal_compression) * temporal_compression
    return (
        f"clip length must be 1 + k*{temporal_compression} frames (1 + k*temporal_compression, e.g. "
        f"{below} or {below + temporal_compression}), got {num_frames}"
    )


@dataclass
class ClipOptions:
    """How clips are cut from videos, as a user sets it (the ``clips`` of a tokenization job).

    ``num_frames``: frames per clip, ``1 + k*ct`` for the model's temporal compression ``ct``
    (e.g. 17, 33 or 121 for ct = 8), giving ``1 + k`` latent frames. ``frame_stride``: use
    every n-th frame; or ``target_fps``: resample to this frame rate (never above the
    source rate; not both). ``max_clips_per_video``: non-overlapping clips per video at most,
    spread over it (None: all). ``pad_short``: pad a video shorter than one clip by
    repeating its last frame (logged) instead of skipping it.
    """

    num_frames: int = 33
    frame_stride: int = 1
    target_fps: float | None = None
    max_clips_per_video: int | None = None
    pad_short: bool = False


@dataclass
class ClipSampling(ClipOptions):
    """:class:`ClipOptions` for a model of ``temporal_compression``, checked against it."""

    temporal_compression: int = field(kw_only=True)

    def __post_init__(self) -> None:
        if self.temporal_compression < 1:
            raise ValueError(f"temporal_compression must be at least 1, got {self.temporal_compression}")
        error = clip_length_error(self.num_frames, self.temporal_compression)
        if error:
            raise ValueError(error)
        if self.frame_stride < 1:
            raise ValueError(f"frame_stride must be at least 1, got {self.frame_stride}")
        if self.target_fps is not None and (self.target_fps <= 0 or self.frame_stride != 1):
            raise ValueError(f"target_fps must be positive and excludes frame_stride, got target_fps={self.target_fps} frame_stride={self.frame_stride}")
        if self.max_clips_per_video is not None and self.max_clips_per_video < 1:
            raise ValueError(f"max_clips_per_video must be at least 1 or None (all clips), got {self.max_clips_per_video}")


@dataclass(frozen=True)
class Clip:
    """Source frame indices of one clip, in order; ``padded`` trailing entries repeat the last real frame."""

    frames: tuple[int, ...]
    padded: int = 0

    @property
    def start_frame(self) -> int:
        return self.frames[0]

    @property
    def end_frame(self) -> int:
        """The last source frame used (inclusive)."""
        return self.frames[-1]


def _timeline(num_frames: int, step: float) -> list[int]:
    """Source frame indices ``floor(i * step + 1/2)`` below ``num_frames``, for i = 0, 1, ..."""
    count = math.floor((num_frames - 0.5) / step) + 1 if num_frames > 0 else 0
    positions = [math.floor(i * step + 0.5) for i in range(count + 1)]
    return [p for p in positions if p < num_frames]


def plan_clips(num_frames: int, fps: float, sampling: ClipSampling) -> tuple[list[Clip], SkipReason | None]:
    """The clips to take from a video of ``num_frames`` frames at ``fps``, or a skip reason.

    Returns ``(clips, None)`` or ``([], reason)``; the reason always states the
    ``1 + k*temporal_compression`` rule so a user can pick a length that fits.
    """
    if sampling.target_fps is None:
        step, rate = float(sampling.frame_stride), f"frame stride {sampling.frame_stride}"
    elif sampling.target_fps > fps * (1 + 1e-6):
        return [], SkipReason("fps_below_target", f"video is {fps:g} fps, below target_fps {sampling.target_fps:g} (frames are never duplicated)")
    else:
        step, rate = fps / sampling.target_fps, f"{sampling.target_fps:g} fps"
    samples = _timeline(num_frames, step)
    n = sampling.num_frames
    blocks = len(samples) // n
    if blocks == 0:
        k = (n - 1) // sampling.temporal_compression
        if not (sampling.pad_short and samples):
            return [], SkipReason(
                "too_short",
                f"too short: {len(samples)} frames (of {num_frames}, at {rate}) are fewer than one clip of {n} = 1 + {k}*{sampling.temporal_compression} "
                f"frames (1 + k*temporal_compression)",
            )
        missing = n - len(samples)
        logger.warning(f"padding a clip of {len(samples)} frames with {missing} copies of its last frame to reach {n} = 1 + {k}*{sampling.temporal_compression}")
        return [Clip(frames=tuple(samples) + (samples[-1],) * missing, padded=missing)], None
    used = blocks if sampling.max_clips_per_video is None else min(blocks, sampling.max_clips_per_video)
    chosen = [0] if used == 1 else [math.floor(j * (blocks - 1) / (used - 1) + 0.5) for j in range(used)]
    return [Clip(frames=tuple(samples[b * n : (b + 1) * n])) for b in chosen], None


@dataclass(frozen=True)
class FrameUsage:
    """Where the frames of a video go: into clips, or unused and why."""

    used: int = 0  # source frames sampled into the chosen clips
    stride: int = 0  # between sampled frames (frame_stride, or target_fps below the source rate)
    tail: int = 0  # after the last whole clip: too few left for another
    unchosen: int = 0  # in whole clips left out by max_clips_per_video
    skipped: int = 0  # in videos (or clips) that were skipped


def frame_usage(num_frames: int, fps: float, sampling: ClipSampling, clips: list[Clip]) -> FrameUsage:
    """How ``clips``, planned by :func:`plan_clips` (none: the video is skipped), use a video of
    ``num_frames`` frames; the parts add up to ``num_frames``."""
    if not clips:
        return FrameUsage(skipped=num_frames)
    samples = _timeline(num_frames, sampling.frame_stride if sampling.target_fps is None else fps / sampling.target_fps)
    n = sampling.num_frames
    blocks = len(samples) // n
    if blocks == 0:  # one padded clip of every sample
        return FrameUsage(used=len(samples), stride=num_frames - len(samples))
    chosen = {clip.start_frame for clip in clips}
    used = stride = unchosen = 0
    for b in range(blocks):
        first, last = samples[b * n], samples[(b + 1) * n - 1]
        if first in chosen:
            used, stride = used + n, stride + (last - first + 1 - n)
        else:
            unchosen += last - first + 1
        if b + 1 < blocks:
            stride += samples[(b + 1) * n] - last - 1
    return FrameUsage(used=used, stride=stride, tail=num_frames - 1 - samples[blocks * n - 1], unchosen=unchosen)


def stream_clips(
    path: str | Path, clips: list[Clip], transform: Callable[[np.ndarray], np.ndarray] | None = None
) -> Iterator[tuple[Clip, Iterator[np.ndarray]]]:
    """Yield ``(clip, frames)`` for clips planned by :func:`plan_clips`, ``frames`` an iterator
    over the clip's ``[H, W, 3]`` frames, decoding the video once.

    Frames are decoded (and passed through ``transform``) only as they are asked for, so a
    caller such as an encoder stream never holds a whole clip. Clips may overlap: a frame
    shared by several clips is decoded once and kept only until the last of them has
    had it. Consume a clip's frames before asking for the next clip (one left half read
    gives up the rest of its frames). A video that ends before a clip is complete (its
    header overstated its length) raises UnreadableMediaError from ``frames``.
    """
    if not clips:
        return
    uses = Counter(index for clip in clips for index in clip.frames)  # how often each frame is still to be given
    decoded = iter_frames_at(path, sorted(uses))
    kept: dict[int, np.ndarray] = {}  # decoded (transformed) frames that a clip has yet to give
    given = 0  # frames of the current clip given so far
    last_decoded = -1

    def release(index: int) -> np.ndarray | None:
        """One use of frame ``index`` done: the frame, dropped from ``kept`` after its last use."""
        uses[index] -= 1
        return kept.get(index) if uses[index] else kept.pop(index, None)

    def frames_of(clip: Clip) -> Iterator[np.ndarray]:
        nonlocal given, last_decoded
        for index in clip.frames:
            while index not in kept:
                step = next(decoded, None)
                if step is None:
                    raise UnreadableMediaError(path, _ended_early(path, last_decoded, clip), kind="truncated")
                last_decoded = step[0]
                if uses[last_decoded]:  # not when every clip that wanted it was left before reaching it
                    kept[last_decoded] = step[1] if transform is None else transform(step[1])
            given += 1
            yield release(index)

    try:
        for clip in clips:
            given = 0
            yield clip, frames_of(clip)
            for index in clip.frames[given:]:  # a clip left half read: its frames are not kept for it
                release(index)
    finally:
        decoded.close()  # closes the container now, not whenever the generator is collected


def _ended_early(path: str | Path, last_index: int, clip: Clip) -> str:
    """Why a clip cannot be completed: the video ends before it, though its header promises more frames."""
    try:
        promised = f" of the {probe_video(path).num_frames} its header promises"
    except (UnreadableMediaError, FileNotFoundError):
        promised = ""
    return f"truncated: the video ends at frame {last_index + 1}{promised}, inside clip frames {clip.start_frame}..{clip.end_frame} (complete clips before it are kept)"


def read_clips(path: str | Path, clips: list[Clip], transform: Callable[[np.ndarray], np.ndarray] | None = None) -> Iterator[tuple[Clip, np.ndarray]]:
    """Yield ``(clip, frames [n, H, W, 3])`` for clips planned by :func:`plan_clips`, decoding the video once.

    Only the frames of the clip being assembled are held, each passed through
    ``transform`` (e.g. :meth:`FrameGeometry.apply`) as soon as it is decoded (see
    :func:`stream_clips`, which never holds a whole clip).
    """
    for clip, frames in stream_clips(path, clips, transform):
        yield clip, np.stack(list(frames))
