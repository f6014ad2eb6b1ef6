"""Checkpoints for tests: official-style TorchScript files traced from our networks, and
huggingface_hub's cache layout, so loading is tested on real files without a network."""

import copy
import hashlib
import shutil
import warnings
from pathlib import Path

import torch
from torch import Tensor, nn


class _EncoderHalf(nn.Module):
    """``encoder``, ``quant_conv`` (and ``quantizer``), called like the official ``encoder.jit``."""

    def __init__(self, network: nn.Module):
        super().__init__()
        self.encoder, self.quant_conv = network.encoder, network.quant_conv
        self.quantizer = network.quantizer

    def forward(self, x: Tensor):
        z = self.quant_conv(self.encoder(x))
        if self.quantizer is not None:
            indices, codes = self.quantizer(z)
            return indices, codes, z.new_zeros(())
        zero = z.new_zeros(1)
        return z, (zero, zero)


class _InverseQuantizer(nn.Module):
    """Indices -> codes, holding the quantizer as ``inv_quant.quantizer`` like the official decoder."""

    def __init__(self, quantizer: nn.Module, dtype: torch.dtype):
        super().__init__()
        self.quantizer, self.dtype = quantizer, dtype

    def forward(self, indices: Tensor) -> Tensor:
        return self.quantizer.indices_to_codes(indices, dtype=self.dtype)


class _DecoderHalf(nn.Module):
    """(``inv_quant``), ``post_quant_conv``, ``decoder``, called like the official ``decoder.jit``."""

    def __init__(self, network: nn.Module):
        super().__init__()
        dtype = next(network.post_quant_conv.parameters()).dtype
        self.inv_quant = _InverseQuantizer(network.quantizer, dtype) if network.quantizer is not None else None
        self.post_quant_conv, self.decoder = network.post_quant_conv, network.decoder

    def forward(self, z: Tensor) -> Tensor:
        if self.inv_quant is not None:
            z = self.inv_quant(z)
        return self.decoder(self.post_quant_conv(z))


class _Autoencoder(nn.Module):
    """The whole model, called like the official ``autoencoder.jit`` (reconstruction first)."""

    def __init__(self, network: nn.Module):
        super().__init__()
        self.encoder, self.quant_conv, self.quantizer = network.encoder, network.quant_conv, network.quantizer
        self.post_quant_conv, self.decoder = network.post_quant_conv, network.decoder

    def forward(self, x: Tensor):
        z = self.quant_conv(self.encoder(x))
        if self.quantizer is not None:
            indices, codes = self.quantizer(z)
            return self.decoder(self.post_quant_conv(codes)), z.new_zeros(()), indices
        zero = z.new_zeros(1)
        return self.decoder(self.post_quant_conv(z)), (zero, zero), z


def export_torchscript(
    network: nn.Module,
    directory: str | Path,
    example: Tensor,
    parts: tuple[str, ...] = ("encoder", "decoder", "autoencoder"),
) -> dict[str, Path]:
    """Trace ``network`` into the ``parts`` of ``encoder.jit``, ``decoder.jit`` and
    ``autoencoder.jit`` that its halves allow (an encoder-only network gives
    ``encoder.jit``), with the official state_dict keys, TorchScript-only buffers and
    call interfaces.

    Tracing specialises the graphs to ``example``'s shape and dtype: call the files with
    inputs like it. This makes real TorchScript checkpoints of known weights for tests.
    """
    from nemo_cosmos.pretrained import torchscript_buffers

    if not network.has_encoder:
        raise ValueError("export_torchscript traces the decoder on the encoder's output: give it the encoder too")
    network = copy.deepcopy(network).eval()
    for key, value in torchscript_buffers(network).items():
        if not key.startswith("inv_quant."):  # the decoder's inv_quant.quantizer is the same module
            path, name = key.rsplit(".", 1)
            network.get_submodule(path).register_buffer(name, value.clone())
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    paths = {}
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        available = {"encoder": (_EncoderHalf, example)}
        if network.has_decoder:
            latent = _EncoderHalf(network)(example)[0]
            available.update({"decoder": (_DecoderHalf, latent), "autoencoder": (_Autoencoder, example)})
        for part in [part for part in parts if part in available]:
            wrapper, inputs = available[part]
            paths[part] = directory / f"{part}.jit"
            torch.jit.trace(wrapper(network), inputs, check_trace=False).save(str(paths[part]))
    return paths


def write_hub_cache(cache_dir: str | Path, repo_id: str, files: dict[str, Path], commit: str | None = None) -> Path:
    """Lay ``files`` (name in the repo -> file on disk) out as huggingface_hub's cache does:
    ``models--<org>--<name>/blobs/<sha256>``, ``snapshots/<commit>/<name>`` symlinks to the
    blobs, and ``refs/main`` holding the commit. Returns the snapshot directory."""
    repo = Path(cache_dir) / ("models--" + repo_id.replace("/", "--"))
    commit = commit or hashlib.sha1(repo_id.encode()).hexdigest()
    snapshot = repo / "snapshots" / commit
    (repo / "blobs").mkdir(parents=True, exist_ok=True)
    snapshot.mkdir(parents=True, exist_ok=True)
    for name, source in files.items():
        digest = hashlib.sha256(Path(source).read_bytes()).hexdigest()
        shutil.copyfile(source, repo / "blobs" / digest)
        link = snapshot / name
        link.unlink(missing_ok=True)
        link.symlink_to(Path("..", "..", "blobs", digest))
    (repo / "refs").mkdir(exist_ok=True)
    (repo / "refs" / "main").write_text(commit)
    return snapshot


def use_offline_hub_cache(cache_dir: str | Path, monkeypatch) -> Path:
    """Make huggingface_hub serve from ``cache_dir`` only, as ``HF_HUB_OFFLINE=1`` and
    ``HF_HUB_CACHE`` would. huggingface_hub reads both into module constants at import
    time, so those are patched (through pytest's ``monkeypatch``) along with the env."""
    import huggingface_hub.constants

    cache_dir = Path(cache_dir)
    cache_dir.mkdir(parents=True, exist_ok=True)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(cache_dir))
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(cache_dir))
    return cache_dir
