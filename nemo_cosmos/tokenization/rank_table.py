"""The end-of-run table: what each rank did, so an idle or slow rank is seen at once."""

from nemo.utils import logging

from nemo_cosmos.tokenization.part_writer import PartStats

COLUMNS = ("rank", "inputs", "documents", "skipped", "clips/s", "busy s")


def rank_rows(per_rank: list[PartStats]) -> list[tuple[str, ...]]:
    """One row per rank: inputs, documents, skipped, documents per busy second, busy seconds."""
    rows = []
    for rank, stats in enumerate(per_rank):
        rate = stats.documents / stats.seconds if stats.seconds else 0.0
        rows.append((str(rank), str(stats.inputs), str(stats.documents), str(stats.skipped), f"{rate:.3g}", f"{stats.seconds:.1f}"))
    return rows


def format_rank_table(per_rank: list[PartStats]) -> str:
    """The table as aligned text lines, header first."""
    rows = [COLUMNS, *rank_rows(per_rank)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(COLUMNS))]
    return "\n".join("  ".join(cell.rjust(width) for cell, width in zip(row, widths)) for row in rows)


def log_rank_table(per_rank: list[PartStats]) -> None:
    """Log the table, and a warning naming ranks that encoded nothing."""
    logging.info("work per rank this run:\n" + format_rank_table(per_rank))
    idle = [rank for rank, stats in enumerate(per_rank) if stats.inputs == 0]
    if idle and len(idle) < len(per_rank):
        logging.warning(f"ranks {idle} had no inputs this run: fewer parts than ranks (a part holds whole windows of run.batch_size inputs)")
