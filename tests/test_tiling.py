"""Spatial tiling: tile layout, and exact assembly (blending, stitching) of local functions."""

import pytest
import torch
import torch.nn.functional as F

from nemo_cosmos.models.tiling import run_tiled, tile_spans


@pytest.mark.parametrize(
    "length,tile,overlap", [(5, 8, 2), (8, 8, 2), (9, 8, 2), (24, 8, 2), (25, 8, 3), (16, 10, 5), (100, 7, 0)]
)
def test_tiles_cover_everything_with_the_overlap_asked_for(length, tile, overlap):
    spans = tile_spans(length, tile, overlap)
    assert spans[0][0] == 0 and spans[-1][1] == length
    assert all(end - start == min(tile, length) for start, end in spans)
    for (_, end), (start, _) in zip(spans, spans[1:]):
        assert end - start >= overlap


def _pool(x):  # a local "encoder": 4x4 pixels -> 1 cell
    return F.avg_pool2d(x, 4)


def _tokens_and_features(x):  # a local discrete "encoder" with two outputs, like (indices, codes)
    features = F.avg_pool2d(x, 4)
    return (features * 100).round().to(torch.int32)[:, 0], features


def _upsample(z):  # a local "decoder" for video latents [B, C, t, h, w]: 1 cell -> 4x4 pixels
    mixed = z * 0.5 + z.mean(dim=1, keepdim=True)
    return mixed.repeat_interleave(4, -1).repeat_interleave(4, -2)


def test_blending_and_stitching_reproduce_a_local_function():
    x = torch.rand(2, 3, 4 * 23, 4 * 17)
    blended = run_tiled(_pool, x, tile=8, overlap=3, in_scale=4, out_scale=1, stitch=False)
    torch.testing.assert_close(blended, _pool(x), rtol=1e-6, atol=1e-6)
    indices, features = run_tiled(_tokens_and_features, x, tile=6, overlap=2, in_scale=4, out_scale=1, stitch=True)
    expected_indices, expected_features = _tokens_and_features(x)
    assert indices.dtype == torch.int32 and torch.equal(indices, expected_indices)
    assert torch.equal(features, expected_features)
    z = torch.randn(1, 6, 3, 21, 13)
    upsampled = run_tiled(_upsample, z, tile=5, overlap=2, in_scale=1, out_scale=4, stitch=False)
    assert upsampled.shape == (1, 6, 3, 84, 52)
    torch.testing.assert_close(upsampled, _upsample(z), rtol=1e-5, atol=1e-5)


def test_a_frame_inside_one_tile_is_not_tiled():
    x = torch.rand(1, 3, 32, 32)
    calls = []
    run_tiled(lambda t: calls.append(t.shape) or _pool(t), x, tile=8, overlap=2, in_scale=4, out_scale=1, stitch=False)
    assert calls == [x.shape]
