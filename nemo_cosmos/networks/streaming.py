"""Exact chunk-by-chunk evaluation of the causal video encoder and decoder.

The video networks are causal in time, so a clip can be fed in chunks with each
layer's state carried over (see ``nemo_cosmos.modules.streaming``) and the result equals
one pass over the whole clip, while memory holds one chunk plus the attention cache.

Chunk rule (``ct`` = temporal compression): the encoder's first chunk holds ``1 + k*ct``
frames and every later one ``k*ct`` frames; the decoder takes any number of latent
frames per chunk (the first latent gives 1 frame, each later one ``ct`` frames).
"""

from collections.abc import Iterator

import torch
from torch import Tensor, nn

from nemo_cosmos.modules import StreamingModule, start_streaming, stop_streaming

Encoded = Tensor | tuple[Tensor, Tensor]


class _Stream:
    """Holds a network half in streaming mode until :meth:`close`; ``kv_cache`` says where
    the temporal attention keeps its keys and values (``"device"`` or ``"host"``)."""

    def __init__(self, half: nn.Module, kv_cache: str = "device"):
        if any(isinstance(m, StreamingModule) and m.state is not None for m in half.modules()):
            raise RuntimeError("this network already has an open stream; close it first")
        self._half = half
        self.closed = False
        start_streaming(half, kv_cache)

    def _check_open(self) -> None:
        if self.closed:
            raise RuntimeError("this stream is closed")

    def _release(self) -> None:
        self.closed = True
        stop_streaming(self._half)

    def close(self) -> None:
        self._check_open()
        self._release()

    def __enter__(self) -> "_Stream":
        return self

    def __exit__(self, error_type, error, traceback) -> None:
        """Close normally (with its checks); after an error just drop the state."""
        if error_type is None:
            self.close()
        elif not self.closed:
            self._release()


class EncoderStream(_Stream):
    """Push frames ``[B, C, n, H, W]`` as they arrive; get back the latents they complete.

    Frames are buffered until they form a whole group (the first frame alone, then
    ``ct`` frames), so any ``n`` per push works. :meth:`close` checks that the clip had
    ``1 + k*ct`` frames.
    """

    def __init__(self, network: nn.Module, kv_cache: str = "device"):
        super().__init__(network.encoder, kv_cache)
        self._network = network
        self._ct = network.config.temporal_compression
        self._pending: list[Tensor] = []
        self._started = False
        self.frames_seen = 0

    def push(self, frames: Tensor) -> Encoded | None:
        """Encode every complete frame group; ``None`` when no new latent frame is complete yet."""
        self._check_open()
        if frames.dim() != 5:
            raise ValueError(f"push video frames [B, C, n, H, W], got shape {tuple(frames.shape)}")
        self.frames_seen += frames.shape[2]
        self._pending.append(frames)
        buffered = torch.cat(self._pending, dim=2) if len(self._pending) > 1 else frames
        ready = buffered.shape[2] - (0 if self._started else 1)
        ready = ready - ready % self._ct + (0 if self._started else 1)
        if ready <= 0:
            self._pending = [buffered]
            return None
        self._pending = [buffered[:, :, ready:]] if ready < buffered.shape[2] else []
        self._started = True
        chunk = buffered[:, :, :ready]
        self._network.check_pixels(chunk, whole_clip=False)
        with torch.no_grad():
            return self._network.encode_frames(chunk)

    def close(self) -> None:
        """End the clip; raises ``ValueError`` if frames were left over (not ``1 + k*ct`` in all)."""
        self._check_open()
        left = sum(chunk.shape[2] for chunk in self._pending)
        self._release()
        if left or not self._started:
            raise ValueError(
                f"a clip needs 1 + k*{self._ct} frames; this stream got {self.frames_seen} "
                f"({left} frames left over that do not complete a latent frame)"
            )


class DecoderStream(_Stream):
    """Push latents (or indices, or codes with ``codes=True``) chunk by chunk; get frames back."""

    def __init__(self, network: nn.Module, kv_cache: str = "device"):
        super().__init__(network.decoder, kv_cache)
        self._network = network
        self.latents_seen = 0

    def push(self, z: Tensor, codes: bool = False) -> Tensor:
        """Decode these latent frames; the first call's first latent yields 1 frame, every other ``ct``."""
        self._check_open()
        time_axis = 1 if (self._network.quantizer is not None and not codes) else 2
        if z.dim() <= time_axis or z.shape[time_axis] == 0:
            raise ValueError(f"push at least one latent frame, got shape {tuple(z.shape)}")
        self.latents_seen += z.shape[time_axis]
        with torch.no_grad():
            return self._network.decode_codes(z) if codes else self._network.decode(z)


def frame_chunk_sizes(num_frames: int, chunk_frames: int, temporal_compression: int) -> list[int]:
    """Frames per encoder chunk of a ``num_frames`` clip: ``1 + chunk_frames``, then ``chunk_frames``
    each (the last one may be shorter)."""
    if chunk_frames <= 0 or chunk_frames % temporal_compression:
        raise ValueError(
            f"chunk_frames must be a positive multiple of the temporal compression {temporal_compression} "
            f"(the first chunk holds 1 + chunk_frames frames, every later one chunk_frames), got {chunk_frames}"
        )
    sizes = [min(num_frames, 1 + chunk_frames)]
    while sum(sizes) < num_frames:
        sizes.append(min(chunk_frames, num_frames - sum(sizes)))
    return sizes


def frame_chunks(x: Tensor, chunk_frames: int, temporal_compression: int) -> Iterator[Tensor]:
    """Split ``[B, C, T, H, W]`` into ``1 + chunk_frames`` frames, then ``chunk_frames`` each."""
    start = 0
    for size in frame_chunk_sizes(x.shape[2], chunk_frames, temporal_compression):
        yield x[:, :, start : start + size]
        start += size


def latent_chunks(z: Tensor, chunk_latents: int, time_axis: int) -> Iterator[Tensor]:
    """Split latents along time into ``1 + chunk_latents``, then ``chunk_latents`` each."""
    if chunk_latents <= 0:
        raise ValueError(f"chunk_latents must be positive, got {chunk_latents}")
    first = 1 + chunk_latents
    yield z.narrow(time_axis, 0, min(first, z.shape[time_axis]))
    for start in range(first, z.shape[time_axis], chunk_latents):
        yield z.narrow(time_axis, start, min(chunk_latents, z.shape[time_axis] - start))
