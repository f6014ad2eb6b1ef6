"""Shared test helpers: fixture paths, the official models, small networks; CPU unless a test is marked ``gpu``."""

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


def pytest_collection_modifyitems(config, items):
    """Tests marked ``gpu`` are skipped where CUDA is missing (before any of their fixtures run)."""
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA GPU")
    for item in items:
        if item.get_closest_marker("gpu"):
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def _cpu_unless_marked_gpu(request, monkeypatch):
    """Every test not marked ``gpu`` runs as on a host without CUDA, so that on a GPU host the
    models still default to CPU and float32 (the tolerances here are float32's) and the
    TorchScript files traced here on CPU run on CPU. ``CUDA_VISIBLE_DEVICES`` carries this to
    subprocesses (recipes, torchrun); in this process CUDA may already be initialised by a
    ``gpu`` test, so ``torch.cuda`` is patched too."""
    if request.node.get_closest_marker("gpu"):
        return
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 0)


@pytest.fixture
def one_thread():
    """Tiny networks gain nothing from threads; on a busy machine threads slow them down."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
