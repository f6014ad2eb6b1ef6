"""The one-command GPU check (``recipes/benchmark.py --config-name benchmark_gpu``).

On one CUDA device, in bfloat16 with formula weights (no download): encode/decode time of
the official networks (eager, and compiled or CUDA-graphed where asked), device memory of
a long clip streamed through the model at two lengths (it must not grow with the clip),
the tokenization job's clips/s on generated videos, whether the job's tokens equal the
model's, and with two GPUs a torchrun job that must write the same bytes. Every step adds
rows to one table. The job is passed in (``run_job``): evaluation sits below tokenization.
"""

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from omegaconf import DictConfig, OmegaConf

from nemo_cosmos.data.indexed.reader import IndexedDocuments
from nemo_cosmos.data.media import frames_to_tensor, read_video, write_video
from nemo_cosmos.evaluation.speed import Case, run_case, run_case_in_subprocess
from nemo_cosmos.evaluation.tokenizers import load_tokenizer

GIB = 2**30


def require_cuda() -> torch.device:
    """The CUDA device, or a ``RuntimeError`` saying why this suite cannot run here."""
    if not torch.cuda.is_available():
        raise RuntimeError(
            f"benchmark_gpu measures a CUDA GPU, and none is available (torch {torch.__version__}, "
            f"built with CUDA {torch.version.cuda}); run recipes/benchmark.py with the default config on CPU"
        )
    return torch.device("cuda")


def device_name(device: torch.device) -> str:
    return torch.cuda.get_device_name(device) if device.type == "cuda" else f"CPU stand-in ({torch.get_num_threads()} threads)"


def network_rows(cases: list, device: torch.device, dtype: str, repeats: int, in_subprocess: bool = True) -> list[dict]:
    """Encode/decode milliseconds of each ``{tokenizer, input, modes}`` case; a mode is ``eager``
    or a ``torch.compile`` mode (``default``, ``reduce-overhead`` = CUDA graphs, ...)."""
    rows = []
    for case in cases:
        frames, height, width = case["input"]
        for mode in case["modes"]:
            compiled = mode != "eager"
            spec = Case(case["tokenizer"], frames, height, width, dtype, compiled, str(device), warmup=2 if compiled else 1,
                        repeats=repeats, compile_mode=None if mode in ("eager", "default") else mode)
            try:
                run = run_case_in_subprocess(spec) if in_subprocess else run_case(spec)
            except Exception as error:  # one failing mode (e.g. a compile error) must not hide the others
                rows.append({"step": "network", "what": f"{case['tokenizer']} {frames}x{height}x{width}", "mode": mode,
                             "result": f"FAILED: {str(error)[-300:]}"})
                continue
            timing = run["timing"]["ours"]
            encode, decode = (1000 * timing[stage]["median_s"] for stage in ("encode", "decode"))
            rows.append({"step": "network", "what": f"{run['model']} {frames}x{height}x{width}", "mode": mode,
                         "encode_ms": encode, "decode_ms": decode, "total_ms": encode + decode,
                         "peak_gb": max(run["peak_gb"].values())})
    return rows


def streaming_memory_rows(tokenizer: str, lengths: list[int], height: int, width: int, device: torch.device,
                          dtype: str) -> list[dict]:
    """Peak device memory of the model encoding and decoding a host clip of each length
    (exact streaming, the model's default chunk); the last row says how it grew."""
    model = load_tokenizer(tokenizer, weights="formula", device=device, dtype=dtype)
    rows = []
    for frames in lengths:
        clip = torch.empty(1, 3, frames, height, width, dtype=model.dtype).uniform_(-1, 1)  # on the host
        encoded, encode = _measured(device, model.encode, clip)
        _, decode = _measured(device, model.decode, encoded[0])
        peaks = {"encode": encode, "decode": decode}
        rows.append({"step": "stream memory", "what": f"{model.network_config.short_name} {frames}x{height}x{width}",
                     "mode": "eager", "encode_ms": 1000 * peaks["encode"][1], "decode_ms": 1000 * peaks["decode"][1],
                     "encode_peak_gb": peaks["encode"][0], "decode_peak_gb": peaks["decode"][0]})
        del clip, encoded
    first, last = rows[0], rows[-1]
    growth = max(last[f"{s}_peak_gb"] / max(first[f"{s}_peak_gb"], 1e-9) for s in ("encode", "decode"))
    rows.append({"step": "stream memory", "what": f"{lengths[-1]} vs {lengths[0]} frames",
                 "result": f"peak x{growth:.2f} for x{lengths[-1] / lengths[0]:.1f} frames"})
    return rows


def write_sample_videos(folder: Path, count: int, frames: int, height: int, width: int) -> Path:
    """``count`` mp4 files of drifting colour gradients with a moving bright square (distinct per file)."""
    folder.mkdir(parents=True, exist_ok=True)
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    for i in range(count):
        base = np.stack([xs / width * 200, ys / height * 200, np.full_like(xs, 40 + 20 * i)], axis=-1)
        video = np.empty((frames, height, width, 3), np.uint8)
        side = height // 6
        for t in range(frames):
            frame = (base + 3 * t) % 255
            top, left = (7 * t + 13 * i) % (height - side), (11 * t + 29 * i) % (width - side)
            frame[top : top + side, left : left + side] = (250, 220 - 10 * i % 200, 90)
            video[t] = frame
        write_video(folder / f"sample_{i:02d}.mp4", video, 24.0, pix_fmt="yuv444p", crf=0)
    return folder


def job_config(job_yaml: Path, model_dir: Path, videos: Path, output: Path, overrides: dict) -> DictConfig:
    """The AR job's YAML with this suite's paths and settings."""
    cfg = OmegaConf.load(job_yaml)
    cfg.model.name_or_path, cfg.input.paths, cfg.output.dir = str(model_dir), str(videos), str(output)
    return OmegaConf.merge(cfg, OmegaConf.create(overrides))


def job_rows(run_job: Callable, cfg: DictConfig, device: torch.device, job_recipe: Path | None) -> list[dict]:
    """The job's clips/s; its tokens against the model's own encode of the same clips; and,
    with two or more GPUs, a 2-rank torchrun job that must write the same bytes."""
    shutil.rmtree(cfg.output.dir, ignore_errors=True)  # a finished output would be reused, not timed
    start = time.perf_counter()
    summary = run_job(cfg)
    wall = time.perf_counter() - start
    rows = [{"step": "job", "what": f"{summary.documents} clips of {cfg.clips.num_frames} frames",
             "mode": "eager", "result": f"{summary.clips_per_second:.2f} clips/s ({wall:.1f} s with model load)"}]
    prefix = Path(cfg.output.dir) / cfg.output.name
    rows.append({"step": "job", "what": "job tokens == model.encode", "mode": "eager",
                 "result": _job_tokens_equal_model(prefix, cfg, device)})
    if device.type == "cuda" and torch.cuda.device_count() >= 2 and job_recipe is not None:
        rows.append(_torchrun_row(job_recipe, cfg, prefix))
    else:
        rows.append({"step": "job", "what": "torchrun, 2 GPUs", "result": "not run: fewer than 2 GPUs"})
    return rows


def run_suite(cfg: DictConfig, device: torch.device, run_job: Callable, job_yaml: Path, job_recipe: Path | None) -> list[dict]:
    """Every step of ``conf/benchmark_gpu.yaml`` on ``device``; the rows of one table."""
    work, memory, job = Path(cfg.output_dir), cfg.stream_memory, cfg.job
    rows = network_rows(cfg.networks, device, cfg.dtype, cfg.repeats, in_subprocess=cfg.subprocesses)
    rows += _step("stream memory", streaming_memory_rows, memory.tokenizer, list(memory.lengths), memory.height,
                  memory.width, device, cfg.dtype)

    def tokenization_job() -> list[dict]:
        model_dir = load_tokenizer(job.tokenizer, weights="formula", device="cpu").save_pretrained(work / "job_model")
        videos = write_sample_videos(work / "job_videos", job.videos, job.frames, job.height, job.width)
        overrides = {"model": {"dtype": cfg.dtype}, **OmegaConf.to_container(job.settings)}
        return job_rows(run_job, job_config(job_yaml, model_dir, videos, work / "job_tokens", overrides), device, job_recipe)

    return rows + _step("job", tokenization_job)


def failed_steps(rows: list[dict]) -> list[str]:
    """``step: what`` of every row whose result reports a failure or a mismatch."""
    bad = ("FAILED", "DIFFERENT")
    return [f"{row['step']}: {row.get('what', '')}" for row in rows if any(word in str(row.get("result", "")) for word in bad)]


def _step(name: str, function: Callable, *args) -> list[dict]:
    """The rows of one step, or one row saying how it failed (the table still comes out)."""
    try:
        return function(*args)
    except Exception as error:
        return [{"step": name, "what": "", "result": f"FAILED: {type(error).__name__}: {str(error)[-300:]}"}]


def _job_tokens_equal_model(prefix: Path, cfg: DictConfig, device: torch.device) -> str:
    model = load_tokenizer(cfg.model.name_or_path, device=device, dtype=cfg.model.dtype)
    documents = IndexedDocuments(prefix)
    equal = 0
    for doc in range(len(documents)):
        source = documents.source(doc)
        frames, _ = read_video(source["path"])  # the suite's videos are already at the job's size
        pixels = frames_to_tensor(frames[source["start_frame"] : source["end_frame"] + 1])[None]
        equal += torch.equal(model.encode(pixels)[0][0].cpu().long(), documents.token_grid(doc))
    return f"{equal}/{len(documents)} clips identical" + ("" if equal == len(documents) else " (DIFFERENT)")


def _torchrun_row(job_recipe: Path, cfg: DictConfig, reference: Path) -> dict:
    output = Path(cfg.output.dir + "_torchrun")
    shutil.rmtree(output, ignore_errors=True)
    overrides = [f"{key}={'null' if value is None else value}" for key, value in _dotted(OmegaConf.to_container(cfg))]
    overrides = [o for o in overrides if not o.startswith("output.dir=")] + [f"output.dir={output}"]
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", str(job_recipe)]
    start = time.perf_counter()
    done = subprocess.run(command + overrides, capture_output=True, text=True, env={**os.environ})
    wall = time.perf_counter() - start
    if done.returncode != 0:
        return {"step": "job", "what": "torchrun, 2 GPUs", "result": f"FAILED: {done.stderr[-300:]}"}
    same = all((output / f"{cfg.output.name}{ext}").read_bytes() == Path(f"{reference}{ext}").read_bytes() for ext in (".bin", ".idx"))
    return {"step": "job", "what": "torchrun, 2 GPUs", "result": f"{'same' if same else 'DIFFERENT'} bytes as 1 GPU, {wall:.1f} s"}


def _dotted(tree: dict, prefix: str = "") -> list[tuple[str, object]]:
    items = []
    for key, value in tree.items():
        if isinstance(value, dict):
            items += _dotted(value, f"{prefix}{key}.")
        elif not isinstance(value, list):
            items.append((f"{prefix}{key}", value))
    return items


def _measured(device: torch.device, function: Callable, argument: torch.Tensor) -> tuple[object, tuple[float, float]]:
    """``function(argument)`` and its (peak device GiB, seconds); the peak is 0 on a CPU stand-in."""
    cuda = device.type == "cuda"
    if cuda:
        torch.cuda.reset_peak_memory_stats(device)
    start = time.perf_counter()
    result = function(argument)
    if cuda:
        torch.cuda.synchronize(device)
    peak = torch.cuda.max_memory_allocated(device) / GIB if cuda else 0.0
    return result, (peak, time.perf_counter() - start)
