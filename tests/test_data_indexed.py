"""Megatron indexed output: writing with megatron-core's builder, reading back, merging parts, atomicity."""

import json
import os

import numpy as np
import pytest
import torch
from megatron.core.datasets.gpt_dataset import GPTDataset
from megatron.core.datasets.indexed_dataset import IndexedDataset

from nemo_cosmos.data.indexed.atomic import partial_path
from nemo_cosmos.data.indexed.reader import IndexedDocuments
from nemo_cosmos.data.indexed.records import iter_records, iter_skipped
from nemo_cosmos.data.indexed.sidecar import is_complete, read_sidecar, token_header
from nemo_cosmos.data.indexed.skipped import read_skipped, skip_record
from nemo_cosmos.data.indexed.token_layout import TokenLayout
from nemo_cosmos.data.indexed.writer import IndexedDatasetWriter, merge_parts
from nemo_cosmos.data.media import ClipSampling, FrameGeometry, frames_to_tensor, plan_clips, probe_video, read_clips
from nemo_cosmos.formula_weights import fill_with_formula
from nemo_cosmos.networks import TokenizerConfig
from nemo_cosmos.pretrained import build_network

from data_samples import write_moving_shapes_video
from megatron_reading import gpt_splits

SMALL_DV = TokenizerConfig(family="DV", spatial_compression=8, temporal_compression=4, channels=32, channels_mult=[1, 2, 2], num_res_blocks=1)
LAYOUT = TokenLayout(codebook_size=SMALL_DV.codebook_size, offset=2, begin_of_video_id=0, end_of_video_id=1)


@pytest.fixture(scope="module")
def encoded_clips(tmp_path_factory):
    """Six real documents: clips of generated videos, resized and cropped, encoded by a small DV network."""
    folder = tmp_path_factory.mktemp("videos")
    network = fill_with_formula(build_network(SMALL_DV, decoder=False)).eval()
    sampling = ClipSampling(num_frames=9, temporal_compression=4, frame_stride=2, max_clips_per_video=None)
    geometry = FrameGeometry(height=32, width=32, multiple=8, min_side=8)
    documents = []
    for seed, length in enumerate((18, 36, 54)):
        path = folder / f"video{seed}.mp4"
        write_moving_shapes_video(path, num_frames=length, height=40, width=56, seed=seed)
        info = probe_video(path)
        clips, reason = plan_clips(info.num_frames, info.fps, sampling)
        assert reason is None
        for clip, frames in read_clips(path, clips, transform=geometry.apply):
            with torch.no_grad():
                indices, _ = network.encode(frames_to_tensor(frames)[None])
            source = {"path": str(path), "start_frame": clip.start_frame, "end_frame": clip.end_frame}
            documents.append((indices[0], source))
    assert len(documents) == 6
    return documents


def _header(multimodal=False):
    return token_header("test-DV4x8x8", SMALL_DV.to_dict(), LAYOUT, 4, 8, multimodal=multimodal)


def _write(prefix, documents, skipped=()):
    """Each document and each skip record as an input of its own, documents first."""
    return _write_groups(prefix, [(documents, skipped)])


def _write_groups(prefix, groups):
    """Groups of (documents, skip records), in order; every document and skip record is an input of its own."""
    with IndexedDatasetWriter(prefix, _header()) as writer:
        for documents, skipped in groups:
            for indices, source in documents:
                writer.add_document([LAYOUT.to_sequence(indices)], shape=indices.shape, source=source)
                writer.end_input({"path": source["path"]})
            for record in skipped:
                writer.add_skipped(record)
                writer.end_input({"path": record["path"]})
    return prefix


def test_token_layout_offsets_specials_and_dtype():
    grid = np.arange(24).reshape(2, 3, 4) % 7
    layout = TokenLayout(codebook_size=64000, offset=100, begin_of_video_id=0, end_of_video_id=64100)
    sequence = layout.to_sequence(grid)
    assert layout.vocab_size == 64101 and sequence.dtype == np.uint16
    assert sequence[0] == 0 and sequence[-1] == 64100 and list(sequence[1:5]) == [100, 101, 102, 103]
    np.testing.assert_array_equal(layout.to_indices(sequence, grid.shape), grid)
    assert TokenLayout(codebook_size=65536).dtype == np.uint16
    assert TokenLayout(codebook_size=65536, end_of_video_id=65536).dtype == np.int32
    assert TokenLayout(codebook_size=64000, offset=32000).dtype == np.int32
    with pytest.raises(ValueError, match=r"\[0, 64000\)"):
        layout.to_sequence(np.array([64000]))
    with pytest.raises(ValueError, match="outside the vision ids"):
        TokenLayout(codebook_size=10, offset=5, begin_of_video_id=7)


def test_tokens_read_back_with_indexed_dataset_and_reader(tmp_path, encoded_clips):
    prefix = _write(str(tmp_path / "ar"), encoded_clips, skipped=[skip_record("/x/broken.mp4", "cannot open as video: bad\ndata")])
    assert is_complete(prefix)
    indexed = IndexedDataset(prefix)
    assert len(indexed) == 6 and indexed.index.dtype == np.uint16
    documents = IndexedDocuments(prefix)
    sidecar = read_sidecar(prefix)
    assert sidecar["vocab_size"] == SMALL_DV.codebook_size + 2 and sidecar["compression"] == {"temporal": 4, "spatial": 8}
    assert sidecar["tokenizer"]["config"]["family"] == "DV" and list(iter_skipped(prefix)) == [{"path": "/x/broken.mp4", "reason": "cannot open as video: bad data"}]
    assert sidecar["num_inputs"] == 7 and [record["path"] for record in iter_records(prefix)][-2:] == [encoded_clips[-1][1]["path"], "/x/broken.mp4"]
    for doc, (indices, source) in enumerate(encoded_clips):
        stored = indexed[doc]
        assert stored[0] == 0 and stored[-1] == 1 and len(stored) == 3 * 4 * 4 + 2
        np.testing.assert_array_equal(stored[1:-1].astype(np.int64) - 2, indices.numpy().reshape(-1))
        assert torch.equal(documents.token_grid(doc), indices.long())
        assert documents.shape(doc) == [3, 4, 4] and documents.source(doc) == source
        assert documents[doc]["start_frame"] == source["start_frame"]


def test_gpt_dataset_built_by_megatron_returns_the_written_tokens(tmp_path, encoded_clips):
    prefix = _write(str(tmp_path / "ar"), encoded_clips)
    written = {tuple(LAYOUT.to_sequence(indices).tolist()) for indices, _ in encoded_clips}
    length = 3 * 4 * 4 + 2
    train, valid, test = gpt_splits(prefix, length, LAYOUT.vocab_size, str(tmp_path / "cache"))
    assert valid is None and test is None and isinstance(train, GPTDataset) and len(train) == 6
    samples = {tuple(train[i]["tokens"].tolist()) for i in range(len(train))}
    assert samples == written


def test_two_parts_merge_to_the_bytes_of_one(tmp_path, encoded_clips):
    skipped = [skip_record("/in/short.mp4", "too short"), skip_record("/in/tiny.png", "too small")]
    single = _write_groups(str(tmp_path / "single"), [(encoded_clips[:4], skipped[:1]), (encoded_clips[4:], skipped[1:])])
    part0 = _write(str(tmp_path / "parts" / "part-00000-of-00002"), encoded_clips[:4], skipped[:1])
    part1 = _write(str(tmp_path / "parts" / "part-00001-of-00002"), encoded_clips[4:], skipped[1:])
    merged_one = str(tmp_path / "merged1" / "ar")
    merged_two = str(tmp_path / "merged2" / "ar")
    merge_parts([single], merged_one, skipped_path=tmp_path / "merged1" / "skipped.jsonl")
    sidecar = merge_parts([part0, part1], merged_two, skipped_path=tmp_path / "merged2" / "skipped.jsonl")
    assert sidecar["num_documents"] == 6
    for suffix in (".bin", ".idx", ".inputs.jsonl", ".json"):
        reference = open(merged_one + suffix, "rb").read()
        assert open(merged_two + suffix, "rb").read() == reference
        assert open(single + suffix, "rb").read() == reference
    assert read_skipped(tmp_path / "merged2" / "skipped.jsonl") == skipped
    assert (tmp_path / "merged2" / "skipped.jsonl").read_bytes() == (tmp_path / "merged1" / "skipped.jsonl").read_bytes()


def test_merge_refuses_incomplete_or_foreign_parts(tmp_path, encoded_clips):
    good = _write(str(tmp_path / "good"), encoded_clips[:2])
    other = str(tmp_path / "other")
    with IndexedDatasetWriter(other, token_header("another", {}, LAYOUT, 4, 8)) as writer:
        writer.add_document([LAYOUT.to_sequence(encoded_clips[0][0])], shape=[3, 4, 4], source={"path": "p"})
    final = _write(str(tmp_path / "final"), encoded_clips[:1])
    with pytest.raises(ValueError, match=r"differs from the other parts in \['tokenizer'\]"):
        merge_parts([good, other], final)
    with pytest.raises(ValueError, match="not complete"):
        merge_parts([good, str(tmp_path / "missing")], final)
    assert is_complete(final), "a refused merge must leave the existing final dataset alone"


def test_interrupted_writes_leave_no_final_files(tmp_path, encoded_clips):
    prefix = str(tmp_path / "ar")
    finals = [f"{prefix}.bin", f"{prefix}.idx", f"{prefix}.inputs.jsonl", f"{prefix}.json"]
    with pytest.raises(RuntimeError, match="encoder crashed"):
        with IndexedDatasetWriter(prefix, _header()) as writer:
            writer.add_document([LAYOUT.to_sequence(encoded_clips[0][0])], shape=[3, 4, 4], source={"path": "a"})
            raise RuntimeError("encoder crashed")
    assert not any(os.path.exists(p) for p in finals)
    assert not partial_path(f"{prefix}.bin").exists()

    killed = IndexedDatasetWriter(prefix, _header())  # a process killed mid-write never calls finish()
    for indices, source in encoded_clips[:3]:
        killed.add_document([LAYOUT.to_sequence(indices)], shape=indices.shape, source=source)
    killed._builder.data_file.flush()
    assert partial_path(f"{prefix}.bin").stat().st_size > 0
    assert not is_complete(prefix) and not any(os.path.exists(p) for p in finals)

    _write(prefix, encoded_clips)  # the re-run overwrites the partial files and completes
    assert is_complete(prefix) and len(IndexedDataset(prefix)) == 6
    rewriting = IndexedDatasetWriter(prefix, _header())  # replacing a finished dataset un-marks it first
    assert not is_complete(prefix)
    rewriting.abort()


def test_writer_rejects_wrong_sequences(tmp_path):
    with IndexedDatasetWriter(str(tmp_path / "ar"), _header()) as writer:
        with pytest.raises(ValueError, match="1-D uint16"):
            writer.add_document([np.arange(5, dtype=np.int64)], shape=[5], source={})
        with pytest.raises(ValueError, match="multimodal=False"):
            writer.add_document([np.arange(5, dtype=np.uint16)], shape=[5], source={}, modes=[1])
    multimodal = str(tmp_path / "mm")
    with IndexedDatasetWriter(multimodal, _header(multimodal=True)) as writer:
        writer.add_document([np.array([7, 8, 9], np.uint16), LAYOUT.to_sequence(np.zeros((1, 2, 2), np.int64))], shape=[1, 2, 2], source={"path": "v"}, modes=[0, 1])
    documents = IndexedDocuments(multimodal)
    assert documents.token_grid(0).shape == (1, 2, 2)
    indexed = IndexedDataset(multimodal, multimodal=True)  # keep it alive: its arrays view its mmap
    sequences, modes = indexed[0:2]
    assert list(modes) == [0, 1] and list(sequences[0]) == [7, 8, 9]
    assert json.loads(open(multimodal + ".json").read())["sequence_modes"] == {"text": 0, "vision": 1}
