"""The recipes' stopgap tokenizer loader: padding to a valid shape, cropping back, errors."""

import pytest
import torch

from nemo_cosmos import TokenizerConfig, build_network
from nemo_cosmos.evaluation.tokenizers import NetworkTokenizer, load_tokenizer, pad_to_valid
from nemo_cosmos.testing import fill_with_formula

SMALL_CV = TokenizerConfig(family="CV", spatial_compression=8, temporal_compression=4, channels=32,
                           channels_mult=[1, 2, 2], num_res_blocks=1)


def test_pad_repeats_the_last_frame_row_and_column():
    x = torch.arange(10 * 6 * 7, dtype=torch.float32).reshape(1, 1, 10, 6, 7).expand(1, 3, -1, -1, -1)
    padded = pad_to_valid(x, SMALL_CV)
    assert padded.shape == (1, 3, 13, 8, 8)
    assert torch.equal(padded[:, :, :10, :6, :7], x)
    assert torch.equal(padded[:, :, 12, :6, :7], x[:, :, 9])
    assert torch.equal(padded[:, :, :10, 7, :7], x[:, :, :, 5])
    assert torch.equal(padded[:, :, :10, :6, 7], x[:, :, :, :, 6])
    image_config = TokenizerConfig(family="CI", spatial_compression=8, channels=32, channels_mult=[1, 2, 2], num_res_blocks=1)
    assert pad_to_valid(torch.zeros(2, 3, 9, 16), image_config).shape == (2, 3, 16, 16)


def test_autoencode_of_an_odd_size_equals_the_network_on_the_padded_clip():
    network = fill_with_formula(build_network(SMALL_CV)).eval()
    x = torch.empty(1, 3, 6, 20, 28).uniform_(-1, 1, generator=torch.Generator().manual_seed(0))
    y = NetworkTokenizer(network).autoencode(x)
    with torch.inference_mode():
        expected = network(pad_to_valid(x, SMALL_CV))[:, :, :6, :20, :28]
    assert y.shape == x.shape
    assert torch.equal(y, expected)


def test_load_tokenizer_errors_name_what_is_missing(tmp_path):
    with pytest.raises(ValueError, match="CausalVideoTokenizer.from_pretrained"):
        load_tokenizer("nvidia/Cosmos-Tokenizer-CV8x8x8")
    with pytest.raises(FileNotFoundError, match="neither a tokenizer directory nor a known preset"):
        load_tokenizer("Cosmos-Tokenizer-XY1x1")
    with pytest.raises(FileNotFoundError, match="lacks config.json"):
        load_tokenizer(str(tmp_path))
    with pytest.raises(ValueError, match="weights must be one of"):
        load_tokenizer(str(tmp_path), weights="random")
