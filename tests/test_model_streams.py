"""The model's streams: pieces of any size equal encode/decode/autoencode, clips stay in host
memory (bytes moved to the device follow the chunk), padding, TorchScript buffering,
tiles, the host key/value cache, and the cache budget.

Small networks with formula weights (``conftest.small_config``: 8x8 spatial, 4x temporal
compression), real TorchScript files traced from them.
"""

import json

import pytest
import torch

from nemo_cosmos import CausalVideoTokenizer
from nemo_cosmos.formula_weights import fill_with_formula
from nemo_cosmos.models.kv_budget import kv_cache_bytes_per_latent
from nemo_cosmos.models.transfer import DeviceTransfer
from nemo_cosmos.modules import TemporalAttention

from checkpoints import export_torchscript
from conftest import small_config
from data_samples import smooth_video

pytestmark = pytest.mark.usefixtures("one_thread")


def _model(family: str, **options) -> CausalVideoTokenizer:
    config = CausalVideoTokenizer.make_config(small_config(family, **options.pop("network", {})), device="cpu", **options)
    model = CausalVideoTokenizer(config)
    fill_with_formula(model.network)
    return model


@pytest.fixture(scope="module")
def models():
    return {family: _model(family, chunk_latents=1) for family in ("CV", "DV")}


def _push_in_pieces(stream, x: torch.Tensor, sizes: list[int]) -> list:
    outputs, start = [], 0
    for size in sizes:
        outputs.append(stream.push(x[:, :, start : start + size]))
        start += size
    assert start == x.shape[2]
    return outputs


def _joined(outputs: list, time_dims: tuple[int, ...]) -> tuple[torch.Tensor, ...]:
    present = [out for out in outputs if out is not None]
    return tuple(torch.cat([out[i] for out in present], dim=dim) for i, dim in enumerate(time_dims))


@pytest.mark.parametrize("family", ["CV", "DV"])
def test_encoder_stream_in_odd_pieces_equals_encode(models, family):
    model = models[family]
    x = smooth_video(14, 20, 27, seed=3)  # 14 frames -> 17 (1 before, 2 after); 20x27 -> 24x32
    expected = model.encode(x)
    with model.encoder_stream(num_frames=14) as stream:
        outputs = _push_in_pieces(stream, x, [1, 2, 5, 1, 4, 1])
    assert outputs[0] is None  # 1 padded + 1 frame: less than the first chunk of 1 + 4
    time_dims = (2,) if family == "CV" else (1, 2)
    streamed = _joined(outputs, time_dims)
    for got, want in zip(streamed, expected, strict=True):
        assert torch.equal(got, want)  # the same chunks reach the network as in encode


def test_without_num_frames_close_pads_the_end(models):
    model = models["DV"]
    x = smooth_video(9, 16, 16, seed=4)
    with model.encoder_stream() as stream:  # 9 = 1 + 2*4: no padding; close owes the last chunk
        outputs = [stream.push(x[:, :, :6]), stream.push(x[:, :, 6:]), stream.close()]
    assert torch.equal(_joined(outputs, (1, 2))[0], model.encode(x)[0])
    short = x[:, :, :7]  # encode would repeat frame 0 once and frame 6 once; close repeats frame 6 twice
    stream = model.encoder_stream()
    outputs = [stream.push(short), stream.close()]
    padded_at_end = torch.cat([short, short[:, :, -1:].expand(-1, -1, 2, -1, -1)], dim=2)
    assert torch.equal(_joined(outputs, (1, 2))[0], model.encode(padded_at_end)[0])


def test_decoder_and_autoencoder_streams_equal_one_call(models):
    model = models["CV"]
    x = smooth_video(14, 20, 27, seed=5)
    (latent,) = model.encode(x)
    expected = model.decode(latent, crop_to=x.shape[2:])
    with model.decoder_stream(crop_to=x.shape[2:]) as stream:
        frames = [stream.push(latent[:, :, t : t + 1]) for t in range(latent.shape[2])]
    assert frames[0] is None  # the first latent decodes to the one padded frame, cropped away
    torch.testing.assert_close(torch.cat([f for f in frames if f is not None], dim=2), expected, atol=1e-4, rtol=1e-4)
    reconstruction = model.autoencode(x)
    assert reconstruction.shape == x.shape
    with model.autoencoder_stream(num_frames=14) as stream:
        pieces = _push_in_pieces(stream, x, [3, 3, 3, 5])
    torch.testing.assert_close(torch.cat([p for p in pieces if p is not None], dim=2), reconstruction, atol=1e-5, rtol=1e-5)


def test_device_receives_chunks_never_the_clip(models, monkeypatch):
    """The device stand-in is the transfer itself: every byte that goes to the model's device
    passes through ``DeviceTransfer.to_device``, and every output comes back through
    ``to_home``. The largest transfer must be one chunk whatever the clip's length."""
    model = models["DV"]  # chunk_latents=1: 1 + 4 frames first, then 4
    moved, returned = [], []
    to_device, to_home = DeviceTransfer.to_device, DeviceTransfer.to_home
    monkeypatch.setattr(DeviceTransfer, "to_device", lambda self, x: moved.append(x.nbytes) or to_device(self, x))
    monkeypatch.setattr(DeviceTransfer, "to_home", lambda self, y, home: returned.append(y.nbytes) or to_home(self, y, home))
    largest = {}
    for frames in (9, 33):
        moved.clear(), returned.clear()
        x = smooth_video(frames, 16, 24, seed=6)
        indices, _ = model.encode(x)
        frame_bytes = 3 * 16 * 24 * 4
        largest[frames] = max(moved)
        assert sum(moved) == x.nbytes and largest[frames] == 5 * frame_bytes
        assert len(returned) == 2 * (1 + (frames - 5) // 4)  # indices and codes of each chunk
        moved.clear()
        model.decode(indices)
        assert max(moved) == 2 * 3 * 4 and sum(moved) == indices.nbytes  # one latent frame of int32 indices at a time
    assert largest[9] == largest[33]


def test_torchscript_streams_buffer_the_clip_and_agree(models, tmp_path):
    native = models["DV"]
    export_torchscript(native.network, tmp_path, smooth_video(5, 16, 16), ("encoder", "decoder"))
    (tmp_path / "config.json").write_text(json.dumps(native.network_config.to_dict()))
    scripted = CausalVideoTokenizer.from_pretrained(tmp_path, use_pytorch=False, device="cpu")
    x = smooth_video(10, 16, 16, seed=7)
    with scripted.encoder_stream(num_frames=10) as stream:
        outputs = _push_in_pieces(stream, x, [4, 4, 2])
    assert outputs[:2] == [None, None]  # buffered: the modules keep no causal state
    assert torch.equal(outputs[2][0], native.encode(x)[0])
    with scripted.decoder_stream() as stream:
        assert stream.push(outputs[2][0]) is None
        frames = stream.close()
    torch.testing.assert_close(frames, native.decode(outputs[2][0]), atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(scripted.autoencode(x), native.autoencode(x), atol=1e-4, rtol=1e-4)


def test_tiled_stream_keeps_one_state_per_tile():
    """3x3 tiles of 16 pixels over 32x32 frames, streamed a latent frame at a time: each tile
    carries its own causal state, so the result equals one pass over each tile."""
    model = _model("CV", chunk_latents=1, tile_size=16, tile_overlap=8)
    x = smooth_video(9, 32, 32, seed=8)
    (latent,) = model.encode(x)
    reconstruction = model.autoencode(x)
    model.configure_inference(chunk_latents=None, tile_size=16, tile_overlap=8)
    torch.testing.assert_close(latent, model.encode(x)[0], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(reconstruction, model.autoencode(x), atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("family", ["CV", "DV"])
def test_host_kv_cache_equals_the_device_cache(family):
    on_device = _model(family, chunk_latents=1)
    on_host = _model(family, chunk_latents=1, stream_cache="host")
    x = smooth_video(17, 16, 16, seed=9)
    for got, want in zip(on_host.encode(x), on_device.encode(x), strict=True):
        if got.is_floating_point():
            torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-5)
        else:
            assert torch.equal(got, want)
    torch.testing.assert_close(on_host.autoencode(x), on_device.autoencode(x), atol=1e-4, rtol=1e-4)
    with pytest.raises(ValueError, match="stream_cache must be one of"):
        on_host.configure_inference(stream_cache="disk")


def _cache_bytes(half: torch.nn.Module) -> int:
    return sum(layer.state["k"].nbytes + layer.state["v"].nbytes for layer in half.modules() if isinstance(layer, TemporalAttention))


def test_cache_growth_per_latent_frame_follows_the_formula():
    """Measured on the live state of both halves, with attention in a level as well as the
    mid block (``attn_resolutions=[128]`` reaches level 1 of this 3-level network)."""
    network = _model("CV", network={"attn_resolutions": [128]}).network
    x = smooth_video(17, 16, 24, seed=10)
    with torch.no_grad():
        latent = network.encode(x)
        held = {"encoder": [], "decoder": []}
        with network.encoder_stream() as encoder, network.decoder_stream() as decoder:
            for start in (0, 5, 9, 13):  # 1 + 4 frames, then 4: one latent frame each
                z = encoder.push(x[:, :, start : start + (5 if start == 0 else 4)])
                decoder.push(z)
                held["encoder"].append(_cache_bytes(network.encoder))
                held["decoder"].append(_cache_bytes(network.decoder))
    assert latent.shape[2] == 5
    for half, sizes in held.items():
        growth = {b - a for a, b in zip(sizes[1:], sizes[2:])}
        assert growth == {kv_cache_bytes_per_latent(network.config, (half,), 16, 24, 1, torch.float32)}, half


def test_a_clip_whose_cache_cannot_fit_is_refused_before_it_starts(models):
    """Ten million latent frames of 64x64: hundreds of GB of keys and values, refused at the
    first push (the frame size is known then) against this machine's real free memory."""
    with pytest.raises(ValueError, match=r"attention key/value cache reaches [0-9.]+ GB, cpu has [0-9.]+ GB free"):
        with models["CV"].encoder_stream(num_frames=40_000_001) as stream:
            stream.push(smooth_video(1, 64, 64))
    assert stream.closed and stream.frames_received == 0


def test_stream_misuse_is_explained(models):
    model = models["DV"]
    x = smooth_video(9, 16, 16, seed=11)
    with model.encoder_stream(num_frames=9) as stream:
        stream.push(x[:, :, :4])
        with pytest.raises(ValueError, match="batch and frame size of the first"):
            stream.push(smooth_video(1, 24, 16))
        with pytest.raises(ValueError, match="opened for num_frames=9, got 10"):
            stream.push(x[:, :, :6])
        with pytest.raises(RuntimeError, match="already has an open stream"):
            model.encode(x)
        with pytest.raises(ValueError, match="opened for num_frames=9, but got 4"):
            stream.close()
    with model.decoder_stream() as decoder:
        with pytest.raises(RuntimeError, match="already has an open stream"):
            model.autoencoder_stream()  # its encoder half, started first, is released again
        assert model.encode(x)[0].shape == (1, 3, 2, 2)
        decoder.push(torch.zeros(1, 1, 2, 2, dtype=torch.int32))
        decoder.close()
    with pytest.raises(RuntimeError, match="call close\\(\\) inside the with block"):
        with model.encoder_stream() as stream:
            stream.push(x[:, :, :3])
    with pytest.raises(ValueError, match=r"crop_to asks for 9 frames, which encode turns into 3 latent frames, but got 4"):
        with model.decoder_stream(crop_to=(9, 16, 16)) as stream:
            stream.push(torch.zeros(1, 4, 2, 2, dtype=torch.int32))
    with pytest.raises(ValueError, match="streams are for video tokenizers"):
        _model("DI").encoder_stream()
    assert torch.equal(model.encode(x)[0], model.encode(x)[0])  # every failed stream released its state


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_on_cuda_device_memory_follows_the_chunk_and_the_host_cache_is_exact():
    """Clips on the host, model on CUDA: outputs come back to the host, the device's peak
    grows with the attention cache only (not the clip), and the host cache agrees."""
    config = CausalVideoTokenizer.make_config(small_config("CV"), device="cuda", dtype="float32", chunk_latents=1)
    model = CausalVideoTokenizer(config)
    fill_with_formula(model.network)
    peaks = {}
    for frames in (9, 33):
        x = smooth_video(frames, 128, 128, seed=12)
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        baseline = torch.cuda.memory_allocated()
        (latent,) = model.encode(x)
        peaks[frames] = torch.cuda.max_memory_allocated() - baseline
        assert latent.device.type == "cpu"
    clip_growth = 24 * 3 * 128 * 128 * 4  # the 24 more frames, were they on the device
    assert peaks[33] - peaks[9] < clip_growth / 2
    model.configure_inference(chunk_latents=1, stream_cache="host")
    torch.testing.assert_close(model.encode(x)[0], latent, atol=1e-5, rtol=1e-5)
