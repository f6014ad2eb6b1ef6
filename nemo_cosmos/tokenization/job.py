"""The tokenization job: inputs -> parts -> one Megatron indexed dataset, on any number of ranks.

1. Every rank lists the inputs the same way and cuts them into parts of
   ``run.items_per_part`` inputs; rank ``r`` of ``N`` writes parts ``r, r+N, ...``.
2. A part that is already complete with the same header (model, layout, clip and frame
   settings, the input list) is reused, so an interrupted job resumes where it stopped;
   any other part is (re)written under temporary names and renamed when complete.
3. After a barrier, rank 0 merges the parts in part order into ``<output.dir>/<name>``
   with megatron-core's ``add_index`` (atomically) and writes ``skipped.jsonl``. The
   result is the same bytes whatever the number of ranks.
"""

import hashlib
import json
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from megatron.core.datasets.indexed_dataset import IndexedDataset
from nemo.utils import logging
from omegaconf import DictConfig

from nemo_cosmos.data.indexed.sidecar import complete_sidecar, header_of, read_sidecar
from nemo_cosmos.data.indexed.token_layout import TokenLayout
from nemo_cosmos.data.indexed.writer import merge_parts
from nemo_cosmos.data.media import ClipSampling, FrameGeometry, MediaItem, collect_inputs
from nemo_cosmos.data.media.sources import IMAGE_EXTENSIONS, VIDEO_EXTENSIONS
from nemo_cosmos.networks import TokenizerConfig
from nemo_cosmos.tokenization.distributed import Ranks, job_ranks
from nemo_cosmos.tokenization.documents import CaptionTokenizer, LatentDocuments, TokenDocuments
from nemo_cosmos.tokenization.encoding import BatchEncoder, default_decode_workers
from nemo_cosmos.tokenization.media_logs import data_logs_in_nemo_log
from nemo_cosmos.tokenization.options import TokenizeJobOptions, load_job_options
from nemo_cosmos.tokenization.part_writer import PartStats, write_part
from nemo_cosmos.tokenization.progress import ClipProgress
from nemo_cosmos.tokenization.sharding import parts_for_rank, plan_parts


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


def load_model(options: TokenizeJobOptions, ranks: Ranks):
    """The encoder half of the tokenizer, on this rank's GPU when there is one."""
    from nemo_cosmos.models import CausalVideoTokenizer  # imports NeMo's ModelPT machinery

    device = options.model.device or (f"cuda:{ranks.local_rank}" if torch.cuda.is_available() else "cpu")
    return CausalVideoTokenizer.from_pretrained(
        options.model.name_or_path,
        load_encoder=True,
        load_decoder=False,
        use_pytorch=options.model.use_pytorch,
        dtype=options.model.dtype,
        device=device,
    )


def clip_sampling(options: TokenizeJobOptions, config: TokenizerConfig) -> ClipSampling | None:
    """How clips are cut for a video model (None for image models)."""
    if not config.is_video:
        return None
    clips = options.clips
    try:
        return ClipSampling(
            num_frames=clips.num_frames,
            temporal_compression=config.temporal_compression,
            frame_stride=clips.frame_stride,
            target_fps=clips.target_fps,
            max_clips=clips.max_clips_per_video,
            pad_short=clips.pad_short,
        )
    except ValueError as error:
        raise ValueError(f"clips.*: {error} (the model {config.short_name} has temporal compression {config.temporal_compression})") from error


def frame_geometry(options: TokenizeJobOptions, config: TokenizerConfig) -> FrameGeometry:
    frames = options.frames
    cs = config.spatial_compression
    try:
        return FrameGeometry(height=frames.height, width=frames.width, mode=frames.fit, multiple=cs, min_side=frames.min_side or cs)
    except ValueError as error:
        raise ValueError(f"frames.*: {error}") from error


def document_format(options: TokenizeJobOptions, config: TokenizerConfig) -> TokenDocuments | LatentDocuments:
    """Token documents for discrete models, latent documents for continuous ones."""
    if not config.is_discrete:
        if options.captions.tokenizer:
            raise ValueError("captions.tokenizer is for discrete (AR) models; continuous latents store no text (captions stay in each document's source)")
        return LatentDocuments(options.latents.dtype)
    tokens = options.tokens
    layout = TokenLayout(config.codebook_size, tokens.offset, tokens.begin_of_video_id, tokens.end_of_video_id)
    captions = CaptionTokenizer(options.captions.tokenizer, options.captions.add_special_tokens) if options.captions.tokenizer else None
    return TokenDocuments(layout, captions, options.captions.multimodal)


def recipe_header(options: TokenizeJobOptions, items: list[MediaItem], sampling: ClipSampling | None, geometry: FrameGeometry) -> dict[str, Any]:
    """The job settings that decide the contents of every part; a part written with others is redone."""
    listing = json.dumps([[item.path, item.kind, item.caption] for item in items])
    return {
        "inputs": {"count": len(items), "sha256": hashlib.sha256(listing.encode("utf-8")).hexdigest()},
        "items_per_part": options.run.items_per_part,
        "clips": asdict(sampling) if sampling is not None else None,
        "frames": asdict(geometry),
    }


def _complete_with(prefix: str | Path, header: dict[str, Any]) -> dict[str, Any] | None:
    """The sidecar of the dataset at ``prefix`` when it is complete and was written for ``header``."""
    sidecar = complete_sidecar(prefix)
    return sidecar if sidecar is not None and header_of(sidecar) == header else None


def dataset_tokens(prefix: str | Path, sidecar: dict[str, Any]) -> int:
    """Stored ids of a token dataset (captions and special ids included), or latent positions ``t*h*w``."""
    if sidecar["kind"] == "latents":
        return sum(int(np.prod(document["shape"][1:])) for document in sidecar["documents"])
    if not sidecar["num_documents"]:
        return 0
    indexed = IndexedDataset(str(prefix), multimodal=sidecar["multimodal"])  # alive while its memory map is read
    return int(indexed.sequence_lengths.sum())


def _summarize(prefix: Path, sidecar: dict[str, Any], written: int, reused: int, this_run: PartStats) -> JobSummary:
    return JobSummary(
        prefix=str(prefix),
        documents=sidecar["num_documents"],
        skipped=len(sidecar["skipped"]),
        tokens=dataset_tokens(prefix, sidecar),
        parts_written=written,
        parts_reused=reused,
        documents_this_run=this_run.documents,
        tokens_this_run=this_run.tokens,
        seconds_this_run=this_run.seconds,
        frames_this_run={name: getattr(this_run, f"frames_{name}") for name in ("used", "stride", "tail", "unchosen", "skipped")},
    )


def _log_summary(summary: JobSummary, kind: str, world_size: int) -> None:
    unit = "latent positions" if kind == "latents" else "tokens"
    logging.info(
        f"dataset {summary.prefix}: {summary.documents} documents, {summary.tokens} {unit}; {summary.skipped} inputs or clips skipped "
        f"(see skipped.jsonl). This run: {summary.parts_written} parts written, {summary.parts_reused} reused, "
        f"{summary.documents_this_run} documents and {summary.tokens_this_run} {unit} in {summary.seconds_this_run:.1f} s on {world_size} "
        f"rank(s): {summary.clips_per_second:.3g} clips/s, {summary.tokens_per_second:.0f} {unit}/s"
    )
    frames = summary.frames_this_run
    if sum(frames.values()):
        logging.info(
            f"frames of the videos read this run: {frames['used']} in clips; unused: {frames['stride']} between sampled frames (clips.frame_stride or "
            f"clips.target_fps), {frames['tail']} in tails shorter than a clip, {frames['unchosen']} in clips beyond clips.max_clips_per_video, "
            f"{frames['skipped']} in skipped videos or clips"
        )


def _over_all_ranks(ranks: Ranks, stats: PartStats, written: int, reused: int) -> tuple[PartStats, int, int]:
    """This run's totals over all ranks; time is the slowest rank's, as ranks work side by side."""
    gathered = ranks.gather((stats, written, reused))
    total = PartStats()
    for rank_stats, _, _ in gathered:
        total.add(rank_stats)
    total.seconds = max(rank_stats.seconds for rank_stats, _, _ in gathered)
    return total, sum(g[1] for g in gathered), sum(g[2] for g in gathered)


@data_logs_in_nemo_log()
def run_tokenize_job(cfg: DictConfig | dict) -> JobSummary:
    """Run the job described by ``cfg`` (see ``TokenizeJobOptions``) on this rank; returns the summary."""
    options = load_job_options(cfg)
    with job_ranks(options.run.distributed_timeout_minutes) as ranks:
        items = collect_inputs(options.input.paths)  # before the model: no weights loaded for nothing
        if not items:
            raise ValueError(f"input.paths={options.input.paths} holds no video {sorted(VIDEO_EXTENSIONS)} or image {sorted(IMAGE_EXTENSIONS)} files")
        model = load_model(options, ranks)
        config = model.network_config
        sampling, geometry = clip_sampling(options, config), frame_geometry(options, config)
        formatter = document_format(options, config)
        header = {**formatter.header(options.model.name_or_path, config), "recipe": recipe_header(options, items, sampling, geometry)}
        output = Path(options.output.dir)
        final = output / options.output.name
        finished = _complete_with(final, header)
        if finished is not None:
            logging.info(f"{final} is already complete for these inputs and settings; nothing to do")
            summary = _summarize(final, finished, 0, 0, PartStats())
            if ranks.is_first:
                _log_summary(summary, header["kind"], ranks.world_size)
            return summary

        parts = plan_parts(len(items), options.run.items_per_part)
        prefixes = [str(output / "parts" / f"{options.output.name}-{part.name}") for part in parts]
        mine = parts_for_rank(parts, ranks.rank, ranks.world_size)
        decode_workers = default_decode_workers() if options.run.decode_workers is None else options.run.decode_workers
        encoder = BatchEncoder(model, geometry, options.run.batch_size, options.run.chunk_latents, decode_workers, options.run.prefetch)
        stats, written, reused = PartStats(), 0, 0
        inputs = sum(part.stop - part.start for part in mine)
        with ClipProgress(inputs, ranks.rank, ranks.world_size, ranks.local_rank, options.run.progress) as progress:
            for part in mine:
                prefix = prefixes[part.index]
                kept = _complete_with(prefix, header)
                if kept is not None:
                    reused += 1
                    progress.reused(part.stop - part.start, kept["num_documents"], len(kept["skipped"]), dataset_tokens(prefix, kept))
                    continue
                stats.add(write_part(prefix, header, items[part.start : part.stop], sampling, geometry, encoder, formatter, progress))
                written += 1
        this_run, written, reused = _over_all_ranks(ranks, stats, written, reused)  # also waits for every rank's parts
        merged = None
        if ranks.is_first:
            merged = merge_parts(prefixes, final, skipped_path=output / "skipped.jsonl")
            if not options.output.keep_parts:
                shutil.rmtree(output / "parts")
        ranks.barrier()
        summary = _summarize(final, merged if merged is not None else read_sidecar(final), written, reused, this_run)
        if ranks.is_first:
            _log_summary(summary, header["kind"], ranks.world_size)
        return summary
