"""Smoke runs of recipes/evaluate.py and recipes/benchmark.py on tiny inputs and small networks."""

import csv
import importlib.util
import json
import math
from pathlib import Path

import av
import numpy as np
import pytest
import torch
from omegaconf import OmegaConf
from safetensors.torch import save_file

from nemo_cosmos import TokenizerConfig, build_network
from nemo_cosmos.formula_weights import fill_with_formula

pytestmark = pytest.mark.slow  # goldens, subprocesses, torchrun, real recipes

ROOT = Path(__file__).resolve().parents[1]
SMALL = {"spatial_compression": 8, "channels": 32, "channels_mult": [1, 2, 2], "num_res_blocks": 1}


def load_recipe(name: str):
    spec = importlib.util.spec_from_file_location(f"recipe_{name}", ROOT / "recipes" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def recipe_config(name: str, **overrides):
    cfg = OmegaConf.load(ROOT / "conf" / f"{name}.yaml")
    for key, value in overrides.items():
        OmegaConf.update(cfg, key, value)
    return cfg


def save_small_tokenizer(directory: Path, family: str, temporal_compression: int = 1) -> str:
    config = TokenizerConfig(family=family, temporal_compression=temporal_compression, **SMALL)
    directory.mkdir(parents=True)
    (directory / "config.json").write_text(json.dumps(config.to_dict()))
    save_file(fill_with_formula(build_network(config)).state_dict(), str(directory / "model.safetensors"))
    return str(directory)


def write_video(path: Path, frames: np.ndarray) -> None:
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=8)
        stream.width, stream.height, stream.pix_fmt = frames.shape[2], frames.shape[1], "yuv420p"
        stream.options = {"qp": "0"}
        for frame in frames:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        container.mux(stream.encode())


def test_evaluate_recipe_reports_each_tokenizer_with_baselines(tmp_path):
    videos = tmp_path / "videos"
    videos.mkdir()
    rows, columns = np.mgrid[:40, :48]
    for index in range(2):  # 10 frames: padded to 13 (1 + 3*4) for the CV4x8x8 and cropped back
        frames = np.stack([np.stack([(columns * 5 + t * 7 + index * 40) % 256, rows * 6, np.full_like(rows, 90)], -1)
                           for t in range(10)]).astype(np.uint8)
        write_video(videos / f"clip{index}.mp4", frames)
    (videos / "broken.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42 truncated")
    tokenizers = [save_small_tokenizer(tmp_path / "cv", "CV", 4), save_small_tokenizer(tmp_path / "di", "DI")]
    output = tmp_path / "out"
    cfg = recipe_config("evaluate", input_dir=str(videos), tokenizers=tokenizers, output_dir=str(output))
    summaries = load_recipe("evaluate").main(cfg)

    assert [s["tokenizer"] for s in summaries] == [
        "cv", "JPEG @ cv bits", "bicubic @ cv grid", "di", "JPEG @ di bits", "bicubic @ di grid"]
    assert [s["model"] for s in summaries] == ["CV4x8x8", "JPEG", "bicubic 1/8", "DI8x8", "JPEG", "bicubic 1/8"]
    # Real pixels per latent position: 10x40x48 pixels over 4x5x6 (CV, time padded to 13) and 10x5x6 (DI).
    assert [summaries[0]["pixels_per_token"], summaries[3]["pixels_per_token"]] == [160, 64]
    assert summaries[0]["bpp"] == pytest.approx(16 * 16 / 160)  # 16 bfloat16 channels per position
    for summary in summaries:
        assert summary["files"] == 2 and summary["bpp"] > 0
        assert math.isfinite(summary["psnr"]) and -1.0 <= summary["ssim"] <= 1.0 and summary["color_shift"] >= 0
    with (output / "per_file.csv").open() as handle:
        per_file = list(csv.DictReader(handle))
    assert len(per_file) == 12 and {r["frames"] for r in per_file} == {"10"}
    with (output / "results.csv").open() as handle:
        assert {"bpp", "psnr", "color_shift", "kind"} <= set(next(csv.DictReader(handle)))
    assert (output / "results.md").read_text().count("\n") == 8  # header, rule, two tokenizers with two baselines each
    assert (output / "quality_vs_compression.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    skipped = [json.loads(line) for line in (output / "skipped.jsonl").read_text().splitlines()]
    assert [record["path"] for record in skipped] == [str(videos / "broken.mp4")] and skipped[0]["reason"]


def test_evaluate_recipe_names_missing_feature_weights(tmp_path):
    images = tmp_path / "images"
    images.mkdir()
    from PIL import Image

    Image.fromarray(np.full((32, 32, 3), 128, np.uint8)).save(images / "gray.png")
    cfg = recipe_config("evaluate", input_dir=str(images), media="image", output_dir=str(tmp_path / "out"),
                        tokenizers=[save_small_tokenizer(tmp_path / "di", "DI")], **{"metrics.lpips": str(tmp_path / "no.pt")})
    with pytest.raises(FileNotFoundError, match="LPIPS: TorchScript file not found"):
        load_recipe("evaluate").main(cfg)


def test_benchmark_recipe_compares_with_diffusers_and_streaming(tmp_path):
    pytest.importorskip("diffusers")
    cfg = recipe_config("benchmark", tokenizers=[save_small_tokenizer(tmp_path / "cv", "CV", 4)], inputs=[[9, 32, 32]],
                        device="cpu", threads=1, warmup=0, repeats=2, compare=True, streaming=True, chunk_latents=1,
                        output_dir=str(tmp_path / "out"))
    rows = load_recipe("benchmark").main(cfg)

    assert [r["implementation"] for r in rows] == ["ours", "streamed", "diffusers"]
    assert rows[1]["max_abs_difference"] < 1e-4  # streaming is exact: float rounding only
    assert (tmp_path / "out" / "streaming.png").stat().st_size > 0
    rows = [rows[0], rows[2]]
    for row in rows:
        assert row["encode_frames_per_s"] > 0 and row["decode_ms_per_frame"] > 0
        assert row["encode_peak_gb"] > 0.05 and row["decode_peak_gb"] > 0.05
        assert row["encode_above_baseline_gb"] >= 0 and row["decode_above_baseline_gb"] >= 0
        assert row["encode_time_vs_diffusers"] > 0
    assert rows[1]["encode_time_vs_diffusers"] == 1.0
    assert rows[1]["max_abs_difference"] < 1e-3
    assert (tmp_path / "out" / "benchmark.csv").read_text().count("\n") == 4


def test_benchmark_single_run_measures_each_implementation_alone(tmp_path):
    """warmup=0, repeats=1 (inputs that take minutes): one process per implementation gives
    both its time and its own peak memory; outputs of separate processes are not compared."""
    cfg = recipe_config("benchmark", tokenizers=[save_small_tokenizer(tmp_path / "cv", "CV", 4)],
                        inputs=[[9, 32, 32]], device="cpu", threads=1, warmup=0, repeats=1,
                        streaming=True, chunk_latents=1, output_dir=str(tmp_path / "out"))
    rows = load_recipe("benchmark").main(cfg)

    assert [(r["input"], r["implementation"]) for r in rows] == [("9x32x32", "ours"), ("9x32x32", "streamed")]
    for row in rows:
        assert row["encode_spread_%"] == 0 and row["decode_ms_per_frame"] > 0
        assert row["encode_peak_gb"] >= row["baseline_gb"] > 0.05
        assert "max_abs_difference" not in row
    assert (tmp_path / "out" / "streaming.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_benchmark_gpu_config_parses_and_fails_clearly_without_cuda(monkeypatch):
    cfg = recipe_config("benchmark_gpu")
    assert cfg.suite == "gpu" and cfg.dtype == "bfloat16"
    assert [(c.tokenizer, list(c.input)) for c in cfg.networks] == [
        ("Cosmos-Tokenizer-DI8x8", [1, 1024, 1024]),
        ("Cosmos-Tokenizer-CV8x8x8", [17, 720, 1280]),
        ("Cosmos-Tokenizer-DV8x16x16", [17, 720, 1280]),
    ]
    assert list(cfg.stream_memory.lengths) == [33, 121] and (cfg.stream_memory.height, cfg.stream_memory.width) == (1080, 1920)
    monkeypatch.setattr("torch.cuda.is_available", lambda: False)
    with pytest.raises(RuntimeError, match="benchmark_gpu measures a CUDA GPU, and none is available"):
        load_recipe("benchmark").main(cfg)


def test_benchmark_gpu_suite_table_with_a_cpu_stand_in(tmp_path):
    """Every step of the GPU suite, shrunk and on the CPU: the rows and the table come out whole."""
    from nemo_cosmos.evaluation import gpu
    from nemo_cosmos.evaluation.report import markdown_table
    from nemo_cosmos.pretrained import BUNDLED_MODELS_DIR

    tiny = str(BUNDLED_MODELS_DIR / "nemo-cosmos-tiny-DV4x8x8")  # a directory: formula weights need its config
    cfg = recipe_config(
        "benchmark_gpu", dtype="float32", repeats=1, subprocesses=False, output_dir=str(tmp_path),
        networks=[{"tokenizer": tiny, "input": [5, 32, 32], "modes": ["eager"]}],
        stream_memory={"tokenizer": tiny, "lengths": [5, 9], "height": 32, "width": 32},
        **{"job.tokenizer": tiny, "job.videos": 2, "job.frames": 10, "job.height": 32, "job.width": 48,
           "job.settings.clips.num_frames": 5},
    )
    rows = load_recipe("benchmark").gpu_suite(cfg, device=torch.device("cpu"))
    steps = [(row["step"], row["what"]) for row in rows]
    assert steps == [
        ("network", "DV4x8x8 5x32x32"), ("stream memory", "DV4x8x8 5x32x32"), ("stream memory", "DV4x8x8 9x32x32"),
        ("stream memory", "9 vs 5 frames"), ("job", "4 clips of 5 frames"), ("job", "job tokens == model.encode"),
        ("job", "torchrun, 2 GPUs"),
    ]
    assert rows[0]["encode_ms"] > 0 and rows[0]["total_ms"] == rows[0]["encode_ms"] + rows[0]["decode_ms"]
    assert rows[5]["result"] == "4/4 clips identical"
    assert rows[6]["result"] == "not run: fewer than 2 GPUs" and gpu.failed_steps(rows) == []
    table = markdown_table(rows)
    assert table.count("\n") == len(rows) + 2 and "clips/s" in table


def test_benchmark_bf16_reports_time_agreement_and_the_cpu(tmp_path):
    from data_samples import write_moving_shapes_video

    for seed in range(2):
        write_moving_shapes_video(tmp_path / "videos" / f"v{seed}.mp4", 9, 48, 64, seed=seed)
    cfg = recipe_config("benchmark_bf16", videos=str(tmp_path / "videos"), clip=[9, 32, 32], repeats=1,
                        output_dir=str(tmp_path / "out"))
    rows = load_recipe("benchmark").main(cfg)
    assert [row["dtype"] for row in rows] == ["float32", "bfloat16"] and rows[0]["clips"] == 2
    assert rows[0]["tokens_equal_to_float32_%"] == 100.0 and 50 < rows[1]["tokens_equal_to_float32_%"] <= 100
    assert rows[0]["encode_vs_float32"] == 1.0 and rows[1]["encode_s_per_clip"] > 0
    assert rows[1]["psnr_db"] > 10 and torch.backends.cpu.get_cpu_capability() in rows[1]["cpu"]
    assert (tmp_path / "out" / "benchmark_bf16.csv").read_text().count("\n") == 3
