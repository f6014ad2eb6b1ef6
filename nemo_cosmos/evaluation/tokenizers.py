"""Where the evaluation and benchmark recipes get a tokenizer: the NeMo model.

``weights="pretrained"`` loads through :meth:`CausalVideoTokenizer.from_pretrained`
(official names, the bundled small model, local directories); ``weights="formula"``
builds the same model with the deterministic test weights of :mod:`nemo_cosmos.formula_weights`,
for speed and memory measurements (what it reconstructs means nothing).
"""

import json
from pathlib import Path

import torch

from nemo_cosmos.formula_weights import fill_with_formula
from nemo_cosmos.models.causal_video_tokenizer import CausalVideoTokenizer
from nemo_cosmos.networks import TokenizerConfig
from nemo_cosmos.pretrained import CONFIG_FILE, as_tokenizer_config

WEIGHTS = ("pretrained", "formula")


def load_tokenizer(
    name_or_dir: str,
    weights: str = "pretrained",
    device: str | torch.device | None = "cpu",
    dtype: str | torch.dtype | None = torch.float32,
) -> CausalVideoTokenizer:
    """A tokenizer (name or local directory) on ``device`` in ``dtype``, with ``weights``
    (``None``: the model's defaults, CUDA when available and bfloat16 there)."""
    if weights not in WEIGHTS:
        raise ValueError(f"weights must be one of {WEIGHTS}, got {weights!r}")
    if weights == "pretrained":
        return CausalVideoTokenizer.from_pretrained(name_or_dir, device=device, dtype=dtype)
    model = CausalVideoTokenizer(
        CausalVideoTokenizer.make_config(_network_config(name_or_dir), device=device, dtype=dtype, name=str(name_or_dir))
    )
    fill_with_formula(model.network)
    return model


def _network_config(name_or_dir: str) -> TokenizerConfig:
    """The network of a preset name, or of a directory's ``config.json``."""
    directory = Path(name_or_dir).expanduser()
    if not directory.is_dir():
        return as_tokenizer_config(name_or_dir)
    config_file = directory / CONFIG_FILE
    if not config_file.is_file():
        raise FileNotFoundError(f"tokenizer directory {directory} lacks {CONFIG_FILE}, which formula weights need")
    return TokenizerConfig.from_dict(json.loads(config_file.read_text()))
