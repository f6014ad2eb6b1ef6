"""Shared test helpers: fixture paths, the official models, small networks."""

import json
from pathlib import Path

import pytest
import torch

from nemo_cosmos import TokenizerConfig

FIXTURES = Path(__file__).parent / "fixtures"
OFFICIAL_MODELS = sorted(p.stem for p in (FIXTURES / "manifests").glob("*.json"))


def manifest(model: str) -> dict:
    return json.loads((FIXTURES / "manifests" / f"{model}.json").read_text())


def small_config(family: str, spatial: int = 8, temporal: int = 4, **overrides) -> TokenizerConfig:
    """Same architecture family as the official models, narrow enough for fast tests."""
    video = family.endswith("V")
    values = dict(
        family=family,
        spatial_compression=spatial,
        temporal_compression=temporal if video else 1,
        channels=32,
        channels_mult=[1, 2, 2],
        num_res_blocks=1,
        z_channels=16,
    )
    values.update(overrides)
    return TokenizerConfig(**values)


@pytest.fixture(autouse=True)
def _two_threads():
    torch.set_num_threads(2)
