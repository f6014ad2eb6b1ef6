"""Running an exported tokenizer half in ONNX Runtime, with the model's input checks.

An exported graph fails on an input off the compression grid with a reshape error deep
inside (or, for some sizes, returns a wrong shape), so :class:`OnnxTokenizerHalf` reads the
network config that :mod:`nemo_cosmos.models.export` stored in the file and checks inputs
first. :func:`compare_with_pytorch` is the export check: both sides on one input.
"""

import json
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from nemo_cosmos.models.inputs import check_exact_grid_input
from nemo_cosmos.networks import TokenizerConfig

METADATA_PREFIX = "nemo_cosmos."  # of the metadata keys that nemo_cosmos.models.export writes
_ORT_TYPES = {"tensor(float)": np.float32, "tensor(float16)": np.float16, "tensor(double)": np.float64,
              "tensor(int32)": np.int32, "tensor(int64)": np.int64}


class OnnxRuntimeError(RuntimeError):
    """ONNX Runtime could not load or run an exported file (e.g. a dtype its provider lacks)."""


def _onnxruntime():
    try:
        import onnxruntime
    except ImportError as error:
        raise ImportError("running exported files needs ONNX Runtime: pip install 'nemo-cosmos[export]'") from error
    return onnxruntime


class OnnxTokenizerHalf:
    """One exported half (``encoder-*.onnx`` or ``decoder-*.onnx``) in an ONNX Runtime session.

    ``threads`` sets ONNX Runtime's intra-op threads (``None``: its default); ``providers``
    its execution providers (default: CPU). Calling it with a tensor of what the half
    takes returns a tuple of tensors, as the model's ``encode`` (``(latent,)`` or
    ``(indices, codes)``) and ``decode`` (``(pixels,)``) give them.
    """

    def __init__(self, path: str | Path, threads: int | None = None, providers: list[str] | None = None):
        ort = _onnxruntime()
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"{path}: no such ONNX file")
        options = ort.SessionOptions()
        if threads is not None:
            options.intra_op_num_threads = threads
            options.inter_op_num_threads = 1
        try:
            self.session = ort.InferenceSession(str(path), options, providers=providers or ["CPUExecutionProvider"])
        except Exception as error:  # ONNX Runtime's own exception classes derive from Exception only
            raise OnnxRuntimeError(f"{path}: ONNX Runtime cannot load it: {error}") from error
        metadata = self.session.get_modelmeta().custom_metadata_map
        if METADATA_PREFIX + "config" not in metadata:
            raise ValueError(f"{path}: not an ONNX file exported by nemo-cosmos (no {METADATA_PREFIX}config metadata)")
        self.path = path
        self.half = metadata[METADATA_PREFIX + "half"]
        self.model_name = metadata[METADATA_PREFIX + "model"]
        self.constraints = metadata[METADATA_PREFIX + "constraints"]
        self.config = TokenizerConfig.from_dict(json.loads(metadata[METADATA_PREFIX + "config"]))
        (self._input,) = self.session.get_inputs()
        self.output_names = [output.name for output in self.session.get_outputs()]

    @property
    def input_dtype(self) -> np.dtype:
        return np.dtype(_ORT_TYPES[self._input.type])

    def __call__(self, x: Tensor) -> tuple[Tensor, ...]:
        """Check ``x`` against the half's constraints, run it, return the outputs as tensors.
        Values are cast to the graph's input type (integer indices are checked for range first)."""
        check_exact_grid_input(x, self.config, self.half)
        array = x.detach().cpu().numpy().astype(self.input_dtype, copy=False)
        try:
            outputs = self.session.run(None, {self._input.name: array})
        except Exception as error:
            raise OnnxRuntimeError(f"{self.path}: ONNX Runtime failed on input {tuple(x.shape)}: {error}") from error
        return tuple(torch.from_numpy(out) for out in outputs)


def compare_with_pytorch(model, paths: dict[str, Path], x: Tensor) -> list[dict]:
    """Run ``x`` (pixels on the grid) through the exported halves and through ``model``'s
    network in one pass (a decoder-only model decodes its export example); one row per output: its name, shape, and the largest absolute
    difference (or, for indices, how many differ)."""
    network = model.network
    rows = []

    def compare(half: str, name: str, ours: Tensor, exported: Tensor) -> None:
        if ours.shape != exported.shape:
            raise ValueError(f"{half} output {name}: PyTorch gives {tuple(ours.shape)}, ONNX Runtime {tuple(exported.shape)}")
        row = {"half": half, "output": name, "shape": tuple(ours.shape)}
        if ours.is_floating_point():
            row["max_abs_diff"] = float((ours.float().cpu() - exported.float()).abs().max())
        else:
            row["indices_differing"] = int((ours.cpu().long() != exported.long()).sum())
        rows.append(row)

    with torch.inference_mode():
        x = x.to(model.device, model.dtype)
        encoded = network.encode_frames(x) if network.has_encoder else None
        encoded = (encoded,) if isinstance(encoded, Tensor) else encoded
        if "encoder" in paths:
            encoder = OnnxTokenizerHalf(paths["encoder"])
            for name, ours, exported in zip(encoder.output_names, encoded, encoder(x), strict=True):
                compare("encoder", name, ours, exported)
        if "decoder" in paths:
            decoder = OnnxTokenizerHalf(paths["decoder"])
            z = encoded[0] if encoded is not None else model.get_export_subnet("decoder").input_example()[0]
            codes = network.quantizer.indices_to_codes(z, dtype=model.dtype) if network.quantizer is not None else z
            ours = network.decoder(network.post_quant_conv(codes))
            compare("decoder", decoder.output_names[0], ours, decoder(z)[0])
    return rows



def check_inputs(config: TokenizerConfig, seed: int = 0) -> list[Tensor]:
    """Two pixel inputs on the grid in ``[-1, 1]``, of sizes that differ from each other and
    from the export example (so they exercise the dynamic axes): ``1 + ct`` frames of
    ``4cs x 2cs`` and a batch of two with ``1 + 3ct`` frames of ``2cs x 5cs`` (images: one frame)."""
    cs, ct = config.spatial_compression, config.temporal_compression
    generator = torch.Generator().manual_seed(seed)
    shapes = [(1, 1 + ct, 4 * cs, 2 * cs), (2, 1 + 3 * ct, 2 * cs, 5 * cs)]
    inputs = []
    for batch, frames, height, width in shapes:
        size = (batch, config.in_channels) + ((frames,) if config.is_video else ()) + (height, width)
        inputs.append(torch.rand(size, generator=generator) * 2 - 1)
    return inputs
