"""Causal state carried from one chunk of a clip to the next.

Every temporally causal layer derives from :class:`StreamingModule`. Outside streaming
``state`` is ``None`` and a call sees a whole clip. Between :func:`start_streaming` and
:func:`stop_streaming` each layer keeps in ``state`` exactly what the next chunk needs
(trailing frames, attention keys and values, whether the clip's first frame was seen),
so chunk-by-chunk evaluation equals one pass over the whole clip.

The temporal attention's keys and values grow with the clip. ``kv_cache="device"``
keeps them beside the layer as one tensor; ``kv_cache="host"`` keeps them in host memory
(:class:`~nemo_cosmos.modules.kv_cache.HostKVCache`), so the device holds one chunk's.
"""

from torch import nn


class StreamingModule(nn.Module):
    """Base class of layers with causal state; spatial layers need none."""

    def __init__(self) -> None:
        super().__init__()
        self.state: dict | None = None

    @property
    def at_clip_start(self) -> bool:
        """True for a whole-clip call and for the first chunk of a stream."""
        return self.state is None or not self.state.get("started", False)

    def mark_started(self) -> None:
        if self.state is not None:
            self.state["started"] = True


KV_CACHE_PLACES = ("device", "host")


def start_streaming(module: nn.Module, kv_cache: str = "device") -> None:
    """Give every causal layer under ``module`` a fresh state; ``kv_cache`` is where the
    temporal attention keeps its keys and values (one of :data:`KV_CACHE_PLACES`)."""
    if kv_cache not in KV_CACHE_PLACES:
        raise ValueError(f"kv_cache must be one of {KV_CACHE_PLACES}, got {kv_cache!r}")
    for layer in module.modules():
        if isinstance(layer, StreamingModule):
            layer.state = {"kv_cache": kv_cache}


def stop_streaming(module: nn.Module) -> None:
    """Drop all carried state, returning the layers to whole-clip mode."""
    for layer in module.modules():
        if isinstance(layer, StreamingModule):
            layer.state = None
