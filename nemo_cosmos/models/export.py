"""ONNX export of the tokenizer halves through NeMo's ``Exportable``.

``CausalVideoTokenizer`` mixes in :class:`TokenizerExportMixin`, so ``model.export("dv8.onnx")``
writes ``encoder-dv8.onnx`` and ``decoder-dv8.onnx`` (NeMo's subnet naming), one file per
half the model holds. Each half is an ``Exportable`` module around the native network
(:class:`EncoderForExport`, :class:`DecoderForExport`) declaring its NeMo neural types; NeMo
traces it with PyTorch's TorchScript-based ONNX exporter (its default path; opset 17 unless
``onnx_opset_version`` says otherwise).

The graphs are float32 (see :meth:`_HalfForExport._export` for why), one pass over an input
already on the compression grid, with batch, frames,
height and width dynamic (named ``batch``, ``frames``/``height``/``width`` on the pixel
side, ``latent_frames``/``latent_height``/``latent_width`` on the latent side):

- encoder: pixels ``[B, 3, T, H, W]`` (video) or ``[B, 3, H, W]`` (images) in ``[-1, 1]``,
  ``T = 1 + k*ct``, H and W multiples of the spatial compression -> ``latent`` or
  (``indices`` int32, ``codes``), as ``CausalVideoTokenizer.encode`` gives them;
- decoder: ``latent`` or ``indices`` (int32 by default; int64 with
  ``model.set_export_config({"indices_dtype": "int64"})``) -> ``pixels``.

The graph cannot raise a readable error, so every file records its network config and
these constraints in its metadata (``nemo_cosmos.*`` keys), which
:class:`nemo_cosmos.models.onnx_runtime.OnnxTokenizerHalf` reads to check inputs first.
"""

import json

import onnx
import torch
from nemo.core.classes.exportable import Exportable
from nemo.core.neural_types import AxisKind, EncodedRepresentation, ImageValue, NeuralType, TokenIndex, VideoSignal
from nemo.utils.export_utils import ExportFormat, augment_filename, get_export_format
from torch import Tensor, nn

from nemo_cosmos.models.inputs import check_exact_grid_input
from nemo_cosmos.models.onnx_runtime import METADATA_PREFIX
from nemo_cosmos.networks import CosmosTokenizer

INDICES_DTYPES = {"int32": torch.int32, "int64": torch.int64}
_DYNAMIC_AXES = {AxisKind.Batch: "batch", AxisKind.Time: "frames", AxisKind.Height: "height", AxisKind.Width: "width"}


def export_constraints(network: CosmosTokenizer) -> str:
    """The input rule of the exported graphs, in words (stored in each file's metadata)."""
    cfg = network.config
    cs, ct = cfg.spatial_compression, cfg.temporal_compression
    pixels = f"[B, 3, 1 + k*{ct}, H, W]" if cfg.is_video else "[B, 3, H, W]"
    return f"encoder pixels {pixels} in [-1, 1] with H and W multiples of {cs}; decoder the encoder's first output"


class _HalfForExport(nn.Module, Exportable):
    """What both halves share: neural types to dynamic axes, the example check, metadata."""

    half: str

    def __init__(self, network: CosmosTokenizer, model_name: str | None):
        super().__init__()
        if not getattr(network, f"has_{self.half}"):
            raise ValueError(f"this network was built without its {self.half}; nothing to export")
        self.network = network
        self.config = network.config
        self.model_name = model_name or network.config.short_name

    def dynamic_shapes_for_export(self, use_dynamo: bool = False) -> dict[str, dict[int, str]]:
        """Batch, time, height and width of every input and output, named (NeMo's default
        covers inputs only and leaves the names to the exporter)."""
        if use_dynamo:
            raise ValueError(
                "export with use_dynamo=False: NeMo's dynamo path calls torch.onnx.dynamo_export, "
                "which this PyTorch no longer has"
            )
        axes = {}
        for name, ntype in {**self.input_types, **self.output_types}.items():
            prefix = "" if name == "pixels" else "latent_"
            axes[name] = {
                i: ("batch" if axis.kind == AxisKind.Batch else prefix + _DYNAMIC_AXES[axis.kind])
                for i, axis in enumerate(ntype.axes)
                if axis.kind in _DYNAMIC_AXES
            }
        return axes

    def _prepare_for_export(self, **kwargs) -> None:
        example = kwargs.get("input_example")
        if example is not None:
            tensors = [example] if isinstance(example, Tensor) else list(example)
            if len(tensors) != 1:
                raise ValueError(f"the {self.half} takes one input example tensor, got {len(tensors)}")
            check_exact_grid_input(tensors[0], self.config, self.half)
        super()._prepare_for_export(**kwargs)

    def _export(self, output: str, input_example=None, **options):
        """NeMo's export of this half, then the network's config and constraints written into
        the file. NeMo leaves the network in eval mode with gradients off; both are restored."""
        if get_export_format(output) != ExportFormat.ONNX:
            raise ValueError(f"the tokenizer exports to ONNX only (a .onnx file name), got {output}")
        if self._dtype() != torch.float32:
            raise ValueError(
                f"ONNX export runs in float32 only, this model is {self._dtype()}: PyTorch's TorchScript-based exporter "
                "turns the weights after a half-precision attention block into float32 and writes a graph that ONNX Runtime "
                "refuses. Export in float32 and lower the precision in the runtime (e.g. TensorRT's --fp16)"
            )
        training = self.network.training
        grads = [p.requires_grad for p in self.network.parameters()]
        try:
            result = super()._export(output, input_example=input_example, **options)
        finally:
            self.network.train(training)
            for parameter, grad in zip(self.network.parameters(), grads):
                parameter.requires_grad_(grad)
        self._write_metadata(output)
        return result

    def _write_metadata(self, path: str) -> None:
        model = onnx.load(path)
        values = {
            "half": self.half,
            "model": self.model_name,
            "config": json.dumps(self.config.to_dict()),
            "constraints": export_constraints(self.network),
        }
        for key, value in values.items():
            model.metadata_props.add(key=METADATA_PREFIX + key, value=value)
        onnx.save(model, path)

    def _pixel_axes(self) -> tuple[str, ...]:
        return ("B", "C", "T", "H", "W") if self.config.is_video else ("B", "C", "H", "W")

    def _dtype(self) -> torch.dtype:
        return next(self.network.parameters()).dtype

    def _device(self) -> torch.device:
        return next(self.network.parameters()).device


class EncoderForExport(_HalfForExport):
    """pixels -> ``latent`` (continuous) or ``indices``, ``codes`` (discrete)."""

    half = "encoder"

    @property
    def input_types(self) -> dict[str, NeuralType]:
        return {"pixels": NeuralType(self._pixel_axes(), VideoSignal() if self.config.is_video else ImageValue())}

    @property
    def output_types(self) -> dict[str, NeuralType]:
        latent_axes = self._pixel_axes()
        if self.config.is_discrete:
            return {
                "indices": NeuralType(latent_axes[:1] + latent_axes[2:], TokenIndex()),
                "codes": NeuralType(latent_axes, EncodedRepresentation()),
            }
        return {"latent": NeuralType(latent_axes, EncodedRepresentation())}

    def input_example(self, max_batch: int = 1) -> tuple[Tensor]:
        """A clip of ``1 + 2*ct`` frames (images: one frame) of ``2cs x 3cs`` pixels in ``[-1, 1]``."""
        cfg = self.config
        cs = cfg.spatial_compression
        frames = (1 + 2 * cfg.temporal_compression,) if cfg.is_video else ()
        generator = torch.Generator().manual_seed(0)
        x = torch.rand((max_batch, cfg.in_channels, *frames, 2 * cs, 3 * cs), generator=generator) * 2 - 1
        return (x.to(self._device(), self._dtype()),)

    def forward(self, pixels: Tensor) -> Tensor | tuple[Tensor, Tensor]:
        return self.network.encode_frames(pixels)


class DecoderForExport(_HalfForExport):
    """``latent`` (continuous) or ``indices`` (discrete) -> pixels."""

    half = "decoder"

    def __init__(self, network: CosmosTokenizer, model_name: str | None, indices_dtype: torch.dtype = torch.int32):
        super().__init__(network, model_name)
        if indices_dtype not in INDICES_DTYPES.values():
            raise ValueError(f"indices_dtype must be torch.int32 or torch.int64, got {indices_dtype}")
        self.indices_dtype = indices_dtype

    def _prepare_for_export(self, **kwargs) -> None:
        example = kwargs.get("input_example")
        z = example if isinstance(example, Tensor) or example is None else example[0]
        if self.config.is_discrete and z is not None and z.dtype != self.indices_dtype:
            raise ValueError(f"the decoder is exported for {self.indices_dtype} indices, got an example of {z.dtype}")
        super()._prepare_for_export(**kwargs)

    @property
    def input_types(self) -> dict[str, NeuralType]:
        axes = self._pixel_axes()
        if self.config.is_discrete:
            return {"indices": NeuralType(axes[:1] + axes[2:], TokenIndex())}
        return {"latent": NeuralType(axes, EncodedRepresentation())}

    @property
    def output_types(self) -> dict[str, NeuralType]:
        return {"pixels": NeuralType(self._pixel_axes(), VideoSignal() if self.config.is_video else ImageValue())}

    def input_example(self, max_batch: int = 1) -> tuple[Tensor]:
        """Latents (or indices spread over the codebook) for ``1 + 2*ct`` frames of ``2cs x 3cs`` pixels."""
        cfg = self.config
        grid = ((3,) if cfg.is_video else ()) + (2, 3)
        generator = torch.Generator().manual_seed(0)
        if cfg.is_discrete:
            z = torch.randint(0, cfg.codebook_size, (max_batch, *grid), generator=generator, dtype=self.indices_dtype)
            return (z.to(self._device()),)
        z = torch.randn((max_batch, cfg.latent_channels, *grid), generator=generator)
        return (z.to(self._device(), self._dtype()),)

    def forward(self, z: Tensor) -> Tensor:
        network = self.network
        if network.quantizer is not None:
            z = network.quantizer.indices_to_codes(z, dtype=self._dtype())
        return network.decoder(network.post_quant_conv(z))


class TokenizerExportMixin(Exportable):
    """NeMo's ``Exportable`` for ``CausalVideoTokenizer``: subnets ``encoder`` and ``decoder``
    (those the model holds), each exported to its own ONNX file."""

    def list_export_subnets(self) -> list[str]:
        network = self._network_for_export()
        return [half for half in ("encoder", "decoder") if getattr(network, f"has_{half}")]

    def get_export_subnet(self, subnet: str | None = None) -> EncoderForExport | DecoderForExport:
        network = self._network_for_export()
        name = self._cfg.get("name")
        if subnet == "encoder":
            return EncoderForExport(network, name)
        if subnet == "decoder":
            return DecoderForExport(network, name, self._indices_dtype())
        raise ValueError(f"the export subnets are 'encoder' and 'decoder', got {subnet!r}")

    def export(self, output: str, input_example=None, **options) -> tuple[list[str], list[str]]:
        """Export each half to ``<half>-<output name>`` (NeMo's ``Exportable.export``; ``options``
        are its keyword arguments). A given ``input_example`` is the encoder's (pixels on the
        grid); the decoder is then traced on its first output (NeMo would hand the decoder
        the encoder's whole output, which for discrete models also holds the codes)."""
        outputs, descriptions = [], []
        for subnet in self.list_export_subnets():
            half = self.get_export_subnet(subnet)
            written, description, example_out = half._export(augment_filename(output, subnet), input_example=input_example, **options)
            if input_example is not None:
                first = example_out[0]
                input_example = (first if first.is_floating_point() else first.to(self._indices_dtype()),)
            outputs.append(written)
            descriptions.append(description)
        return outputs, descriptions

    def _indices_dtype(self) -> torch.dtype:
        name = self.get_export_config().get("indices_dtype", "int32")
        if name not in INDICES_DTYPES:
            raise ValueError(f"indices_dtype must be one of {sorted(INDICES_DTYPES)}, got {name!r}")
        return INDICES_DTYPES[name]

    def _network_for_export(self) -> CosmosTokenizer:
        if self.network is None:
            raise ValueError(
                "ONNX export traces the native network, but this model runs the official TorchScript files; "
                "load it with use_pytorch=True (the default), which reads the same .jit files"
            )
        return self.network
