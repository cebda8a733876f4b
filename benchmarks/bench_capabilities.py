"""Speed of imputation + PCA (issue 3 targets on the 2-core machine).

- imputation + PCA on the paper's 148 x 8 table: target < 20 ms (median)
- imputation + PCA on a simulated 10,000 models x 50 benchmarks, 20% missing: target < 3 s
- bootstrap of explained variance, B = 1000, on the paper's table: target < 30 s

Run:  python benchmarks/bench_capabilities.py   (writes reports/benchmarks/capabilities.md)
"""

from __future__ import annotations

import warnings

from timing import median_seconds, write_report

from osltools.capabilities import CapabilityPCA
from osltools.datasets import load_panel, simulate_panel
from osltools.exceptions import OSLWarning


def main() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", OSLWarning)
        paper = load_panel("obsscaling-base")
    large, _ = simulate_panel(seed=0, n_models=10_000, n_families=400, n_benchmarks=50, missing_share=0.2)
    model = CapabilityPCA(n_components=3)
    rows = []
    small, _ = median_seconds(lambda: model.fit(paper), repeat=50)
    rows.append({"case": "impute + PCA, paper table 148 x 8", "median": f"{small * 1e3:.2f} ms", "target": "20 ms"})
    big, _ = median_seconds(lambda: model.fit(large), repeat=5)
    rows.append({"case": "impute + PCA, simulated 10,000 x 50, 20% missing", "median": f"{big:.2f} s", "target": "3 s"})
    for n_jobs in (1, 2):
        boot, _ = median_seconds(lambda: model.fit(paper).bootstrap(n_boot=1000, seed=0, n_jobs=n_jobs), repeat=3,
                                 warmup=0)
        rows.append({"case": f"bootstrap B=1000, paper table, n_jobs={n_jobs}", "median": f"{boot:.2f} s",
                     "target": "30 s"})
    write_report("capabilities", "Imputation, PCA and bootstrap speed", rows)


if __name__ == "__main__":
    main()
