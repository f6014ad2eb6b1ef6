"""Training and fine-tuning of the tokenizers, as methods of the NeMo model.

Config sections (all optional until training starts):

- ``train_ds`` / ``validation_ds``: ``sources`` (directory, glob, manifest or list),
  ``size`` (square crop), ``frames`` (``1 + k*ct`` for video models; 1 for images),
  ``samples`` per epoch, ``batch_size``, ``num_workers``; ``flip``,
  ``permute_channels`` and ``invert`` augment (see ``TrainingSamples``); validation samples are seeded
  (``seed``) so every epoch scores the same crops.
- ``optim``: NeMo's optimizer config (``name``, ``lr``, ``betas``, ``sched``...).
- ``loss``: ``ssim_weight``; ``color_weight`` and ``decorrelation_weight`` (discrete
  models; 0 = off, see ``losses``); ``adversarial_weight`` (0 = off),
  ``adversarial_start_step``, ``discriminator_channels``, ``discriminator_lr``.
- ``freeze_encoder``: train the decoder only (the tokens of an existing dataset stay valid).

Several GPUs train with DDP; :func:`training_strategy` picks one that tolerates the
adversarial loss's idle parameters.

Discrete models train through FSQ's straight-through rounding.
"""

from collections.abc import Mapping, Sequence

import torch
from omegaconf import DictConfig, OmegaConf
from torch import Tensor, nn
from torch.utils.data import DataLoader

from nemo_cosmos.data.media.training_samples import TrainingSamples
from nemo_cosmos.models.losses import (
    PatchDiscriminator,
    color_loss,
    decorrelation_loss,
    discriminator_hinge_loss,
    generator_hinge_loss,
    psnr,
    reconstruction_loss,
)
from nemo_cosmos.modules import ResnetBlock
from nemo_cosmos.modules.attention import _AttentionBlock
from nemo_cosmos.networks import TokenizerConfig

UNUSED_PARAMETERS_DDP = "ddp_find_unused_parameters_true"


def training_strategy(trainer: Mapping, model: Mapping) -> str:
    """The Lightning strategy for a ``trainer`` config (``strategy``, ``devices``,
    ``num_nodes``, ``accelerator``) training a ``model`` config.

    With the adversarial loss on, each step runs two backward passes (the tokenizer's,
    then the discriminator's on a detached reconstruction) and the discriminator has no
    gradients before ``adversarial_start_step``: DDP must allow parameters without
    gradients, or Lightning stops at the first step. So ``ddp``, and ``auto`` where it
    means DDP (several devices or nodes), become ``ddp_find_unused_parameters_true``;
    any other choice is kept as given."""
    strategy = trainer.get("strategy", "auto")
    adversarial = float((model.get("loss") or {}).get("adversarial_weight", 0.0)) > 0
    if not adversarial or strategy not in ("auto", "ddp"):
        return strategy
    several = int(trainer.get("num_nodes", 1)) > 1 or _device_count(trainer.get("devices", "auto"), trainer.get("accelerator", "auto")) > 1
    return UNUSED_PARAMETERS_DDP if strategy == "ddp" or several else strategy


def _device_count(devices: int | str | Sequence[int], accelerator: str) -> int:
    """How many devices Lightning's ``devices`` asks for: a count, a list or ``"0,1"``;
    ``"auto"`` and -1 mean every GPU (one CPU process on the CPU)."""
    if isinstance(devices, str) and "," in devices:
        return len([d for d in devices.split(",") if d.strip()])
    if isinstance(devices, Sequence) and not isinstance(devices, str):
        return len(devices)
    if str(devices).strip() in ("auto", "-1"):
        return torch.cuda.device_count() if accelerator in ("auto", "gpu", "cuda") else 1
    return int(devices)


def init_for_training(network: nn.Module) -> nn.Module:
    """Start a fresh network near the identity: every residual branch (the last conv of
    each residual block, each attention's ``proj_out``) at zero, and a small decoder
    output. With PyTorch's default init the many residual additions blow the output up
    and training stalls; this way a small model learns in hundreds of steps, not
    thousands. Only for training from scratch: pretrained weights are left alone."""
    for module in network.modules():
        if isinstance(module, ResnetBlock):
            branch_end = module.conv2[-1] if isinstance(module.conv2, nn.Sequential) else module.conv2
            _zero(branch_end)
        elif isinstance(module, _AttentionBlock):
            _zero(module.proj_out)
    if getattr(network, "has_decoder", False):
        conv_out = network.decoder.conv_out
        last = conv_out[-1] if isinstance(conv_out, nn.Sequential) else conv_out
        last = getattr(last, "conv3d", last)
        with torch.no_grad():
            last.weight.mul_(0.1)
            last.bias.zero_()
    return network


def _zero(conv: nn.Module) -> None:
    conv = getattr(conv, "conv3d", conv)
    nn.init.zeros_(conv.weight)
    nn.init.zeros_(conv.bias)


class TokenizerTrainingMixin:
    """Lightning training hooks for :class:`CausalVideoTokenizer`."""

    def setup_training_parts(self) -> None:
        """Build what training needs beyond the network: the discriminator, frozen halves."""
        loss = self._cfg.get("loss") or {}
        self._adversarial = float(loss.get("adversarial_weight", 0.0)) > 0
        self.automatic_optimization = not self._adversarial
        if self._adversarial:
            self.discriminator = PatchDiscriminator(channels=int(loss.get("discriminator_channels", 32)))
        if self._cfg.get("freeze_encoder", False):
            for module in (self.network.encoder, self.network.quant_conv):
                module.requires_grad_(False)

    def setup(self, stage: str | None = None) -> None:
        """Lightning's setup hook: fitting puts the model in train mode (it is built in eval
        mode for inference, and Lightning keeps the mode it finds, so dropout would stay
        off); a frozen encoder stays in eval mode, so it gives the tokens it gives at
        inference. Runs before Lightning's model summary, which then counts the modes."""
        super().setup(stage)
        if stage == "fit":
            self.train()
            if self._cfg.get("freeze_encoder", False):
                for module in (self.network.encoder, self.network.quant_conv):
                    module.eval()

    def on_train_end(self) -> None:
        """Back to eval mode after fitting, ready for inference and export."""
        super().on_train_end()
        self.eval()

    def setup_training_data(self, train_data_config: DictConfig | dict) -> None:
        self._train_dl = self._samples_loader(train_data_config, seed=None)

    def setup_validation_data(self, val_data_config: DictConfig | dict) -> None:
        self._validation_dl = self._samples_loader(val_data_config, seed=int(val_data_config.get("seed", 0)))

    def _samples_loader(self, config: DictConfig | dict, seed: int | None) -> DataLoader:
        config = dict(config)
        network = TokenizerConfig.from_dict(OmegaConf.to_container(self._cfg.network, resolve=True))  # set up before the network
        frames = int(config.get("frames", 1))
        ct = network.temporal_compression
        if network.is_video and (frames - 1) % ct:
            raise ValueError(f"training clips need 1 + k*{ct} frames (e.g. {1 + ct}, {1 + 2 * ct}), got frames={frames}")
        samples = TrainingSamples(
            config["sources"], size=int(config["size"]), frames=frames, samples=int(config["samples"]),
            video=network.is_video, seed=seed,
            flip=bool(config.get("flip", False)), permute_channels=bool(config.get("permute_channels", False)),
            invert=bool(config.get("invert", False)),
        )
        workers = int(config.get("num_workers", 0))
        return DataLoader(
            samples, batch_size=int(config.get("batch_size", 4)), num_workers=workers,
            persistent_workers=workers > 0, drop_last=seed is None,
        )

    def setup_optimizer_param_groups(self) -> None:
        """The tokenizer's trainable weights; the discriminator has its own optimizer."""
        self._optimizer_param_groups = [{"params": [p for p in self.network.parameters() if p.requires_grad]}]

    def configure_optimizers(self):
        generator = super().configure_optimizers()
        if not self._adversarial:
            return generator
        lr = float(self._cfg.loss.get("discriminator_lr", 1e-4))
        discriminator = torch.optim.AdamW(self.discriminator.parameters(), lr=lr, betas=(0.5, 0.9))
        return [self._optimizer, discriminator]

    def _reconstruct(self, batch: Tensor) -> tuple[Tensor, Tensor | None]:
        """The reconstruction, and for discrete models the FSQ input before rounding."""
        network = self.network
        if network.quantizer is None:
            return network(batch), None
        z = network.quant_conv(network.encoder(batch))
        return network.decode_codes(network.quantizer.quantize(z)), z

    def _objective(self, reconstruction: Tensor, batch: Tensor, z: Tensor | None, stage: str) -> tuple[Tensor, dict[str, Tensor]]:
        """The tokenizer's loss without the adversarial term, and what to log of it (``stage``: train or val)."""
        weights = self._cfg.get("loss") or {}
        loss, parts = reconstruction_loss(reconstruction, batch, float(weights.get("ssim_weight", 0.2)))
        colour = color_loss(reconstruction, batch)
        logs = {"l1": parts["l1"], "ssim": parts["ssim"], "psnr": psnr(reconstruction.detach(), batch), "color_shift": colour.detach() * 127.5}
        loss = loss + float(weights.get("color_weight", 0.0)) * colour
        decorrelation_weight = float(weights.get("decorrelation_weight", 0.0))
        if z is not None and decorrelation_weight:
            decorrelation = decorrelation_loss(z)
            loss = loss + decorrelation_weight * decorrelation
            logs["decorrelation"] = decorrelation.detach()
        logs["loss"] = loss.detach()
        return loss, {f"{stage}_{name}": value for name, value in logs.items()}

    def training_step(self, batch: Tensor, batch_idx: int) -> Tensor | None:
        reconstruction, z = self._reconstruct(batch)
        loss, logs = self._objective(reconstruction, batch, z, "train")
        if not self._adversarial:
            self.log_dict(logs, prog_bar=True)
            return loss
        generator_opt, discriminator_opt = self.optimizers()
        gan_on = self.global_step >= int(self._cfg.loss.get("adversarial_start_step", 0))
        if gan_on:
            gan = generator_hinge_loss(self.discriminator(reconstruction))
            loss = loss + float(self._cfg.loss.adversarial_weight) * gan
            logs["train_gan"] = gan.detach()
        generator_opt.zero_grad()
        self.manual_backward(loss)
        generator_opt.step()
        if gan_on:
            d_loss = discriminator_hinge_loss(self.discriminator(batch), self.discriminator(reconstruction.detach()))
            discriminator_opt.zero_grad()
            self.manual_backward(d_loss)
            discriminator_opt.step()
            logs["train_discriminator"] = d_loss.detach()
        self.log_dict(logs, prog_bar=True)
        return None

    def validation_step(self, batch: Tensor, batch_idx: int) -> dict[str, Tensor]:
        with torch.no_grad():
            reconstruction, z = self._reconstruct(batch)
            _, logs = self._objective(reconstruction, batch, z, "val")
        self.log_dict(logs, prog_bar=True, batch_size=batch.shape[0])
        return logs
