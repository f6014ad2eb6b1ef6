"""Spatial geometry: resize the shorter side, then centre-crop (or pad) to the configured size.

With a target ``height x width``, ``crop`` scales the frame so it covers the target and
cuts the centre; ``pad`` scales it to fit inside and centres it on black. Without a
target the frame keeps its scale and is cropped (or padded) to a multiple of
``multiple`` (the tokenizer's spatial compression), so native-resolution inputs work too.
"""

from dataclasses import dataclass, field

import numpy as np
from PIL import Image

from nemo_cosmos.data.media.errors import SkipReason

FIT_MODES = ("crop", "pad")


@dataclass(frozen=True)
class Placement:
    """Where a source frame lands: resized to ``resized``, shifted by ``offset``, in an ``output`` canvas.

    ``offset`` is (top, left) of the crop inside the resized frame for ``crop``, and of the
    resized frame inside the canvas for ``pad``. ``content_box`` is (top, left, height,
    width) of the source pixels inside the output.
    """

    resized: tuple[int, int]
    offset: tuple[int, int]
    output: tuple[int, int]
    mode: str

    @property
    def content_box(self) -> tuple[int, int, int, int]:
        if self.mode == "crop":
            return (0, 0, *self.output)
        return (*self.offset, *self.resized)


@dataclass
class FrameOptions:
    """The output size of frames and images, as a user sets it (the ``frames`` of a tokenization job).

    The shorter side is resized, then the frame centre-cropped (``fit: crop``) or padded
    (``fit: pad``) to ``height`` x ``width`` (both or neither; multiples of the model's
    spatial compression). Neither: native resolution, cropped (or padded) to a multiple of
    the compression. Sources whose shorter side is below ``min_side`` (None: the spatial
    compression, one latent cell) are skipped rather than blown up.
    """

    height: int | None = None
    width: int | None = None
    fit: str = "crop"
    min_side: int | None = None


@dataclass
class FrameGeometry(FrameOptions):
    """:class:`FrameOptions` for a model whose spatial compression is ``multiple``, checked against it."""

    multiple: int = field(default=1, kw_only=True)

    def __post_init__(self) -> None:
        if self.fit not in FIT_MODES:
            raise ValueError(f"fit must be one of {FIT_MODES}, got {self.fit!r}")
        if (self.height is None) != (self.width is None):
            raise ValueError(f"give both height and width or neither, got height={self.height} width={self.width}")
        if self.multiple < 1 or self.smallest_side < 1:
            raise ValueError(f"multiple and min_side must be at least 1, got multiple={self.multiple} min_side={self.min_side}")
        for name in ("height", "width"):
            value = getattr(self, name)
            if value is not None and (value < 1 or value % self.multiple):
                raise ValueError(f"{name} must be a positive multiple of {self.multiple} (the spatial compression), got {value}")

    @property
    def smallest_side(self) -> int:
        """The shortest source side accepted: ``min_side``, or else one latent cell."""
        return self.multiple if self.min_side is None else self.min_side

    def skip_reason(self, height: int, width: int) -> SkipReason | None:
        """Why a ``height x width`` source cannot be used, or None if it can."""
        needed = max(self.smallest_side, self.multiple if self.height is None and self.fit == "crop" else 1)
        if min(height, width) < needed:
            return SkipReason("too_small", f"too small: {width}x{height} pixels, the shorter side must be at least {needed}")
        return None

    def place(self, height: int, width: int) -> Placement:
        """The placement of a ``height x width`` source."""
        if self.height is None:
            round_to = (lambda n: n // self.multiple * self.multiple) if self.fit == "crop" else (lambda n: -(-n // self.multiple) * self.multiple)
            out_h, out_w = round_to(height), round_to(width)
            resized = (height, width)
        else:
            out_h, out_w = self.height, self.width
            pick = max if self.fit == "crop" else min
            scale = pick(out_h / height, out_w / width)
            resized = (round(height * scale), round(width * scale))
            # rounding must never leave a crop source smaller, or a pad source larger, than the canvas
            resized = (max(out_h, resized[0]), max(out_w, resized[1])) if self.fit == "crop" else (min(out_h, resized[0]), min(out_w, resized[1]))
        if self.fit == "crop":
            offset = ((resized[0] - out_h) // 2, (resized[1] - out_w) // 2)
        else:
            offset = ((out_h - resized[0]) // 2, (out_w - resized[1]) // 2)
        return Placement(resized=resized, offset=offset, output=(out_h, out_w), mode=self.fit)

    def apply(self, frame: np.ndarray) -> np.ndarray:
        """Resize and crop (or pad) one uint8 ``[H, W, 3]`` frame."""
        placement = self.place(frame.shape[0], frame.shape[1])
        if placement.resized != frame.shape[:2]:
            size = (placement.resized[1], placement.resized[0])
            frame = np.asarray(Image.fromarray(frame).resize(size, resample=Image.Resampling.BICUBIC))
        top, left = placement.offset
        out_h, out_w = placement.output
        if self.fit == "crop":
            return np.ascontiguousarray(frame[top : top + out_h, left : left + out_w])
        canvas = np.zeros((out_h, out_w, frame.shape[2]), dtype=frame.dtype)
        canvas[top : top + frame.shape[0], left : left + frame.shape[1]] = frame
        return canvas
