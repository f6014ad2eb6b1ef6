"""Exact streaming: chunked and incremental evaluation equals one pass over the clip."""

import json
import os
import subprocess
import sys

import pytest
import torch

from nemo_cosmos import build_network
from nemo_cosmos.formula_weights import fill_with_formula

from conftest import small_config

CASES = [("CV", 4), ("CV", 8), ("DV", 4), ("DV", 8)]


def network_and_clip(family: str, temporal: int):
    network = fill_with_formula(build_network(small_config(family, 8, temporal))).eval()
    clip = torch.empty(1, 3, 1 + 4 * temporal, 16, 24).uniform_(-1, 1)
    return network, clip


def assert_same_encoding(streamed, reference) -> None:
    if isinstance(reference, tuple):
        assert torch.equal(streamed[0], reference[0])  # indices identical
        torch.testing.assert_close(streamed[1], reference[1], atol=1e-4, rtol=0)
    else:
        torch.testing.assert_close(streamed, reference, atol=1e-4, rtol=0)


@pytest.mark.parametrize("family,temporal", CASES)
def test_chunked_encode_and_decode_equal_one_pass(family, temporal):
    network, clip = network_and_clip(family, temporal)
    with torch.inference_mode():
        reference = network.encode(clip)
        for chunk_frames in (temporal, 2 * temporal, 3 * temporal, 4 * temporal):
            assert_same_encoding(network.encode(clip, chunk_frames=chunk_frames), reference)
        latent = reference[0] if family == "DV" else reference
        pixels = network.decode(latent)
        for chunk_latents in (1, 2, 4):
            torch.testing.assert_close(network.decode(latent, chunk_latents=chunk_latents), pixels, atol=1e-4, rtol=0)


@pytest.mark.parametrize("family,temporal", CASES)
def test_incremental_streams_fed_frame_groups_equal_one_pass(family, temporal):
    network, clip = network_and_clip(family, temporal)
    with torch.inference_mode():
        reference = network.encode(clip)
        stream = network.encoder_stream()
        parts = []
        for start, size in [(0, 1), (1, 1), (2, temporal), (2 + temporal, 3), (5 + temporal, clip.shape[2])]:
            out = stream.push(clip[:, :, start : start + size])
            if out is not None:
                parts.append(out)
        stream.close()
        encoded = network._concat_time(parts)
        assert_same_encoding(encoded, reference)

        latent = reference[0] if family == "DV" else reference
        time_axis = 1 if family == "DV" else 2
        pixels = network.decode(latent)
        decoder = network.decoder_stream()
        frames = [decoder.push(latent.narrow(time_axis, t, 1)) for t in range(latent.shape[time_axis])]
        decoder.close()
        assert frames[0].shape[2] == 1 and all(f.shape[2] == temporal for f in frames[1:])
        torch.testing.assert_close(torch.cat(frames, dim=2), pixels, atol=1e-4, rtol=0)


def test_chunk_rules_are_explained():
    network, clip = network_and_clip("CV", 4)
    with pytest.raises(ValueError, match="chunk_frames must be a positive multiple of the temporal compression 4"):
        network.encode(clip, chunk_frames=6)
    with pytest.raises(ValueError, match=r"a clip needs 1 \+ k\*4 frames"):
        network.encode(clip[:, :, :-1], chunk_frames=4)
    stream = network.encoder_stream()
    stream.push(clip[:, :, :7])
    with pytest.raises(ValueError, match=r"a clip needs 1 \+ k\*4 frames; this stream got 7 \(2 frames left over"):
        stream.close()
    with pytest.raises(ValueError, match="chunk_latents must be positive"):
        network.decode(torch.zeros(1, 16, 3, 2, 3), chunk_latents=0)


def test_one_stream_at_a_time_and_state_is_cleared():
    network, clip = network_and_clip("DV", 4)
    stream = network.encoder_stream()
    with pytest.raises(RuntimeError, match="already has an open stream"):
        network.encoder_stream()
    stream.push(clip)
    stream.close()
    with torch.inference_mode():
        assert_same_encoding(network.encode(clip), network.encode(clip, chunk_frames=4))


_MEMORY_PROBE = """
import json, sys, torch
from nemo_cosmos import TokenizerConfig, build_network
torch.set_num_threads(2)
frames, chunk = int(sys.argv[1]), sys.argv[2]
config = TokenizerConfig(**json.loads(sys.argv[3]))
network = build_network(config, decoder=False).eval()
clip = torch.empty(1, 3, frames, 192, 192).uniform_(-1, 1)
def high_water_kib():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM"):
            return int(line.split()[1])
with torch.inference_mode():
    network.encode(clip[:, :, :1])  # warm-up: thread pools and kernels are not the clip's cost
    before = high_water_kib()
    network.encode(clip, chunk_frames=None if chunk == "none" else int(chunk))
print(json.dumps({"rise_kib": high_water_kib() - before}))
"""


def peak_rise_kib(frames: int, chunk: str) -> int:
    config = small_config("CV", 8, 4).to_dict()
    # A fixed mmap threshold makes glibc return freed blocks at once, so the high-water
    # mark follows live tensors rather than the allocator's warm-up.
    env = {**os.environ, "MALLOC_MMAP_THRESHOLD_": "131072"}
    result = subprocess.run(
        [sys.executable, "-c", _MEMORY_PROBE, str(frames), chunk, json.dumps(config)],
        capture_output=True, text=True, check=True, env=env,
    )
    return json.loads(result.stdout.strip().splitlines()[-1])["rise_kib"]


@pytest.mark.slow
def test_streamed_encode_memory_does_not_grow_with_clip_length():
    """Peak memory above input and warm-up: one pass grows with the clip, the stream barely
    (only its attention cache grows, about 0.6 MB per chunk here). The short clip already
    spans three chunks, so the stream's one-off costs (new shapes) are in both."""
    short, long = 17, 65
    one_pass_growth = peak_rise_kib(long, "none") - peak_rise_kib(short, "none")
    streamed_growth = peak_rise_kib(long, "8") - peak_rise_kib(short, "8")
    assert one_pass_growth > 30_000  # KiB: tens of MB more for 4x the frames
    assert streamed_growth < 0.2 * one_pass_growth
