"""Resolving a model name or a local directory to checkpoint files (no NeMo, no network)."""

import json

import huggingface_hub
import pytest

from nemo_cosmos.pretrained import (
    PRESETS,
    CheckpointNotFoundError,
    preset_config,
    resolve_checkpoint_files,
)

from checkpoints import use_offline_hub_cache, write_hub_cache
from conftest import small_config


@pytest.fixture
def offline_cache(tmp_path, monkeypatch):
    return use_offline_hub_cache(tmp_path / "hf-cache", monkeypatch)


def _touch(directory, *names):
    directory.mkdir(parents=True, exist_ok=True)
    for name in names:
        (directory / name).write_bytes(b"checkpoint " + name.encode())
    return directory


def test_name_and_alias_resolve_from_the_offline_cache(tmp_path, offline_cache):
    sources = _touch(tmp_path / "src", "encoder.jit", "decoder.jit")
    snapshot = write_hub_cache(offline_cache, "nvidia/Cosmos-Tokenizer-DV8x8x8", {
        "encoder.jit": sources / "encoder.jit", "decoder.jit": sources / "decoder.jit"})
    for name in ("Cosmos-Tokenizer-DV8x8x8", "nvidia/Cosmos-Tokenizer-DV8x8x8"):
        files = resolve_checkpoint_files(name, ["encoder", "decoder"])
        assert files.config == preset_config("Cosmos-Tokenizer-DV8x8x8")
        assert files.torchscript == {"encoder": snapshot / "encoder.jit", "decoder": snapshot / "decoder.jit"}
        assert files.torchscript["decoder"].read_bytes() == b"checkpoint decoder.jit"
        assert files.weights is None
    # a pinned commit is served from its snapshot too
    pinned = resolve_checkpoint_files("Cosmos-Tokenizer-DV8x8x8", ["encoder"], revision=snapshot.name)
    assert pinned.torchscript["encoder"] == snapshot / "encoder.jit"


def test_offline_with_empty_cache_says_what_and_where(offline_cache):
    with pytest.raises(CheckpointNotFoundError) as error:
        resolve_checkpoint_files("Cosmos-Tokenizer-CV8x8x8", ["encoder"])
    message = str(error.value)
    expected = ("encoder.jit", "nvidia/Cosmos-Tokenizer-CV8x8x8", str(offline_cache), "HF_HUB_OFFLINE=1", "hf download")
    assert all(part in message for part in expected), message


def test_a_file_missing_from_the_cached_snapshot_is_reported(tmp_path, offline_cache):
    sources = _touch(tmp_path / "src", "encoder.jit")
    write_hub_cache(offline_cache, "nvidia/Cosmos-Tokenizer-DI8x8", {"encoder.jit": sources / "encoder.jit"})
    assert resolve_checkpoint_files("Cosmos-Tokenizer-DI8x8", ["encoder"]).torchscript["encoder"].is_file()
    with pytest.raises(CheckpointNotFoundError, match="decoder.jit of nvidia/Cosmos-Tokenizer-DI8x8"):
        resolve_checkpoint_files("Cosmos-Tokenizer-DI8x8", ["encoder", "decoder"])


def test_unknown_name_lists_the_known_ones(tmp_path):
    with pytest.raises(CheckpointNotFoundError) as error:
        resolve_checkpoint_files("Cosmos-Tokenizer-XV9x9x9", ["encoder"])
    assert "'Cosmos-Tokenizer-XV9x9x9' is not an existing directory, and unknown tokenizer" in str(error.value)
    assert all(name in str(error.value) for name in PRESETS)
    with pytest.raises(ValueError, match="non-empty subset"):
        resolve_checkpoint_files("Cosmos-Tokenizer-DV8x8x8", ["quantizer"])


def test_unknown_name_suggests_the_closest_and_the_bundled_model():
    with pytest.raises(CheckpointNotFoundError) as error:
        resolve_checkpoint_files("Cosmos-Tokenizer-DV8x8", ["encoder"])
    assert "unknown tokenizer 'Cosmos-Tokenizer-DV8x8' (did you mean 'Cosmos-Tokenizer-DV8x8x8'?)" in str(error.value)
    assert "bundled with nemo-cosmos (no download): nemo-cosmos-tiny-DV4x8x8" in str(error.value)
    with pytest.raises(CheckpointNotFoundError, match=r"did you mean 'nemo-cosmos-tiny-DV4x8x8'\?"):
        resolve_checkpoint_files("nemo-cosmos-tiny-DV4x8", ["encoder"])
    with pytest.raises(ValueError, match=r"did you mean 'Cosmos-Tokenizer-CV8x8x8'\?\); official") as error:
        preset_config("nvidia/Cosmos-Tokenizer-CV8x8")
    assert "bundled" not in str(error.value)  # build_network and preset_config take official names only


def test_local_directory_needs_no_network(tmp_path, monkeypatch):
    monkeypatch.setattr(huggingface_hub, "hf_hub_download", None)  # any hub call would now fail
    directory = _touch(tmp_path / "mine", "encoder.jit", "decoder.jit", "autoencoder.jit")
    (directory / "config.json").write_text(json.dumps(small_config("DV").to_dict()))
    files = resolve_checkpoint_files(directory, ["autoencoder"])
    assert files.config == small_config("DV")
    assert files.torchscript == {"autoencoder": directory / "autoencoder.jit"}
    assert files.source == str(directory)


def test_directory_config_from_argument_json_or_official_name(tmp_path):
    named = _touch(tmp_path / "Cosmos-Tokenizer-CV4x8x8", "encoder.jit")
    assert resolve_checkpoint_files(named, ["encoder"]).config == preset_config("Cosmos-Tokenizer-CV4x8x8")
    anonymous = _touch(tmp_path / "anonymous", "encoder.jit")
    given = resolve_checkpoint_files(anonymous, ["encoder"], config="Cosmos-Tokenizer-DV8x8x8")
    assert given.config == preset_config("Cosmos-Tokenizer-DV8x8x8")
    with pytest.raises(ValueError, match="cannot tell which Cosmos tokenizer.*has no config.json.*config="):
        resolve_checkpoint_files(anonymous, ["encoder"])
    (anonymous / "config.json").write_text('{"architectures": ["Something"]}')
    with pytest.raises(ValueError, match="is not a nemo-cosmos network config"):
        resolve_checkpoint_files(anonymous, ["encoder"])


def test_native_weights_directory(tmp_path):
    directory = _touch(tmp_path / "native", "model.safetensors")
    (directory / "config.json").write_text(json.dumps(small_config("CI").to_dict()))
    files = resolve_checkpoint_files(directory, ["encoder", "decoder"])
    assert files.weights == directory / "model.safetensors" and files.torchscript == {}
    with pytest.raises(CheckpointNotFoundError, match="native format: load it with use_pytorch=True"):
        resolve_checkpoint_files(directory, ["encoder"], allow_weights=False)


def test_missing_files_in_a_directory_say_what_is_there(tmp_path):
    directory = _touch(tmp_path / "partial", "encoder.jit", "autoencoder.jit")
    with pytest.raises(CheckpointNotFoundError) as error:
        resolve_checkpoint_files(directory, ["encoder", "decoder"])
    message = str(error.value)
    assert str(directory) in message and "has no decoder.jit" in message
    assert "it holds autoencoder.jit, encoder.jit" in message
    assert "load_full_model=True" in message
    with pytest.raises(CheckpointNotFoundError, match="is a file; pass the directory"):
        resolve_checkpoint_files(directory / "encoder.jit", ["encoder"])
    (directory / "model.nemo").write_bytes(b"")
    with pytest.raises(CheckpointNotFoundError, match="loads with CausalVideoTokenizer.restore_from"):
        resolve_checkpoint_files(directory / "model.nemo", ["encoder"])
