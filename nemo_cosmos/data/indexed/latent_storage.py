"""How continuous latents are stored in an indexed dataset, and read back bit-exactly.

``float32`` is stored as is. ``bfloat16``, which megatron-core's ``DType`` table has no
code for, is stored as its raw 16-bit patterns in an ``int16`` dataset; the sidecar
records ``dtype: bfloat16`` so readers view the bits as bfloat16 again, with no rounding
on the way in or out beyond the one cast to bfloat16.
"""

import numpy as np
import torch

LATENT_DTYPES = {"float32": (torch.float32, np.float32), "bfloat16": (torch.bfloat16, np.int16)}


def _dtypes(dtype: str) -> tuple[torch.dtype, type[np.number]]:
    if dtype not in LATENT_DTYPES:
        raise ValueError(f"latent dtype must be one of {sorted(LATENT_DTYPES)}, got {dtype!r}")
    return LATENT_DTYPES[dtype]


def latent_storage_dtype(dtype: str) -> type[np.number]:
    """The numpy dtype of the ``.bin`` file for latents of ``dtype``."""
    return _dtypes(dtype)[1]


def latent_to_sequence(latent: torch.Tensor, dtype: str) -> np.ndarray:
    """A latent of any shape (e.g. ``[C, t, h, w]``) -> its flat stored sequence, C-order."""
    torch_dtype, storage = _dtypes(dtype)
    if not latent.is_floating_point():
        raise ValueError(f"latents must be floating point, got {latent.dtype}")
    values = latent.detach().to(device="cpu", dtype=torch_dtype).contiguous().reshape(-1)
    if torch_dtype == torch.bfloat16:
        values = values.view(torch.int16)
    return values.numpy().astype(storage, copy=False)


def sequence_to_latent(sequence: np.ndarray, shape: list[int] | tuple[int, ...], dtype: str) -> torch.Tensor:
    """A stored sequence -> the latent tensor of ``shape`` in ``dtype`` (bit-exact)."""
    torch_dtype, storage = _dtypes(dtype)
    if sequence.dtype != storage or sequence.size != int(np.prod(shape)):
        raise ValueError(f"stored latent of {sequence.dtype} x {sequence.size} does not match {dtype} {list(shape)}")
    values = torch.from_numpy(np.array(sequence, copy=True))  # writable, and independent of any memory map
    if torch_dtype == torch.bfloat16:
        values = values.view(torch.bfloat16)
    return values.reshape(tuple(shape))
