"""Configs and models for tokenization job tests: recipe configs composed by hydra as the recipe
composes them, and small saved models with formula weights."""

from pathlib import Path

from hydra import compose, initialize_config_dir

from nemo_cosmos.formula_weights import fill_with_formula
from nemo_cosmos.models import CausalVideoTokenizer

from conftest import small_config

CONF = Path(__file__).resolve().parents[1] / "conf"


def compose_config(config_name: str, overrides: list[str]):
    """A recipe config composed by hydra as the recipe composes it (``defaults:`` included)."""
    with initialize_config_dir(str(CONF), version_base=None):
        return compose(config_name, overrides=overrides)


def small_model_directory(folder: Path, family: str) -> Path:
    """A small network with formula weights, saved by the model's own save_pretrained."""
    model = CausalVideoTokenizer(CausalVideoTokenizer.make_config(small_config(family), decoder=False, device="cpu"))
    fill_with_formula(model.network)
    return model.save_pretrained(folder / f"small-{family}")
