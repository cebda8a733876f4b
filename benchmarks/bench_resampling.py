"""Overhead of the resampling engine per replicate (not a test).

A trivial pipeline on a 100-model simulated panel, B = 1000 replicates,
n_jobs = 1 and 2 (loky), median of 5 timed runs after one warm-up run (which
starts the worker processes). Rows:

- ``replicate``: the engine alone (seeding, dispatch, collecting a scalar);
- ``bootstrap``: the engine plus resampling the panel (``Panel.resample``),
  i.e. what every bootstrap pays before its pipeline does any work.

Run: ``python benchmarks/bench_resampling.py``.
"""

from __future__ import annotations

import os
import statistics
import time
import warnings

import pandas as pd

from osltools.datasets import simulate_panel
from osltools.exceptions import OSLWarning
from osltools.resampling import bootstrap, replicate

N_BOOT = 1000
RUNS = 5


def trivial_pipeline(panel, rng):
    return float(panel.n_models)


def trivial_replicate(rng, index):
    return float(index)


def median_seconds(run) -> float:
    run()  # warm-up: starts loky workers, imports in them
    times = []
    for _ in range(RUNS):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> pd.DataFrame:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", OSLWarning)
        panel, _ = simulate_panel(seed=0, n_models=100)
    rows = []
    for n_jobs in (1, 2):
        cases = {
            "replicate": lambda: replicate(trivial_replicate, N_BOOT, seed=1, n_jobs=n_jobs),
            "bootstrap": lambda: bootstrap(trivial_pipeline, panel, n_boot=N_BOOT, seed=1, n_jobs=n_jobs),
        }
        for name, run in cases.items():
            seconds = median_seconds(run)
            rows.append({"engine": name, "n_jobs": n_jobs, "B": N_BOOT, "median_s": seconds,
                         "per_replicate_ms": 1e3 * seconds / N_BOOT})
    return pd.DataFrame(rows)


if __name__ == "__main__":
    load_before = os.getloadavg()[0]
    table = main()
    print(f"Resampling engine overhead: 100-model simulated panel, trivial pipeline, median of {RUNS} runs "
          f"({os.cpu_count()} cores; 1-min load average {load_before:.2f} before, {os.getloadavg()[0]:.2f} after)")
    print(table.to_string(index=False, float_format=lambda v: f"{v:.4g}"))
