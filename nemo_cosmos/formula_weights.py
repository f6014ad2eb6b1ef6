"""Deterministic "formula" weights, as defined by the conformance data.

Every parameter is computed from its state_dict key alone, so any implementation (ours,
the reference, a peer library) can be given the exact same weights without shipping
them. Used by the conformance tests, the benchmarks, the long-clip check and evaluation
runs of an architecture without trained weights.
"""

import zlib

import numpy as np
import torch
from torch import Tensor, nn


def hash_uniform(key: str, n: int) -> np.ndarray:
    """``n`` float64 values in [-1, 1) from a 32-bit integer hash seeded by crc32(key)."""
    seed = np.uint32(zlib.crc32(key.encode("utf-8")))
    h = np.arange(n, dtype=np.uint32) * np.uint32(0x9E3779B1) + seed
    h ^= h >> np.uint32(16)
    h *= np.uint32(0x85EBCA6B)
    h ^= h >> np.uint32(13)
    h *= np.uint32(0xC2B2AE35)
    h ^= h >> np.uint32(16)
    return h.astype(np.float64) / 2.0**32 * 2.0 - 1.0


def formula_parameter(key: str, shape: tuple[int, ...]) -> Tensor:
    """The formula value of one parameter: scaled like a weight, a norm scale or a bias."""
    count = int(np.prod(shape)) if shape else 1
    v = hash_uniform(key, count)
    if len(shape) >= 2:
        v = v * np.sqrt(3.0 / np.prod(shape[1:]))
    elif key.endswith("weight"):
        v = 1.0 + 0.1 * v
    else:
        v = 0.02 * v
    return torch.from_numpy(v.astype(np.float32).reshape(shape))


def formula_state_dict(network: nn.Module) -> dict[str, Tensor]:
    """Formula values for every entry of ``network.state_dict()``."""
    return {key: formula_parameter(key, tuple(value.shape)) for key, value in network.state_dict().items()}


def fill_with_formula(network: nn.Module) -> nn.Module:
    """Set every parameter of ``network`` to its formula value, in place; returns it."""
    network.load_state_dict(formula_state_dict(network), strict=True)
    return network
