"""Result tables (markdown + CSV) and the quality-vs-compression plot."""

import csv
import math
from pathlib import Path


def _cell(value) -> str:
    if isinstance(value, float):
        return "inf" if math.isinf(value) else f"{value:.4g}" if abs(value) < 1e4 else f"{value:.0f}"
    return str(value)


def _columns(rows: list[dict]) -> list[str]:
    """The union of the rows' keys, in first-seen order."""
    return list(dict.fromkeys(key for row in rows for key in row))


def markdown_table(rows: list[dict]) -> str:
    """A GitHub markdown table with a column for every key of any row."""
    columns = _columns(rows)
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(_cell(row.get(c, "")) for c in columns) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def write_tables(rows: list[dict], directory: str | Path, stem: str) -> tuple[Path, Path]:
    """``<stem>.md`` and ``<stem>.csv`` in ``directory`` (created); returns both paths."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    markdown, table = directory / f"{stem}.md", directory / f"{stem}.csv"
    markdown.write_text(markdown_table(rows))
    columns = _columns(rows)
    with table.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
    return markdown, table


def plot_quality_vs_bits(summaries: list[dict], path: str | Path) -> Path:
    """PSNR and SSIM of each tokenizer and baseline against its bits per pixel; baselines
    drawn hollow, so each tokenizer's anchors read at a glance."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, 2, figsize=(11, 4.5))
    for axis, metric, label in ((axes[0], "psnr", "PSNR (dB)"), (axes[1], "ssim", "SSIM")):
        for summary in summaries:
            value = summary[metric]
            if math.isfinite(value):
                baseline = summary.get("kind") == "baseline"
                axis.scatter(summary["bpp"], value, marker="s" if baseline else "o",
                             facecolors="none" if baseline else None, edgecolors="C1" if baseline else None)
                axis.annotate(summary["tokenizer"], (summary["bpp"], value), fontsize=7,
                              textcoords="offset points", xytext=(4, 4))
        axis.set_xscale("log", base=2)
        axis.set_xlabel("bits per pixel")
        axis.set_ylabel(label)
        axis.grid(True, alpha=0.3)
    figure.suptitle("Reconstruction quality vs bits per pixel (squares: JPEG and bicubic baselines)")
    return _save(figure, path)


def plot_streaming(rows: list[dict], path: str | Path) -> Path:
    """Peak memory (above the model and input) and time per clip of encode and decode against
    the clip length, one pass (``ours``) next to exact streaming (``streamed``)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(2, 2, figsize=(10, 8))
    for (memory_axis, time_axis), stage in zip(axes, ("encode", "decode")):
        for name, marker in (("ours", "o-"), ("streamed", "s-")):
            mine = sorted((r for r in rows if r["implementation"] == name), key=lambda r: int(r["input"].split("x")[0]))
            frames = [int(r["input"].split("x")[0]) for r in mine]
            label = "one pass" if name == "ours" else "streamed (exact)"
            memory_axis.plot(frames, [r[f"{stage}_above_baseline_gb"] for r in mine], marker, label=label)
            seconds = [r[f"{stage}_ms_per_frame"] * f / 1000 for r, f in zip(mine, frames)]
            time_axis.plot(frames, seconds, marker, label=label)
        for axis, label in ((memory_axis, "peak memory above baseline (GB)"), (time_axis, "time per clip (s)")):
            axis.set_xlabel("frames per clip")
            axis.set_ylabel(f"{stage}: {label}")
            axis.grid(True, alpha=0.3)
            axis.legend()
    figure.suptitle(f"One pass vs exact streaming: {rows[0]['tokenizer']}, {rows[0]['input'].split('x', 1)[1]}")
    return _save(figure, path)


def _save(figure, path: str | Path) -> Path:
    """Lay out, write as PNG (creating the folder) and close ``figure``."""
    import matplotlib.pyplot as plt

    figure.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=120)
    plt.close(figure)
    return path
