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
    """The official TorchScript halves, as the old NeMo model ran them: the encoder's tuple
    output loses its last entry (``(latent,)`` or ``(indices, codes)``), the full model's
    first entry is the reconstruction. Clips run in one pass (the modules keep no causal
    state between calls, so their streams buffer whole clips).

    The official discrete files hard-code their FSQ codes to bfloat16 (the reference's
    quantizer casts to its own dtype, not the weights'), so in float32 they would feed
    bfloat16 codes to a float32 ``post_quant_conv``. The codes are cast to the model's
    dtype at that boundary instead, which is exact (they lie on the FSQ grid, which
    bfloat16 holds): encoded codes are cast, and the discrete decoder and full model run
    their parts one by one (``inv_quant``, or ``encoder``, ``quant_conv`` and
    ``quantizer``; then ``post_quant_conv`` and ``decoder``: all their ``forward`` does)
    with the cast between them."""

    def __init__(self, modules: dict[str, torch.jit.ScriptModule], dtype: torch.dtype):
        self.modules, self.dtype = modules, dtype

    def _module(self, part: str) -> torch.jit.ScriptModule:
        if part not in self.modules:
            raise RuntimeError(f"this model was loaded without {part}.jit (loaded: {sorted(self.modules) or 'none'})")
        return self.modules[part]

    def encode(self, x: Tensor) -> tuple[Tensor, ...]:
        output = self._module("encoder")(x)
        encoded = tuple(output[:-1]) if isinstance(output, tuple) else (output,)
        return tuple(t.to(self.dtype) if t.is_floating_point() else t for t in encoded)

    def decode(self, z: Tensor) -> Tensor:
        decoder = self._module("decoder")
        if z.is_floating_point() or getattr(decoder, "inv_quant", None) is None:
            return decoder(z)
        return self._decode_codes(decoder, decoder.inv_quant(z))

    def autoencode(self, x: Tensor) -> Tensor:
        if "autoencoder" not in self.modules:
            return self.decode(self.encode(x)[0])
        full = self.modules["autoencoder"]
        if getattr(full, "quantizer", None) is not None:
            _, codes, *_ = full.quantizer(full.quant_conv(full.encoder(x)))
            return self._decode_codes(full, codes)
        output = full(x)
        return output[0] if isinstance(output, tuple) else output

    def _decode_codes(self, module: torch.jit.ScriptModule, codes: Tensor) -> Tensor:
        """``module.decoder(module.post_quant_conv(codes))``, the codes cast to the model's dtype."""
        return module.decoder(module.post_quant_conv(codes.to(self.dtype)))
