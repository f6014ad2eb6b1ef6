"""The tokenization recipe end to end: real videos and images, a small model through the NeMo ModelPT,
megatron-core's readers and dataset builders, torchrun with gloo, a killed job resumed."""

import json
import multiprocessing
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import av
import numpy as np
import pytest
import torch
from megatron.core.datasets.blended_dataset import BlendedDataset
from megatron.core.datasets.blended_megatron_dataset_builder import BlendedMegatronDatasetBuilder
from megatron.core.datasets.indexed_dataset import IndexedDataset
from PIL import Image

from nemo_cosmos.data.indexed.megatron_dataset import CosmosIndexedDataset, CosmosIndexedDatasetConfig
from nemo_cosmos.data.indexed.reader import IndexedDocuments
from nemo_cosmos.data.indexed.records import iter_skipped
from nemo_cosmos.data.indexed.sidecar import is_complete, read_sidecar
from nemo_cosmos.data.indexed.skipped import read_skipped
from nemo_cosmos.data.indexed.token_layout import TokenLayout
from nemo_cosmos.data.media import ClipSampling, FrameGeometry, MediaItem, frames_to_tensor, read_image, read_video, write_image
from nemo_cosmos.data.media.decode_pool import DecodePool
from nemo_cosmos.models import CausalVideoTokenizer
from nemo_cosmos.tokenization.encoding import BatchEncoder
from nemo_cosmos.tokenization.job import run_tokenize_job
from nemo_cosmos.tokenization.planning import Planner

from checkpoints import export_torchscript
from data_samples import moving_shapes, write_moving_shapes_video
from job_configs import compose_config, small_model_directory
from megatron_reading import gpt_splits

pytestmark = pytest.mark.slow  # goldens, subprocesses, torchrun, real recipes

REPO = Path(__file__).resolve().parents[1]
RECIPE = REPO / "recipes" / "tokenize_dataset.py"
GEOMETRY = FrameGeometry(height=32, width=32, multiple=8, min_side=8)
STRIDE = 2
# 9 = 1 + 2*4 frames per clip (temporal compression 4), every other frame, all clips of each video
SETTINGS = ["clips.num_frames=9", f"clips.frame_stride={STRIDE}", "clips.max_clips_per_video=null", "frames.height=32", "frames.width=32"]
RUN = ["run.items_per_part=2", "run.batch_size=2", "run.progress=false"]
AR = ["tokens.offset=2", "tokens.begin_of_video_id=0", "tokens.end_of_video_id=1"]
LAYOUT = TokenLayout(codebook_size=64000, offset=2, begin_of_video_id=0, end_of_video_id=1)


def _load(directory: Path) -> CausalVideoTokenizer:
    return CausalVideoTokenizer.from_pretrained(directory, load_decoder=False, device="cpu")


def _config(model_dir: Path, inputs, output: Path, *overrides: str, config_name: str = "tokenize_ar"):
    """A recipe config with test overrides, given the way the command line gives them."""
    return compose_config(config_name, [f"model.name_or_path='{model_dir}'", f"input.paths='{inputs}'", f"output.dir='{output}'", *SETTINGS, *RUN, *overrides])


def _direct_encode(model: CausalVideoTokenizer, source: dict) -> torch.Tensor:
    """The model's own encode of the clip or image a document says it came from."""
    if source["kind"] == "image":
        pixels = frames_to_tensor(GEOMETRY.apply(read_image(source["path"])))
        pixels = pixels[:, None] if model.network_config.is_video else pixels
    else:
        frames, _ = read_video(source["path"])
        clip = frames[source["start_frame"] : source["end_frame"] + 1 : STRIDE]
        pixels = frames_to_tensor(np.stack([GEOMETRY.apply(frame) for frame in clip]))
    return model.encode(pixels[None])[0][0]


DATASET_FILES = ["tokens.bin", "tokens.idx", "tokens.inputs.jsonl", "tokens.json", "skipped.jsonl"]


def _same_files(first: Path, second: Path, names: list[str]) -> None:
    for name in names:
        assert (first / name).read_bytes() == (second / name).read_bytes(), name


@pytest.fixture(scope="module", autouse=True)
def _one_thread_for_the_module():
    """The tensors here are tiny: a second thread buys nothing and only contends on a shared machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(autouse=True)
def _two_threads():
    """Overrides conftest's per-test setting of two threads for this module (see above)."""


@pytest.fixture(scope="module")
def media(tmp_path_factory):
    """Videos with moving shapes (clips: a0 one, b0 two, c0 one) and the broken inputs, sorted so
    that each of the first three parts of two inputs has a clip to encode."""
    folder = tmp_path_factory.mktemp("media")
    write_moving_shapes_video(folder / "a0.mp4", num_frames=22, height=40, width=56, seed=0)
    (folder / "a1_corrupt.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 8)
    write_moving_shapes_video(folder / "b0.mp4", num_frames=40, height=48, width=40, seed=1)
    (folder / "b1_empty.mp4").write_bytes(b"")
    write_moving_shapes_video(folder / "c0.mp4", num_frames=18, height=40, width=64, seed=2)
    write_moving_shapes_video(folder / "c1_short.mp4", num_frames=10, height=40, width=56, seed=3)
    write_image(folder / "d_tiny.png", np.full((5, 7, 3), 200, np.uint8))
    return folder


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    folder = tmp_path_factory.mktemp("models")
    return {family: small_model_directory(folder, family) for family in ("DV", "CV", "DI")}


@pytest.fixture(scope="module")
def ar_run(media, models, tmp_path_factory):
    """The reference: one rank, uninterrupted, decoding in this process."""
    output = tmp_path_factory.mktemp("ar")
    summary = run_tokenize_job(_config(models["DV"], str(media), output, *AR, "run.decode_workers=0"))
    return output, summary


def test_tokens_equal_a_direct_encode_and_feed_megatron_gpt_dataset(ar_run, models, media):
    output, summary = ar_run
    prefix = str(output / "tokens")
    model = _load(models["DV"])
    indexed = IndexedDataset(prefix)
    documents = IndexedDocuments(prefix)
    sources = [documents.source(doc) for doc in range(len(documents))]
    assert [(Path(s["path"]).name, s["start_frame"], s["end_frame"]) for s in sources] == [
        ("a0.mp4", 0, 16), ("b0.mp4", 0, 16), ("b0.mp4", 18, 34), ("c0.mp4", 0, 16)
    ]
    assert len(indexed) == 4 and indexed.index.dtype == np.uint16
    expected = []
    for doc, source in enumerate(sources):
        indices = _direct_encode(model, source)
        assert indices.shape == (3, 4, 4) and documents.shape(doc) == [3, 4, 4]
        expected.append(LAYOUT.to_sequence(indices))
        np.testing.assert_array_equal(indexed[doc], expected[-1])  # [BOV, t*h*w ids + 2, EOV]
        assert torch.equal(documents.token_grid(doc), indices.long())
    assert len({tuple(e.tolist()) for e in expected}) == 4, "different clips must give different tokens"
    sidecar = read_sidecar(prefix)
    assert sidecar["vocab_size"] == 64002 and sidecar["special_ids"] == {"begin_of_video": 0, "end_of_video": 1}
    assert sidecar["tokenizer"]["config"]["family"] == "DV" and sidecar["compression"] == {"temporal": 4, "spatial": 8}
    assert (summary.documents, summary.skipped, summary.tokens) == (4, 4, 4 * 50)
    assert summary.documents_this_run == 4 and summary.clips_per_second > 0 and summary.tokens_per_second > 0
    # a0 (22 frames), b0 (40), c0 (18) sampled every 2nd frame, 9 per clip; c1_short (10) skipped
    assert summary.frames_this_run == {"used": 36, "stride": 33, "tail": 11, "unchosen": 0, "skipped": 10}

    train, _, _ = gpt_splits(prefix, 50, sidecar["vocab_size"], str(output / "cache"), random_seed=1)
    assert sorted(tuple(train[i]["tokens"].tolist()) for i in range(len(train))) == sorted(tuple(e.tolist()) for e in expected)


@pytest.mark.parametrize("workers, prefetch, items_per_part", [(1, 2, 2), (2, 1, 2), (1, 1, 8)])
def test_decoding_in_worker_processes_writes_the_bytes_of_one_process(ar_run, models, media, tmp_path, workers, prefetch, items_per_part):
    """Parts of one window each (the reference's), and one part of four windows: lanes opened a window ahead change nothing."""
    reference, _ = ar_run
    overrides = [f"run.decode_workers={workers}", f"run.prefetch={prefetch}", f"run.items_per_part={items_per_part}"]
    run_tokenize_job(_config(models["DV"], str(media), tmp_path, *AR, *overrides))
    _same_files(reference, tmp_path, ["tokens.bin", "tokens.idx", "tokens.json", "skipped.jsonl"])


def test_the_next_parts_video_starts_decoding_before_the_current_part_is_encoded(models, media, tmp_path, monkeypatch):
    folder = tmp_path / "inputs"
    folder.mkdir()
    for name in ("a0.mp4", "b0.mp4", "c0.mp4"):  # one, two and one clip
        (folder / name).write_bytes((media / name).read_bytes())
    events = []
    open_lane, encode_chunks = DecodePool.open, BatchEncoder.encode_chunks
    monkeypatch.setattr(DecodePool, "open", lambda pool, path, *plan: events.append(Path(path).stem) or open_lane(pool, path, *plan))
    monkeypatch.setattr(BatchEncoder, "encode_chunks", lambda encoder, batches: events.append("encode") or encode_chunks(encoder, batches))
    run_tokenize_job(_config(models["DV"], str(folder), tmp_path / "out", *AR, "run.batch_size=1", "run.items_per_part=1", "run.decode_workers=1"))
    # three parts of one video: each opens the next part's video before its own clips are encoded
    assert events == ["a0", "b0", "encode", "c0", "encode", "encode", "encode"]


def test_lanes_opened_for_the_next_call_take_the_window_of_the_ended_ones_and_are_taken_or_closed(models, media):
    sampling = ClipSampling(num_frames=9, frame_stride=STRIDE, temporal_compression=4)
    planner = Planner(sampling, GEOMETRY, "DV")
    a0, b0 = ([(position, unit) for position, unit in enumerate(planner.plan(MediaItem(str(media / name), "video"))[0])] for name in ("a0.mp4", "b0.mp4"))
    encoder = BatchEncoder(_load(models["DV"]), GEOMETRY, batch_size=1, chunk_latents=1, decode_workers=1)
    opened = []
    open_lane = encoder.decode_pool.open
    encoder.decode_pool.open = lambda path, *plan: opened.append(Path(path).stem) or open_lane(path, *plan)
    with torch.inference_mode():
        first = [result for _, result in encoder.encode_videos(a0, following=[unit for _, unit in b0])]
        (worker,) = encoder.decode_pool._workers
        assert opened == ["a0", "b0"] and len(worker.lanes) == 1, "b0's lane waits for the next call"
        (waiting,) = worker.lanes.values()
        assert waiting.requested == 4, "b0 keeps its 2 prefetched chunks ahead and the 2 that a0, ended, no longer holds"
        again = [result for _, result in encoder.encode_videos(b0, following=[unit for _, unit in a0])]
        assert opened == ["a0", "b0", "a0"] and len(worker.lanes) == 1, "b0's lane was taken, a0's waits"
        list(encoder.encode_videos(b0))
    assert opened == ["a0", "b0", "a0", "b0"] and not worker.lanes, "a0's lane, not taken, is closed"
    assert all(isinstance(result, torch.Tensor) for result in first + again) and len(again) == 2


def _last_bar(captured: str) -> tuple[int, int, tuple[int, int, int]]:
    """The last rendering of the progress bar: entries done, their (estimated) total, and the totals beside it."""
    done, total, documents, skipped, tokens = re.findall(r"(\d+)/(\d+) \[[^\]]*documents=(\d+), skipped=(\d+), tokens=(\d+)\]", captured)[-1]
    return int(done), int(total), (int(documents), int(skipped), int(tokens))


def test_the_progress_bar_counts_clips_and_ends_on_the_totals_of_the_summary(models, media, tmp_path, capfd):
    config = _config(models["DV"], str(media), tmp_path, *AR, "run.progress=true")
    summary = run_tokenize_job(config)
    done, total, totals = _last_bar(capfd.readouterr().err)
    assert (done, total) == (8, 8)  # 4 clips and 4 skip records, not the 7 inputs
    assert totals == (summary.documents, summary.skipped, summary.tokens) == (4, 4, 200)
    (tmp_path / "tokens.json").unlink()  # the parts stay: a second run reuses all of them
    again = run_tokenize_job(config)
    assert again.parts_reused == 4 and _last_bar(capfd.readouterr().err) == (8, 8, (again.documents, again.skipped, again.tokens))


def test_broken_inputs_are_skipped_with_their_reason_and_nothing_else_is_lost(ar_run, media):
    output, _ = ar_run
    records = read_skipped(output / "skipped.jsonl")
    skipped = {Path(record["path"]).name: record["reason"] for record in records}
    assert sorted(skipped) == ["a1_corrupt.mp4", "b1_empty.mp4", "c1_short.mp4", "d_tiny.png"]
    assert {Path(record["path"]).name: record["kind"] for record in records} == {
        "a1_corrupt.mp4": "not_media", "b1_empty.mp4": "empty", "c1_short.mp4": "too_short", "d_tiny.png": "too_small"
    }
    assert skipped["a1_corrupt.mp4"] == "not a video file: FFmpeg finds no format it can read in it"  # no FFmpeg error codes
    assert "empty file (0 bytes)" in skipped["b1_empty.mp4"]
    assert skipped["c1_short.mp4"].startswith("too short: 5 frames (of 10, at frame stride 2) are fewer than one clip of 9 = 1 + 2*4")
    assert skipped["c1_short.mp4"].endswith("set clips.pad_short=true to pad it with its last frame")
    assert "too small: 7x5 pixels" in skipped["d_tiny.png"] and "frames.min_side" in skipped["d_tiny.png"]
    assert all("\n" not in reason and "Errno" not in reason for reason in skipped.values())
    assert list(iter_skipped(output / "tokens")) == read_skipped(output / "skipped.jsonl")


def _write_video_that_ends_early(path: Path) -> None:
    """An mp4 whose header (written first: faststart) promises 40 frames; the file is cut after about 12."""
    with av.open(str(path), "w", options={"movflags": "faststart"}) as container:
        stream = container.add_stream("libx264", rate=24)
        stream.width, stream.height, stream.pix_fmt, stream.options = 56, 40, "yuv444p", {"crf": "0"}
        for frame in moving_shapes(40, 40, 56, seed=4):
            container.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        container.mux(stream.encode())
    data = path.read_bytes()
    path.write_bytes(data[: len(data) * 35 // 100])


def test_a_video_that_ends_early_is_skipped_and_its_batch_mate_is_kept(models, media, tmp_path):
    folder = tmp_path / "inputs"
    folder.mkdir()
    (folder / "a_good.mp4").write_bytes((media / "b0.mp4").read_bytes())
    _write_video_that_ends_early(folder / "b_cut.mp4")
    run_tokenize_job(_config(models["DV"], str(folder), tmp_path / "out", *AR))  # one part, both videos in one batch
    documents = IndexedDocuments(tmp_path / "out" / "tokens")
    sources = [documents.source(doc) for doc in range(len(documents))]
    assert [(Path(s["path"]).name, s["start_frame"]) for s in sources] == [("a_good.mp4", 0), ("a_good.mp4", 18)]
    model = _load(models["DV"])
    for doc, source in enumerate(sources):
        assert torch.equal(documents.token_grid(doc), _direct_encode(model, source).long())
    skipped = read_skipped(tmp_path / "out" / "skipped.jsonl")
    assert [(Path(r["path"]).name, r["start_frame"], r["end_frame"]) for r in skipped] == [("b_cut.mp4", 0, 16), ("b_cut.mp4", 18, 34)]
    assert [r["kind"] for r in skipped] == ["truncated", "truncated"]
    assert "of the 40 its header promises" in skipped[0]["reason"] and skipped[0]["reason"].startswith("truncated")
    assert "an earlier clip of this video failed" in skipped[1]["reason"]


@pytest.mark.parametrize("device", ["cpu", pytest.param("cuda", marks=pytest.mark.gpu)])
def test_bfloat16_tokens_equal_the_models(models, media, tmp_path, device):
    """In bfloat16 (the default on CUDA) the job maps its uint8 frames with one rounding, as
    the model's own path does, and streams the same chunks: the same tokens, not merely close
    (one clip per batch, as the model's encode here, so that CUDA picks the same kernels)."""
    folder = tmp_path / "inputs"
    folder.mkdir()
    for name in ("b0.mp4", "c0.mp4"):
        (folder / name).write_bytes((media / name).read_bytes())
    run_tokenize_job(_config(models["DV"], str(folder), tmp_path / "out", *AR, "run.batch_size=1", "model.dtype=bfloat16", f"model.device={device}"))
    documents = IndexedDocuments(tmp_path / "out" / "tokens")
    assert len(documents) == 3
    model = CausalVideoTokenizer.from_pretrained(models["DV"], load_decoder=False, device=device, dtype="bfloat16")
    for doc in range(len(documents)):
        expected = _direct_encode(model, documents.source(doc)).long().cpu()
        assert torch.equal(documents.token_grid(doc), expected)


def test_two_ranks_with_torchrun_write_the_bytes_of_one(ar_run, models, media, tmp_path):
    reference, _ = ar_run
    output = tmp_path / "two"
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", str(RECIPE)]
    overrides = [f"model.name_or_path={models['DV']}", f"input.paths={media}", f"output.dir={output}", *SETTINGS, *RUN, *AR]
    environment = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    done = subprocess.run(command + overrides, env=environment, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "4 parts written, 0 reused" in done.stdout + done.stderr and "on 2 ranks:" in done.stdout + done.stderr
    _same_files(reference, output, DATASET_FILES)


def test_a_killed_job_resumes_to_the_same_bytes_without_redoing_finished_parts(ar_run, models, media, tmp_path):
    reference, _ = ar_run
    output = tmp_path / "killed"
    # a forked process: NeMo is already imported here, so the job starts at once
    job = multiprocessing.get_context("fork").Process(target=run_tokenize_job, args=(_config(models["DV"], str(media), output, *AR),))
    job.start()
    deadline = time.monotonic() + 240
    while not list(output.glob("parts/*/tokens-000000000-000000002.json")) and job.is_alive() and time.monotonic() < deadline:
        time.sleep(0.005)
    os.kill(job.pid, signal.SIGKILL)
    job.join()
    assert job.exitcode == -signal.SIGKILL
    (build,) = (output / "parts").iterdir()
    first = build / "tokens-000000000-000000002"
    parts = sorted(build.glob("*.json"))
    assert is_complete(first) and len(parts) < 4, "the job must be killed after its first part and before its last"
    assert not (output / "tokens.bin").exists() and not (output / "tokens.json").exists()
    finished = {path: path.stat().st_mtime_ns for part in parts for path in build.glob(part.stem + ".*")}

    summary = run_tokenize_job(_config(models["DV"], str(media), output, *AR))
    assert summary.parts_reused == len(parts) and summary.parts_written == 4 - len(parts)
    assert all(path.stat().st_mtime_ns == mtime for path, mtime in finished.items()), "finished parts were rewritten"
    assert not list(build.glob("*.partial"))
    _same_files(reference, output, DATASET_FILES)
    again = run_tokenize_job(_config(models["DV"], str(media), output, *AR))
    assert (again.parts_written, again.parts_reused, again.documents) == (0, 0, 4)  # a finished job is left alone


def test_official_torchscript_files_give_the_same_tokens(ar_run, models, media, tmp_path):
    """With use_pytorch=false the model runs encoder.jit, which keeps no causal state: clips are encoded whole."""
    reference, _ = ar_run
    model = _load(models["DV"])
    directory = tmp_path / "torchscript"
    export_torchscript(model.network, directory, torch.zeros(1, 3, 9, 32, 32), parts=("encoder",))
    (directory / "config.json").write_bytes((models["DV"] / "config.json").read_bytes())
    run_tokenize_job(_config(directory, str(media), tmp_path / "out", "model.use_pytorch=false", "run.batch_size=1", *AR))
    _same_files(reference, tmp_path / "out", ["tokens.bin", "tokens.idx", "skipped.jsonl"])


@pytest.fixture(scope="module")
def caption_tokenizer(tmp_path_factory):
    """A tiny word-level Hugging Face tokenizer, built here and loaded from its directory."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    words = ["[UNK]", "a", "red", "square", "moves", "across", "the", "frame", "still", "picture"]
    tokenizer = Tokenizer(models.WordLevel({word: i for i, word in enumerate(words)}, unk_token="[UNK]"))
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    directory = tmp_path_factory.mktemp("caption_tokenizer")
    PreTrainedTokenizerFast(tokenizer_object=tokenizer, unk_token="[UNK]").save_pretrained(directory)
    return directory, tokenizer


@pytest.mark.parametrize("multimodal", [False, True])
def test_captions_come_before_the_vision_tokens(multimodal, caption_tokenizer, models, media, tmp_path):
    directory, words = caption_tokenizer
    write_image(tmp_path / "still.png", np.tile(np.arange(40, dtype=np.uint8)[:, None, None] * 6, (1, 48, 3)))
    manifest = tmp_path / "captions.jsonl"
    lines = [{"path": str(media / "a0.mp4"), "caption": "a red square moves across the frame"}, {"path": "still.png", "caption": "a still picture"}, {"path": str(media / "c0.mp4")}]
    manifest.write_text("".join(json.dumps(line) + "\n" for line in lines))
    with pytest.raises(ValueError, match="tokens.offset=10"):
        run_tokenize_job(_config(models["DV"], str(manifest), tmp_path / "out", f"captions.tokenizer={directory}"))
    specials = ["tokens.offset=12", "tokens.begin_of_video_id=10", "tokens.end_of_video_id=11"]
    run_tokenize_job(_config(models["DV"], str(manifest), tmp_path / "out", f"captions.tokenizer={directory}", f"captions.multimodal={multimodal}", *specials))
    prefix = str(tmp_path / "out" / "tokens")
    layout = TokenLayout(codebook_size=64000, offset=12, begin_of_video_id=10, end_of_video_id=11)
    model = _load(models["DV"])
    documents = IndexedDocuments(prefix)
    indexed = IndexedDataset(prefix, multimodal=multimodal)
    assert len(documents) == 3 and documents.shape(1) == [1, 4, 4]  # the image is a one-frame clip
    for doc, line in enumerate(lines):
        vision = layout.to_sequence(_direct_encode(model, documents.source(doc)))
        text = np.array(words.encode(line["caption"]).ids if "caption" in line else [], dtype=np.uint16)
        first, last = int(indexed.document_indices[doc]), int(indexed.document_indices[doc + 1])
        if multimodal:
            sequences, modes = indexed[first:last]
            expected = [text, vision] if len(text) else [vision]
            assert list(modes) == ([0, 1] if len(text) else [1])
            assert [list(s) for s in sequences] == [list(e) for e in expected]
        else:
            assert last - first == 1
            np.testing.assert_array_equal(indexed[first], np.concatenate([text, vision]))
        np.testing.assert_array_equal(documents.vision_sequence(doc), vision)
    assert read_sidecar(prefix)["captions"]["vocab_size"] == 10


def test_diffusion_latents_are_served_by_the_cosmos_dataset_from_a_blend_and_a_split(models, media, tmp_path):
    manifest = tmp_path / "mixed.jsonl"
    write_image(tmp_path / "wide.png", np.tile(np.arange(64, dtype=np.uint8)[None, :, None] * 4, (40, 1, 3)))
    manifest.write_text("".join(json.dumps({"path": str(p)}) + "\n" for p in (tmp_path / "wide.png", media / "c0.mp4", media / "b1_empty.mp4", media / "a0.mp4")))
    diffusion = lambda inputs, out, *extra: _config(models["CV"], inputs, out, *extra, config_name="tokenize_diffusion")  # noqa: E731
    run_tokenize_job(diffusion(str(media / "[abc]0.mp4"), tmp_path / "videos"))
    run_tokenize_job(diffusion(str(manifest), tmp_path / "mixed", "latents.dtype=bfloat16"))
    prefixes = [str(tmp_path / "videos" / "latents"), str(tmp_path / "mixed" / "latents")]
    assert [read_sidecar(p)["num_documents"] for p in prefixes] == [4, 3]
    assert read_skipped(tmp_path / "mixed" / "skipped.jsonl")[0]["path"].endswith("b1_empty.mp4")

    config = CosmosIndexedDatasetConfig(random_seed=5, blend=(prefixes, None), split="1,1,1")
    splits = BlendedMegatronDatasetBuilder(CosmosIndexedDataset, [None, None, None], lambda: True, config).build()
    model = _load(models["CV"])
    seen = set()
    for split in splits:
        assert isinstance(split, BlendedDataset)
        for i in range(len(split)):
            sample = split[i]
            blend = int(sample["dataset_id"])
            source = IndexedDocuments(prefixes[blend]).source(sample["document_id"])
            expected = _direct_encode(model, source)
            latent = sample["latent"]
            assert latent.shape == expected.shape == ((16, 3, 4, 4) if source["kind"] == "video" else (16, 1, 4, 4))
            if blend == 0:
                torch.testing.assert_close(latent, expected, atol=1e-5, rtol=0)
            else:  # bfloat16, stored bit-exact: the encoder output cast once
                assert latent.dtype == torch.bfloat16 and torch.equal(latent.view(torch.int16), expected.to(torch.bfloat16).view(torch.int16))
            seen.add((blend, sample["document_id"]))
    assert seen == {(0, 0), (0, 1), (0, 2), (0, 3), (1, 0), (1, 1), (1, 2)}


def test_an_image_model_tokenizes_images_and_skips_videos(models, media, tmp_path):
    folder = tmp_path / "images"
    folder.mkdir()
    ramp = np.arange(48, dtype=np.uint8)[:, None] * 5
    Image.fromarray(np.tile(ramp, (1, 40))).save(folder / "grey.png")
    Image.fromarray(np.dstack([np.tile(ramp, (1, 56))] * 3 + [np.full((48, 56), 128, np.uint8)])).save(folder / "rgba.png")
    Image.fromarray(np.tile(ramp, (1, 48))).convert("P").save(folder / "palette.png")
    (folder / "clip.mp4").write_bytes((media / "a0.mp4").read_bytes())
    summary = run_tokenize_job(_config(models["DI"], str(folder), tmp_path / "out", "run.batch_size=3"))
    prefix = tmp_path / "out" / "tokens"
    documents = IndexedDocuments(prefix)
    assert summary.documents == 3 and [Path(documents.source(d)["path"]).name for d in range(3)] == ["grey.png", "palette.png", "rgba.png"]
    model = _load(models["DI"])
    for doc in range(3):
        assert torch.equal(documents.token_grid(doc), _direct_encode(model, documents.source(doc)).long())
        assert documents.shape(doc) == [4, 4]
    (record,) = read_skipped(tmp_path / "out" / "skipped.jsonl")
    assert record["path"].endswith("clip.mp4") and "image tokenizer" in record["reason"]


def test_clip_lengths_and_options_are_checked_with_clear_errors(models, media, tmp_path):
    with pytest.raises(ValueError, match=r"clip length must be 1 \+ k\*4 .*got 8"):
        run_tokenize_job(_config(models["DV"], str(media), tmp_path, "clips.num_frames=8"))
    with pytest.raises(ValueError, match="height must be a positive multiple of 8"):
        run_tokenize_job(_config(models["DV"], str(media), tmp_path, "frames.height=30"))
    with pytest.raises(ValueError, match=r"tokens\.\*: end_of_video_id 5 must be a non-negative id outside the vision ids \[0, 64000\).*64000 codes"):
        run_tokenize_job(_config(models["DV"], str(media), tmp_path, "tokens.end_of_video_id=5"))
    with pytest.raises(ValueError, match="Key 'batchsize' not in 'RunOptions'"):
        run_tokenize_job(_config(models["DV"], str(media), tmp_path, "+run.batchsize=3"))  # a key hydra lets through with +
    assert not list(tmp_path.iterdir())
