"""Files we write get the permissions the umask gives any new file (safetensors alone would
make them 0600, unreadable to others on a shared cluster)."""

import os
import stat

import numpy as np
import pytest
import torch

from nemo_cosmos.data.indexed.sidecar import token_header
from nemo_cosmos.data.indexed.skipped import skip_record
from nemo_cosmos.data.indexed.token_layout import TokenLayout
from nemo_cosmos.data.indexed.writer import IndexedDatasetWriter, merge_parts
from nemo_cosmos.data.media import write_image, write_video
from nemo_cosmos.data.token_file import TokenFile, save_token_file
from nemo_cosmos.pretrained import build_network, save_native
from nemo_cosmos.safetensors_files import process_umask

from conftest import small_config


@pytest.fixture(params=[0o022, 0o027])
def umask(request):
    previous = os.umask(request.param)
    yield request.param
    os.umask(previous)


def _modes(directory) -> dict[str, int]:
    return {path.name: stat.S_IMODE(path.stat().st_mode) for path in sorted(directory.rglob("*")) if path.is_file()}


def test_the_umask_is_read_without_being_changed(umask):
    assert process_umask() == umask
    assert process_umask() == umask


def test_token_files_saved_weights_and_media_follow_the_umask(umask, tmp_path):
    record = TokenFile(
        tensor_name="indices", tensor=torch.zeros(1, 2, 3, 4, dtype=torch.int32), model="m", config={}, media="image",
        source="photo.png", height=24, width=32, padding={"height": [0, 0], "width": [0, 0]}, model_dtype="float32",
    )
    save_token_file(tmp_path / "tokens" / "photo.safetensors", record)
    save_native(build_network(small_config("CI")), tmp_path / "weights")
    write_image(tmp_path / "media" / "photo.png", np.zeros((8, 8, 3), np.uint8))
    write_video(tmp_path / "media" / "clip.mp4", np.zeros((2, 8, 8, 3), np.uint8), fps=4)
    expected = 0o666 & ~umask
    assert _modes(tmp_path) == {name: expected for name in ("photo.safetensors", "config.json", "model.safetensors", "photo.png", "clip.mp4")}


def test_indexed_datasets_and_their_merges_follow_the_umask(umask, tmp_path):
    layout = TokenLayout(codebook_size=64000)
    header = token_header("m", {}, layout, 4, 8)
    with IndexedDatasetWriter(tmp_path / "parts" / "part0", header) as writer:
        writer.add_document([layout.to_sequence(np.arange(12).reshape(1, 3, 4))], shape=[1, 3, 4], source={"path": "a.mp4"})
        writer.add_skipped(skip_record("b.mp4", "too short"))
    merge_parts([tmp_path / "parts" / "part0"], tmp_path / "tokens", skipped_path=tmp_path / "skipped.jsonl")
    modes = _modes(tmp_path)
    written = ["bin", "idx", "inputs.jsonl", "json"]
    assert sorted(modes) == sorted([f"part0.{suffix}" for suffix in written] + [f"tokens.{suffix}" for suffix in written] + ["skipped.jsonl"])
    assert set(modes.values()) == {0o666 & ~umask}
