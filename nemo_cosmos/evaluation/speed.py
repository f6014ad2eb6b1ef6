"""Encode/decode speed and peak memory of a tokenizer, one fresh process per measurement.

A case (tokenizer, input size, dtype, compile, device) runs in its own subprocess
(``python -m nemo_cosmos.evaluation.speed '<case json>'``): on Linux a child's
``ru_maxrss`` starts at its parent's peak, so the CPU peak is the child's own ``VmHWM``,
reset (``/proc/self/clear_refs``) before each stage so that building the model does not
count; on CUDA it is ``max_memory_allocated`` per stage. Weights are the deterministic formula
weights (speed does not depend on their values). Implementations: ``ours``, and
``diffusers`` (its ``AutoencoderKLCosmos`` holding the same weights, CV models only);
several in one case run interleaved in one process, so their time ratio is fair.
"""

import ctypes
import gc
import json
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace

import torch
from torch import Tensor

from nemo_cosmos.evaluation.tokenizers import load_tokenizer

IMPLEMENTATIONS = ("ours", "streamed", "diffusers")  # streamed: ours, exact chunk-by-chunk
GIB = 2**30


@dataclass
class Case:
    tokenizer: str
    frames: int  # video frames; images per batch for image models
    height: int
    width: int
    dtype: str = "float32"
    compile: bool = False
    device: str = "cpu"
    threads: int | None = None
    warmup: int = 1
    repeats: int = 5
    implementations: list[str] = field(default_factory=lambda: ["ours"])
    chunk_latents: int = 2  # "streamed": latent frames per chunk (1 + chunk*ct frames first, then chunk*ct)
    compile_mode: str | None = None  # torch.compile's mode, e.g. "reduce-overhead" (CUDA graphs)


def process_memory(field_name: str) -> float:
    """``VmHWM`` (peak) or ``VmRSS`` (now) of this process in GiB, from /proc/self/status."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field_name + ":"):
                return int(line.split()[1]) * 1024 / GIB
    raise RuntimeError(f"{field_name} not in /proc/self/status")


def release_free_heap() -> None:
    """Hand glibc's freed heap back to the OS, so RSS counts live memory only.

    Without it, memory freed after building the model (formula weights are computed in
    float64) stays resident and is reused by the activations unseen.
    """
    gc.collect()
    ctypes.CDLL("libc.so.6").malloc_trim(0)


def reset_peak_memory(device: torch.device) -> None:
    """Start a new high-water mark: ``VmHWM`` back to the current RSS, or CUDA's peak stats."""
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
        return
    release_free_heap()
    with open("/proc/self/clear_refs", "w") as clear_refs:
        clear_refs.write("5")


def peak_memory(device: torch.device) -> float:
    """GiB: peak RSS of this process (CPU) or peak allocated (CUDA) since the last reset."""
    return process_memory("VmHWM") if device.type == "cpu" else torch.cuda.max_memory_allocated(device) / GIB


def _functions(tokenizer, implementation: str, case: Case) -> tuple[Callable, Callable]:
    compile = case.compile
    if implementation in ("ours", "streamed"):
        network = tokenizer.network  # the bare network: no inference_mode wrapper inside compiled code
        chunk = case.chunk_latents if implementation == "streamed" else None
        chunk_frames = None if chunk is None else chunk * network.config.temporal_compression

        def encode(x: Tensor) -> Tensor:
            encoded = network.encode(x, chunk_frames=chunk_frames)
            return encoded[0] if isinstance(encoded, tuple) else encoded  # discrete: the indices

        def decode(z: Tensor) -> Tensor:
            return network.decode(z, chunk_latents=chunk)
    elif implementation == "diffusers":
        from nemo_cosmos.convert.diffusers import to_diffusers

        peer = to_diffusers(tokenizer.network)
        encode, decode = (lambda x: peer.encode(x).latent_dist.mode()), (lambda z: peer.decode(z).sample)
    else:
        raise ValueError(f"implementation must be one of {IMPLEMENTATIONS}, got {implementation!r}")
    if compile:
        encode, decode = torch.compile(encode, mode=case.compile_mode), torch.compile(decode, mode=case.compile_mode)
    return encode, decode


def _timed(function: Callable, argument: Tensor, device: torch.device, compiled: bool) -> tuple[Tensor, float]:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        if compiled:
            torch.compiler.cudagraph_mark_step_begin()  # CUDA graphs: a new step, earlier outputs are consumed
    start = time.perf_counter()
    # torch.compile cannot trace inference tensors (version counters); no_grad is its equivalent there
    with torch.no_grad() if compiled else torch.inference_mode():
        result = function(argument)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return result, time.perf_counter() - start


def _stats(seconds: list[float], frames: int) -> dict:
    median = statistics.median(seconds)
    return {"median_s": median, "min_s": min(seconds), "max_s": max(seconds), "ms_per_frame": 1000 * median / frames,
            "best_ms_per_frame": 1000 * min(seconds) / frames, "frames_per_s": frames / median}


def run_case(case: Case) -> dict:
    """Measure ``case`` in this process (see :func:`run_case_in_subprocess` for clean memory numbers)."""
    if case.threads:
        torch.set_num_threads(case.threads)
    device = torch.device(case.device)
    torch.backends.cudnn.benchmark = True  # CUDA: time the fastest convolution algorithms, as a user would run
    tokenizer = load_tokenizer(case.tokenizer, weights="formula", device=device, dtype=case.dtype)
    cfg = tokenizer.network_config
    shape = (1, 3, case.frames, case.height, case.width) if cfg.is_video else (case.frames, 3, case.height, case.width)
    x = torch.empty(shape, device=device, dtype=tokenizer.dtype).uniform_(-1, 1)  # in place: no temporaries
    tokenizer.network.check_pixels(x)
    functions = {name: _functions(tokenizer, name, case) for name in case.implementations}
    if device.type == "cpu":
        release_free_heap()
    baseline = process_memory("VmRSS") if device.type == "cpu" else torch.cuda.memory_allocated(device) / GIB
    times = {name: {"encode": [], "decode": []} for name in functions}
    memory, outputs = {}, {}
    for iteration in range(case.warmup + case.repeats):
        for name, (encode, decode) in functions.items():
            for stage, function in (("encode", encode), ("decode", decode)):
                if iteration == 0:
                    reset_peak_memory(device)
                result, seconds = _timed(function, x if stage == "encode" else outputs[name, "encode"], device, case.compile)
                if case.compile_mode == "reduce-overhead":  # CUDA graphs reuse their output buffers
                    result = result.clone()
                outputs[name, stage] = result
                if iteration >= case.warmup:
                    times[name][stage].append(seconds)
                if iteration == 0:
                    memory[f"{name}_{stage}"] = peak_memory(device)
    result = {"case": asdict(case), "model": cfg.short_name, "baseline_gb": baseline, "peak_gb": memory,
              "torch": torch.__version__, "threads": torch.get_num_threads(), "timing": {}}
    for name, stages in times.items():
        result["timing"][name] = {stage: _stats(seconds, case.frames) for stage, seconds in stages.items()}
    if len(functions) > 1:  # the implementations must agree, or the comparison means nothing
        first, *others = functions
        result["max_abs_difference"] = {
            f"{other}_{stage}": float((outputs[first, stage].float() - outputs[other, stage].float()).abs().max())
            for other in others for stage in ("encode", "decode")
        }
    return result


def run_case_in_subprocess(case: Case) -> dict:
    """:func:`run_case` in a fresh Python process; its JSON result."""
    command = [sys.executable, "-m", "nemo_cosmos.evaluation.speed", json.dumps(asdict(case))]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"benchmark case {case} failed:\n{done.stderr[-4000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def measure(case: Case, compare: bool = False, streaming: bool = False) -> list[dict]:
    """Table rows (one per implementation) for ``case``.

    Ours alone: one subprocess times it and records its peak memory. With ``compare``
    (diffusers) and/or ``streaming`` (ours chunk by chunk, exact): one subprocess times
    them interleaved (the ratios), and one single-run subprocess per implementation
    records each one's own peak memory. A case of a single run (``warmup=0, repeats=1``,
    for inputs that take minutes) runs each implementation once, alone, for both.
    """
    implementations = ["ours"] + (["streamed"] if streaming else []) + (["diffusers"] if compare else [])
    single_run = case.warmup == 0 and case.repeats == 1
    if len(implementations) == 1 or single_run:
        runs = {name: run_case_in_subprocess(replace(case, implementations=[name])) for name in implementations}
        timing = {name: run["timing"][name] for name, run in runs.items()}
        differences = {}  # outputs of separate processes are not compared
    else:
        timed = run_case_in_subprocess(replace(case, implementations=implementations))
        timing, differences = timed["timing"], timed["max_abs_difference"]
        runs = {
            name: run_case_in_subprocess(replace(case, implementations=[name], warmup=0, repeats=1))
            for name in implementations
        }
    rows = []
    for name in implementations:
        run = runs[name]
        row = {
            "tokenizer": run["model"], "input": f"{case.frames}x{case.height}x{case.width}", "dtype": case.dtype,
            "compile": case.compile, "device": case.device, "threads": run["threads"], "implementation": name,
        }
        for stage in ("encode", "decode"):
            stats = timing[name][stage]
            row[f"{stage}_ms_per_frame"] = stats["ms_per_frame"]
            row[f"{stage}_best_ms_per_frame"] = stats["best_ms_per_frame"]
            row[f"{stage}_spread_%"] = 100 * (stats["max_s"] - stats["min_s"]) / stats["median_s"]
            row[f"{stage}_frames_per_s"] = stats["frames_per_s"]
            row[f"{stage}_peak_gb"] = run["peak_gb"][f"{name}_{stage}"]
            row[f"{stage}_above_baseline_gb"] = row[f"{stage}_peak_gb"] - run["baseline_gb"]
            if compare:
                peer = timing["diffusers"][stage]
                row[f"{stage}_time_vs_diffusers"] = stats["median_s"] / peer["median_s"]
                row[f"{stage}_best_vs_diffusers"] = stats["min_s"] / peer["min_s"]
        row["baseline_gb"] = run["baseline_gb"]
        if name != "ours" and differences:
            row["max_abs_difference"] = max(v for k, v in differences.items() if k.startswith(name))
        rows.append(row)
    return rows


if __name__ == "__main__":
    print(json.dumps(run_case(Case(**json.loads(sys.argv[1])))))
