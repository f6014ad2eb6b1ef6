"""``CausalVideoTokenizer``: the Cosmos tokenizers as a NeMo model.

The one door users open. It resolves a pretrained name or directory, builds our native
network and loads the official weights into it strictly (or runs the official TorchScript
modules as they are), and handles device, dtype, input checks, alignment padding,
long videos and large frames:

- long videos stream through the causal network ``chunk_latents`` latent frames at a
  time: exactly one pass's result with memory bounded by the chunk. The clip stays in
  host memory; each chunk is padded there, moved to the device and its outputs moved
  back (``models/streams.py``, also public as :meth:`~CausalVideoTokenizer.encoder_stream`,
  :meth:`~CausalVideoTokenizer.decoder_stream` and
  :meth:`~CausalVideoTokenizer.autoencoder_stream`). ``temporal_window`` instead cuts a
  clip into independent windows as the old NeMo model did (the causal context restarts
  at each window, so results differ from one pass);
- large frames can be cut into overlapping tiles (``tile_size``, ``tile_overlap``),
  bounding memory at the price of an approximation error (see ``models/tiling.py``).
"""

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from nemo.core.classes.common import PretrainedModelInfo
from nemo.core.classes.modelPT import ModelPT
from nemo.utils import logging
from omegaconf import DictConfig, OmegaConf, open_dict
from torch import Tensor

from nemo_cosmos.models.alignment import crop_center, pad_pixels
from nemo_cosmos.models.backends import NativeBackend, TorchScriptBackend
from nemo_cosmos.models.export import TokenizerExportMixin
from nemo_cosmos.models.inputs import check_latents, check_pixels, check_uint8_video, pixels_to_uint8, uint8_to_pixels
from nemo_cosmos.models.precision import auto_dtype
from nemo_cosmos.models.streams import AutoencoderStream, DecoderStream, EncoderStream
from nemo_cosmos.models.tiling import run_tiled
from nemo_cosmos.models.training import TokenizerTrainingMixin
from nemo_cosmos.models.transfer import DeviceTransfer
from nemo_cosmos.modules.streaming import KV_CACHE_PLACES
from nemo_cosmos.networks import CosmosTokenizer, TokenizerConfig
from nemo_cosmos.networks.config import FAMILIES
from nemo_cosmos.pretrained import (
    PRESETS,
    CheckpointFiles,
    as_tokenizer_config,
    half_state_dict,
    hub_repo_id,
    load_weights,
    preset_config,
    read_state_dict,
    resolve_checkpoint_files,
    save_native,
)

DEFAULT_CHUNK_LATENTS = 2  # 1 + 16 frames, then 16 at a time for ct = 8: the old 17-frame window's memory
_DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16, "float64": torch.float64}


def resolve_device(device: str | torch.device | None) -> torch.device:
    """``None`` -> CUDA when available, else CPU; an explicit CUDA device must exist."""
    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {device} was asked for but CUDA is not available; use device='cpu'")
    return device


def resolve_dtype(dtype: str | torch.dtype | None, device: torch.device) -> torch.dtype:
    """``"auto"`` or ``None`` -> bfloat16 on CUDA and on CPUs with native bf16, float32
    elsewhere (see ``models/precision.py``); names like ``"bfloat16"`` or torch dtypes."""
    if dtype is None or dtype == "auto":
        return auto_dtype(device)
    name = str(dtype).removeprefix("torch.")
    if name not in _DTYPES:
        raise ValueError(f"dtype must be one of {sorted(_DTYPES)}, got {dtype!r}")
    return _DTYPES[name]


class CausalVideoTokenizer(TokenizerTrainingMixin, TokenizerExportMixin, ModelPT):
    """A Cosmos image or video tokenizer (CI, DI, CV, DV) as a NeMo ``ModelPT``.

    Usually made by :meth:`from_pretrained`; ``CausalVideoTokenizer(cfg)`` builds one from a
    config made by :meth:`make_config` (weights then come from ``restore_from`` or a load).
    Pixels are float tensors in ``[-1, 1]``: video ``[B, 3, T, H, W]``, images
    ``[B, 3, H, W]`` or ``[B, 3, 1, H, W]``, any size (aligned by padding, see
    ``models/alignment.py``). The inference methods run without gradients; training
    (``train_ds``, ``optim``, ``loss`` in the config) is :class:`TokenizerTrainingMixin`'s;
    ONNX export (``model.export("dv8.onnx")``, NeMo's ``Exportable``) :class:`TokenizerExportMixin`'s.
    """

    def __init__(self, cfg: DictConfig, trainer=None):
        super().__init__(cfg=cfg, trainer=trainer)
        self.network_config = TokenizerConfig.from_dict(OmegaConf.to_container(self._cfg.network, resolve=True))
        self._set_inference_options(
            self._cfg.chunk_latents, self._cfg.tile_size, self._cfg.tile_overlap, self._cfg.get("stream_cache", "device")
        )
        device = resolve_device(self._cfg.device)
        dtype = resolve_dtype(self._cfg.dtype, device)
        torchscript = {part: path for part, path in (self._cfg.get("torchscript") or {}).items() if path}
        self._scripted: dict[str, torch.jit.ScriptModule] = {}
        if torchscript:
            if self._cfg.get("train_ds") is not None:
                raise ValueError("training needs the native network; load the weights with use_pytorch=True")
            self.network = None
            for part, path in torchscript.items():
                local = self.register_artifact(f"torchscript.{part}", path)
                self._scripted[part] = torch.jit.load(local, map_location=device).eval()
        else:
            self.network = CosmosTokenizer(self.network_config, encoder=self._cfg.encoder, decoder=self._cfg.decoder)
            self.setup_training_parts()
        self.to(device=device, dtype=dtype)
        self.eval()

    # ----------------------------------------------------------------- construction

    @classmethod
    def make_config(
        cls,
        network: str | TokenizerConfig | dict,
        encoder: bool = True,
        decoder: bool = True,
        dtype: str | torch.dtype | None = None,
        device: str | torch.device | None = None,
        chunk_latents: int | None = DEFAULT_CHUNK_LATENTS,
        tile_size: int | None = None,
        tile_overlap: int | None = None,
        torchscript: dict[str, str] | None = None,
        name: str | None = None,
        stream_cache: str = "device",
    ) -> DictConfig:
        """The model config: the network (preset name, :class:`TokenizerConfig` or dict),
        which halves to build, dtype and device (``None``: chosen at load time, dtype as ``"auto"``), the
        streaming chunk in latent frames (``None``: one pass), tiling in pixels
        (``tile_size`` ``None``: no tiling), the TorchScript files to run instead of the
        native network, the name it came from, and where streams keep the temporal
        attention's key/value cache (``"device"``, or ``"host"``: pinned host memory)."""
        return OmegaConf.create(
            {
                "network": as_tokenizer_config(network).to_dict(),
                "encoder": encoder,
                "decoder": decoder,
                "dtype": None if dtype is None else str(dtype).removeprefix("torch."),
                "device": None if device is None else str(device),
                "chunk_latents": chunk_latents,
                "tile_size": tile_size,
                "tile_overlap": tile_overlap,
                "torchscript": dict(torchscript) if torchscript else None,
                "name": name,
                "stream_cache": stream_cache,
            }
        )

    @classmethod
    def from_pretrained(
        cls,
        model_name_or_path: str | Path,
        load_encoder: bool = True,
        load_decoder: bool = True,
        load_full_model: bool = False,
        use_pytorch: bool = True,
        dtype: str | torch.dtype | None = None,
        device: str | torch.device | None = None,
        *,
        config: str | TokenizerConfig | dict | None = None,
        revision: str | None = None,
        cache_dir: str | Path | None = None,
        token: str | bool | None = None,
        chunk_latents: int | None = DEFAULT_CHUNK_LATENTS,
        tile_size: int | None = None,
        tile_overlap: int | None = None,
        map_location: str | torch.device | None = None,
        strict: bool = True,
        stream_cache: str = "device",
    ) -> "CausalVideoTokenizer":
        """Load an official tokenizer by name (``Cosmos-Tokenizer-DV8x8x8`` or
        ``nvidia/...``; hub repo ``nvidia/<name>`` through the Hugging Face cache, offline
        with ``HF_HUB_OFFLINE=1``) or from a local directory holding ``encoder.jit`` /
        ``decoder.jit`` / ``autoencoder.jit`` or our ``config.json`` + ``model.safetensors``.

        ``use_pytorch=True`` builds our network and loads the weights strictly (only the
        halves asked for; ``load_full_model`` takes both from ``autoencoder.jit``).
        ``use_pytorch=False`` runs the TorchScript files as they are. ``device``: CUDA
        when available, else CPU; ``dtype`` (``None`` = ``"auto"``): bfloat16 on CUDA and on
        CPUs with native bf16, float32 elsewhere. ``config``
        names the network of a directory without ``config.json``; ``revision``,
        ``cache_dir`` and ``token`` go to huggingface_hub. ``map_location`` (the device)
        and ``strict`` are NeMo's names, so ``init_from_pretrained_model`` in a NeMo config
        works; ``strict=False`` loads the weights that fit and logs the rest. ``chunk_latents``,
        ``tile_size``, ``tile_overlap`` and ``stream_cache``: see :meth:`configure_inference`.
        """
        if map_location is not None:
            if device is not None and torch.device(device) != torch.device(map_location):
                raise ValueError(f"device={device!r} and map_location={map_location!r} disagree; give one of them")
            device = map_location
        if not (load_encoder or load_decoder or load_full_model):
            raise ValueError("nothing to load: set load_encoder, load_decoder or load_full_model")
        halves = {"encoder": load_encoder or load_full_model, "decoder": load_decoder or load_full_model}
        if use_pytorch:
            parts = ["autoencoder"] if load_full_model else [part for part in ("encoder", "decoder") if halves[part]]
        else:
            wanted = {"encoder": load_encoder, "decoder": load_decoder, "autoencoder": load_full_model}
            parts = [part for part, on in wanted.items() if on]
        files = resolve_checkpoint_files(
            model_name_or_path, parts, config=config, allow_weights=use_pytorch,
            revision=revision, cache_dir=cache_dir, token=token,
        )
        cfg = cls.make_config(
            files.config,
            encoder=halves["encoder"],
            decoder=halves["decoder"],
            dtype=dtype,
            device=device,
            chunk_latents=chunk_latents,
            tile_size=tile_size,
            tile_overlap=tile_overlap,
            torchscript=None if use_pytorch else {part: str(path) for part, path in files.torchscript.items()},
            name=str(model_name_or_path),
            stream_cache=stream_cache,
        )
        model = cls(cfg)
        if use_pytorch:
            model._load_native_weights(files, strict)
        mode = "native network" if use_pytorch else "TorchScript " + ", ".join(f"{p}.jit" for p in parts)
        logging.info(
            f"Loaded Cosmos {files.config.short_name} ({model._halves()}) from {files.source} as {mode}, "
            f"{str(model.dtype).removeprefix('torch.')} on {model.device}"
        )
        return model

    def _load_native_weights(self, files: CheckpointFiles, strict: bool) -> None:
        if files.weights is not None:
            state = half_state_dict(read_state_dict(files.weights), self.network.has_encoder, self.network.has_decoder)
            source = str(files.weights)
        else:
            state = {}
            for path in files.torchscript.values():
                state.update(read_state_dict(path))
            source = " + ".join(str(path) for path in files.torchscript.values())
        problems = load_weights(self.network, state, source=source, strict=strict)
        if problems:
            logging.warning(f"{source} loaded with strict=False: " + "; ".join(problems))

    def save_pretrained(self, directory: str | Path) -> Path:
        """Write our own format, ``config.json`` + ``model.safetensors``, which
        :meth:`from_pretrained` reads from a local directory without any network."""
        if self.network is None:
            raise RuntimeError(
                "save_pretrained writes the native network, but this model runs TorchScript modules; "
                "load it with use_pytorch=True to convert"
            )
        return save_native(self.network, directory)

    @classmethod
    def from_config_dict(cls, config: DictConfig | dict, trainer=None) -> "CausalVideoTokenizer":
        """Build from a saved config (``restore_from`` calls this). NeMo's generic version only
        instantiates ``target`` classes inside ``nemo.*``; this class is its own target."""
        return cls(cfg=config, trainer=trainer)

    @classmethod
    def list_available_models(cls) -> list[PretrainedModelInfo]:
        """Every official Cosmos tokenizer name, with its hub repo."""
        models = []
        for name in PRESETS:
            config = preset_config(name)
            what = f"{FAMILIES[config.family]} tokenizer"
            if config.is_discrete:
                output = f"FSQ codebook of {config.codebook_size:,}"
            else:
                output = f"{config.latent_channels}-channel latents"
            models.append(
                PretrainedModelInfo(
                    pretrained_model_name=name,
                    description=f"NVIDIA Cosmos {what} {config.short_name}, {output}",
                    location=f"https://huggingface.co/{hub_repo_id(name)}",
                    class_=cls,
                    aliases=[hub_repo_id(name)],
                )
            )
        return models

    # ----------------------------------------------------------------- inference options

    def configure_inference(
        self,
        chunk_latents: int | None = DEFAULT_CHUNK_LATENTS,
        tile_size: int | None = None,
        tile_overlap: int | None = None,
        stream_cache: str = "device",
    ) -> None:
        """Set streaming (latent frames per chunk, ``None``: one pass), tiling (pixels,
        ``tile_size`` ``None``: off) and where streams keep the temporal attention's
        key/value cache, which grows with the clip (``"device"``; ``"host"``: pinned host
        memory, read back block by block, exact and slower; for CUDA runs); kept in the
        config, so ``save_to`` keeps them."""
        self._set_inference_options(chunk_latents, tile_size, tile_overlap, stream_cache)
        with open_dict(self._cfg):
            self._cfg.chunk_latents = chunk_latents
            self._cfg.tile_size, self._cfg.tile_overlap = tile_size, tile_overlap
            self._cfg.stream_cache = stream_cache

    @property
    def chunk_latents(self) -> int | None:
        """Latent frames per streamed chunk (``None``: each clip in one pass)."""
        return self._chunk_latents

    @property
    def stream_cache(self) -> str:
        """Where streams keep the temporal attention's keys and values: ``"device"`` or ``"host"``."""
        return self._stream_cache

    def _set_inference_options(
        self, chunk_latents: int | None, tile_size: int | None, tile_overlap: int | None, stream_cache: str
    ):
        cs = self.network_config.spatial_compression
        if chunk_latents is not None and (not isinstance(chunk_latents, int) or chunk_latents < 1):
            raise ValueError(f"chunk_latents must be a positive number of latent frames or None, got {chunk_latents!r}")
        if tile_size is not None:
            if tile_overlap is None:
                tile_overlap = max(cs, tile_size // 4 // cs * cs)
            if tile_size < 2 * cs or tile_size % cs or tile_overlap % cs or not 0 <= 2 * tile_overlap <= tile_size:
                raise ValueError(
                    f"tile_size must be a multiple of {cs} (at least {2 * cs}) and tile_overlap a multiple of {cs} "
                    f"of at most half the tile, got tile_size={tile_size}, tile_overlap={tile_overlap}"
                )
        if stream_cache not in KV_CACHE_PLACES:
            raise ValueError(f"stream_cache must be one of {KV_CACHE_PLACES}, got {stream_cache!r}")
        self._chunk_latents, self._tile_size, self._tile_overlap = chunk_latents, tile_size, tile_overlap
        self._stream_cache = stream_cache

    # ----------------------------------------------------------------- inference

    @torch.no_grad()
    def encode(self, x: Tensor) -> tuple[Tensor] | tuple[Tensor, Tensor]:
        """Pixels -> ``(latent,)`` (continuous) or ``(indices, codes)`` (discrete).

        The input is padded to the compression grid (latents cover the padded frame; pass
        ``crop_to`` to :meth:`decode` to get the original size back). An image given as
        ``[B, 3, 1, H, W]`` keeps its time axis in the outputs. Outputs come back on the
        input's device; a video on the host goes through the device chunk by chunk.
        """
        check_pixels(x, self.network_config)
        cfg = self.network_config
        if cfg.is_video:
            with self.encoder_stream(num_frames=x.shape[2]) as stream:
                return stream.push(x)
        x, time_axis = self._drop_time_axis(x)
        padded = self._transfer().to_device(pad_pixels(x, cfg.spatial_compression))
        encoded = self._tiled(self._backend().encode, padded, cfg.spatial_compression, 1, stitch=cfg.is_discrete)
        encoded = tuple(self._transfer().to_home(t, x.device) for t in encoded)
        if not time_axis:
            return encoded
        return tuple(t.unsqueeze(2 if t.is_floating_point() else 1) for t in encoded)

    @torch.no_grad()
    def decode(self, z: Tensor, crop_to: Sequence[int] | None = None) -> Tensor:
        """Latents (continuous) or integer indices (discrete) -> pixels in about ``[-1, 1]``.

        ``crop_to``: the trailing sizes of the original input (``(T, H, W)`` for video,
        ``(H, W)`` for images) to undo :meth:`encode`'s alignment padding. Outputs come
        back on the input's device.
        """
        check_latents(z, self.network_config)
        cfg = self.network_config
        if cfg.is_video:
            with self.decoder_stream(crop_to=crop_to) as stream:
                first = stream.push(z)
                rest = stream.close()
            return first if rest is None else rest if first is None else torch.cat([first, rest], dim=2)
        time_axis = z.dim() == (4 if cfg.is_discrete else 5)
        if time_axis:
            z = z.squeeze(1 if cfg.is_discrete else 2)
        y = self._tiled(self._backend().decode, self._transfer().to_device(z), 1, cfg.spatial_compression, stitch=False)
        y = self._transfer().to_home(y, z.device)
        if time_axis:
            y = y.unsqueeze(2)
        return y if crop_to is None else crop_center(y, crop_to)

    @torch.no_grad()
    def autoencode(self, x: Tensor, temporal_window: int | None = None) -> Tensor:
        """Reconstruct pixels (encode then decode) at the input's shape, on the input's device.

        ``temporal_window=N`` (video, ``N = 1 + k*ct``) reconstructs independent windows
        of ``N`` frames as the old NeMo model did: not equal to the default, which streams
        the whole clip exactly.
        """
        check_pixels(x, self.network_config)
        cfg = self.network_config
        if temporal_window is not None:
            ct = cfg.temporal_compression
            if not cfg.is_video:
                raise ValueError(f"temporal_window is for video tokenizers; {cfg.short_name} is an image model")
            if not isinstance(temporal_window, int) or temporal_window < 1 or (temporal_window - 1) % ct:
                raise ValueError(f"temporal_window must be 1 + k*{ct} frames (e.g. {1 + 2 * ct}), got {temporal_window!r}")
            return torch.cat([self.autoencode(window) for window in x.split(temporal_window, dim=2)], dim=2)
        if cfg.is_video:
            with self.autoencoder_stream(num_frames=x.shape[2]) as stream:
                return stream.push(x)
        x, time_axis = self._drop_time_axis(x)
        cs = cfg.spatial_compression
        padded = self._transfer().to_device(pad_pixels(x, cs))
        y = crop_center(self._tiled(self._backend().autoencode, padded, cs, cs, stitch=False), x.shape[2:])
        y = self._transfer().to_home(y, x.device)
        return y.unsqueeze(2) if time_axis else y

    def encoder_stream(self, num_frames: int | None = None) -> EncoderStream:
        """Encode a video clip pushed in pieces: ``with model.encoder_stream(num_frames=T) as s:
        out = s.push(frames)`` with frames ``[B, 3, n, H, W]`` in ``[-1, 1]`` (any ``n``, in host
        memory); each push returns what :meth:`encode` returns for the latent frames it
        completes (on the frames' device), or None.

        ``num_frames`` (the clip's total) lets the stream pad in time exactly as
        :meth:`encode` does (edge frames split before and after) and refuse a clip whose
        attention cache cannot fit; the push that completes it returns the rest. Without it
        call ``close()``, which returns the last outputs and pads the end only (equal to
        :meth:`encode` when the clip has ``1 + k*ct`` frames or one fewer).
        """
        return EncoderStream(self, num_frames)

    def decoder_stream(self, crop_to: Sequence[int] | None = None) -> DecoderStream:
        """Decode a video's latents (or indices) pushed in pieces of any number of latent frames;
        each push returns the frames they decode to, in about ``[-1, 1]`` on the input's
        device (None when cropping leaves none). ``crop_to=(T, H, W)`` of the original clip
        crops the padding :meth:`encode` added; ``close()`` returns what is still owed
        (frames of TorchScript or one-pass models, which decode the clip whole)."""
        return DecoderStream(self, crop_to)

    def autoencoder_stream(self, num_frames: int | None = None) -> AutoencoderStream:
        """Reconstruct a video clip pushed in pieces: each push returns the reconstructed
        frames completed so far (cropped to the pushed frames' size), as
        :meth:`encoder_stream` for ``num_frames`` and ``close()``."""
        return AutoencoderStream(self, num_frames)

    def forward(self, video: np.ndarray, temporal_window: int | None = None) -> np.ndarray:
        """uint8 numpy ``[B, T, H, W, 3]`` -> its uint8 reconstruction, like the old NeMo model
        (whose default was independent 17-frame windows; ours streams the whole clip
        exactly unless ``temporal_window`` is given). Image models take ``[B, H, W, 3]``
        or ``[B, T, H, W, 3]``, each frame on its own."""
        check_uint8_video(video, self.network_config.is_video)
        pixels = uint8_to_pixels(video)  # [B, (T,) 3, H, W]
        if self.network_config.is_video:
            y = self.autoencode(pixels.transpose(1, 2), temporal_window=temporal_window).transpose(1, 2)
        else:
            y = self.autoencode(pixels.flatten(0, -4), temporal_window=temporal_window).view(pixels.shape)
        return pixels_to_uint8(y)

    def _drop_time_axis(self, x: Tensor) -> tuple[Tensor, bool]:
        """An image model's ``[B, 3, 1, H, W]`` as ``[B, 3, H, W]``, and whether it was squeezed."""
        time_axis = x.dim() == 5
        return (x.squeeze(2) if time_axis else x), time_axis

    def _transfer(self) -> DeviceTransfer:
        return DeviceTransfer(self.device, self.dtype)

    def _tiled(self, fn, x: Tensor, in_scale: int, out_scale: int, stitch: bool):
        if self._tile_size is None:
            return fn(x)
        cs = self.network_config.spatial_compression
        return run_tiled(fn, x, self._tile_size // cs, self._tile_overlap // cs, in_scale, out_scale, stitch)

    def _backend(self) -> NativeBackend | TorchScriptBackend:
        if self.network is None:
            return TorchScriptBackend(self._scripted, self.dtype)
        return NativeBackend(self.network)

    def _halves(self) -> str:
        if self.network is not None:
            on = {"encoder": self.network.has_encoder, "decoder": self.network.has_decoder}
            return "+".join(half for half, present in on.items() if present)
        return "+".join(part for part in ("encoder", "decoder", "autoencoder") if part in self._scripted)

    def _apply(self, fn, *args, **kwargs):
        """Move and cast the TorchScript modules with the model (they are not submodules, so that
        the .nemo file holds them once, as artifacts, not a second time in the weights)."""
        super()._apply(fn, *args, **kwargs)
        for module in getattr(self, "_scripted", {}).values():
            module._apply(fn)
        return self
