"""Proving a tokenized dataset: ``nemo-cosmos verify OUTPUT_PREFIX [--reencode K]``.

Checks, each reported as one line naming the file and what is wrong:

- for an unmerged output (``<prefix>.parts.json``, ``output.merge: false``), each listed
  dataset is verified as below and its SHA-256 must be the one the list recorded;
- the sidecar is complete and the SHA-256 of ``.bin``, ``.idx`` and the per-input records
  match it (a flipped byte anywhere is caught here);
- megatron-core reads the index, and its document count equals the sidecar's and the
  records'; the ``.bin`` size equals what the index points at;
- every document's sequence length matches its recorded shape; token ids lie in the
  vision range ``[offset, offset + codebook)`` with the begin/end ids in place; latents
  are finite;
- with ``reencode=K``: K documents drawn at random (seeded) are encoded again from their
  sources with the recorded model and settings, one clip at a time, and compared: token
  grids may differ in at most ``TOKEN_MISMATCH_LIMIT`` of their ids and latents must be
  close (``LATENT_TOLERANCE``), because the dataset computed them in batches and float
  kernels are not batch-invariant in the last bits; a wrong source, frame range or setting
  differs far beyond that.
"""

import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from nemo_cosmos.data.indexed.checksums import sha256_file
from nemo_cosmos.data.indexed.dataset_list import listed_prefixes, read_dataset_list
from nemo_cosmos.data.indexed.reader import IndexedDocuments
from nemo_cosmos.data.indexed.records import records_path
from nemo_cosmos.data.indexed.sidecar import complete_sidecar, read_sidecar
from nemo_cosmos.data.media import MediaItem

TOKEN_MISMATCH_LIMIT = 0.01
LATENT_TOLERANCE = {"float32": 1e-3, "bfloat16": 2e-2}


@dataclass
class VerifyReport:
    """What was checked and every problem found (empty when the dataset is sound)."""

    prefix: str
    documents: int = 0
    reencoded: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def _checksums(prefix: str, sidecar: dict[str, Any]) -> list[str]:
    problems = []
    for suffix, expected in sidecar.get("sha256", {}).items():
        path = Path(f"{prefix}.{suffix}")
        if not path.is_file():
            problems.append(f"{path}: missing")
        elif sha256_file(path) != expected:
            problems.append(f"{path}: SHA-256 differs from the one recorded in {prefix}.json (the file changed or is damaged)")
    return problems


def _document_problems(documents: IndexedDocuments, doc: int) -> str | None:
    """Why document ``doc`` does not match its record, or None."""
    shape = documents.shape(doc)
    sequence = documents.vision_sequence(doc)
    if documents.kind == "latents":
        if len(sequence) != int(np.prod(shape)):
            return f"document {doc}: {len(sequence)} values stored for a latent of shape {shape}"
        return None if torch.isfinite(documents.latent(doc).float()).all() else f"document {doc}: the latent holds NaN or infinite values"
    layout = documents.layout
    if len(sequence) != layout.sequence_length(shape):
        return f"document {doc}: {len(sequence)} ids stored for a grid of shape {shape} with {len(layout.special_ids)} special ids"
    ids = sequence.astype(np.int64)
    start = 1 if layout.begin_of_video_id is not None else 0
    body = ids[start : start + int(np.prod(shape))]
    if layout.begin_of_video_id is not None and ids[0] != layout.begin_of_video_id or layout.end_of_video_id is not None and ids[-1] != layout.end_of_video_id:
        return f"document {doc}: the begin/end-of-video ids are not where the layout puts them"
    if body.size and (body.min() < layout.offset or body.max() >= layout.offset + layout.codebook_size):
        return f"document {doc}: ids outside the vision range [{layout.offset}, {layout.offset + layout.codebook_size}): [{body.min()}, {body.max()}]"
    return None


def _structure(prefix: str, sidecar: dict[str, Any], report: VerifyReport) -> IndexedDocuments | None:
    """Open the dataset and check counts, sizes and every document; None when it cannot be read."""
    try:
        documents = IndexedDocuments(prefix)
    except Exception as error:  # megatron-core fails in many ways on a damaged index
        report.problems.append(f"{prefix}.idx: cannot be read with megatron-core's IndexedDataset ({type(error).__name__}: {' '.join(str(error).split())})")
        return None
    report.documents = len(documents)
    indexed = documents.indexed
    if indexed is not None:
        end = int(indexed.index.sequence_pointers[-1]) + int(indexed.sequence_lengths[-1]) * np.dtype(sidecar["storage_dtype"]).itemsize
        if end != sidecar["bin_bytes"]:
            report.problems.append(f"{prefix}.bin: {sidecar['bin_bytes']} bytes, but the index points up to byte {end}")
            return documents
    with records_path(prefix).open(encoding="utf-8") as lines:
        inputs = sum(1 for _ in lines)
    if inputs != sidecar["num_inputs"]:
        report.problems.append(f"{records_path(prefix)}: {inputs} input records, the sidecar counts {sidecar['num_inputs']}")
    for doc in range(len(documents)):
        problem = _document_problems(documents, doc)
        if problem:
            report.problems.append(f"{prefix}.bin: {problem}")
    return documents


def _encode_again(documents: IndexedDocuments, doc: int, model, settings: dict[str, Any]) -> torch.Tensor | str:
    """Document ``doc`` encoded again from its source with ``model``, or why it cannot be."""
    from nemo_cosmos.tokenization.encoding import BatchEncoder
    from nemo_cosmos.tokenization.job import clip_sampling, frame_geometry
    from nemo_cosmos.tokenization.options import load_job_options
    from nemo_cosmos.tokenization.planning import plan_item

    groups: dict[str, dict[str, Any]] = {}
    for key, value in settings.items():
        group, _, name = key.partition(".")
        if group in ("clips", "frames"):
            groups.setdefault(group, {})[name] = value
    options = load_job_options({"model": {"name_or_path": "unused"}, "input": {"paths": "unused"}, "output": {"dir": "unused"}, **groups})
    config = model.network_config
    sampling, geometry = clip_sampling(options, config), frame_geometry(options, config)
    source = documents.source(doc)
    item = MediaItem(source["path"], source["kind"], source.get("caption"))
    planned, _ = plan_item(item, sampling, geometry, documents.sidecar["tokenizer"]["name"])
    if isinstance(planned, dict):
        return f"its source cannot be used now: {planned['reason']}"
    units = [unit for unit in planned if unit.clip is None or (unit.clip.start_frame, unit.clip.end_frame) == (source.get("start_frame"), source.get("end_frame"))]
    if not units:
        return f"its source no longer has a clip from frame {source.get('start_frame')} to {source.get('end_frame')}"
    encoder = BatchEncoder(model, geometry, 1, settings.get("run.chunk_latents", 2))
    run = encoder.encode_videos if units[0].clip is not None else encoder.encode_images
    ((_, result),) = list(run([(0, units[0])]))
    return result


def _compare(documents: IndexedDocuments, doc: int, result: torch.Tensor) -> str | None:
    if documents.kind == "latents":
        stored = documents.latent(doc).float()
        tolerance = LATENT_TOLERANCE[documents.sidecar["dtype"]]
        again = result.to(documents.latent(doc).dtype).float()
        worst = float((stored - again).abs().max()) if stored.numel() else 0.0
        limit = tolerance * (1.0 + float(stored.abs().max()))
        return None if stored.shape == again.shape and worst <= limit else f"re-encoded latent differs by up to {worst:.3g} (allowed {limit:.3g})"
    stored = documents.token_grid(doc)
    if stored.shape != result.shape:
        return f"re-encoded grid has shape {list(result.shape)}, stored {list(stored.shape)}"
    mismatched = float((stored != result.long()).float().mean())
    return None if mismatched <= TOKEN_MISMATCH_LIMIT else f"{mismatched:.1%} of the re-encoded ids differ"


def load_recorded_model(sidecar: dict[str, Any], device: str, model: str | None = None):
    """The encoder the dataset was made with (or ``model``), on ``device``, in the recorded dtype."""
    from nemo_cosmos.models import CausalVideoTokenizer
    from nemo_cosmos.pretrained import BUNDLED_MODELS, canonical_name

    settings = sidecar["settings"]
    name = model or settings["model.name_or_path"]
    files = settings.get("model.files", [])
    if model is None and not Path(name).is_dir() and name not in BUNDLED_MODELS and files:
        try:
            canonical_name(name)
        except ValueError:  # a relative directory named from another working directory: the recorded files say where
            name = str(Path(files[0]["path"]).parent)
    return CausalVideoTokenizer.from_pretrained(
        name, load_encoder=True, load_decoder=False, use_pytorch=settings["model.use_pytorch"], dtype=settings["model.dtype"], device=device
    )


def verify_dataset(prefix: str | Path, reencode: int = 0, seed: int = 0, device: str = "cpu", model: str | None = None) -> VerifyReport:
    """Check the dataset at ``prefix``, merged or a list of parts (see the module docstring);
    ``reencode`` documents (per listed part, for a list) are encoded again."""
    listing = read_dataset_list(prefix) if not Path(f"{prefix}.json").is_file() else None
    if listing is None:
        return _verify_one(str(prefix), reencode, seed, device, model)
    report = VerifyReport(str(prefix))
    for entry, part in zip(listing["datasets"], listed_prefixes(prefix, listing)):
        found = _verify_one(str(part), reencode, seed, device, model)
        report.documents += found.documents
        report.reencoded += found.reencoded
        report.problems += found.problems
        sidecar = complete_sidecar(part)
        if sidecar is not None and sidecar["sha256"] != entry["sha256"]:
            report.problems.append(f"{part}: its checksums differ from those {prefix}.parts.json recorded (the part was rewritten or replaced)")
    if report.documents != listing["num_documents"]:
        report.problems.append(f"{prefix}.parts.json: lists {listing['num_documents']} documents, the parts hold {report.documents}")
    return report


def _verify_one(prefix: str, reencode: int, seed: int, device: str, model: str | None) -> VerifyReport:
    report = VerifyReport(prefix)
    try:
        sidecar = read_sidecar(prefix)
    except (FileNotFoundError, ValueError) as error:
        report.problems.append(" ".join(str(error).split()))
        return report
    if complete_sidecar(prefix) is None:
        report.problems.append(f"{prefix}: not complete (.bin of the recorded {sidecar.get('bin_bytes')} bytes, .idx and .inputs.jsonl must all be there)")
    report.problems += _checksums(prefix, sidecar)
    documents = _structure(prefix, sidecar, report)
    if documents is None or reencode <= 0 or not len(documents):
        return report
    if "settings" not in sidecar:
        report.problems.append(f"{prefix}.json: records no job settings, so documents cannot be re-encoded")
        return report
    encoder_model = load_recorded_model(sidecar, device, model)
    for doc in sorted(random.Random(seed).sample(range(len(documents)), min(reencode, len(documents)))):
        with torch.no_grad():
            result = _encode_again(documents, doc, encoder_model, sidecar["settings"])
        problem = result if isinstance(result, str) else _compare(documents, doc, result)
        report.reencoded += 1
        if problem:
            report.problems.append(f"{prefix}: document {doc} ({documents.source(doc)['path']}): {problem}")
    return report
