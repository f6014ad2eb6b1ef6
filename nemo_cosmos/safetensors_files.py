"""Writing ``.safetensors`` files that get the permissions any other new file gets.

safetensors writes through a temporary file that it renames into place, and creates that
file with mode 0600, whatever the umask: on a shared cluster nobody else could read our
token files or weights. :func:`save_safetensors` writes the same bytes, then gives the
file the mode ``open()`` would have given it (0666 less the process umask).
"""

import os
from pathlib import Path

import torch
from safetensors.torch import save_file


def save_safetensors(tensors: dict[str, torch.Tensor], path: str | Path, metadata: dict[str, str] | None = None) -> Path:
    """``safetensors.torch.save_file`` with the umask honoured; returns the path."""
    path = Path(path)
    save_file(tensors, str(path), metadata=metadata)
    os.chmod(path, 0o666 & ~process_umask())
    return path


def process_umask() -> int:
    """The process umask: read from ``/proc`` on Linux, which leaves it untouched; elsewhere
    set and restored at once (the only portable way to read it)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except OSError:
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask
