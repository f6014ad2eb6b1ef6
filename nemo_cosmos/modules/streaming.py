"""Causal state carried from one chunk of a clip to the next.

Every temporally causal layer derives from :class:`StreamingModule`. Outside streaming
``state`` is ``None`` and a call sees a whole clip. Between :func:`start_streaming` and
:func:`stop_streaming` each layer keeps in ``state`` exactly what the next chunk needs
(trailing frames, attention keys and values, whether the clip's first frame was seen),
so chunk-by-chunk evaluation equals one pass over the whole clip.
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


def start_streaming(module: nn.Module) -> None:
    """Give every causal layer under ``module`` a fresh, empty state."""
    for layer in module.modules():
        if isinstance(layer, StreamingModule):
            layer.state = {}


def stop_streaming(module: nn.Module) -> None:
    """Drop all carried state, returning the layers to whole-clip mode."""
    for layer in module.modules():
        if isinstance(layer, StreamingModule):
            layer.state = None
