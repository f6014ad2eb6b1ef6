"""SHA-256 checksums of dataset files, recorded in the sidecar and checked by ``verify``."""

import hashlib
from pathlib import Path

CHUNK_BYTES = 1 << 22


def sha256_file(path: str | Path) -> str:
    """The hex SHA-256 of a file, read in 4 MiB chunks."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as stream:
        while chunk := stream.read(CHUNK_BYTES):
            digest.update(chunk)
    return digest.hexdigest()
