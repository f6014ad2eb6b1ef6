"""The optional training terms: the colour term measures a colour cast, the decorrelation
term measures how alike the FSQ channels are, and training on it pulls them apart."""

import lightning.pytorch as pl
import torch
from test_training import load_recipe, recipe_config

from nemo_cosmos.models.losses import color_loss, decorrelation_loss


def test_the_colour_term_is_the_mean_colour_error():
    target = torch.rand(2, 3, 5, 8, 8) * 2 - 1
    shifted = target.clone()
    shifted[:, 0] += 0.3  # a red cast
    assert torch.isclose(color_loss(shifted, target), torch.tensor(0.1))
    checker = (torch.arange(8)[:, None] + torch.arange(8)) % 2 * 0.6 - 0.3  # +-0.3, mean 0
    assert color_loss(target + checker, target) < 1e-6  # an error that averages out is no cast


def test_the_decorrelation_term_is_one_for_copies_and_near_zero_for_independent_channels():
    base = torch.randn(4, 1, 3, 16, 16)
    assert torch.isclose(decorrelation_loss(torch.cat([base, 2 * base + 1, -base], dim=1)), torch.tensor(1.0), atol=1e-5)
    assert decorrelation_loss(torch.randn(4, 6, 3, 16, 16)) < 0.01


def test_training_with_the_decorrelation_term_pulls_the_fsq_channels_apart(tmp_path):
    recipe = load_recipe()
    cfg = recipe_config(tmp_path, max_steps=1)
    cfg.model.loss.decorrelation_weight, cfg.model.loss.color_weight = 5.0, 1.0
    cfg.model.train_ds.flip = False  # the crops as drawn: this measures the loss term, not the augmentation
    trainer = pl.Trainer(max_steps=1, accelerator="cpu", logger=False, enable_checkpointing=False, enable_progress_bar=False)
    torch.manual_seed(0)
    model = recipe.build_model(cfg, trainer)
    model.train()
    logged = {}
    model.log_dict = lambda logs, **kwargs: logged.update(logs)  # logging needs a running Trainer loop
    clip = torch.stack([model._train_dl.dataset[i] for i in range(4)])
    with torch.no_grad():  # a fresh network's FSQ channels start out strongly alike
        model.network.quant_conv.conv3d.weight[1:] = model.network.quant_conv.conv3d.weight[:1]
    optimizer = torch.optim.AdamW(model.network.parameters(), lr=1e-3)
    for step in range(15):
        loss = model.training_step(clip, step)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if step == 0:
            first = float(logged["train_decorrelation"])
    assert {"train_color_shift", "train_decorrelation", "train_psnr"} <= set(logged)
    assert first > 0.9 and float(logged["train_decorrelation"]) < 0.5 * first
