"""A quiet start: the entry points, run as real processes, print nothing a user cannot act on,
while other warnings and the data side's messages still reach the log."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from data_samples import write_moving_shapes_video

pytestmark = pytest.mark.slow  # subprocesses that import NeMo, a real recipe

REPO = Path(__file__).resolve().parents[1]
NOISE = ("Transformer Engine", "Apex", "OneLogger", "No exporters", "Future Hydra", "_IndexReader", "Extract the", "total number of")


def _run(command: list[str], cwd: Path) -> list[str]:
    """stdout and stderr of ``command``, in the order printed, as lines."""
    environment = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    done = subprocess.run(command, cwd=cwd, env=environment, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:]
    return done.stdout.splitlines()


def _noise(lines: list[str]) -> list[str]:
    return [line for line in lines if any(marker in line for marker in NOISE)]


def test_importing_the_model_prints_nothing_and_other_warnings_still_show(tmp_path):
    probe = "from nemo_cosmos import CausalVideoTokenizer\nprint('imported', flush=True)\nimport warnings\nwarnings.warn('a real problem')"
    lines = _run([sys.executable, "-c", probe], tmp_path)
    assert lines[0] == "imported", lines[:10]
    assert sum("UserWarning: a real problem" in line for line in lines) == 1, lines  # NeMo's capture still shows UserWarnings


def test_the_main_job_starts_quietly_and_logs_the_data_side_once(tmp_path):
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    write_moving_shapes_video(inputs / "short.mp4", num_frames=10, height=32, width=32)
    (inputs / "notes.txt").write_text("not media")
    recipe = [sys.executable, str(REPO / "recipes" / "tokenize_dataset.py"), "--config-name", "tokenize_demo"]
    overrides = [f"input.paths={inputs}", f"output.dir={tmp_path / 'out'}", "clips.pad_short=true", "frames.height=32", "frames.width=32"]
    lines = _run(recipe + overrides, tmp_path)
    job = [i for i, line in enumerate(lines) if line.startswith("[NeMo")]
    assert job and job[0] <= 2, lines[:10]  # at most 2 lines before the job's own first line
    assert _noise(lines) == []
    padding = [line for line in lines if "padding a clip of 10 frames" in line]  # nemo_cosmos.data.media.clips, a warning
    ignored = [line for line in lines if "ignored 1 file that is" in line]  # nemo_cosmos.data.media.sources, an info line
    assert len(padding) == 1 and "[NeMo W" in padding[0] and len(ignored) == 1 and ignored[0].startswith("[NeMo I")
    assert any("dataset" in line and ": 1 document, " in line for line in lines)


def test_the_command_line_starts_quietly(tmp_path):
    write_moving_shapes_video(tmp_path / "clip.mp4", num_frames=5, height=32, width=32)
    command = [sys.executable, "-m", "nemo_cosmos.cli", "encode", "clip.mp4", "--model", "nemo-cosmos-tiny-DV4x8x8", "--output-dir", "tokens"]
    lines = _run(command, tmp_path)
    # our own first lines: the dtype that "auto" chose (logged once), then the model loaded
    assert _noise(lines) == [] and lines[0].startswith("[NeMo I") and any("Loaded" in line for line in lines[:2]), lines[:10]
    assert (tmp_path / "tokens" / "clip.safetensors").is_file()
