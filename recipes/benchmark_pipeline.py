"""Decode against encode against the whole tokenization job, in clips per second, on real-size video.

Generates H.264 mp4 files at 720p and 1080p (moving discs over a drifting gradient, written
with PyAV), then for each source size and each target size (frames resized to 256x256 and
to 720x1280) measures, interleaved over ``--rounds`` rounds (median reported):

- decode: decoding and resizing every planned clip in this process, nothing else;
- encode: the job's encoder on the same clips already decoded (``BatchEncoder.encode_chunks``);
- job: ``run_tokenize_job`` on the files (``documents / seconds`` of its parts, model load
  and merge excluded), with ``--decode-workers`` worker processes, and with 0 (decoding in
  turn with encoding, the time of both added).

The encoder runs one torch thread and each decode worker is one process, so with one
decode worker each stage has a core of its own on a 2-core machine; the goal is a job
within 1.15x of the slower stage. The load average is printed beside the table: on a
shared machine the absolute numbers move, the ratios within one round hold better.

    python recipes/benchmark_pipeline.py --out outputs/pipeline_bench
"""

import argparse
import os
import shutil
import statistics
import time
from pathlib import Path

import numpy as np
import torch
from omegaconf import OmegaConf

from nemo_cosmos.quiet import quiet_library_notices

quiet_library_notices()  # before NeMo and megatron-core are imported

from nemo_cosmos.data.media import ClipSampling, FrameGeometry, VideoWriter, plan_clips, probe_video  # noqa: E402
from nemo_cosmos.data.media.decode_pool import lane_chunks  # noqa: E402
from nemo_cosmos.tokenization.encoding import BatchEncoder  # noqa: E402
from nemo_cosmos.tokenization.job import run_tokenize_job  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
SOURCES = {"720p": (720, 1280), "1080p": (1080, 1920)}
TARGETS = {"256": (256, 256), "720p": (720, 1280)}


def write_source(path: Path, height: int, width: int, frames: int, seed: int) -> None:
    """An H.264 mp4 of moving soft discs over a drifting colour gradient (real-size, compressible like footage)."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    base, slope = rng.uniform(40, 200, 3).astype(np.float32), rng.uniform(-0.3, 0.3, (3, 2)).astype(np.float32)
    discs = [(rng.uniform(0, width), rng.uniform(0, height), rng.uniform(-9, 9), rng.uniform(-6, 6), rng.uniform(40, 120), rng.uniform(0, 255, 3)) for _ in range(4)]
    with VideoWriter(path, fps=24) as writer:
        for t in range(frames):
            image = base + slope[:, 0] * (x[..., None] - 4 * t) + slope[:, 1] * y[..., None]
            for cx, cy, vx, vy, radius, colour in discs:
                weight = np.clip(radius - np.hypot(x - (cx + vx * t) % width, y - (cy + vy * t) % height), 0, 1)[..., None]
                image = image * (1 - weight) + colour * weight
            writer.write(np.clip(image, 0, 255).astype(np.uint8))


def job_config(model: str, inputs: Path, output: Path, num_frames: int, target: tuple[int, int], batch_size: int, workers: int):
    cfg = OmegaConf.load(REPO / "conf" / "tokenize_ar.yaml")
    settings = [
        f"model.name_or_path={model}", f"input.paths={inputs}", f"output.dir={output}", "model.device=cpu", "model.dtype=float32",
        f"clips.num_frames={num_frames}", "clips.max_clips_per_video=null", f"frames.height={target[0]}", f"frames.width={target[1]}",
        f"run.batch_size={batch_size}", f"run.decode_workers={workers}", "run.progress=false", "output.keep_parts=false",
    ]  # fmt: skip
    return OmegaConf.merge(cfg, OmegaConf.from_dotlist(settings))


def decode_seconds(paths: list[Path], sampling: ClipSampling, geometry: FrameGeometry, sizes: list[int]) -> tuple[float, list[np.ndarray]]:
    """Time to decode and resize every planned clip of ``paths``; also the chunks, for the encoder."""
    chunks = []
    started = time.perf_counter()
    for path in paths:
        info = probe_video(path)
        clips, _ = plan_clips(info.num_frames, info.fps, sampling)
        shape = geometry.place(info.height, info.width).output
        chunks.extend(lane_chunks(path, clips, sizes, shape, geometry.apply))
    return time.perf_counter() - started, chunks


def encode_seconds(encoder: BatchEncoder, chunks: list[np.ndarray], sizes: list[int], batch_size: int) -> float:
    """Time to encode the decoded clips, ``batch_size`` at a time, chunk by chunk as the job does."""
    clips = [chunks[i : i + len(sizes)] for i in range(0, len(chunks), len(sizes))]
    started = time.perf_counter()
    with torch.inference_mode():
        for first in range(0, len(clips), batch_size):
            batch = clips[first : first + batch_size]
            encoder.encode_chunks(np.stack([clip[c] for clip in batch]) for c in range(len(sizes)))
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("outputs/pipeline_bench"))
    parser.add_argument("--model", default="nemo-cosmos-tiny-DV4x8x8")
    parser.add_argument("--num-frames", type=int, default=17, help="frames per clip (1 + k*ct)")
    parser.add_argument("--videos", type=int, default=2, help="videos per source size")
    parser.add_argument("--clips-per-video", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=1)
    parser.add_argument("--decode-workers", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--sources", default="720p,1080p")
    parser.add_argument("--targets", default="256,720p")
    args = parser.parse_args()
    torch.set_num_threads(1)

    from nemo_cosmos import CausalVideoTokenizer

    model = CausalVideoTokenizer.from_pretrained(args.model, load_decoder=False, device="cpu", dtype="float32")
    config = model.network_config
    sampling = ClipSampling(num_frames=args.num_frames, temporal_compression=config.temporal_compression, max_clips_per_video=None)
    rows = []
    for source in args.sources.split(","):
        folder = args.out / "sources" / source
        paths = [folder / f"video_{i}.mp4" for i in range(args.videos)]
        for seed, path in enumerate(paths):
            if not path.is_file():
                folder.mkdir(parents=True, exist_ok=True)
                write_source(path, *SOURCES[source], frames=args.num_frames * args.clips_per_video, seed=seed)
        for target in args.targets.split(","):
            geometry = FrameGeometry(*TARGETS[target], multiple=config.spatial_compression)
            encoder = BatchEncoder(model, geometry, args.batch_size, chunk_latents=2)
            sizes = encoder._chunk_sizes(args.num_frames)
            clips = len(paths) * args.clips_per_video
            times: dict[str, list[float]] = {"decode": [], "encode": [], "job": [], "job, 0 workers": []}
            for _ in range(args.rounds):  # interleaved, so a change in load hits every measure alike
                seconds, chunks = decode_seconds(paths, sampling, geometry, sizes)
                times["decode"].append(seconds)
                times["encode"].append(encode_seconds(encoder, chunks, sizes, args.batch_size))
                for name, workers in (("job", args.decode_workers), ("job, 0 workers", 0)):
                    output = args.out / "jobs" / f"{source}-{target}-{workers}"
                    shutil.rmtree(output, ignore_errors=True)  # a finished dataset would be left alone
                    summary = run_tokenize_job(job_config(args.model, folder, output, args.num_frames, TARGETS[target], args.batch_size, workers))
                    assert summary.documents_this_run == clips, summary
                    times[name].append(summary.seconds_this_run)
            rate = {name: clips / statistics.median(values) for name, values in times.items()}
            slower = min(rate["decode"], rate["encode"])
            rows.append(
                f"| {source} -> {target} | {rate['decode']:.3g} | {rate['encode']:.3g} | {rate['job']:.3g} | {rate['job, 0 workers']:.3g} "
                f"| {slower / rate['job']:.2f} |"
            )
            print(rows[-1], flush=True)
    load = os.getloadavg()
    table = "\n".join(
        [
            f"clips of {args.num_frames} frames, {args.model}, batch {args.batch_size}, 1 torch thread, {args.decode_workers} decode worker(s), "
            f"median of {args.rounds} interleaved rounds; load average {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} on {os.cpu_count()} cores",
            "",
            "| source -> frames | decode clips/s | encode clips/s | job clips/s | job, 0 workers | job time / slower stage |",
            "|---|---|---|---|---|---|",
            *rows,
        ]
    )
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "pipeline.md").write_text(table + "\n")
    print(table)


if __name__ == "__main__":
    main()
