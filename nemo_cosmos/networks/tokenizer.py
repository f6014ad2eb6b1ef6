"""The tokenizer network: encoder half, decoder half, and their heads."""

import torch
from torch import Tensor, nn

from nemo_cosmos.modules import FSQ, CausalConv3d
from nemo_cosmos.networks.config import TokenizerConfig
from nemo_cosmos.networks.image import ImageDecoder, ImageEncoder
from nemo_cosmos.networks.streaming import DecoderStream, EncoderStream, frame_chunks, latent_chunks
from nemo_cosmos.networks.video import VideoDecoder, VideoEncoder

Encoded = Tensor | tuple[Tensor, Tensor]


class CosmosTokenizer(nn.Module):
    """A Cosmos tokenizer with the official state_dict names.

    Either half can be left out (``encoder=False`` or ``decoder=False``): an encode-only
    user never allocates the decoder. The encoder half holds ``encoder.*`` and
    ``quant_conv.*`` (as ``encoder.jit``), the decoder half ``post_quant_conv.*`` and
    ``decoder.*`` (as ``decoder.jit``). Continuous models encode to a latent
    ``[B, C, t, h, w]`` (images ``[B, C, h, w]``); discrete ones to
    ``(indices, codes)`` through FSQ.
    """

    def __init__(self, config: TokenizerConfig, encoder: bool = True, decoder: bool = True):
        super().__init__()
        if not (encoder or decoder):
            raise ValueError("build at least one of the encoder and the decoder")
        self.config = config
        video = config.is_video
        pointwise = CausalConv3d if video else nn.Conv2d
        if encoder:
            self.encoder = (VideoEncoder if video else ImageEncoder)(config)
            self.quant_conv = pointwise(config.z_factor * config.z_channels, config.latent_channels, 1)
        if decoder:
            self.post_quant_conv = pointwise(config.latent_channels, config.z_channels, 1)
            self.decoder = (VideoDecoder if video else ImageDecoder)(config)
        self.quantizer = FSQ(config.levels) if config.is_discrete else None

    @property
    def has_encoder(self) -> bool:
        return hasattr(self, "encoder")

    @property
    def has_decoder(self) -> bool:
        return hasattr(self, "decoder")

    def encode(self, x: Tensor, chunk_frames: int | None = None) -> Encoded:
        """Pixels in [-1, 1] -> latent (continuous) or ``(indices, codes)`` (discrete).

        With ``chunk_frames`` (video only) the clip is encoded exactly, chunk by chunk:
        ``1 + chunk_frames`` frames first, then ``chunk_frames`` (a multiple of the
        temporal compression) at a time, with the causal state carried over.
        """
        self.check_pixels(x)
        if chunk_frames is None or not self.config.is_video:
            return self.encode_frames(x)
        chunks = list(frame_chunks(x, chunk_frames, self.config.temporal_compression))
        with self.encoder_stream() as stream:
            parts = [stream.push(chunk) for chunk in chunks]
        return self._concat_time(parts)

    def encode_frames(self, x: Tensor) -> Encoded:
        """The encoder itself, without input checks (streams feed it partial clips)."""
        if not self.has_encoder:
            raise RuntimeError("this network was built without its encoder (encoder=False)")
        z = self.quant_conv(self.encoder(x))
        return self.quantizer(z) if self.quantizer is not None else z

    def decode(self, z: Tensor, chunk_latents: int | None = None) -> Tensor:
        """Latent (continuous) or integer indices (discrete) -> pixels in about [-1, 1].

        With ``chunk_latents`` (video only) decoding runs chunk by chunk, exactly. Indices
        are checked and turned into codes once per call, not per chunk.
        """
        if self.quantizer is not None:
            self.check_indices(z)
            z = self.quantizer.indices_to_codes(z, dtype=self._dtype())
        if chunk_latents is None or not self.config.is_video:
            return self.decode_codes(z)
        with self.decoder_stream() as stream:
            frames = [stream.push(chunk, codes=True) for chunk in latent_chunks(z, chunk_latents, time_axis=2)]
        return torch.cat(frames, dim=2)

    def check_indices(self, z: Tensor) -> None:
        """Raise ``ValueError`` unless ``z`` holds integer indices of the codebook (one device sync)."""
        if z.is_floating_point():
            raise ValueError(f"a discrete tokenizer decodes integer indices, got {z.dtype}; use decode_codes for codes")
        if z.numel() == 0:
            return
        low, high = torch.stack(torch.aminmax(z)).tolist()
        if low < 0 or high >= self.config.codebook_size:
            raise ValueError(f"indices must lie in 0..{self.config.codebook_size - 1}, got {low}..{high}")

    def decode_codes(self, codes: Tensor) -> Tensor:
        """Latent or FSQ codes ``[B, C, (t,) h, w]`` -> pixels."""
        if not self.has_decoder:
            raise RuntimeError("this network was built without its decoder (decoder=False)")
        expected = 5 if self.config.is_video else 4
        if codes.dim() != expected or codes.shape[1] != self.config.latent_channels:
            raise ValueError(
                f"expected a {expected}-D latent with {self.config.latent_channels} channels, got shape {tuple(codes.shape)}"
            )
        return self.decoder(self.post_quant_conv(codes))

    def encoder_stream(self, kv_cache: str = "device") -> EncoderStream:
        """Incremental encoding for callers that never hold the whole clip; ``kv_cache="host"``
        keeps the temporal attention's keys and values in host memory."""
        self._require_video("encoder_stream")
        if not self.has_encoder:
            raise RuntimeError("this network was built without its encoder (encoder=False)")
        return EncoderStream(self, kv_cache)

    def decoder_stream(self, kv_cache: str = "device") -> DecoderStream:
        """Incremental decoding for callers that produce latents a few at a time; ``kv_cache``
        as for :meth:`encoder_stream`."""
        self._require_video("decoder_stream")
        if not self.has_decoder:
            raise RuntimeError("this network was built without its decoder (decoder=False)")
        return DecoderStream(self, kv_cache)

    def forward(self, x: Tensor) -> Tensor:
        """Reconstruction: encode then decode."""
        encoded = self.encode(x)
        if self.quantizer is not None:
            return self.decode_codes(encoded[1])
        return self.decode(encoded)

    def check_pixels(self, x: Tensor, whole_clip: bool = True) -> None:
        """Raise ``ValueError`` unless ``x`` has a shape this network can encode as it is."""
        cfg = self.config
        kind = "video [B, C, T, H, W]" if cfg.is_video else "images [B, C, H, W]"
        if x.dim() != (5 if cfg.is_video else 4) or x.shape[1] != cfg.in_channels:
            raise ValueError(f"expected {kind} with C={cfg.in_channels}, got shape {tuple(x.shape)}")
        if x.numel() == 0:
            raise ValueError(f"got an empty input of shape {tuple(x.shape)}")
        height, width = x.shape[-2:]
        if height % cfg.spatial_compression or width % cfg.spatial_compression:
            raise ValueError(
                f"height and width must be multiples of the spatial compression {cfg.spatial_compression}, "
                f"got {height}x{width}"
            )
        if whole_clip and cfg.is_video and (x.shape[2] - 1) % cfg.temporal_compression:
            ct = cfg.temporal_compression
            raise ValueError(
                f"a clip needs 1 + k*{ct} frames (e.g. {1 + ct}, {1 + 2 * ct}, {1 + 4 * ct}), got {x.shape[2]}"
            )

    def _concat_time(self, parts: list[Encoded]) -> Encoded:
        if self.quantizer is None:
            return torch.cat(parts, dim=2)
        return torch.cat([p[0] for p in parts], dim=1), torch.cat([p[1] for p in parts], dim=2)

    def _require_video(self, what: str) -> None:
        if not self.config.is_video:
            raise ValueError(f"{what} is for video tokenizers; {self.config.short_name} is an image model")

    def unused_reference_weights(self) -> dict[str, torch.Size]:
        """Official-checkpoint keys of resampling convs the reference builds but never calls."""
        unused = {}
        for half in ("encoder", "decoder"):
            module = getattr(self, half, None)
            for key, shape in getattr(module, "unused_reference_weights", {}).items():
                unused[f"{half}.{key}"] = shape
        return unused

    def _dtype(self) -> torch.dtype:
        return next(self.parameters()).dtype
