"""Writing Megatron indexed datasets (``.bin``/``.idx``) with megatron-core's builder, plus records and sidecar.

One document per clip or image. A document holds one vision sequence (tokens or a
flattened latent), optionally preceded by caption text sequences in a multimodal
dataset. Documents and skip records are grouped by input (``end_input``) into the
per-input records, streamed to disk as they come. Nothing appears under the final names
until :meth:`IndexedDatasetWriter.finish`: data, index and records are built under
``.partial`` names and renamed when complete, and the sidecar (with their SHA-256), the
completion marker, comes last. Datasets written by several ranks (or several runs) are
combined in order with the builder's ``add_index``, which gives the same bytes as
writing every document into one dataset.
"""

import contextlib
import gc
import json
from collections.abc import Collection, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from megatron.core.datasets.indexed_dataset import IndexedDatasetBuilder

from nemo_cosmos.data.indexed.atomic import partial_path, publish
from nemo_cosmos.data.indexed.checksums import sha256_file
from nemo_cosmos.data.indexed.records import iter_skipped, record_line, records_path
from nemo_cosmos.data.indexed.sidecar import complete_sidecar, header_of, sidecar_path, write_sidecar
from nemo_cosmos.data.indexed.skipped import write_skipped


def read_part_sidecar(prefix: str | Path, header: dict[str, Any] | None = None) -> dict[str, Any]:
    """The sidecar of a complete dataset to merge, checked to carry ``header`` when given; ValueError otherwise."""
    sidecar = complete_sidecar(prefix)
    if sidecar is None:
        raise ValueError(f"{prefix}: cannot merge a part that is not complete (no sidecar, or .bin/.idx missing or of the wrong size)")
    if header is not None and header_of(sidecar) != header:
        differing = sorted(k for k in set(header_of(sidecar)) | set(header) if header_of(sidecar).get(k) != header.get(k))
        raise ValueError(f"{prefix}: part header differs from the other parts in {differing}")
    return sidecar


@contextlib.contextmanager
def _long_lived_objects_frozen() -> Iterator[None]:
    """megatron-core's ``add_index`` calls ``gc.collect()`` for every dataset it adds, which
    scans the whole heap (torch and megatron-core alone make it large): 313 parts took over
    100 s of CPU to merge, 2 s with this. Objects that exist before the call are frozen out
    of that scan (``gc.freeze``), so each collection sees only what the merge created."""
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


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
        self._records_path = records_path(self.prefix)
        self._builder = IndexedDatasetBuilder(str(partial_path(self._bin_path)), dtype=self._dtype, multimodal=self._multimodal)
        self._records = partial_path(self._records_path).open("w", encoding="utf-8")
        self._documents: list[dict[str, Any]] = []  # of the input being written
        self._skipped: list[dict[str, Any]] = []
        self.num_documents = 0
        self.num_inputs = 0
        self._open = True

    def add_document(
        self,
        sequences: Sequence[np.ndarray],
        shape: Sequence[int],
        source: dict[str, Any],
        modes: Sequence[int] | None = None,
        text_prefix: int = 0,
    ) -> None:
        """Append one document of the current input: its sequences (vision last), the vision ``shape`` and its provenance.

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
        self.num_documents += 1

    def add_skipped(self, record: dict[str, Any]) -> None:
        """Note a clip or input of the current input that produced no document (see ``skipped.skip_record``)."""
        self._require_open()
        self._skipped.append(dict(record))

    def end_input(self, identity: dict[str, Any] | None = None) -> None:
        """Close the current input: its documents and skip records become one record line,
        with ``identity`` (e.g. path, size, mtime_ns, caption) when given."""
        self._require_open()
        self._records.write(record_line({**(identity or {}), "documents": self._documents, "skipped": self._skipped}))
        self._documents, self._skipped = [], []
        self.num_inputs += 1

    def add_dataset(self, prefix: str | Path, drop: Collection[int] = ()) -> None:
        """Append every document and input record of the complete dataset at ``prefix``, in order.

        ``drop``: numbers of input records to leave out; they must hold no document (a
        skipped input), so the data and index are copied whole.
        """
        self._require_open()
        if self._documents or self._skipped:
            raise ValueError(f"{self.prefix}: end the current input before appending {prefix}")
        sidecar = read_part_sidecar(prefix, self.header)
        with _long_lived_objects_frozen():
            self._builder.add_index(str(prefix))
        with records_path(prefix).open(encoding="utf-8") as lines:
            for number, line in enumerate(lines):
                if number not in drop:
                    self._records.write(line)
                elif json.loads(line).get("documents"):
                    raise ValueError(f"{records_path(prefix)}: record {number} holds documents and cannot be dropped")
        self.num_documents += sidecar["num_documents"]
        self.num_inputs += sidecar["num_inputs"] - len(drop)

    def finish(self) -> dict[str, Any]:
        """Write the index, move ``.bin``, ``.idx`` and the records to their final names, then the sidecar; returns the sidecar."""
        self._require_open()
        if self._documents or self._skipped:
            self.end_input()
        self._open = False
        self._builder.finalize(str(partial_path(self._idx_path)))
        self._records.close()
        for path in (self._bin_path, self._idx_path, self._records_path):
            publish(path)
        sidecar = {
            **self.header,
            "num_documents": self.num_documents,
            "num_inputs": self.num_inputs,
            "bin_bytes": self._bin_path.stat().st_size,
            "sha256": {suffix: sha256_file(path) for suffix, path in (("bin", self._bin_path), ("idx", self._idx_path), ("inputs.jsonl", self._records_path))},
        }
        write_sidecar(self.prefix, sidecar)
        return sidecar

    def abort(self) -> None:
        """Stop writing and remove the partial files; final names are left untouched."""
        if not self._open:
            return
        self._open = False
        self._builder.data_file.close()
        self._records.close()
        for path in (self._bin_path, self._idx_path, self._records_path):
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
    """Combine complete datasets (parts, or a finished dataset and new parts), in the order
    given, into the dataset at ``prefix``; returns its sidecar.

    All parts must share one header. The skip records of all parts also go to
    ``skipped_path`` (a ``skipped.jsonl``) when given, streamed.
    """
    if not part_prefixes:
        raise ValueError(f"no parts to merge into {prefix}")
    header = header_of(read_part_sidecar(part_prefixes[0]))
    for part in part_prefixes:  # check every part before the writer replaces anything at prefix
        read_part_sidecar(part, header)
    with IndexedDatasetWriter(prefix, header) as writer:
        for part in part_prefixes:
            writer.add_dataset(part)
    if skipped_path is not None:
        write_skipped(skipped_path, iter_skipped(prefix))
    return complete_sidecar(prefix)
