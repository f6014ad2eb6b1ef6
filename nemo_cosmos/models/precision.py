"""``dtype: auto``: bfloat16 where the hardware runs it natively, float32 elsewhere.

CUDA GPUs run bfloat16 natively. On CPUs only those with bf16 instructions (AVX512-BF16
or AMX on x86, the BF16 extension on Arm) run our convolutions about twice as fast in
bfloat16 as in float32; elsewhere oneDNN emulates bf16 or PyTorch falls back to slow
reference kernels, so float32 is both faster and more exact there.
"""

import torch
from nemo.utils import logging

_logged: set[str] = set()


def cpu_has_native_bf16() -> bool:
    """True when this CPU has bfloat16 instructions that oneDNN (and so PyTorch's convolutions) uses."""
    if not torch.backends.mkldnn.is_available() or not torch.ops.mkldnn._is_mkldnn_bf16_supported():
        return False
    capability = torch.backends.cpu.get_cpu_capability()
    if capability.startswith("AVX512"):  # the mkldnn check alone also accepts AVX-512 without bf16 (emulated)
        return torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported()
    return capability.startswith("SVE")  # Arm: the mkldnn check already asked for the BF16 extension


def auto_dtype(device: torch.device) -> torch.dtype:
    """bfloat16 on CUDA and on CPUs with native bf16, float32 elsewhere; the choice is logged once per device type."""
    if device.type == "cuda":
        dtype, reason = torch.bfloat16, "CUDA"
    elif device.type == "cpu" and cpu_has_native_bf16():
        dtype, reason = torch.bfloat16, f"CPU with native bf16 ({torch.backends.cpu.get_cpu_capability()})"
    else:
        dtype, reason = torch.float32, f"{device.type} without native bf16 ({cpu_capability_summary()})"
    if device.type not in _logged:
        _logged.add(device.type)
        logging.info(f"dtype auto: {str(dtype).removeprefix('torch.')} ({reason})")
    return dtype


def cpu_capability_summary() -> str:
    """This CPU's vector capability and bf16 support as PyTorch sees it, for logs and benchmark tables."""
    bf16 = "native bf16" if cpu_has_native_bf16() else "no native bf16"
    return f"{torch.backends.cpu.get_cpu_capability()}, {bf16}"
