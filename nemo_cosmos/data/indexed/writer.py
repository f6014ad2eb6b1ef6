"""Writing Megatron indexed datasets (``.bin``/``.idx``) with megatron-core's own builder, plus the sidecar.

One document per clip or image. A document holds one vision sequence (tokens or a
flattened latent), optionally preceded by caption text sequences in a multimodal
dataset. Nothing appears under the final names until :meth:`IndexedDatasetWriter.finish`:
the data and index are built under ``.partial`` names and renamed when complete, and
the sidecar, the completion marker, comes last. Parts written by several ranks (or
several runs) are combined in order with the builder's ``add_index``, which gives the
same bytes as writing every document into one dataset.
"""

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from megatron.core.datasets.indexed_dataset import IndexedDatasetBuilder

from nemo_cosmos.data.indexed.atomic import partial_path, publish
from nemo_cosmos.data.indexed.sidecar import complete_sidecar, header_of, read_sidecar, sidecar_path, write_sidecar
from nemo_cosmos.data.indexed.skipped import write_skipped


def read_part_sidecar(prefix: str | Path, header: dict[str, Any] | None = None) -> dict[str, Any]:
    """The sidecar of a complete part, checked to carry ``header`` when given; ValueError otherwise."""
    sidecar = complete_sidecar(prefix)
    if sidecar is None:
        raise ValueError(f"{prefix}: cannot merge a part that is not complete (no sidecar, or .bin/.idx missing or of the wrong size)")
    if header is not None and header_of(sidecar) != header:
        differing = sorted(k for k in set(header_of(sidecar)) | set(header) if header_of(sidecar).get(k) != header.get(k))
        raise ValueError(f"{prefix}: part header differs from the other parts in {differing}")
    return sidecar


class IndexedDatasetWriter:
    """Builds the dataset at ``prefix`` described by ``header`` (see ``sidecar.token_header`` / ``latent_header``).

    As a context manager it finishes on success and aborts (removing the partial files)
    on an exception. Creating a writer first deletes any sidecar at ``prefix``, so an
    older dataset being replaced never looks complete while it is rewritten.
    """

    def __init__(self, prefix: str | Path, header: dict[str, Any]) -> None:
        self.prefix = str(prefix)
        self.header = dict(header)
        self._dtype = np.dtype(header["storage_dtype"]).type
        self._multimodal = bool(header["multimodal"])
        Path(self.prefix).parent.mkdir(parents=True, exist_ok=True)
        sidecar_path(self.prefix).unlink(missing_ok=True)
        self._bin_path, self._idx_path = Path(f"{self.prefix}.bin"), Path(f"{self.prefix}.idx")
        self._builder = IndexedDatasetBuilder(str(partial_path(self._bin_path)), dtype=self._dtype, multimodal=self._multimodal)
        self._documents: list[dict[str, Any]] = []
        self._skipped: list[dict[str, Any]] = []
        self._open = True

    @property
    def num_documents(self) -> int:
        return len(self._documents)

    def add_document(
        self,
        sequences: Sequence[np.ndarray],
        shape: Sequence[int],
        source: dict[str, Any],
        modes: Sequence[int] | None = None,
        text_prefix: int = 0,
    ) -> None:
        """Append one document: its sequences (vision last), the vision ``shape`` and its provenance.

        Every sequence must be 1-D in the storage dtype (use ``TokenLayout.to_sequence`` or
        ``latent_to_sequence``). ``modes`` (one per sequence) are required exactly when the
        dataset is multimodal. ``text_prefix``: how many caption ids open the last sequence
        when text and vision share one sequence (what GPT-style training reads).
        """
        self._require_open()
        if not sequences:
            raise ValueError(f"a document for {self.prefix} needs at least one sequence")
        for sequence in sequences:
            if sequence.ndim != 1 or sequence.dtype != self._dtype:
                raise ValueError(f"sequences for {self.prefix} must be 1-D {self._dtype.__name__}, got {sequence.dtype} {list(sequence.shape)}")
        if (modes is not None) != self._multimodal or (modes is not None and len(modes) != len(sequences)):
            raise ValueError(f"{self.prefix}: give one mode per sequence exactly when the dataset is multimodal (multimodal={self._multimodal})")
        if not 0 <= text_prefix < len(sequences[-1]):
            raise ValueError(f"{self.prefix}: text_prefix {text_prefix} must leave vision ids in the last sequence of length {len(sequences[-1])}")
        for i, sequence in enumerate(sequences):
            self._builder.add_item(torch.from_numpy(np.ascontiguousarray(sequence)), mode=modes[i] if modes is not None else 0)
        self._builder.end_document()
        record = {"shape": [int(n) for n in shape], "source": dict(source)}
        if text_prefix:
            record["text_prefix"] = int(text_prefix)
        self._documents.append(record)

    def add_skipped(self, record: dict[str, Any]) -> None:
        """Note an input that produced no document (see ``skipped.skip_record``)."""
        self._require_open()
        self._skipped.append(dict(record))

    def add_part(self, prefix: str | Path) -> None:
        """Append every document (and skip record) of the complete dataset at ``prefix``, in order."""
        self._require_open()
        sidecar = read_part_sidecar(prefix, self.header)
        self._builder.add_index(str(prefix))
        self._documents.extend(sidecar["documents"])
        self._skipped.extend(sidecar["skipped"])

    def finish(self) -> dict[str, Any]:
        """Write the index, move ``.bin`` and ``.idx`` to their final names, then the sidecar; returns the sidecar."""
        self._require_open()
        self._open = False
        self._builder.finalize(str(partial_path(self._idx_path)))
        publish(self._bin_path)
        publish(self._idx_path)
        sidecar = {
            **self.header,
            "num_documents": len(self._documents),
            "bin_bytes": self._bin_path.stat().st_size,
            "documents": self._documents,
            "skipped": self._skipped,
        }
        write_sidecar(self.prefix, sidecar)
        return sidecar

    def abort(self) -> None:
        """Stop writing and remove the partial files; final names are left untouched."""
        if not self._open:
            return
        self._open = False
        self._builder.data_file.close()
        for path in (self._bin_path, self._idx_path):
            partial_path(path).unlink(missing_ok=True)

    def _require_open(self) -> None:
        if not self._open:
            raise ValueError(f"the writer for {self.prefix} is already finished or aborted")

    def __enter__(self) -> "IndexedDatasetWriter":
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *rest: object) -> None:
        if exc_type is None:
            self.finish()
        else:
            self.abort()


def merge_parts(part_prefixes: Sequence[str | Path], prefix: str | Path, skipped_path: str | Path | None = None) -> dict[str, Any]:
    """Combine complete parts, in the order given, into the dataset at ``prefix``; returns its sidecar.

    All parts must share one header. The skip records of all parts go to ``skipped_path``
    (a ``skipped.jsonl``) when given, as well as into the merged sidecar.
    """
    if not part_prefixes:
        raise ValueError(f"no parts to merge into {prefix}")
    header = header_of(read_part_sidecar(part_prefixes[0]))
    for part in part_prefixes:  # check every part before the writer replaces anything at prefix
        read_part_sidecar(part, header)
    with IndexedDatasetWriter(prefix, header) as writer:
        for part in part_prefixes:
            writer.add_part(part)
    sidecar = read_sidecar(prefix)
    if skipped_path is not None:
        write_skipped(skipped_path, sidecar["skipped"])
    return sidecar
