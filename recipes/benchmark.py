"""Encode/decode throughput and peak memory of tokenizers, optionally side by side with diffusers.

``suite: speed`` (``conf/benchmark.yaml``): every case runs in a fresh subprocess (clean
peak-memory numbers); with ``compare=true`` diffusers' ``AutoencoderKLCosmos`` runs
interleaved with ours in one process on the same weights and input, and the table gets
our time divided by its time; with ``streaming=true`` our exact chunk-by-chunk
encode/decode runs next to the one-pass one (memory and time against clip length,
plotted to ``streaming.png``). ``suite: dtypes`` (``conf/benchmark_bf16.yaml``): bfloat16
against float32 on real video. ``suite: gpu`` (``conf/benchmark_gpu.yaml``): the
one-command GPU check. Each writes ``<name>.md`` / ``<name>.csv`` into ``output_dir``.
"""

import itertools
from pathlib import Path

from nemo_cosmos.quiet import quiet_library_notices

quiet_library_notices()  # before NeMo and megatron-core are imported

import torch  # noqa: E402
from nemo.core.config import hydra_runner  # noqa: E402
from nemo.utils import logging  # noqa: E402
from omegaconf import DictConfig  # noqa: E402

from nemo_cosmos.evaluation import gpu  # noqa: E402
from nemo_cosmos.evaluation.dtypes import compare_dtypes, real_clips  # noqa: E402
from nemo_cosmos.evaluation.report import markdown_table, plot_streaming, write_tables  # noqa: E402
from nemo_cosmos.evaluation.speed import Case, measure  # noqa: E402
from nemo_cosmos.models.causal_video_tokenizer import resolve_device  # noqa: E402
from nemo_cosmos.tokenization.job import run_tokenize_job  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def speed_suite(cfg: DictConfig) -> list[dict]:
    device = str(resolve_device(None if cfg.device == "auto" else cfg.device))
    rows = []
    for name, (frames, height, width), dtype, compiled in itertools.product(
        cfg.tokenizers, cfg.inputs, cfg.dtypes, cfg.compile
    ):
        case = Case(name, frames, height, width, dtype, bool(compiled), device, cfg.threads, cfg.warmup, cfg.repeats,
                    chunk_latents=cfg.chunk_latents)
        logging.info(f"benchmarking {case}")
        rows += measure(case, compare=cfg.compare, streaming=cfg.streaming)
    if cfg.streaming:
        logging.info(f"wrote {plot_streaming(rows, Path(cfg.output_dir) / 'streaming.png')}")
    return rows


def dtypes_suite(cfg: DictConfig) -> list[dict]:
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    frames, height, width = cfg.clip
    clips = real_clips(cfg.videos, frames, height, width, cfg.max_clips)
    return compare_dtypes(cfg.tokenizer, clips, list(cfg.dtypes), cfg.weights, cfg.repeats, cfg.device)


def gpu_suite(cfg: DictConfig, device: torch.device | None = None) -> list[dict]:
    """On CUDA (a clear error without it); tests pass a CPU stand-in ``device``."""
    device = device or gpu.require_cuda()
    return gpu.run_suite(cfg, device, run_tokenize_job, ROOT / "conf" / "tokenize_ar.yaml",
                         ROOT / "recipes" / "tokenize_dataset.py")


SUITES = {"speed": speed_suite, "dtypes": dtypes_suite, "gpu": gpu_suite}


@hydra_runner(config_path="../conf", config_name="benchmark")
def main(cfg: DictConfig) -> list[dict]:
    suite = cfg.get("suite", "speed")
    if suite not in SUITES:
        raise ValueError(f"suite must be one of {sorted(SUITES)}, got {suite!r}")
    rows = SUITES[suite](cfg)
    markdown, table = write_tables(rows, cfg.output_dir, cfg.name)
    heading = f"{cfg.name} on {gpu.device_name(gpu.require_cuda())}" if suite == "gpu" else cfg.name
    logging.info(f"{heading} (torch {torch.__version__}):\n{markdown_table(rows)}")
    logging.info(f"wrote {markdown} and {table}")
    if suite == "gpu" and gpu.failed_steps(rows):
        raise RuntimeError(f"GPU check steps failed (see the table): {gpu.failed_steps(rows)}")
    return rows


if __name__ == "__main__":
    main()
