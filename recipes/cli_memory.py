"""Peak memory (RSS) of ``nemo-cosmos encode``, ``decode`` and ``reconstruct`` on a short and
a long clip: the check that the command streams video instead of holding it.

    python recipes/cli_memory.py --frames 17 121 --height 720 --width 1280 --work-dir outputs/cli_memory

Each command runs in its own process, which reports its own high-water mark (``VmHWM``
in ``/proc/self/status``: a child's ``ru_maxrss`` would start at its parent's). The
clips come from ``make_sample_videos.py``; the model is the shipped
``nemo-cosmos-tiny-DV4x8x8`` (trained weights, small architecture) unless ``--model``
names another, or ``--formula PRESET`` builds an official architecture (or the network of
a directory's ``config.json``) with the deterministic formula weights (memory does not
depend on their values).
``--package-root DIR`` runs the commands of another checkout (e.g. an older version,
for comparison). Prints a markdown table and one JSON line per run.
"""

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

RECIPES = Path(__file__).resolve().parent

# Runs the command in this process and reports the process's own peak RSS.
_PROBE = """
import json, sys
sys.path.insert(0, sys.argv[1])
from nemo_cosmos.cli import main
status = main(sys.argv[2:])
peak = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM"))
print(json.dumps({"status": status, "peak_kib": peak}))
"""


def run_command(package_root: Path, argv: list[str]) -> dict:
    """One ``nemo-cosmos`` command in a fresh process: its exit status, peak RSS and wall time."""
    start = time.perf_counter()
    result = subprocess.run([sys.executable, "-c", _PROBE, str(package_root), *argv], capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if result.returncode != 0 or not result.stdout.strip():
        raise RuntimeError(f"nemo-cosmos {' '.join(argv)} failed:\n{result.stderr[-3000:]}")
    report = json.loads(result.stdout.strip().splitlines()[-1])
    if report["status"] != 0:
        raise RuntimeError(f"nemo-cosmos {' '.join(argv)} exited with {report['status']}:\n{result.stderr[-3000:]}")
    return {"peak_gib": report["peak_kib"] / 2**20, "seconds": seconds}


def make_clip(directory: Path, frames: int, height: int, width: int) -> Path:
    """A synthetic clip, kept between runs."""
    folder = directory / f"video_{frames}x{height}x{width}"
    if not folder.is_dir():
        subprocess.run([sys.executable, str(RECIPES / "make_sample_videos.py"), str(folder), "--count", "1",
                        "--frames", str(frames), "--height", str(height), "--width", str(width)], check=True)
    return folder / "sample_0.mp4"


def formula_checkpoint(directory: Path, preset: str) -> Path:
    """A preset's architecture (or a directory's ``config.json``) with formula weights, saved
    in our format, kept between runs."""
    checkpoint = directory / f"checkpoint_{Path(preset).name}"
    if not checkpoint.is_dir():
        code = ("import sys; from nemo_cosmos.evaluation.tokenizers import load_tokenizer; "
                "load_tokenizer(sys.argv[1], weights='formula').save_pretrained(sys.argv[2])")
        subprocess.run([sys.executable, "-c", code, preset, str(checkpoint)], check=True)
    return checkpoint


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, nargs="+", default=[17, 121])
    parser.add_argument("--height", type=int, default=720)
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--model", default="nemo-cosmos-tiny-DV4x8x8", help="model name or directory")
    parser.add_argument("--formula", metavar="PRESET", help="build this official architecture (or a directory's "
                        "config.json) with formula weights instead")
    parser.add_argument("--commands", nargs="+", default=["encode", "decode", "reconstruct"],
                        choices=["encode", "decode", "reconstruct"])
    parser.add_argument("--package-root", type=Path, default=RECIPES.parent, help="checkout whose nemo_cosmos runs")
    parser.add_argument("--work-dir", type=Path, default=Path("outputs/cli_memory"))
    args = parser.parse_args()

    args.work_dir.mkdir(parents=True, exist_ok=True)
    model = str(formula_checkpoint(args.work_dir, args.formula)) if args.formula else args.model
    rows = []
    for frames in args.frames:
        clip = make_clip(args.work_dir, frames, args.height, args.width)
        out = args.work_dir / f"out_{frames}"
        tokens = out / "clip.safetensors"
        argvs = {
            "encode": ["encode", str(clip), "--model", model, "--device", "cpu", "-o", str(tokens)],
            "decode": ["decode", str(tokens), "--model", model, "--device", "cpu", "-o", str(out / "decoded.mp4")],
            "reconstruct": ["reconstruct", str(clip), "--model", model, "--device", "cpu", "-o", str(out / "reconstructed.mp4")],
        }
        for command in args.commands:
            measured = run_command(args.package_root, argvs[command])
            row = {"command": command, "frames": frames, "size": f"{args.width}x{args.height}", "model": model,
                   "package_root": str(args.package_root), **measured}
            print(json.dumps(row), flush=True)
            rows.append(row)
    print("\n| command | " + " | ".join(f"{f} frames" for f in args.frames) + " |")
    print("|---|" + "---|" * len(args.frames))
    for command in args.commands:
        cells = [f"{r['peak_gib']:.2f} GiB, {r['seconds']:.0f} s" for r in rows if r["command"] == command]
        print(f"| {command} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
