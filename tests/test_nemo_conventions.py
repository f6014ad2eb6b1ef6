"""NeMo's conventions: ``from_pretrained`` takes ``map_location`` and ``strict``, so a NeMo
config's ``init_from_pretrained_model`` works, and fitting trains in train mode."""

import lightning.pytorch as pl
import pytest
import torch
from omegaconf import OmegaConf, open_dict

from nemo_cosmos.data.media import write_image
from nemo_cosmos.formula_weights import fill_with_formula
from nemo_cosmos.models import CausalVideoTokenizer
from nemo_cosmos.pretrained import CheckpointMismatchError

from conftest import small_config
from data_samples import moving_shapes


def _model(network=None, trainer=None, **sections) -> CausalVideoTokenizer:
    cfg = CausalVideoTokenizer.make_config(network or small_config("DV"), device="cpu", dtype="float32")
    with open_dict(cfg):
        cfg.merge_with(sections)
    return CausalVideoTokenizer(cfg, trainer=trainer)


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """A small DV model with formula weights and an encoder-only one, in from_pretrained's format."""
    root = tmp_path_factory.mktemp("pretrained")
    full = _model()
    fill_with_formula(full.network)
    full.save_pretrained(root / "full")
    encoder_only = CausalVideoTokenizer(CausalVideoTokenizer.make_config(small_config("DV"), decoder=False, device="cpu", dtype="float32"))
    fill_with_formula(encoder_only.network)
    encoder_only.save_pretrained(root / "encoder-only")
    return {"full": root / "full", "encoder-only": root / "encoder-only", "state": full.state_dict()}


def _same(a: dict, b: dict, prefix: str = "") -> bool:
    return all(torch.equal(a[key], b[key]) for key in a if key.startswith(prefix))


def test_map_location_is_the_device_and_strict_false_loads_what_fits(saved):
    model = CausalVideoTokenizer.from_pretrained(saved["full"], map_location="cpu", strict=True)
    assert model.device.type == "cpu" and _same(model.state_dict(), saved["state"])
    with pytest.raises(ValueError, match="disagree"):
        CausalVideoTokenizer.from_pretrained(saved["full"], device="cpu", map_location="cuda")

    with pytest.raises(CheckpointMismatchError, match="missing"):
        CausalVideoTokenizer.from_pretrained(saved["encoder-only"], device="cpu")
    partial = CausalVideoTokenizer.from_pretrained(saved["encoder-only"], device="cpu", strict=False)
    assert partial.network.has_decoder
    assert _same(partial.state_dict(), saved["state"], "network.encoder.")
    assert not _same(partial.state_dict(), saved["state"], "network.decoder.")


def test_init_from_pretrained_model_in_a_nemo_config(saved):
    model = _model()
    assert not _same(model.state_dict(), saved["state"], "network.")
    model.maybe_init_from_pretrained_checkpoint(OmegaConf.create({"init_from_pretrained_model": str(saved["full"])}))
    assert _same(model.state_dict(), saved["state"])

    decoder_only = _model()
    before = {key: value.clone() for key, value in decoder_only.state_dict().items()}
    config = {"init_from_pretrained_model": {"tokenizer": {"name": str(saved["full"]), "include": ["network.decoder."]}}}
    decoder_only.maybe_init_from_pretrained_checkpoint(OmegaConf.create(config))
    assert _same(decoder_only.state_dict(), saved["state"], "network.decoder.")
    assert _same(decoder_only.state_dict(), before, "network.encoder.")


@pytest.mark.slow  # a real Trainer.fit
def test_fit_trains_in_train_mode_and_ends_in_eval_mode(tmp_path):
    """The decoder trains in train mode (dropout on); the frozen encoder stays in eval mode."""
    photos = tmp_path / "photos"
    photos.mkdir()
    for seed in range(2):
        write_image(photos / f"photo{seed}.png", moving_shapes(1, 40, 40, seed=seed)[0])
    sections = {
        "train_ds": {"sources": str(photos), "size": 16, "frames": 5, "samples": 2, "batch_size": 2, "num_workers": 0},
        "optim": {"name": "adamw", "lr": 1e-4},
        "loss": {"ssim_weight": 0.2},
        "freeze_encoder": True,
    }
    seen = {}

    class RecordModes(pl.Callback):
        def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
            network = pl_module.network
            seen["decoder"] = {m.training for m in network.decoder.modules()}
            seen["encoder"] = {m.training for m in [*network.encoder.modules(), *network.quant_conv.modules()]}

    trainer = pl.Trainer(max_steps=1, accelerator="cpu", logger=False, enable_checkpointing=False, enable_progress_bar=False, callbacks=[RecordModes()])
    model = _model(small_config("DV", dropout=0.1), trainer, **sections)
    trainer.fit(model)
    assert seen == {"decoder": {True}, "encoder": {False}}
    assert not any(module.training for module in model.modules())
