"""Save originals next to their reconstructions, one row per image, as a PNG: the
original, the tokenizer's reconstruction and JPEG at the same number of bits.

    python recipes/side_by_side.py --model nemo-cosmos-tiny-DV4x8x8 --out side_by_side.png photo1.png clip.mp4

A video contributes its middle frame, reconstructed as part of its whole clip.
"""

import argparse
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from nemo_cosmos import CausalVideoTokenizer
from nemo_cosmos.evaluation.baselines import jpeg_at_bits
from nemo_cosmos.evaluation.quality import read_frames, reconstruct, token_bits
from nemo_cosmos.metrics import psnr


def compare(model: CausalVideoTokenizer, frames: np.ndarray) -> tuple[np.ndarray, np.ndarray, str]:
    """uint8 ``[T, H, W, 3]`` -> the tokenizer's and JPEG's reconstructions at equal bits, and a caption."""
    reconstruction, positions, _ = reconstruct(model, frames)
    bits = positions * token_bits(model.network_config)
    jpeg, quality, jpeg_bpp = jpeg_at_bits(frames, bits)
    caption = (f"tokenizer {bits / frames[..., 0].size:.3f} bpp, PSNR {psnr(frames, reconstruction):.2f} dB; "
               f"JPEG q{quality} {jpeg_bpp:.3f} bpp, PSNR {psnr(frames, jpeg):.2f} dB")
    return reconstruction, jpeg, caption


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("media", nargs="+", type=Path, help="images or videos")
    parser.add_argument("--model", default="nemo-cosmos-tiny-DV4x8x8")
    parser.add_argument("--out", type=Path, default=Path("side_by_side.png"))
    parser.add_argument("--height", type=int, default=256, help="row height in the PNG")
    parser.add_argument("--max-frames", type=int, default=17, help="frames of a video to reconstruct")
    args = parser.parse_args()
    model = CausalVideoTokenizer.from_pretrained(args.model, device="cpu", dtype=torch.float32)
    rows = []
    for path in args.media:
        frames = read_frames(path, args.max_frames)
        reconstruction, jpeg, caption = compare(model, frames)
        print(f"{path}: {caption}")
        shown = len(frames) // 2
        triple = np.concatenate([frames[shown], reconstruction[shown], jpeg[shown]], axis=1)
        width = round(triple.shape[1] * args.height / triple.shape[0])
        rows.append(np.asarray(Image.fromarray(triple).resize((width, args.height), Image.BICUBIC)))
    canvas = np.zeros((sum(r.shape[0] for r in rows), max(r.shape[1] for r in rows), 3), np.uint8)
    top = 0
    for row in rows:
        canvas[top : top + row.shape[0], : row.shape[1]] = row
        top += row.shape[0]
    Image.fromarray(canvas).save(args.out)
    print(f"wrote {args.out} (columns: original, {args.model}, JPEG at the same bits)")


if __name__ == "__main__":
    main()
