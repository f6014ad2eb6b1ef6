"""Tokenize one long, high-resolution clip through the tokenization recipe and report the
recipe's peak memory (RSS) and wall time: the check that exact streaming lets 121-frame
720p clips tokenize on a 24 GiB machine.

    python recipes/check_long_clip.py --frames 121 --height 720 --width 1280 --work-dir outputs/long_clip

Each step runs in its own process (a child's peak RSS starts at its parent's, so this
process stays small): a synthetic clip, a checkpoint of ``--model`` with the
deterministic formula weights (time and memory do not depend on their values), then
``recipes/tokenize_dataset.py`` on that clip, whose own peak RSS the kernel reports when
it ends (``wait4``), apart from the earlier steps'. Prints one JSON line.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

RECIPES = Path(__file__).resolve().parent


def run(command: list[str]) -> tuple[float, int]:
    """Run ``command`` (failing loudly); its wall time in seconds and its peak RSS in KiB
    (its own, and that of any children it waited for), as the kernel accounted it."""
    start = time.perf_counter()
    process = subprocess.Popen(command)
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - start
    process.returncode = os.waitstatus_to_exitcode(status)  # reaped here, so Popen must not wait for it again
    if process.returncode:
        raise subprocess.CalledProcessError(process.returncode, command)
    return seconds, usage.ru_maxrss


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--model", default="Cosmos-Tokenizer-DV8x16x16", help="preset name, or a directory with a config.json (formula weights either way)"
    )
    parser.add_argument("--frames", type=int, default=121, help="clip length, 1 + k*ct frames")
    parser.add_argument("--height", type=int, default=720, help="frame height, a multiple of the spatial compression")
    parser.add_argument("--width", type=int, default=1280, help="frame width, a multiple of the spatial compression")
    parser.add_argument("--chunk-latents", type=int, default=2, help="the recipe's run.chunk_latents")
    parser.add_argument("--threads", type=int, default=None, help="intra-op threads of the recipe (run.threads; default: the recipe's)")
    parser.add_argument("--work-dir", type=Path, default=Path("outputs/long_clip"), help="the clip and checkpoint, kept between runs, and the tokens")
    args = parser.parse_args()

    clip = f"{args.frames}x{args.height}x{args.width}"
    videos, checkpoint = args.work_dir / f"video_{clip}", args.work_dir / f"checkpoint_{Path(args.model).name}"
    tokens = args.work_dir / "tokens"
    if not videos.is_dir():  # kept between runs: only the tokenization is measured
        run([sys.executable, str(RECIPES / "make_sample_videos.py"), str(videos), "--count", "1",
             "--frames", str(args.frames), "--height", str(args.height), "--width", str(args.width)])
    if not checkpoint.is_dir():
        run([sys.executable, "-c", "import sys; from nemo_cosmos.evaluation.tokenizers import load_tokenizer; "
             "load_tokenizer(sys.argv[1], weights='formula').save_pretrained(sys.argv[2])", args.model, str(checkpoint)])
    shutil.rmtree(tokens, ignore_errors=True)  # the recipe would resume from an earlier run's parts
    recipe = [sys.executable, str(RECIPES / "tokenize_dataset.py"), "--config-name", "tokenize_ar",
              f"model.name_or_path={checkpoint}", f"input.paths={videos}", f"output.dir={tokens}",
              f"clips.num_frames={args.frames}", f"frames.height={args.height}", f"frames.width={args.width}",
              "run.batch_size=1", f"run.chunk_latents={args.chunk_latents}", "run.progress=false"]
    if args.threads:
        recipe.append(f"run.threads={args.threads}")
    seconds, peak_kib = run(recipe)
    sidecar = json.loads((tokens / "tokens.json").read_text())
    records = [json.loads(line) for line in (tokens / "tokens.inputs.jsonl").read_text().splitlines()]
    print(json.dumps({
        "model": args.model, "clip": clip, "chunk_latents": args.chunk_latents,
        "recipe_peak_rss_gib": round(peak_kib / 2**20, 3), "recipe_seconds": round(seconds, 1),
        "documents": sidecar["num_documents"], "skipped": [skip for record in records for skip in record["skipped"]],
        "token_grid": [document["shape"] for record in records for document in record["documents"]],
    }))


if __name__ == "__main__":
    main()
