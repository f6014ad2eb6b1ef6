"""bfloat16 against float32 on real video: time, token agreement and reconstruction PSNR.

The same clips go through one model per dtype, timed interleaved in one process (so the
ratio holds on a shared machine), through the model's own ``encode``/``decode`` (padding
and exact streaming included). Agreement is the share of discrete indices equal to
float32's (continuous models: the latent's mean relative difference). The CPU's vector
capability and native-bf16 support are reported beside the numbers: bf16 is only fast
where the CPU has it.
"""

import statistics
import time

import numpy as np
import torch

from nemo_cosmos.data.media import collect_inputs, frames_to_tensor, iter_frames, tensor_to_frames
from nemo_cosmos.evaluation.tokenizers import load_tokenizer
from nemo_cosmos.metrics import psnr
from nemo_cosmos.models.precision import cpu_capability_summary


def real_clips(paths: str | list[str], num_frames: int, height: int, width: int, max_clips: int) -> list[np.ndarray]:
    """uint8 ``[T, H, W, 3]`` clips: the first ``num_frames`` frames of each video, centre-cropped
    to ``height x width`` (videos shorter or smaller than that are passed over)."""
    clips = []
    for item in (item for item in collect_inputs(paths) if item.kind == "video"):
        frames = [frame for _, frame in iter_frames(item.path, stop=num_frames)]
        if len(frames) < num_frames or min(frames[0].shape[0] - height, frames[0].shape[1] - width) < 0:
            continue
        top, left = (frames[0].shape[0] - height) // 2, (frames[0].shape[1] - width) // 2
        clips.append(np.stack(frames)[:, top : top + height, left : left + width])
        if len(clips) == max_clips:
            break
    if not clips:
        raise ValueError(f"no video in {paths} has {num_frames} frames of at least {width}x{height}")
    return clips


def compare_dtypes(name: str, clips: list[np.ndarray], dtypes: list[str], weights: str = "pretrained",
                   repeats: int = 3, device: str = "cpu") -> list[dict]:
    """One row per dtype: median seconds per clip to encode and to decode, time against the
    first dtype, token agreement with it and reconstruction PSNR."""
    models = {dtype: load_tokenizer(name, weights=weights, device=device, dtype=dtype) for dtype in dtypes}
    pixels = [frames_to_tensor(clip)[None] for clip in clips]
    times = {dtype: {"encode": [], "decode": []} for dtype in dtypes}
    tokens, reconstructions = {}, {}
    for repeat in range(1 + repeats):  # the first round warms up
        for dtype, model in models.items():
            for i, x in enumerate(pixels):
                start = time.perf_counter()
                encoded = model.encode(x)
                middle = time.perf_counter()
                decoded = model.decode(encoded[0])
                end = time.perf_counter()
                if repeat:
                    times[dtype]["encode"].append(middle - start)
                    times[dtype]["decode"].append(end - middle)
                tokens[dtype, i], reconstructions[dtype, i] = encoded[0].cpu(), tensor_to_frames(decoded[0].float().cpu())
    first = dtypes[0]
    rows = []
    for dtype in dtypes:
        row = {"model": models[dtype].network_config.short_name, "dtype": dtype,
               "resolved": str(models[dtype].dtype).removeprefix("torch."), "clips": len(clips),
               "input": "x".join(map(str, clips[0].shape[:3])), "device": device,
               "cpu": cpu_capability_summary(), "threads": torch.get_num_threads()}
        for stage in ("encode", "decode"):
            row[f"{stage}_s_per_clip"] = statistics.median(times[dtype][stage])
            row[f"{stage}_vs_{first}"] = row[f"{stage}_s_per_clip"] / statistics.median(times[first][stage])
        row[f"tokens_equal_to_{first}_%"] = 100 * _agreement([tokens[dtype, i] for i in range(len(clips))],
                                                              [tokens[first, i] for i in range(len(clips))])
        row["psnr_db"] = statistics.mean(psnr(clip, reconstructions[dtype, i]) for i, clip in enumerate(clips))
        rows.append(row)
    return rows


def _agreement(ours: list[torch.Tensor], reference: list[torch.Tensor]) -> float:
    """Share of equal indices, or 1 - the mean relative difference of continuous latents."""
    if not ours[0].is_floating_point():
        return float(sum((a == b).sum() for a, b in zip(ours, reference)) / sum(b.numel() for b in reference))
    difference = sum((a.float() - b.float()).abs().sum() for a, b in zip(ours, reference))
    return 1.0 - float(difference / sum(b.float().abs().sum() for b in reference))

