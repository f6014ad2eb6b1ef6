"""The causal temporal attention's key/value cache kept in host memory.

Exact streaming lets every new frame attend to all earlier frames of the clip, so the
keys and values of every earlier chunk are kept: the cache grows with the clip. On the
device it is one growing tensor (``TemporalAttention``'s default). This cache instead
holds one block per earlier chunk in host memory (pinned when the device is CUDA) and
computes attention block by block: each block is copied to the device, scored, and
merged with the blocks before it through a running softmax (maximum, normaliser,
weighted sum), the way flash attention combines tiles. Device memory then holds one
block, not the clip's whole cache; the result equals attention over the concatenated
cache up to float rounding. Scores and the merge are computed in float32.
"""

import itertools

import torch
from torch import Tensor


class HostKVCache:
    """Keys and values ``[N, 1, L, C]`` of earlier chunks in host memory, one block per chunk."""

    def __init__(self) -> None:
        self.blocks: list[tuple[Tensor, Tensor]] = []

    def append(self, k: Tensor, v: Tensor) -> None:
        """Keep this chunk's keys and values; the copy to the host does not wait for the device."""
        self.blocks.append((_to_host(k), _to_host(v)))

    def attend(self, q: Tensor, k: Tensor, v: Tensor) -> Tensor:
        """Attention of ``q`` (this chunk's frames) over every cached block, then over this
        chunk's own ``k``, ``v`` with a causal mask. Returns ``q``'s dtype and shape."""
        scale = q.shape[-1] ** -0.5
        query = q.float() * scale
        t = q.shape[2]
        causal = torch.ones(t, t, dtype=torch.bool, device=q.device).tril()
        running_max = normaliser = total = None
        # a generator: each cached block reaches the device only when its turn comes
        blocks = ((kb.to(q.device, non_blocking=True), vb.to(q.device, non_blocking=True), None) for kb, vb in self.blocks)
        for keys, values, mask in itertools.chain(blocks, [(k, v, causal)]):
            scores = query @ keys.float().transpose(-1, -2)  # [N, 1, t, L]: L is one block's frames
            if mask is not None:
                scores = scores.masked_fill(~mask, float("-inf"))
            block_max = scores.amax(dim=-1, keepdim=True)
            if running_max is None:
                running_max = block_max
                weights = torch.exp(scores - running_max)
                normaliser = weights.sum(dim=-1, keepdim=True)
                total = weights @ values.float()
                continue
            new_max = torch.maximum(running_max, block_max)
            rescale = torch.exp(running_max - new_max)
            weights = torch.exp(scores - new_max)
            normaliser = normaliser * rescale + weights.sum(dim=-1, keepdim=True)
            total = total * rescale + weights @ values.float()
            running_max = new_max
        return (total / normaliser).to(q.dtype)


def _to_host(x: Tensor) -> Tensor:
    if x.device.type == "cpu":
        return x
    host = torch.empty(x.shape, dtype=x.dtype, pin_memory=True)
    return host.copy_(x, non_blocking=True)
