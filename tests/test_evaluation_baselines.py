"""The classical baselines (JPEG at a bit budget, bicubic at the latent grid), the colour
shift metric, and the evaluation engine's baseline rows, real bits per pixel and skipped files."""

import io
import math

import numpy as np
import pytest
from PIL import Image

from nemo_cosmos import CausalVideoTokenizer
from nemo_cosmos.evaluation.baselines import bicubic_at_grid, jpeg_at_bits, jpeg_roundtrip
from nemo_cosmos.evaluation.quality import evaluate_tokenizer
from nemo_cosmos.formula_weights import fill_with_formula
from nemo_cosmos.metrics import color_shift

from conftest import small_config


def textured_frames(count: int, height: int, width: int) -> np.ndarray:
    """uint8 ``[T, H, W, 3]``: gradients with fine stripes, so JPEG sizes vary with quality."""
    y, x = np.mgrid[:height, :width]
    frames = [np.stack([(x * 3 + t * 5) % 256, (y * 2 + 40 * np.sin(x / 3)) % 256, (x + y + t) % 256], -1)
              for t in range(count)]
    return np.clip(frames, 0, 255).astype(np.uint8)


def test_jpeg_at_bits_takes_the_quality_of_nearest_size():
    frames = textured_frames(2, 48, 64)
    sizes = {q: 8 * jpeg_roundtrip(frames, q)[1] for q in range(1, 96)}
    target = (sizes[30] + sizes[31]) / 2 + 1
    decoded, quality, bpp = jpeg_at_bits(frames, target)
    assert abs(sizes[quality] - target) == min(abs(size - target) for size in sizes.values())
    assert bpp == pytest.approx(sizes[quality] / (2 * 48 * 64))
    assert decoded.shape == frames.shape and decoded.dtype == np.uint8
    _, lowest, _ = jpeg_at_bits(frames, 1.0)  # below any size: the smallest file
    assert lowest == 1


def test_jpeg_bytes_are_real_files():
    frames = textured_frames(1, 32, 40)
    decoded, size = jpeg_roundtrip(frames, 75)
    buffer = io.BytesIO()
    Image.fromarray(frames[0]).save(buffer, format="JPEG", quality=75)
    assert size == buffer.tell()
    assert np.array_equal(decoded[0], np.asarray(Image.open(buffer)))


def test_bicubic_at_grid_counts_its_thumbnail_bits():
    flat = np.full((3, 20, 12, 3), 77, np.uint8)
    restored, bpp = bicubic_at_grid(flat, 8)
    assert np.array_equal(restored, flat)  # a flat frame survives any resampling
    assert bpp == pytest.approx(24 * 3 * 2 / (20 * 12))  # 2x3 thumbnail per 20x12 frame
    frames = textured_frames(1, 64, 64)
    restored, bpp = bicubic_at_grid(frames, 8)
    assert bpp == pytest.approx(24 / 64) and restored.shape == frames.shape


def test_color_shift_is_the_largest_channel_mean_shift():
    frames = textured_frames(2, 16, 16)
    tinted = frames.copy()
    tinted[..., 1] = np.clip(tinted[..., 1].astype(int) - 6, 0, 255)
    assert color_shift(frames, frames) == 0.0
    expected = frames[..., 1].astype(float).mean() - tinted[..., 1].astype(float).mean()
    assert color_shift(frames, tinted) == pytest.approx(expected)
    noisy = np.clip(frames.astype(int) + np.where(np.indices(frames.shape).sum(0) % 2, 3, -3), 0, 255).astype(np.uint8)
    assert color_shift(frames, noisy) < 0.5  # zero-mean noise is not a cast


@pytest.fixture
def small_discrete_video_tokenizer():
    model = CausalVideoTokenizer(CausalVideoTokenizer.make_config(small_config("DV"), device="cpu"))
    fill_with_formula(model.network)
    return model


def test_engine_reports_baselines_real_bits_and_skips_unreadable(tmp_path, small_discrete_video_tokenizer):
    Image.fromarray(textured_frames(1, 40, 48)[0]).save(tmp_path / "a.png")
    (tmp_path / "broken.png").write_bytes(b"not a png at all")
    files = [tmp_path / "a.png", tmp_path / "broken.png"]
    rows, summaries, skipped = evaluate_tokenizer(small_discrete_video_tokenizer, "dv", files)

    assert skipped == [{"path": str(tmp_path / "broken.png"), "reason": skipped[0]["reason"]}]
    assert "cannot decode" in skipped[0]["reason"]
    assert [s["tokenizer"] for s in summaries] == ["dv", "JPEG @ dv bits", "bicubic @ dv grid"]
    assert [s["kind"] for s in summaries] == ["tokenizer", "baseline", "baseline"]
    tokenizer, jpeg, bicubic = summaries
    # One frame of 40x48: one latent frame of 5x6 positions, not the nominal 4*8*8 pixels per token.
    assert tokenizer["pixels_per_token"] == pytest.approx(40 * 48 / 30)
    assert tokenizer["bpp"] == pytest.approx(30 * math.log2(64000) / (40 * 48))
    assert 1 <= tokenizer["codes_used"] <= 30
    assert bicubic["bpp"] == pytest.approx(24 * 30 / (40 * 48))
    assert jpeg["bpp"] > 0 and 1 <= rows[1]["jpeg_quality"] <= 95
    for summary in summaries:
        assert summary["files"] == 1 and math.isfinite(summary["psnr"]) and summary["color_shift"] >= 0
    assert bicubic["psnr"] > 15  # a smooth picture survives a 1/8 thumbnail reasonably


def test_engine_without_baselines_and_with_nothing_readable(tmp_path, small_discrete_video_tokenizer):
    Image.fromarray(textured_frames(1, 32, 32)[0]).save(tmp_path / "a.png")
    rows, summaries, _ = evaluate_tokenizer(small_discrete_video_tokenizer, "dv", [tmp_path / "a.png"], baselines=False)
    assert [s["tokenizer"] for s in summaries] == ["dv"] and len(rows) == 1
    (tmp_path / "empty.png").write_bytes(b"")
    with pytest.raises(ValueError, match=r"none of the 1 files could be read: .*empty\.png"):
        evaluate_tokenizer(small_discrete_video_tokenizer, "dv", [tmp_path / "empty.png"])
