"""Time `osl report --demo` end to end in fresh processes (imports included), as a new user runs it.

The issue's target: under 60 s on a fresh install. Each run is a new Python
process writing a new folder; the median of ``--repeat`` runs (default 3) is
reported, with the per-stage progress lines of the last run.

Run ``python benchmarks/bench_report_demo.py``; writes ``reports/benchmarks/report_demo.md``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from timing import write_report

TARGET_SECONDS = 60.0


def osl_command() -> list[str]:
    script = Path(sys.executable).with_name("osl")
    return [str(script)] if script.exists() else [sys.executable, "-m", "osltools.cli"]


def one_run(folder: Path) -> tuple[float, str]:
    out = folder / "demo-report"
    shutil.rmtree(out, ignore_errors=True)
    env = {**os.environ, "MPLBACKEND": "Agg"}
    start = time.perf_counter()
    done = subprocess.run([*osl_command(), "report", "--demo", "--out", str(out)], env=env, capture_output=True,
                          text=True, check=True)
    return time.perf_counter() - start, done.stderr


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        runs = [one_run(Path(tmp)) for _ in range(args.repeat)]
        size = sum(p.stat().st_size for p in (Path(tmp) / "demo-report").rglob("*") if p.is_file())
    times = [t for t, _ in runs]
    load = os.getloadavg()[0]
    rows = [{"case": "osl report --demo (fresh process, imports included)", "median": f"{statistics.median(times):.1f} s",
             "runs": ", ".join(f"{t:.1f} s" for t in times), "target": f"{TARGET_SECONDS:.0f} s",
             "output": f"{size / 1e6:.1f} MB", "machine": f"1-min load average {load:.2f} after"}]
    stages = [line.split("] ", 1) for line in runs[-1][1].splitlines() if line.startswith("[osl report")]
    rows += [{"case": f"stage at {stamp.split()[-1]}: {what}", "median": "", "runs": "", "target": "", "output": "",
              "machine": ""} for stamp, what in stages]
    write_report("report_demo", "`osl report --demo`: end-to-end time", rows)
    return 0 if statistics.median(times) < TARGET_SECONDS else 1


if __name__ == "__main__":
    sys.exit(main())
