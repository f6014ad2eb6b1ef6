"""Official model names, their network configs, and strict loading of their weights.

This is the one table of presets. Resolving names and paths to files on disk or in the
hub cache is here too (see :func:`resolve_checkpoint_files`), and so is our own on-disk
format (``config.json`` + ``model.safetensors``); the networks know nothing of files.
"""

import difflib
import json
import math
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import Tensor

from nemo_cosmos.networks.config import TokenizerConfig
from nemo_cosmos.networks.tokenizer import CosmosTokenizer
from nemo_cosmos.safetensors_files import save_safetensors

HUB_ORGANIZATION = "nvidia"

# The official models: family and compression (temporal x spatial x spatial). Everything
# else is the shared default of TokenizerConfig; the discrete image models use a wider z.
_MODELS = {
    "CI8x8": {"family": "CI", "spatial_compression": 8},
    "CI16x16": {"family": "CI", "spatial_compression": 16},
    "DI8x8": {"family": "DI", "spatial_compression": 8, "z_channels": 256},
    "DI16x16": {"family": "DI", "spatial_compression": 16, "z_channels": 256},
    "CV4x8x8": {"family": "CV", "spatial_compression": 8, "temporal_compression": 4},
    "CV8x8x8": {"family": "CV", "spatial_compression": 8, "temporal_compression": 8},
    "CV8x16x16": {"family": "CV", "spatial_compression": 16, "temporal_compression": 8},
    "DV4x8x8": {"family": "DV", "spatial_compression": 8, "temporal_compression": 4},
    "DV8x8x8": {"family": "DV", "spatial_compression": 8, "temporal_compression": 8},
    "DV8x16x16": {"family": "DV", "spatial_compression": 16, "temporal_compression": 8},
}

# Every published name -> its config. The 0.1 names are the same models; the 1.0 ones
# are retrained weights with the architecture of their namesakes.
PRESETS: dict[str, dict] = {
    **{f"Cosmos-Tokenizer-{model}": config for model, config in _MODELS.items()},
    **{f"Cosmos-0.1-Tokenizer-{model}": config for model, config in _MODELS.items()},
    "Cosmos-1.0-Tokenizer-CV8x8x8": _MODELS["CV8x8x8"],
    "Cosmos-1.0-Tokenizer-DV8x16x16": _MODELS["DV8x16x16"],
}


def canonical_name(name: str) -> str:
    """``nvidia/Cosmos-Tokenizer-DV8x8x8`` -> ``Cosmos-Tokenizer-DV8x8x8``; unknown names raise."""
    bare = name.removeprefix(f"{HUB_ORGANIZATION}/")
    if bare not in PRESETS:
        raise ValueError(unknown_model_message(name, with_bundled=False))
    return bare


def unknown_model_message(name: str, with_bundled: bool = True) -> str:
    """Why ``name`` names no model: the closest known name, the bundled models (when they
    count, i.e. for loading, not for building a preset) and the official ones."""
    candidates = [*PRESETS, *(BUNDLED_MODELS if with_bundled else ())]
    close = difflib.get_close_matches(name.removeprefix(f"{HUB_ORGANIZATION}/"), candidates, n=1)
    message = f"unknown tokenizer {name!r}" + (f" (did you mean {close[0]!r}?)" if close else "")
    if with_bundled:
        message += f"; bundled with nemo-cosmos (no download): {', '.join(BUNDLED_MODELS)}"
    return message + f"; official models (also as {HUB_ORGANIZATION}/<name>): {', '.join(PRESETS)}"


def preset_config(name: str) -> TokenizerConfig:
    """The network config of an official model name or alias."""
    return TokenizerConfig(**PRESETS[canonical_name(name)])


def hub_repo_id(name: str) -> str:
    return f"{HUB_ORGANIZATION}/{canonical_name(name)}"


class CheckpointMismatchError(ValueError):
    """A checkpoint's keys, shapes or buffers do not fit the network."""


def read_state_dict(path: str | Path) -> dict[str, Tensor]:
    """Tensors of a TorchScript file (``*.jit``), a ``.safetensors`` file or a ``torch.save`` file."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            return load_file(str(path))
        if _is_torchscript(path):
            return dict(torch.jit.load(str(path), map_location="cpu").state_dict())
        loaded = torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as error:  # corrupt, truncated or foreign files all end here
        raise CheckpointMismatchError(f"cannot read checkpoint {path}: {type(error).__name__}: {error}") from error
    if isinstance(loaded, dict) and isinstance(loaded.get("state_dict"), dict):
        loaded = loaded["state_dict"]
    if not isinstance(loaded, dict) or not all(isinstance(v, Tensor) for v in loaded.values()):
        raise CheckpointMismatchError(f"{path} holds no state_dict of tensors")
    return loaded


def _is_torchscript(path: Path) -> bool:
    if path.suffix == ".jit":
        return True
    if not zipfile.is_zipfile(path):
        return False
    with zipfile.ZipFile(path) as archive:
        return any(name.endswith("/constants.pkl") for name in archive.namelist())


def torchscript_buffers(network: CosmosTokenizer) -> dict[str, Tensor]:
    """The non-persistent buffers that the official TorchScript halves carry, with their values."""
    cfg = network.config
    haar = {"wavelets": torch.full((2,), 1 / math.sqrt(2)), "_arange": torch.arange(2)}
    buffers: dict[str, Tensor] = {}
    quantizer = {}
    if cfg.is_discrete:
        indices = torch.arange(cfg.codebook_size)
        quantizer = {
            "_levels": torch.tensor(cfg.levels),
            "_basis": torch.tensor(network.quantizer.basis),
            "implicit_codebook": network.quantizer.indices_to_codes(indices),
        }
    if network.has_encoder:
        patcher = "encoder.patcher3d" if cfg.is_video else "encoder.patcher"
        buffers.update({f"{patcher}.{k}": v for k, v in haar.items()})
        if cfg.is_video:
            buffers[f"{patcher}.patch_size_buffer"] = torch.tensor([cfg.patch_size])
        buffers.update({f"quantizer.{k}": v for k, v in quantizer.items()})
    if network.has_decoder:
        unpatcher = "decoder.unpatcher3d" if cfg.is_video else "decoder.unpatcher"
        buffers.update({f"{unpatcher}.{k}": v for k, v in haar.items()})
        buffers.update({f"inv_quant.quantizer.{k}": v for k, v in quantizer.items()})
    return buffers


def load_weights(
    network: CosmosTokenizer, state_dict: dict[str, Tensor], source: str = "state_dict", strict: bool = True
) -> list[str]:
    """Load ``state_dict`` into ``network``, strictly unless ``strict=False``.

    Accepted: every parameter of the network (all required, shapes checked), the
    resampling convs the reference builds but never calls (ignored, shapes checked), and
    the TorchScript-only buffers (ignored, values checked). Anything else raises
    :class:`CheckpointMismatchError` naming the missing, unexpected, misshaped and
    wrong-valued keys. ``strict=False`` (as in ``torch``'s ``load_state_dict``) loads
    the keys that fit and returns the other problems instead; a wrong shape still raises.
    """
    expected = {k: v.shape for k, v in network.state_dict().items()}
    tolerated = network.unused_reference_weights()
    buffers = torchscript_buffers(network)
    missing = [k for k in expected if k not in state_dict]
    unexpected = [k for k in state_dict if k not in expected and k not in tolerated and k not in buffers]
    misshaped = [
        f"{k} {list(state_dict[k].shape)} (expected {list(shape)})"
        for k, shape in {**expected, **tolerated}.items()
        if k in state_dict and state_dict[k].shape != shape
    ]
    wrong_values = [k for k, v in buffers.items() if k in state_dict and not _same_values(state_dict[k], v)]
    problems = [
        _describe("missing", missing),
        _describe("unexpected", unexpected),
        _describe("wrongly shaped", misshaped),
        _describe("TorchScript buffers with unexpected values", wrong_values),
    ]
    problems = [p for p in problems if p]
    if problems and (strict or misshaped):
        halves = "+".join(h for h, on in (("encoder", network.has_encoder), ("decoder", network.has_decoder)) if on)
        raise CheckpointMismatchError(
            f"{source} does not fit Cosmos {network.config.short_name} ({halves}): " + "; ".join(problems)
        )
    network.load_state_dict({k: state_dict[k] for k in expected if k in state_dict}, strict=strict)
    return problems


def _describe(what: str, keys: list[str], shown: int = 5) -> str:
    if not keys:
        return ""
    more = f", ... ({len(keys) - shown} more)" if len(keys) > shown else ""
    return f"{len(keys)} {what}: " + ", ".join(keys[:shown]) + more


def _same_values(found: Tensor, expected: Tensor) -> bool:
    return found.shape == expected.shape and torch.allclose(found.double(), expected.double(), atol=1e-6)


def as_tokenizer_config(name_or_config: "str | TokenizerConfig | dict") -> TokenizerConfig:
    """A preset name or alias, a :class:`TokenizerConfig`, or a config dict -> :class:`TokenizerConfig`."""
    if isinstance(name_or_config, str):
        return preset_config(name_or_config)
    if isinstance(name_or_config, TokenizerConfig):
        return name_or_config
    return TokenizerConfig.from_dict(dict(name_or_config))



def build_network(name_or_config: "str | TokenizerConfig | dict", encoder: bool = True, decoder: bool = True) -> CosmosTokenizer:
    """Build a tokenizer from a preset name (``Cosmos-Tokenizer-DV8x8x8``, ``nvidia/...``),
    a :class:`TokenizerConfig`, or a config dict. Weights are left at PyTorch's init."""
    return CosmosTokenizer(as_tokenizer_config(name_or_config), encoder=encoder, decoder=decoder)

# Files of the official release (TorchScript halves) and of our own format.
TORCHSCRIPT_FILES = {"encoder": "encoder.jit", "decoder": "decoder.jit", "autoencoder": "autoencoder.jit"}
CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"

# State-dict key prefixes of each half, the TorchScript-only buffers included.
_HALF_PREFIXES = {
    "encoder": ("encoder.", "quant_conv.", "quantizer."),
    "decoder": ("post_quant_conv.", "decoder.", "inv_quant."),
}


# Models shipped inside the package, in our own format, loadable with no network at all.
BUNDLED_MODELS_DIR = Path(__file__).parent / "assets"
BUNDLED_MODELS = {
    "nemo-cosmos-tiny-DV4x8x8": (
        "a small discrete 4x8x8 video tokenizer (1.4M parameters, also encodes images as one-frame "
        "clips) trained by recipes/train_tokenizer.py on photographs shipped by scikit-image and "
        "scikit-learn: a demo and test default, not a replacement for the official weights"
    ),
}


class CheckpointNotFoundError(FileNotFoundError):
    """A model's files are neither in the local directory given nor obtainable from the hub."""


@dataclass(frozen=True)
class CheckpointFiles:
    """A model's network config and the local paths of its checkpoint files.

    ``torchscript`` maps each part asked for (``encoder``, ``decoder``, ``autoencoder``)
    to its ``.jit`` file; ``weights`` is our own ``model.safetensors`` when that is what
    the source holds instead. ``source`` says where they came from, for messages.
    """

    config: TokenizerConfig
    source: str
    torchscript: dict[str, Path] = field(default_factory=dict)
    weights: Path | None = None


def resolve_checkpoint_files(
    name_or_path: str | Path,
    parts: list[str],
    *,
    config: "str | TokenizerConfig | dict | None" = None,
    allow_weights: bool = True,
    revision: str | None = None,
    cache_dir: str | Path | None = None,
    token: str | bool | None = None,
) -> CheckpointFiles:
    """Find a model's checkpoint files, fetching them from the hub when needed.

    ``name_or_path`` is either an existing local directory, read as it is without any
    network, or an official name or alias (``Cosmos-Tokenizer-DV8x8x8``,
    ``nvidia/Cosmos-Tokenizer-DV8x8x8``), fetched from the hub repo ``nvidia/<name>``, or the
    name of a model shipped in the package (``BUNDLED_MODELS``),
    through huggingface_hub, which brings its cache (``HF_HOME``, ``HF_HUB_CACHE`` or
    ``cache_dir``), offline mode (``HF_HUB_OFFLINE=1``: served from the cache only) and
    token (``HF_TOKEN`` or ``hf auth login``). ``parts`` names the TorchScript files
    wanted. A local directory may instead hold our own ``config.json`` +
    ``model.safetensors`` (accepted when ``allow_weights``). The network config of a
    directory comes from ``config``, else its ``config.json``, else its name when that
    is an official one. Only the files asked for are downloaded.
    """
    unknown = sorted(set(parts) - set(TORCHSCRIPT_FILES))
    if unknown or not parts:
        raise ValueError(f"parts must be a non-empty subset of {sorted(TORCHSCRIPT_FILES)}, got {list(parts)}")
    if str(name_or_path) in BUNDLED_MODELS:
        return _resolve_directory(BUNDLED_MODELS_DIR / str(name_or_path), parts, config, allow_weights)
    path = Path(name_or_path).expanduser()
    if path.is_dir():
        return _resolve_directory(path, parts, config, allow_weights)
    if path.exists():
        nemo = " (a .nemo file loads with CausalVideoTokenizer.restore_from)" if path.suffix == ".nemo" else ""
        raise CheckpointNotFoundError(
            f"{path} is a file; pass the directory that holds the checkpoint files "
            f"({', '.join(TORCHSCRIPT_FILES.values())}, or {CONFIG_FILE} + {WEIGHTS_FILE}){nemo}"
        )
    if str(name_or_path).removeprefix(f"{HUB_ORGANIZATION}/") not in PRESETS:
        raise CheckpointNotFoundError(f"{str(name_or_path)!r} is not an existing directory, and {unknown_model_message(str(name_or_path))}")
    name = canonical_name(str(name_or_path))
    repo_id = hub_repo_id(name)
    files = {part: _hub_file(repo_id, TORCHSCRIPT_FILES[part], revision, cache_dir, token) for part in parts}
    return CheckpointFiles(preset_config(name), f"{repo_id} (Hugging Face Hub)", torchscript=files)


def _resolve_directory(directory: Path, parts: list[str], config, allow_weights: bool) -> CheckpointFiles:
    jit_files = {part: directory / TORCHSCRIPT_FILES[part] for part in parts}
    missing = [path.name for path in jit_files.values() if not path.is_file()]
    weights = directory / WEIGHTS_FILE
    if not missing:
        return CheckpointFiles(_directory_config(directory, config), str(directory), torchscript=jit_files)
    if allow_weights and weights.is_file():
        return CheckpointFiles(_directory_config(directory, config), str(directory), weights=weights)
    present = sorted(entry.name for entry in directory.iterdir())
    wanted = " and ".join(missing) + (f" (nor {CONFIG_FILE} + {WEIGHTS_FILE})" if allow_weights else "")
    hints = []
    if "autoencoder" not in parts and (directory / TORCHSCRIPT_FILES["autoencoder"]).is_file():
        hints.append("it has autoencoder.jit: load_full_model=True uses that")
    if not allow_weights and weights.is_file():
        hints.append(f"{WEIGHTS_FILE} is nemo-cosmos' native format: load it with use_pytorch=True")
    hints.append(
        "put the official files there (e.g. `hf download nvidia/<name> --local-dir DIR`) "
        "or write our format with CausalVideoTokenizer.save_pretrained(DIR)"
    )
    raise CheckpointNotFoundError(
        f"{directory} has no {wanted}; it holds {', '.join(present) or 'nothing'}. " + "; ".join(hints)
    )


def _directory_config(directory: Path, config) -> TokenizerConfig:
    if config is not None:
        return as_tokenizer_config(config)
    path = directory / CONFIG_FILE
    problem = f"it has no {CONFIG_FILE}"
    if path.is_file():
        try:
            return TokenizerConfig.from_dict(json.loads(path.read_text()))
        except (ValueError, TypeError) as error:  # json.JSONDecodeError is a ValueError
            problem = f"{path} is not a nemo-cosmos network config ({error})"
    if directory.name in PRESETS:
        return preset_config(directory.name)
    raise ValueError(
        f"cannot tell which Cosmos tokenizer the files in {directory} belong to: {problem}, and "
        f"{directory.name!r} is no official model name. Pass config='<official name the files come from>' "
        f"(or a TokenizerConfig), or put a {CONFIG_FILE} beside them (save_pretrained writes one)"
    )


def _hub_file(repo_id: str, filename: str, revision: str | None, cache_dir, token) -> Path:
    """One file of a hub repo, from the cache or downloaded into it; failures say what to do."""
    from huggingface_hub import constants, hf_hub_download
    from huggingface_hub.utils import (
        EntryNotFoundError,
        GatedRepoError,
        LocalEntryNotFoundError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    local = "or pass the path of a local directory that holds the files"
    try:
        return Path(hf_hub_download(repo_id, filename, revision=revision, cache_dir=cache_dir, token=token))
    except GatedRepoError as error:
        raise CheckpointNotFoundError(
            f"{repo_id} is gated: accept its terms at https://huggingface.co/{repo_id}, then log in "
            f"(`hf auth login` or HF_TOKEN), {local}"
        ) from error
    except RepositoryNotFoundError as error:
        raise CheckpointNotFoundError(
            f"the hub has no repo {repo_id} that this token may read: check HF_TOKEN / `hf auth login`, {local}"
        ) from error
    except RevisionNotFoundError as error:
        raise CheckpointNotFoundError(f"{repo_id} has no revision {revision!r}") from error
    except LocalEntryNotFoundError as error:
        cache = Path(cache_dir or constants.HF_HUB_CACHE)
        reason = "HF_HUB_OFFLINE=1 is set" if constants.HF_HUB_OFFLINE else "the Hugging Face Hub cannot be reached"
        raise CheckpointNotFoundError(
            f"{filename} of {repo_id} is not in the Hugging Face cache {cache} and {reason}. Download it once "
            f"with network access (`hf download {repo_id} {filename}`), point HF_HUB_CACHE (or HF_HOME, or "
            f"cache_dir) at a cache that has it, {local}"
        ) from error
    except EntryNotFoundError as error:
        raise CheckpointNotFoundError(f"{repo_id} has no file {filename}") from error


def half_state_dict(state_dict: dict[str, Tensor], encoder: bool, decoder: bool) -> dict[str, Tensor]:
    """The entries of ``state_dict`` that belong to the halves asked for."""
    wanted = [half for half, on in (("encoder", encoder), ("decoder", decoder)) if on]
    prefixes = tuple(prefix for half in wanted for prefix in _HALF_PREFIXES[half])
    return {key: value for key, value in state_dict.items() if key.startswith(prefixes)}


def save_native(network: CosmosTokenizer, directory: str | Path, dtype: torch.dtype = torch.float32) -> Path:
    """Write ``network`` in our own format: ``config.json`` (the network config) and
    ``model.safetensors`` (its state_dict, in ``dtype``). Returns the directory."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    (directory / CONFIG_FILE).write_text(json.dumps(network.config.to_dict(), indent=2) + "\n")
    tensors = {k: v.detach().to("cpu", dtype).contiguous() for k, v in network.state_dict().items()}
    halves = "+".join(h for h, on in (("encoder", network.has_encoder), ("decoder", network.has_decoder)) if on)
    save_safetensors(tensors, directory / WEIGHTS_FILE, metadata={"format": "nemo-cosmos", "halves": halves})
    return directory
