"""The ``nemo-cosmos`` command streams video: frames are read, converted, pushed and written
a chunk at a time (never the whole video), the results equal the model's one-call
methods, and which files are video follows ``data.media.media_kind`` (``.mpg`` is video).
"""

from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors import safe_open

import nemo_cosmos.data.media as media
from nemo_cosmos.cli import FrameCountMismatch, file_kind, main, video_pixels
from nemo_cosmos.data.media import frames_to_tensor, probe_video, read_video, write_video
from nemo_cosmos.formula_weights import fill_with_formula
from nemo_cosmos.metrics import RunningPSNR, psnr
from nemo_cosmos.models import CausalVideoTokenizer

from conftest import small_config
from data_samples import moving_shapes

FRAMES, HEIGHT, WIDTH = 14, 20, 27  # 14 -> 17 frames (1 before, 2 after): 5 latent frames of 4 frames' chunks


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli-streaming")
    model = CausalVideoTokenizer(CausalVideoTokenizer.make_config(small_config("DV"), device="cpu", dtype="float32"))
    fill_with_formula(model.network)
    model.save_pretrained(root / "dv-model")
    video = root / "clip.mpg"  # MPEG-1 in an MPEG-PS container: video by media_kind, not an image
    write_video(video, moving_shapes(FRAMES, HEIGHT, WIDTH, seed=3), 25.0, codec="mpeg1video", pix_fmt="yuv420p")
    return {"model": root / "dv-model", "video": video}


@pytest.fixture
def largest_conversions(monkeypatch):
    """The most frames converted at once, to the model's input and back from its output."""
    largest = {"in": 0, "out": 0}
    to_tensor, to_frames = media.frames_to_tensor, media.tensor_to_frames

    def counting_to_tensor(frames, *args, **kwargs):
        largest["in"] = max(largest["in"], frames.shape[0])
        return to_tensor(frames, *args, **kwargs)

    def counting_to_frames(values):
        largest["out"] = max(largest["out"], values.shape[1])
        return to_frames(values)

    monkeypatch.setattr(media, "frames_to_tensor", counting_to_tensor)
    monkeypatch.setattr(media, "tensor_to_frames", counting_to_frames)
    return largest


def test_media_kind_is_the_recipes_rule(tmp_path, capsys):
    assert [file_kind(Path(name)) for name in ("a.MPG", "b.mpeg", "c.gif", "d.png", "e.tif")] == [
        "video", "video", "video", "image", "image",
    ]
    odd = tmp_path / "notes.xyz"
    odd.write_bytes(b"x")
    assert main(["encode", str(odd), "--model", "unused"]) == 1
    assert "notes.xyz: unknown media extension '.xyz'; videos: .avi .flv .gif" in capsys.readouterr().err


def test_encode_decode_and_reconstruct_stream_a_chunk_at_a_time(files, tmp_path, capsys, largest_conversions):
    chunk = ["--chunk-latents", "1"]  # 1 + 4 frames, then 4
    tokens = tmp_path / "clip.safetensors"
    assert main(["encode", str(files["video"]), "--model", str(files["model"]), "-o", str(tokens), *chunk]) == 0
    assert largest_conversions["in"] == 4  # read and converted 4 frames at a time
    model = CausalVideoTokenizer.from_pretrained(files["model"], device="cpu", chunk_latents=1)
    frames, _ = read_video(files["video"])
    assert frames.shape == (FRAMES, HEIGHT, WIDTH, 3)
    expected, _ = model.encode(frames_to_tensor(frames)[None])
    with safe_open(str(tokens), framework="pt") as handle:
        assert torch.equal(handle.get_tensor("indices"), expected)
        assert handle.metadata()["media"] == "video" and handle.metadata()["num_frames"] == str(FRAMES)

    decoded = tmp_path / "decoded.mp4"
    assert main(["decode", str(tokens), "-o", str(decoded), "--crf", "0", *chunk]) == 0
    assert largest_conversions["out"] == 4  # each latent frame's 4 frames written as they came
    assert probe_video(decoded).num_frames == FRAMES

    largest_conversions.update({"in": 0, "out": 0})
    reconstructed = tmp_path / "reconstructed.mp4"
    assert main(["reconstruct", str(files["video"]), "--model", str(files["model"]), "-o", str(reconstructed), *chunk]) == 0
    assert largest_conversions["in"] == 4 and largest_conversions["out"] <= 5
    reconstruction = model.autoencode(frames_to_tensor(frames)[None])
    expected_frames = media.tensor_to_frames(reconstruction[0])
    printed = float(capsys.readouterr().out.split("PSNR ")[1].split(" dB")[0])
    assert printed == pytest.approx(psnr(frames, expected_frames), abs=0.006)
    assert probe_video(reconstructed).num_frames == FRAMES


def test_independent_windows_stream_too(files, tmp_path, capsys):
    target = tmp_path / "windows.mp4"
    argv = ["reconstruct", str(files["video"]), "--model", str(files["model"]), "-o", str(target), "--temporal-window", "5"]
    assert main(argv) == 0
    model = CausalVideoTokenizer.from_pretrained(files["model"], device="cpu")
    frames, _ = read_video(files["video"])
    expected = media.tensor_to_frames(model.autoencode(frames_to_tensor(frames)[None], temporal_window=5)[0])
    printed = float(capsys.readouterr().out.split("PSNR ")[1].split(" dB")[0])
    assert printed == pytest.approx(psnr(frames, expected), abs=0.006)


def test_a_frame_count_other_than_declared_is_reported(files):
    model = CausalVideoTokenizer.from_pretrained(files["model"], device="cpu")
    with pytest.raises(FrameCountMismatch, match=f"declares {FRAMES + 3} frames but decoding gives {FRAMES}") as short:
        list(video_pixels(files["video"], model, FRAMES + 3))
    assert short.value.actual == FRAMES
    with pytest.raises(FrameCountMismatch, match=f"declares {FRAMES - 5} frames but decoding gives more") as long:
        list(video_pixels(files["video"], model, FRAMES - 5))
    assert long.value.actual is None


def test_running_psnr_equals_psnr_of_the_whole():
    rng = np.random.default_rng(0)
    a, b = (rng.integers(0, 256, size=(7, 5, 6, 3), dtype=np.uint8) for _ in range(2))
    running = RunningPSNR()
    for start, stop in ((0, 1), (1, 5), (5, 7)):
        running.add(a[start:stop], b[start:stop])
    assert running.value == pytest.approx(psnr(a, b), rel=1e-12)
