"""Loading tokenizers for the recipes, until ``nemo_cosmos.CausalVideoTokenizer`` lands.

:func:`load_tokenizer` is the one place the recipes get a tokenizer from. It returns a
:class:`NetworkTokenizer`, which offers the calls the recipes make on the ModelPT
(``encode`` -> tuple, ``decode``, ``autoencode``, ``config``), so switching to the
ModelPT is one line: ``load_tokenizer = CausalVideoTokenizer.from_pretrained``.
"""

import json
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor

from nemo_cosmos.networks import CosmosTokenizer, TokenizerConfig, build_network
from nemo_cosmos.pretrained import PRESETS, canonical_name, load_weights, read_state_dict
from nemo_cosmos.testing import fill_with_formula

WEIGHTS = ("pretrained", "formula")


class NetworkTokenizer:
    """A network on a device and dtype, taking pixels of any size (edge-padded, then cropped)."""

    def __init__(self, network: CosmosTokenizer):
        self.network = network.eval()

    @property
    def config(self) -> TokenizerConfig:
        return self.network.config

    @property
    def device(self) -> torch.device:
        return next(self.network.parameters()).device

    @property
    def dtype(self) -> torch.dtype:
        return next(self.network.parameters()).dtype

    @torch.inference_mode()
    def encode(self, x: Tensor) -> tuple[Tensor, ...]:
        """Pixels of a valid shape -> ``(latent,)`` (continuous) or ``(indices, codes)`` (discrete)."""
        encoded = self.network.encode(x.to(self.device, self.dtype))
        return encoded if isinstance(encoded, tuple) else (encoded,)

    @torch.inference_mode()
    def decode(self, tokens: Tensor) -> Tensor:
        """Latent (continuous) or indices (discrete) -> pixels."""
        return self.network.decode(tokens.to(self.device))

    @torch.inference_mode()
    def autoencode(self, x: Tensor) -> Tensor:
        """Reconstruct pixels ``[B, 3, (T,) H, W]`` in [-1, 1] of any size; returns x's shape."""
        padded = pad_to_valid(x, self.config)
        y = self.decode(self.encode(padded)[0])
        return y[(..., *[slice(0, n) for n in x.shape[2:]])].to(x.device, x.dtype)


def pad_to_valid(x: Tensor, config: TokenizerConfig) -> Tensor:
    """Repeat the last frame / row / column until T = 1 + k*ct and H, W are multiples of cs."""
    cs, ct = config.spatial_compression, config.temporal_compression
    pads = [(-x.shape[-1]) % cs, (-x.shape[-2]) % cs]
    if config.is_video:
        pads.append((-(x.shape[2] - 1)) % ct)
    if not any(pads):
        return x
    flat = [p for n in pads for p in (0, n)]
    if x.dim() == 5:
        return F.pad(x, flat, mode="replicate")
    return F.pad(x, flat[:4], mode="replicate")


def read_local_tokenizer(directory: Path) -> CosmosTokenizer:
    """A directory with our ``config.json`` (TokenizerConfig fields) and ``model.safetensors``."""
    config_file, weights_file = directory / "config.json", directory / "model.safetensors"
    for needed in (config_file, weights_file):
        if not needed.is_file():
            raise FileNotFoundError(f"tokenizer directory {directory} lacks {needed.name} (needs config.json + model.safetensors)")
    network = build_network(TokenizerConfig.from_dict(json.loads(config_file.read_text())))
    load_weights(network, read_state_dict(weights_file), source=str(weights_file))
    return network


def load_tokenizer(
    name_or_dir: str, weights: str = "pretrained", device: str | torch.device = "cpu", dtype: torch.dtype = torch.float32
) -> NetworkTokenizer:
    """A preset name or a local tokenizer directory -> a tokenizer on ``device`` in ``dtype``.

    ``weights="formula"`` gives the deterministic test weights of :mod:`nemo_cosmos.testing`
    (for speed measurements: the numbers it reconstructs mean nothing).
    """
    if weights not in WEIGHTS:
        raise ValueError(f"weights must be one of {WEIGHTS}, got {weights!r}")
    path = Path(name_or_dir).expanduser()
    if path.is_dir():
        network = read_local_tokenizer(path)
        if weights == "formula":
            fill_with_formula(network)
    elif name_or_dir.removeprefix("nvidia/") in PRESETS:
        name = canonical_name(name_or_dir)
        if weights != "formula":
            raise ValueError(
                f"pretrained weights of {name} load through CausalVideoTokenizer.from_pretrained, not in this build yet; "
                "pass a local directory (config.json + model.safetensors) or weights=formula"
            )
        network = fill_with_formula(build_network(name))
    else:
        raise FileNotFoundError(f"{name_or_dir!r} is neither a tokenizer directory nor a known preset ({', '.join(PRESETS)})")
    return NetworkTokenizer(network.to(device=device, dtype=dtype))
