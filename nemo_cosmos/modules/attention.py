"""Single-head self-attention blocks: spatial (images, video frames) and causal temporal.

All use ``scaled_dot_product_attention`` on contiguous 4-D ``[batch, 1, length, C]``
inputs: only those take PyTorch's fused, memory-efficient CPU path. 3-D inputs, or a
channel axis whose stride is not 1 (a permuted view), fall back to the full score
matrix, ``(H*W)^2`` per frame. The scale is ``C ** -0.5``, the default.
"""

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from nemo_cosmos.modules.conv import CausalConv3d
from nemo_cosmos.modules.kv_cache import HostKVCache
from nemo_cosmos.modules.norms import FrameNorm, image_norm
from nemo_cosmos.modules.streaming import StreamingModule

# Before torch 2.8 the memory-efficient CUDA kernel fails on batches above 65,535; the
# temporal attention's batch is b*h*w (129,600 for 1080p, 8x8 spatial compression, batch 4).
MAX_ATTENTION_BATCH = 65535


def batch_split_attention(q: Tensor, k: Tensor, v: Tensor, **options) -> Tensor:
    """``scaled_dot_product_attention`` over at most ``MAX_ATTENTION_BATCH`` batch entries at a time.

    Batch entries are independent, so the split changes no number; inputs within the
    limit take one call and no copy.
    """
    if q.shape[0] <= MAX_ATTENTION_BATCH:
        return F.scaled_dot_product_attention(q, k, v, **options)
    parts = zip(*(t.split(MAX_ATTENTION_BATCH) for t in (q, k, v)))
    return torch.cat([F.scaled_dot_product_attention(*part, **options) for part in parts])


class _AttentionBlock(nn.Module):
    """``x + proj_out(attention(q(h), k(h), v(h)))`` with ``h = norm(x)``; pointwise projections."""

    def __init__(self, channels: int, video: bool):
        super().__init__()
        norm, pointwise = (FrameNorm, CausalConv3d) if video else (image_norm, nn.Conv2d)
        self.norm = norm(channels)
        self.q = pointwise(channels, channels, 1)
        self.k = pointwise(channels, channels, 1)
        self.v = pointwise(channels, channels, 1)
        self.proj_out = pointwise(channels, channels, 1)

    def forward(self, x: Tensor) -> Tensor:
        h = self.norm(x)
        return x + self.proj_out(self.attend(self.q(h), self.k(h), self.v(h)))

    def attend(self, q: Tensor, k: Tensor, v: Tensor) -> Tensor:
        raise NotImplementedError


class SpatialAttention(_AttentionBlock):
    """Attention over the positions of each image ``[B,C,H,W]`` or each frame ``[B,C,T,H,W]``."""

    def attend(self, q: Tensor, k: Tensor, v: Tensor) -> Tensor:
        if q.dim() == 4:
            b, c, h, w = q.shape
            q, k, v = (x.flatten(2).transpose(1, 2).unsqueeze(1).contiguous() for x in (q, k, v))
            out = F.scaled_dot_product_attention(q, k, v)
            return out.squeeze(1).transpose(1, 2).reshape(b, c, h, w)
        b, c, t, h, w = q.shape
        q, k, v = (x.permute(0, 2, 3, 4, 1).reshape(b * t, 1, h * w, c).contiguous() for x in (q, k, v))
        out = F.scaled_dot_product_attention(q, k, v)
        return out.reshape(b, t, h, w, c).permute(0, 4, 1, 2, 3)


class TemporalAttention(_AttentionBlock, StreamingModule):
    """Causal attention along time, independently at every spatial position of ``[B,C,T,H,W]``.

    When streaming, the keys and values of earlier chunks are kept and grown, so each
    new frame attends to every earlier frame of the clip, as in one pass; with the
    state's ``kv_cache`` set to ``"host"`` they are kept in a :class:`HostKVCache`.
    """

    def __init__(self, channels: int):
        super().__init__(channels, video=True)

    def attend(self, q: Tensor, k: Tensor, v: Tensor) -> Tensor:
        b, c, t, h, w = q.shape
        q, k, v = (x.permute(0, 3, 4, 2, 1).reshape(b * h * w, 1, -1, c).contiguous() for x in (q, k, v))
        on_host = self.state is not None and self.state.get("kv_cache") == "host"
        if self.at_clip_start:
            out = batch_split_attention(q, k, v, is_causal=True)
        elif on_host:
            out = self.state["host_kv"].attend(q, k, v)
        else:
            k = torch.cat([self.state["k"], k], dim=2)
            v = torch.cat([self.state["v"], v], dim=2)
            past = k.shape[2] - t
            keys = torch.arange(k.shape[2], device=q.device)
            queries = torch.arange(t, device=q.device) + past
            out = batch_split_attention(q, k, v, attn_mask=keys[None, :] <= queries[:, None])
        if on_host:
            self.state.setdefault("host_kv", HostKVCache()).append(k, v)
        elif self.state is not None:
            self.state["k"], self.state["v"] = k, v
        self.mark_started()
        return out.reshape(b, h, w, t, c).permute(0, 4, 3, 1, 2)
