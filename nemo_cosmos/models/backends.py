"""The two ways the model runs a network on aligned inputs: our native network or the
official TorchScript modules. Both take and return what the model's methods do:
``encode`` -> tuple (``(latent,)`` or ``(indices, codes)``), ``decode`` and
``autoencode`` -> pixels."""

import torch
from torch import Tensor

from nemo_cosmos.networks import CosmosTokenizer


class NativeBackend:
    """Our network, on aligned inputs: a whole clip, or one chunk of a stream whose causal
    state the caller has put into the layers (``models/streams.py``)."""

    def __init__(self, network: CosmosTokenizer):
        self.network = network

    def encode(self, x: Tensor) -> tuple[Tensor, ...]:
        encoded = self.network.encode_frames(x)
        return encoded if isinstance(encoded, tuple) else (encoded,)

    def decode(self, z: Tensor) -> Tensor:
        return self.network.decode(z)

    def autoencode(self, x: Tensor) -> Tensor:
        return self.decode(self.encode(x)[0])


class TorchScriptBackend:
    """The official TorchScript halves run as they are, as the old NeMo model did: the
    encoder's tuple output loses its last entry (``(latent,)`` or ``(indices, codes)``),
    the full model's first entry is the reconstruction. Clips run in one pass (the
    modules keep no causal state between calls, so their streams buffer whole clips)."""

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
