"""The options of a tokenization job: one typed schema that the recipe's YAML files fill in.

``conf/tokenize_ar.yaml`` (and ``conf/tokenize_diffusion.yaml``, which inherits it) set
values; this schema says which keys exist and what type they have, so a misspelt key or
a wrong type on the command line fails at once instead of being ignored. ``clips``,
``frames`` and ``tokens`` are the data side's own option classes (``ClipOptions``,
``FrameOptions``, ``TokenIds``), which ``ClipSampling``, ``FrameGeometry`` and
``TokenLayout`` extend with the model's compression or codebook: one definition of each key. Every key is documented here and in the YAML files.
"""

from dataclasses import dataclass, field
from typing import Any

from omegaconf import MISSING, DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from nemo_cosmos.data.indexed.token_layout import TokenIds
from nemo_cosmos.data.media import ClipOptions, FrameOptions


@dataclass
class ModelOptions:
    """The tokenizer: an official name (``Cosmos-Tokenizer-DV8x16x16``, fetched from the
    Hugging Face Hub or its cache) or a local directory (official ``*.jit`` files, or our
    ``config.json`` + ``model.safetensors``). ``device``: ``null`` = ``cuda:<local rank>``
    when a GPU is present, else ``cpu``. ``dtype``: ``null`` = bfloat16 on CUDA, float32 on CPU."""

    name_or_path: str = MISSING
    use_pytorch: bool = True
    device: str | None = None
    dtype: str | None = None


@dataclass
class InputOptions:
    """What to tokenize: a directory (recursive), a glob pattern, or a JSONL manifest of
    ``{"path": ..., "caption": ...}`` lines; a string or a list of them."""

    paths: Any = MISSING


@dataclass
class OutputOptions:
    """The dataset is written to ``<dir>/<name>.bin``, ``.idx``, ``.inputs.jsonl`` (per-input
    records) and ``.json`` (sidecar), with ``<dir>/skipped.jsonl`` and the per-part datasets
    under ``<dir>/parts/``. With several nodes, ``dir`` must be on a filesystem they all
    share. A re-run into a ``dir`` that holds finished work made with other settings, or
    from inputs that changed, is refused unless ``overwrite`` (rebuild aside, then swap).
    ``merge: false`` leaves the parts where they are and lists them in ``<dir>/<name>.parts``
    (a Megatron ``data_path``) instead of copying them into one dataset."""

    dir: str = MISSING
    name: str = "tokens"
    keep_parts: bool = True
    overwrite: bool = False
    merge: bool = True


@dataclass
class CaptionOptions:
    """Discrete models: ``tokenizer`` is a local Hugging Face tokenizer directory; the captions
    of a JSONL manifest are tokenized and put before the vision tokens of their documents.
    ``multimodal: false`` puts them in the same sequence (what GPT-style training reads);
    ``true`` writes them as a separate text sequence in megatron-core's multimodal index
    (sequence mode 0 = text, 1 = vision). ``tokens.offset`` must be at least the text
    vocabulary size so text and vision ids never collide."""

    tokenizer: str | None = None
    multimodal: bool = False
    add_special_tokens: bool = False


@dataclass
class LatentOptions:
    """Continuous models: ``dtype`` float32 or bfloat16 (stored bit-exact)."""

    dtype: str = "float32"


@dataclass
class RunOptions:
    """Execution: inputs are encoded in windows of ``batch_size`` consecutive inputs (clips of
    one shape in a window are encoded together); parts of whole windows, at most
    ``items_per_part`` inputs, are the unit of resumption and are taken by the ranks from a
    shared queue. Video frames are streamed into the encoder ``chunk_latents`` latent frames
    (``chunk_latents * ct`` frames) at a time. ``threads``: intra-op threads per rank, set
    the same way with one process or many (on CPU it changes the last bits of floats).
    ``decode_workers`` processes decode and resize video frames while the encoder runs
    (``null``: the cores of this node per rank, less one for the encoder, at least 1;
    ``0``: decode in the rank's own process, in turn with encoding), each video
    ``prefetch`` chunks ahead of the encoder (the next videos take up to ``prefetch`` more
    as the running ones end); neither changes a single token."""

    items_per_part: int = 64
    batch_size: int = 4
    chunk_latents: int = 2
    threads: int = 1
    decode_workers: int | None = None
    prefetch: int = 2
    progress: bool = True
    distributed_timeout_minutes: int = 1440


@dataclass
class TokenizeJobOptions:
    """All options of ``recipes/tokenize_dataset.py``."""

    name: str = "tokenize_dataset"
    model: ModelOptions = field(default_factory=ModelOptions)
    input: InputOptions = field(default_factory=InputOptions)
    output: OutputOptions = field(default_factory=OutputOptions)
    clips: ClipOptions = field(default_factory=ClipOptions)
    frames: FrameOptions = field(default_factory=FrameOptions)
    tokens: TokenIds = field(default_factory=TokenIds)
    captions: CaptionOptions = field(default_factory=CaptionOptions)
    latents: LatentOptions = field(default_factory=LatentOptions)
    run: RunOptions = field(default_factory=RunOptions)


def load_job_options(cfg: DictConfig | dict) -> TokenizeJobOptions:
    """Check ``cfg`` against the schema (unknown keys, wrong types, missing values) and
    return it as :class:`TokenizeJobOptions`; errors are ValueErrors naming the key."""
    try:
        merged = OmegaConf.merge(OmegaConf.structured(TokenizeJobOptions), cfg)
    except OmegaConfBaseException as error:  # unknown key or wrong type, with the key's name
        raise ValueError(f"invalid tokenization job config: {error}") from error
    missing = sorted(OmegaConf.missing_keys(merged))
    if missing:
        raise ValueError(f"the tokenization job needs values for {missing} (e.g. input.paths=/data/videos output.dir=/data/out)")
    return OmegaConf.to_object(merged)
