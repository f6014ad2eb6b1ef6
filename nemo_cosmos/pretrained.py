"""Official model names, their network configs, and strict loading of their weights.

This is the one table of presets. Resolving names and paths to files on disk or in the
hub cache is here too (see ``resolve``); the networks themselves know nothing of files.
"""

import math
import zipfile
from pathlib import Path

import torch
from torch import Tensor

from nemo_cosmos.networks.config import TokenizerConfig
from nemo_cosmos.networks.tokenizer import CosmosTokenizer

HUB_ORGANIZATION = "nvidia"

# The official models: family and compression (temporal x spatial x spatial). Everything
# else is the shared default of TokenizerConfig; the discrete image models use a wider z.
_MODELS = {
    "CI8x8": {"family": "CI", "spatial_compression": 8},
    "CI16x16": {"family": "CI", "spatial_compression": 16},
    "DI8x8": {"family": "DI", "spatial_compression": 8, "z_channels": 256},
    "DI16x16": {"family": "DI", "spatial_compression": 16, "z_channels": 256},
    "CV4x8x8": {"family": "CV", "spatial_compression": 8, "temporal_compression": 4},
    "CV8x8x8": {"family": "CV", "spatial_compression": 8, "temporal_compression": 8},
    "CV8x16x16": {"family": "CV", "spatial_compression": 16, "temporal_compression": 8},
    "DV4x8x8": {"family": "DV", "spatial_compression": 8, "temporal_compression": 4},
    "DV8x8x8": {"family": "DV", "spatial_compression": 8, "temporal_compression": 8},
    "DV8x16x16": {"family": "DV", "spatial_compression": 16, "temporal_compression": 8},
}

# Every published name -> its config. The 0.1 names are the same models; the 1.0 ones
# are retrained weights with the architecture of their namesakes.
PRESETS: dict[str, dict] = {
    **{f"Cosmos-Tokenizer-{model}": config for model, config in _MODELS.items()},
    **{f"Cosmos-0.1-Tokenizer-{model}": config for model, config in _MODELS.items()},
    "Cosmos-1.0-Tokenizer-CV8x8x8": _MODELS["CV8x8x8"],
    "Cosmos-1.0-Tokenizer-DV8x16x16": _MODELS["DV8x16x16"],
}


def canonical_name(name: str) -> str:
    """``nvidia/Cosmos-Tokenizer-DV8x8x8`` -> ``Cosmos-Tokenizer-DV8x8x8``; unknown names raise."""
    bare = name.removeprefix(f"{HUB_ORGANIZATION}/")
    if bare not in PRESETS:
        known = ", ".join(PRESETS)
        raise ValueError(f"unknown tokenizer {name!r}; known models (also as {HUB_ORGANIZATION}/<name>): {known}")
    return bare


def preset_config(name: str) -> TokenizerConfig:
    """The network config of an official model name or alias."""
    return TokenizerConfig(**PRESETS[canonical_name(name)])


def hub_repo_id(name: str) -> str:
    return f"{HUB_ORGANIZATION}/{canonical_name(name)}"


class CheckpointMismatchError(ValueError):
    """A checkpoint's keys, shapes or buffers do not fit the network."""


def read_state_dict(path: str | Path) -> dict[str, Tensor]:
    """Tensors of a TorchScript file (``*.jit``), a ``.safetensors`` file or a ``torch.save`` file."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            return load_file(str(path))
        if _is_torchscript(path):
            return dict(torch.jit.load(str(path), map_location="cpu").state_dict())
        loaded = torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as error:  # corrupt, truncated or foreign files all end here
        raise CheckpointMismatchError(f"cannot read checkpoint {path}: {type(error).__name__}: {error}") from error
    if isinstance(loaded, dict) and isinstance(loaded.get("state_dict"), dict):
        loaded = loaded["state_dict"]
    if not isinstance(loaded, dict) or not all(isinstance(v, Tensor) for v in loaded.values()):
        raise CheckpointMismatchError(f"{path} holds no state_dict of tensors")
    return loaded


def _is_torchscript(path: Path) -> bool:
    if path.suffix == ".jit":
        return True
    if not zipfile.is_zipfile(path):
        return False
    with zipfile.ZipFile(path) as archive:
        return any(name.endswith("/constants.pkl") for name in archive.namelist())


def torchscript_buffers(network: CosmosTokenizer) -> dict[str, Tensor]:
    """The non-persistent buffers that the official TorchScript halves carry, with their values."""
    cfg = network.config
    haar = {"wavelets": torch.full((2,), 1 / math.sqrt(2)), "_arange": torch.arange(2)}
    buffers: dict[str, Tensor] = {}
    quantizer = {}
    if cfg.is_discrete:
        indices = torch.arange(cfg.codebook_size)
        quantizer = {
            "_levels": torch.tensor(cfg.levels),
            "_basis": torch.tensor(network.quantizer.basis),
            "implicit_codebook": network.quantizer.indices_to_codes(indices),
        }
    if network.has_encoder:
        patcher = "encoder.patcher3d" if cfg.is_video else "encoder.patcher"
        buffers.update({f"{patcher}.{k}": v for k, v in haar.items()})
        if cfg.is_video:
            buffers[f"{patcher}.patch_size_buffer"] = torch.tensor([cfg.patch_size])
        buffers.update({f"quantizer.{k}": v for k, v in quantizer.items()})
    if network.has_decoder:
        unpatcher = "decoder.unpatcher3d" if cfg.is_video else "decoder.unpatcher"
        buffers.update({f"{unpatcher}.{k}": v for k, v in haar.items()})
        buffers.update({f"inv_quant.quantizer.{k}": v for k, v in quantizer.items()})
    return buffers


def load_weights(network: CosmosTokenizer, state_dict: dict[str, Tensor], source: str = "state_dict") -> None:
    """Load ``state_dict`` into ``network``, strictly.

    Accepted: every parameter of the network (all required, shapes checked), the
    resampling convs the reference builds but never calls (ignored, shapes checked), and
    the TorchScript-only buffers (ignored, values checked). Anything else raises
    :class:`CheckpointMismatchError` naming the missing, unexpected, misshaped and
    wrong-valued keys.
    """
    expected = {k: v.shape for k, v in network.state_dict().items()}
    tolerated = network.unused_reference_weights()
    buffers = torchscript_buffers(network)
    missing = [k for k in expected if k not in state_dict]
    unexpected = [k for k in state_dict if k not in expected and k not in tolerated and k not in buffers]
    misshaped = [
        f"{k} {list(state_dict[k].shape)} (expected {list(shape)})"
        for k, shape in {**expected, **tolerated}.items()
        if k in state_dict and state_dict[k].shape != shape
    ]
    wrong_values = [k for k, v in buffers.items() if k in state_dict and not _same_values(state_dict[k], v)]
    problems = [
        _describe("missing", missing),
        _describe("unexpected", unexpected),
        _describe("wrongly shaped", misshaped),
        _describe("TorchScript buffers with unexpected values", wrong_values),
    ]
    problems = [p for p in problems if p]
    if problems:
        halves = "+".join(h for h, on in (("encoder", network.has_encoder), ("decoder", network.has_decoder)) if on)
        raise CheckpointMismatchError(
            f"{source} does not fit Cosmos {network.config.short_name} ({halves}): " + "; ".join(problems)
        )
    network.load_state_dict({k: state_dict[k] for k in expected}, strict=True)


def _describe(what: str, keys: list[str], shown: int = 5) -> str:
    if not keys:
        return ""
    more = f", ... ({len(keys) - shown} more)" if len(keys) > shown else ""
    return f"{len(keys)} {what}: " + ", ".join(keys[:shown]) + more


def _same_values(found: Tensor, expected: Tensor) -> bool:
    return found.shape == expected.shape and torch.allclose(found.double(), expected.double(), atol=1e-6)
