"""Encode/decode throughput and peak memory of tokenizers, optionally side by side with diffusers.

Every case runs in a fresh subprocess (clean peak-memory numbers); with ``compare=true``
diffusers' ``AutoencoderKLCosmos`` runs interleaved with ours in one process on the same
weights and input, and the table gets our time divided by its time; with
``streaming=true`` our exact chunk-by-chunk encode/decode runs next to the one-pass one
(memory and time against clip length, plotted to ``streaming.png``). Writes
``benchmark.md`` / ``benchmark.csv`` into ``output_dir``. Config: ``conf/benchmark.yaml``.
"""

import itertools
from pathlib import Path

from nemo_cosmos.quiet import quiet_library_notices

quiet_library_notices()  # before NeMo and megatron-core are imported

from nemo.core.config import hydra_runner  # noqa: E402
from nemo.utils import logging  # noqa: E402
from omegaconf import DictConfig  # noqa: E402

from nemo_cosmos.evaluation.report import markdown_table, plot_streaming, write_tables  # noqa: E402
from nemo_cosmos.evaluation.speed import Case, measure  # noqa: E402
from nemo_cosmos.models.causal_video_tokenizer import resolve_device  # noqa: E402


@hydra_runner(config_path="../conf", config_name="benchmark")
def main(cfg: DictConfig) -> list[dict]:
    device = str(resolve_device(None if cfg.device == "auto" else cfg.device))
    rows = []
    for name, (frames, height, width), dtype, compiled in itertools.product(
        cfg.tokenizers, cfg.inputs, cfg.dtypes, cfg.compile
    ):
        case = Case(name, frames, height, width, dtype, bool(compiled), device, cfg.threads, cfg.warmup, cfg.repeats,
                    chunk_latents=cfg.chunk_latents)
        logging.info(f"benchmarking {case}")
        rows += measure(case, compare=cfg.compare, streaming=cfg.streaming)
    markdown, table = write_tables(rows, cfg.output_dir, "benchmark")
    if cfg.streaming:
        logging.info(f"wrote {plot_streaming(rows, Path(cfg.output_dir) / 'streaming.png')}")
    logging.info(f"speed and memory:\n{markdown_table(rows)}")
    logging.info(f"wrote {markdown} and {table}")
    return rows


if __name__ == "__main__":
    main()
