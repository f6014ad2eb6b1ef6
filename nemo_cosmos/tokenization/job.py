"""The tokenization job: inputs -> parts -> one Megatron indexed dataset, on any number of ranks.

1. Every rank lists the inputs the same way and identifies each (absolute path, size,
   mtime in ns, caption). Before the model loads, the run is compared with what
   ``output.dir`` holds (``output_state``): other settings, or changed or vanished
   inputs of finished work, refuse the run unless ``output.overwrite``; a finished
   dataset whose inputs are all still there is grown by the new ones only.
2. The inputs to encode are cut into parts of whole encoding windows (``sharding``); the
   ranks take parts from a shared queue, mostly each its next part before it writes the
   current one, so that the next part's first videos decode while the current one ends.
   A complete part with the same header and the same input identities is reused, so an
   interrupted run resumes where it stopped.
3. Rank 0 writes the finished dataset (plus the new parts) under ``<name>.next`` with
   megatron-core's ``add_index`` and swaps it in (``publish``); the end of the run logs
   one line per rank (inputs, documents, skipped, clips/s, busy time).
"""

import contextlib
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from megatron.core.datasets.indexed_dataset import IndexedDataset
from nemo.utils import logging
from omegaconf import DictConfig

from nemo_cosmos.data.indexed.dataset_list import listed_prefixes, read_dataset_list
from nemo_cosmos.data.indexed.records import iter_documents, iter_records, iter_skipped
from nemo_cosmos.data.indexed.sidecar import complete_sidecar, header_of
from nemo_cosmos.data.indexed.token_layout import TokenLayout
from nemo_cosmos.data.media import ClipSampling, FrameGeometry, collect_inputs
from nemo_cosmos.data.media.sources import IMAGE_EXTENSIONS, VIDEO_EXTENSIONS
from nemo_cosmos.networks import TokenizerConfig
from nemo_cosmos.pretrained import resolve_checkpoint_files
from nemo_cosmos.tokenization.distributed import Ranks, job_ranks
from nemo_cosmos.tokenization.documents import CaptionTokenizer, LatentDocuments, TokenDocuments
from nemo_cosmos.tokenization.encoding import BatchEncoder, default_decode_workers
from nemo_cosmos.tokenization.inputs import absolute_items, identity_of, input_identity
from nemo_cosmos.tokenization.media_logs import data_logs_in_nemo_log
from nemo_cosmos.tokenization.options import TokenizeJobOptions, load_job_options
from nemo_cosmos.tokenization.output_state import OutputState, inspect_output
from nemo_cosmos.tokenization.part_writer import PartStats, write_part
from nemo_cosmos.tokenization.planning import Planner
from nemo_cosmos.tokenization.progress import ClipProgress
from nemo_cosmos.tokenization.publish import build_and_swap, clean_parts, finish_swap, publish_list
from nemo_cosmos.tokenization.rank_table import log_rank_table
from nemo_cosmos.tokenization.settings import fingerprint, job_settings
from nemo_cosmos.tokenization.sharding import Part, plan_parts, take_parts


@dataclass(frozen=True)
class JobSummary:
    """The finished dataset and what this run did (``*_this_run``: parts written now, not reused)."""

    prefix: str
    documents: int
    skipped: int
    tokens: int
    parts_written: int
    parts_reused: int
    documents_this_run: int
    tokens_this_run: int
    seconds_this_run: float
    frames_this_run: dict[str, int] = field(default_factory=dict)  # where the videos' frames went: used, stride, tail, unchosen, skipped

    @property
    def clips_per_second(self) -> float:
        return self.documents_this_run / self.seconds_this_run if self.seconds_this_run else 0.0

    @property
    def tokens_per_second(self) -> float:
        return self.tokens_this_run / self.seconds_this_run if self.seconds_this_run else 0.0


def job_device(options: TokenizeJobOptions, ranks: Ranks) -> tuple[str, str]:
    """This rank's device (``model.device``, else its GPU when there is one, else CPU) and
    the dtype name the model will run in (``model.dtype``, else bfloat16 on CUDA, float32 on CPU)."""
    device = options.model.device or (f"cuda:{ranks.local_rank}" if torch.cuda.is_available() else "cpu")
    dtype = options.model.dtype or ("bfloat16" if torch.device(device).type == "cuda" else "float32")
    return device, dtype.removeprefix("torch.")


def load_model(options: TokenizeJobOptions, device: str):
    """The encoder half of the tokenizer on ``device``."""
    from nemo_cosmos.models import CausalVideoTokenizer  # imports NeMo's ModelPT machinery

    return CausalVideoTokenizer.from_pretrained(
        options.model.name_or_path,
        load_encoder=True,
        load_decoder=False,
        use_pytorch=options.model.use_pytorch,
        dtype=options.model.dtype,
        device=device,
        chunk_latents=options.run.chunk_latents,
    )


def clip_sampling(options: TokenizeJobOptions, config: TokenizerConfig) -> ClipSampling | None:
    """How clips are cut for a video model (None for image models)."""
    if not config.is_video:
        return None
    try:
        return ClipSampling(**asdict(options.clips), temporal_compression=config.temporal_compression)
    except ValueError as error:
        raise ValueError(f"clips.*: {error} (the model {config.short_name} has temporal compression {config.temporal_compression})") from error


def frame_geometry(options: TokenizeJobOptions, config: TokenizerConfig) -> FrameGeometry:
    """The frame size rule for the model's spatial compression."""
    try:
        return FrameGeometry(**asdict(options.frames), multiple=config.spatial_compression)
    except ValueError as error:
        raise ValueError(f"frames.*: {error}") from error


def document_format(options: TokenizeJobOptions, config: TokenizerConfig) -> TokenDocuments | LatentDocuments:
    """Token documents for discrete models, latent documents for continuous ones."""
    if not config.is_discrete:
        if options.captions.tokenizer:
            raise ValueError("captions.tokenizer is for discrete (AR) models; continuous latents store no text (captions stay in each document's source)")
        return LatentDocuments(options.latents.dtype)
    try:
        layout = TokenLayout(**asdict(options.tokens), codebook_size=config.codebook_size)
    except ValueError as error:
        raise ValueError(f"tokens.*: {error} (the model {config.short_name} has {config.codebook_size} codes)") from error
    captions = CaptionTokenizer(options.captions.tokenizer, options.captions.add_special_tokens) if options.captions.tokenizer else None
    return TokenDocuments(layout, captions, options.captions.multimodal)


def dataset_tokens(prefix: str | Path, sidecar: dict[str, Any]) -> int:
    """Stored ids of a token dataset (captions and special ids included), or latent positions ``t*h*w``."""
    if sidecar["kind"] == "latents":
        return sum(int(np.prod(document["shape"][1:])) for document in iter_documents(prefix))
    if not sidecar["num_documents"]:
        return 0
    indexed = IndexedDataset(str(prefix), multimodal=sidecar["multimodal"])  # alive while its memory map is read
    return int(indexed.sequence_lengths.sum())


def output_datasets(final: Path) -> list[Path]:
    """The datasets that make up the output at ``final``: the parts it lists, or itself."""
    listing = read_dataset_list(final)
    return listed_prefixes(final, listing) if listing is not None else [final]


def _summarize(final: Path, written: int, reused: int, this_run: PartStats) -> JobSummary:
    datasets = [(prefix, complete_sidecar(prefix)) for prefix in output_datasets(final)]
    skipped_path = final.parent / "skipped.jsonl"
    with skipped_path.open(encoding="utf-8") if skipped_path.is_file() else contextlib.nullcontext([]) as skipped:
        skips = sum(1 for _ in skipped)
    return JobSummary(
        prefix=str(final),
        documents=sum(sidecar["num_documents"] for _, sidecar in datasets),
        skipped=skips,
        tokens=sum(dataset_tokens(prefix, sidecar) for prefix, sidecar in datasets),
        parts_written=written,
        parts_reused=reused,
        documents_this_run=this_run.documents,
        tokens_this_run=this_run.tokens,
        seconds_this_run=this_run.seconds,
        frames_this_run={name: getattr(this_run, f"frames_{name}") for name in ("used", "stride", "tail", "unchosen", "skipped")},
    )


def _count(number: int, one: str, many: str) -> str:
    """``1 part``, ``2 parts``: the summary reads as a sentence."""
    return f"{number} {one if number == 1 else many}"


def _log_summary(summary: JobSummary, kind: str, world_size: int) -> None:
    unit = "latent positions" if kind == "latents" else "tokens"
    logging.info(
        f"dataset {summary.prefix}: {_count(summary.documents, 'document', 'documents')}, {summary.tokens} {unit}; "
        f"{_count(summary.skipped, 'input or clip', 'inputs or clips')} skipped (see skipped.jsonl). "
        f"This run: {_count(summary.parts_written, 'part', 'parts')} written, {summary.parts_reused} reused, "
        f"{_count(summary.documents_this_run, 'document', 'documents')} and {summary.tokens_this_run} {unit} in {summary.seconds_this_run:.1f} s "
        f"on {_count(world_size, 'rank', 'ranks')}: {summary.clips_per_second:.3g} clips/s, {summary.tokens_per_second:.0f} {unit}/s"
    )
    frames = summary.frames_this_run
    if sum(frames.values()):
        logging.info(
            f"frames of the videos read this run: {frames['used']} in clips; unused: {frames['stride']} between sampled frames (clips.frame_stride or "
            f"clips.target_fps), {frames['tail']} in tails shorter than a clip, {frames['unchosen']} in clips beyond clips.max_clips_per_video, "
            f"{frames['skipped']} in skipped videos or clips"
        )


def _over_all_ranks(ranks: Ranks, stats: PartStats, written: int) -> tuple[PartStats, int]:
    """This run's totals and parts written over all ranks (time is the slowest rank's, as ranks
    work side by side), after logging one line per rank."""
    gathered = ranks.gather((stats, written))
    if ranks.is_first:
        log_rank_table([rank_stats for rank_stats, _ in gathered])
    total = PartStats()
    for rank_stats, _ in gathered:
        total.add(rank_stats)
    total.seconds = max(rank_stats.seconds for rank_stats, _ in gathered)
    return total, sum(count for _, count in gathered)


def _reusable(prefix: Path, header: dict[str, Any], identities: list[dict[str, Any]]) -> bool:
    """Whether the part at ``prefix`` is complete, made with ``header``, from exactly these inputs."""
    sidecar = complete_sidecar(prefix)
    if sidecar is None or header_of(sidecar) != header or sidecar["num_inputs"] != len(identities):
        return False
    return all(identity_of(record) == identity for record, identity in zip(iter_records(prefix), identities))


def _plan(options: TokenizeJobOptions, ranks: Ranks) -> tuple[list, list[dict[str, Any]], str, dict[str, Any], OutputState]:
    """Inputs, their identities, the device, the header and the plan against ``output.dir``; nothing loaded or written."""
    items = absolute_items(collect_inputs(options.input.paths))
    if not items:
        raise ValueError(f"input.paths={options.input.paths} holds no video {sorted(VIDEO_EXTENSIONS)} or image {sorted(IMAGE_EXTENSIONS)} files")
    listing = [input_identity(item) for item in items]
    device, dtype = job_device(options, ranks)
    files = resolve_checkpoint_files(options.model.name_or_path, ["encoder"], allow_weights=options.model.use_pytorch)
    clip_sampling(options, files.config), frame_geometry(options, files.config)  # bad clip or frame options fail here, before any loading
    settings = job_settings(options, files, torch.device(device).type, dtype)
    header = {**document_format(options, files.config).header(options.model.name_or_path, files.config), "settings": settings}
    state = inspect_output(Path(options.output.dir).resolve(), options.output.name, header, fingerprint(settings), listing, options.output.overwrite)
    return items, listing, device, header, state


@data_logs_in_nemo_log()
def run_tokenize_job(cfg: DictConfig | dict) -> JobSummary:
    """Run the job described by ``cfg`` (see ``TokenizeJobOptions``) on this rank; returns the summary.

    Raises ``RefusedRun`` (a ValueError) before anything is loaded or written when
    ``output.dir`` holds finished work the run would lose or change.
    """
    options = load_job_options(cfg)
    threads = torch.get_num_threads()
    torch.set_num_threads(options.run.threads)  # the same in one process and under torchrun: float bits depend on it
    try:
        with job_ranks(options.run.distributed_timeout_minutes) as ranks:
            return _run(options, ranks)
    finally:
        torch.set_num_threads(threads)


def _publish(options: TokenizeJobOptions, state: OutputState, parts: list[Path]) -> None:
    """Merge (or list) the finished datasets and the new parts as the output, then tidy ``parts/``."""
    parts_root = state.final.parent / "parts"
    if options.output.merge:
        build_and_swap(state.final, state.header, state.base, state.growth.dropped, parts)
        clean_parts(parts_root, {state.parts_dir} if options.output.keep_parts else None)
    else:  # the listed parts are the dataset: every folder that holds one stays
        publish_list(state.final, state.base, state.growth.dropped, parts)
        clean_parts(parts_root, {state.parts_dir, *(prefix.parent for prefix in state.base)})


def _run(options: TokenizeJobOptions, ranks: Ranks) -> JobSummary:
    output = Path(options.output.dir).resolve()
    final = output / options.output.name
    if ranks.is_first and finish_swap(final):
        logging.info(f"finished swapping in {final}, which an earlier run had completed when it stopped")
    ranks.barrier()
    items, listing, device, header, state = _plan(options, ranks)
    for note in state.notes:
        logging.info(note)
    if state.up_to_date:
        logging.info(f"{final} is already complete for these inputs and settings; nothing to do")
        summary = _summarize(final, 0, 0, PartStats())
        if ranks.is_first:
            _log_summary(summary, header["kind"], ranks.world_size)
        return summary

    growth = state.growth
    parts = plan_parts(len(growth.new), growth.kept, options.run.batch_size, options.run.items_per_part)
    prefixes = [state.parts_dir / part.name(options.output.name) for part in parts]

    def inputs_of(part: Part) -> list[int]:
        return growth.new[part.start - growth.kept : part.stop - growth.kept]

    todo = [i for i, part in enumerate(parts) if not _reusable(prefixes[i], header, [listing[p] for p in inputs_of(part)])] if ranks.is_first else None
    todo = ranks.gather(todo)[0]  # rank 0's view, before any rank writes
    model = load_model(options, device)
    config = model.network_config
    sampling, geometry = clip_sampling(options, config), frame_geometry(options, config)
    formatter = document_format(options, config)
    decode_workers = default_decode_workers() if options.run.decode_workers is None else options.run.decode_workers
    encoder = BatchEncoder(model, geometry, options.run.batch_size, options.run.chunk_latents, decode_workers, options.run.prefetch)
    stats, written = PartStats(), 0
    with ClipProgress(-(-len(growth.new) // ranks.world_size), ranks.rank, ranks.world_size, ranks.local_rank, options.run.progress) as progress:
        if ranks.is_first:  # parts an earlier run finished count as done, on the rank that decided to keep them
            for index in sorted(set(range(len(parts))) - set(todo)):
                prefix = prefixes[index]
                kept = complete_sidecar(prefix)
                skips = sum(1 for _ in iter_skipped(prefix))
                progress.reused(len(inputs_of(parts[index])), kept["num_documents"], skips, dataset_tokens(prefix, kept))
        planner = Planner(sampling, geometry, header["tokenizer"]["name"])
        for index, after in take_parts(ranks, len(todo)):
            positions = inputs_of(parts[todo[index]])
            following = [items[p] for p in inputs_of(parts[todo[after]])] if after is not None else []
            part_items, identities = [items[p] for p in positions], [listing[p] for p in positions]
            stats.add(write_part(str(prefixes[todo[index]]), header, part_items, identities, planner, encoder, formatter, progress, following))
            written += 1
    this_run, written = _over_all_ranks(ranks, stats, written)  # also waits for every rank's parts
    if ranks.is_first:
        _publish(options, state, prefixes)
    ranks.barrier()
    summary = _summarize(final, written, len(parts) - len(todo), this_run)
    if ranks.is_first:
        _log_summary(summary, header["kind"], ranks.world_size)
    return summary
