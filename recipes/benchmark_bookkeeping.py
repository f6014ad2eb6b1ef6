"""How the tokenization job's bookkeeping scales: merge time and rank-0 peak memory for many small documents.

Writes a synthetic dataset of ``--documents`` small token documents (``--tokens`` ids each,
one input per document with a realistic identity and provenance) as parts of
``--per-part`` inputs through the real writer (``IndexedDatasetWriter``, megatron-core's
builder), then merges the parts in a fresh process, as rank 0 does at the end of a job
(megatron-core's ``add_index``, records streamed, SHA-256 of the result, ``skipped.jsonl``),
and reports the merge's wall time and that process's peak resident memory (``VmHWM``).
No encoding is involved: this measures the bookkeeping alone.

    python recipes/benchmark_bookkeeping.py /tmp/bookkeeping --documents 1000000
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from nemo_cosmos.data.indexed.sidecar import token_header
from nemo_cosmos.data.indexed.token_layout import TokenLayout
from nemo_cosmos.data.indexed.writer import IndexedDatasetWriter

LAYOUT = TokenLayout(codebook_size=64000, end_of_video_id=64000)


def peak_rss_mib() -> float:
    """This process's peak resident set size (``VmHWM``), in MiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status (Linux only)")


def write_parts(folder: Path, documents: int, per_part: int, tokens: int) -> list[Path]:
    """``documents`` one-document inputs in parts of ``per_part``; returns the part prefixes in order."""
    header = {**token_header("benchmark-DV", {}, LAYOUT, 8, 16), "settings": {"clips.num_frames": 17}}
    random = np.random.default_rng(0)
    prefixes = []
    for start in range(0, documents, per_part):
        prefix = folder / f"tokens-{start:09d}-{min(documents, start + per_part):09d}"
        with IndexedDatasetWriter(prefix, header) as writer:
            for doc in range(start, min(documents, start + per_part)):
                path = f"/data/videos/shard{doc // 10000:04d}/clip{doc:09d}.mp4"
                grid = random.integers(0, LAYOUT.codebook_size, size=(1, 1, tokens - 1))
                writer.add_document([LAYOUT.to_sequence(grid)], shape=grid.shape, source={"path": path, "kind": "video", "start_frame": 0, "end_frame": 16})
                writer.end_input({"path": path, "size": 1_000_000 + doc, "mtime_ns": 1_700_000_000_000_000_000 + doc})
        prefixes.append(prefix)
    return prefixes


def merge(parts_file: Path, output: Path) -> None:
    """The rank-0 step, in this process: merge the listed parts into ``output`` and print the measurements."""
    from nemo_cosmos.data.indexed.writer import merge_parts

    parts = [Path(line) for line in parts_file.read_text().splitlines()]
    started = time.perf_counter()
    sidecar = merge_parts(parts, output / "tokens", skipped_path=output / "skipped.jsonl")
    seconds = time.perf_counter() - started
    print(json.dumps({"merge_seconds": seconds, "merge_peak_rss_mib": peak_rss_mib(), "documents": sidecar["num_documents"], "bin_bytes": sidecar["bin_bytes"]}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", type=Path, help="scratch folder (emptied first)")
    parser.add_argument("--documents", type=int, default=1_000_000)
    parser.add_argument("--per-part", type=int, default=64, help="inputs per part (the job's default run.items_per_part)")
    parser.add_argument("--tokens", type=int, default=16, help="ids per document")
    parser.add_argument("--merge-only", type=Path, help=argparse.SUPPRESS)  # the child process that merges
    args = parser.parse_args()
    if args.merge_only:
        merge(args.merge_only, args.folder)
        return
    shutil.rmtree(args.folder, ignore_errors=True)
    (args.folder / "parts").mkdir(parents=True)
    started = time.perf_counter()
    parts = write_parts(args.folder / "parts", args.documents, args.per_part, args.tokens)
    writing = time.perf_counter() - started
    parts_file = args.folder / "parts.txt"
    parts_file.write_text("".join(f"{prefix}\n" for prefix in parts))
    child = subprocess.run(
        [sys.executable, __file__, str(args.folder / "merged"), "--merge-only", str(parts_file)], capture_output=True, text=True, check=True, env={**os.environ}
    )
    measured = json.loads(child.stdout.strip().splitlines()[-1])
    print(
        f"{args.documents} documents of {args.tokens} ids in {len(parts)} parts of {args.per_part}: parts written in {writing:.1f} s; "
        f"merge {measured['merge_seconds']:.1f} s, peak RSS of the merging process {measured['merge_peak_rss_mib']:.0f} MiB "
        f"({measured['bin_bytes'] / 2**20:.1f} MiB .bin)"
    )


if __name__ == "__main__":
    main()
