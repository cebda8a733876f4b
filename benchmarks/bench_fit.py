"""Speed of one full held-out fit on the public data (issue 5 target: under 50 ms median on the 2-core machine).

One fit = compute split at 8.4e22 FLOPs, rank-1 imputation and 3-component PCA on the training models,
projection of the test models, the floor-form sigmoid law on PC1-PC3, test predictions with intervals,
and Llama-2-equivalent FLOPs of every model. Target: word unscrambling on the paper's 77-model main set.
The stages are also timed one by one (each on the previous stage's output), to show where the time goes.

Run:  python benchmarks/bench_fit.py   (writes reports/benchmarks/fit.md)
"""

from __future__ import annotations

import os
import warnings

from timing import median_seconds, write_report

from osltools.capabilities import CapabilityPCA
from osltools.datasets import load_panel
from osltools.exceptions import OSLWarning
from osltools.law import ScalingLaw
from osltools.validation import LawOptions, backtest, compute_split, fit_heldout

TARGET = "word_unscrambling_2_exact_match"
FORMULA = f"{TARGET} ~ PC1 + PC2 + PC3"


def full_fit(panel):
    split = compute_split(panel)
    fit = fit_heldout(panel, TARGET, split=split, predictor="pcs:3", law=LawOptions(bounds="floor"))
    fit.predictions()
    return fit.equivalent_flops(reference_family="Llama-2")


def stages(panel) -> list[tuple[str, object]]:
    """(name, callable) per stage of :func:`full_fit`, each fed with the previous stage's result."""
    fit = fit_heldout(panel, TARGET, split=compute_split(panel), law=LawOptions(bounds="floor"))
    train, test = panel.select(fit.split.train), panel.select(fit.split.test)
    caps = fit.capabilities
    law = ScalingLaw.from_formula(FORMULA, fit.train, bounds="floor")
    return [
        ("compute split", lambda: compute_split(panel)),
        ("Panel.select of training and test models", lambda: (panel.select(fit.split.train),
                                                                panel.select(fit.split.test))),
        ("imputation + PCA on the training models", lambda: CapabilityPCA(n_components=3).fit(train)),
        ("projection of the test models", lambda: test.frame().join(caps.transform(test))),
        ("law: formula (patsy design matrices)", lambda: ScalingLaw.from_formula(FORMULA, fit.train, bounds="floor")),
        ("law: fit (bounded least squares, multi-start)", lambda: law.fit()),
        ("test predictions with intervals", lambda: fit.law.get_prediction(fit.test).summary_frame(alpha=0.05)),
        ("equivalent FLOPs (Llama-2)", lambda: fit.equivalent_flops(reference_family="Llama-2")),
    ]


def main() -> None:
    warnings.simplefilter("ignore", OSLWarning)
    panel = load_panel("obsscaling-emergent", model_set="main")
    load = os.getloadavg()[0]
    one, times = median_seconds(lambda: full_fit(panel), repeat=50, warmup=3)
    table, _ = median_seconds(lambda: backtest(panel, [TARGET], law=LawOptions(bounds="floor")), repeat=5)
    parts = [(name, median_seconds(func, repeat=30, warmup=2)[0]) for name, func in stages(panel)]
    note = f"1-min load average {load:.2f} before, {os.getloadavg()[0]:.2f} after"
    rows = [
        {"case": "full fit: split, imputation + PCA (train), law (pcs:3), predictions, equivalent FLOPs",
         "median": f"{one * 1e3:.1f} ms", "fastest": f"{min(times) * 1e3:.1f} ms", "target": "50 ms", "machine": note},
        {"case": "backtest of one target, 6 predictors (pcs:1-4, flops, size)", "median": f"{table * 1e3:.0f} ms",
         "fastest": "", "target": "-", "machine": note},
    ]
    rows += [{"case": f"stage: {name}", "median": f"{seconds * 1e3:.2f} ms", "fastest": "", "target": "",
              "machine": ""} for name, seconds in parts]
    write_report("fit", "Held-out fit speed (public data, 77-model main set, word unscrambling)", rows)


if __name__ == "__main__":
    main()
