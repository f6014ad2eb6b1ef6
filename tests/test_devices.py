"""Where the suite runs, and bfloat16 on the device users run: the answers stay those of float32.

Every test but those marked ``gpu`` runs as on a host without CUDA (``tests/conftest.py``).
The ``gpu`` tests run the paths users run on CUDA in bfloat16; each is parametrised on the
CPU too (bfloat16 runs there), which checks the criteria where no GPU is at hand. bfloat16
is judged against float32: a second route (streaming, TorchScript) must stay about as close
to float32 as the first, or close to it in bfloat16's own terms.
"""

import json
import os
import subprocess
import sys

import pytest
import torch

from nemo_cosmos import CausalVideoTokenizer, build_network
from nemo_cosmos.formula_weights import fill_with_formula

from checkpoints import export_torchscript
from conftest import small_config
from data_samples import smooth_video

DEVICES = ["cpu", pytest.param("cuda", marks=pytest.mark.gpu)]


def test_the_suite_runs_as_on_a_host_without_cuda():
    assert os.environ["CUDA_VISIBLE_DEVICES"] == "" and not torch.cuda.is_available()
    model = CausalVideoTokenizer(CausalVideoTokenizer.make_config(small_config("DV"), decoder=False))
    assert model.device.type == "cpu" and model.dtype == torch.float32
    probe = "import torch; print(torch.cuda.device_count())"
    assert subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout.strip() == "0"


def _mismatch(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a != b).float().mean())


def _distance(a: torch.Tensor, b: torch.Tensor) -> float:
    """Mean absolute difference, relative to ``b``'s mean magnitude."""
    return float((a.float() - b.float()).abs().mean() / b.float().abs().mean())


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("family", ["CV", "DV"])
def test_streaming_equals_one_pass_in_bfloat16(device, family):
    network = fill_with_formula(build_network(small_config(family))).eval().to(device)
    clip = smooth_video(17, 32, 48, seed=1).to(device)
    with torch.inference_mode():
        reference = network.encode(clip)  # float32, one pass
        network.to(torch.bfloat16)
        one_pass = network.encode(clip.bfloat16())
        streamed = network.encode(clip.bfloat16(), chunk_frames=4)
    if family == "DV":
        # an index flips where bfloat16 moves a value across an FSQ boundary: as rarely streamed as in one pass
        assert _mismatch(streamed[0], one_pass[0]) <= max(0.02, 2 * _mismatch(one_pass[0], reference[0]))
    else:
        assert _distance(streamed, one_pass) <= max(0.02, 2 * _distance(one_pass, reference))


@pytest.mark.parametrize("device", DEVICES)
def test_torchscript_and_native_agree_in_bfloat16(device, tmp_path):
    """Files traced on the device in bfloat16, as the official ones were (on CUDA they hold
    CUDA constants, as those do), against the native network on the same weights."""
    network = fill_with_formula(build_network(small_config("DV"))).eval().to(device, torch.bfloat16)
    clip = smooth_video(9, 32, 32, seed=2).to(device, torch.bfloat16)
    export_torchscript(network, tmp_path, clip, parts=("encoder", "decoder"))
    (tmp_path / "config.json").write_text(json.dumps(network.config.to_dict()))
    native = CausalVideoTokenizer.from_pretrained(tmp_path, device=device, dtype="bfloat16", chunk_latents=None)
    scripted = CausalVideoTokenizer.from_pretrained(tmp_path, use_pytorch=False, device=device, dtype="bfloat16")
    reference = CausalVideoTokenizer.from_pretrained(tmp_path, device=device, dtype="float32", chunk_latents=None)
    indices, _ = native.encode(clip)
    scripted_indices, scripted_codes = scripted.encode(clip)
    assert scripted_codes.dtype == torch.bfloat16
    exact_indices, _ = reference.encode(clip.float())
    assert _mismatch(scripted_indices, indices) <= max(0.02, 2 * _mismatch(indices, exact_indices))
    exact_pixels = reference.decode(indices)
    assert _distance(scripted.decode(indices), native.decode(indices)) <= max(0.02, 2 * _distance(native.decode(indices), exact_pixels))
