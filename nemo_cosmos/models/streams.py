"""The model's streams: clips stay in host memory, chunks go through the device.

``CausalVideoTokenizer.encoder_stream()``, ``decoder_stream()`` and ``autoencoder_stream()``
return these; ``encode``, ``decode`` and ``autoencode`` of video models run through them.
A caller pushes a clip's frames (or latents) in pieces of any size, in host memory. The
stream keeps in host memory what does not yet fill a network chunk (``1 +
chunk_latents*ct`` frames first, then ``chunk_latents*ct``), pads each chunk there
(black borders up to the spatial grid, edge frames in time as ``encode`` does), moves it
to the device, runs it with the causal state carried over (one state per tile when
tiling), and moves the outputs straight back. Device memory thus follows the chunk;
only the temporal attention's key/value cache grows with the clip (see
``models/kv_budget.py``; ``stream_cache="host"`` keeps it in host memory).

Models running the official TorchScript modules keep no causal state: their streams
buffer the clip in host memory and run it whole once it is complete (``num_frames`` or
``crop_to`` reached, or at :meth:`close`), as does ``chunk_latents=None`` (one pass).

A stream may keep a reference to pushed tensors until they are encoded: do not modify
them in place after pushing.
"""

from collections.abc import Callable, Sequence

import torch
from torch import Tensor, nn

from nemo_cosmos.models.alignment import crop_center, pad_pixels, split_padding
from nemo_cosmos.models.inputs import check_latents, check_pixels
from nemo_cosmos.models.kv_budget import check_kv_cache_fits, kv_cache_bytes_per_latent
from nemo_cosmos.models.transfer import DeviceTransfer
from nemo_cosmos.modules import StreamingModule, start_streaming, stop_streaming

Encoded = tuple[Tensor, ...]


class _CausalStates:
    """The causal state of one network half for each spatial tile of a clip.

    Tiles of every chunk come in the same order, so the ``n``-th call after
    :meth:`rewind` is always the same tile: its state is put into the layers before it
    runs and kept afterwards.
    """

    def __init__(self, half: nn.Module, kv_cache: str):
        self._layers = [m for m in half.modules() if isinstance(m, StreamingModule)]
        if any(layer.state is not None for layer in self._layers):
            raise RuntimeError("this model already has an open stream on the same network half; close it first")
        self._half, self._kv_cache = half, kv_cache
        self._tiles: list[list[dict]] = []
        self._position = 0
        start_streaming(half, kv_cache)  # marks the half as busy from the start

    def rewind(self) -> None:
        self._position = 0

    def run(self, fn: Callable[[Tensor], object], x: Tensor):
        """``fn(x)`` with the current tile's state in the layers."""
        if self._position < len(self._tiles):
            for layer, state in zip(self._layers, self._tiles[self._position]):
                layer.state = state
        else:
            start_streaming(self._half, self._kv_cache)
            self._tiles.append([layer.state for layer in self._layers])
        self._position += 1
        return fn(x)

    def release(self) -> None:
        stop_streaming(self._half)
        self._tiles.clear()


class _Stream:
    """What every model stream shares: the device round trip, the causal states, closing."""

    def __init__(self, model, halves: tuple[str, ...]):
        config = model.network_config
        if not config.is_video:
            raise ValueError(f"streams are for video tokenizers; {config.short_name} is an image model (use encode/decode)")
        self._model, self._config, self._halves = model, config, halves
        self._transfer = DeviceTransfer(model.device, model.dtype)
        self._backend = model._backend()
        self._states: dict[str, _CausalStates] = {}
        if model.network is not None:
            for half in halves:
                if not hasattr(model.network, half):
                    raise RuntimeError(f"this network was built without its {half} ({half}=False)")
            try:
                for half in halves:
                    self._states[half] = _CausalStates(getattr(model.network, half), model.stream_cache)
            except RuntimeError:
                self._release()  # the halves already started
                raise
        self._chunk_latents = model.chunk_latents if self._states else None
        self._home: torch.device | None = None
        self.closed = False

    def _run_tiles(self, fn: Callable[[Tensor], object], x: Tensor, in_scale: int, out_scale: int, stitch: bool):
        for states in self._states.values():
            states.rewind()
        return self._model._tiled(fn, x, in_scale, out_scale, stitch)

    def _in_state(self, half: str, fn: Callable[[Tensor], object]) -> Callable[[Tensor], object]:
        states = self._states.get(half)
        return fn if states is None else (lambda x: states.run(fn, x))

    def _check_budget(self, batch: int, height: int, width: int, latents: int, what: str) -> None:
        if not self._states:
            return
        per_latent = kv_cache_bytes_per_latent(self._config, self._halves, height, width, batch, self._model.dtype)
        place = self._model.device if self._model.stream_cache == "device" else torch.device("cpu")
        check_kv_cache_fits(per_latent * latents, place, what)

    def _check_open(self) -> None:
        if self.closed:
            raise RuntimeError("this stream is closed")

    def _release(self) -> None:
        self.closed = True
        for states in self._states.values():
            states.release()

    def _has_pending(self) -> bool:
        raise NotImplementedError

    def __enter__(self):
        return self

    def __exit__(self, error_type, error, traceback) -> None:
        """Close when nothing is left to return; after an error just drop the state."""
        if self.closed:
            return
        if error_type is not None or not self._has_pending():
            self._release()
            return
        self._release()
        raise RuntimeError(
            "the stream ended with input not yet run (a partial chunk, or a TorchScript/one-pass clip): "
            "call close() inside the with block to get its outputs, or give num_frames / crop_to"
        )


class _PixelStream(_Stream):
    """Frames in: temporal padding, chunking, spatial padding; subclasses run each chunk."""

    def __init__(self, model, halves: tuple[str, ...], num_frames: int | None):
        super().__init__(model, halves)
        if num_frames is not None and (not isinstance(num_frames, int) or num_frames < 1):
            self._release()
            raise ValueError(f"num_frames must be a positive number of frames or None, got {num_frames!r}")
        self._ct = self._config.temporal_compression
        self.num_frames = num_frames
        self._before, self._after = split_padding(num_frames, self._ct, extra=1) if num_frames else (0, 0)
        self._chunk_frames = self._chunk_latents * self._ct if self._chunk_latents else None
        self._pending: list[Tensor] = []
        self._pending_count = 0
        self._shape: tuple[int, int, int] | None = None  # batch, height, width
        self.frames_received = 0
        self._frames_run = 0  # padded frames already through the network

    def _has_pending(self) -> bool:
        return self._pending_count > 0

    def push(self, frames: Tensor):
        """Add frames ``[B, 3, n, H, W]`` in ``[-1, 1]``; returns the outputs they complete, or None."""
        self._check_open()
        check_pixels(frames, self._config)
        batch, _, count, height, width = frames.shape
        if self._shape is None:
            self._start(frames)
        elif (batch, height, width) != self._shape:
            raise ValueError(
                f"every push of a clip must have the batch and frame size of the first, "
                f"{self._shape[0]} x {self._shape[2]}x{self._shape[1]}, got {batch} x {width}x{height}"
            )
        if self.num_frames is not None and self.frames_received + count > self.num_frames:
            raise ValueError(f"this stream was opened for num_frames={self.num_frames}, got {self.frames_received + count}")
        self._add(frames)
        self.frames_received += count
        complete = self.frames_received == self.num_frames
        if complete and self._after:
            self._add(frames[:, :, -1:].expand(-1, -1, self._after, -1, -1))
        return self._run_ready(final=complete)

    def close(self):
        """End the clip; returns the outputs still owed (None when every push returned its own).

        Without ``num_frames`` a clip that is not ``1 + k*ct`` frames long is completed here
        by repeating its last frame (``encode`` splits the repeats between the first and
        the last frame, so the two agree only when at most one frame is missing).
        """
        self._check_open()
        try:
            if self.frames_received == 0:
                raise ValueError("no frames were pushed to this stream")
            if self.num_frames is not None and self.frames_received != self.num_frames:
                raise ValueError(f"this stream was opened for num_frames={self.num_frames}, but got {self.frames_received}")
            if self.num_frames is None:
                missing = -(self._frames_run + self._pending_count - 1) % self._ct
                if missing:
                    self._add(self._pending[-1][:, :, -1:].expand(-1, -1, missing, -1, -1))
            return self._run_ready(final=True)
        finally:
            self._release()

    def _start(self, frames: Tensor) -> None:
        batch, _, _, height, width = frames.shape
        self._shape, self._home = (batch, height, width), frames.device
        if self.num_frames is not None:
            latents = 1 + (self.num_frames + self._before + self._after - 1) // self._ct
            self._check_budget(batch, height, width, latents, f"a {self.num_frames}-frame {width}x{height} clip (batch {batch})")
        if self._before:
            self._add(frames[:, :, :1].expand(-1, -1, self._before, -1, -1))

    def _add(self, frames: Tensor) -> None:
        self._pending.append(frames)
        self._pending_count += frames.shape[2]

    def _take(self, count: int) -> Tensor:
        buffered = torch.cat(self._pending, dim=2) if len(self._pending) > 1 else self._pending[0]
        self._pending = [buffered[:, :, count:]] if count < buffered.shape[2] else []
        self._pending_count -= count
        return buffered[:, :, :count]

    @torch.no_grad()
    def _run_ready(self, final: bool):
        outputs = []
        while self._pending_count:
            if self._chunk_frames is None:
                size = self._pending_count if final else None
            else:
                size = self._chunk_frames + (1 if self._frames_run == 0 else 0)
                if self._pending_count < size:
                    size = self._pending_count if final else None
            if size is None:
                break
            chunk = self._take(size)
            padded = self._transfer.to_device(pad_pixels(chunk, self._config.spatial_compression))
            output = self._run_chunk(padded)
            self._frames_run += size
            if output is not None:
                outputs.append(output)
        return self._join(outputs) if outputs else None

    def _run_chunk(self, x: Tensor):
        raise NotImplementedError

    def _join(self, outputs: list):
        raise NotImplementedError


class EncoderStream(_PixelStream):
    """Frames in, ``(latent,)`` or ``(indices, codes)`` out, as ``encode`` returns them."""

    def __init__(self, model, num_frames: int | None = None):
        super().__init__(model, ("encoder",), num_frames)

    def _run_chunk(self, x: Tensor) -> Encoded:
        cs = self._config.spatial_compression
        encoded = self._run_tiles(self._in_state("encoder", self._backend.encode), x, cs, 1, self._config.is_discrete)
        return tuple(self._transfer.to_home(part, self._home) for part in encoded)

    def _join(self, outputs: list[Encoded]) -> Encoded:
        return tuple(torch.cat(parts, dim=2 if parts[0].is_floating_point() else 1) for parts in zip(*outputs))


class AutoencoderStream(_PixelStream):
    """Frames in, their reconstruction out, cropped back to the pushed frames' size and count."""

    def __init__(self, model, num_frames: int | None = None):
        super().__init__(model, ("encoder", "decoder"), num_frames)

    def _reconstruct_tile(self, x: Tensor) -> Tensor:
        if not self._states:
            return self._backend.autoencode(x)
        encoded = self._states["encoder"].run(self._backend.encode, x)
        return self._states["decoder"].run(self._backend.decode, encoded[0])

    def _run_chunk(self, x: Tensor) -> Tensor | None:
        cs = self._config.spatial_compression
        y = self._run_tiles(self._reconstruct_tile, x, cs, cs, stitch=False)
        y = crop_center(y, self._shape[1:])
        start = self._frames_run  # padded index of this chunk's first frame
        keep_from = max(self._before - start, 0)
        keep_to = min(self._before + (self.num_frames or self.frames_received) - start, y.shape[2])
        if keep_to <= keep_from:
            return None
        return self._transfer.to_home(y[:, :, keep_from:keep_to], self._home)

    def _join(self, outputs: list[Tensor]) -> Tensor:
        return torch.cat(outputs, dim=2)


class DecoderStream(_Stream):
    """Latents ``[B, C, t, h, w]`` (or indices ``[B, t, h, w]``) in, frames out.

    ``crop_to``: the original ``(T, H, W)`` (or ``(H, W)``) of the clip that was encoded:
    frames are cropped back to it (what ``encode`` padded is dropped), and with ``T`` the
    stream expects exactly the latent frames ``encode`` gives for ``T`` frames.
    """

    def __init__(self, model, crop_to: Sequence[int] | None = None):
        super().__init__(model, ("decoder",))
        self._ct = self._config.temporal_compression
        self._time_axis = 1 if self._config.is_discrete else 2
        sizes = [] if crop_to is None else [int(s) for s in crop_to]
        if len(sizes) not in (0, 2, 3) or any(s < 1 for s in sizes):
            self._release()
            raise ValueError(f"crop_to must be (T, H, W) or (H, W) of positive sizes, got {crop_to!r}")
        self._crop_size = tuple(sizes[-2:]) or None
        self._crop_frames = sizes[0] if len(sizes) == 3 else None
        self.expected_latents = None
        self._skip = 0
        if self._crop_frames is not None:
            before, after = split_padding(self._crop_frames, self._ct, extra=1)
            self._skip = before
            self.expected_latents = 1 + (self._crop_frames + before + after - 1) // self._ct
        self._pending: list[Tensor] = []
        self._shape: tuple[int, int, int] | None = None
        self.latents_received = 0
        self._frames_made = 0  # padded frames decoded so far

    def _has_pending(self) -> bool:
        return bool(self._pending)

    def push(self, z: Tensor) -> Tensor | None:
        """Add latent frames; returns the frames they decode to (cropped), or None."""
        self._check_open()
        check_latents(z, self._config)
        count = z.shape[self._time_axis]
        shape = (z.shape[0], z.shape[-2], z.shape[-1])
        if self._shape is None:
            self._shape, self._home = shape, z.device
            if self.expected_latents is not None:
                h, w = (s * self._config.spatial_compression for s in shape[1:])
                what = f"decoding {self.expected_latents} latent frames of {w}x{h} (batch {shape[0]})"
                self._check_budget(shape[0], h, w, self.expected_latents, what)
        elif shape != self._shape:
            raise ValueError(f"every push must have the batch and latent size of the first, {self._shape}, got {shape}")
        if self.expected_latents is not None and self.latents_received + count > self.expected_latents:
            raise ValueError(
                f"crop_to asks for {self._crop_frames} frames, which encode turns into {self.expected_latents} latent "
                f"frames, but got {self.latents_received + count}"
            )
        self._pending.append(z)
        self.latents_received += count
        return self._run_ready(final=self.latents_received == self.expected_latents)

    def close(self) -> Tensor | None:
        """End the clip; returns the frames still owed (None when every push returned its own)."""
        self._check_open()
        try:
            if self.latents_received == 0:
                raise ValueError("no latent frames were pushed to this stream")
            if self.expected_latents is not None and self.latents_received != self.expected_latents:
                raise ValueError(
                    f"crop_to asks for {self._crop_frames} frames, which encode turns into {self.expected_latents} "
                    f"latent frames, but got {self.latents_received}"
                )
            return self._run_ready(final=True)
        finally:
            self._release()

    @torch.no_grad()
    def _run_ready(self, final: bool) -> Tensor | None:
        if not self._pending or (self._chunk_latents is None and not final):
            return None
        z = torch.cat(self._pending, dim=self._time_axis) if len(self._pending) > 1 else self._pending[0]
        self._pending = []
        if self._chunk_latents is None:
            pieces = [z]
        else:
            pieces = list(z.split(self._chunk_latents, dim=self._time_axis))
        outputs = [y for y in (self._run_piece(piece) for piece in pieces) if y is not None]
        return torch.cat(outputs, dim=2) if outputs else None

    def _run_piece(self, z: Tensor) -> Tensor | None:
        cs = self._config.spatial_compression
        y = self._run_tiles(self._in_state("decoder", self._backend.decode), self._transfer.to_device(z), 1, cs, False)
        start = self._frames_made
        self._frames_made += y.shape[2]
        if self._crop_size is not None:
            y = crop_center(y, self._crop_size)
        keep_from = max(self._skip - start, 0)
        keep_to = y.shape[2] if self._crop_frames is None else min(self._skip + self._crop_frames - start, y.shape[2])
        if keep_to <= keep_from:
            return None
        return self._transfer.to_home(y[:, :, keep_from:keep_to], self._home)
