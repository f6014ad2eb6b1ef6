"""bfloat16: the per-frame norm rounds once, and ``dtype: auto`` picks bf16 only where it is native."""

import pytest
import torch

from nemo_cosmos import CausalVideoTokenizer
from nemo_cosmos.formula_weights import fill_with_formula
from nemo_cosmos.models import precision
from nemo_cosmos.models.causal_video_tokenizer import resolve_dtype
from nemo_cosmos.modules.norms import FrameNorm

from data_samples import smooth_video


def test_frame_norm_rounds_bfloat16_once():
    """bf16 output = the exact per-frame GroupNorm rounded once to bf16, as nn.GroupNorm does
    (rounding the mean and the scale in bf16 first changed about half of the outputs)."""
    norm = fill_with_formula(FrameNorm(64)).to(torch.bfloat16)
    x = (torch.randn(2, 64, 3, 12, 10, dtype=torch.float64) * 3 + 2).to(torch.bfloat16)
    folded = x.double().transpose(1, 2).flatten(0, 1)
    exact = torch.nn.functional.group_norm(folded, 1, norm.norm.weight.double(), norm.norm.bias.double(), 1e-6)
    exact = exact.unflatten(0, (2, 3)).transpose(1, 2).to(torch.bfloat16)
    group_norm = torch.nn.functional.group_norm(folded.bfloat16(), 1, norm.norm.weight, norm.norm.bias, 1e-6)
    with torch.no_grad():
        out = norm(x)
    assert out.dtype == torch.bfloat16
    assert (out != exact).float().mean() < 0.01  # ties of the float32 result only
    agree_with_group_norm = (out == group_norm.unflatten(0, (2, 3)).transpose(1, 2)).float().mean()
    assert agree_with_group_norm > 0.99


@pytest.mark.parametrize(
    "capability,mkldnn_bf16,avx512_bf16,expected",
    [
        ("AVX512", True, True, torch.bfloat16),  # e.g. AVX512-BF16 EPYC / Xeon
        ("AVX512", True, False, torch.float32),  # AVX-512 without bf16 instructions: emulated
        ("AVX2", False, False, torch.float32),  # this project's AVX2 machines
        ("SVE256", True, False, torch.bfloat16),  # Arm with the BF16 extension
        ("DEFAULT", False, False, torch.float32),
    ],
)
def test_auto_dtype_follows_the_cpu(monkeypatch, capability, mkldnn_bf16, avx512_bf16, expected):
    monkeypatch.setattr(torch.backends.cpu, "get_cpu_capability", lambda: capability)
    monkeypatch.setattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", lambda: mkldnn_bf16)
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: avx512_bf16)
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: False)
    cpu = torch.device("cpu")
    assert resolve_dtype("auto", cpu) == expected
    assert resolve_dtype(None, cpu) == expected
    assert resolve_dtype("float32", cpu) == torch.float32 and resolve_dtype("bfloat16", cpu) == torch.bfloat16
    assert resolve_dtype("auto", torch.device("cuda")) == torch.bfloat16  # only the device type is read


def test_auto_dtype_on_this_machine_matches_its_cpu():
    """On the project's AVX2 machines auto is float32; on AVX512-BF16 or AMX ones bfloat16."""
    native = torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported()
    assert precision.cpu_has_native_bf16() == (native and torch.ops.mkldnn._is_mkldnn_bf16_supported())
    expected = torch.bfloat16 if precision.cpu_has_native_bf16() else torch.float32
    assert resolve_dtype("auto", torch.device("cpu")) == expected
    assert torch.backends.cpu.get_cpu_capability() in precision.cpu_capability_summary()


def test_auto_bfloat16_model_encodes_on_cpu(monkeypatch):
    """With native bf16 reported, the model loads in bf16 and its tokens mostly equal float32's."""
    monkeypatch.setattr(precision, "cpu_has_native_bf16", lambda: True)
    model = CausalVideoTokenizer.from_pretrained("nemo-cosmos-tiny-DV4x8x8", device="cpu", dtype="auto")
    assert model.dtype == torch.bfloat16
    reference = CausalVideoTokenizer.from_pretrained("nemo-cosmos-tiny-DV4x8x8", device="cpu", dtype="float32")
    clip = smooth_video(9, 64, 64)
    indices, codes = model.encode(clip)
    expected, _ = reference.encode(clip)
    assert codes.dtype == torch.bfloat16 and indices.shape == expected.shape == (1, 3, 8, 8)
    assert (indices == expected).float().mean() > 0.8
    assert model.decode(indices).dtype == torch.bfloat16
