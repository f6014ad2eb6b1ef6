"""Copy the real photographs that scikit-image and scikit-learn ship into a train and a
held-out folder: training data for the small shipped tokenizer, with no download.

    python recipes/sample_photos.py outputs/photos   # -> outputs/photos/{train,heldout}

Needs ``pip install -e ".[samples]"``.
"""

import argparse
import shutil
from pathlib import Path

# Colour photographs, by package; the held-out ones are never trained on. (The packages'
# greyscale photos are left out: with 10 of 18 training photos grey, a small model
# learned a strong colour cast.)
TRAIN = {
    "skimage": ["astronaut.png", "rocket.jpg", "motorcycle_left.png", "motorcycle_right.png", "retina.jpg",
                "hubble_deep_field.jpg", "ihc.png", "color.png"],
    "sklearn": ["china.jpg"],
}
HELDOUT = {"skimage": ["chelsea.png", "coffee.png"], "sklearn": ["flower.jpg"]}


def package_photo_dir(package: str) -> Path:
    if package == "skimage":
        import skimage

        return Path(skimage.__file__).parent / "data"
    import sklearn

    return Path(sklearn.__file__).parent / "datasets" / "images"


def copy_photos(out: Path) -> dict[str, list[Path]]:
    """Copy both sets; returns the written paths per set."""
    written: dict[str, list[Path]] = {}
    for split, table in (("train", TRAIN), ("heldout", HELDOUT)):
        target = out / split
        target.mkdir(parents=True, exist_ok=True)
        written[split] = []
        for package, names in table.items():
            for name in names:
                source = package_photo_dir(package) / name
                if not source.is_file():
                    raise FileNotFoundError(f"{source}: not shipped by the installed {package}")
                shutil.copyfile(source, target / f"{package}_{name}")
                written[split].append(target / f"{package}_{name}")
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="folder to create train/ and heldout/ in")
    written = copy_photos(parser.parse_args().out)
    for split, paths in written.items():
        print(f"{split}: {len(paths)} photos in {paths[0].parent}")


if __name__ == "__main__":
    main()
