"""Strict weight loading: exactly the official keys, the unused ones and the TorchScript buffers."""

import pytest
import torch
from safetensors.torch import save_file

from nemo_cosmos import build_network, load_weights, read_state_dict
from nemo_cosmos.formula_weights import fill_with_formula, formula_state_dict
from nemo_cosmos.pretrained import CheckpointMismatchError, torchscript_buffers

from conftest import OFFICIAL_MODELS, manifest, small_config


def meta_network(model: str, **halves) -> torch.nn.Module:
    with torch.device("meta"):
        return build_network(model, **halves)


def official_state_dict(model: str, half: str, unused: bool) -> dict[str, torch.Tensor]:
    """A state_dict shaped like an official file (meta tensors), with or without unused keys."""
    return {
        key: torch.empty(shape, device="meta")
        for key, shape, _, used in manifest(model)[half]
        if used or unused
    }


@pytest.mark.parametrize("model", OFFICIAL_MODELS)
@pytest.mark.parametrize("with_unused", [False, True])
def test_official_layouts_load_with_and_without_unused_and_torchscript_buffers(model, with_unused):
    for half, halves in [("autoencoder", {}), ("encoder.jit", {"decoder": False}), ("decoder.jit", {"encoder": False})]:
        network = meta_network(model, **halves)
        state = official_state_dict(model, half, unused=with_unused)
        load_weights(network, state, source=f"{model}/{half}")
        load_weights(network, {**state, **torchscript_buffers(network)}, source=f"{model}/{half}")


@pytest.mark.parametrize("model", ["Cosmos-Tokenizer-DV8x8x8", "Cosmos-Tokenizer-CI8x8"])
def test_missing_misshaped_and_foreign_keys_are_rejected_with_names(model):
    network = meta_network(model)
    state = official_state_dict(model, "autoencoder", unused=True)
    key = "decoder.conv_in.0.conv3d.weight" if "DV" in model else "decoder.conv_in.weight"

    missing = dict(state)
    del missing[key]
    with pytest.raises(CheckpointMismatchError, match=rf"1 missing: {key}"):
        load_weights(network, missing)

    misshaped = {**state, key: torch.empty(3, 3, device="meta")}
    with pytest.raises(CheckpointMismatchError, match=rf"1 wrongly shaped: {key} \[3, 3\]"):
        load_weights(network, misshaped)

    with pytest.raises(CheckpointMismatchError, match=r"1 unexpected: encoder.extra.weight"):
        load_weights(network, {**state, "encoder.extra.weight": torch.zeros(1)})


def test_misshaped_unused_key_and_wrong_torchscript_buffer_are_rejected():
    model = "Cosmos-Tokenizer-DV8x8x8"
    network = meta_network(model)
    state = official_state_dict(model, "autoencoder", unused=False)
    unused_key = "decoder.up.2.upsample.conv1.conv3d.weight"
    with pytest.raises(CheckpointMismatchError, match="wrongly shaped: " + unused_key):
        load_weights(network, {**state, unused_key: torch.empty(1, device="meta")})
    buffers = torchscript_buffers(network)
    buffers["quantizer._levels"] = torch.tensor([8, 8, 8, 5, 5, 4])
    with pytest.raises(CheckpointMismatchError, match="unexpected values: quantizer._levels"):
        load_weights(network, {**state, **buffers})


def test_many_problems_are_counted_and_truncated():
    network = meta_network("Cosmos-Tokenizer-CV8x8x8", decoder=False)
    with pytest.raises(CheckpointMismatchError, match=r"138 missing: .*\(133 more\)"):
        load_weights(network, {})


def test_loaded_values_are_the_checkpoints():
    network = build_network(small_config("DV"))
    state = formula_state_dict(network)
    load_weights(network, state)
    for key, value in network.state_dict().items():
        assert torch.equal(value, state[key])


class _EncoderExport(torch.nn.Module):
    """An encoder half with the official submodule names, as a TorchScript file holds it."""

    def __init__(self, network):
        super().__init__()
        self.encoder, self.quant_conv = network.encoder, network.quant_conv

    def forward(self, x):
        return self.quant_conv(self.encoder(x))


def test_read_state_dict_from_torchscript_safetensors_and_torch_save(tmp_path):
    network = fill_with_formula(build_network(small_config("CV"), decoder=False)).eval()
    expected = network.state_dict()
    traced = torch.jit.trace(_EncoderExport(network), torch.zeros(1, 3, 5, 16, 16), check_trace=False)
    traced.save(str(tmp_path / "encoder.jit"))
    save_file(expected, str(tmp_path / "model.safetensors"))
    torch.save({"state_dict": expected}, tmp_path / "model.pt")
    for name in ["encoder.jit", "model.safetensors", "model.pt"]:
        loaded = read_state_dict(tmp_path / name)
        fresh = build_network(small_config("CV"), decoder=False)
        load_weights(fresh, loaded, source=name)
        for key, value in fresh.state_dict().items():
            assert torch.equal(value, expected[key]), (name, key)


def test_unreadable_files_name_the_path(tmp_path):
    network = build_network(small_config("CV"), decoder=False)
    traced = torch.jit.trace(_EncoderExport(network), torch.zeros(1, 3, 5, 16, 16), check_trace=False)
    traced.save(str(tmp_path / "encoder.jit"))
    data = (tmp_path / "encoder.jit").read_bytes()
    (tmp_path / "truncated.jit").write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointMismatchError, match="cannot read checkpoint .*truncated.jit"):
        read_state_dict(tmp_path / "truncated.jit")
    (tmp_path / "empty.safetensors").write_bytes(b"")
    with pytest.raises(CheckpointMismatchError, match="cannot read checkpoint .*empty.safetensors"):
        read_state_dict(tmp_path / "empty.safetensors")
    with pytest.raises(FileNotFoundError, match="nowhere.jit"):
        read_state_dict(tmp_path / "nowhere.jit")
