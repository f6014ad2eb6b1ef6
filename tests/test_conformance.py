"""The networks against the official layouts (manifests) and the reference's numbers (goldens)."""

import json

import pytest
import torch
from safetensors import safe_open

from nemo_cosmos import TokenizerConfig, build_network
from nemo_cosmos.formula_weights import fill_with_formula

from conftest import FIXTURES, OFFICIAL_MODELS, manifest

pytestmark = pytest.mark.slow  # goldens, subprocesses, torchrun, real recipes


def used_layout(entries: list) -> dict[str, list[int]]:
    return {key: shape for key, shape, _, used in entries if used}


def layout(network: torch.nn.Module) -> dict[str, list[int]]:
    return {key: list(value.shape) for key, value in network.state_dict().items()}


@pytest.mark.parametrize("model", OFFICIAL_MODELS)
def test_state_dict_layout_equals_the_official_one(model):
    expected = manifest(model)
    with torch.device("meta"):
        full = build_network(model)
        encoder = build_network(model, decoder=False)
        decoder = build_network(model, encoder=False)
    assert layout(full) == used_layout(expected["autoencoder"])
    assert layout(encoder) == used_layout(expected["encoder.jit"])
    assert layout(decoder) == used_layout(expected["decoder.jit"])
    assert sum(p.numel() for p in full.parameters()) == expected["num_used_parameters"]


@pytest.mark.parametrize("model", OFFICIAL_MODELS)
def test_unused_reference_weights_are_exactly_the_manifests_unused_entries(model):
    with torch.device("meta"):
        network = build_network(model)
    unused = {key: shape for key, shape, _, used in manifest(model)["autoencoder"] if not used}
    assert {k: list(v) for k, v in network.unused_reference_weights().items()} == unused


@pytest.mark.parametrize("model", OFFICIAL_MODELS)
def test_preset_matches_the_manifest_config(model):
    reference = TokenizerConfig.from_dict(manifest(model)["config"])
    with torch.device("meta"):
        assert build_network(model).config == reference


def golden(model: str) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    with safe_open(str(FIXTURES / "golden" / f"{model}.safetensors"), "pt") as f:
        return {k: f.get_tensor(k) for k in f.keys()}, f.metadata()


def assert_close(ours: torch.Tensor, reference: torch.Tensor) -> None:
    assert ours.shape == reference.shape
    torch.testing.assert_close(ours, reference, atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("model", OFFICIAL_MODELS)
def test_goldens_are_reproduced_in_float32(model):
    tensors, metadata = golden(model)
    assert json.loads(metadata["config"])["name"] == model.split("-")[-1][:2]
    network = fill_with_formula(build_network(model)).eval()
    with torch.inference_mode():
        if network.config.is_discrete:
            pre_quant = network.quant_conv(network.encoder(tensors["input"]))
            indices, codes = network.encode(tensors["input"])
            assert_close(pre_quant, tensors["pre_quant"])
            assert indices.dtype == torch.int32
            assert torch.equal(indices, tensors["indices"])
            assert_close(codes, tensors["codes"])
            reconstruction = network.decode(tensors["indices"])
        else:
            assert_close(network.encode(tensors["input"]), tensors["latent"])
            reconstruction = network.decode(tensors["latent"])
    assert_close(reconstruction, tensors["reconstruction"])
