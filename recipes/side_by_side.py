"""Save originals next to their reconstructions, one row per image, as a PNG.

    python recipes/side_by_side.py --model nemo-cosmos-tiny-DV4x8x8 --out side_by_side.png photo1.png photo2.jpg
"""

import argparse
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from nemo_cosmos import CausalVideoTokenizer
from nemo_cosmos.data.media import frames_to_tensor, read_image, tensor_to_frames
from nemo_cosmos.metrics import psnr


def reconstruct_image(model: CausalVideoTokenizer, image: np.ndarray) -> np.ndarray:
    """uint8 ``[H, W, 3]`` through the model (a video model sees a one-frame clip)."""
    x = frames_to_tensor(image[None] if model.network_config.is_video else image)
    return tensor_to_frames(model.autoencode(x[None])[0])[0 if model.network_config.is_video else slice(None)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("images", nargs="+", type=Path)
    parser.add_argument("--model", default="nemo-cosmos-tiny-DV4x8x8")
    parser.add_argument("--out", type=Path, default=Path("side_by_side.png"))
    parser.add_argument("--height", type=int, default=256, help="row height in the PNG")
    args = parser.parse_args()
    model = CausalVideoTokenizer.from_pretrained(args.model, device="cpu", dtype=torch.float32)
    rows = []
    for path in args.images:
        original = read_image(path)
        reconstruction = reconstruct_image(model, original)
        print(f"{path}: PSNR {psnr(original[None], reconstruction[None]):.2f} dB")
        pair = np.concatenate([original, reconstruction], axis=1)
        width = round(pair.shape[1] * args.height / pair.shape[0])
        rows.append(np.asarray(Image.fromarray(pair).resize((width, args.height), Image.BICUBIC)))
    canvas = np.zeros((sum(r.shape[0] for r in rows), max(r.shape[1] for r in rows), 3), np.uint8)
    top = 0
    for row in rows:
        canvas[top : top + row.shape[0], : row.shape[1]] = row
        top += row.shape[0]
    Image.fromarray(canvas).save(args.out)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
