"""The recipes' tokenizer loader: the NeMo model with pretrained or formula weights, and its errors."""

import pytest
import torch

from nemo_cosmos import CausalVideoTokenizer
from nemo_cosmos.evaluation.tokenizers import load_tokenizer

from conftest import small_config


def test_formula_and_pretrained_weights_from_a_directory(tmp_path):
    saved = load_tokenizer("Cosmos-Tokenizer-CV8x8x8", weights="formula")
    assert isinstance(saved, CausalVideoTokenizer) and saved.network_config.channels == 128
    small = CausalVideoTokenizer(CausalVideoTokenizer.make_config(small_config("CV"), device="cpu"))
    small.save_pretrained(tmp_path / "small")
    formula = load_tokenizer(str(tmp_path / "small"), weights="formula")
    pretrained = load_tokenizer(str(tmp_path / "small"))
    for key, value in pretrained.network.state_dict().items():
        assert torch.equal(value, small.network.state_dict()[key])
    assert not torch.equal(formula.network.state_dict()["quant_conv.conv3d.weight"], pretrained.network.state_dict()["quant_conv.conv3d.weight"])
    x = torch.empty(1, 3, 6, 20, 28).uniform_(-1, 1)
    assert formula.autoencode(x).shape == x.shape  # any size: padded, then cropped back


def test_load_tokenizer_errors_name_what_is_missing(tmp_path):
    with pytest.raises(ValueError, match="unknown tokenizer 'Cosmos-Tokenizer-XY1x1'"):
        load_tokenizer("Cosmos-Tokenizer-XY1x1", weights="formula")
    with pytest.raises(FileNotFoundError, match="lacks config.json"):
        load_tokenizer(str(tmp_path), weights="formula")
    with pytest.raises(FileNotFoundError):
        load_tokenizer(str(tmp_path))
    with pytest.raises(ValueError, match="weights must be one of"):
        load_tokenizer(str(tmp_path), weights="random")
