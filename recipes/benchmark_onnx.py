"""ONNX Runtime (CPU) against our PyTorch eager (CPU): encode and decode time, export time.

For each tokenizer (formula weights: speed does not depend on them, and nothing is
downloaded) the model is exported with ``model.export`` (timed), then ONNX Runtime and
``CausalVideoTokenizer.encode`` / ``decode`` (one pass, ``chunk_latents=None``, as the graph
runs) take the same input with the same number of threads, interleaved in this one process
so that a shared machine's load hits both sides alike. Reports medians, the ratio ONNX
Runtime / PyTorch (below 1: ONNX Runtime is faster) and the largest output differences,
with the CPU model and the load average at the start and the end.

    python recipes/benchmark_onnx.py --threads 1 --repeats 3
"""

import argparse
import json
import os
import statistics
import time
from pathlib import Path

import onnxruntime
import torch

from nemo_cosmos import CausalVideoTokenizer
from nemo_cosmos.formula_weights import fill_with_formula
from nemo_cosmos.models.onnx_runtime import OnnxTokenizerHalf


def cpu_name() -> str:
    with open("/proc/cpuinfo") as info:
        for line in info:
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return "unknown"


def timed(function, argument) -> tuple[object, float]:
    start = time.perf_counter()
    result = function(argument)
    return result, time.perf_counter() - start


def benchmark(name: str, frames: int, height: int, width: int, threads: int, repeats: int, output_dir: Path) -> dict:
    config = CausalVideoTokenizer.make_config(name, device="cpu", dtype="float32", chunk_latents=None, name=name)
    model = CausalVideoTokenizer(config)
    fill_with_formula(model.network)
    start = time.perf_counter()
    written, _ = model.export(str(output_dir / f"{model.network_config.short_name}.onnx"))
    export_seconds = time.perf_counter() - start
    encoder, decoder = (OnnxTokenizerHalf(path, threads=threads) for path in written)

    generator = torch.Generator().manual_seed(0)
    x = torch.rand((1, 3, frames, height, width), generator=generator) * 2 - 1
    sides = {
        ("encode", "pytorch"): lambda v: model.encode(v)[0],
        ("encode", "onnxruntime"): lambda v: encoder(v)[0],
        ("decode", "pytorch"): model.decode,
        ("decode", "onnxruntime"): lambda v: decoder(v)[0],
    }
    seconds = {key: [] for key in sides}
    outputs = {}
    z = model.encode(x)[0]
    for repeat in range(repeats + 1):  # the first round warms up and is not counted
        for key, function in sides.items():
            outputs[key], elapsed = timed(function, x if key[0] == "encode" else z)
            if repeat:
                seconds[key].append(elapsed)
    row = {"tokenizer": model.network_config.short_name, "input": f"{frames}x{height}x{width}", "threads": threads,
           "repeats": repeats, "export_s": round(export_seconds, 1)}
    for stage in ("encode", "decode"):
        ours, theirs = (statistics.median(seconds[stage, side]) for side in ("pytorch", "onnxruntime"))
        row[f"{stage}_pytorch_s"], row[f"{stage}_onnxruntime_s"] = round(ours, 3), round(theirs, 3)
        row[f"{stage}_ratio"] = round(theirs / ours, 3)
        a, b = outputs[stage, "pytorch"], outputs[stage, "onnxruntime"]
        if a.is_floating_point():
            row[f"{stage}_max_abs_diff"] = float((a - b).abs().max())
        else:
            row[f"{stage}_indices_differing"] = int((a != b).sum())
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tokenizers", nargs="+", default=["Cosmos-Tokenizer-CV8x8x8", "Cosmos-Tokenizer-DV8x16x16"])
    parser.add_argument("--input", nargs=3, type=int, default=[17, 256, 256], metavar=("FRAMES", "HEIGHT", "WIDTH"))
    parser.add_argument("--threads", type=int, default=1, help="PyTorch and ONNX Runtime intra-op threads (default: 1)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--output-dir", type=Path, default=Path("outputs/onnx_benchmark"))
    args = parser.parse_args()
    args.output_dir.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(args.threads)
    machine = {"cpu": cpu_name(), "cores": os.cpu_count(), "load_start": os.getloadavg()}
    rows = []
    for name in args.tokenizers:
        rows.append(benchmark(name, *args.input, args.threads, args.repeats, args.output_dir))
        print(json.dumps(rows[-1]), flush=True)  # each tokenizer as it finishes (a loaded machine is slow)
    machine["load_end"] = os.getloadavg()
    report = {"machine": machine, "torch": torch.__version__, "onnxruntime": onnxruntime.__version__, "rows": rows}
    (args.output_dir / "onnx_benchmark.json").write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
