"""The ``nemo-cosmos`` command on real files: a small unaligned mp4 and png, small local models
(formula weights, saved with ``save_pretrained``), encode/decode/reconstruct and bad files.

Most cases call ``main(argv)`` in this process (NeMo is imported once); one runs the
command as a real subprocess, one checks that ``--help`` needs no NeMo.
"""

import json
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import tomllib
import torch
from safetensors import safe_open

import nemo_cosmos
from nemo_cosmos.cli import main
from nemo_cosmos.data.media import frames_to_tensor, probe_video, read_image, read_video, tensor_to_frames, write_image
from nemo_cosmos.formula_weights import fill_with_formula
from nemo_cosmos.metrics import psnr
from nemo_cosmos.models import CausalVideoTokenizer

from conftest import small_config
from data_samples import moving_shapes, write_moving_shapes_video

ROOT = Path(__file__).resolve().parents[1]
FRAMES, HEIGHT, WIDTH, FPS = 6, 20, 27, 12.5  # none aligned to the 8x8 spatial, 4x temporal compression
IMAGE_HEIGHT, IMAGE_WIDTH = 30, 41


def _save_small_model(family: str, directory: Path) -> Path:
    model = CausalVideoTokenizer(CausalVideoTokenizer.make_config(small_config(family), device="cpu", dtype="float32"))
    fill_with_formula(model.network)
    model.save_pretrained(directory)
    return directory


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """A DV (video, discrete) and a CI (image, continuous) model directory, an mp4 and a png."""
    root = tmp_path_factory.mktemp("cli")
    video = root / "clip.mp4"
    write_moving_shapes_video(video, num_frames=FRAMES, height=HEIGHT, width=WIDTH, fps=FPS, seed=1)
    image = root / "photo.png"
    write_image(image, moving_shapes(1, IMAGE_HEIGHT, IMAGE_WIDTH, seed=2)[0])
    return {
        "dv": _save_small_model("DV", root / "dv-model"),
        "ci": _save_small_model("CI", root / "ci-model"),
        "video": video,
        "image": image,
    }


def _load(directory: Path) -> CausalVideoTokenizer:
    return CausalVideoTokenizer.from_pretrained(directory, device="cpu", dtype="float32")


def _metadata_and_tensors(path: Path) -> tuple[dict, dict]:
    with safe_open(str(path), framework="pt") as handle:
        return handle.metadata(), {name: handle.get_tensor(name) for name in handle.keys()}


def _error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("nemo-cosmos: error:")]


def test_encode_and_decode_video_keep_size_frames_and_fps(files, tmp_path, capsys):
    tokens = tmp_path / "tokens" / "clip.safetensors"
    assert main(["encode", str(files["video"]), "--model", str(files["dv"]), "--device", "cpu", "-o", str(tokens)]) == 0
    metadata, tensors = _metadata_and_tensors(tokens)
    indices = tensors["indices"]
    # 6 frames -> 9 = 1 + 2*4 (1 before, 2 after); 20x27 -> 24x32 (2+2 rows, 2+3 columns)
    assert list(tensors) == ["indices"] and indices.dtype == torch.int32 and tuple(indices.shape) == (1, 3, 3, 4)
    assert metadata["format"] == "nemo-cosmos-tokens" and metadata["model"] == str(files["dv"])
    assert json.loads(metadata["config"]) == small_config("DV").to_dict()
    assert (metadata["media"], metadata["source"]) == ("video", str(files["video"]))
    assert (int(metadata["num_frames"]), int(metadata["height"]), int(metadata["width"])) == (FRAMES, HEIGHT, WIDTH)
    assert float(metadata["fps"]) == pytest.approx(FPS)
    assert json.loads(metadata["padding"]) == {"frames": [1, 2], "height": [2, 2], "width": [2, 3]}
    assert (metadata["dtype"], metadata["model_dtype"]) == ("int32", "float32")

    model = _load(files["dv"])
    frames, _ = read_video(files["video"])
    expected_indices, _ = model.encode(frames_to_tensor(frames)[None])
    torch.testing.assert_close(indices, expected_indices.cpu(), rtol=0, atol=0)

    decoded = tmp_path / "decoded"
    assert main(["decode", str(tokens), "--output-dir", str(decoded), "--crf", "0"]) == 0
    info = probe_video(decoded / "clip.decoded.mp4")
    assert (info.num_frames, info.height, info.width) == (FRAMES, HEIGHT, WIDTH)
    assert info.fps == pytest.approx(FPS)
    expected = tensor_to_frames(model.decode(expected_indices, crop_to=(FRAMES, HEIGHT, WIDTH))[0])
    written, _ = read_video(decoded / "clip.decoded.mp4")
    assert np.abs(written.astype(int) - expected.astype(int)).mean() < 1.5  # lossless H.264 4:4:4, RGB<->YUV rounding only
    assert _error_lines(capsys.readouterr().err) == []


def test_encode_and_decode_png_with_a_continuous_image_model(files, tmp_path):
    assert main(["encode", str(files["image"]), "--model", str(files["ci"]), "--output-dir", str(tmp_path), "--tile-size", "32"]) == 0
    metadata, tensors = _metadata_and_tensors(tmp_path / "photo.safetensors")
    latent = tensors["latent"]
    assert latent.dtype == torch.float32 and tuple(latent.shape) == (1, 16, 4, 6)  # 30x41 -> 32x48 -> 4x6
    assert (metadata["media"], int(metadata["height"]), int(metadata["width"])) == ("image", IMAGE_HEIGHT, IMAGE_WIDTH)
    assert "num_frames" not in metadata and "fps" not in metadata
    assert json.loads(metadata["padding"]) == {"height": [1, 1], "width": [3, 4]}
    assert json.loads(metadata["inference"]) == {"tile_size": 32}

    assert main(["decode", str(tmp_path / "photo.safetensors"), "--model", str(files["ci"]), "-o", str(tmp_path / "out.png")]) == 0
    decoded = read_image(tmp_path / "out.png")
    assert decoded.shape == (IMAGE_HEIGHT, IMAGE_WIDTH, 3)
    model = _load(files["ci"])
    expected = tensor_to_frames(model.decode(latent, crop_to=(IMAGE_HEIGHT, IMAGE_WIDTH))[0])
    np.testing.assert_array_equal(decoded, expected)  # png is lossless


def test_reconstruct_writes_outputs_and_prints_psnr(files, tmp_path, capsys):
    argv = ["reconstruct", str(files["video"]), str(files["image"]), "--model", str(files["dv"]), "--chunk-latents", "1"]
    assert main([*argv, "--output-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    model = _load(files["dv"])
    for source, target in ((files["video"], tmp_path / "clip.reconstructed.mp4"), (files["image"], tmp_path / "photo.reconstructed.png")):
        frames = read_video(source)[0] if source.suffix == ".mp4" else read_image(source)[None]
        reconstruction = tensor_to_frames(model.autoencode(frames_to_tensor(frames)[None])[0])
        line = next(line for line in out.splitlines() if line.startswith(f"{source}: PSNR "))
        printed = float(line.split("PSNR ")[1].split(" dB")[0])
        assert printed == pytest.approx(psnr(frames, reconstruction), abs=0.006)
        assert target.is_file() and str(target) in line
    assert probe_video(tmp_path / "clip.reconstructed.mp4").num_frames == FRAMES
    assert read_image(tmp_path / "photo.reconstructed.png").shape == (IMAGE_HEIGHT, IMAGE_WIDTH, 3)
    assert "mean PSNR over 2 files" in out


def test_psnr_is_over_the_whole_video():
    a = np.zeros((2, 4, 4, 3), dtype=np.uint8)
    b = a.copy()
    b[1] = 10  # MSE 50 over all values
    assert psnr(a, b) == pytest.approx(10 * math.log10(255**2 / 50))
    assert psnr(a, a) == math.inf


def test_bad_files_give_one_line_errors(files, tmp_path, capsys):
    missing = tmp_path / "missing.mp4"
    assert main(["encode", str(missing), "--model", str(files["dv"])]) == 1
    assert _error_lines(capsys.readouterr().err) == [f"nemo-cosmos: error: {missing}: no such file"]

    corrupt = tmp_path / "corrupt.mp4"
    corrupt.write_bytes(files["video"].read_bytes()[:300])
    assert main(["encode", str(corrupt), str(files["image"]), "--model", str(files["dv"]), "--output-dir", str(tmp_path)]) == 1
    errors = _error_lines(capsys.readouterr().err)
    assert len(errors) == 1 and errors[0].startswith(f"nemo-cosmos: error: {corrupt}: ")
    assert (tmp_path / "photo.safetensors").is_file() and not (tmp_path / "corrupt.safetensors").exists()

    not_tokens = tmp_path / "garbage.safetensors"
    not_tokens.write_bytes(b"\x00" * 64)
    assert main(["decode", str(not_tokens), str(tmp_path / "photo.safetensors"), "--model", str(files["ci"])]) == 1
    errors = _error_lines(capsys.readouterr().err)
    assert len(errors) == 2 and errors[0].startswith(f"nemo-cosmos: error: {not_tokens}: ")
    assert errors[1].startswith(f"nemo-cosmos: error: {tmp_path / 'photo.safetensors'}: was encoded by a {small_config('DV').short_name}")

    assert main(["reconstruct", str(files["video"]), "--model", str(files["ci"]), "-o", str(tmp_path / "x.mp4")]) == 1
    errors = _error_lines(capsys.readouterr().err)
    assert len(errors) == 1 and "is a video" in errors[0] and "image tokenizer" in errors[0]

    assert main(["encode", str(files["image"]), "--model", str(tmp_path / "no-such-model")]) == 1
    errors = _error_lines(capsys.readouterr().err)
    assert len(errors) == 1 and "no-such-model" in errors[0]

    assert main(["encode", str(files["image"]), "--model", str(files["ci"]), "--tile-size", "12"]) == 1  # reaches the model
    errors = _error_lines(capsys.readouterr().err)
    assert len(errors) == 1 and "tile_size=12" in errors[0]


def test_output_may_not_overwrite_the_input(files, tmp_path, capsys):
    assert main(["reconstruct", str(files["image"]), "--model", str(files["dv"]), "-o", str(files["image"])]) == 1
    assert "would overwrite its input" in capsys.readouterr().err


@pytest.mark.slow
def test_console_script_runs_as_a_process(files, tmp_path):
    corrupt = tmp_path / "corrupt.mp4"
    corrupt.write_bytes(b"not a video at all" * 100)
    command = [sys.executable, "-m", "nemo_cosmos.cli", "reconstruct", str(corrupt), str(files["image"])]
    command += ["--model", str(files["dv"]), "--output-dir", str(tmp_path)]
    result = subprocess.run(command, capture_output=True, text=True, cwd=tmp_path, env=_env(), timeout=300)
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    errors = _error_lines(result.stderr)
    assert len(errors) == 1 and errors[0].startswith(f"nemo-cosmos: error: {corrupt}: "), result.stderr
    assert f"{files['image']}: PSNR " in result.stdout
    assert (tmp_path / "photo.reconstructed.png").is_file()


@pytest.mark.slow
def test_help_does_not_import_nemo_and_the_entry_point_is_declared(tmp_path):
    probe = (
        "import sys; from nemo_cosmos.cli import build_parser; build_parser().format_help(); "
        "print(sorted(m for m in sys.modules if m == 'nemo' or m.startswith('nemo.')))"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=tmp_path, env=_env(), timeout=120)
    assert result.returncode == 0 and result.stdout.strip() == "[]", result.stderr
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts["nemo-cosmos"] == "nemo_cosmos.cli:main"


def _env() -> dict:
    """This environment, with the package under test first on the path."""
    package_root = str(Path(nemo_cosmos.__file__).absolute().parents[1])
    return {**os.environ, "PYTHONPATH": os.pathsep.join([package_root, os.environ.get("PYTHONPATH", "")])}


def test_encode_and_decode_say_where_outputs_went(files, tmp_path, capsys):
    tokens = tmp_path / "photo.safetensors"
    assert main(["encode", str(files["image"]), "--model", str(files["ci"]), "-o", str(tokens)]) == 0
    assert f"{files['image']} -> {tokens}" in capsys.readouterr().out.splitlines()
    assert main(["decode", str(tokens), "--output-dir", str(tmp_path / "decoded")]) == 0
    assert f"{tokens} -> {tmp_path / 'decoded' / 'photo.decoded.png'}" in capsys.readouterr().out.splitlines()


def test_a_relative_model_directory_is_found_from_another_directory(files, tmp_path, monkeypatch, capsys):
    shutil.copytree(files["ci"], tmp_path / "models" / "ci")
    (tmp_path / "elsewhere").mkdir()
    tokens = tmp_path / "photo.safetensors"
    monkeypatch.chdir(tmp_path / "models")
    assert main(["encode", str(files["image"]), "--model", "ci", "-o", str(tokens)]) == 0
    assert _metadata_and_tensors(tokens)[0]["model"] == str(tmp_path / "models" / "ci")
    monkeypatch.chdir(tmp_path / "elsewhere")
    assert main(["decode", str(tokens), "-o", "photo.png"]) == 0
    assert (tmp_path / "elsewhere" / "photo.png").is_file()

    shutil.rmtree(tmp_path / "models")  # the recorded model is gone: --model is the way out
    capsys.readouterr()
    assert main(["decode", str(tokens), "-o", "again.png"]) == 1
    (error,) = _error_lines(capsys.readouterr().err)
    assert error.startswith(f"nemo-cosmos: error: {tokens}: cannot load the model it records, {tmp_path / 'models' / 'ci'} (")
    assert error.endswith("; pass the model with --model")
    assert main(["decode", str(tokens), "-o", "again.png", "--model", str(files["ci"])]) == 0


def test_version_dtype_device_and_model_name_errors(files, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0 and capsys.readouterr().out.startswith("nemo-cosmos ")
    with pytest.raises(SystemExit) as exit_:
        main(["encode", str(files["image"]), "--model", str(files["ci"]), "--dtype", "float64"])
    assert exit_.value.code == 2 and "argument --dtype: invalid choice: 'float64'" in capsys.readouterr().err
    if not torch.cuda.is_available():
        with pytest.raises(SystemExit) as exit_:
            main(["encode", str(files["image"]), "--model", str(files["ci"]), "--device", "cuda"])
        assert exit_.value.code == 2 and "CUDA is not available on this machine; use --device cpu" in capsys.readouterr().err

    assert main(["encode", str(files["image"]), "--model", "Cosmos-Tokenizer-DV8x8"]) == 1
    (error,) = _error_lines(capsys.readouterr().err)
    assert "did you mean 'Cosmos-Tokenizer-DV8x8x8'?" in error and "nemo-cosmos-tiny-DV4x8x8" in error
