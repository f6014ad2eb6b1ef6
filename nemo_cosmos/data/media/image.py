"""Reading and writing still images with Pillow, always as uint8 RGB ``[H, W, 3]``."""

from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from nemo_cosmos.data.media.errors import UnreadableMediaError, require_nonempty_file

# Pillow modes holding 16-bit (or wider) integer grey levels.
_WIDE_GREY_MODES = {"I", "I;16", "I;16B", "I;16L", "I;16N"}


def _to_rgb(image: Image.Image) -> np.ndarray:
    """RGB uint8 pixels of any Pillow image: grey, grey+alpha, palette, RGBA, CMYK, 16-bit grey.

    Alpha is dropped (the colour channels are kept as stored), and a palette with
    transparency goes through RGBA so Pillow resolves it the same way.
    """
    if image.mode in _WIDE_GREY_MODES:
        grey = np.asarray(image, dtype=np.int64)
        grey = np.clip(np.rint(grey / 257.0), 0, 255).astype(np.uint8)
        return np.repeat(grey[..., None], 3, axis=-1)
    if image.mode in ("P", "PA") and "transparency" in image.info:
        image = image.convert("RGBA")
    return np.asarray(image.convert("RGB"), dtype=np.uint8)


def read_image(path: str | Path) -> np.ndarray:
    """The pixels of an image file as uint8 RGB ``[H, W, 3]``, upright per its EXIF orientation."""
    path = require_nonempty_file(path)
    try:
        with Image.open(path) as image:
            image.load()
            image = ImageOps.exif_transpose(image)
            if image.mode == "F":
                raise UnreadableMediaError(path, "unreadable image: floating-point pixels (Pillow mode F) have no defined 8-bit range", kind="unreadable_image")
            return _to_rgb(image)
    except (OSError, SyntaxError, Image.DecompressionBombError) as error:
        raise UnreadableMediaError(path, f"unreadable image: Pillow cannot decode it ({type(error).__name__})", kind="unreadable_image") from error


def write_image(path: str | Path, pixels: np.ndarray) -> None:
    """Write uint8 pixels ``[H, W, 3]`` (RGB) or ``[H, W]`` (grey); the format follows the suffix."""
    pixels = np.asarray(pixels)
    if pixels.dtype != np.uint8 or not (pixels.ndim == 2 or (pixels.ndim == 3 and pixels.shape[-1] == 3)):
        raise ValueError(f"image pixels for {path} must be uint8 [H, W, 3] or [H, W], got {pixels.dtype} {list(pixels.shape)}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).save(path)
