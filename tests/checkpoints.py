"""Checkpoints for tests: official-style TorchScript files traced from our networks, and
huggingface_hub's cache layout, so loading is tested on real files without a network."""

import copy
import hashlib
import shutil
import warnings
from collections import OrderedDict
from pathlib import Path

import torch
from torch import Tensor, nn


class _EncoderHalf(nn.Module):
    """``encoder``, ``quant_conv`` (and ``quantizer``), called like the official ``encoder.jit``;
    FSQ codes come out in ``codes_dtype``."""

    def __init__(self, network: nn.Module, codes_dtype: torch.dtype):
        super().__init__()
        self.encoder, self.quant_conv = network.encoder, network.quant_conv
        self.quantizer, self.codes_dtype = network.quantizer, codes_dtype

    def forward(self, x: Tensor):
        z = self.quant_conv(self.encoder(x))
        if self.quantizer is not None:
            indices, codes = self.quantizer(z)
            return indices, codes.to(self.codes_dtype), z.new_zeros(())
        zero = z.new_zeros(1)
        return z, (zero, zero)


class _InverseQuantizer(nn.Module):
    """Indices -> codes in ``dtype``, holding the quantizer as ``inv_quant.quantizer`` like the official decoder."""

    def __init__(self, quantizer: nn.Module, dtype: torch.dtype):
        super().__init__()
        self.quantizer, self.dtype = quantizer, dtype

    def forward(self, indices: Tensor) -> Tensor:
        return self.quantizer.indices_to_codes(indices, dtype=self.dtype)


class _DiscreteAutoencoder(nn.Module):
    """The whole discrete model, called like the official ``autoencoder.jit`` (reconstruction
    first), the codes cast to ``codes_dtype`` before ``post_quant_conv`` as the reference's are."""

    def __init__(self, parts: dict[str, nn.Module], codes_dtype: torch.dtype):
        super().__init__()
        self.encoder, self.quant_conv, self.quantizer = parts["encoder"], parts["quant_conv"], parts["quantizer"]
        self.post_quant_conv, self.decoder, self.codes_dtype = parts["post_quant_conv"], parts["decoder"], codes_dtype

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        indices, codes = self.quantizer(self.quant_conv(self.encoder(x)))
        return self.decoder(self.post_quant_conv(codes.to(self.codes_dtype))), torch.zeros(()), indices


class _ContinuousAutoencoder(nn.Module):
    """The whole continuous model, called like the official ``autoencoder.jit``."""

    def __init__(self, parts: dict[str, nn.Module]):
        super().__init__()
        self.encoder, self.quant_conv = parts["encoder"], parts["quant_conv"]
        self.post_quant_conv, self.decoder = parts["post_quant_conv"], parts["decoder"]

    def forward(self, x: Tensor) -> tuple[Tensor, tuple[Tensor, Tensor], Tensor]:
        z = self.quant_conv(self.encoder(x))
        zero = torch.zeros(1)
        return self.decoder(self.post_quant_conv(z)), (zero, zero), z


def _traced_parts(network: nn.Module, example: Tensor, codes_dtype: torch.dtype) -> dict[str, torch.jit.ScriptModule]:
    """Each part of the network traced alone on what reaches it in a pass over ``example``
    (``inv_quant`` on the indices): the files are scripted around them, as the official
    ones hold their parts as submodules that can be called one by one."""
    inputs = {"encoder": example}
    inputs["quant_conv"] = network.encoder(example)
    z = network.quant_conv(inputs["quant_conv"])
    parts = ["encoder", "quant_conv", "post_quant_conv", "decoder"]
    if network.quantizer is not None:
        inputs["quantizer"] = z
        indices, z = network.quantizer(z)
        inputs["inv_quant"], parts = indices, [*parts, "quantizer", "inv_quant"]
    inputs["post_quant_conv"] = z
    inputs["decoder"] = network.post_quant_conv(z)
    modules = {name: getattr(network, name, None) for name in parts}
    if network.quantizer is not None:
        modules["inv_quant"] = _InverseQuantizer(network.quantizer, codes_dtype)
    return {name: torch.jit.trace(modules[name], inputs[name], check_trace=False) for name in parts}


def export_torchscript(
    network: nn.Module,
    directory: str | Path,
    example: Tensor,
    parts: tuple[str, ...] = ("encoder", "decoder", "autoencoder"),
    codes_dtype: torch.dtype | None = None,
) -> dict[str, Path]:
    """Trace ``network`` into the ``parts`` of ``encoder.jit``, ``decoder.jit`` and
    ``autoencoder.jit`` that its halves allow (an encoder-only network gives
    ``encoder.jit``), with the official state_dict keys, TorchScript-only buffers, call
    interfaces and submodules: ``decoder.jit`` is a ``Sequential`` of ``inv_quant``
    (discrete), ``post_quant_conv`` and ``decoder`` as the official one is.

    ``codes_dtype``: the dtype the files hard-code for FSQ codes, as the official ones do
    (the reference's quantizer casts its codes to bfloat16 whatever the weights' dtype);
    ``None``: the network's own dtype.

    Tracing specialises the graphs to ``example``'s shape and dtype: call the files with
    inputs like it. This makes real TorchScript checkpoints of known weights for tests.
    """
    from nemo_cosmos.pretrained import torchscript_buffers

    if not network.has_encoder:
        raise ValueError("export_torchscript traces the decoder on the encoder's output: give it the encoder too")
    network = copy.deepcopy(network).eval()
    codes_dtype = codes_dtype or next(network.parameters()).dtype
    for key, value in torchscript_buffers(network).items():
        if not key.startswith("inv_quant."):  # the decoder's inv_quant.quantizer is the same module
            path, name = key.rsplit(".", 1)
            network.get_submodule(path).register_buffer(name, value.clone())
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    paths = {}
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        files = {"encoder": lambda: torch.jit.trace(_EncoderHalf(network, codes_dtype), example, check_trace=False)}
        if network.has_decoder:
            traced = _traced_parts(network, example, codes_dtype)
            names = (["inv_quant"] if network.quantizer is not None else []) + ["post_quant_conv", "decoder"]
            files["decoder"] = lambda: torch.jit.script(nn.Sequential(OrderedDict((name, traced[name]) for name in names)))
            if network.quantizer is not None:
                files["autoencoder"] = lambda: torch.jit.script(_DiscreteAutoencoder(traced, codes_dtype))
            else:
                files["autoencoder"] = lambda: torch.jit.script(_ContinuousAutoencoder(traced))
        for part in [part for part in parts if part in files]:
            paths[part] = directory / f"{part}.jit"
            files[part]().save(str(paths[part]))
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
