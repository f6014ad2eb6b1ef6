"""The network configuration: plain data, one field per architectural choice."""

import json
import math
from dataclasses import asdict, dataclass, field, fields
from typing import Any

FAMILIES = {"CI": "continuous image", "DI": "discrete image", "CV": "continuous video", "DV": "discrete video"}

# Keys of the reference's config that carry no information for building our network.
_IGNORED_REFERENCE_KEYS = {"formulation", "encoder", "decoder", "patch_method", "num_groups", "quantizer", "num_quantizers"}


@dataclass
class TokenizerConfig:
    """Everything needed to build a Cosmos tokenizer network.

    ``family`` is CI/DI (2D image models) or CV/DV (causal video models); C* are
    continuous (``latent_channels`` wide latent), D* discrete (FSQ with ``levels``).
    """

    family: str
    spatial_compression: int
    temporal_compression: int = 1
    channels: int = 128
    channels_mult: list[int] = field(default_factory=lambda: [2, 4, 4])
    num_res_blocks: int = 2
    attn_resolutions: list[int] = field(default_factory=lambda: [32])
    resolution: int = 1024
    patch_size: int = 4
    in_channels: int = 3
    out_channels: int = 3
    z_channels: int = 16
    z_factor: int = 1
    latent_channels: int = 16
    levels: list[int] = field(default_factory=lambda: [8, 8, 8, 5, 5, 5])
    dropout: float = 0.0
    legacy_mode: bool = False

    def __post_init__(self) -> None:
        if self.family not in FAMILIES:
            raise ValueError(f"family must be one of {sorted(FAMILIES)}, got {self.family!r}")
        for name in ("spatial_compression", "temporal_compression", "patch_size"):
            value = getattr(self, name)
            if value < 1 or value & (value - 1):
                raise ValueError(f"{name} must be a power of two, got {value}")
        if self.spatial_compression < self.patch_size:
            raise ValueError(f"spatial_compression {self.spatial_compression} is below patch_size {self.patch_size}")
        if self.is_video and self.temporal_compression < self.patch_size:
            raise ValueError(f"temporal_compression {self.temporal_compression} is below patch_size {self.patch_size}")
        if not self.is_video and self.temporal_compression != 1:
            raise ValueError(f"image family {self.family} needs temporal_compression 1, got {self.temporal_compression}")
        if self.is_discrete:
            self.latent_channels = len(self.levels)

    @property
    def is_video(self) -> bool:
        return self.family.endswith("V")

    @property
    def is_discrete(self) -> bool:
        return self.family.startswith("D")

    @property
    def short_name(self) -> str:
        """``DV8x8x8``-style: family, then temporal x spatial x spatial compression."""
        cs = self.spatial_compression
        return f"{self.family}{self.temporal_compression}x{cs}x{cs}" if self.is_video else f"{self.family}{cs}x{cs}"

    @property
    def codebook_size(self) -> int:
        """Number of FSQ codes (64,000 for the official levels); 0 for continuous models."""
        return math.prod(self.levels) if self.is_discrete else 0

    @property
    def decoder_channels_mult(self) -> list[int]:
        """The reference drops the last multiplier of CV decoders with temporal compression 4."""
        if self.family == "CV" and self.temporal_compression == 4:
            return self.channels_mult[:-1]
        return list(self.channels_mult)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def matches(self, recorded: dict[str, Any]) -> bool:
        """Whether ``recorded``, this config's dict as a JSON file holds it (tuples become
        lists), is this config: how a dataset or token file checks its decoding model."""
        return json.loads(json.dumps(self.to_dict())) == recorded

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "TokenizerConfig":
        """Build from our own dict or from a reference-style config (``name``, ``embedding_dim``...)."""
        values = dict(values)
        if "name" in values and "family" not in values:
            values["family"] = values.pop("name")
        embedding_dim = values.pop("embedding_dim", None)
        if embedding_dim is not None and embedding_dim != len(values.get("levels", [])):
            raise ValueError(f"embedding_dim {embedding_dim} does not match levels {values.get('levels')}")
        known = {f.name for f in fields(cls)}
        unknown = set(values) - known - _IGNORED_REFERENCE_KEYS
        if unknown:
            raise ValueError(f"unknown tokenizer config keys: {sorted(unknown)}")
        return cls(**{k: v for k, v in values.items() if k in known})
