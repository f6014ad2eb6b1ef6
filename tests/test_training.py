"""The training recipe: a small model learns on CPU, resumes from its checkpoint, and its
exports (.nemo and our directory format) load and reproduce its outputs; adversarial
training runs under DDP (two CPU processes, gloo)."""

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from omegaconf import OmegaConf
from PIL import Image

from nemo_cosmos import CausalVideoTokenizer
from nemo_cosmos.models.training import UNUSED_PARAMETERS_DDP, training_strategy

from conftest import small_config

pytestmark = pytest.mark.slow  # goldens, subprocesses, torchrun, real recipes

ROOT = Path(__file__).parents[1]


def load_recipe():
    spec = importlib.util.spec_from_file_location("train_tokenizer", ROOT / "recipes" / "train_tokenizer.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def smooth_photo(seed: int, size: int = 96) -> np.ndarray:
    """A smooth random colour field: easy to learn, unlike noise."""
    rng = np.random.default_rng(seed)
    coarse = rng.uniform(0, 255, size=(4, 4, 3)).astype(np.uint8)
    return np.asarray(Image.fromarray(coarse).resize((size, size), Image.BICUBIC))


def recipe_config(tmp_path: Path, max_steps: int):
    photos = tmp_path / "photos"
    photos.mkdir(exist_ok=True)
    for seed in range(2):
        Image.fromarray(smooth_photo(seed)).save(photos / f"photo_{seed}.png")
    cfg = OmegaConf.load(ROOT / "conf" / "train_tokenizer.yaml")
    network = small_config("DV", 8, 4).to_dict()
    overrides = {
        "network": network,
        "model": {
            "train_ds": {"sources": str(photos), "size": 32, "frames": 5, "samples": 8, "batch_size": 4, "num_workers": 0},
            "validation_ds": {"samples": 4, "batch_size": 4},
            "optim": {"lr": 1e-3, "sched": {"warmup_steps": 2, "min_lr": 1e-4}},
        },
        "trainer": {"max_steps": max_steps, "max_epochs": -1, "accelerator": "cpu", "log_every_n_steps": 1,
                    "enable_progress_bar": False, "val_check_interval": 2},
        "exp_manager": {"exp_dir": str(tmp_path / "exp"), "create_tensorboard_logger": False},
    }
    return OmegaConf.merge(cfg, overrides)


@pytest.fixture(autouse=True)
def _one_thread():
    torch.set_num_threads(1)


def test_training_learns_resumes_and_exports(tmp_path):
    recipe = load_recipe()
    cfg = recipe_config(tmp_path, max_steps=12)
    recipe.main(cfg)
    exported = Path(cfg.export_nemo)
    assert exported.is_file() and (Path(cfg.export_dir) / "model.safetensors").is_file()
    checkpoints = Path(cfg.exp_manager.exp_dir) / cfg.name / "checkpoints"
    last = next(checkpoints.glob("*last.ckpt"))
    state = torch.load(last, map_location="cpu", weights_only=False)
    assert state["global_step"] == 12

    # Re-running with more steps resumes from the last checkpoint instead of starting over.
    recipe.main(recipe_config(tmp_path, max_steps=16))
    log = (Path(cfg.exp_manager.exp_dir) / cfg.name / "lightning_logs.txt").read_text()
    assert f"Restored all states from the checkpoint at {last}" in log
    resumed = torch.load(next(checkpoints.glob("*last.ckpt")), map_location="cpu", weights_only=False)
    assert resumed["global_step"] > state["global_step"]

    # The exports load and reproduce the trained model's outputs.
    from_nemo = CausalVideoTokenizer.restore_from(str(exported), map_location="cpu")
    from_dir = CausalVideoTokenizer.from_pretrained(cfg.export_dir, device="cpu")
    clip = torch.as_tensor(smooth_photo(0, 32)).permute(2, 0, 1)[:, None].expand(-1, 5, -1, -1).float() / 127.5 - 1
    clip = clip[None]
    nemo_indices, _ = from_nemo.encode(clip)
    dir_indices, _ = from_dir.encode(clip)
    assert torch.equal(nemo_indices, dir_indices)
    torch.testing.assert_close(from_nemo.decode(nemo_indices), from_dir.decode(dir_indices))


def test_training_makes_the_loss_fall(tmp_path):
    """A few optimiser steps on a fixed clip, through the model's own training_step."""
    recipe = load_recipe()
    cfg = recipe_config(tmp_path, max_steps=1)
    import lightning.pytorch as pl

    trainer = pl.Trainer(max_steps=1, accelerator="cpu", logger=False, enable_checkpointing=False, enable_progress_bar=False)
    model = recipe.build_model(cfg, trainer)
    model.train()
    optimizer = torch.optim.AdamW(model.network.parameters(), lr=3e-4)
    clip = torch.stack([model._train_dl.dataset[i] for i in range(4)])
    model.log_dict = lambda *args, **kwargs: None  # logging needs a running Trainer loop
    losses = []
    for step in range(30):
        loss = model.training_step(clip, step)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(float(loss))
    assert np.mean(losses[-3:]) < 0.7 * np.mean(losses[:3]), losses


def test_adversarial_training_runs_under_ddp_on_two_processes(tmp_path):
    """Two torchrun processes (gloo), the patch-GAN term switched on after two steps: the
    discriminator has no gradients before that, and none of the tokenizer's in its own
    backward, which Lightning's default DDP rejects ("Expected to have finished reduction
    in the prior iteration"). The recipe picks a DDP that allows unused parameters."""
    cfg = recipe_config(tmp_path, max_steps=8)
    cfg.model.loss.adversarial_weight, cfg.model.loss.adversarial_start_step = 0.1, 2
    cfg.trainer.devices, cfg.trainer.val_check_interval = 2, 1.0  # one batch per process and epoch
    OmegaConf.save(cfg, tmp_path / "adversarial.yaml")
    command = [
        sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
        str(ROOT / "recipes" / "train_tokenizer.py"), f"--config-path={tmp_path}", "--config-name=adversarial",
    ]
    environment = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    done = subprocess.run(command, capture_output=True, text=True, cwd=tmp_path, env=environment, timeout=1200)
    assert done.returncode == 0, done.stderr[-6000:]
    last = next((Path(cfg.exp_manager.exp_dir) / cfg.name / "checkpoints").glob("*last.ckpt"))
    state = torch.load(last, map_location="cpu", weights_only=False)
    generator, discriminator = state["optimizer_states"]
    assert generator["state"] and discriminator["state"]  # both took steps: the GAN term was on
    assert Path(cfg.export_dir, "model.safetensors").is_file()


def test_the_strategy_allows_unused_parameters_only_for_adversarial_ddp():
    adversarial, plain = {"loss": {"adversarial_weight": 0.1}}, {"loss": {"adversarial_weight": 0.0}}
    two_cpus = {"strategy": "auto", "accelerator": "cpu", "devices": 2}
    assert training_strategy(two_cpus, adversarial) == UNUSED_PARAMETERS_DDP
    assert training_strategy(two_cpus, plain) == "auto"
    assert training_strategy({**two_cpus, "devices": "0,1"}, adversarial) == UNUSED_PARAMETERS_DDP
    assert training_strategy({**two_cpus, "devices": 1, "num_nodes": 2}, adversarial) == UNUSED_PARAMETERS_DDP
    assert training_strategy({**two_cpus, "devices": 1}, adversarial) == "auto"  # one process: no DDP
    assert training_strategy({**two_cpus, "devices": "auto"}, adversarial) == "auto"  # one CPU process
    assert training_strategy({**two_cpus, "devices": 1, "strategy": "ddp"}, adversarial) == UNUSED_PARAMETERS_DDP
    assert training_strategy({**two_cpus, "strategy": "fsdp"}, adversarial) == "fsdp"  # the user's choice stands
