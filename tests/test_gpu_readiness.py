"""What a GPU would pay for on every call, checked on CPU: no host-made constants per call,
one index check per decode, and temporal attention batches within CUDA's kernel limit."""

import pytest
import torch

from nemo_cosmos import build_network
from nemo_cosmos.formula_weights import fill_with_formula
from nemo_cosmos.modules import FSQ, TemporalAttention, start_streaming, stop_streaming
from nemo_cosmos.modules import attention as attention_module
from nemo_cosmos.modules.wavelets import haar_patch_3d, haar_unpatch_3d

from conftest import small_config


def test_temporal_attention_splits_large_batches_without_changing_a_number(monkeypatch):
    layer = fill_with_formula(TemporalAttention(16)).eval()
    clip = torch.randn(2, 16, 6, 3, 4)  # batch of the attention: 2 * 3 * 4 = 24 sequences
    with torch.no_grad():
        whole = layer(clip)
        start_streaming(layer)
        streamed_whole = torch.cat([layer(clip[:, :, :2]), layer(clip[:, :, 2:])], dim=2)
        stop_streaming(layer)
    calls = []
    attend = attention_module.F.scaled_dot_product_attention
    monkeypatch.setattr(attention_module, "MAX_ATTENTION_BATCH", 5)
    monkeypatch.setattr(attention_module.F, "scaled_dot_product_attention", lambda *a, **k: calls.append(a[0].shape[0]) or attend(*a, **k))
    with torch.no_grad():
        split = layer(clip)
        start_streaming(layer)
        streamed_split = torch.cat([layer(clip[:, :, :2]), layer(clip[:, :, 2:])], dim=2)
        stop_streaming(layer)
    assert calls == [5, 5, 5, 5, 4] * 3  # one pass, then the two chunks of the stream
    assert torch.equal(split, whole) and torch.equal(streamed_split, streamed_whole)


def test_fsq_constants_are_made_once_per_device_and_allow_gradients_later():
    fsq = FSQ([8, 8, 8, 5, 5, 5])
    with torch.inference_mode():  # first use under inference mode must not poison training
        fsq(torch.randn(1, 6, 2, 3, 3))
        fsq.indices_to_codes(torch.arange(10).view(1, 2, 5))
    constants = fsq._constants[torch.device("cpu")]
    z = torch.randn(1, 6, 2, 3, 3, requires_grad=True)
    fsq.quantize(z).sum().backward()
    assert z.grad is not None and list(fsq._constants) == [torch.device("cpu")]
    assert all(fsq._constants[torch.device("cpu")][name] is value for name, value in constants.items())


def test_haar_matrices_are_placed_once_and_allow_gradients_later():
    with torch.inference_mode():
        haar_unpatch_3d(haar_patch_3d(torch.randn(1, 3, 4, 8, 8), 4), 4)
    x = torch.randn(1, 3, 4, 8, 8, requires_grad=True)
    haar_unpatch_3d(haar_patch_3d(x, 4), 4).sum().backward()
    torch.testing.assert_close(x.grad, torch.ones_like(x))  # the round trip is the identity
    from nemo_cosmos.modules.wavelets import _matrix

    assert _matrix(3, 4, x) is _matrix(3, 4, x.detach()) and _matrix(3, 4, x, inverse=True).abs().unique().tolist() == [1.0]


@pytest.mark.parametrize("chunk_latents", [None, 1])
def test_decode_checks_indices_once_per_call(monkeypatch, chunk_latents):
    network = fill_with_formula(build_network(small_config("DV", 8, 4))).eval()
    indices = torch.randint(0, network.config.codebook_size, (1, 4, 2, 3), dtype=torch.int32)
    with torch.inference_mode():
        expected = network.decode(indices)
    calls = []
    aminmax = torch.aminmax
    monkeypatch.setattr(torch, "aminmax", lambda *a, **k: calls.append(1) or aminmax(*a, **k))
    with torch.inference_mode():
        decoded = network.decode(indices, chunk_latents=chunk_latents)  # 3 chunks when streamed
    assert len(calls) == 1
    torch.testing.assert_close(decoded, expected, atol=1e-4, rtol=0)
