"""deploy/results.json, deploy/report.md and the accuracy-vs-size / -latency plots."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from pydantic import BaseModel

from trainlab.runstore import atomic_write_bytes, write_json

RESULTS, REPORT = "results.json", "report.md"
SIZE_PLOT, LATENCY_PLOT = "accuracy_vs_size.png", "accuracy_vs_latency.png"
MARKERS = ("o", "s", "D", "^", "v", "P", "X", "*")
# tab:red is kept for rejected artifacts
COLOURS = ("tab:blue", "tab:orange", "tab:green", "tab:purple", "tab:brown", "tab:cyan")


class ArtifactRow(BaseModel):
    """One deployed (or compared) model file and what it costs."""

    name: str
    file: str
    test_acc: float
    drop_points: float  # teacher's float32 test accuracy minus this one's, in points
    size_kb: float
    params: int
    nonzero_params: int
    ort_ms_b1: float
    ort_ips_b64: float
    torch_ms_b1: float | None = None  # None: no PyTorch counterpart (INT8 ONNX files)
    torch_ips_b64: float | None = None
    rejected: bool = False
    note: str = ""


COLUMNS = (
    ("artifact", lambda r: r.name),
    ("test acc", lambda r: f"{r.test_acc:.4f}"),
    ("drop (pts)", lambda r: f"{r.drop_points:+.2f}"),
    ("size KB", lambda r: f"{r.size_kb:.1f}"),
    ("params (nonzero)", lambda r: f"{r.params:,} ({r.nonzero_params:,})"),
    ("ORT ms/img b1", lambda r: f"{r.ort_ms_b1:.3f}"),
    ("ORT img/s b64", lambda r: f"{r.ort_ips_b64:,.0f}"),
    ("torch ms/img b1", lambda r: "-" if r.torch_ms_b1 is None else f"{r.torch_ms_b1:.3f}"),
    ("torch img/s b64", lambda r: "-" if r.torch_ips_b64 is None else f"{r.torch_ips_b64:,.0f}"),
    ("status", lambda r: "REJECTED" if r.rejected else "accepted"),
    ("note", lambda r: r.note),
)


def markdown_table(rows: Sequence[ArtifactRow]) -> list[str]:
    lines = ["| " + " | ".join(name for name, _ in COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    lines += ["| " + " | ".join(cell(r) for _, cell in COLUMNS) + " |" for r in rows]
    return lines


def write_outputs(
    out_dir: Path, rows: Sequence[ArtifactRow], header: dict[str, Any], notes: Sequence[str]
) -> list[Path]:
    """results.json (header + rows), report.md (table + notes) and the two plots."""
    write_json(out_dir / RESULTS, {**header, "artifacts": [r.model_dump() for r in rows]})
    lines = ["# Deploy report", ""]
    lines += [f"- {key}: {value}" for key, value in header.items() if key != "settings"]
    lines += ["", *markdown_table(rows), "", *(f"- {n}" for n in notes)]
    lines += ["", f"![accuracy vs size]({SIZE_PLOT})", f"![accuracy vs latency]({LATENCY_PLOT})"]
    atomic_write_bytes(out_dir / REPORT, ("\n".join(lines) + "\n").encode())
    size = _scatter(rows, "size_kb", "ONNX file size (KB)", out_dir / SIZE_PLOT)
    latency = _scatter(
        rows, "ort_ms_b1", "onnxruntime latency, batch 1 (ms/image)", out_dir / LATENCY_PLOT
    )
    return [out_dir / RESULTS, out_dir / REPORT, size, latency]


def _scatter(rows: Sequence[ArtifactRow], field: str, xlabel: str, path: Path) -> Path:
    """One marker per artifact with a legend (points may coincide); rejected ones in red."""
    fig = Figure(figsize=(8, 4.5), layout="constrained")
    ax = fig.subplots()
    styles = zip(itertools.cycle(MARKERS), itertools.cycle(COLOURS), strict=False)
    for row, (marker, colour) in zip(rows, styles, strict=False):
        label = f"{row.name} (REJECTED)" if row.rejected else row.name
        color = "tab:red" if row.rejected else colour
        x, y = getattr(row, field), 100 * row.test_acc
        ax.scatter([x], [y], marker=marker, s=60, alpha=0.8, color=color, label=label, zorder=3)
    ax.set(xlabel=xlabel, ylabel="test accuracy (%)", title="deployed artifacts")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="center left", bbox_to_anchor=(1.01, 0.5))
    FigureCanvasAgg(fig).print_png(str(path))
    return path
