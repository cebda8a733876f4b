"""Shared timing helpers for the benchmark scripts: medians of repeated runs, machine description."""

from __future__ import annotations

import os
import platform
import statistics
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

REPORTS = Path(__file__).resolve().parents[1] / "reports" / "benchmarks"


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    return (f"{platform.system()} {platform.machine()} ({cpu}), {os.cpu_count()} cores, Python "
            f"{platform.python_version()}, numpy {np.__version__}, pandas {pd.__version__}")


def median_seconds(func: Callable[[], object], *, repeat: int, warmup: int = 1) -> tuple[float, list[float]]:
    """Median wall-clock seconds of ``repeat`` calls after ``warmup`` untimed ones."""
    for _ in range(warmup):
        func()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        func()
        times.append(time.perf_counter() - start)
    return statistics.median(times), times


def write_report(name: str, title: str, rows: list[dict]) -> Path:
    """Write (and print) a Markdown table of benchmark rows with the machine noted."""
    frame = pd.DataFrame(rows)
    lines = [f"# {title}", "", f"Measured {date.today().isoformat()} on {machine()}.", ""]
    header = "| " + " | ".join(frame.columns) + " |"
    lines += [header, "|" + "|".join(" --- " for _ in frame.columns) + "|"]
    lines += ["| " + " | ".join(str(v) for v in row) + " |" for row in frame.itertuples(index=False)]
    REPORTS.mkdir(parents=True, exist_ok=True)
    path = REPORTS / f"{name}.md"
    path.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return path
