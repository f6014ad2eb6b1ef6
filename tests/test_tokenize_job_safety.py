"""The tokenization job treats what is on disk as precious: refused runs touch nothing, overwrite
rebuilds aside, added inputs are all a re-run encodes, every rank works, the same bytes come out for
any number of ranks (latents too), and ``verify`` proves a dataset. Real videos, a small model with
formula weights, the real recipe, real torchrun."""

import json
import multiprocessing
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from nemo_cosmos import cli
from nemo_cosmos.data.indexed.megatron_dataset import build_cosmos_datasets
from nemo_cosmos.data.indexed.reader import IndexedDocuments
from nemo_cosmos.data.indexed.records import iter_records
from nemo_cosmos.data.indexed.sidecar import complete_sidecar, read_sidecar
from nemo_cosmos.tokenization.job import run_tokenize_job
from nemo_cosmos.tokenization.output_state import RefusedRun
from nemo_cosmos.tokenization.verify import verify_dataset

from data_samples import write_moving_shapes_video
from job_configs import compose_config, small_model_directory

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]
RECIPE = REPO / "recipes" / "tokenize_dataset.py"
# 5 = 1 + 1*4 frames per clip (temporal compression 4) at 16x16: one tiny clip per video
SETTINGS = ["clips.num_frames=5", "clips.max_clips_per_video=1", "frames.height=16", "frames.width=16", "run.progress=false", "run.batch_size=2"]
FILES = ["tokens.bin", "tokens.idx", "tokens.inputs.jsonl", "tokens.json", "skipped.jsonl"]


@pytest.fixture(autouse=True)
def _two_threads():
    """The job sets its own thread count (run.threads); conftest's two threads would only contend."""


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    folder = tmp_path_factory.mktemp("models")
    return {family: small_model_directory(folder, family) for family in ("DV", "CV")}


def _videos(folder: Path, names: list[str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for seed, name in enumerate(names):
        write_moving_shapes_video(folder / name, num_frames=6, height=24, width=24, seed=seed + sum(map(ord, name)))
    return folder


def _config(model: Path, inputs: Path, output: Path, *overrides: str, config_name: str = "tokenize_ar"):
    return compose_config(config_name, [f"model.name_or_path='{model}'", f"input.paths='{inputs}'", f"output.dir='{output}'", *SETTINGS, *overrides])


def _snapshot(folder: Path) -> dict[str, tuple[bytes, int]]:
    """Every file below ``folder`` with its bytes and mtime: what a refused run must leave as it was."""
    return {str(path.relative_to(folder)): (path.read_bytes(), path.stat().st_mtime_ns) for path in sorted(folder.rglob("*")) if path.is_file()}


def _same_files(first: Path, second: Path, names: list[str] = FILES) -> None:
    for name in names:
        assert (first / name).read_bytes() == (second / name).read_bytes(), name


def _recipe(*overrides: str, nproc: int = 0, **environment: str) -> subprocess.CompletedProcess:
    """The recipe as a user starts it: python, or torchrun with ``nproc`` ranks."""
    launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(nproc)] if nproc else [sys.executable]
    env = {**{k: v for k, v in os.environ.items() if k != "HYDRA_FULL_ERROR"}, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1", **environment}
    return subprocess.run([*launcher, str(RECIPE), *overrides], env=env, capture_output=True, text=True, timeout=600)


def test_a_changed_setting_is_refused_in_one_line_and_nothing_is_touched(models, tmp_path):
    inputs = _videos(tmp_path / "in", ["a.mp4", "b.mp4"])
    output = tmp_path / "out"
    run_tokenize_job(_config(models["DV"], inputs, output))
    before = _snapshot(output)
    overrides = [f"model.name_or_path={models['DV']}", f"input.paths={inputs}", f"output.dir={output}", *SETTINGS, "clips.num_frames=9", "frames.height=32"]
    done = _recipe(*overrides)
    assert done.returncode == 1
    errors = [line for line in done.stderr.splitlines() if line.startswith("tokenize_dataset: error:")]
    assert len(errors) == 1 and "Traceback" not in done.stderr, done.stderr[-2000:]
    assert "clips.num_frames: 5 -> 9" in errors[0] and "frames.height: 16 -> 32" in errors[0]
    assert str(output) in errors[0] and "new output.dir" in errors[0] and "output.overwrite=true" in errors[0]
    assert _snapshot(output) == before, "a refused run must leave every file as it was and create none"

    full = _recipe(*overrides, HYDRA_FULL_ERROR="1")
    assert full.returncode != 0 and "Traceback" in full.stderr and "RefusedRun" in full.stderr


def _kill_after_first_part(config, output: Path, pattern: str) -> None:
    """Run the job in a forked process and kill it once a part matching ``pattern`` is complete."""
    job = multiprocessing.get_context("fork").Process(target=run_tokenize_job, args=(config,))
    job.start()
    deadline = time.monotonic() + 240
    while not list(output.glob(pattern)) and job.is_alive() and time.monotonic() < deadline:
        time.sleep(0.005)
    os.kill(job.pid, signal.SIGKILL)
    job.join()


def test_overwrite_rebuilds_aside_and_a_killed_overwrite_resumes(models, tmp_path):
    inputs = _videos(tmp_path / "in", ["a.mp4", "b.mp4", "c.mp4", "d.mp4", "e.mp4"])
    output = tmp_path / "out"
    run_tokenize_job(_config(models["DV"], inputs, output))
    old = _snapshot(output)
    rebuild = _config(models["DV"], inputs, output, "frames.height=24", "frames.width=24", "run.items_per_part=2", "output.overwrite=true")
    _kill_after_first_part(rebuild, output, "parts/*-rebuild-*/tokens-000000000-000000002.json")
    assert complete_sidecar(output / "tokens")["settings"]["frames.height"] == 16, "the old dataset stays complete until the new one is"
    assert {name: old[name] for name in FILES} == {name: _snapshot(output)[name] for name in FILES}

    summary = run_tokenize_job(rebuild)
    assert summary.parts_reused >= 1 and summary.documents == 5
    documents = IndexedDocuments(output / "tokens")
    assert documents.shape(0) == [2, 3, 3] and read_sidecar(output / "tokens")["settings"]["frames.height"] == 24
    assert [folder.name.split("-")[1] for folder in (output / "parts").iterdir()] == ["rebuild"], "only the new build's parts are kept"
    assert not list(output.glob("tokens.next*"))


def test_added_inputs_are_all_that_is_encoded_and_the_result_equals_a_fresh_run(models, tmp_path):
    inputs = _videos(tmp_path / "in", ["a.mp4", "c.mp4"])
    output = tmp_path / "out"
    run_tokenize_job(_config(models["DV"], inputs, output, "output.keep_parts=false"))
    assert not (output / "parts").exists(), "growth works from the finished dataset alone"
    old_bin = (output / "tokens.bin").read_bytes()
    old_a = IndexedDocuments(output / "tokens").vision_sequence(0)
    # a's bytes change behind an unchanged path, size and mtime: a re-run must not read a again
    a = inputs / "a.mp4"
    original, status = a.read_bytes(), a.stat()
    a.write_bytes(bytes(len(original)))
    os.utime(a, ns=(status.st_atime_ns, status.st_mtime_ns))
    _videos(inputs, ["b.mp4"])  # sorts between the old ones

    summary = run_tokenize_job(_config(models["DV"], inputs, output))
    assert (summary.documents_this_run, summary.documents) == (1, 3)
    assert (output / "tokens.bin").read_bytes().startswith(old_bin), "the old documents' bytes are kept as they are"
    documents = IndexedDocuments(output / "tokens")
    assert [Path(documents.source(d)["path"]).name for d in range(3)] == ["a.mp4", "c.mp4", "b.mp4"]
    assert (documents.vision_sequence(0) == old_a).all(), "a's old tokens survive"

    a.write_bytes(original)
    os.utime(a, ns=(status.st_atime_ns, status.st_mtime_ns))
    manifest = tmp_path / "in_that_order.jsonl"
    manifest.write_text("".join(json.dumps({"path": str(inputs / name)}) + "\n" for name in ("a.mp4", "c.mp4", "b.mp4")))
    run_tokenize_job(_config(models["DV"], manifest, tmp_path / "fresh"))
    _same_files(output, tmp_path / "fresh")
    again = run_tokenize_job(_config(models["DV"], inputs, output))
    assert (again.parts_written, again.documents) == (0, 3)


def test_a_changed_or_vanished_input_is_refused_by_name(models, tmp_path):
    inputs = _videos(tmp_path / "in", ["a.mp4", "b.mp4", "c.mp4"])
    output = tmp_path / "out"
    run_tokenize_job(_config(models["DV"], inputs, output))
    before = _snapshot(output)
    status = (inputs / "b.mp4").stat()
    os.utime(inputs / "b.mp4", ns=(status.st_atime_ns, status.st_mtime_ns + 1_000_000))
    with pytest.raises(RefusedRun, match=r"b\.mp4 \(mtime_ns .* -> .*\).*output\.overwrite=true"):
        run_tokenize_job(_config(models["DV"], inputs, output))
    os.utime(inputs / "b.mp4", ns=(status.st_atime_ns, status.st_mtime_ns))
    (inputs / "c.mp4").unlink()
    with pytest.raises(RefusedRun, match=r"c\.mp4 \(vanished\)"):
        run_tokenize_job(_config(models["DV"], inputs, output))
    assert _snapshot(output) == before


def test_an_earlier_format_is_refused_with_the_way_out(models, tmp_path):
    inputs = _videos(tmp_path / "in", ["a.mp4"])
    output = tmp_path / "out"
    output.mkdir()
    for suffix in ("bin", "idx"):
        (output / f"tokens.{suffix}").write_bytes(b"")
    (output / "tokens.json").write_text(json.dumps({"format": "nemo-cosmos-indexed-dataset/1", "num_documents": 0, "bin_bytes": 0}))
    before = _snapshot(output)
    with pytest.raises(RefusedRun, match="earlier nemo-cosmos .*recorded no input identities.*output.overwrite=true"):
        run_tokenize_job(_config(models["DV"], inputs, output))
    assert _snapshot(output) == before
    assert run_tokenize_job(_config(models["DV"], inputs, output, "output.overwrite=true")).documents == 1


def test_two_ranks_share_few_inputs_and_write_the_latents_of_one(models, tmp_path):
    inputs = _videos(tmp_path / "in", ["a.mp4", "b.mp4", "c.mp4"])
    (inputs / "d_broken.mp4").write_bytes(b"not a video")
    one = tmp_path / "one"
    run_tokenize_job(_config(models["CV"], inputs, one, "run.batch_size=1", config_name="tokenize_diffusion"))
    two = tmp_path / "two"
    overrides = [f"model.name_or_path={models['CV']}", f"input.paths={inputs}", f"output.dir={two}", *SETTINGS, "run.batch_size=1"]
    done = _recipe("--config-name", "tokenize_diffusion", *overrides, nproc=2)
    log = done.stdout + done.stderr
    assert done.returncode == 0, log[-3000:]
    rows = {line.split()[0]: line.split() for line in log.splitlines() if line.strip()[:1].isdigit() and len(line.split()) == 6}
    assert sorted(rows) == ["0", "1"] and all(int(row[1]) >= 1 and int(row[2]) >= 1 for row in rows.values()), log[-3000:]
    assert sum(int(row[3]) for row in rows.values()) == 1
    assert "] skipped " in log and "d_broken.mp4" in log and "rank " in log
    _same_files(one, two, [name.replace("tokens", "latents") for name in FILES])


def test_verify_passes_a_sound_dataset_and_catches_a_flipped_byte_and_a_truncated_index(models, tmp_path):
    inputs = _videos(tmp_path / "in", ["a.mp4", "b.mp4", "c.mp4"])
    output = tmp_path / "out"
    run_tokenize_job(_config(models["DV"], inputs, output))
    prefix = str(output / "tokens")
    assert cli.main(["verify", prefix, "--reencode", "2"]) == 0
    report = verify_dataset(prefix, reencode=3)
    assert report.ok and (report.documents, report.reencoded) == (3, 3)

    flipped = tmp_path / "flipped"
    flipped.mkdir()
    for name in FILES[:4]:
        (flipped / name).write_bytes((output / name).read_bytes())
    data = bytearray((flipped / "tokens.bin").read_bytes())
    data[len(data) // 2] ^= 0x01
    (flipped / "tokens.bin").write_bytes(bytes(data))
    assert cli.main(["verify", str(flipped / "tokens")]) == 1
    assert any("tokens.bin: SHA-256 differs" in problem for problem in verify_dataset(flipped / "tokens").problems)

    index = output / "tokens.idx"
    index.write_bytes(index.read_bytes()[:-8])
    problems = verify_dataset(prefix).problems
    assert any("tokens.idx: SHA-256 differs" in problem for problem in problems) and len(problems) >= 2, problems

    records = list(iter_records(prefix))
    assert [Path(record["path"]).name for record in records] == ["a.mp4", "b.mp4", "c.mp4"] and all(record["mtime_ns"] for record in records)


def test_rank_threads_are_applied_and_counted(models, tmp_path):
    """run.threads is set for the job and restored after it; on CPU it is a setting that counts."""
    inputs = _videos(tmp_path / "in", ["a.mp4"])
    torch.set_num_threads(1)
    run_tokenize_job(_config(models["DV"], inputs, tmp_path / "out", "run.threads=2"))
    assert torch.get_num_threads() == 1
    assert read_sidecar(tmp_path / "out" / "tokens")["settings"]["run.threads"] == 2
    with pytest.raises(RefusedRun, match="run.threads: 2 -> 1"):
        run_tokenize_job(_config(models["DV"], inputs, tmp_path / "out", "run.threads=1"))


def test_unmerged_output_lists_the_parts_grows_by_new_parts_and_is_verified(models, tmp_path):
    inputs = _videos(tmp_path / "in", ["a.mp4", "b.mp4", "c.mp4"])
    output = tmp_path / "out"
    run_tokenize_job(_config(models["DV"], inputs, output, "output.merge=false"))
    assert not (output / "tokens.bin").exists()
    parts = [Path(line) for line in (output / "tokens.parts").read_text().splitlines()]
    assert len(parts) == 2 and all(part.is_absolute() and complete_sidecar(part) for part in parts)
    first = {path: path.stat().st_mtime_ns for part in parts for path in part.parent.glob(part.name + ".*")}

    _videos(inputs, ["d.mp4"])
    summary = run_tokenize_job(_config(models["DV"], inputs, output, "output.merge=false"))
    assert (summary.documents_this_run, summary.documents) == (1, 4)
    grown = [Path(line) for line in (output / "tokens.parts").read_text().splitlines()]
    assert grown[:2] == parts and len(grown) == 3, "the old parts are listed first and stay where they are"
    assert all(path.stat().st_mtime_ns == mtime for path, mtime in first.items())
    datasets = build_cosmos_datasets([str(part) for part in grown], split="1,0,0", shuffle=False)[0]
    assert sorted(Path(datasets[i]["path"]).name for i in range(len(datasets))) == ["a.mp4", "b.mp4", "c.mp4", "d.mp4"]

    run_tokenize_job(_config(models["DV"], inputs, tmp_path / "merged"))
    merged = IndexedDocuments(tmp_path / "merged" / "tokens")
    listed_documents = [IndexedDocuments(part) for part in grown]
    assert [d.vision_sequence(i).tolist() for d in listed_documents for i in range(len(d))] == [merged.vision_sequence(i).tolist() for i in range(4)]
    assert verify_dataset(output / "tokens", reencode=1).ok
    data = bytearray(Path(f"{grown[0]}.bin").read_bytes())
    data[3] ^= 0x10
    Path(f"{grown[0]}.bin").write_bytes(bytes(data))
    assert any("SHA-256 differs" in problem for problem in verify_dataset(output / "tokens").problems)
