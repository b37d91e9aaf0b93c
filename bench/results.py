"""Figures, the printed table and the JSON file they are compared with over time."""

from __future__ import annotations

import json
import os
import platform
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil

RESULTS_DIR = Path(__file__).resolve().parent / "results"


@dataclass
class Figure:
    """One measured figure, the baseline measured with it, and its target."""

    benchmark: str
    name: str
    value: float
    unit: str
    target: str
    met: bool | None  # None: reported, no target
    baseline: float | None = None
    baseline_name: str = ""
    ratio: float | None = None
    details: dict[str, Any] = field(default_factory=dict)


def _num(value: float | None, unit: str = "") -> str:
    if value is None:
        return "-"
    if value == int(value) and abs(value) < 1e15:
        text = f"{int(value):,}"
    elif abs(value) >= 100:
        text = f"{value:,.0f}"
    elif abs(value) >= 10:
        text = f"{value:.1f}"
    else:
        text = f"{value:.2f}"
    return f"{text} {unit}".rstrip()


def table(figures: list[Figure]) -> str:
    """Return the figures as a Markdown table (it reads as plain text too)."""
    header = ["benchmark", "figure", "value", "baseline (same run)", "ratio", "target", "met"]
    rows = [header, ["---"] * len(header)]
    for f in figures:
        baseline = "-" if f.baseline is None else f"{f.baseline_name} {_num(f.baseline, f.unit)}"
        ratio = "-" if f.ratio is None else f"{f.ratio:.2f}"
        met = {True: "yes", False: "NO", None: "-"}[f.met]
        rows.append([f.benchmark, f.name, _num(f.value, f.unit), baseline, ratio, f.target, met])
    return "\n".join("| " + " | ".join(r) + " |" for r in rows)


def machine() -> dict[str, Any]:
    """Return what the figures depend on: CPUs, memory, Python and load at the start."""
    return {
        "cpus": os.cpu_count(),
        "memory_mb": round(psutil.virtual_memory().total / 2**20),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "load_average": os.getloadavg(),
    }


def write(figures: list[Figure], command: str, started: datetime, path: Path) -> Path:
    """Write the figures as JSON to path and return it."""
    document = {
        "started_at": started.isoformat(),
        "finished_at": datetime.now(UTC).isoformat(),
        "command": command,
        "machine": machine(),
        "figures": [asdict(f) for f in figures],
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2, default=str) + "\n")
    return path
