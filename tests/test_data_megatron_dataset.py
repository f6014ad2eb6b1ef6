"""The latent/token MegatronDataset, built by megatron-core's BlendedMegatronDatasetBuilder from blends and splits."""

import pickle

import pytest
import torch
from megatron.core.datasets.blended_dataset import BlendedDataset
from megatron.core.datasets.blended_megatron_dataset_builder import BlendedMegatronDatasetBuilder

from nemo_cosmos.data.indexed.latent_storage import latent_to_sequence
from nemo_cosmos.data.indexed.megatron_dataset import CosmosIndexedDataset, CosmosIndexedDatasetConfig, build_cosmos_datasets
from nemo_cosmos.data.indexed.reader import IndexedDocuments
from nemo_cosmos.data.indexed.sidecar import latent_header, token_header
from nemo_cosmos.data.indexed.token_layout import TokenLayout
from nemo_cosmos.data.indexed.writer import IndexedDatasetWriter


def _write_latents(prefix, latents, dtype="float32"):
    header = latent_header("test-CV4x8x8", {"family": "CV"}, dtype, temporal_compression=4, spatial_compression=8, latent_channels=latents[0].shape[0])
    with IndexedDatasetWriter(prefix, header) as writer:
        for doc, latent in enumerate(latents):
            writer.add_document([latent_to_sequence(latent, dtype)], shape=latent.shape, source={"path": f"{prefix}-{doc}.mp4", "start_frame": doc, "end_frame": doc + 8})
    return prefix


@pytest.fixture(scope="module")
def two_prefixes(tmp_path_factory):
    folder = tmp_path_factory.mktemp("latents")
    generator = torch.Generator().manual_seed(0)
    first = [torch.randn(16, 3, 4, 4, generator=generator) for _ in range(10)]
    second = [torch.randn(16, 2, 4, 6, generator=generator) for _ in range(5)]
    return [(_write_latents(str(folder / "first"), first), first), (_write_latents(str(folder / "second"), second), second)]


def _assert_sample_is_written(sample, prefixes):
    prefix, latents = prefixes[int(sample["dataset_id"])]
    doc = sample["document_id"]
    assert torch.equal(sample["latent"], latents[doc]) and sample["latent"].shape == latents[doc].shape
    assert sample["path"] == f"{prefix}-{doc}.mp4" and (sample["start_frame"], sample["end_frame"]) == (doc, doc + 8)


def test_blend_of_two_prefixes_with_a_split_serves_exactly_the_written_latents(two_prefixes):
    assert not torch.distributed.is_initialized()
    config = CosmosIndexedDatasetConfig(random_seed=7, blend=([p for p, _ in two_prefixes], None), split="60,20,20")
    train, valid, test = BlendedMegatronDatasetBuilder(CosmosIndexedDataset, [None, None, None], lambda: True, config).build()
    # megatron-core splits each prefix by document: 10 -> 6/2/2, 5 -> 3/1/1
    expected = {
        "train": {(0, d) for d in range(6)} | {(1, d) for d in range(3)},
        "valid": {(0, 6), (0, 7), (1, 3)},
        "test": {(0, 8), (0, 9), (1, 4)},
    }
    for name, split in (("train", train), ("valid", valid), ("test", test)):
        assert isinstance(split, BlendedDataset)
        samples = [split[i] for i in range(len(split))]
        assert {(int(s["dataset_id"]), s["document_id"]) for s in samples} == expected[name] and len(samples) == len(expected[name])
        for sample in samples:
            _assert_sample_is_written(sample, two_prefixes)


def test_weighted_blend_draws_more_samples_than_documents(two_prefixes):
    config = CosmosIndexedDatasetConfig(random_seed=3, blend=([p for p, _ in two_prefixes], [1.0, 3.0]), split="100,0,0")
    train, valid, test = BlendedMegatronDatasetBuilder(CosmosIndexedDataset, [24, 0, 0], lambda: True, config).build()
    assert valid is None and test is None and len(train) == 24
    samples = [train[i] for i in range(len(train))]
    assert sum(int(s["dataset_id"]) == 1 for s in samples) == 18
    for sample in samples:
        _assert_sample_is_written(sample, two_prefixes)


def test_single_prefix_dataset_batches_and_pickles(two_prefixes):
    prefix, latents = two_prefixes[0]
    (train,) = build_cosmos_datasets([prefix], split="1,0,0", random_seed=5)[:1]
    assert isinstance(train, CosmosIndexedDataset) and len(train) == 10
    batch = next(iter(torch.utils.data.DataLoader(train, batch_size=5)))
    assert batch["latent"].shape == (5, 16, 3, 4, 4)
    for latent, doc in zip(batch["latent"], batch["document_id"].tolist()):
        assert torch.equal(latent, latents[doc])
    assert len(set(batch["document_id"].tolist())) == 5
    clone = pickle.loads(pickle.dumps(train))
    assert torch.equal(clone[2]["latent"], train[2]["latent"])
    in_order = build_cosmos_datasets([prefix], split="1,0,0", shuffle=False)[0]
    assert [in_order[i]["document_id"] for i in range(10)] == list(range(10))
    assert [train[i]["document_id"] for i in range(10)] != list(range(10))


def test_bfloat16_latents_are_stored_bit_exact(tmp_path):
    latent = torch.randn(16, 3, 4, 4, dtype=torch.float64).to(torch.bfloat16)
    latent[0, 0, 0, :3] = torch.tensor([-0.0, 1e-40, float("inf")], dtype=torch.bfloat16)
    prefix = _write_latents(str(tmp_path / "bf16"), [latent], dtype="bfloat16")
    documents = IndexedDocuments(prefix)
    assert documents.sidecar["dtype"] == "bfloat16" and documents.sidecar["storage_dtype"] == "int16"
    read = documents.latent(0)
    assert read.dtype == torch.bfloat16 and torch.equal(read.view(torch.int16), latent.view(torch.int16))
    sample = build_cosmos_datasets([prefix], split="1,0,0")[0][0]
    assert torch.equal(sample["latent"].view(torch.int16), latent.view(torch.int16))


def test_token_dataset_serves_grids_with_provenance(tmp_path):
    layout = TokenLayout(codebook_size=64000, offset=1, begin_of_video_id=0)
    grids = [torch.randint(0, 64000, (3, 4, 4)) for _ in range(4)]
    prefix = str(tmp_path / "ar")
    with IndexedDatasetWriter(prefix, token_header("test-DV", {}, layout, 4, 8)) as writer:
        for doc, grid in enumerate(grids):
            writer.add_document([layout.to_sequence(grid)], shape=grid.shape, source={"path": f"v{doc}.mp4", "start_frame": 9 * doc, "end_frame": 9 * doc + 8})
    train = build_cosmos_datasets([prefix], split="1,0,0")[0]
    for i in range(len(train)):
        sample = train[i]
        doc = sample["document_id"]
        assert torch.equal(sample["indices"], grids[doc]) and sample["path"] == f"v{doc}.mp4" and sample["start_frame"] == 9 * doc


def test_mock_configs_and_empty_splits_are_refused(two_prefixes):
    with pytest.raises(Exception, match="failed to build as a mock") as caught:
        BlendedMegatronDatasetBuilder(CosmosIndexedDataset, [None] * 3, lambda: True, CosmosIndexedDatasetConfig(random_seed=1)).build()
    assert "reads real data only" in str(caught.value.__cause__)
    prefix = two_prefixes[1][0]
    config = CosmosIndexedDatasetConfig(random_seed=1, blend=([prefix], None), split="99,1,0")
    with pytest.raises(ValueError, match="valid split has no documents"):
        BlendedMegatronDatasetBuilder(CosmosIndexedDataset, [None, 4, None], lambda: True, config).build()
