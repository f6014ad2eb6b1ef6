"""The two ways the model runs a network on aligned inputs: our native network or the
official TorchScript modules. Both take and return what the model's methods do:
``encode`` -> tuple (``(latent,)`` or ``(indices, codes)``), ``decode`` and
``autoencode`` -> pixels."""

import torch
from torch import Tensor

from nemo_cosmos.networks import CosmosTokenizer
from nemo_cosmos.networks.streaming import frame_chunks


class NativeBackend:
    """Our network. Video clips stream through it ``chunk_latents`` latent frames at a time
    (``chunk_latents * ct`` frames), which equals one pass and bounds memory; ``None`` runs
    each clip in one pass."""

    def __init__(self, network: CosmosTokenizer, chunk_latents: int | None):
        self.network = network
        video = network.config.is_video
        self.chunk_latents = chunk_latents if video else None
        self.chunk_frames = chunk_latents * network.config.temporal_compression if self.chunk_latents else None

    def encode(self, x: Tensor) -> tuple[Tensor, ...]:
        encoded = self.network.encode(x, chunk_frames=self.chunk_frames)
        return encoded if isinstance(encoded, tuple) else (encoded,)

    def decode(self, z: Tensor) -> Tensor:
        return self.network.decode(z, chunk_latents=self.chunk_latents)

    def autoencode(self, x: Tensor) -> Tensor:
        """Encode and decode; a streamed clip goes chunk by chunk through both halves, so
        neither the whole clip's activations nor its latents are ever held at once."""
        if self.chunk_frames is None:
            return self.decode(self.encode(x)[0])
        self.network.check_pixels(x)
        chunks = frame_chunks(x, self.chunk_frames, self.network.config.temporal_compression)
        frames = []
        with self.network.encoder_stream() as encoder, self.network.decoder_stream() as decoder:
            for chunk in chunks:
                encoded = encoder.push(chunk)
                frames.append(decoder.push(encoded[0] if isinstance(encoded, tuple) else encoded))
        return torch.cat(frames, dim=2)


class TorchScriptBackend:
    """The official TorchScript halves run as they are, as the old NeMo model did: the
    encoder's tuple output loses its last entry (``(latent,)`` or ``(indices, codes)``),
    the full model's first entry is the reconstruction. Clips run in one pass (the
    modules keep no causal state between calls)."""

    def __init__(self, modules: dict[str, torch.jit.ScriptModule]):
        self.modules = modules

    def _module(self, part: str) -> torch.jit.ScriptModule:
        if part not in self.modules:
            raise RuntimeError(f"this model was loaded without {part}.jit (loaded: {sorted(self.modules) or 'none'})")
        return self.modules[part]

    def encode(self, x: Tensor) -> tuple[Tensor, ...]:
        output = self._module("encoder")(x)
        return tuple(output[:-1]) if isinstance(output, tuple) else (output,)

    def decode(self, z: Tensor) -> Tensor:
        return self._module("decoder")(z)

    def autoencode(self, x: Tensor) -> Tensor:
        if "autoencoder" in self.modules:
            output = self.modules["autoencoder"](x)
            return output[0] if isinstance(output, tuple) else output
        return self.decode(self.encode(x)[0])
