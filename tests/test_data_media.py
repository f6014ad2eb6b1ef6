"""Video and image files in and out: PyAV and Pillow round trips, metadata, errors on bad files."""

from fractions import Fraction

import numpy as np
import pytest
import torch
from PIL import Image

from nemo_cosmos.data.media import (
    UnreadableMediaError,
    frames_to_tensor,
    from_model_range,
    iter_frames,
    probe_video,
    read_image,
    read_video,
    tensor_to_frames,
    to_model_range,
    write_image,
    write_video,
)

from data_samples import write_moving_shapes_video


def test_video_round_trip_and_probe(tmp_path):
    path = tmp_path / "clip.mp4"
    written = write_moving_shapes_video(path, num_frames=17, height=48, width=64, fps=24.0)
    frames, fps = read_video(path)
    assert frames.dtype == np.uint8 and frames.shape == (17, 48, 64, 3)
    assert fps == pytest.approx(24.0)
    assert np.abs(frames.astype(int) - written.astype(int)).mean() < 2.0
    info = probe_video(path)
    assert (info.num_frames, info.width, info.height) == (17, 64, 48)
    assert info.fps == pytest.approx(24.0) and info.path == str(path)


def test_ntsc_rate_and_odd_size_are_kept(tmp_path):
    path = tmp_path / "odd.mp4"
    frames = np.random.default_rng(1).integers(0, 256, size=(5, 33, 47, 3), dtype=np.uint8)
    write_video(path, frames, fps=30000 / 1001)
    info = probe_video(path)
    assert (info.num_frames, info.height, info.width) == (5, 33, 47)
    assert info.fps == pytest.approx(29.97002997)


def test_iter_frames_streams_the_requested_range(tmp_path):
    path = tmp_path / "clip.mp4"
    write_moving_shapes_video(path, num_frames=20)
    frames, _ = read_video(path)
    picked = list(iter_frames(path, start=3, stop=15, step=4))
    assert [i for i, _ in picked] == [3, 7, 11]
    for index, frame in picked:
        np.testing.assert_array_equal(frame, frames[index])
    assert [i for i, _ in iter_frames(path, start=18, stop=100)] == [18, 19]
    with pytest.raises(ValueError, match="invalid frame range"):
        list(iter_frames(path, start=5, stop=2))


def test_corrupt_empty_and_missing_videos_raise_clear_errors(tmp_path):
    good = tmp_path / "good.mp4"
    write_moving_shapes_video(good, num_frames=9)
    garbage = tmp_path / "garbage.mp4"
    garbage.write_bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    truncated = tmp_path / "truncated.mp4"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 3])
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    for bad in (garbage, truncated, empty):
        for reader in (read_video, probe_video):
            with pytest.raises(UnreadableMediaError) as caught:
                reader(bad)
            message = str(caught.value)
            assert isinstance(caught.value, ValueError)
            assert message.startswith(f"{bad}: ") and "\n" not in message and "Errno" not in message
            assert caught.value.reason.kind == ("empty" if bad is empty else "not_media")
    with pytest.raises(UnreadableMediaError, match="empty"):
        read_video(empty)
    with pytest.raises(FileNotFoundError, match="missing.mp4"):
        read_video(tmp_path / "missing.mp4")


def test_write_video_rejects_bad_frames(tmp_path):
    with pytest.raises(ValueError, match=r"uint8 \[T, H, W, 3\]"):
        write_video(tmp_path / "x.mp4", np.zeros((4, 8, 8, 3), np.float32), fps=10)
    with pytest.raises(ValueError, match="fps must be positive"):
        write_video(tmp_path / "x.mp4", np.zeros((4, 8, 8, 3), np.uint8), fps=0)


def test_images_of_every_mode_become_rgb(tmp_path):
    rng = np.random.default_rng(2)
    rgb = rng.integers(0, 256, size=(12, 10, 3), dtype=np.uint8)
    write_image(tmp_path / "rgb.png", rgb)
    np.testing.assert_array_equal(read_image(tmp_path / "rgb.png"), rgb)

    grey = rng.integers(0, 256, size=(12, 10), dtype=np.uint8)
    write_image(tmp_path / "grey.png", grey)
    np.testing.assert_array_equal(read_image(tmp_path / "grey.png"), np.repeat(grey[..., None], 3, axis=-1))

    rgba = np.concatenate([rgb, rng.integers(0, 256, size=(12, 10, 1), dtype=np.uint8)], axis=-1)
    Image.fromarray(rgba, mode="RGBA").save(tmp_path / "rgba.png")
    np.testing.assert_array_equal(read_image(tmp_path / "rgba.png"), rgb)

    palette_colours = np.array([[255, 0, 0], [0, 255, 0], [0, 0, 255], [9, 99, 199]], dtype=np.uint8)
    index = rng.integers(0, 4, size=(12, 10), dtype=np.uint8)
    palette = Image.fromarray(index, mode="P")
    palette.putpalette(palette_colours.flatten().tolist())
    palette.save(tmp_path / "palette.png")
    palette.save(tmp_path / "palette_transparent.png", transparency=0)
    np.testing.assert_array_equal(read_image(tmp_path / "palette.png"), palette_colours[index])
    np.testing.assert_array_equal(read_image(tmp_path / "palette_transparent.png"), palette_colours[index])

    wide = (grey.astype(np.uint16) * 257)
    Image.fromarray(wide).save(tmp_path / "grey16.png")
    np.testing.assert_array_equal(read_image(tmp_path / "grey16.png"), np.repeat(grey[..., None], 3, axis=-1))


def test_bad_images_raise_clear_errors(tmp_path):
    corrupt = tmp_path / "corrupt.png"
    corrupt.write_bytes(b"\x89PNG\r\n\x1a\n" + b"not really a png" * 10)
    empty = tmp_path / "empty.jpg"
    empty.write_bytes(b"")
    for bad in (corrupt, empty):
        with pytest.raises(UnreadableMediaError) as caught:
            read_image(bad)
        assert str(caught.value).startswith(f"{bad}: ") and "\n" not in str(caught.value)
        assert caught.value.reason.kind == ("empty" if bad is empty else "unreadable_image")
    assert caught.value.reason == "empty file (0 bytes)"
    with pytest.raises(UnreadableMediaError, match="unreadable image: Pillow cannot decode it"):
        read_image(corrupt)
    with pytest.raises(FileNotFoundError):
        read_image(tmp_path / "missing.png")
    with pytest.raises(ValueError, match="uint8"):
        write_image(tmp_path / "x.png", np.zeros((4, 4, 3), np.float64))


def test_pixel_range_follows_the_reference():
    every_value = np.arange(256, dtype=np.uint8)
    model = to_model_range(every_value)
    assert model.dtype == np.float32 and model.min() == -1.0 and model.max() == 1.0
    np.testing.assert_array_equal(from_model_range(model), every_value)
    torch_model = to_model_range(torch.from_numpy(every_value))
    assert torch_model.dtype == torch.float32
    np.testing.assert_array_equal(from_model_range(torch_model).numpy(), every_value)
    # clamping, and ties round half up like the reference's (v + 0.5).astype(uint8)
    np.testing.assert_array_equal(from_model_range(np.array([-3.0, 0.0, 5.0])), [0, 128, 255])
    assert from_model_range(torch.tensor([1 / 255 - 1.0], dtype=torch.float64)).item() == 1
    with pytest.raises(ValueError, match="uint8"):
        to_model_range(np.zeros(3, np.float32))


_SAME_WIDTH_INTEGERS = {torch.bfloat16: torch.int16, torch.float16: torch.int16, torch.float32: torch.int32, torch.float64: torch.int64}


def _is_nearest(value: torch.Tensor, exact: Fraction) -> bool:
    """No representable neighbour of the one-element ``value`` (one bit pattern up or down) is closer to ``exact``."""
    bits = value.view(_SAME_WIDTH_INTEGERS[value.dtype])
    distance = abs(Fraction(value.item()) - exact)
    return all(abs(Fraction((bits + step).view(value.dtype).item()) - exact) >= distance for step in (-1, 1))


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16, torch.float32, torch.float64])
def test_every_uint8_value_is_rounded_once_to_the_dtype(dtype):
    """Each of the 256 values is the nearest ``dtype`` value to the exact ``x / 127.5 - 1``, which is also
    what the reference gives (its float64 ``2 * (x / 255) - 1`` cast to the dtype; in float64 itself that
    mapping rounds three times). Mapping in bfloat16 (``x.to(bf16) / 127.5 - 1``) put 128 values one step off."""
    every_value = torch.arange(256, dtype=torch.uint8)
    mapped = to_model_range(every_value, dtype)
    assert mapped.dtype == dtype
    off = [x for x in range(256) if not _is_nearest(mapped[x : x + 1], Fraction(2 * x - 255, 255))]
    assert off == []
    if dtype != torch.float64:
        reference = torch.from_numpy(2.0 * (np.arange(256) / 255.0) - 1.0).to(dtype)
        assert torch.equal(mapped, reference)
    assert torch.equal(frames_to_tensor(np.full((1, 1, 1, 3), 77, np.uint8), dtype).flatten(), mapped[[77] * 3])
    with pytest.raises(ValueError, match="float dtype"):
        to_model_range(every_value, torch.int32)


def test_frames_and_tensors_change_layout():
    frames = np.random.default_rng(3).integers(0, 256, size=(5, 6, 7, 3), dtype=np.uint8)
    tensor = frames_to_tensor(frames)
    assert tensor.shape == (3, 5, 6, 7) and tensor.dtype == torch.float32
    np.testing.assert_array_equal(tensor_to_frames(tensor), frames)
    image_tensor = frames_to_tensor(frames[0])
    assert image_tensor.shape == (3, 6, 7)
    np.testing.assert_array_equal(tensor_to_frames(image_tensor), frames[0])
    with pytest.raises(ValueError, match=r"\[3, T, H, W\]"):
        tensor_to_frames(torch.zeros(4, 5, 6))
