"""Reconstruct a folder of images or videos with one or more tokenizers and report quality.

Writes ``results.md`` / ``results.csv`` (one row per tokenizer and, with ``baselines``,
JPEG at its bits and bicubic at its latent grid: bits per pixel, PSNR, SSIM, colour
shift, codes used, and LPIPS, rFID, rFVD when their local TorchScript files are
configured), ``per_file.csv``, ``quality_vs_compression.png`` (quality against bits per
pixel) and, when files could not be decoded, ``skipped.jsonl`` (one record per file, with
the reason) into ``output_dir``. Config: ``conf/evaluate.yaml``.
"""

import json
from pathlib import Path

from nemo_cosmos.quiet import quiet_library_notices

quiet_library_notices()  # before NeMo and megatron-core are imported

from nemo.core.config import hydra_runner  # noqa: E402
from nemo.utils import logging  # noqa: E402
from omegaconf import DictConfig, OmegaConf  # noqa: E402

from nemo_cosmos.evaluation.quality import FeatureMetrics, evaluate_tokenizer, list_media  # noqa: E402
from nemo_cosmos.evaluation.report import markdown_table, plot_quality_vs_bits, write_tables  # noqa: E402
from nemo_cosmos.evaluation.tokenizers import load_tokenizer  # noqa: E402


@hydra_runner(config_path="../conf", config_name="evaluate")
def main(cfg: DictConfig) -> list[dict]:
    files = list_media(cfg.input_dir, cfg.media, cfg.max_files)
    logging.info(f"evaluating {len(files)} {cfg.media} files of {cfg.input_dir} with {len(cfg.tokenizers)} tokenizer(s)")
    metrics = OmegaConf.to_container(cfg.metrics, resolve=True)
    features = FeatureMetrics(lpips=metrics.get("lpips"), fid=metrics.get("fid") or {}, fvd=metrics.get("fvd") or {})
    device = None if cfg.device == "auto" else cfg.device  # None: the model picks CUDA when available
    per_file, summaries, skipped = [], [], {}
    for name in cfg.tokenizers:
        tokenizer = load_tokenizer(name, weights=cfg.weights, device=device, dtype=cfg.dtype)
        rows, summary, unreadable = evaluate_tokenizer(
            tokenizer, Path(name).name, files, features, cfg.max_frames, baselines=cfg.baselines
        )
        per_file += rows
        summaries += summary
        skipped.update((record["path"], record) for record in unreadable)
        del tokenizer
    markdown, table = write_tables(summaries, cfg.output_dir, "results")
    write_tables(per_file, cfg.output_dir, "per_file")
    plot = plot_quality_vs_bits(summaries, f"{cfg.output_dir}/quality_vs_compression.png")
    if skipped:
        record_skipped(list(skipped.values()), Path(cfg.output_dir) / "skipped.jsonl")
    logging.info(f"reconstruction quality ({cfg.weights} weights):\n{markdown_table(summaries)}")
    logging.info(f"wrote {markdown}, {table} and {plot}")
    return summaries


def record_skipped(records: list[dict], path: Path) -> None:
    """One warning line per unreadable file, and the records in ``path`` (JSON lines)."""
    for record in records:
        logging.warning(f"skipped {record['path']}: {record['reason']}")
    path.write_text("".join(json.dumps(record) + "\n" for record in records))
    logging.warning(f"{len(records)} unreadable file(s) left out of the results, listed in {path}")


if __name__ == "__main__":
    main()
