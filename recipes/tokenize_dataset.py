"""Tokenize a folder, glob or JSONL manifest of videos and images into a Megatron indexed dataset.

Discrete models (AR training) write token ids, continuous models (diffusion training)
write latents; see conf/tokenize_ar.yaml and conf/tokenize_diffusion.yaml for every
option. Clips must have 1 + k*ct frames (ct: the model's temporal compression).

    python recipes/tokenize_dataset.py input.paths=/data/videos output.dir=/data/tokens
    python recipes/tokenize_dataset.py --config-name tokenize_diffusion input.paths=/data/manifest.jsonl output.dir=/data/latents
    torchrun --nproc_per_node 8 recipes/tokenize_dataset.py input.paths=... output.dir=...

Re-running the same command resumes an interrupted job: finished parts are kept. Adding
inputs and re-running encodes only the new ones; a run that would change finished work
(other settings, changed inputs) is refused unless output.overwrite=true. Errors are
one line (HYDRA_FULL_ERROR=1 for the traceback).
"""

from nemo_cosmos.quiet import quiet_library_notices

quiet_library_notices()  # before NeMo and megatron-core are imported

from nemo.core.config import hydra_runner  # noqa: E402
from omegaconf import DictConfig  # noqa: E402

from nemo_cosmos.tokenization.errors import one_line_errors  # noqa: E402
from nemo_cosmos.tokenization.job import run_tokenize_job  # noqa: E402


@hydra_runner(config_path="../conf", config_name="tokenize_ar")
def main(cfg: DictConfig) -> None:
    with one_line_errors("tokenize_dataset"):
        run_tokenize_job(cfg)


if __name__ == "__main__":
    main()
