"""Train or fine-tune a Cosmos tokenizer on image/video folders.

    python recipes/train_tokenizer.py model.train_ds.sources=/data/videos
    python recipes/train_tokenizer.py init_from_pretrained=Cosmos-Tokenizer-DV8x8x8 \
        model.train_ds.sources=/data/robot model.train_ds.size=256 model.train_ds.frames=17

A Lightning Trainer from ``trainer`` (several devices: DDP, allowing unused parameters
when the adversarial loss is on), checkpoints, logging and resumption from the last
checkpoint through NeMo's ``exp_manager``; at the end the model is exported as ``.nemo``
and as a directory that ``CausalVideoTokenizer.from_pretrained`` reads.
"""

from nemo_cosmos.quiet import quiet_library_notices

quiet_library_notices()  # before NeMo and megatron-core are imported

import lightning.pytorch as pl  # noqa: E402
from nemo.core.config import hydra_runner  # noqa: E402
from nemo.utils import logging  # noqa: E402
from nemo.utils.exp_manager import exp_manager  # noqa: E402
from omegaconf import DictConfig, OmegaConf, open_dict  # noqa: E402

from nemo_cosmos import CausalVideoTokenizer  # noqa: E402
from nemo_cosmos.models.training import init_for_training, training_strategy  # noqa: E402


def build_model(cfg: DictConfig, trainer: pl.Trainer) -> CausalVideoTokenizer:
    """A fresh network from ``cfg.network``, or pretrained weights from ``cfg.init_from_pretrained``."""
    if cfg.init_from_pretrained:
        pretrained = CausalVideoTokenizer.from_pretrained(cfg.init_from_pretrained, device="cpu", dtype="float32")
        network, weights = pretrained.network_config, pretrained.network.state_dict()
    else:
        network = cfg.network if isinstance(cfg.network, str) else OmegaConf.to_container(cfg.network, resolve=True)
        weights = None
    model_cfg = CausalVideoTokenizer.make_config(network, dtype="float32", device="cpu", name=cfg.name)
    with open_dict(model_cfg):
        model_cfg.merge_with(OmegaConf.to_container(cfg.model, resolve=True))
    model = CausalVideoTokenizer(model_cfg, trainer=trainer)
    if weights is not None:
        model.network.load_state_dict(weights, strict=True)
    else:
        init_for_training(model.network)
    return model


@hydra_runner(config_path="../conf", config_name="train_tokenizer")
def main(cfg: DictConfig) -> None:
    logging.info(f"Training config:\n{OmegaConf.to_yaml(cfg)}")
    trainer_cfg = OmegaConf.to_container(cfg.trainer, resolve=True)
    trainer_cfg["strategy"] = training_strategy(trainer_cfg, OmegaConf.to_container(cfg.model, resolve=True))
    trainer = pl.Trainer(**trainer_cfg)
    exp_manager(trainer, cfg.get("exp_manager"))
    model = build_model(cfg, trainer)
    trainer.fit(model)
    if trainer.is_global_zero:
        model.save_to(cfg.export_nemo)
        model.save_pretrained(cfg.export_dir)
        logging.info(f"Exported {cfg.export_nemo} and {cfg.export_dir}")


if __name__ == "__main__":
    main()
