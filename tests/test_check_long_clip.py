"""``recipes/check_long_clip.py``: a first run at a small size reports the recipe's own peak
RSS (it used to stop, finding the earlier steps' peak higher), and ``--help`` says it all."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import nemo_cosmos

from conftest import small_config

pytestmark = pytest.mark.slow  # three subprocesses, one the whole tokenization recipe

SCRIPT = Path(__file__).resolve().parents[1] / "recipes" / "check_long_clip.py"


def _run(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    package_root = str(Path(nemo_cosmos.__file__).absolute().parents[1])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([package_root, os.environ.get("PYTHONPATH", "")])}
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, cwd=cwd, env=env, timeout=600)


def test_a_first_small_run_reports_the_recipes_peak(tmp_path):
    model = tmp_path / "small-DV"
    model.mkdir()
    (model / "config.json").write_text(json.dumps(small_config("DV").to_dict()))  # formula weights from its config
    result = _run("--model", str(model), "--frames", "9", "--height", "32", "--width", "32", "--work-dir", str(tmp_path / "work"), cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["clip"] == "9x32x32" and report["documents"] == 1 and report["skipped"] == []
    assert report["token_grid"] == [[3, 4, 4]]  # 1 + 8/4 latent frames of 32/8 x 32/8
    assert 0.1 < report["recipe_peak_rss_gib"] < 8  # the recipe imports torch and NeMo: hundreds of MB, not kilobytes
    assert (tmp_path / "work" / "checkpoint_small-DV" / "model.safetensors").is_file()


def test_help_gives_the_whole_description(tmp_path):
    result = _run("--help", cwd=tmp_path)
    assert result.returncode == 0
    assert "report the\nrecipe's peak memory (RSS) and wall time: the check that exact streaming lets 121-frame\n720p clips tokenize on a 24 GiB machine." in result.stdout
    assert "Prints one JSON line." in result.stdout
